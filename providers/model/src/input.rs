//! Reading what a user points dangle at, defensively: only regular files, never more than a stated
//! size, and errors that quote at most a short, escaped excerpt of the input.
//!
//! A zone file, a static list or a config may come from anyone who can open a pull request. Reading
//! `/dev/zero` would grow without bound, a FIFO would block forever, and an error that quotes a whole
//! line of `/proc/self/environ` would put cloud keys into a CI log.

use std::io::Read;
use std::path::Path;

/// Zone files and static lists: a million records is ~30 MB; this leaves room and stops a runaway.
pub const MAX_DATA_FILE: u64 = 1 << 30;
/// Configs, certificates, keys.
pub const MAX_SMALL_FILE: u64 = 16 << 20;

/// The longest excerpt of input an error quotes, in characters.
const EXCERPT_CHARS: usize = 40;

/// Reads a regular file of at most `limit` bytes. Directories, FIFOs, sockets and devices are refused
/// before they are opened (opening a FIFO blocks), and so is anything larger than `limit`.
pub fn read_file(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use std::io::{Error, ErrorKind};
    let meta = std::fs::metadata(path)?;
    check_kind(&meta)?;
    if meta.len() > limit {
        return Err(Error::new(ErrorKind::InvalidData, format!("larger than {} (it holds {} bytes)", size(limit), meta.len())));
    }
    let file = std::fs::File::open(path)?;
    check_kind(&file.metadata()?)?;
    let mut out = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1).read_to_end(&mut out)?;
    if out.len() as u64 > limit {
        return Err(Error::new(ErrorKind::InvalidData, format!("larger than {}", size(limit))));
    }
    Ok(out)
}

fn check_kind(meta: &std::fs::Metadata) -> std::io::Result<()> {
    use std::io::{Error, ErrorKind};
    if meta.is_file() {
        return Ok(());
    }
    let what = if meta.is_dir() { "a directory" } else { "not a regular file (a FIFO, socket or device)" };
    Err(Error::new(ErrorKind::InvalidInput, format!("is {what}; give the path of a file")))
}

fn size(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{} GiB", bytes >> 30)
    } else {
        format!("{} MiB", bytes >> 20)
    }
}

/// A short, printable excerpt of untrusted text for an error message: at most 40 characters,
/// control characters escaped (`\u{1b}`), `…` where it was cut.
pub fn excerpt(text: &str) -> String {
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n == EXCERPT_CHARS {
            out.push('…');
            break;
        }
        push_printable(&mut out, c);
    }
    out
}

/// Appends `c`, escaped when it is a control character (C0, DEL, C1) or a bidirectional override,
/// so that nothing read from input can move a terminal's cursor, set its title or reorder its text.
pub fn push_printable(out: &mut String, c: char) {
    if c.is_control() || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}') {
        out.extend(c.escape_unicode());
    } else {
        out.push(c);
    }
}

/// `text` with every control character escaped (see [`push_printable`]); borrowed when there is none.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().all(|c| !c.is_control() && !matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        push_printable(&mut out, c);
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_short_and_escaped() {
        assert_eq!(excerpt("abc"), "abc");
        assert_eq!(excerpt("a\u{1b}]0;x\u{7}"), "a\\u{1b}]0;x\\u{7}");
        let long = "é".repeat(100);
        assert_eq!(excerpt(&long).chars().count(), 41);
        assert_eq!(printable("plain"), "plain");
        assert_eq!(printable("a\u{202e}b"), "a\\u{202e}b");
    }

    #[test]
    fn special_files_and_oversized_files_are_refused() {
        let e = read_file(Path::new("/dev/zero"), MAX_DATA_FILE).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        let e = read_file(Path::new("/"), MAX_DATA_FILE).unwrap_err().to_string();
        assert!(e.contains("a directory"), "{e}");
        let dir = std::env::temp_dir().join(format!("dangle-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let big = dir.join("big");
        std::fs::write(&big, vec![b'x'; 2048]).unwrap();
        assert!(read_file(&big, 1024).unwrap_err().to_string().contains("larger than"));
        assert_eq!(read_file(&big, 4096).unwrap().len(), 2048);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

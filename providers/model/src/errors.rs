//! How an error reaches a person, for the engine and every provider alike: the error and its causes
//! as one sentence chain, each cause once, nothing that could drive a terminal. Errors carry what a
//! person needs (file, line, key, provider, operation) as fields and say it in their `Display`; no
//! `Debug` form is ever shown (an SDK's is a struct dump, not a message).

use std::error::Error;

/// `e` and its sources joined by `: `. A cause whose text the chain already holds is left out (an
/// I/O error wrapped by a type that quotes it, SQLite or an SDK repeating its own message), empty
/// messages are skipped, and control characters are escaped.
pub fn chain(e: &(dyn Error + 'static)) -> String {
    let mut out = String::new();
    let mut cur = Some(e);
    while let Some(c) = cur {
        let m = c.to_string();
        let m = m.trim();
        if !m.is_empty() && !out.contains(m) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(m);
        }
        cur = c.source();
    }
    crate::input::printable(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::chain;

    #[derive(Debug)]
    struct Wrap(&'static str, Option<std::io::Error>);
    impl std::fmt::Display for Wrap {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl std::error::Error for Wrap {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_ref().map(|e| e as _)
        }
    }

    #[test]
    fn each_cause_once_and_printable() {
        let io = std::io::Error::other("disk full");
        assert_eq!(chain(&Wrap("cannot write x: disk full", Some(io))), "cannot write x: disk full");
        assert_eq!(chain(&Wrap("write x", Some(std::io::Error::other("disk full")))), "write x: disk full");
        assert_eq!(chain(&Wrap("bad \u{1b}[2J name", None)), "bad \\u{1b}[2J name");
    }
}

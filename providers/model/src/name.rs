//! `DnsName`: the only way names are compared in dangle.

use std::fmt;
use std::str::FromStr;

/// Names are shared, never weakly referenced: triomphe's `Arc` drops the weak count std's carries,
/// 8 bytes on every name (an estate holds millions).
use triomphe::Arc;

/// A fully-qualified, lower-case, IDNA (punycode) normalised DNS name.
///
/// Stored in presentation form with its trailing dot (`www.example.com.`); `Display` leaves the dot off,
/// except for the root (`.`). Wildcard (`*`) and underscore labels (`_dmarc`, `_sip._tcp`) are kept,
/// since zones hold them. A label octet that is not printable ASCII is written `\DDD` and a dot or
/// other special character inside a label `\.` (RFC 1035 §5.1), so a name never carries a control
/// character to a terminal or a report, and `a\.b` stays one label. Cloning is cheap: the text is shared.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DnsName(Arc<str>);

/// Why a string is not a DNS name. The offending text is kept as a short escaped excerpt
/// ([`crate::excerpt`]), so an error never echoes a whole input or a control character.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("empty name")]
    Empty,
    #[error("empty label in `{0}`")]
    EmptyLabel(String),
    #[error("label longer than 63 octets in `{0}`")]
    LabelTooLong(String),
    #[error("name longer than 253 octets: `{0}`")]
    TooLong(String),
    #[error("`{0}` is not a valid domain name (IDNA: {1})")]
    Idna(String, String),
    #[error("wire-format name: {0}")]
    Wire(&'static str),
    #[error("bad escape in `{0}`: `\\DDD` takes a decimal octet 000 to 255")]
    Escape(String),
}

/// Octets written as themselves inside a label; other printable ASCII takes a backslash (`\.`), the
/// rest `\DDD`.
fn plain(b: u8) -> bool {
    b.is_ascii_graphic() && !matches!(b, b'.' | b'\\' | b'"' | b'(' | b')' | b';' | b'@' | b'$')
}

/// Appends one label octet in presentation form.
fn push_octet(out: &mut String, b: u8) {
    use std::fmt::Write;
    if plain(b) {
        out.push(b.to_ascii_lowercase() as char);
    } else if b.is_ascii_graphic() {
        out.push('\\');
        out.push(b as char);
    } else {
        let _ = write!(out, "\\{b:03}");
    }
}

/// Splits presentation text into labels of raw octets, decoding `\DDD` and `\X`.
fn split_labels(text: &str) -> Result<Vec<Vec<u8>>, NameError> {
    let b = text.as_bytes();
    let mut labels = vec![Vec::new()];
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => {
                let digits = b.get(i + 1..i + 4).filter(|d| d.iter().all(u8::is_ascii_digit));
                if let Some(d) = digits {
                    let n = u32::from(d[0] - b'0') * 100 + u32::from(d[1] - b'0') * 10 + u32::from(d[2] - b'0');
                    let octet = u8::try_from(n).map_err(|_| NameError::Escape(crate::excerpt(text)))?;
                    labels.last_mut().expect("never empty").push(octet);
                    i += 4;
                } else if let Some(c) = text.get(i + 1..).and_then(|r| r.chars().next()) {
                    let mut buf = [0u8; 4];
                    labels.last_mut().expect("never empty").extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    i += 1 + c.len_utf8();
                } else {
                    return Err(NameError::Escape(crate::excerpt(text)));
                }
            }
            b'.' => {
                labels.push(Vec::new());
                i += 1;
            }
            o => {
                labels.last_mut().expect("never empty").push(o);
                i += 1;
            }
        }
    }
    Ok(labels)
}

/// The byte index of the first label separator (an unescaped `.`) in presentation text at or after `from`.
fn next_dot(s: &str, from: usize) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = from;
    while i < b.len() {
        match b[i] {
            b'\\' if b.get(i + 1..i + 4).is_some_and(|d| d.iter().all(u8::is_ascii_digit)) => i += 4,
            b'\\' => i += 1 + s[i + 1..].chars().next().map_or(0, char::len_utf8),
            b'.' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// `true` when `text` ends in a label separator, not in an escaped dot (`a\.`).
fn ends_with_separator(text: &str) -> bool {
    text.ends_with('.') && text.as_bytes()[..text.len() - 1].iter().rev().take_while(|b| **b == b'\\').count() % 2 == 0
}

impl DnsName {
    /// Parses a name in presentation form (`\.` and `\DDD` escapes); a missing trailing dot is taken as
    /// fully qualified (relative names are the zone reader's business, see [`DnsName::parse_relative`]).
    /// Non-ASCII text without escapes is an internationalised name and becomes punycode.
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(NameError::Empty);
        }
        if trimmed == "." {
            return Ok(Self::root());
        }
        let body = if ends_with_separator(trimmed) { &trimmed[..trimmed.len() - 1] } else { trimmed };
        let fast = |t: &str| t.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'*' | b'.'));
        if fast(body) {
            return Self::plain(body, trimmed);
        }
        if !body.is_ascii() && !body.contains('\\') {
            let ascii = idna::domain_to_ascii(body).map_err(|e| NameError::Idna(crate::excerpt(trimmed), e.to_string()))?;
            if fast(&ascii) {
                return Self::plain(&ascii, trimmed);
            }
            return Self::from_labels(ascii.split('.').map(str::as_bytes), trimmed);
        }
        Self::from_labels(split_labels(body)?.iter().map(Vec::as_slice), trimmed)
    }

    /// A name of letters, digits, `-`, `_` and `*` only: nothing to escape, so the text is the name
    /// (the common case, and the fast one).
    fn plain(body: &str, shown: &str) -> Result<Self, NameError> {
        Self::check(body.split('.').map(str::len), shown)?;
        // At most 253 octets (checked) and a dot: lower-cased on the stack, one allocation.
        let mut buf = [0u8; 256];
        let n = body.len();
        for (d, b) in buf.iter_mut().zip(body.bytes()) {
            *d = b.to_ascii_lowercase();
        }
        buf[n] = b'.';
        Ok(Self(Arc::from(std::str::from_utf8(&buf[..=n]).expect("ASCII letters, digits and punctuation"))))
    }

    /// `text` (letters, digits, `-`, `_`, `*` and dots only) under `origin` (the same), built in one
    /// allocation; `None` for anything else, or anything too long, which the general path handles.
    fn plain_under(text: &str, origin: &DnsName) -> Option<Result<Self, NameError>> {
        let fast = |t: &str| t.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'*' | b'.'));
        let total = text.len() + 1 + origin.0.len();
        if text.is_empty() || total > 256 || !fast(text) || !fast(&origin.0) {
            return None;
        }
        let mut buf = [0u8; 256];
        for (d, b) in buf.iter_mut().zip(text.bytes()) {
            *d = b.to_ascii_lowercase();
        }
        buf[text.len()] = b'.';
        buf[text.len() + 1..total].copy_from_slice(origin.0.as_bytes());
        let name = std::str::from_utf8(&buf[..total]).expect("ASCII letters, digits and punctuation");
        let body = &name[..total - 1];
        Some(Self::check(body.split('.').map(str::len), name).map(|()| Self(Arc::from(name))))
    }

    /// A name from its labels' raw octets, escaped into presentation form.
    fn from_labels<'a>(labels: impl Iterator<Item = &'a [u8]> + Clone, shown: &str) -> Result<Self, NameError> {
        Self::check(labels.clone().map(<[u8]>::len), shown)?;
        let mut s = String::new();
        for label in labels {
            for &o in label {
                push_octet(&mut s, o);
            }
            s.push('.');
        }
        Ok(Self(s.into()))
    }

    /// Every label 1 to 63 octets, the whole at most 253 (`shown` is what an error quotes).
    fn check(lengths: impl Iterator<Item = usize>, shown: &str) -> Result<(), NameError> {
        let mut total = 0;
        for len in lengths {
            if len == 0 {
                return Err(NameError::EmptyLabel(crate::excerpt(shown)));
            }
            if len > 63 {
                return Err(NameError::LabelTooLong(crate::excerpt(shown)));
            }
            total += len + 1;
        }
        if total > 253 {
            return Err(NameError::TooLong(crate::excerpt(shown)));
        }
        Ok(())
    }

    /// Reads an uncompressed wire-format name (RFC 1035 §3.1, as RFC 3597 generic data carries it) and
    /// returns it with the number of octets it took.
    pub fn from_wire(wire: &[u8]) -> Result<(Self, usize), NameError> {
        let mut s = String::new();
        let mut at = 0;
        loop {
            let len = *wire.get(at).ok_or(NameError::Wire("ends before the root label"))? as usize;
            at += 1;
            if len == 0 {
                break;
            }
            if len > 63 {
                return Err(NameError::Wire("a label length above 63 (compression is not allowed here)"));
            }
            let label = wire.get(at..at + len).ok_or(NameError::Wire("a label runs past the end"))?;
            for &o in label {
                push_octet(&mut s, o);
            }
            s.push('.');
            at += len;
        }
        if s.is_empty() {
            return Ok((Self::root(), at));
        }
        if at > 255 {
            return Err(NameError::TooLong(crate::excerpt(&s)));
        }
        Ok((Self(s.into()), at))
    }

    /// Parses `text` as a zone file does: a name ending in an unescaped `.` is absolute, `@` is the
    /// origin, anything else is relative to `origin`.
    pub fn parse_relative(text: &str, origin: &DnsName) -> Result<Self, NameError> {
        if text == "@" {
            return Ok(origin.clone());
        }
        if ends_with_separator(text) || origin.is_root() {
            return Self::parse(text);
        }
        if let Some(name) = Self::plain_under(text, origin) {
            return name;
        }
        Self::parse(&format!("{text}.{}", origin.0))
    }

    /// The root name `.`.
    pub fn root() -> Self {
        Self(Arc::from("."))
    }

    pub fn is_root(&self) -> bool {
        &*self.0 == "."
    }

    /// The name with its trailing dot: `www.example.com.`.
    pub fn as_fqdn(&self) -> &str {
        &self.0
    }

    /// The name without its trailing dot (`.` for the root).
    pub fn as_str(&self) -> &str {
        if self.is_root() {
            "."
        } else {
            &self.0[..self.0.len() - 1]
        }
    }

    /// Labels from the leftmost, in presentation form: `www`, `example`, `com` (`a\.b` is one label).
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        let s: &str = if self.is_root() { "" } else { &self.0 };
        let mut at = 0;
        std::iter::from_fn(move || {
            let end = next_dot(s, at)?;
            let label = &s[at..end];
            at = end + 1;
            Some(label)
        })
    }

    pub fn label_count(&self) -> usize {
        self.labels().count()
    }

    pub fn first_label(&self) -> &str {
        self.labels().next().unwrap_or("")
    }

    /// The name one label up; `None` for the root.
    pub fn parent(&self) -> Option<Self> {
        if self.is_root() {
            return None;
        }
        let rest = &self.0[next_dot(&self.0, 0).map(|i| i + 1).unwrap_or(self.0.len())..];
        Some(if rest.is_empty() { Self::root() } else { Self(Arc::from(rest)) })
    }

    /// This name and every ancestor up to (not including) the root, longest first.
    pub fn ancestors(&self) -> impl Iterator<Item = DnsName> {
        let mut next = if self.is_root() { None } else { Some(self.clone()) };
        std::iter::from_fn(move || {
            let cur = next.take()?;
            next = cur.parent().filter(|p| !p.is_root());
            Some(cur)
        })
    }

    /// `true` if `self` equals `zone` or lies below it.
    pub fn is_within(&self, zone: &DnsName) -> bool {
        if zone.is_root() {
            return true;
        }
        let (s, z) = (&*self.0, &*zone.0);
        s == z || (s.len() > z.len() && s.ends_with(z) && ends_with_separator(&s[..s.len() - z.len()]))
    }

    /// `*.parent` for this name's parent: the wildcard that would cover it.
    pub fn wildcard_of(parent: &DnsName) -> Self {
        if parent.is_root() {
            Self(Arc::from("*."))
        } else {
            Self(format!("*.{}", parent.0).into())
        }
    }

    /// Prepends a label: `child("www")` of `example.com.` is `www.example.com.`.
    pub fn child(&self, label: &str) -> Result<Self, NameError> {
        Self::parse_relative(label, self)
    }

    /// Strips `suffix` (a name this one lies within) and returns the labels before it, without a dot.
    pub fn strip_suffix(&self, suffix: &DnsName) -> Option<&str> {
        if !self.is_within(suffix) || self == suffix {
            return None;
        }
        let keep = self.0.len() - suffix.0.len() - 1;
        Some(&self.0[..keep])
    }
}

impl fmt::Display for DnsName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for DnsName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DnsName({})", self.0)
    }
}

impl FromStr for DnsName {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl serde::Serialize for DnsName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for DnsName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_dot() {
        let a = DnsName::parse("WWW.Example.COM").unwrap();
        let b = DnsName::parse("www.example.com.").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_fqdn(), "www.example.com.");
        assert_eq!(a.to_string(), "www.example.com");
    }

    #[test]
    fn idn_becomes_punycode() {
        let a = DnsName::parse("Bücher.example").unwrap();
        assert_eq!(a.as_str(), "xn--bcher-kva.example");
        assert_eq!(a, DnsName::parse("xn--bcher-kva.example.").unwrap());
    }

    #[test]
    fn keeps_wildcard_and_underscore_labels() {
        assert_eq!(DnsName::parse("*.Example.com").unwrap().as_str(), "*.example.com");
        assert_eq!(DnsName::parse("_sip._tcp.example.com").unwrap().as_str(), "_sip._tcp.example.com");
    }

    #[test]
    fn rejects_bad_names() {
        assert_eq!(DnsName::parse(""), Err(NameError::Empty));
        assert!(matches!(DnsName::parse("a..b"), Err(NameError::EmptyLabel(_))));
        assert!(matches!(DnsName::parse(&"a".repeat(64)), Err(NameError::LabelTooLong(_))));
        assert!(matches!(DnsName::parse(&"abcdefghi.".repeat(30)), Err(NameError::TooLong(_))));
    }

    #[test]
    fn relative_names() {
        let origin = DnsName::parse("example.com.").unwrap();
        assert_eq!(DnsName::parse_relative("@", &origin).unwrap(), origin);
        assert_eq!(DnsName::parse_relative("www", &origin).unwrap().as_str(), "www.example.com");
        assert_eq!(DnsName::parse_relative("mail.other.org.", &origin).unwrap().as_str(), "mail.other.org");
    }

    #[test]
    fn escaped_dot_is_part_of_a_label() {
        let n = DnsName::parse_relative("a\\.b", &DnsName::parse("example.com").unwrap()).unwrap();
        assert_eq!(n.as_str(), "a\\.b.example.com");
        assert_eq!(n.label_count(), 3);
        assert_eq!(n.first_label(), "a\\.b");
        assert_eq!(n.parent().unwrap().as_str(), "example.com");
        assert!(!DnsName::parse("x\\.example.com").unwrap().is_within(&DnsName::parse("example.com").unwrap()));
        assert!(DnsName::parse_relative("a\\.", &DnsName::parse("example.com").unwrap()).unwrap().is_within(&DnsName::parse("example.com").unwrap()));
        assert_eq!(DnsName::parse("A\\066c.example").unwrap(), DnsName::parse("abc.example").unwrap());
    }

    #[test]
    fn control_characters_never_survive_a_name() {
        let n = DnsName::parse("x\\027]0\\059pwned\\007y.example").unwrap();
        assert!(!n.as_str().chars().any(|c| c.is_control()), "{n}");
        assert_eq!(n.as_str(), "x\\027]0\\;pwned\\007y.example");
        let raw = DnsName::parse("x\u{1b}]0;y.example").unwrap();
        assert!(!raw.as_str().chars().any(|c| c.is_control()), "{raw}");
        assert_eq!(DnsName::parse(raw.as_str()).unwrap(), raw, "the presentation form parses back to itself");
        assert!(matches!(DnsName::parse("a\\999.example"), Err(NameError::Escape(_))));
        // An escaped non-ASCII character is its UTF-8 octets, not a panic.
        assert_eq!(DnsName::parse("\\é.example").unwrap().as_str(), "\\195\\169.example");
    }

    #[test]
    fn errors_quote_a_short_escaped_excerpt() {
        let long = format!("PATH=/usr/bin\u{1b}AWS_SECRET_ACCESS_KEY={}", "k".repeat(200));
        let e = DnsName::parse(&long).unwrap_err().to_string();
        assert!(e.len() < 120, "{e}");
        assert!(!e.contains("kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk"), "{e}");
        assert!(!e.contains('\u{1b}'), "{e}");
    }

    #[test]
    fn wire_names() {
        let (n, used) = DnsName::from_wire(b"\x03www\x07Example\x03com\x00rest").unwrap();
        assert_eq!((n.as_str(), used), ("www.example.com", 17));
        assert!(DnsName::from_wire(b"\x00").unwrap().0.is_root());
        assert!(DnsName::from_wire(b"\x03ww").is_err());
        assert!(DnsName::from_wire(b"\xc0\x0c").is_err());
        assert_eq!(DnsName::from_wire(b"\x03a.b\x00").unwrap().0.as_str(), "a\\.b");
    }

    #[test]
    fn hierarchy() {
        let n = DnsName::parse("a.b.example.com").unwrap();
        let z = DnsName::parse("example.com").unwrap();
        assert!(n.is_within(&z));
        assert!(!DnsName::parse("badexample.com").unwrap().is_within(&z));
        assert_eq!(n.strip_suffix(&z), Some("a.b"));
        assert_eq!(n.parent().unwrap().as_str(), "b.example.com");
        let all: Vec<String> = n.ancestors().map(|a| a.to_string()).collect();
        assert_eq!(all, ["a.b.example.com", "b.example.com", "example.com", "com"]);
        assert_eq!(DnsName::wildcard_of(&z).as_str(), "*.example.com");
        assert_eq!(n.label_count(), 4);
    }
}

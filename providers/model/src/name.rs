//! `DnsName`: the only way names are compared in dangle.

use std::fmt;
use std::str::FromStr;

/// Names are shared, never weakly referenced: triomphe's `Arc` drops the weak count std's carries,
/// 8 bytes on every name (an estate holds millions).
use triomphe::Arc;

/// A fully-qualified, lower-case, IDNA (punycode) normalised DNS name.
///
/// Stored with its trailing dot (`www.example.com.`); `Display` leaves the dot off, except for the root
/// (`.`). Wildcard (`*`) and underscore labels (`_dmarc`, `_sip._tcp`) are kept, since zones hold them.
/// Cloning is cheap: the text is shared.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DnsName(Arc<str>);

/// Why a string is not a DNS name.
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
}

impl DnsName {
    /// Parses a name; a missing trailing dot is taken as fully qualified (relative names are the zone
    /// reader's business, see [`DnsName::parse_relative`]).
    pub fn parse(text: &str) -> Result<Self, NameError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(NameError::Empty);
        }
        if trimmed == "." {
            return Ok(Self::root());
        }
        let body = trimmed.strip_suffix('.').unwrap_or(trimmed);
        let ascii = if body.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'*' | b'.')) {
            body.to_ascii_lowercase()
        } else {
            idna::domain_to_ascii(body).map_err(|e| NameError::Idna(trimmed.to_string(), e.to_string()))?
        };
        let mut total = 0;
        for label in ascii.split('.') {
            if label.is_empty() {
                return Err(NameError::EmptyLabel(trimmed.to_string()));
            }
            if label.len() > 63 {
                return Err(NameError::LabelTooLong(trimmed.to_string()));
            }
            total += label.len() + 1;
        }
        if total > 253 {
            return Err(NameError::TooLong(trimmed.to_string()));
        }
        let mut s = ascii;
        s.push('.');
        Ok(Self(s.into()))
    }

    /// Parses `text` as a zone file does: a name ending in `.` is absolute, `@` is the origin, anything
    /// else is relative to `origin`.
    pub fn parse_relative(text: &str, origin: &DnsName) -> Result<Self, NameError> {
        if text == "@" {
            return Ok(origin.clone());
        }
        if text.ends_with('.') {
            return Self::parse(text);
        }
        if origin.is_root() {
            return Self::parse(text);
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

    /// Labels from the leftmost: `www`, `example`, `com`.
    pub fn labels(&self) -> impl Iterator<Item = &str> {
        self.as_str().split('.').filter(|l| !l.is_empty() && *l != ".")
    }

    pub fn label_count(&self) -> usize {
        if self.is_root() {
            0
        } else {
            self.0.bytes().filter(|b| *b == b'.').count()
        }
    }

    pub fn first_label(&self) -> &str {
        self.labels().next().unwrap_or("")
    }

    /// The name one label up; `None` for the root.
    pub fn parent(&self) -> Option<Self> {
        if self.is_root() {
            return None;
        }
        let rest = &self.0[self.0.find('.').map(|i| i + 1).unwrap_or(self.0.len())..];
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
        s == z || (s.len() > z.len() && s.ends_with(z) && s.as_bytes()[s.len() - z.len() - 1] == b'.')
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

//! Route53's text, decoded: record and alias names (Route53 writes special characters as `\ooo`
//! octal escapes) and record values, into model names and targets. No SDK type appears here, so the
//! fuzz target in `tests/fuzz` builds this file alone, without the SDK.

use std::net::IpAddr;

use dangle_model::{DnsName, RecordType, Target};

/// Route53 writes special characters in names as `\ooo` octal escapes (`\052` is `*`). Returns the
/// name in the presentation form `DnsName::parse` reads: `*` and letter-digit-hyphen-underscore
/// octets as themselves, every other octet as a decimal `\DDD`, so a dot or a control character inside
/// a label stays escaped.
pub fn unescape(name: &str) -> String {
    let b = name.as_bytes();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && b.len() >= i + 4 && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c)) {
            let v = (b[i + 1] - b'0') as u32 * 64 + (b[i + 2] - b'0') as u32 * 8 + (b[i + 3] - b'0') as u32;
            match u8::try_from(v) {
                Ok(o) if o.is_ascii_alphanumeric() || matches!(o, b'*' | b'-' | b'_') => out.push(o as char),
                Ok(o) => out.push_str(&format!("\\{o:03}")),
                Err(_) => out.push_str(&name[i..i + 4]),
            }
            i += 4;
        } else {
            let c = name[i..].chars().next().unwrap_or('?');
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// A record or alias name as a model name.
pub fn name(text: &str) -> Option<DnsName> {
    DnsName::parse(&unescape(text)).ok()
}

/// What one value of a record set of type `rtype` points at (`None`: no target, or unparseable).
pub fn value_target(rtype: &RecordType, value: &str) -> Option<Target> {
    let value = value.trim();
    match rtype {
        RecordType::A | RecordType::Aaaa => value.parse::<IpAddr>().ok().map(Target::Ip),
        RecordType::Cname | RecordType::Ns | RecordType::Dname => name(value).map(Target::Host),
        RecordType::Mx => value.split_whitespace().nth(1).and_then(name).filter(|h| !h.is_root()).map(Target::Host),
        RecordType::Srv => value.split_whitespace().nth(3).and_then(name).filter(|h| !h.is_root()).map(Target::Host),
        _ => None,
    }
}

/// Fuzz entry point: a record set as text — its name on the first line, its type on the second, one
/// value a line after that. Decodes it as the enumeration does; the names that come out print
/// without control characters and parse back to themselves.
pub fn fuzz(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut lines = text.lines();
    let (Some(n), Some(t)) = (lines.next(), lines.next()) else { return };
    let rtype: RecordType = t.parse().unwrap_or_else(|e| match e {});
    let mut names: Vec<DnsName> = name(n).into_iter().collect();
    for v in lines {
        if let Some(Target::Host(h)) = value_target(&rtype, v) {
            names.push(h);
        }
    }
    for n in names {
        assert!(!n.as_str().chars().any(char::is_control), "{n}");
        assert_eq!(DnsName::parse(n.as_str()).ok().as_ref(), Some(&n), "{n}");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn octal_escapes() {
        assert_eq!(super::unescape("\\052.example.com."), "*.example.com.");
        assert_eq!(super::unescape("a\\100b.example.com."), "a\\064b.example.com.");
        assert_eq!(super::unescape("a\\056b.example.com."), "a\\046b.example.com.", "an escaped dot stays inside its label");
        assert_eq!(super::unescape("plain.example.com."), "plain.example.com.");
        assert_eq!(super::unescape("trailing\\05"), "trailing\\05");
    }
}

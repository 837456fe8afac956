//! How values are encoded in the store: small integer codes for the enums stored per row, a hash that
//! is stable across builds, addresses and names as lists, and the string interner readers share.

use std::collections::HashMap;
use std::sync::Arc;

use dangle_model::DnsName;

use super::db::DbError;
use crate::reconcile::{Claimable, Severity, Status};
use dangle_model::Verdict;

/// Shares the strings a store's rows repeat by the thousand (sources, accounts, regions, dates) as one
/// allocation each.
#[derive(Default)]
pub(crate) struct Interner(HashMap<String, Arc<str>>);

impl Interner {
    pub(crate) fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(v) = self.0.get(s) {
            return v.clone();
        }
        let v: Arc<str> = Arc::from(s);
        self.0.insert(s.to_string(), v.clone());
        v
    }
}

/// `runs.findings` as written: the counts from critical down to info.
pub(crate) fn findings_text(by_severity: &[usize; 5]) -> String {
    Severity::ALL.iter().rev().map(|s| by_severity[*s as usize].to_string()).collect::<Vec<_>>().join(" ")
}

pub(super) fn parse_findings(text: &str) -> Option<[usize; 5]> {
    let n: Vec<usize> = text.split_whitespace().map(|x| x.parse().ok()).collect::<Option<_>>()?;
    if n.len() != 5 {
        return None;
    }
    let mut out = [0; 5];
    for (s, v) in Severity::ALL.iter().rev().zip(n) {
        out[*s as usize] = v;
    }
    Some(out)
}

/// Small integer codes for the enums stored per row. A code this build does not know (a newer
/// dangle's, or a damaged store) is an error naming it, never clamped to a valid value.
pub(super) mod codes {
    use super::{Claimable, DbError, Severity, Status, Verdict};

    /// A stored value no enum variant has.
    #[derive(Debug)]
    pub struct UnknownCode {
        what: &'static str,
        value: String,
    }

    impl std::fmt::Display for UnknownCode {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "a row holds {} `{}`, which this dangle does not know (written by a newer version, or the store is damaged)", self.what, self.value)
        }
    }

    impl std::error::Error for UnknownCode {}

    impl UnknownCode {
        /// As the row decoder reports it (the column does not matter to a person: the value does).
        pub fn at(self, _col: usize) -> DbError {
            DbError::new(self.to_string())
        }
    }

    fn unknown(what: &'static str, value: impl ToString) -> UnknownCode {
        UnknownCode { what, value: value.to_string() }
    }

    const STATUSES: [Status; 5] = [Status::NoTarget, Status::Owned, Status::External, Status::Unverified, Status::Dangling];
    const CLAIMABLE: [Claimable; 3] = [Claimable::Yes, Claimable::No, Claimable::Unknown];

    pub fn status_code(s: Status) -> i64 {
        s as i64
    }
    pub fn status(c: i64) -> Result<Status, UnknownCode> {
        usize::try_from(c).ok().and_then(|i| STATUSES.get(i).copied()).ok_or_else(|| unknown("status code", c))
    }
    pub fn severity_code(s: Severity) -> i64 {
        s as i64
    }
    pub fn severity(c: i64) -> Result<Severity, UnknownCode> {
        usize::try_from(c).ok().and_then(|i| Severity::ALL.get(i).copied()).ok_or_else(|| unknown("severity code", c))
    }
    pub fn claimable_code(c: Claimable) -> i64 {
        match c {
            Claimable::Yes => 0,
            Claimable::No => 1,
            Claimable::Unknown => 2,
        }
    }
    pub fn claimable(c: i64) -> Result<Claimable, UnknownCode> {
        usize::try_from(c).ok().and_then(|i| CLAIMABLE.get(i).copied()).ok_or_else(|| unknown("claimable code", c))
    }
    pub fn kind(c: i64) -> Result<crate::reconcile::Kind, UnknownCode> {
        crate::reconcile::Kind::from_code(c).ok_or_else(|| unknown("finding kind code", c))
    }
    pub fn verdict(s: &str) -> Result<Verdict, UnknownCode> {
        Verdict::parse(s).ok_or_else(|| unknown("probe verdict", dangle_model::excerpt(s)))
    }
    pub fn name_kind(s: &str) -> Result<crate::store::NameKind, UnknownCode> {
        crate::store::NameKind::parse(s).ok_or_else(|| unknown("certificate finding kind", dangle_model::excerpt(s)))
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        #[test]
        fn codes_round_trip() {
            for s in STATUSES {
                assert_eq!(status(status_code(s)).unwrap(), s);
            }
            for s in Severity::ALL {
                assert_eq!(severity(severity_code(s)).unwrap(), s);
            }
            for c in CLAIMABLE {
                assert_eq!(claimable(claimable_code(c)).unwrap(), c);
            }
            for v in Verdict::ALL {
                assert_eq!(verdict(v.as_str()).unwrap(), v);
            }
        }

        #[test]
        fn unknown_codes_are_errors_not_clamped() {
            assert!(status(5).is_err() && status(-1).is_err());
            assert!(severity(5).is_err());
            assert!(claimable(3).is_err());
            let e = verdict("maybe").unwrap_err().to_string();
            assert_eq!(e, "a row holds probe verdict `maybe`, which this dangle does not know (written by a newer version, or the store is damaged)");
        }
    }
}

/// FNV-1a (64-bit) of `parts` in order: a hash that is the same in every build and on every machine
/// (the standard library's is seeded), for what is stored or published and compared later.
pub fn stable_hash<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Stored probe evidence (JSON) as reports show it; text that is not JSON stays text.
pub(crate) fn evidence_value(json: String) -> serde_json::Value {
    serde_json::from_str(&json).unwrap_or(serde_json::Value::String(json))
}

pub(super) fn join<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join(" ")
}

/// An asset's addresses as the store and assets.csv hold them, as people write them (a single address
/// without its `/32` or `/128`, a block with its prefix), space-separated, appended to `out` (a
/// million assets: no allocation per address).
pub fn push_nets(out: &mut String, nets: &[ipnet::IpNet]) {
    use std::fmt::Write as _;
    for (i, net) in nets.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        match net.addr() {
            std::net::IpAddr::V4(v4) => push_ipv4(out, v4),
            v6 => {
                let _ = write!(out, "{v6}");
            }
        }
        if net.prefix_len() != net.max_prefix_len() {
            let _ = write!(out, "/{}", net.prefix_len());
        }
    }
}

/// Dotted decimal, as `Ipv4Addr`'s `Display` writes it, without the formatter per octet.
fn push_ipv4(out: &mut String, ip: std::net::Ipv4Addr) {
    for (i, o) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        if o >= 100 {
            out.push(char::from(b'0' + o / 100));
        }
        if o >= 10 {
            out.push(char::from(b'0' + o / 10 % 10));
        }
        out.push(char::from(b'0' + o % 10));
    }
}

/// An asset's host names, space-separated, appended to `out`.
pub fn push_hosts(out: &mut String, hosts: &[DnsName]) {
    for (i, h) in hosts.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(h.as_str());
    }
}

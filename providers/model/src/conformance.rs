//! The provider conformance suite: invariants every [`Provider`] must keep, whatever backs it. Each
//! check returns the list of violations (empty when conformant) so that a test can also prove the
//! suite catches a broken provider; [`assert_provider`] panics with the whole list.
//!
//! ```text
//! let zones = ZoneFileSource::new("zones", "example.com.zone", "example.com.zone", None);
//! dangle_model::conformance::assert_provider(&zones).await;
//! ```
//!
//! These are the shape checks. The behavioural suite (seeded fixtures, failures injected per account,
//! region and service, judged by the engine) is `dangle::conformance`, behind dangle's `conformance`
//! feature.

use std::collections::HashSet;

use crate::{CoverageGap, Description, Hides, Inventory, Namespace, Provider, RecordType, Target};

/// Enumerates twice and checks every invariant of the inventory and the description.
pub async fn check_provider(p: &dyn Provider) -> Vec<String> {
    let first = match p.enumerate().await {
        Ok(e) => e,
        Err(e) => return vec![format!("enumerate() failed: {e}")],
    };
    let mut v = check_inventory(p.name(), &p.describe(), &first);
    match p.enumerate().await {
        Ok(second) if second != first => v.push("two enumerations of an unchanged source differ".into()),
        Ok(_) => {}
        Err(e) => v.push(format!("second enumerate() failed: {e}")),
    }
    v
}

pub async fn assert_provider(p: &dyn Provider) {
    let v = check_provider(p).await;
    assert!(v.is_empty(), "provider `{}` breaks the contract:\n  {}", p.name(), v.join("\n  "));
}

/// Every invariant of one inventory.
pub fn check_inventory(name: &str, d: &Description, inv: &Inventory) -> Vec<String> {
    let mut v = check_description(d);
    check_gaps(name, d, &inv.gaps, &mut v);
    v.extend(check_records(name, inv));
    v.extend(check_assets(name, d, inv));
    v
}

/// A description names only its own cloud's services.
pub fn check_description(d: &Description) -> Vec<String> {
    let mut v = Vec::new();
    for ns in &d.covers {
        match (ns, d.cloud) {
            (Namespace::Names(s), Some(c)) if s.cloud != c => v.push(format!("covers {} names of {}, not of its cloud {c}", s.name, s.cloud)),
            (Namespace::Names(s), None) => v.push(format!("covers {} names but declares no cloud", s.name)),
            (Namespace::NameServers, None) => v.push("covers name servers but declares no cloud whose servers they are".into()),
            _ => {}
        }
    }
    v
}

fn check_gaps(name: &str, d: &Description, gaps: &[CoverageGap], v: &mut Vec<String>) {
    for g in gaps {
        if &*g.source != name {
            v.push(format!("gap source `{}` is not the provider name `{name}`", g.source));
        }
        if g.service.is_empty() || g.error.is_empty() {
            v.push(format!("gap {g:?} has an empty service or error"));
        }
        if g.region.as_deref() == Some("") {
            v.push(format!("gap {g:?} has an empty-string region (use None)"));
        }
        match &g.hides {
            Hides::Account => {}
            Hides::Only(ns) if ns.is_empty() => v.push(format!("gap {} {}: hides nothing (a failure hides what it failed to list)", g.service, g.error)),
            Hides::Only(ns) => {
                for n in ns {
                    if !d.covers.contains(n) {
                        v.push(format!("gap {} {}: hides {n:?}, which the provider does not say it covers", g.service, g.error));
                    }
                }
            }
        }
    }
}

/// The per-item invariants of the records.
pub fn check_records(name: &str, inv: &Inventory) -> Vec<String> {
    let mut v = Vec::new();
    let mut seen = HashSet::new();
    for r in &inv.records {
        let id = format!("{} {} (set {}) in {}", r.name, r.rtype, r.set_id.as_deref().unwrap_or("-"), r.zone);
        if &*r.source != name {
            v.push(format!("{id}: source `{}` is not the provider name `{name}`", r.source));
        }
        if r.account.is_empty() {
            v.push(format!("{id}: empty account"));
        }
        if r.set_id.as_deref() == Some("") {
            v.push(format!("{id}: empty-string set_id (use None)"));
        }
        if !r.name.is_within(&r.zone) {
            v.push(format!("{id}: name is outside its zone"));
        }
        if !seen.insert((r.account.clone(), r.zone.clone(), r.name.clone(), r.rtype.clone(), r.set_id.clone())) {
            v.push(format!("{id}: the same record set appears twice (merge values, or keep sets apart by set_id)"));
        }
        let mut tseen = HashSet::new();
        for t in &r.targets {
            if !tseen.insert(t) {
                v.push(format!("{id}: duplicate target {t}"));
            }
            let ok = match (&r.rtype, t) {
                (RecordType::A, Target::Ip(ip)) => ip.is_ipv4(),
                (RecordType::Aaaa, Target::Ip(ip)) => ip.is_ipv6(),
                (RecordType::A | RecordType::Aaaa | RecordType::Cname, Target::Alias { .. } | Target::Resource { .. }) => true,
                (RecordType::Cname | RecordType::Ns | RecordType::Mx | RecordType::Srv | RecordType::Dname, Target::Host(h)) => {
                    !h.is_root()
                }
                (RecordType::Other(_), _) => true,
                _ => false,
            };
            if !ok {
                v.push(format!("{id}: target {t} does not fit the record type"));
            }
        }
        if matches!(r.rtype, RecordType::Cname) && r.targets.len() > 1 {
            v.push(format!("{id}: a CNAME with {} targets", r.targets.len()));
        }
        if !r.rtype.has_targets() && !matches!(r.rtype, RecordType::Other(_)) && !r.targets.is_empty() {
            v.push(format!("{id}: a {} record carries targets", r.rtype));
        }
    }
    v
}

/// The per-item invariants of the assets and the coverage.
pub fn check_assets(name: &str, d: &Description, inv: &Inventory) -> Vec<String> {
    let mut v = Vec::new();
    if !inv.assets.is_empty() && (inv.covered.is_empty() || d.covers.is_empty()) {
        v.push("assets returned but no coverage declared: nothing could ever be judged dangling".into());
    }
    for c in &inv.covered {
        if &*c.source != name || c.account.is_empty() || c.region.as_deref() == Some("") {
            v.push(format!("malformed coverage {c:?}"));
        }
    }
    let mut seen = HashSet::new();
    for a in &inv.assets {
        let id = format!("{} {}", a.kind, a.id);
        if &*a.source != name {
            v.push(format!("{id}: source `{}` is not the provider name `{name}`", a.source));
        }
        if a.id.trim().is_empty() {
            v.push(format!("asset of kind {} with an empty id", a.kind));
        }
        if a.account.is_empty() {
            v.push(format!("{id}: empty account"));
        }
        if a.region.as_deref() == Some("") {
            v.push(format!("{id}: empty-string region (use None)"));
        }
        if a.ips.is_empty() && a.hosts.is_empty() {
            v.push(format!("{id}: neither ips nor hosts: it can never own anything"));
        }
        if !seen.insert((a.account.clone(), a.kind.clone(), a.id.clone())) {
            v.push(format!("{id}: appears twice in account {}", a.account));
        }
        let mut ipseen = HashSet::new();
        for ip in &a.ips {
            if ip.addr() != ip.network() {
                v.push(format!("{id}: address {ip} has host bits set (use the network)"));
            }
            if !ipseen.insert(ip) {
                v.push(format!("{id}: duplicate address {ip}"));
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BoxFuture, DnsName, DnsRecord, ProviderError};
    use std::sync::Arc;

    struct Broken;
    impl Provider for Broken {
        fn name(&self) -> &str {
            "broken"
        }
        fn describe(&self) -> Description {
            Description { cloud: None, covers: vec![Namespace::Names(crate::cloud::S3)] }
        }
        fn enumerate(&self) -> BoxFuture<'_, Result<Inventory, ProviderError>> {
            Box::pin(async {
                let zone = DnsName::parse("example.com").unwrap();
                let r = DnsRecord {
                    source: Arc::from("other"),
                    account: Arc::from(""),
                    zone: zone.clone(),
                    zone_private: false,
                    name: DnsName::parse("www.example.org").unwrap(),
                    rtype: RecordType::A,
                    ttl: 60,
                    set_id: Some(Arc::from("")),
                    targets: vec![Target::Ip("2001:db8::1".parse().unwrap())].into(),
                    location: None,
                    spec: None,
                };
                let gap = CoverageGap {
                    source: Arc::from("broken"),
                    account: Arc::from("1"),
                    region: None,
                    service: "ec2".into(),
                    error: "denied".into(),
                    hides: Hides::only(&[Namespace::Addresses]),
                };
                Ok(Inventory { records: vec![r.clone(), r], gaps: vec![gap], ..Default::default() })
            })
        }
    }

    #[tokio::test]
    async fn the_suite_catches_a_broken_provider() {
        let v = check_provider(&Broken).await;
        let all = v.join("\n");
        for expected in [
            "not the provider name",
            "empty account",
            "empty-string set_id",
            "outside its zone",
            "appears twice",
            "does not fit",
            "declares no cloud",
            "which the provider does not say it covers",
        ] {
            assert!(all.contains(expected), "missing `{expected}` in:\n{all}");
        }
    }
}

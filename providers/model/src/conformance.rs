//! The provider conformance suite: invariants every [`RecordSource`] and [`AssetSource`] must keep,
//! whatever backs it. Each check returns the list of violations (empty when conformant) so that a test
//! can also prove the suite catches a broken provider; [`assert_records`] / [`assert_assets`] panic with
//! the whole list.
//!
//! ```text
//! let source = ZoneFileSource::new("zones", "example.com.zone", None)?;
//! dangle_model::conformance::assert_records(&source).await;
//! ```

use std::collections::HashSet;

use crate::{Asset, AssetSource, CoverageGap, DnsRecord, Enumeration, RecordSource, RecordType, Target};

/// Enumerates twice and checks every record invariant.
pub async fn check_records(source: &dyn RecordSource) -> Vec<String> {
    let first = match source.records().await {
        Ok(e) => e,
        Err(e) => return vec![format!("records() failed: {e}")],
    };
    let mut v = check_record_items(source.name(), &first);
    match source.records().await {
        Ok(second) if second != first => v.push("two enumerations of an unchanged source differ".into()),
        Ok(_) => {}
        Err(e) => v.push(format!("second records() failed: {e}")),
    }
    v
}

/// Enumerates twice and checks every asset invariant.
pub async fn check_assets(source: &dyn AssetSource) -> Vec<String> {
    let first = match source.assets().await {
        Ok(e) => e,
        Err(e) => return vec![format!("assets() failed: {e}")],
    };
    let mut v = check_asset_items(source.name(), &first);
    match source.assets().await {
        Ok(second) if second != first => v.push("two enumerations of an unchanged source differ".into()),
        Ok(_) => {}
        Err(e) => v.push(format!("second assets() failed: {e}")),
    }
    v
}

pub async fn assert_records(source: &dyn RecordSource) {
    let v = check_records(source).await;
    assert!(v.is_empty(), "record source `{}` breaks the contract:\n  {}", source.name(), v.join("\n  "));
}

pub async fn assert_assets(source: &dyn AssetSource) {
    let v = check_assets(source).await;
    assert!(v.is_empty(), "asset source `{}` breaks the contract:\n  {}", source.name(), v.join("\n  "));
}

fn check_gaps(name: &str, gaps: &[CoverageGap], v: &mut Vec<String>) {
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
    }
}

/// The per-item invariants of a record enumeration.
pub fn check_record_items(name: &str, e: &Enumeration<DnsRecord>) -> Vec<String> {
    let mut v = Vec::new();
    check_gaps(name, &e.gaps, &mut v);
    let mut seen = HashSet::new();
    for r in &e.items {
        let id = format!("{} {} {:?} in {}", r.name, r.rtype, r.set_id, r.zone);
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

/// The per-item invariants of an asset enumeration.
pub fn check_asset_items(name: &str, e: &Enumeration<Asset>) -> Vec<String> {
    let mut v = Vec::new();
    check_gaps(name, &e.gaps, &mut v);
    if !e.items.is_empty() && e.covered.is_empty() {
        v.push("assets returned but no coverage declared: nothing could ever be judged dangling".into());
    }
    for c in &e.covered {
        if &*c.source != name || c.cloud.is_empty() || c.region.as_deref() == Some("") {
            v.push(format!("malformed coverage {c:?}"));
        }
    }
    let mut seen = HashSet::new();
    for a in &e.items {
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
    use crate::{BoxFuture, DnsName, ProviderError};
    use std::sync::Arc;

    struct Broken;
    impl RecordSource for Broken {
        fn name(&self) -> &str {
            "broken"
        }
        fn records(&self) -> BoxFuture<'_, Result<Enumeration<DnsRecord>, ProviderError>> {
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
                };
                Ok(Enumeration::complete(vec![r.clone(), r], vec![]))
            })
        }
    }

    #[tokio::test]
    async fn the_suite_catches_a_broken_provider() {
        let v = check_records(&Broken).await;
        let all = v.join("\n");
        for expected in ["not the provider name", "empty account", "empty-string set_id", "outside its zone", "appears twice", "does not fit"] {
            assert!(all.contains(expected), "missing `{expected}` in:\n{all}");
        }
    }
}

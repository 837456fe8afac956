//! The resolution path's findings that need no query, from the zone data and the store's history:
//! a split-horizon difference (a private zone answers a public name differently: what our resolvers
//! see is not what the world sees), and a wildcard that answers for a record that is gone (clients
//! that still use the deleted name reach the wildcard's target, dangling or not).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use dangle_model::DnsRecord;

use crate::reconcile::{Judgement, Severity, Status};
use crate::store::{NameFinding, NameKind};

fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Names a public zone and a private zone both hold, for the same type, with different targets. Costs
/// a pass over the records; only names of private zones (usually few) are kept.
pub fn split_horizon(records: &[DnsRecord]) -> Vec<NameFinding> {
    type Seen = BTreeMap<(String, String), (BTreeSet<String>, String)>;
    let mut private: Seen = BTreeMap::new();
    for r in records.iter().filter(|r| r.zone_private) {
        let e = private.entry((key(r.name.as_str()), r.rtype.as_str().to_string())).or_insert_with(|| (BTreeSet::new(), format!("{} {} {}", r.source, r.account, r.zone)));
        e.0.extend(r.targets.iter().map(|t| key(&t.to_string())));
    }
    if private.is_empty() {
        return Vec::new();
    }
    let mut public: Seen = BTreeMap::new();
    for r in records.iter().filter(|r| !r.zone_private) {
        let k = (key(r.name.as_str()), r.rtype.as_str().to_string());
        if private.contains_key(&k) {
            public.entry(k).or_insert_with(|| (BTreeSet::new(), String::new())).0.extend(r.targets.iter().map(|t| key(&t.to_string())));
        }
    }
    let mut out = Vec::new();
    for ((name, rtype), (inside, zone)) in &private {
        let Some((outside, _)) = public.get(&(name.clone(), rtype.clone())) else { continue };
        if inside != outside {
            let list = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>().join(", ");
            out.push(NameFinding {
                name: name.clone(),
                address: format!("private zone {zone}"),
                kind: NameKind::SplitHorizon,
                severity: Severity::Info,
                detail: format!(
                    "inside, {name} {rtype} answers {} (private zone); the world gets {}: findings and probes from inside the network see the private answer",
                    list(inside),
                    list(outside)
                ),
            });
        }
    }
    out
}

/// The zones (lower case, no final dot) where a record of this run sits at a wildcard name: only their
/// names are read from the store's history.
pub fn wildcard_zones(records: &[DnsRecord]) -> BTreeSet<String> {
    records.iter().filter(|r| r.name.as_str().starts_with("*.")).map(|r| key(r.zone.as_str())).collect()
}

/// Names the store has seen that this run's inventory no longer holds and that a wildcard of the
/// same zone now answers for (`known`: by zone with a wildcard, the names the store has seen in it
/// and the last run that saw each). Severity: the wildcard row's, when that row is dangling (the
/// deleted name is one more name someone else answers for); else `info`.
pub fn wildcard_shadows(records: &[DnsRecord], judgements: &[Judgement], known: &HashMap<String, Vec<(String, i64)>>) -> Vec<NameFinding> {
    // Wildcards by (zone, the name they cover under): their targets and worst dangling severity.
    let mut wild: BTreeMap<(String, String), (BTreeSet<String>, Option<Severity>)> = BTreeMap::new();
    for j in judgements {
        let r = &records[j.record as usize];
        if !r.name.as_str().starts_with("*.") {
            continue;
        }
        let name = key(r.name.as_str());
        let Some(under) = name.strip_prefix("*.") else { continue };
        let e = wild.entry((key(r.zone.as_str()), under.to_string())).or_default();
        if let Some(t) = j.target(records) {
            e.0.insert(key(&t.to_string()));
        }
        if j.status == Status::Dangling {
            e.1 = e.1.max(Some(j.severity));
        }
    }
    let mut out = Vec::new();
    if wild.is_empty() {
        return out;
    }
    let zones: BTreeSet<String> = wild.keys().map(|(z, _)| z.clone()).collect();
    // This run's names in those zones.
    let present: std::collections::HashSet<String> =
        records.iter().filter(|r| zones.contains(&key(r.zone.as_str()))).map(|r| key(r.name.as_str())).collect();
    for zone in &zones {
        for (name, last) in known.get(zone).into_iter().flatten() {
            let name = key(name);
            if name.starts_with("*.") || present.contains(&name) {
                continue;
            }
            // The closest enclosing wildcard answers (a wildcard covers one or more labels below its
            // parent; `*.b.a` before `*.a` for `x.b.a`).
            let mut at = name.as_str();
            while let Some((_, parent)) = at.split_once('.') {
                if let Some((targets, dangling)) = wild.get(&(zone.clone(), parent.to_string())) {
                    let to = targets.iter().cloned().collect::<Vec<_>>().join(", ");
                    let tail = match dangling {
                        Some(_) => ", which dangles: clients still using the name reach whoever holds it",
                        None => "",
                    };
                    out.push(NameFinding {
                        name: name.clone(),
                        address: format!("*.{parent}"),
                        kind: NameKind::WildcardShadowsDeleted,
                        severity: dangling.unwrap_or(Severity::Info),
                        detail: format!("{name} is gone from the zone (last seen in run {last}), and the wildcard *.{parent} answers for it now → {to}{tail}"),
                    });
                    break;
                }
                if parent.len() <= zone.len() {
                    break;
                }
                at = parent;
            }
        }
    }
    out.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.name.cmp(&b.name)));
    out
}

/// Our public zones' delegations as the world sees them now (`[signals.dns] delegations`; scans that
/// probe): each zone's `NS` through the resolver against the apex NS records of its zone data. None of
/// the hosting servers in the live answer: the zone data is not what the world resolves (`medium`:
/// findings in it may not be live). The zone does not exist: nobody sees its records; when its parent
/// is a top-level domain, anyone may register it (`high`).
pub struct ZoneDelegations {
    pub prober: std::sync::Arc<crate::probe::Prober>,
    pub limits: super::Limits,
}

impl super::Signal for ZoneDelegations {
    fn ask<'a>(&'a self, run: &'a super::Run<'a>) -> dangle_model::BoxFuture<'a, super::Found> {
        Box::pin(async move { super::Found { evidence: Vec::new(), names: zone_delegations(&self.prober, run.records, self.limits).await } })
    }
}

async fn zone_delegations(prober: &std::sync::Arc<crate::probe::Prober>, records: &[DnsRecord], limits: super::Limits) -> Vec<NameFinding> {
    let mut zones: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in records.iter().filter(|r| !r.zone_private && r.rtype == dangle_model::RecordType::Ns && key(r.name.as_str()) == key(r.zone.as_str())) {
        let e = zones.entry(key(r.zone.as_str())).or_default();
        e.extend(r.targets.iter().map(|t| key(&t.to_string())));
    }
    let pace = limits.pace();
    let resolver = prober.resolver_name();
    // Filled as the lookups go: past the time bound, what was found stands.
    let mut out = Vec::new();
    let work = async {
        for (zone, hosted) in &zones {
            super::tick(&pace).await;
            let hosted_list = hosted.iter().cloned().collect::<Vec<_>>().join(", ");
            match prober.lookup_ns(zone).await {
                Ok(live) if !live.is_empty() && !live.iter().any(|n| hosted.contains(n)) => out.push(NameFinding {
                    name: zone.clone(),
                    address: format!("NS via {resolver}"),
                    kind: NameKind::ZoneDelegatedElsewhere,
                    severity: Severity::Medium,
                    detail: format!(
                        "DNS answers {zone} NS {} now, none of the servers its zone data names ({hosted_list}): the records dangle judged here are not the ones the world resolves, and findings in this zone may not be live",
                        live.join(", ")
                    ),
                }),
                Err(crate::probe::Lookup::NxDomain(_)) => {
                    let parent = zone.split_once('.').map(|(_, p)| p).unwrap_or_default();
                    let registrable = !parent.is_empty() && !parent.contains('.');
                    out.push(NameFinding {
                        name: zone.clone(),
                        address: format!("NS via {resolver}"),
                        kind: NameKind::ZoneNotDelegated,
                        severity: if registrable { Severity::High } else { Severity::Medium },
                        detail: if registrable {
                            format!("{zone} does not exist for the world (NXDOMAIN): nobody sees its records, and whoever registers {zone} under .{parent} answers for every name in it")
                        } else {
                            format!("{zone} does not exist for the world (NXDOMAIN): nobody sees its records (its parent {parent} does not delegate it)")
                        },
                    });
                }
                _ => {}
            }
        }
    };
    if tokio::time::timeout(limits.timeout, work).await.is_err() {
        tracing::warn!(zones = zones.len(), "zone delegation checks took longer than {} s: the rest are left unchecked", limits.timeout.as_secs());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_horizon_and_wildcards_from_zone_data() {
        use dangle_model::{DnsName, RecordType, Target, Targets};
        let rec = |zone: &str, private: bool, name: &str, rtype: RecordType, t: Target| DnsRecord {
            source: "z".into(),
            account: "a".into(),
            zone: DnsName::parse(zone).unwrap(),
            zone_private: private,
            name: DnsName::parse(name).unwrap(),
            rtype,
            ttl: 300,
            set_id: None,
            targets: Targets::from_iter([t]),
            location: None,
            spec: None,
        };
        let ip = |s: &str| Target::Ip(s.parse().unwrap());
        let records = vec![
            rec("example.com", false, "api.example.com", RecordType::A, ip("192.0.2.1")),
            rec("example.com", true, "api.example.com", RecordType::A, ip("10.0.0.1")),
            rec("example.com", false, "www.example.com", RecordType::A, ip("192.0.2.2")),
            rec("example.com", true, "www.example.com", RecordType::A, ip("192.0.2.2")),
        ];
        let f = split_horizon(&records);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!((f[0].name.as_str(), f[0].kind), ("api.example.com", NameKind::SplitHorizon));
        assert!(f[0].detail.contains("answers 10.0.0.1 (private zone); the world gets 192.0.2.1"), "{}", f[0].detail);
    }
}

//! The live resolution path of delegations inside `scan` (`[signals.dns] delegations`, on by default;
//! only in scans that probe): every name server a `dangling` or `external` delegation (an NS record
//! below its zone's apex) names is asked, directly and without recursion, for the sub-zone's SOA.
//!
//! - Lame (REFUSED, SERVFAIL, NXDOMAIN, not authoritative): nobody serves the sub-zone there. At a
//!   hosted DNS service (Route53, Azure DNS, …) anyone can create the zone and may be handed these
//!   servers: `high`, with no inventory needed (an `external` delegation to Route53 with no AWS
//!   provider configured was `low`). Elsewhere `medium`.
//! - The server's own name does not exist: whoever registers its domain answers for the sub-zone:
//!   `high`.
//! - A dangling delegation the servers do serve: the zone exists there and no enumerated account holds
//!   it: `critical`, someone else holds it.
//!
//! Each (sub-zone, server) is asked once, at most `[signals] requests_per_second` a second, within
//! `[signals] fingerprint_timeout_secs` (the signals' shared bound) all told.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use dangle_model::{Claim, DnsRecord, RecordType, Target};

use crate::probe::dns::Authority;
use crate::probe::Prober;
use crate::reconcile::{ClaimSource, Judgement, Severity, Status};
use crate::store::{Claims, RowClaim};

use super::fingerprint::{Limits, Stats};

/// (sub-zone, name server) of a row this step asks about.
fn wanted(records: &[DnsRecord], j: &Judgement) -> Option<(String, String)> {
    if !matches!(j.status, Status::Dangling | Status::External) {
        return None;
    }
    let r = &records[j.record as usize];
    if r.rtype != RecordType::Ns || r.name.as_str().trim_end_matches('.').eq_ignore_ascii_case(r.zone.as_str().trim_end_matches('.')) {
        return None;
    }
    match j.target(records)? {
        Target::Host(h) => Some((r.name.as_str().trim_end_matches('.').to_ascii_lowercase(), h.as_str().trim_end_matches('.').to_ascii_lowercase())),
        _ => None,
    }
}

/// Asks the servers and folds what they said into `judgements` and `claims`.
pub async fn check(prober: &Arc<Prober>, records: &[DnsRecord], judgements: &mut [Judgement], claims: &mut Claims, limits: Limits) -> Stats {
    let mut asks: BTreeMap<(String, String), Vec<u32>> = BTreeMap::new();
    for (seq, j) in judgements.iter().enumerate() {
        if claims.get(seq).is_some_and(|c| c.claim != Claim::Unknown) {
            continue;
        }
        if let Some(k) = wanted(records, j) {
            asks.entry(k).or_default().push(seq as u32);
        }
    }
    let mut stats = Stats::default();
    if asks.is_empty() {
        return stats;
    }
    let keys: Vec<(String, String)> = asks.keys().cloned().collect();
    stats.requests = keys.len();
    let got: Arc<Mutex<Vec<Option<Authority>>>> = Arc::new(Mutex::new(vec![None; keys.len()]));
    let pace = limits.pace();
    let mut set = tokio::task::JoinSet::new();
    for (i, (zone, server)) in keys.iter().cloned().enumerate() {
        let (prober, got, pace) = (prober.clone(), got.clone(), pace.clone());
        set.spawn(async move {
            pace.lock().await.tick().await;
            let a = prober.ask_soa(&zone, &server).await;
            got.lock().expect("delegation results")[i] = Some(a);
        });
    }
    let all = async { while set.join_next().await.is_some() {} };
    if tokio::time::timeout(limits.timeout, all).await.is_err() {
        tracing::warn!(servers = keys.len(), "delegation checks took longer than {} s: the rest are left unchecked", limits.timeout.as_secs());
    }
    let got = std::mem::take(&mut *got.lock().expect("delegation results"));
    for (((zone, server), rows), a) in asks.iter().zip(got) {
        let Some(a) = a else { continue };
        let hosted = dangle_model::DnsName::parse(server).ok().and_then(|n| dangle_model::cloud::nameserver(&n));
        for &seq in rows {
            let j = &mut judgements[seq as usize];
            let (claim, severity, words) = match (&a, j.status) {
                (Authority::Lame(what), _) => match hosted {
                    Some(service) => (
                        Claim::Available,
                        Severity::High,
                        format!("; asked now: {what}: the delegation is lame, and anyone who creates `{zone}` at {} and is given this server answers for the whole zone", service.name),
                    ),
                    None => (Claim::Available, Severity::Medium, format!("; asked now: {what}: the delegation is lame (answers for `{zone}` flap or fail)")),
                },
                (Authority::ServerMissing(what), _) => (
                    Claim::Available,
                    Severity::High,
                    format!("; asked now: the name server {what}: whoever registers its domain answers for the whole of `{zone}`"),
                ),
                (Authority::Serves, Status::Dangling) => (
                    Claim::Taken,
                    Severity::Critical,
                    format!("; asked now: {server} serves `{zone}` although no enumerated account holds that zone: someone else holds it"),
                ),
                _ => continue,
            };
            stats.matched += 1;
            j.severity = j.severity.max(severity);
            let before = claims.get(seq as usize).map(|c| c.reason.clone()).unwrap_or_default();
            claims.insert(seq, RowClaim { claim, source: ClaimSource::Delegation, reason: before + &words });
        }
    }
    tracing::info!(servers = keys.len(), matched = stats.matched, "delegation checks");
    stats
}

//! Where an external chain ends, live (`[signals.dns] chains`, on by default; only in scans that
//! probe): every `external` CNAME whose target no fingerprint covers is resolved now. A target that
//! does not exist (NXDOMAIN) is a broken chain; its ancestors are then looked up one by one, and when
//! the first that exists is a top-level domain, the domain below it is not registered at all: whoever
//! registers it answers for our name (`high`). Otherwise the name is missing under a domain someone
//! holds (`medium`). Each distinct target is resolved once (ancestors shared), paced and bounded like
//! the other signals.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use dangle_model::{Claim, DnsRecord, Target};

use crate::probe::{Lookup, Prober};
use crate::reconcile::{ClaimSource, Judgement, Severity, Status};
use crate::store::{Claims, RowClaim};

use super::fingerprint::{Limits, Stats};

/// The target host of an external CNAME row this step resolves.
fn wanted(records: &[DnsRecord], j: &Judgement) -> Option<String> {
    if j.status != Status::External {
        return None;
    }
    let r = &records[j.record as usize];
    match j.target(records)? {
        Target::Host(h) if r.rtype.as_str().eq_ignore_ascii_case("CNAME") && crate::reconcile::fingerprints::for_host(h).is_empty() => {
            Some(h.as_str().trim_end_matches('.').to_ascii_lowercase())
        }
        _ => None,
    }
}

/// What the live lookups found for one target.
#[derive(Debug, Clone)]
enum End {
    /// The target does not exist; `missing` is the highest ancestor that does not either, `under`
    /// the first that does (empty: none answered).
    Missing { missing: String, under: String },
}

/// Resolves the targets and folds broken chains into `judgements` and `claims`.
pub async fn check(prober: &Arc<Prober>, records: &[DnsRecord], judgements: &mut [Judgement], claims: &mut Claims, limits: Limits) -> Stats {
    let mut asks: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for (seq, j) in judgements.iter().enumerate() {
        if claims.get(seq).is_some_and(|c| c.claim != Claim::Unknown) {
            continue;
        }
        if let Some(t) = wanted(records, j) {
            asks.entry(t).or_default().push(seq as u32);
        }
    }
    let mut stats = Stats::default();
    if asks.is_empty() {
        return stats;
    }
    let pace = limits.pace();
    let targets: Vec<String> = asks.keys().cloned().collect();
    // Filled as the lookups go: past the time bound, what was found stands.
    let mut ends: Vec<Option<End>> = vec![None; targets.len()];
    let mut lookups = 0usize;
    let work = async {
        // Ancestors are shared between targets: each name is looked up once.
        let mut seen: HashMap<String, bool> = HashMap::new();
        let exists = |name: String, prober: Arc<Prober>, pace: Arc<tokio::sync::Mutex<tokio::time::Interval>>| async move {
            pace.lock().await.tick().await;
            match prober.lookup(&name).await {
                Lookup::NxDomain(_) => Some(false),
                Lookup::Addresses(_) | Lookup::NoAddresses(_) => Some(true),
                Lookup::Failed(_) => None,
            }
        };
        for (i, t) in targets.iter().enumerate() {
            lookups += 1;
            if exists(t.clone(), prober.clone(), pace.clone()).await != Some(false) {
                continue;
            }
            let mut missing = t.clone();
            let mut under = String::new();
            let mut name = t.as_str();
            while let Some((_, parent)) = name.split_once('.') {
                let known = seen.get(parent).copied();
                let there = match known {
                    Some(b) => Some(b),
                    None => {
                        lookups += 1;
                        let b = exists(parent.to_string(), prober.clone(), pace.clone()).await;
                        if let Some(b) = b {
                            seen.insert(parent.to_string(), b);
                        }
                        b
                    }
                };
                match there {
                    Some(false) => missing = parent.to_string(),
                    Some(true) => {
                        under = parent.to_string();
                        break;
                    }
                    None => break,
                }
                name = parent;
            }
            ends[i] = Some(End::Missing { missing, under });
        }
    };
    if tokio::time::timeout(limits.timeout, work).await.is_err() {
        tracing::warn!(targets = targets.len(), "chain lookups took longer than {} s: the rest are left unchecked", limits.timeout.as_secs());
    }
    stats.lookups = lookups;
    let via = prober.resolver_name();
    for ((target, rows), end) in asks.iter().zip(ends) {
        let Some(End::Missing { missing, under }) = end else { continue };
        // Registrable: the domain below a top-level domain does not exist (available); otherwise the
        // name is missing under a domain someone holds (taken).
        let (claim, severity, words) = if !under.is_empty() && !under.contains('.') {
            (
                Claim::Available,
                Severity::High,
                format!("; resolved now (via {via}): `{target}` does not exist (NXDOMAIN), and `{missing}` is not registered under `.{under}`: whoever registers `{missing}` answers for this name"),
            )
        } else if under.is_empty() {
            (Claim::Taken, Severity::Medium, format!("; resolved now (via {via}): `{target}` does not exist (NXDOMAIN): the chain ends in nothing"))
        } else {
            (Claim::Taken, Severity::Medium, format!("; resolved now (via {via}): `{target}` does not exist (NXDOMAIN) under `{under}`: the chain ends in nothing (whoever holds `{under}` could answer)"))
        };
        for &seq in rows {
            stats.matched += 1;
            let j = &mut judgements[seq as usize];
            j.severity = j.severity.max(severity);
            let before = claims.get(seq as usize).map(|c| c.reason.clone()).unwrap_or_default();
            claims.insert(seq, RowClaim { claim, source: ClaimSource::Resolution, reason: before + &words });
        }
    }
    tracing::info!(targets = targets.len(), lookups = stats.lookups, matched = stats.matched, "chain lookups");
    stats
}

//! Where an external chain ends, live (`[signals.dns] chains`, on by default; only in scans that
//! probe): every `external` CNAME whose target no fingerprint covers is resolved now. A target that
//! does not exist (NXDOMAIN) is a broken chain; its ancestors are then looked up one by one, and when
//! the first that exists is a top-level domain, the domain below it is not registered at all: whoever
//! registers it answers for our name (`high`). Otherwise the name is missing under a domain someone
//! holds (`medium`). Each distinct target is resolved once (ancestors shared), paced and bounded like
//! the other signals.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use dangle_model::{BoxFuture, Claim, DnsRecord, Target};

use super::{tick, Found, Limits, Run, Signal};
use crate::probe::{Lookup, Prober};
use crate::reconcile::{Evidence, Finding, Judgement, Status};

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

/// The external chains' ends, resolved through `prober`.
pub struct Chains {
    pub prober: Arc<Prober>,
    pub limits: Limits,
}

impl Signal for Chains {
    fn ask<'a>(&'a self, run: &'a Run<'a>) -> BoxFuture<'a, Found> {
        Box::pin(async move {
            let mut asks: BTreeMap<String, Vec<u32>> = BTreeMap::new();
            for (seq, j) in run.judgements.iter().enumerate() {
                if run.claims.get(seq).is_some_and(|c| c.claim != Claim::Unknown) {
                    continue;
                }
                if let Some(t) = wanted(run.records, j) {
                    asks.entry(t).or_default().push(seq as u32);
                }
            }
            let mut found = Found::default();
            if asks.is_empty() {
                return found;
            }
            let targets: Vec<String> = asks.keys().cloned().collect();
            let (ends, lookups) = self.resolve(&targets).await;
            let via = self.prober.resolver_name();
            let mut matched = 0;
            for ((target, rows), end) in asks.into_iter().zip(ends) {
                let Some(End::Missing { missing, under }) = end else { continue };
                matched += rows.len();
                // Registrable: the domain below a top-level domain does not exist (available); otherwise the
                // name is missing under a domain someone holds (taken).
                let registrable = !under.is_empty() && !under.contains('.');
                let words = if registrable {
                    format!("; resolved now (via {via}): `{target}` does not exist (NXDOMAIN), and `{missing}` is not registered under `.{under}`: whoever registers `{missing}` answers for this name")
                } else if under.is_empty() {
                    format!("; resolved now (via {via}): `{target}` does not exist (NXDOMAIN): the chain ends in nothing")
                } else {
                    format!("; resolved now (via {via}): `{target}` does not exist (NXDOMAIN) under `{under}`: the chain ends in nothing (whoever holds `{under}` could answer)")
                };
                found.evidence.push(Evidence { rows, finding: Finding::BrokenChain { registrable }, words });
            }
            tracing::info!(targets = targets.len(), lookups, matched, "chain lookups");
            found
        })
    }
}

impl Chains {
    /// Whether a name exists now (`None`: the lookup failed), at the pace.
    async fn exists(&self, name: &str, pace: &super::Pace) -> Option<bool> {
        tick(pace).await;
        match self.prober.lookup(name).await {
            Lookup::NxDomain(_) => Some(false),
            Lookup::Addresses(_) | Lookup::NoAddresses(_) => Some(true),
            Lookup::Failed(_) => None,
        }
    }

    /// Where each target's chain ends, filled as the lookups go (past the time bound, what was found
    /// stands), and how many lookups it took. Ancestors shared between targets are looked up once.
    async fn resolve(&self, targets: &[String]) -> (Vec<Option<End>>, usize) {
        let pace = self.limits.pace();
        let mut ends: Vec<Option<End>> = vec![None; targets.len()];
        let mut lookups = 0usize;
        let work = async {
            let mut seen: HashMap<String, bool> = HashMap::new();
            for (i, t) in targets.iter().enumerate() {
                lookups += 1;
                if self.exists(t, &pace).await != Some(false) {
                    continue;
                }
                let (mut missing, mut under) = (t.clone(), String::new());
                let mut name = t.as_str();
                while let Some((_, parent)) = name.split_once('.') {
                    let there = match seen.get(parent).copied() {
                        Some(b) => Some(b),
                        None => {
                            lookups += 1;
                            let b = self.exists(parent, &pace).await;
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
        if tokio::time::timeout(self.limits.timeout, work).await.is_err() {
            tracing::warn!(targets = targets.len(), "chain lookups took longer than {} s: the rest are left unchecked", self.limits.timeout.as_secs());
        }
        (ends, lookups)
    }
}

//! The live resolution path of delegations (`[signals.dns] delegations`, on by default;
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
use std::sync::Arc;

use dangle_model::{BoxFuture, Claim, DnsRecord, RecordType, Target};

use super::{tick, Found, Limits, Run, Signal};
use crate::probe::dns::Authority;
use crate::probe::Prober;
use crate::reconcile::{Evidence, Finding, Judgement, Status};

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

/// The delegations' name servers, asked through `prober`.
pub struct Delegations {
    pub prober: Arc<Prober>,
    pub limits: Limits,
    /// Whose name servers are a hosted DNS service's.
    pub clouds: dangle_model::Clouds,
}

impl Signal for Delegations {
    fn ask<'a>(&'a self, run: &'a Run<'a>) -> BoxFuture<'a, Found> {
        Box::pin(async move {
            let mut asks: BTreeMap<(String, String), Vec<u32>> = BTreeMap::new();
            for (seq, j) in run.judgements.iter().enumerate() {
                if run.claims.get(seq).is_some_and(|c| c.claim != Claim::Unknown) {
                    continue;
                }
                if let Some(k) = wanted(run.records, j) {
                    asks.entry(k).or_default().push(seq as u32);
                }
            }
            let mut found = Found::default();
            if asks.is_empty() {
                return found;
            }
            let keys: Vec<(String, String)> = asks.keys().cloned().collect();
            let got: Vec<Option<Authority>> = super::fan_out(keys.len(), self.limits, "delegation checks", |i, pace, slots| {
                let ((zone, server), prober) = (keys[i].clone(), self.prober.clone());
                async move {
                    tick(&pace).await;
                    let a = prober.ask_soa(&zone, &server).await;
                    slots.set(i, |s| *s = Some(a));
                }
            })
            .await;
            let mut matched = 0;
            for (((zone, server), rows), a) in asks.iter().zip(got) {
                let Some(a) = a else { continue };
                let hosted = dangle_model::DnsName::parse(server).ok().and_then(|n| self.clouds.nameserver(&n));
                for &seq in rows {
                    let (finding, words) = match (&a, run.judgements[seq as usize].status) {
                        (Authority::Lame(what), _) => match hosted {
                            Some(service) => (
                                Finding::LameDelegation { hosted: true },
                                format!("; asked now: {what}: the delegation is lame, and anyone who creates `{zone}` at {} and is given this server answers for the whole zone", service.name),
                            ),
                            None => (Finding::LameDelegation { hosted: false }, format!("; asked now: {what}: the delegation is lame (answers for `{zone}` flap or fail)")),
                        },
                        (Authority::ServerMissing(what), _) => {
                            (Finding::ServerMissing, format!("; asked now: the name server {what}: whoever registers its domain answers for the whole of `{zone}`"))
                        }
                        (Authority::Serves, Status::Dangling) => (
                            Finding::ServedElsewhere,
                            format!("; asked now: {server} serves `{zone}` although no enumerated account holds that zone: someone else holds it"),
                        ),
                        _ => continue,
                    };
                    matched += 1;
                    found.evidence.push(Evidence { rows: vec![seq], finding, words });
                }
            }
            tracing::info!(servers = keys.len(), matched, "delegation checks");
            found
        })
    }
}

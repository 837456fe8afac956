//! Service fingerprints (`[signals] fingerprints`, on by default; only when the scan
//! probes, since they reach the targets too): for every `dangling` or `external` CNAME (or alias) whose
//! target is a cloud or SaaS host with a fingerprint ([`crate::reconcile::fingerprints`]), one DNS
//! lookup of the target where a fingerprint is NXDOMAIN, and one plain HTTP `GET /` (the record's
//! name as `Host`, no redirect followed, the body capped) where a fingerprint is a body or a status.
//! Each distinct target (and record name) is asked once, at most `[signals] requests_per_second`
//! requests a second, within `[signals] fingerprint_timeout_secs` all told.
//!
//! What a match does: "unclaimed" at a service where anyone can claim names raises a row to `high`
//! ("anyone can claim it there"), at an edge-case service an external row to `medium`; "held" (a
//! negative fingerprint, or a name of an NXDOMAIN-fingerprinted service that resolves while no
//! enumerated account holds it) makes a dangling row `critical`. A row a provider's claim check
//! already answered keeps that answer; `unverified` rows are never asked.

use std::collections::BTreeMap;
use std::sync::Arc;

use dangle_model::{BoxFuture, Claim, DnsName, DnsRecord, Target};

use super::{tick, Found, Limits, Run, Signal, Stats};
use crate::probe::http::HttpAnswer;
use crate::probe::{Lookup, Prober};
use crate::reconcile::fingerprints::{self, Answer, Fingerprint, Stance};
use crate::reconcile::{Claims, Evidence, Finding, Judgement, Status};

/// One distinct thing to ask: the target host, and the record name to send as `Host`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Ask {
    target: String,
    host_header: String,
}

/// The target host of a row the step looks at, with its fingerprints.
fn wanted(records: &[DnsRecord], j: &Judgement, claims: &Claims, seq: usize) -> Option<(Ask, Vec<&'static Fingerprint>)> {
    if !matches!(j.status, Status::Dangling | Status::External) {
        return None;
    }
    // A provider's own check already answered: it outranks what the wire shows.
    if claims.get(seq).is_some_and(|c| c.claim != Claim::Unknown) {
        return None;
    }
    let r = &records[j.record as usize];
    let host: &DnsName = match j.target(records)? {
        Target::Host(h) if r.rtype.as_str().eq_ignore_ascii_case("CNAME") => h,
        Target::Alias { dns_name, .. } => dns_name,
        _ => return None,
    };
    let fps = fingerprints::for_host(host);
    if fps.is_empty() {
        return None;
    }
    let ask = Ask { target: host.as_str().trim_end_matches('.').to_string(), host_header: crate::probe::sni_for(r.name.as_str()) };
    Some((ask, fps))
}

/// What the target answered: DNS (where a fingerprint needs it) and HTTP (where one needs it).
#[derive(Debug, Clone, Default)]
struct Got {
    lookup: Option<Lookup>,
    http: Option<Result<HttpAnswer, String>>,
}

/// Service fingerprints of the flagged names, asked through `prober` (its dialer and resolver).
pub struct Fingerprints {
    pub prober: Arc<Prober>,
    pub limits: Limits,
}

impl Signal for Fingerprints {
    fn ask<'a>(&'a self, run: &'a Run<'a>) -> BoxFuture<'a, Found> {
        Box::pin(async move {
            let mut asks: BTreeMap<Ask, (Vec<&'static Fingerprint>, Vec<u32>)> = BTreeMap::new();
            for (seq, j) in run.judgements.iter().enumerate() {
                if let Some((ask, fps)) = wanted(run.records, j, run.claims, seq) {
                    asks.entry(ask).or_insert_with(|| (fps, Vec::new())).1.push(seq as u32);
                }
            }
            let mut found = Found::default();
            if asks.is_empty() {
                return found;
            }
            let list: Vec<(Ask, bool, bool)> = asks.iter().map(|(a, (fps, _))| (a.clone(), fingerprints::needs_lookup(fps), fingerprints::needs_http(fps))).collect();
            let mut stats = Stats { lookups: list.iter().filter(|(_, l, _)| *l).count(), ..Stats::default() };
            let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let got: Vec<Got> = super::fan_out(list.len(), self.limits, "service fingerprints", |i, pace, slots| {
                let (ask, lookup, http) = list[i].clone();
                let (prober, requests) = (self.prober.clone(), requests.clone());
                async move {
                    let mut nx = false;
                    if lookup {
                        tick(&pace).await;
                        let l = prober.lookup(&ask.target).await;
                        nx = matches!(l, Lookup::NxDomain(_));
                        slots.set(i, |g: &mut Got| g.lookup = Some(l));
                    }
                    // A target that does not exist has no HTTP to ask.
                    if http && !nx {
                        tick(&pace).await;
                        requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        let a = prober.http_get(&ask.host_header, &ask.target, 80).await;
                        slots.set(i, |g: &mut Got| g.http = Some(a));
                    }
                }
            })
            .await;
            stats.requests = requests.load(std::sync::atomic::Ordering::Relaxed);
            for ((ask, (fps, rows)), got) in asks.iter().zip(got) {
                for &seq in rows {
                    let status = run.judgements[seq as usize].status;
                    let Some((claim, stance, words)) = verdict(ask, fps, &got, status) else { continue };
                    stats.matched += 1;
                    found.evidence.push(Evidence { rows: vec![seq], finding: Finding::Fingerprint { claim, stance }, words });
                }
            }
            tracing::info!(targets = asks.len(), lookups = stats.lookups, requests = stats.requests, matched = stats.matched, "service fingerprints");
            found
        })
    }
}

/// What the answers say for a row of this status: the claim, the service's stance and the reason's
/// words; `None` when nothing matched.
fn verdict(ask: &Ask, fps: &[&'static Fingerprint], got: &Got, status: Status) -> Option<(Claim, Stance, String)> {
    if let Some(Lookup::NxDomain(_)) = &got.lookup {
        let fp = fingerprints::match_answer(fps, Answer::NxDomain)?;
        let what = format!("`{}` does not exist (NXDOMAIN)", ask.target);
        return Some((Claim::Available, fp.stance, unclaimed(fp, &what)));
    }
    if let Some(Ok(a)) = &got.http {
        if let Some(fp) = fingerprints::match_answer(fps, Answer::Http { status: a.status, body: &a.body }) {
            let what = format!("HTTP {} from {} for `{}` {}", a.status, a.address, ask.host_header, shown(fp, &a.body));
            return Some(match fp.held {
                false => (Claim::Available, fp.stance, unclaimed(fp, &what)),
                true => (Claim::Taken, fp.stance, held(fp, &what, status)),
            });
        }
    }
    // A name of a service that answers NXDOMAIN for what nobody holds exists, and no enumerated
    // account holds it: someone does. Said only of dangling rows (an external one may be anyone's).
    if status == Status::Dangling {
        if let Some(Lookup::Addresses(ips)) = &got.lookup {
            let fp = fps.iter().find(|f| matches!(f.test, fingerprints::Test::NxDomain) && f.stance == Stance::Vulnerable)?;
            let what = format!("`{}` resolves (to {})", ask.target, ips.iter().take(3).map(|ip| ip.to_string()).collect::<Vec<_>>().join(", "));
            return Some((Claim::Taken, fp.stance, held(fp, &what, status)));
        }
    }
    None
}

/// What matched, as the reason quotes it: the answer's own words.
fn shown(fp: &Fingerprint, body: &[u8]) -> String {
    match fingerprints::matched_text(fp, body) {
        Some(t) => format!("saying “{}”", dangle_model::excerpt(&t)),
        None => "(the status is the fingerprint)".into(),
    }
}

fn unclaimed(fp: &Fingerprint, what: &str) -> String {
    let tail = match fp.stance {
        Stance::Vulnerable => "nothing is claimed there and anyone can claim it now",
        Stance::EdgeCase => "nothing is claimed there; it can be claimed under conditions (listed as an edge case)",
        Stance::NotVulnerable => "nothing is claimed there, but the service does not let anyone else claim the name",
    };
    format!("; {} fingerprint ({}): {what}: {tail}", fp.service, fp.source)
}

fn held(fp: &Fingerprint, what: &str, status: Status) -> String {
    let tail = match status {
        Status::Dangling => "the name exists and no enumerated account holds it: someone else holds it",
        _ => "the name is held there (by whom, the inventory cannot say)",
    };
    format!("; {} fingerprint ({}): {what}: {tail}", fp.service, fp.source)
}

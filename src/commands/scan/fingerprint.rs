//! Service fingerprints inside `scan` (`[signals] fingerprints`, on by default; only when the scan
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
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dangle_model::{Claim, DnsName, DnsRecord, Target};

use crate::probe::http::HttpAnswer;
use crate::probe::{Lookup, Prober};
use crate::reconcile::fingerprints::{self, Answer, Fingerprint, Stance};
use crate::reconcile::{ClaimSource, Judgement, Severity, Status};
use crate::store::{Claims, RowClaim};

/// How much the step may do.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// All of the step's lookups and requests together.
    pub timeout: Duration,
    /// Lookups and requests started per second, at most.
    pub per_second: u32,
}

impl Limits {
    /// The shared pace of a step's requests: each awaits a tick, `per_second` ticks a second.
    pub fn pace(&self) -> Arc<tokio::sync::Mutex<tokio::time::Interval>> {
        Arc::new(tokio::sync::Mutex::new(ticks(self.per_second)))
    }
}

/// `per_second` ticks a second (the first at once); a late tick delays the rest rather than bursting.
pub fn ticks(per_second: u32) -> tokio::time::Interval {
    let mut i = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(per_second.max(1))));
    i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    i
}

/// What the step did, for the log and the benchmark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub lookups: usize,
    pub requests: usize,
    pub matched: usize,
}

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
    let ask = Ask { target: host.as_str().trim_end_matches('.').to_string(), host_header: super::plan::sni_for(r.name.as_str()) };
    Some((ask, fps))
}

/// What the target answered: DNS (where a fingerprint needs it) and HTTP (where one needs it).
#[derive(Debug, Clone, Default)]
struct Got {
    lookup: Option<Lookup>,
    http: Option<Result<HttpAnswer, String>>,
}

/// Runs the fingerprint step and folds what matched into `judgements` and `claims`.
pub async fn check(prober: &Arc<Prober>, records: &[DnsRecord], judgements: &mut [Judgement], claims: &mut Claims, limits: Limits) -> Stats {
    let mut asks: BTreeMap<Ask, (Vec<&'static Fingerprint>, Vec<u32>)> = BTreeMap::new();
    for (seq, j) in judgements.iter().enumerate() {
        if let Some((ask, fps)) = wanted(records, j, claims, seq) {
            asks.entry(ask).or_insert_with(|| (fps, Vec::new())).1.push(seq as u32);
        }
    }
    let mut stats = Stats::default();
    if asks.is_empty() {
        return stats;
    }
    let list: Vec<(Ask, bool, bool)> =
        asks.iter().map(|(a, (fps, _))| (a.clone(), fingerprints::needs_lookup(fps), fingerprints::needs_http(fps))).collect();
    stats.lookups = list.iter().filter(|(_, l, _)| *l).count();
    let got: Arc<Mutex<Vec<Got>>> = Arc::new(Mutex::new(vec![Got::default(); list.len()]));
    let pace = limits.pace();
    let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut set = tokio::task::JoinSet::new();
    for (i, (ask, lookup, http)) in list.into_iter().enumerate() {
        let (prober, got, pace, requests) = (prober.clone(), got.clone(), pace.clone(), requests.clone());
        set.spawn(async move {
            let tick = || async { pace.lock().await.tick().await };
            let mut nx = false;
            if lookup {
                tick().await;
                let l = prober.lookup(&ask.target).await;
                nx = matches!(l, Lookup::NxDomain(_));
                got.lock().expect("fingerprint results").get_mut(i).expect("sized").lookup = Some(l);
            }
            // A target that does not exist has no HTTP to ask.
            if http && !nx {
                tick().await;
                requests.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let a = prober.http_get(&ask.host_header, &ask.target, 80).await;
                got.lock().expect("fingerprint results").get_mut(i).expect("sized").http = Some(a);
            }
        });
    }
    let all = async {
        while set.join_next().await.is_some() {}
    };
    if tokio::time::timeout(limits.timeout, all).await.is_err() {
        tracing::warn!(targets = asks.len(), "service fingerprints took longer than {} s: the rest are left unchecked", limits.timeout.as_secs());
    }
    stats.requests = requests.load(std::sync::atomic::Ordering::Relaxed);
    let got = std::mem::take(&mut *got.lock().expect("fingerprint results"));
    for ((ask, (fps, rows)), got) in asks.iter().zip(got) {
        for &seq in rows {
            let j = &mut judgements[seq as usize];
            let Some((claim, stance, words)) = verdict(ask, fps, &got, j.status) else { continue };
            stats.matched += 1;
            match (j.status, claim, stance) {
                (Status::Dangling, Claim::Taken, _) => j.severity = Severity::Critical,
                (_, Claim::Available, Stance::Vulnerable) => j.severity = j.severity.max(Severity::High),
                (Status::External, Claim::Available, Stance::EdgeCase) => j.severity = j.severity.max(Severity::Medium),
                _ => {}
            }
            // A claim check that did not answer keeps its words before the fingerprint's.
            let before = claims.get(seq as usize).map(|c| c.reason.clone()).unwrap_or_default();
            claims.insert(seq, RowClaim { claim, source: ClaimSource::Fingerprint(stance), reason: before + &words });
        }
    }
    tracing::info!(targets = asks.len(), lookups = stats.lookups, requests = stats.requests, matched = stats.matched, "service fingerprints");
    stats
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

//! Probing in a run: which judged rows to probe, and what the answers do to them (the run's policy,
//! not the prober's: the prober observes targets; this decides which, and what they mean; the
//! severity they give is [`crate::reconcile::evidence::probed`]'s).
//!
//! Rows judged `dangling` or `unverified` whose record can carry HTTPS (A, AAAA, CNAME and aliases) are
//! probed at their target, with the record name as SNI. Many records share a target: each distinct
//! (target, SNI) is probed once. A `foreign` answer makes a dangling row `critical` (and an unverified
//! one `low`), with a reason naming what answered; `ours` keeps the severity and says so.

use std::sync::Arc;

use dangle_model::{DnsRecord, Target};
use rustc_hash::FxHashMap;

use crate::probe::runner::summarize;
use crate::probe::{sni_for, Evidence, Job, NamedTarget, Prober, Verdict};
use crate::signals::baseline::{Known, Observed};
use crate::reconcile::evidence::probed;
use crate::reconcile::{Judgement, Status};
use crate::store::{EvidenceJson, NamedProbe, Probes, RowProbe};

/// The host or address a row's target is reached at, if it is something to probe over TLS.
fn reachable(record: &DnsRecord, target: &Target) -> Option<String> {
    if !crate::reconcile::carries_https(&record.rtype) {
        return None;
    }
    match target {
        Target::Ip(ip) => Some(ip.to_string()),
        Target::Host(h) | Target::Alias { dns_name: h, .. } => Some(h.as_str().trim_end_matches('.').to_string()),
        Target::Resource { .. } => None,
    }
}

/// What a foreign answer adds to a row's reason: who answers (subject, issuer, names).
fn foreign_reason(top: &Evidence) -> Option<String> {
    if top.verdict != Verdict::Foreign {
        return None;
    }
    Some(match top.chain.first() {
        Some(leaf) => format!(
            "; a foreign server answers there: {} issued by {}{}",
            leaf.subject,
            leaf.issuer,
            if leaf.sans.is_empty() { String::new() } else { format!(" for {}", leaf.sans.join(", ")) }
        ),
        None => "; a foreign server answers there".to_string(),
    })
}

/// Probes the rows that need it and the named targets, and folds the answers into `judgements`
/// (severity) and the result. With `baseline` (the keys our endpoints have shown), owned rows are
/// probed too and come back as [`Observed`], and a dangling or unverified target that answers with
/// one of those keys is `ours` by key continuity.
pub async fn probe_rows(
    prober: &Arc<Prober>,
    records: &[DnsRecord],
    judgements: &mut [Judgement],
    named: &[NamedTarget],
    progress: &crate::progress::Progress,
    baseline: Option<&Known>,
    only: Option<&rustc_hash::FxHashSet<u32>>,
) -> (Probes, Vec<Observed>) {
    let mut jobs: Vec<Job> = Vec::new();
    let mut job_of: FxHashMap<Job, u32> = FxHashMap::default();
    let mut wanted: Vec<(u32, u32)> = Vec::new();
    let mut add = |job: Job, jobs: &mut Vec<Job>| {
        *job_of.entry(job.clone()).or_insert_with(|| {
            jobs.push(job);
            (jobs.len() - 1) as u32
        })
    };
    for (i, j) in judgements.iter().enumerate() {
        if only.is_some_and(|o| !o.contains(&(i as u32))) {
            continue;
        }
        let owned_too = baseline.is_some() && j.status == Status::Owned;
        if !matches!(j.status, Status::Dangling | Status::Unverified) && !owned_too {
            continue;
        }
        let record = &records[j.record as usize];
        let Some(host) = j.target(records).and_then(|t| reachable(record, t)) else { continue };
        let k = add(Job::new(host, sni_for(record.name.as_str())), &mut jobs);
        wanted.push((i as u32, k));
    }
    let named_jobs: Vec<u32> = named.iter().map(|t| add(Job { target: t.host.clone(), sni: t.sni.clone(), port: t.port }, &mut jobs)).collect();
    let mut out = Probes::default();
    let mut summaries: Vec<RowProbe> = Vec::new();
    let mut observed: Vec<Observed> = Vec::new();
    if jobs.is_empty() {
        return (out, observed);
    }
    tracing::info!(rows = wanted.len(), named = named.len(), targets = jobs.len(), "probing");
    let bar = progress.probes(jobs.len() as u64);
    let results = prober.run_with(&jobs, &|| bar.inc(1)).await;
    bar.finish();
    // Each job's evidence, once, and the row summary every row of that job shares.
    let mut per_job: Vec<u32> = Vec::with_capacity(jobs.len());
    // Each job's answering leaf (of the evidence that speaks for it), for baselines and key continuity.
    let mut tops: Vec<Option<Observed>> = Vec::with_capacity(jobs.len());
    for (k, evidence) in results.into_iter().enumerate() {
        tops.push(summarize(&evidence).and_then(|top| {
            Some(Observed {
                name: jobs[k].sni.clone(),
                address: top.place(),
                verdict: top.verdict,
                leaf: top.chain.first()?.clone(),
                alpn: top.alpn.clone(),
                ca_names: top.requested_ca_names.clone(),
            })
        }));
        let first = out.evidence.len() as u32;
        // `reason` here is what a foreign answer adds to any row of this job.
        let row = match summarize(&evidence) {
            Some(top) => RowProbe { verdict: top.verdict, detail: format!("{}: {}", top.place(), top.detail), reason: foreign_reason(top), evidence: vec![] },
            None => RowProbe { verdict: Verdict::NotProbed, detail: String::new(), reason: None, evidence: vec![] },
        };
        let n = evidence.len() as u32;
        out.evidence.extend(evidence.iter().map(|ev| EvidenceJson { verdict: ev.verdict, json: serde_json::to_string(ev).expect("evidence serializes") }));
        per_job.push(summaries.len() as u32);
        summaries.push(RowProbe { evidence: (first..first + n).collect(), ..row });
    }
    // Rows of one job can differ in status (dangling here, unverified there): the reason and severity
    // are per row, so copy the job's summary where they differ.
    for (t, k) in named.iter().zip(named_jobs) {
        let s = &summaries[per_job[k as usize] as usize];
        out.named.push(NamedProbe { target: t.label.clone(), sni: t.sni.clone(), verdict: s.verdict, detail: s.detail.clone(), evidence: s.evidence.clone() });
    }
    for (ji, ki) in wanted {
        let j = &mut judgements[ji as usize];
        let mut base = summaries[per_job[ki as usize] as usize].clone();
        let top = tops[ki as usize].as_ref();
        if j.status == Status::Owned {
            if let Some(o) = top {
                observed.push(o.clone());
            }
            out.set_row(ji, base);
            continue;
        }
        // Key continuity: a key our own endpoints have shown answers here (the prober checked the
        // handshake signature, so the server holds that key): ours, though no CA of ours certified it.
        let continuity = match (baseline, top) {
            (Some(known), Some(o)) if matches!(base.verdict, Verdict::Foreign | Verdict::Shared) => known.get(&o.leaf.spki_sha256),
            _ => None,
        };
        if let Some((name, since)) = continuity {
            base.verdict = Verdict::Ours;
            base.detail = format!("{} (ours by key continuity: the key {name} has shown{})", base.detail, since.map(|r| format!(" since run {r}")).unwrap_or_default());
        }
        let base = &base;
        let reason = match (j.status, base.verdict) {
            (_, Verdict::Foreign) => base.reason.clone(),
            (Status::Dangling, Verdict::Ours) if continuity.is_some() => Some(format!(
                "; yet our own key answers there, the one {} has shown (key continuity; often an account or subscription outside the configured scope)",
                continuity.map(|(n, _)| n.as_str()).unwrap_or_default()
            )),
            (Status::Dangling, Verdict::Ours) => {
                Some("; yet our own certificate answers there (often an account or subscription outside the configured scope)".to_string())
            }
            _ => None,
        };
        // Only ever raises: what the reconciler decided stands unless a foreign server answers.
        probed(j, base.verdict);
        out.set_row(ji, RowProbe { reason, ..base.clone() });
    }
    (out, observed)
}

/// An earlier run's probe detail, saying which run probed it (once, however many runs carry it).
pub fn as_probed_in(detail: &str, run: i64) -> String {
    match detail.contains(" (as probed in run ") {
        true => detail.to_string(),
        false => format!("{detail} (as probed in run {run})"),
    }
}

/// Rows not probed again (`react`: they did not change) keep an earlier run's verdict: the same
/// severity and reason a probe with that verdict gives, with no evidence of this run's.
pub fn carry(out: &mut Probes, judgements: &mut [Judgement], rows: Vec<(u32, Verdict, String)>) {
    for (ji, verdict, detail) in rows {
        let j = &mut judgements[ji as usize];
        let reason = match (j.status, verdict) {
            (_, Verdict::Foreign) => Some("; a foreign server answered there when it was last probed".to_string()),
            (Status::Dangling, Verdict::Ours) => Some("; yet our own certificate answered there when it was last probed".to_string()),
            _ => None,
        };
        probed(j, verdict);
        out.set_row(ji, RowProbe { verdict, detail, reason, evidence: vec![] });
    }
}

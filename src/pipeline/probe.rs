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

/// The distinct (target, SNI) jobs of a run: the rows' and the named targets'.
#[derive(Default)]
struct Plan {
    jobs: Vec<Job>,
    job_of: FxHashMap<Job, u32>,
    /// (judgement, job) of every row probed.
    wanted: Vec<(u32, u32)>,
    /// The job of each named target.
    named: Vec<u32>,
}

impl Plan {
    fn add(&mut self, job: Job) -> u32 {
        let jobs = &mut self.jobs;
        *self.job_of.entry(job.clone()).or_insert_with(|| {
            jobs.push(job);
            (jobs.len() - 1) as u32
        })
    }

    /// The rows to probe (dangling and unverified; owned ones too with baselines; only `only`'s when
    /// given) and the named targets, each distinct job once.
    fn of(records: &[DnsRecord], judgements: &[Judgement], named: &[NamedTarget], baseline: bool, only: Option<&rustc_hash::FxHashSet<u32>>) -> Self {
        let mut plan = Self::default();
        for (i, j) in judgements.iter().enumerate() {
            if only.is_some_and(|o| !o.contains(&(i as u32))) {
                continue;
            }
            let owned_too = baseline && j.status == Status::Owned;
            if !matches!(j.status, Status::Dangling | Status::Unverified) && !owned_too {
                continue;
            }
            let record = &records[j.record as usize];
            let Some(host) = j.target(records).and_then(|t| reachable(record, t)) else { continue };
            let k = plan.add(Job::new(host, sni_for(record.name.as_str())));
            plan.wanted.push((i as u32, k));
        }
        plan.named = named.iter().map(|t| plan.add(Job { target: t.host.clone(), sni: t.sni.clone(), port: t.port })).collect();
        plan
    }
}

/// What each job answered: the summary every row of the job shares (its evidence stored once in
/// `out`), and the answering leaf (for baselines and key continuity).
fn summarize_jobs(jobs: &[Job], results: Vec<Vec<Evidence>>, out: &mut Probes) -> (Vec<RowProbe>, Vec<Option<Observed>>) {
    let mut summaries: Vec<RowProbe> = Vec::with_capacity(jobs.len());
    let mut tops: Vec<Option<Observed>> = Vec::with_capacity(jobs.len());
    for (k, evidence) in results.into_iter().enumerate() {
        let top = summarize(&evidence);
        tops.push(top.and_then(|top| {
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
        let row = match top {
            Some(top) => RowProbe { verdict: top.verdict, detail: format!("{}: {}", top.place(), top.detail), reason: foreign_reason(top), evidence: vec![] },
            None => RowProbe { verdict: Verdict::NotProbed, detail: String::new(), reason: None, evidence: vec![] },
        };
        let n = evidence.len() as u32;
        out.evidence.extend(evidence.iter().map(|ev| EvidenceJson { verdict: ev.verdict, json: serde_json::to_string(ev).expect("evidence serializes") }));
        summaries.push(RowProbe { evidence: (first..first + n).collect(), ..row });
    }
    (summaries, tops)
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
    let plan = Plan::of(records, judgements, named, baseline.is_some(), only);
    let mut out = Probes::default();
    let mut observed: Vec<Observed> = Vec::new();
    if plan.jobs.is_empty() {
        return (out, observed);
    }
    tracing::info!(rows = plan.wanted.len(), named = named.len(), targets = plan.jobs.len(), "probing");
    let bar = progress.probes(plan.jobs.len() as u64);
    let results = prober.run_with(&plan.jobs, &|| bar.inc(1)).await;
    bar.finish();
    let (summaries, tops) = summarize_jobs(&plan.jobs, results, &mut out);
    for (t, k) in named.iter().zip(&plan.named) {
        let s = &summaries[*k as usize];
        out.named.push(NamedProbe { target: t.label.clone(), sni: t.sni.clone(), verdict: s.verdict, detail: s.detail.clone(), evidence: s.evidence.clone() });
    }
    // Rows of one job can differ in status (dangling here, unverified there): the reason and severity
    // are per row.
    for (ji, ki) in plan.wanted {
        let j = &mut judgements[ji as usize];
        let (base, top) = (summaries[ki as usize].clone(), tops[ki as usize].as_ref());
        if j.status == Status::Owned {
            observed.extend(top.cloned());
            out.set_row(ji, base);
            continue;
        }
        let row = row_answer(j.status, base, top, baseline);
        // Only ever raises: what the reconciler decided stands unless a foreign server answers.
        probed(j, row.verdict);
        out.set_row(ji, row);
    }
    (out, observed)
}

/// What a job's answer says of one row of `status`: key continuity (a key our own endpoints have
/// shown answers: the prober checked the handshake signature, so the server holds that key — ours,
/// though no CA of ours certified it), and the words the row's reason gains.
fn row_answer(status: Status, mut base: RowProbe, top: Option<&Observed>, baseline: Option<&Known>) -> RowProbe {
    let continuity = match (baseline, top) {
        (Some(known), Some(o)) if matches!(base.verdict, Verdict::Foreign | Verdict::Shared) => known.get(&o.leaf.spki_sha256),
        _ => None,
    };
    if let Some((name, since)) = continuity {
        base.verdict = Verdict::Ours;
        base.detail = format!("{} (ours by key continuity: the key {name} has shown{})", base.detail, since.map(|r| format!(" since run {r}")).unwrap_or_default());
    }
    let reason = match (status, base.verdict) {
        (_, Verdict::Foreign) => base.reason.clone(),
        (Status::Dangling, Verdict::Ours) if continuity.is_some() => Some(format!(
            "; yet our own key answers there, the one {} has shown (key continuity; often an account or subscription outside the configured scope)",
            continuity.map(|(n, _)| n.as_str()).unwrap_or_default()
        )),
        (Status::Dangling, Verdict::Ours) => Some("; yet our own certificate answers there (often an account or subscription outside the configured scope)".to_string()),
        _ => None,
    };
    RowProbe { reason, ..base }
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

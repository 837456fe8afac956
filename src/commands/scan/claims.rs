//! Claim checks inside `scan` (`[signals] claim_checks`, on by default): for every dangling row that
//! points at a name a third party could register (a claimable service name with a key: an S3 bucket),
//! ask the providers of that cloud whether the name is free right now. Each distinct name is asked
//! once, and only names the reconciler flagged. A free name stays `high` and says "anyone can create
//! it now"; a name that exists while no enumerated account holds it is `critical`: "someone else holds
//! it". An unanswered check changes nothing. Never reached for rows that are not `dangling`: a gap
//! stays `unverified`, whatever a check would say. Each provider's checks run a few at a time and
//! within `[signals] claim_timeout_secs` (default 120 s) all told; past it their names stay unchecked.

use std::collections::BTreeMap;

use dangle_model::cloud::{self, Key};
use dangle_model::{Claim, ClaimQuery, DnsName, DnsRecord, Provider, Service};

use crate::reconcile::{Claimable, Judgement, Severity, Status};
use crate::store::{Claims, RowClaim};

/// The name a row's target could be registered as, if it is one a claim check can ask about.
fn query(records: &[DnsRecord], j: &Judgement) -> Option<ClaimQuery> {
    if j.status != Status::Dangling || j.claimable != Claimable::Yes {
        return None;
    }
    let target = j.target(records)?;
    let host: DnsName = match target {
        dangle_model::Target::Host(h) | dangle_model::Target::Alias { dns_name: h, .. } => h.clone(),
        _ => return None,
    };
    let m = cloud::classify(&host)?;
    let key = match m.key {
        Key::Name(key) => key,
        // A website endpoint whose key is the record's own name (an S3 website alias).
        Key::RecordName => records[j.record as usize].name.as_str().trim_end_matches('.').to_string(),
        // A service name's own first label (`gone-app` of gone-app.azurewebsites.net).
        Key::None => host.as_str().split('.').next().unwrap_or_default().to_string(),
    };
    (!key.is_empty()).then_some(ClaimQuery { service: m.service, key, region: m.region, host })
}

/// A name as its service's namespace knows it: the service, the key, the region.
type NameKey = (Service, String, Option<String>);

/// Runs the claim checks of `judgements` against `providers` and folds the answers into the
/// judgements' severities; returns what each checked row found.
/// At most `per_second` names are asked of a provider each second (in batches of that many).
pub async fn check(providers: &[Box<dyn Provider>], records: &[DnsRecord], judgements: &mut [Judgement], limit: std::time::Duration, per_second: u32) -> Claims {
    // Each distinct name once (a bucket reached by two endpoint forms is one name): the first host asks.
    let mut asked: BTreeMap<NameKey, (ClaimQuery, Vec<u32>)> = BTreeMap::new();
    for (i, j) in judgements.iter().enumerate() {
        if let Some(q) = query(records, j) {
            asked.entry((q.service, q.key.clone(), q.region.clone())).or_insert_with(|| (q, Vec::new())).1.push(i as u32);
        }
    }
    let mut out = Claims::default();
    if asked.is_empty() {
        return out;
    }
    let queries: Vec<ClaimQuery> = asked.values().map(|(q, _)| q.clone()).collect();
    let mut answers: Vec<Option<dangle_model::ClaimAnswer>> = vec![None; queries.len()];
    for p in providers {
        let Some(c) = p.describe().cloud else { continue };
        let open: Vec<usize> = (0..queries.len()).filter(|i| answers[*i].is_none() && queries[*i].service.cloud == c).collect();
        if open.is_empty() {
            continue;
        }
        let mine: Vec<ClaimQuery> = open.iter().map(|i| queries[*i].clone()).collect();
        // Paced (a batch of `per_second` names a second) and bounded in time: past the bound, the
        // names not yet answered stay unchecked (as they were).
        let batch = per_second.max(1) as usize;
        let mut pace = super::fingerprint::ticks(1);
        let mut got: Vec<Option<dangle_model::ClaimAnswer>> = Vec::with_capacity(mine.len());
        let asking = async {
            for chunk in mine.chunks(batch) {
                pace.tick().await;
                got.extend(p.check_names(chunk).await);
            }
        };
        if tokio::time::timeout(limit, asking).await.is_err() {
            tracing::warn!(provider = p.name(), names = mine.len() - got.len(), "claim checks took longer than {} s: the rest are left unchecked", limit.as_secs());
        }
        for (i, a) in open.into_iter().zip(got) {
            answers[i] = a;
        }
    }
    let checked = answers.iter().filter(|a| a.is_some()).count();
    tracing::info!(names = queries.len(), checked, "claim checks");
    for ((q, rows), a) in asked.values().zip(answers) {
        let Some(a) = a else { continue };
        let noun = q.service.key_noun.unwrap_or(q.service.name);
        let reason = match a.claim {
            Claim::Available => format!("; checked now: no {noun} `{}` exists ({}): anyone can create it now", q.key, a.detail),
            Claim::Taken => format!("; checked now: {noun} `{}` exists and no enumerated account holds it ({}): someone else holds it", q.key, a.detail),
            Claim::Unknown => format!("; the claim check did not answer: {}", a.detail),
        };
        for &i in rows {
            let j = &mut judgements[i as usize];
            match a.claim {
                Claim::Taken => j.severity = Severity::Critical,
                Claim::Available => j.severity = j.severity.max(Severity::High),
                Claim::Unknown => {}
            }
            out.insert(i, RowClaim { claim: a.claim, source: crate::reconcile::ClaimSource::Check, reason: reason.clone() });
        }
    }
    out
}

//! Claim checks (`[signals] claim_checks`, on by default): for every dangling row that points at a
//! name a third party could register (a claimable service name with a key: an S3 bucket), the
//! providers of that cloud are asked whether the name is free right now. Each distinct name is asked
//! once, and only names the reconciler flagged. A free name stays `high` and says "anyone can create
//! it now"; a name that exists while no enumerated account holds it is `critical`: "someone else holds
//! it". An unanswered check changes nothing. Never reached for rows that are not `dangling`: a gap
//! stays `unverified`, whatever a check would say. Each provider's checks run a few at a time and
//! within `[signals] claim_timeout_secs` (default 120 s) all told; past it their names stay unchecked.

use std::collections::BTreeMap;

use dangle_model::cloud::Key;
use dangle_model::{BoxFuture, Claim, ClaimAnswer, ClaimQuery, Clouds, DnsName, DnsRecord, Provider, Service};

use super::{Found, Run, Signal};
use crate::reconcile::{Claimable, Evidence, Finding, Judgement, Status};

/// The providers' claim checks.
pub struct ClaimChecks<'p> {
    pub providers: &'p [Box<dyn Provider>],
    pub clouds: &'p Clouds,
    /// All of one provider's checks.
    pub timeout: std::time::Duration,
    /// Names asked of a provider each second, at most.
    pub per_second: u32,
}

/// A name as its service's namespace knows it: the service, the key, the region.
type NameKey = (Service, String, Option<String>);

impl ClaimChecks<'_> {
    /// The name a row's target could be registered as, if it is one a claim check can ask about.
    fn query(&self, records: &[DnsRecord], j: &Judgement) -> Option<ClaimQuery> {
        if j.status != Status::Dangling || j.claimable != Claimable::Yes {
            return None;
        }
        let host: DnsName = match j.target(records)? {
            dangle_model::Target::Host(h) | dangle_model::Target::Alias { dns_name: h, .. } => h.clone(),
            _ => return None,
        };
        let m = self.clouds.classify(&host)?;
        let key = match m.key {
            Key::Name(key) => key,
            // A website endpoint whose key is the record's own name (an S3 website alias).
            Key::RecordName => records[j.record as usize].name.as_str().trim_end_matches('.').to_string(),
            // A service name's own first label (`gone-app` of gone-app.azurewebsites.net).
            Key::None => host.as_str().split('.').next().unwrap_or_default().to_string(),
        };
        (!key.is_empty()).then_some(ClaimQuery { service: m.service, key, region: m.region, host })
    }

    /// Asks `p` the queries of its cloud not answered yet, paced (a batch of `per_second` names a
    /// second) and bounded in time: past the bound, the names not yet answered stay unchecked.
    async fn ask_provider(&self, p: &dyn Provider, queries: &[ClaimQuery], answers: &mut [Option<ClaimAnswer>]) {
        let Some(c) = p.describe().cloud else { return };
        let open: Vec<usize> = (0..queries.len()).filter(|i| answers[*i].is_none() && queries[*i].service.cloud == c).collect();
        if open.is_empty() {
            return;
        }
        let mine: Vec<ClaimQuery> = open.iter().map(|i| queries[*i].clone()).collect();
        let batch = self.per_second.max(1) as usize;
        let mut pace = super::ticks(1);
        let mut got: Vec<Option<ClaimAnswer>> = Vec::with_capacity(mine.len());
        let asking = async {
            for chunk in mine.chunks(batch) {
                pace.tick().await;
                got.extend(p.check_names(chunk).await);
            }
        };
        if tokio::time::timeout(self.timeout, asking).await.is_err() {
            tracing::warn!(provider = p.name(), names = mine.len() - got.len(), "claim checks took longer than {} s: the rest are left unchecked", self.timeout.as_secs());
        }
        for (i, a) in open.into_iter().zip(got) {
            answers[i] = a;
        }
    }
}

impl Signal for ClaimChecks<'_> {
    fn ask<'a>(&'a self, run: &'a Run<'a>) -> BoxFuture<'a, Found> {
        Box::pin(async move {
            // Each distinct name once (a bucket reached by two endpoint forms is one name): the first host asks.
            let mut asked: BTreeMap<NameKey, (ClaimQuery, Vec<u32>)> = BTreeMap::new();
            for (i, j) in run.judgements.iter().enumerate() {
                if let Some(q) = self.query(run.records, j) {
                    asked.entry((q.service, q.key.clone(), q.region.clone())).or_insert_with(|| (q, Vec::new())).1.push(i as u32);
                }
            }
            let mut found = Found::default();
            if asked.is_empty() {
                return found;
            }
            let queries: Vec<ClaimQuery> = asked.values().map(|(q, _)| q.clone()).collect();
            let mut answers: Vec<Option<ClaimAnswer>> = vec![None; queries.len()];
            for p in self.providers {
                self.ask_provider(&**p, &queries, &mut answers).await;
            }
            tracing::info!(names = queries.len(), checked = answers.iter().filter(|a| a.is_some()).count(), "claim checks");
            for ((q, rows), a) in asked.into_values().zip(answers) {
                let Some(a) = a else { continue };
                let noun = q.service.key_noun.unwrap_or(q.service.name);
                let words = match a.claim {
                    Claim::Available => format!("; checked now: no {noun} `{}` exists ({}): anyone can create it now", q.key, a.detail),
                    Claim::Taken => format!("; checked now: {noun} `{}` exists and no enumerated account holds it ({}): someone else holds it", q.key, a.detail),
                    Claim::Unknown => format!("; the claim check did not answer: {}", a.detail),
                };
                found.evidence.push(Evidence { rows, finding: Finding::Check(a.claim), words });
            }
            found
        })
    }
}

/// Asks `providers` the claim checks of `judgements` (by the built-in clouds) and applies what they
/// found; returns the claims: the step on its own, as a provider's tests run it.
pub async fn check(providers: &[Box<dyn Provider>], records: &[DnsRecord], judgements: &mut [Judgement], timeout: std::time::Duration, per_second: u32) -> crate::reconcile::Claims {
    let clouds = Clouds::builtin();
    let checks = ClaimChecks { providers, clouds: &clouds, timeout, per_second };
    let mut claims = crate::reconcile::Claims::default();
    let found = checks.ask(&Run { records, judgements, claims: &claims }).await;
    for e in &found.evidence {
        crate::reconcile::evidence::apply(judgements, &mut claims, e);
    }
    claims
}

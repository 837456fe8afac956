//! Certificate Transparency (`[signals.ct]`, opt-in: the names go to a third party):
//! for every `dangling` row whose record leads to a web endpoint (A, AAAA, CNAME, aliases), the CT
//! log search (`URL/?q=NAME&output=json`, crt.sh's interface) lists the certificates logged for the
//! name; those issued since the row's dangling streak began (the store's history; this run's start
//! for a row that starts dangling now) are strong evidence that someone holds the target and serves
//! our name: the row becomes `critical`, `takeover-suspected`, `confirmed`, and its reason names the
//! latest (date, issuer, log id). Each name is asked once, answers are cached in the store for
//! `max_age_hours`, at most `requests_per_second` a second (crt.sh is a shared service), within
//! `timeout_secs`; an unanswered search changes nothing.

use std::collections::{BTreeMap, HashMap};

use dangle_model::DnsRecord;

use dangle_model::BoxFuture;

use super::{Found, Run, Signal};
use crate::config::CtConfig;
use crate::reconcile::{Evidence, Finding, Judgement, Severity, Status};

/// The most of one search's answer read (crt.sh answers a busy name with megabytes).
const BODY_CAP: usize = 8 * 1024 * 1024;

/// What the step did, for the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub names: usize,
    pub cached: usize,
    pub fetched: usize,
    pub matched: usize,
}

/// One logged certificate that names a host.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Logged {
    not_before: String,
    not_after: String,
    issuer: String,
    id: String,
}

/// The most certificates per owned name whose keys are fetched and compared in one run (the newest).
const KEYS_PER_NAME: usize = 5;

/// Certificates logged for our owned names (those with a baseline, `[probe] baseline`) since their
/// baselines began, still valid, on keys none of our endpoints has shown: someone holds a
/// certificate that lets them answer for the name. `since`: per name, when its baseline began (RFC
/// 3339); `known`: every key our endpoints have shown. Each certificate is fetched once (`?d=ID`,
/// cached like the searches; `cached` reads the store's cache). Returns what was fetched (for the
/// cache) and the findings.
pub async fn unknown_keys(
    cfg: &CtConfig,
    cached: &HashMap<String, String>,
    since: &BTreeMap<String, String>,
    known: &std::collections::HashSet<String>,
    now: &str,
) -> (Vec<(String, String)>, Vec<crate::store::NameFinding>) {
    let mut fetched: Vec<(String, String)> = Vec::new();
    let mut findings = Vec::new();
    if since.is_empty() {
        return (fetched, findings);
    }
    let Ok(mut searcher) = Searcher::new(cfg) else { return (fetched, findings) };
    // One answer, from the cache or fetched now (paced, within the deadline).
    let mut get = async |key: String, path: String| -> Option<String> {
        if let Some(b) = cached.get(&key) {
            return Some(b.clone());
        }
        if searcher.past_deadline() {
            return None;
        }
        searcher.fetch(&key, &path).await?.ok()
    };
    for (name, from) in since {
        let Some(body) = get(name.clone(), format!("/?q={}&output=json", encode(name))).await else { continue };
        let Some(mut logged) = parse(&body, name) else { continue };
        logged.retain(|l| stamp(&l.not_before) >= stamp(from) && stamp(&l.not_after) >= stamp(now));
        logged.sort_by(|a, b| b.not_before.cmp(&a.not_before));
        logged.dedup_by(|a, b| a.id == b.id);
        for l in logged.into_iter().take(KEYS_PER_NAME) {
            let Some(pem) = get(format!("cert:{}", l.id), format!("/?d={}", encode(&l.id))).await else { continue };
            use rustls::pki_types::pem::PemObject;
            let Ok(der) = rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes()) else { continue };
            let info = crate::probe::cert_info(&der);
            if info.spki_sha256.is_empty() || known.contains(&info.spki_sha256) {
                continue;
            }
            findings.push(crate::store::NameFinding {
                name: name.clone(),
                address: "Certificate Transparency".into(),
                kind: crate::store::NameKind::UnknownKey,
                severity: Severity::High,
                detail: format!(
                    "a certificate for {name} issued on {} by {} (log id {}) is on a key none of our endpoints has shown ({}…): whoever holds it can answer for the name",
                    stamp(&l.not_before),
                    dangle_model::excerpt(&l.issuer),
                    dangle_model::excerpt(&l.id),
                    &info.spki_sha256[..16.min(info.spki_sha256.len())]
                ),
            });
        }
    }
    fetched = searcher.fetched;
    (fetched, findings)
}

/// The oldest cached answer still used at `now` (Unix seconds); `None` with `max_age_hours = 0`:
/// always search.
pub fn fresh_since(cfg: &CtConfig, now: i64) -> Option<i64> {
    (!cfg.max_age.is_zero()).then(|| now - cfg.max_age.as_secs() as i64)
}

/// The name a dangling row's certificates would carry (lower case, no final dot).
fn name_of(records: &[DnsRecord], j: &Judgement) -> Option<String> {
    let r = &records[j.record as usize];
    (j.status == Status::Dangling && crate::reconcile::carries_https(&r.rtype)).then(|| r.name.as_str().trim_end_matches('.').to_ascii_lowercase())
}

/// The search for certificates issued for dangling names since they dangle.
pub struct CtSearch<'c> {
    pub cfg: &'c CtConfig,
    /// The store's fresh answers by key (a name).
    pub cached: &'c HashMap<String, String>,
    /// Each name's dangling streak start (RFC 3339); this run's start for a name that starts dangling now.
    pub since: &'c HashMap<String, String>,
    pub started: &'c str,
    /// The answers fetched now (key, answer), for the store's cache.
    pub fetched: std::sync::Mutex<Vec<(String, String)>>,
}

impl Signal for CtSearch<'_> {
    fn ask<'a>(&'a self, run: &'a Run<'a>) -> BoxFuture<'a, Found> {
        Box::pin(async move {
            let mut rows: BTreeMap<String, Vec<u32>> = BTreeMap::new();
            for (seq, j) in run.judgements.iter().enumerate() {
                if let Some(n) = name_of(run.records, j) {
                    rows.entry(n).or_default().push(seq as u32);
                }
            }
            let mut found = Found::default();
            if rows.is_empty() {
                return found;
            }
            let mut stats = Stats { names: rows.len(), ..Stats::default() };
            let answers = self.answers(&rows, &mut stats).await;
            for (name, seqs) in rows {
                let Some(body) = answers.get(&name) else { continue };
                let Some(logged) = parse(body, &name) else {
                    tracing::warn!(name = %name, "the Certificate Transparency answer is not crt.sh's JSON: ignored");
                    continue;
                };
                let from = self.since.get(&name).map(String::as_str).unwrap_or(self.started);
                let after: Vec<&Logged> = logged.iter().filter(|l| stamp(&l.not_before) >= stamp(from)).collect();
                let words = match after.iter().max_by(|a, b| a.not_before.cmp(&b.not_before)) {
                    Some(latest) => {
                        stats.matched += seqs.len();
                        format!(
                            "; Certificate Transparency: {} certificate(s) for {name} issued since it dangles (since {}), the latest on {} by {} (log id {}): someone may hold its target and serve our name",
                            after.len(),
                            stamp(from),
                            stamp(&latest.not_before),
                            dangle_model::excerpt(&latest.issuer),
                            dangle_model::excerpt(&latest.id)
                        )
                    }
                    None => String::new(),
                };
                found.evidence.push(Evidence { rows: seqs, finding: Finding::Certificates { issued_since: after.len() as u32 }, words });
            }
            tracing::info!(names = stats.names, cached = stats.cached, fetched = stats.fetched, matched = stats.matched, "Certificate Transparency");
            found
        })
    }
}

impl CtSearch<'_> {
    /// Each name's answer: from the cache, else searched now (paced, within the time bound).
    async fn answers(&self, rows: &BTreeMap<String, Vec<u32>>, stats: &mut Stats) -> HashMap<String, String> {
        let mut answers: HashMap<String, String> = HashMap::new();
        let mut searcher = match Searcher::new(self.cfg) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("Certificate Transparency not searched: {}", crate::errors::render(&e));
                return answers;
            }
        };
        let mut failed = 0usize;
        for name in rows.keys() {
            if let Some(body) = self.cached.get(name) {
                stats.cached += 1;
                answers.insert(name.clone(), body.clone());
                continue;
            }
            if searcher.past_deadline() {
                tracing::warn!(names = rows.len() - answers.len(), "Certificate Transparency took longer than {} s: the rest are left unsearched", self.cfg.timeout.as_secs());
                break;
            }
            match searcher.fetch(name, &format!("/?q={}&output=json", encode(name))).await {
                Some(Ok(body)) => {
                    stats.fetched += 1;
                    answers.insert(name.clone(), body);
                }
                Some(Err(e)) => {
                    failed += 1;
                    if failed == 1 {
                        tracing::warn!(name = %name, "Certificate Transparency search failed: {e}");
                    }
                }
                None => {}
            }
        }
        self.fetched.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend(searcher.fetched);
        answers
    }
}

/// One step's searches: one HTTPS client, paced at `[signals.ct] requests_per_second`, all within
/// `timeout_secs`; what it fetched is kept (key, answer) for the store's cache.
struct Searcher {
    client: reqwest::Client,
    pace: tokio::time::Interval,
    deadline: tokio::time::Instant,
    base: String,
    fetched: Vec<(String, String)>,
}

impl Searcher {
    fn new(cfg: &CtConfig) -> anyhow::Result<Self> {
        Ok(Self {
            client: crate::http::client()?,
            pace: super::ticks(cfg.requests_per_second),
            deadline: tokio::time::Instant::now() + cfg.timeout,
            base: cfg.url.trim_end_matches('/').to_string(),
            fetched: Vec::new(),
        })
    }

    fn past_deadline(&self) -> bool {
        tokio::time::Instant::now() >= self.deadline
    }

    /// `path` (after the base URL) fetched now, at the pace; kept under `key` when it answers.
    /// `None`: the deadline came first.
    async fn fetch(&mut self, key: &str, path: &str) -> Option<Result<String, String>> {
        tokio::select! {
            _ = self.pace.tick() => {}
            _ = tokio::time::sleep_until(self.deadline) => return None,
        }
        let got = tokio::time::timeout_at(self.deadline, search(&self.client, &format!("{}{path}", self.base))).await.ok()?;
        if let Ok(body) = &got {
            self.fetched.push((key.to_string(), body.clone()));
        }
        Some(got)
    }
}

async fn search(client: &reqwest::Client, url: &str) -> Result<String, String> {
    let resp = client
        .get(url)
        .header(reqwest::header::USER_AGENT, concat!("dangle/", env!("CARGO_PKG_VERSION")))
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| crate::errors::render(&anyhow::Error::new(e)))?;
    if !resp.status().is_success() {
        return Err(format!("HTTP {}", resp.status().as_u16()));
    }
    let mut resp = resp;
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| crate::errors::render(&anyhow::Error::new(e)))? {
        if body.len() + chunk.len() > BODY_CAP {
            return Err(format!("the answer is larger than {} MiB", BODY_CAP >> 20));
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| "the answer is not UTF-8".to_string())
}

/// The certificates in a crt.sh JSON answer that name `name` (exactly, or by a wildcard one label
/// up); `None` when the answer is not that JSON.
fn parse(body: &str, name: &str) -> Option<Vec<Logged>> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    let parent = name.split_once('.').map(|(_, p)| p);
    let mut out = Vec::new();
    for e in v.as_array()? {
        let s = |k: &str| e.get(k).and_then(|x| x.as_str()).unwrap_or_default();
        let names = s("name_value");
        let covers = names.lines().chain(std::iter::once(s("common_name"))).any(|n| {
            let n = n.trim().trim_end_matches('.').to_ascii_lowercase();
            n == name || (parent.is_some() && n.strip_prefix("*.") == parent)
        });
        if !covers {
            continue;
        }
        let id = match e.get("id") {
            Some(serde_json::Value::Number(n)) => n.to_string(),
            Some(serde_json::Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        out.push(Logged { not_before: s("not_before").to_string(), not_after: s("not_after").to_string(), issuer: s("issuer_name").to_string(), id });
    }
    Some(out)
}

/// A timestamp as `YYYY-MM-DDTHH:MM:SS` (crt.sh writes UTC without a zone; RFC 3339 with `Z`), so
/// the two compare as text.
fn stamp(t: &str) -> &str {
    t.get(..19).unwrap_or(t)
}

/// `name` for a query string: letters, digits, `.`, `-` and `_` as they are; the rest (a wildcard's
/// `*`) percent-encoded.
fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crt_sh_answers_are_read_by_name_and_wildcard() {
        let body = r#"[
            {"issuer_name":"C=US, O=Let's Encrypt, CN=R11","common_name":"gone.example.com","name_value":"gone.example.com\nwww.gone.example.com","id":101,"not_before":"2026-11-20T10:00:00"},
            {"issuer_name":"C=US, O=Other CA, CN=X","common_name":"*.example.com","name_value":"*.example.com","id":102,"not_before":"2026-11-25T10:00:00"},
            {"issuer_name":"C=US, O=Other CA, CN=X","common_name":"other.example.com","name_value":"other.example.com","id":103,"not_before":"2026-11-26T10:00:00"}
        ]"#;
        let got = parse(body, "gone.example.com").unwrap();
        assert_eq!(got.iter().map(|l| l.id.as_str()).collect::<Vec<_>>(), ["101", "102"]);
        assert_eq!(parse("<html>busy</html>", "gone.example.com"), None);
        assert!(stamp("2026-11-20T10:00:00Z") > stamp("2026-11-19T23:59:59.123"));
        assert_eq!(encode("*.preview.example.com"), "%2A.preview.example.com");
    }
}

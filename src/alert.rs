//! `[[alerts]]`: after a scan is stored, post what is new or worse since the previous run — never the
//! whole list every hour — to a webhook (a documented JSON body) or Slack (a message with blocks).
//! Each post is retried with a doubling backoff (a `Retry-After` is honoured) within a timeout per
//! attempt; a post that still fails is named on stderr and kept in the store, and the next run sends
//! it again before its own. The exit code is the scan's, whatever the alerts do.
//!
//! The URL (a Slack webhook URL is a secret) and the header values (read from the environment when
//! sending) are never stored, logged or shown: errors name the alert by its `name`.

use std::time::Duration;

use anyhow::Context;
use serde::Serialize;
use serde_json::json;

use crate::report::diff::{worsens, Change, Comparer, Entry};
use crate::config::{AlertConfig, AlertKind};
use crate::store::Store;
use crate::rows::RunMeta;

/// The alert body's version (`schema_version`), raised when a field changes meaning or goes away.
pub const ALERT_SCHEMA_VERSION: u32 = 1;
/// The most findings one body lists (`more` counts the rest).
pub const MAX_FINDINGS: usize = 500;
/// The most findings a Slack message shows as blocks.
const SLACK_BLOCKS: usize = 20;
/// Undelivered bodies re-sent per alert and run, oldest first.
const RESEND_PER_RUN: usize = 20;

/// One finding as an alert names it: the diff's entry and why it is in the alert.
#[derive(Debug, Serialize)]
struct Item<'a> {
    why: &'static str,
    #[serde(flatten)]
    entry: &'a Entry,
}

/// The webhook body (docs/guide.md: *Alerts*).
#[derive(Debug, Serialize)]
struct Body<'a> {
    schema_version: u32,
    tool: &'static str,
    alert: &'a str,
    run: RunRef<'a>,
    previous_run: Option<i64>,
    min_severity: &'static str,
    new: usize,
    worse: usize,
    findings: Vec<Item<'a>>,
    /// Findings left out past [`MAX_FINDINGS`].
    more: usize,
}

#[derive(Debug, Serialize)]
struct RunRef<'a> {
    id: i64,
    started_at: &'a str,
    config: &'a str,
}

/// What happened to one alert's posts in a run.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub delivered: usize,
    pub kept: usize,
    pub resent: usize,
}

/// Sends every configured alert for `run` (stored, the latest), re-sending what earlier runs could
/// not deliver first. Failures are warnings and stored bodies, never errors of the scan; an error
/// here is only one the store gave.
pub fn send(alerts: &[AlertConfig], store: &Store, run: &RunMeta, rt: &tokio::runtime::Runtime) -> anyhow::Result<Vec<Outcome>> {
    if alerts.is_empty() {
        return Ok(Vec::new());
    }
    let previous = store.previous_run(run.id)?;
    let mut comparer = Comparer::default();
    store.merge_rows(previous, run.id, |o, n| {
        comparer.add(o, n);
        Ok::<_, crate::store::StoreError>(())
    })?;
    let entries = comparer.finish();
    let client = crate::http::client().context("cannot set up the alerts' HTTPS client")?;
    let mut out = Vec::new();
    for a in alerts {
        let mut o = Outcome::default();
        // Once a post to this alert has failed in this run, the endpoint is down: what is left waits
        // for the next run instead of spending every retry again.
        let mut down: Option<String> = None;
        for p in store.pending_alerts(&a.name)?.into_iter().take(RESEND_PER_RUN) {
            if down.is_some() {
                o.kept += 1;
                continue;
            }
            match rt.block_on(post(&client, a, &p.body)) {
                Ok(_) => {
                    store.alert_delivered(p.id)?;
                    o.resent += 1;
                    tracing::info!(alert = %a.name, run = p.run, "delivered an alert kept from an earlier run");
                }
                Err((attempts, e)) => {
                    store.alert_failed(p.id, attempts, &e)?;
                    o.kept += 1;
                    warn(a, &format!("could not deliver the alert of run {} again ({e}); kept in the store", p.run));
                    down = Some(e);
                }
            }
        }
        let picked: Vec<&Entry> = entries.iter().filter(|e| worsens(e, a.min_severity)).collect();
        if picked.is_empty() {
            out.push(o);
            continue;
        }
        let body = body(a, run, previous, &picked)?;
        let sent = match &down {
            Some(e) => Err((0, format!("not tried: the endpoint failed earlier in this run ({e})"))),
            None => rt.block_on(post(&client, a, &body)),
        };
        match sent {
            Ok(_) => o.delivered += 1,
            Err((attempts, e)) => {
                store.queue_alert(&a.name, run.id, &body, attempts, &e)?;
                o.kept += 1;
                warn(a, &format!("delivery failed after {attempts} attempt(s) ({e}); kept in the store, re-sent with the next run"));
            }
        }
        out.push(o);
    }
    Ok(out)
}

fn warn(a: &AlertConfig, message: &str) {
    tracing::warn!(alert = %dangle_model::input::printable(&a.name), "{message}");
}

/// The body `a` posts for these findings: the webhook document, or a Slack message.
fn body(a: &AlertConfig, run: &RunMeta, previous: Option<i64>, picked: &[&Entry]) -> anyhow::Result<String> {
    let new = picked.iter().filter(|e| e.change == Change::New).count();
    let worse = picked.len() - new;
    let items: Vec<Item<'_>> = picked.iter().take(MAX_FINDINGS).map(|e| Item { why: if e.change == Change::New { "new" } else { "worse" }, entry: e }).collect();
    let doc = Body {
        schema_version: ALERT_SCHEMA_VERSION,
        tool: "dangle",
        alert: &a.name,
        run: RunRef { id: run.id, started_at: &run.started_at, config: &run.config },
        previous_run: previous,
        min_severity: a.min_severity.as_str(),
        new,
        worse,
        more: picked.len().saturating_sub(MAX_FINDINGS),
        findings: items,
    };
    Ok(match a.kind {
        AlertKind::Webhook => serde_json::to_string(&doc)?,
        AlertKind::Slack => slack(&doc).to_string(),
    })
}

/// A Slack message: a header, one section per finding (the worst first, at most [`SLACK_BLOCKS`]), and
/// a context line; `text` is what notifications show.
fn slack(doc: &Body<'_>) -> serde_json::Value {
    let since = doc.previous_run.map_or("the first run".to_string(), |p| format!("run {p}"));
    let text = format!("dangle: {} new and {} worse finding(s) at or above {} in run {} (since {since})", doc.new, doc.worse, doc.min_severity, doc.run.id);
    let mut blocks = vec![json!({ "type": "header", "text": { "type": "plain_text", "text": format!("dangle: {} finding(s) need a look", doc.new + doc.worse) } })];
    for item in doc.findings.iter().take(SLACK_BLOCKS) {
        let e = item.entry;
        let sev = e.new_severity.map(|s| s.as_str()).unwrap_or_default();
        let was = match (item.why, e.old_severity) {
            ("worse", Some(old)) => format!(" (was {old})"),
            _ => String::new(),
        };
        // mrkdwn: escape the three characters Slack treats as markup.
        let esc = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        blocks.push(json!({
            "type": "section",
            "text": { "type": "mrkdwn", "text": format!("*{}* {sev}{was}: `{} {}` → `{}`\n{}", item.why, esc(&e.record_name), e.record_type, esc(&e.target), esc(&e.reason)) }
        }));
    }
    let shown = doc.findings.len().min(SLACK_BLOCKS);
    let left = doc.new + doc.worse - shown;
    let mut context = format!("run {} · {} · since {since}", doc.run.id, doc.run.started_at);
    if left > 0 {
        context.push_str(&format!(" · {left} more in the run's report"));
    }
    blocks.push(json!({ "type": "context", "elements": [{ "type": "mrkdwn", "text": context }] }));
    json!({ "text": text, "blocks": blocks })
}

/// Posts `body` to the alert's URL: the first attempt and up to `retries` more on a network error, a
/// timeout, 408, 425, 429 or 5xx, waiting 0.5 s, 1 s, 2 s … (or what `Retry-After` asks, up to 30 s).
/// Returns the attempts made; an error is (attempts, what went wrong), in words without the URL.
async fn post(client: &reqwest::Client, a: &AlertConfig, body: &str) -> Result<u32, (i64, String)> {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::CONTENT_TYPE, reqwest::header::HeaderValue::from_static("application/json"));
    headers.insert(reqwest::header::USER_AGENT, reqwest::header::HeaderValue::from_static(concat!("dangle/", env!("CARGO_PKG_VERSION"))));
    for (name, var) in &a.headers_from_env {
        let value = std::env::var(var).map_err(|_| (0, format!("header {name}: the environment variable {var} is not set")))?;
        let mut value = reqwest::header::HeaderValue::from_str(&value).map_err(|_| (0, format!("header {name}: the value in {var} is not a valid header value")))?;
        value.set_sensitive(true);
        let name = reqwest::header::HeaderName::from_bytes(name.as_bytes()).map_err(|_| (0, format!("`{name}` is not a header name")))?;
        headers.insert(name, value);
    }
    let mut wait = Duration::from_millis(500);
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let sent = client.post(&a.url).headers(headers.clone()).timeout(a.timeout).body(body.to_string()).send().await;
        let (retry, after, error) = match sent {
            Ok(r) if r.status().is_success() => return Ok(attempt),
            Ok(r) => {
                let s = r.status();
                let after = r.headers().get(reqwest::header::RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
                let retry = s.is_server_error() || matches!(s.as_u16(), 408 | 425 | 429);
                (retry, after.map(|s| Duration::from_secs(s.min(30))), format!("HTTP {}", s))
            }
            Err(e) if e.is_timeout() => (true, None, format!("no answer within {} s", a.timeout.as_secs())),
            Err(e) => (true, None, crate::errors::render(&anyhow::Error::new(e.without_url()))),
        };
        if !retry || attempt > a.retries {
            return Err((i64::from(attempt), error));
        }
        tokio::time::sleep(after.unwrap_or(wait)).await;
        wait = (wait * 2).min(Duration::from_secs(8));
    }
}

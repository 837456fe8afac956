//! `[[alerts]]` against a real local HTTP server that fails when told to: only what is new or worse
//! is posted, a failing endpoint is retried with backoff, and a post that still fails is kept in the
//! store and delivered by the next run. The token header comes from the environment and is never
//! stored.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

use dangle::config::Config;
use dangle::store::Store;

use crate::common::copy_dir;

/// What the server received: (headers in lower case, body).
type Seen = Arc<Mutex<Vec<(Vec<(String, String)>, String)>>>;

/// An HTTP/1.1 server on 127.0.0.1 that answers each request with the next status of `script` (then
/// 200 once the script runs out), recording what it got.
struct Hook {
    url: String,
    seen: Seen,
    script: Arc<Mutex<Vec<u16>>>,
}

impl Hook {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let seen: Seen = Arc::default();
        let script: Arc<Mutex<Vec<u16>>> = Arc::default();
        let (s, sc) = (seen.clone(), script.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut headers = Vec::new();
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((k, v)) = line.trim_end().split_once(':') {
                        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
                    }
                }
                let len: usize = headers.iter().find(|(k, _)| k == "content-length").map_or(0, |(_, v)| v.parse().unwrap());
                let mut body = vec![0; len];
                reader.read_exact(&mut body).unwrap();
                s.lock().unwrap().push((headers, String::from_utf8(body).unwrap()));
                let status = { let mut q = sc.lock().unwrap(); if q.is_empty() { 200 } else { q.remove(0) } };
                let _ = write!(stream, "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            }
        });
        Self { url, seen, script }
    }

    fn fail_next(&self, statuses: &[u16]) {
        self.script.lock().unwrap().extend_from_slice(statuses);
    }

    fn take(&self) -> Vec<(Vec<(String, String)>, String)> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The demo estate with `alerts` appended to its config.
fn estate(alerts: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tempfile::tempdir().unwrap();
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo"), d.path());
    let cfg = d.path().join("dangle.toml");
    let text = std::fs::read_to_string(&cfg).unwrap() + alerts;
    std::fs::write(&cfg, text).unwrap();
    let p = d.path().to_path_buf();
    (d, p)
}

/// One scan as `dangle scan` makes it, alerts included; returns the run.
fn scan(dir: &Path) -> i64 {
    let cfg = Config::load(&dir.join("dangle.toml")).unwrap();
    let mut store = Store::open(&cfg.db).unwrap();
    let outputs = dangle::pipeline::Outputs { alerts: true, ..Default::default() };
    dangle::pipeline::scan_into(&cfg, &mut store, false, std::time::Duration::from_secs(30), outputs).unwrap().run
}

#[test]
fn webhook_gets_only_what_is_new_or_worse_with_retries_and_the_token_from_the_environment() {
    let hook = Hook::start();
    std::env::set_var("DANGLE_TEST_ALERT_TOKEN", "Bearer s3cr3t-alert-token");
    let (_d, dir) = estate(&format!(
        "\n[[alerts]]\ntype = \"webhook\"\nname = \"oncall\"\nurl = \"{}\"\nmin_severity = \"high\"\nretries = 3\nheaders_from_env = {{ \"Authorization\" = \"DANGLE_TEST_ALERT_TOKEN\" }}\n",
        hook.url
    ));
    // The endpoint fails twice, then takes it.
    hook.fail_next(&[503, 502]);
    scan(&dir);
    let got = hook.take();
    assert_eq!(got.len(), 3, "two failures, then the delivery");
    let (headers, body) = &got[2];
    assert_eq!(header(headers, "authorization"), Some("Bearer s3cr3t-alert-token"));
    assert_eq!(header(headers, "content-type"), Some("application/json"));
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!((v["schema_version"].as_u64(), v["alert"].as_str(), v["run"]["id"].as_i64()), (Some(1), Some("oncall"), Some(1)));
    let names: Vec<&str> = v["findings"].as_array().unwrap().iter().map(|f| f["record_name"].as_str().unwrap()).collect();
    // The demo's two high findings; nothing below high.
    assert_eq!(names, ["*.preview.example.com", "preview-lb.example.com"], "{v:#}");
    assert!(v["findings"].as_array().unwrap().iter().all(|f| f["why"] == "new" && f["new_severity"] == "high"));
    // Nothing changed: nothing is posted (never the whole list every hour).
    scan(&dir);
    assert!(hook.take().is_empty(), "a run with nothing new posted");
    // The colo server is decommissioned: its record and the two that follow it are new high findings,
    // and only they are posted.
    std::fs::copy(dir.join("owned-after-decommission.csv"), dir.join("owned.csv")).unwrap();
    scan(&dir);
    let got = hook.take();
    assert_eq!(got.len(), 1);
    let v: serde_json::Value = serde_json::from_str(&got[0].1).unwrap();
    let names: Vec<&str> = v["findings"].as_array().unwrap().iter().map(|f| f["record_name"].as_str().unwrap()).collect();
    assert_eq!(names, ["api.example.com", "api.example.org", "status.example.com"], "{v:#}");
    assert_eq!((v["new"].as_u64(), v["previous_run"].as_i64()), (Some(3), Some(2)));
    // The token never reaches the store.
    for f in std::fs::read_dir(&dir).unwrap() {
        let f = f.unwrap().path();
        if f.to_string_lossy().contains("dangle.sqlite") {
            assert!(!String::from_utf8_lossy(&std::fs::read(&f).unwrap()).contains("s3cr3t"), "{}", f.display());
        }
    }
}

#[test]
fn a_failed_delivery_is_kept_in_the_store_and_sent_by_the_next_run_to_slack() {
    let hook = Hook::start();
    let (_d, dir) = estate(&format!("\n[[alerts]]\ntype = \"slack\"\nurl = \"{}\"\nmin_severity = \"medium\"\nretries = 1\n", hook.url));
    // Down for the whole of run 1: the first attempt and one retry, then kept.
    hook.fail_next(&[500, 500]);
    scan(&dir);
    assert_eq!(hook.take().len(), 2);
    let store = Store::open_existing(&dir.join("dangle.sqlite")).unwrap();
    let kept = store.pending_alerts("slack 1").unwrap();
    assert_eq!(kept.len(), 1, "the undelivered alert is in the store");
    assert_eq!((kept[0].run, kept[0].attempts, kept[0].last_error.as_str()), (1, 2, "HTTP 500 Internal Server Error"));
    assert!(!kept[0].body.contains(&hook.url), "the URL is not stored");
    drop(store);
    // Still down in run 2, which has findings of its own (a decommission): the kept alert is tried
    // (and its retry), the new one is kept untried behind it, not retried against a dead endpoint.
    hook.fail_next(&[500, 500]);
    std::fs::copy(dir.join("owned-after-decommission.csv"), dir.join("owned.csv")).unwrap();
    scan(&dir);
    assert_eq!(hook.take().len(), 2, "one alert's attempts, not two");
    let store = Store::open_existing(&dir.join("dangle.sqlite")).unwrap();
    let kept = store.pending_alerts("slack 1").unwrap();
    assert_eq!(kept.iter().map(|k| (k.run, k.attempts)).collect::<Vec<_>>(), [(1, 4), (2, 0)]);
    assert!(kept[1].last_error.starts_with("not tried: the endpoint failed earlier in this run"), "{}", kept[1].last_error);
    drop(store);
    // Run 3 (nothing new) delivers both, oldest first.
    scan(&dir);
    let got = hook.take();
    assert_eq!(got.len(), 2, "the two kept alerts, and nothing else");
    let v: serde_json::Value = serde_json::from_str(&got[0].1).unwrap();
    assert!(v["text"].as_str().unwrap().starts_with("dangle: 7 new and 0 worse finding(s) at or above medium in run 1"), "{v:#}");
    let blocks = v["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks.iter().filter(|b| b["type"] == "section").count(), 7, "one section per finding");
    let v2: serde_json::Value = serde_json::from_str(&got[1].1).unwrap();
    assert!(v2["text"].as_str().unwrap().contains("in run 2"), "{v2:#}");
    let store = Store::open_existing(&dir.join("dangle.sqlite")).unwrap();
    assert!(store.pending_alerts("slack 1").unwrap().is_empty(), "delivered, so no longer kept");
}

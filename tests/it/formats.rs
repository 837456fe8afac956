//! The report formats a person or a pipeline reads: report.json against its shipped schema
//! (schemas/report.schema.json), report.sarif against the official SARIF 2.1.0 schema
//! (fixtures/sarif/, from oasis-tcs/sarif-spec), and report.html rendered in headless Chromium
//! (Debian's `chromium`, installed by scripts/setup), asserting on the page the browser built.

use std::path::Path;
use std::process::Command;

use crate::cli::{code, dangle, demo, read, text};

pub(crate) fn json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&read(p)).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

pub(crate) fn validator(schema: &str) -> jsonschema::Validator {
    let schema = json(&Path::new(env!("CARGO_MANIFEST_DIR")).join(schema));
    jsonschema::validator_for(&schema).expect("the schema compiles")
}

#[track_caller]
pub(crate) fn valid(v: &jsonschema::Validator, doc: &serde_json::Value, what: &str) {
    let errors: Vec<String> = v.iter_errors(doc).take(10).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(errors.is_empty(), "{what} does not match its schema:\n  {}", errors.join("\n  "));
}

/// The demo scanned `runs` times into `out/`.
fn scanned(runs: usize) -> (tempfile::TempDir, std::path::PathBuf) {
    let (d, dir) = demo();
    for _ in 0..runs {
        code(&dangle(&dir, &["scan", "--out", "out"]), 1);
    }
    (d, dir)
}

#[test]
fn report_json_matches_its_shipped_schema_and_the_schema_is_strict() {
    let (_d, dir) = scanned(1);
    let v = validator("schemas/report.schema.json");
    let doc = json(&dir.join("out/report.json"));
    valid(&v, &doc, "report.json");
    assert_eq!(doc["schema_version"], 1);
    // The kinds carry what to do and their OWASP entries.
    let kinds = doc["kinds"].as_array().unwrap();
    assert!(kinds.iter().all(|k| k["owasp"][0].as_str().unwrap().starts_with("API9:2023")), "{kinds:?}");
    // The schema catches what it should: a field it does not know, a status no dangle writes.
    let mut extra = doc.clone();
    extra["rows"][0]["surprise"] = serde_json::json!(1);
    assert!(!v.is_valid(&extra), "an unknown row field passed");
    let mut bad = doc;
    bad["rows"][0]["status"] = serde_json::json!("maybe");
    assert!(!v.is_valid(&bad), "an unknown status passed");
}

#[test]
fn sarif_validates_against_the_official_schema_with_a_rule_per_kind_and_file_lines() {
    let (_d, dir) = scanned(1);
    let log = json(&dir.join("out/report.sarif"));
    let v = validator("fixtures/sarif/sarif-schema-2.1.0.json");
    valid(&v, &log, "report.sarif");
    // The official schema bites: a level SARIF does not have, a result without a message.
    let mut bad = log.clone();
    bad["runs"][0]["results"][0]["level"] = serde_json::json!("fatal");
    assert!(!v.is_valid(&bad), "an unknown level passed");
    let mut bad = log.clone();
    bad["runs"][0]["results"][0].as_object_mut().unwrap().remove("message");
    assert!(!v.is_valid(&bad), "a result without a message passed");
    let run = &log["runs"][0];
    let rules: Vec<&str> = run["tool"]["driver"]["rules"].as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap()).collect();
    let results = run["results"].as_array().unwrap();
    let findings = read(&dir.join("out/findings.csv")).lines().count() - 1;
    assert_eq!(results.len(), findings, "one result per finding");
    for r in results {
        let rule = r["ruleId"].as_str().unwrap();
        assert_eq!(rules[r["ruleIndex"].as_u64().unwrap() as usize], rule, "ruleIndex points at its rule");
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()));
        assert!(r["partialFingerprints"]["dangleFinding/v1"].as_str().unwrap().len() == 16);
    }
    // A zone file's record is located at its file and line.
    let preview = results.iter().find(|r| r["message"]["text"].as_str().unwrap().starts_with("preview-lb.example.com A")).unwrap();
    let at = &preview["locations"][0]["physicalLocation"];
    assert_eq!((at["artifactLocation"]["uri"].as_str(), at["region"]["startLine"].as_u64()), (Some("zones/example.com.zone"), Some(23)));
    assert_eq!((preview["ruleId"].as_str(), preview["level"].as_str()), (Some("dangling-address"), Some("error")));
    // Each rule says what to do and maps to OWASP API9:2023.
    let rule = &run["tool"]["driver"]["rules"][rules.iter().position(|r| *r == "dangling-address").unwrap()];
    assert!(rule["help"]["text"].as_str().unwrap().contains("TTL"), "{rule}");
    assert!(rule["properties"]["tags"].as_array().unwrap().iter().any(|t| t == "API9:2023 Improper Inventory Management"));
    // `report --format sarif` prints the same log.
    let o = dangle(&dir, &["report", "--format", "sarif"]);
    code(&o, 0);
    assert_eq!(text(&o.stdout), read(&dir.join("out/report.sarif")));
}

/// Chromium's DOM of `page` once its scripts ran (`--dump-dom`), with the flags a closed machine needs.
fn render(page: &Path, fragment: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let url = format!("file://{}{fragment}", page.display());
    let out = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking"])
        .args(["--disable-component-update", "--disable-sync", "--virtual-time-budget=2000"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--dump-dom", &url])
        .output()
        .unwrap_or_else(|e| panic!("cannot run chromium ({e}): run scripts/setup, which installs Debian's chromium"));
    assert!(out.status.success(), "chromium failed: {}", text(&out.stderr));
    text(&out.stdout)
}

/// The values of attribute `attr` on the page's finding rows, in page order.
fn finding_attr(dom: &str, attr: &str) -> Vec<String> {
    dom.split("<tr class=\"finding ")
        .skip(1)
        .map(|row| {
            let key = format!("{attr}=\"");
            let at = row.find(&key).unwrap() + key.len();
            row[at..at + row[at..].find('"').unwrap()].to_string()
        })
        .collect()
}

#[test]
fn the_html_report_renders_in_chromium_sorts_shows_evidence_and_charts_every_run() {
    let (_d, dir) = scanned(3);
    let page = dir.join("out/report.html");
    let html = read(&page);
    // Self-contained: nothing to fetch, and a policy that forbids fetching.
    for needle in ["src=", "href=", "@import", "url("] {
        assert!(!html.contains(needle), "the page refers to something outside itself: {needle}");
    }
    assert!(html.contains("Content-Security-Policy") && html.contains("default-src 'none'"));
    let findings = read(&dir.join("out/findings.csv")).lines().count() - 1;
    // As written: worst first.
    let dom = render(&page, "");
    let sev: Vec<u8> = finding_attr(&dom, "data-severity").iter().map(|s| s.parse().unwrap()).collect();
    assert_eq!(sev.len(), findings, "every finding is a row");
    assert!(sev.windows(2).all(|w| w[0] >= w[1]), "worst first: {sev:?}");
    // Sorted by the page's script (what a click on a header runs): severity ascending, then by name.
    let dom = render(&page, "#sort=severity-asc");
    let up: Vec<u8> = finding_attr(&dom, "data-severity").iter().map(|s| s.parse().unwrap()).collect();
    assert!(up.windows(2).all(|w| w[0] <= w[1]) && up != sev, "ascending: {up:?}");
    assert!(dom.contains("aria-sort=\"ascending\""), "the header shows the order");
    let dom = render(&page, "#sort=record-asc");
    let names = finding_attr(&dom, "data-record");
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    // Evidence per finding: where, what to do, the OWASP entry.
    let row = dom.split("<tr class=\"finding ").find(|r| r.contains("data-record=\"preview-lb.example.com\"")).unwrap();
    for want in ["zones/example.com.zone:23", "what to do", "TTL", "API9:2023 Improper Inventory Management", "dangling since"] {
        assert!(row.contains(want), "the evidence lacks {want}: {row}");
    }
    // The chart: one bar per run in the store, each with its total.
    let bars = dom.matches("<g class=\"bar\"").count();
    assert_eq!(bars, 3, "one bar per run");
    assert!(dom.contains(&format!("data-run=\"3\" data-total=\"{findings}\"")));
    // `report --format html` prints the page.
    let o = dangle(&dir, &["report", "--format", "html"]);
    code(&o, 0);
    assert_eq!(text(&o.stdout), html);
}

//! SARIF 2.1.0 (`report.sarif`, `--format sarif`), for GitHub code scanning and other SARIF readers:
//! one rule per finding kind (its remediation as help, its OWASP entries as tags), one result per
//! finding at its level (critical and high: error; medium: warning; low and info: note), located at
//! the zone file line, or at the hosted zone / record set a console shows. Checked against the
//! official schema (fixtures/sarif/) in tests/it/formats.rs.

use std::io::Write;

use serde_json::json;

use super::{Report, Source};
use crate::reconcile::{Kind, Severity};
use crate::rows::ReportRow;
use dangle_model::Location;

/// The most results a log carries, the worst first: GitHub code scanning refuses a run with more
/// (and a million-row estate's SARIF would be half a gigabyte). `runs[0].properties.results_omitted`
/// counts the rest; findings.csv and report.json hold them all.
pub const SARIF_RESULTS: usize = 25_000;

/// The level a finding of this severity gets.
pub fn level(s: Severity) -> &'static str {
    match s {
        Severity::Critical | Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

/// GitHub's `security-severity` (0–10) for a severity.
fn security_severity(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "9.5",
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
        Severity::Info => "1.0",
    }
}

/// The severity a kind's findings usually have (the rule's default; each result carries its own).
fn usual(k: Kind) -> Severity {
    match k {
        Kind::TakeoverSuspected => Severity::Critical,
        Kind::DanglingAddress | Kind::DeletedCloudResource | Kind::DanglingDelegation => Severity::High,
        Kind::MissingName | Kind::BrokenChain => Severity::Medium,
        Kind::ExternalTakeoverProne | Kind::Unverified => Severity::Low,
        Kind::External | Kind::Ok => Severity::Info,
    }
}

/// `dangling-address` as `DanglingAddress` (a rule's `name`).
fn pascal(id: &str) -> String {
    id.split('-').map(|w| w[..1].to_uppercase() + &w[1..]).collect()
}

/// The rules of the live checks of our names, after the kinds' rules: certificates of owned endpoints
/// (`[probe] baseline`), and the resolution path's findings about names and zones.
const CERT_RULE: &str = "owned-endpoint-certificate";
const PATH_RULE: &str = "resolution-path";

fn rules() -> Vec<serde_json::Value> {
    let mut rules: Vec<serde_json::Value> = Kind::findings()
        .map(|k| {
            let owasp = k.owasp();
            let mut tags: Vec<&str> = vec!["security", "dns"];
            tags.extend(owasp);
            json!({
                "id": k.as_str(),
                "name": pascal(k.as_str()),
                "shortDescription": { "text": k.title() },
                "fullDescription": { "text": format!("{}. OWASP API Security Top 10: {}.", k.title(), owasp.join("; ")) },
                "help": {
                    "text": k.remediation(),
                    "markdown": format!("**What to do.** {}\n\n**OWASP API Security Top 10 (2023):** {}", k.remediation(), owasp.join("; ")),
                },
                "defaultConfiguration": { "level": level(usual(k)) },
                "properties": { "tags": tags, "security-severity": security_severity(usual(k)), "precision": "high" },
            })
        })
        .collect();
    rules.push(live_rule(
        CERT_RULE,
        "An owned TLS endpoint's certificate changed issuer or key, or expires",
        "Against the baseline dangle keeps of each owned endpoint ([probe] baseline): a new issuer or key not certified by our CA may be someone else answering for the name; an expired certificate breaks clients.",
        "Check who holds the key now (a renewal at a public CA, or a hijack the inventory cannot see); renew a certificate before it expires.",
        ("tls", Severity::High, "high"),
    ));
    rules.push(live_rule(
        PATH_RULE,
        "What DNS answers for our names differs from the zone data",
        "A zone delegated to servers other than those hosting it, a wildcard answering for a deleted name, a private zone answering a public name differently.",
        "Delegate the zone to the servers that host it; remove a wildcard that answers for names clients should no longer reach; make sure the private and public answers are meant to differ.",
        ("dns", Severity::Medium, "medium"),
    ));
    rules
}

/// A rule of the live checks of our names: id, short and full description, what to do, and (tag,
/// usual severity, precision).
fn live_rule(id: &str, short: &str, full: &str, help: &str, (tag, usual, precision): (&str, Severity, &str)) -> serde_json::Value {
    json!({
        "id": id,
        "name": pascal(id),
        "shortDescription": { "text": short },
        "fullDescription": { "text": full },
        "help": { "text": help, "markdown": format!("**What to do.** {help}") },
        "defaultConfiguration": { "level": level(usual) },
        "properties": { "tags": ["security", tag], "security-severity": security_severity(usual), "precision": precision },
    })
}

fn name_result(c: &crate::store::NameFinding) -> serde_json::Value {
    let h = crate::store::stable_hash([c.name.as_bytes(), &[0xff][..], c.kind.as_str().as_bytes()]);
    let uri = match c.kind.is_certificate() {
        true => format!("tls/{}", segment(&c.name)),
        false => format!("dns-live/{}", segment(&c.name)),
    };
    let (rule, index) = match c.kind.is_certificate() {
        true => (CERT_RULE, Kind::findings().count()),
        false => (PATH_RULE, Kind::findings().count() + 1),
    };
    json!({
        "ruleId": rule,
        "ruleIndex": index,
        "level": level(c.severity),
        "message": { "text": format!("{} at {}: {} ({} severity)", c.name, c.address, c.detail, c.severity) },
        "locations": [{
            "physicalLocation": { "artifactLocation": { "uri": uri } },
            "logicalLocations": [{ "name": c.name, "fullyQualifiedName": uri, "kind": "resource" }],
        }],
        "partialFingerprints": { "dangleFinding/v1": format!("{h:016x}") },
        "properties": { "severity": c.severity, "kind": c.kind, "address": c.address },
    })
}

/// The file and line of a record that is a line of a zone file (`zones/example.com.zone:22`).
fn file_line(location: Option<&Location>) -> Option<(&str, u32)> {
    let Some(Location::Line { file, line }) = location else { return None };
    (*line > 0 && !file.is_empty() && !file.contains("://")).then_some((file, *line))
}

/// `s` as a relative URI path segment (unreserved characters kept, the rest percent-encoded).
fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A stable identity for a finding across runs (what GitHub matches alerts by).
fn fingerprint(r: &ReportRow) -> String {
    let (a, b, c, d, e, f, g) = r.key();
    // Each part ends with 0xff (a byte no UTF-8 text holds), so parts cannot run into each other.
    let h = crate::store::stable_hash([&a, &b, &c, &d, &e, &f, &g].into_iter().flat_map(|p| [p.as_bytes(), &[0xff][..]]));
    format!("{h:016x}")
}

fn result(r: &ReportRow) -> serde_json::Value {
    let name = if r.set_id.is_empty() { r.record_name.clone() } else { format!("{} ({})", r.record_name, r.set_id) };
    let arrow = r.target.as_ref().map(|t| format!(" → {t}")).unwrap_or_default();
    let physical = match file_line(r.location.as_ref()) {
        Some((file, line)) => json!({ "artifactLocation": { "uri": file.replace('\\', "/") }, "region": { "startLine": line } }),
        // A record in a cloud zone: the zone as its own artifact (source / account / zone).
        None => json!({ "artifactLocation": { "uri": format!("dns/{}/{}/{}", segment(&r.source), segment(&r.account), segment(&r.zone)) } }),
    };
    let logical = json!({
        "name": format!("{} {}", r.record_name, r.record_type),
        "fullyQualifiedName": format!("{}/{}/{}/{} {}", r.source, r.account, r.zone, name, r.record_type),
        "kind": "resource",
    });
    json!({
        "ruleId": r.kind.as_str(),
        "ruleIndex": Kind::findings().position(|k| k == r.kind).unwrap_or(0),
        "level": level(r.severity),
        "message": { "text": format!("{name} {}{arrow} is {} ({} severity): {}", r.record_type, r.status, r.severity, r.reason) },
        "locations": [{ "physicalLocation": physical, "logicalLocations": [logical] }],
        "partialFingerprints": { "dangleFinding/v1": fingerprint(r) },
        "properties": {
            "severity": r.severity,
            "status": r.status,
            "confidence": r.confidence,
            "claimable": r.claimable,
            "target": r.target_text(),
            "where": r.place(),
            "probe_verdict": r.probe_verdict,
            "probe_detail": r.probe_detail,
            "first_seen": r.first_seen,
            "dangling_since": r.dangling_since,
            "age_days": r.age_days,
            "stale": r.stale,
            "owasp": r.kind.owasp(),
        },
    })
}

impl Report {
    /// The run's findings as one SARIF 2.1.0 log, streamed from `src`.
    pub fn write_sarif(&self, src: &dyn Source, mut w: impl Write) -> anyhow::Result<()> {
        let m = &self.run;
        let notifications: Vec<serde_json::Value> = self
            .gaps
            .iter()
            .map(|g| {
                let region = if g.region.is_empty() { String::new() } else { format!(" {}", g.region) };
                json!({
                    "level": "warning",
                    "message": { "text": format!("coverage gap: {} {} {}{region}: {}; records it could affect are unverified", g.source, g.account, g.service, g.error) },
                })
            })
            .collect();
        let head = json!({
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
        });
        let run = json!({
            "tool": { "driver": {
                "name": "dangle",
                "version": m.tool_version,
                "semanticVersion": m.tool_version,
                "informationUri": "https://owasp.org/API-Security/editions/2023/en/0xa9-improper-inventory-management/",
                "rules": rules(),
            }},
            "invocations": [{
                "executionSuccessful": true,
                "startTimeUtc": m.started_at,
                "endTimeUtc": m.finished_at,
                "toolExecutionNotifications": notifications,
            }],
            "properties": {
                "run": m.id, "cloud_range_snapshot": m.snapshot, "records": m.records, "rows": m.rows, "assets": m.assets,
                "findings": self.finding_count(), "results_omitted": self.finding_count().saturating_sub(SARIF_RESULTS),
            },
        });
        // `{ "$schema", "version", "runs": [ { …run, "results": [ streamed ] } ] }`
        let head = serde_json::to_string_pretty(&head)?;
        w.write_all(head.strip_suffix('}').unwrap_or(&head).trim_end().as_bytes())?;
        w.write_all(b",\n  \"runs\": [\n    ")?;
        let run = serde_json::to_string(&run)?;
        w.write_all(run.strip_suffix('}').unwrap_or(&run).as_bytes())?;
        w.write_all(b",\"results\":[")?;
        let mut first = true;
        for c in &self.name_findings {
            if !first {
                w.write_all(b",")?;
            }
            first = false;
            w.write_all(b"\n      ")?;
            serde_json::to_writer(&mut w, &name_result(c))?;
        }
        self.first_findings(src, SARIF_RESULTS, &mut |r| {
            if !first {
                w.write_all(b",")?;
            }
            first = false;
            w.write_all(b"\n      ")?;
            serde_json::to_writer(&mut w, &result(r))?;
            Ok(())
        })?;
        w.write_all(b"\n    ]}\n  ]\n}\n")?;
        w.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn zone_file_locations_become_file_and_line() {
        use dangle_model::Location;
        let line = Location::Line { file: "zones/example.com.zone".into(), line: 22 };
        assert_eq!(super::file_line(Some(&line)), Some(("zones/example.com.zone", 22)));
        assert_eq!(super::file_line(Some(&Location::Place("route53 hosted zone Z1".into()))), None);
        assert_eq!(super::file_line(Some(&Location::Place("/subscriptions/x/resourceGroups/y".into()))), None);
        assert_eq!(super::segment("acme corp/z"), "acme%20corp%2Fz");
        assert_eq!(super::pascal("dangling-address"), "DanglingAddress");
    }
}

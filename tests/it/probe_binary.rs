//! `dangle scan` with the prober on, and `dangle probe`, as whole binaries inside a fresh network
//! namespace (`unshare -n`, loopback only). Two rustls servers run in there (dangle-tls-bench serve):
//! a foreign one, certified by a public CA for our names, where a released colo address now leads; and
//! our own, certified by our CA, still answering at an address nothing we inventory holds. Certificates
//! are made by rcgen when the test runs.

use std::path::Path;
use std::process::Command;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};


use crate::common::copy_dir;

fn netns() -> bool {
    Command::new("unshare").args(["-n", "true"]).status().is_ok_and(|s| s.success())
}

const SCRIPT: &str = r#"
set -eu
ip link set lo up
"$BENCH" serve --cert foreign.pem --key foreign.key --listen 127.0.0.1:8441 --ready ready1 >/dev/null &
"$BENCH" serve --cert ours.pem --key ours.key --listen 127.0.0.1:8442 --ready ready2 >/dev/null &
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
for _ in $(seq 200); do [ -e ready1 ] && [ -e ready2 ] && break; sleep 0.05; done
set +e
"$DANGLE" -v scan --out out >scan.out 2>scan.err; echo $? >scan.rc
"$DANGLE" report --run 1 --out again >/dev/null 2>again.err; echo $? >again.rc
"$DANGLE" probe 127.0.0.1:8441 --sni preview-lb.example.com --trust-anchor org-ca.pem --json >probe.json 2>probe.err; echo $? >probe.rc
"$DANGLE" probe printer.example.com --connect-to printer.example.com=127.0.0.1:8442 --trust-anchor org-ca.pem >probe.txt 2>>probe.err; echo $? >probe2.rc
"$DANGLE" scan --no-probe --out out2 >/dev/null 2>&1; echo $? >noprobe.rc
"#;

const PROBE: &str = r#"
[probe]
enabled = true
trust_anchors = ["org-ca.pem"]
connect_timeout_ms = 500
handshake_timeout_ms = 1000
allow_dial = ["127.0.0.0/8"]
# Nothing answers here: names that are not mapped below do not resolve.
nameservers = ["127.0.0.1:1"]
[probe.connect_to]
"198.51.100.77" = "127.0.0.1:8441"
"192.0.2.200" = "127.0.0.1:8442"

# Targets named by the user, probed on every scan whatever the records say.
[[probe.targets]]
target = "198.51.100.77"
sni = "www.example.com"
[[probe.targets]]
target = "127.0.0.1:8442"
sni = "printer.example.com"
"#;

fn read(dir: &Path, f: &str) -> String {
    std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"))
}

/// A CA, and a leaf for `names` it signs, written as `stem.pem` (leaf then CA) and `stem.key`.
fn pki(dir: &Path, ca_name: &str, stem: &str, names: &[&str]) -> rcgen::Certificate {
    let ca_key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, ca_name);
    let ca = p.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut lp = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    lp.distinguished_name.push(DnType::CommonName, names[0]);
    let leaf = lp.signed_by(&key, &ca, &ca_key).unwrap();
    std::fs::write(dir.join(format!("{stem}.pem")), format!("{}{}", leaf.pem(), ca.pem())).unwrap();
    std::fs::write(dir.join(format!("{stem}.key")), key.serialize_pem()).unwrap();
    ca
}

/// The CSV row of a record in `csv`, as a map from column to value.
fn row(csv: &str, name: &str) -> std::collections::HashMap<String, String> {
    let mut r = csv::Reader::from_reader(csv.as_bytes());
    let head: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    for rec in r.records() {
        let rec = rec.unwrap();
        if &rec[0] == name {
            return head.iter().cloned().zip(rec.iter().map(String::from)).collect();
        }
    }
    panic!("no row for {name} in:\n{csv}");
}

#[test]
fn scan_probes_dangling_targets_and_a_foreign_answer_is_critical() {
    assert!(netns(), "this test needs `unshare -n` (a network namespace with only loopback) and `ip`");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo"), d);
    // One more released colo address that nothing maps to loopback: allow_dial must stop it.
    let zone = d.join("zones/example.com.zone");
    std::fs::write(&zone, read(d, "zones/example.com.zone") + "gone        A     198.51.100.99\n").unwrap();
    let config = read(d, "dangle.toml");
    let config = config.split("[probe]").next().unwrap().to_string() + PROBE;
    std::fs::write(d.join("dangle.toml"), config).unwrap();
    let org = pki(d, "Example Org Root CA", "ours", &["printer.example.com"]);
    std::fs::write(d.join("org-ca.pem"), org.pem()).unwrap();
    pki(d, "Some Public CA", "foreign", &["preview-lb.example.com", "*.preview.example.com"]);
    std::fs::write(d.join("run.sh"), SCRIPT).unwrap();

    let status = Command::new("unshare")
        .args(["-n", "bash", "run.sh"])
        .current_dir(d)
        .env("DANGLE", env!("CARGO_BIN_EXE_dangle"))
        .env("BENCH", env!("CARGO_BIN_EXE_dangle-tls-bench"))
        .status()
        .unwrap();
    assert!(status.success(), "run.sh failed");
    let scan_err = read(d, "scan.err");
    assert_eq!(read(d, "scan.rc").trim(), "1", "findings at or above high; stderr:\n{scan_err}");

    let findings = read(d, "out/findings.csv");
    // A released colo address where a foreign server now answers for our name: critical, with who.
    let lb = row(&findings, "preview-lb.example.com");
    assert_eq!((lb["status"].as_str(), lb["severity"].as_str(), lb["probe_verdict"].as_str()), ("dangling", "critical", "foreign"), "{lb:?}");
    assert!(lb["reason"].contains("a foreign server answers there") && lb["reason"].contains("Some Public CA"), "{}", lb["reason"]);
    assert!(lb["probe_detail"].contains("198.51.100.77:443 (dialed 127.0.0.1:8441)"), "{}", lb["probe_detail"]);
    // The wildcard that chains to it, probed with a wildcard SNI at the address our own zone gives its
    // target (no DNS query: the name server configured here answers nothing).
    let wc = row(&findings, "*.preview.example.com");
    assert_eq!((wc["severity"].as_str(), wc["probe_verdict"].as_str()), ("critical", "foreign"), "{wc:?}");
    assert!(wc["probe_detail"].starts_with("198.51.100.77:443 (dialed 127.0.0.1:8441)"), "{}", wc["probe_detail"]);
    // Our own certificate at an address nothing inventoried holds: ours, severity kept, and said so.
    let pr = row(&findings, "printer.example.com");
    assert_eq!((pr["severity"].as_str(), pr["probe_verdict"].as_str()), ("medium", "ours"), "{pr:?}");
    assert!(pr["reason"].contains("our own certificate answers there"), "{}", pr["reason"]);
    // Outside allow_dial: never dialed.
    let gone = row(&findings, "gone.example.com");
    assert_eq!((gone["severity"].as_str(), gone["probe_verdict"].as_str()), ("high", "not_probed"), "{gone:?}");
    assert!(gone["probe_detail"].contains("allow_dial"), "{}", gone["probe_detail"]);
    // A name that does not resolve: no answer.
    let old = row(&findings, "old-app.example.com");
    assert_eq!(old["probe_verdict"], "no_answer", "{old:?}");
    // Owned and external rows are not probed; SRV targets are not HTTPS.
    let records = read(d, "out/records.csv");
    assert_eq!(row(&records, "api.example.com")["probe_verdict"], "not_probed");
    assert_eq!(row(&records, "_sip._tcp.example.com")["probe_verdict"], "not_probed");

    // The Markdown report and the table grow a probe column.
    let md = read(d, "out/report.md");
    assert!(md.contains("| critical | confirmed | dangling | preview-lb.example.com | A | 198.51.100.77 | yes | foreign |"), "{md}");
    let table = read(d, "scan.out");
    assert!(table.contains("PROBE") && table.lines().any(|l| l.starts_with("critical") && l.contains("foreign")), "{table}");

    // The JSON report carries the full evidence.
    let json: serde_json::Value = serde_json::from_str(&read(d, "out/report.json")).unwrap();
    let lbj = json["rows"].as_array().unwrap().iter().find(|r| r["record_name"] == "preview-lb.example.com").unwrap();
    let ev = &lbj["probes"][0];
    assert_eq!(ev["verdict"], "foreign");
    assert_eq!(ev["address"], "198.51.100.77:443");
    assert_eq!(ev["dialed"], "127.0.0.1:8441");
    assert_eq!(ev["sni"], "preview-lb.example.com");
    assert!(ev["tls_version"].as_str().unwrap().contains("TLSv1_3"), "{ev}");
    assert!(ev["chain"][0]["issuer"].as_str().unwrap().contains("Some Public CA"), "{ev}");
    assert_eq!(ev["chain"][0]["spki_sha256"].as_str().unwrap().len(), 64);

    // Named targets: each with its verdict and evidence, in the JSON and the Markdown.
    let named = json["named_probes"].as_array().expect("named_probes");
    assert_eq!(named.len(), 2, "{named:?}");
    assert_eq!((named[0]["target"].as_str(), named[0]["verdict"].as_str()), (Some("198.51.100.77"), Some("foreign")));
    assert_eq!(named[0]["probes"][0]["dialed"], "127.0.0.1:8441");
    assert_eq!((named[1]["target"].as_str(), named[1]["verdict"].as_str()), (Some("127.0.0.1:8442"), Some("ours")));
    assert!(md.contains("## Named targets") && md.contains("| 198.51.100.77 | www.example.com | foreign |"), "{md}");
    assert!(table.contains("named targets"), "{table}");

    // The scan wrote its files from the run in memory while it stored it; the stored run renders the
    // same bytes, probe evidence, reasons and named targets included.
    assert_eq!(read(d, "again.rc").trim(), "0", "{}", read(d, "again.err"));
    for f in ["records.csv", "findings.csv", "assets.csv", "gaps.csv", "report.md", "report.json"] {
        assert_eq!(read(d, &format!("out/{f}")), read(d, &format!("again/{f}")), "{f}");
    }

    // `dangle probe`: the same foreign server, as JSON, exit 1; our server by name through connect_to, exit 0.
    assert_eq!(read(d, "probe.rc").trim(), "1", "{}", read(d, "probe.err"));
    let pj: serde_json::Value = serde_json::from_str(&read(d, "probe.json")).unwrap();
    assert_eq!(pj[0]["verdict"], "foreign", "{pj}");
    assert_eq!(read(d, "probe2.rc").trim(), "0", "{}", read(d, "probe.err"));
    let txt = read(d, "probe.txt");
    assert!(txt.contains("verdict    ours") && txt.contains("issuer  CN=Example Org Root CA"), "{txt}");

    // --no-probe: judged only.
    assert_eq!(read(d, "noprobe.rc").trim(), "1");
    let lb2 = row(&read(d, "out2/findings.csv"), "preview-lb.example.com");
    assert_eq!((lb2["severity"].as_str(), lb2["probe_verdict"].as_str()), ("high", "not_probed"), "{lb2:?}");
    let json2: serde_json::Value = serde_json::from_str(&read(d, "out2/report.json")).unwrap();
    assert!(json2.get("named_probes").is_none(), "nothing probed with --no-probe");
}

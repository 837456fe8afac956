//! Certificate baselines of owned endpoints (`[probe] baseline`), against rustls servers on loopback
//! (dangle_testkit::Tls) with rcgen certificates: a certificate about to expire, a key rotated under
//! our own CA, an issuer that is not ours, and a dangling address that answers with a key our own
//! endpoint showed (ours by key continuity).

use std::path::Path;

use dangle::config::Config;
use dangle::store::Store;
use dangle_testkit::Tls;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn ca(name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    Ca { cert: p.self_signed(&key).unwrap(), key }
}

/// A leaf for `name` on `key`, signed by `ca`, valid until `days` from now: (chain PEM, key PEM).
fn leaf(ca: &Ca, key: &KeyPair, name: &str, days: u64) -> (String, String) {
    let mut p = CertificateParams::new(vec![name.to_string()]).unwrap();
    p.distinguished_name.push(DnType::CommonName, name);
    let end = dangle::store::format_unix(dangle::time::unix_now() as u64 + days * 86_400);
    let (y, m, d) = (end[..4].parse().unwrap(), end[5..7].parse().unwrap(), end[8..10].parse().unwrap());
    p.not_after = rcgen::date_time_ymd(y, m, d);
    let cert = p.signed_by(key, &ca.cert, &ca.key).unwrap();
    (format!("{}{}", cert.pem(), ca.cert.pem()), key.serialize_pem())
}

/// The estate: `api.example.org` (owned: 192.0.2.10 is in the static list) and `old.example.org`
/// (dangling: 192.0.2.200 is not), each sent by connect_to to a local TLS server.
fn estate(dir: &Path, api: &Tls, old: &Tls) {
    std::fs::write(dir.join("example.org.zone"), "$ORIGIN example.org.\n$TTL 300\n@ SOA ns1 h 1 3600 600 604800 300\n@ NS ns1\nns1 A 192.0.2.53\napi A 192.0.2.10\nold A 192.0.2.200\n").unwrap();
    std::fs::write(dir.join("owned.csv"), "id,kind,account,region,ips,hosts\ndc,static,dc,fra1,192.0.2.0/25,\n").unwrap();
    let cfg = format!(
        r#"db = "dangle.sqlite"
[[providers]]
type = "zonefile"
name = "example.org"
path = "example.org.zone"
[[providers]]
type = "static"
name = "dc"
path = "owned.csv"
[[ranges]]
cidr = "192.0.2.0/24"
provider = "dc"
[probe]
baseline = true
trust_anchors = ["org-ca.pem"]
connect_timeout_ms = 1000
handshake_timeout_ms = 2000
allow_dial = ["127.0.0.0/8"]
nameservers = ["127.0.0.1:1"]
[probe.connect_to]
"192.0.2.10" = "{}"
"192.0.2.200" = "{}"
[signals]
fingerprints = false
[signals.dns]
delegations = false
"#,
        api.addr, old.addr
    );
    std::fs::write(dir.join("dangle.toml"), cfg).unwrap();
}

/// One scan with probing, as `dangle scan --out out`; returns the report's certificate findings as
/// (kind, severity, detail) and the exit count at `high`.
fn scan(dir: &Path) -> (Vec<(String, String, String)>, usize, i64) {
    let dir = dir.to_path_buf();
    std::thread::spawn(move || {
        let cfg = Config::load(&dir.join("dangle.toml")).unwrap();
        let mut store = Store::open(&cfg.db).unwrap();
        let out = dir.join("out");
        let outputs = dangle::pipeline::Outputs { dir: Some(&out), ..Default::default() };
        let s = dangle::pipeline::scan_into(&cfg, &mut store, true, std::time::Duration::from_secs(30), outputs).unwrap();
        let certs = s.report.name_findings.iter().map(|c| (c.kind.as_str().to_string(), c.severity.to_string(), c.detail.clone())).collect();
        (certs, s.report.count_failing(dangle::reconcile::Severity::High, dangle::reconcile::Confidence::Tentative), s.run)
    })
    .join()
    .unwrap()
}

#[test]
fn owned_endpoints_keep_a_baseline_and_a_changed_issuer_or_an_expiry_is_a_finding() {
    let org = ca("Example Org CA");
    let public = ca("Some Public CA");
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    std::fs::write(dir.join("org-ca.pem"), org.cert.pem()).unwrap();
    let k1 = KeyPair::generate().unwrap();
    let (c1, p1) = leaf(&org, &k1, "api.example.org", 10);
    let nothing = Tls::start(&c1, &p1); // the dangling address answers with something of ours only later

    // Run 1: the baseline is made; the certificate expires in 10 days (within 21): medium.
    let api = Tls::start(&c1, &p1);
    estate(dir, &api, &nothing);
    let (certs, _, _) = scan(dir);
    assert_eq!(certs.len(), 1, "{certs:?}");
    assert_eq!((certs[0].0.as_str(), certs[0].1.as_str()), ("expiring", "medium"));
    assert!(certs[0].2.starts_with("the certificate expires on ") && (certs[0].2.contains("(in 9 days)") || certs[0].2.contains("(in 10 days)")), "{certs:?}");

    // Run 2: a new key, certified by our CA, valid a year: a rotation, said as info.
    let k2 = KeyPair::generate().unwrap();
    let (c2, p2) = leaf(&org, &k2, "api.example.org", 365);
    let api = Tls::start(&c2, &p2);
    estate(dir, &api, &nothing);
    let (certs, _, _) = scan(dir);
    assert_eq!(certs.len(), 1, "{certs:?}");
    assert_eq!((certs[0].0.as_str(), certs[0].1.as_str()), ("key-rotated", "info"));
    assert!(certs[0].2.starts_with("key rotated since run 1: ") && certs[0].2.contains("certified by our own CA"), "{certs:?}");

    // Run 3: the same key again: nothing to say.
    estate(dir, &api, &nothing);
    assert!(scan(dir).0.is_empty());

    // Run 4: the dangling address answers with the key api.example.org showed, under a certificate
    // from a CA we do not trust: ours by key continuity, not a foreign takeover.
    let (c3, p3) = leaf(&public, &k2, "old.example.org", 365);
    let old = Tls::start(&c3, &p3);
    estate(dir, &api, &old);
    let (_, _, run) = scan(dir);
    let store = Store::open_existing(&dir.join("dangle.sqlite")).unwrap();
    let rows = store.rows(run).unwrap();
    let old_row = rows.iter().find(|r| r.record_name.trim_end_matches('.') == "old.example.org").unwrap();
    assert_eq!(old_row.probe_verdict, dangle::probe::Verdict::Ours, "{old_row:#?}");
    assert!(old_row.reason.contains("yet our own key answers there, the one api.example.org has shown (key continuity"), "{}", old_row.reason);
    assert_ne!(old_row.severity.to_string(), "critical");
    let api_row = rows.iter().find(|r| r.record_name.trim_end_matches('.') == "api.example.org").unwrap();
    assert_eq!((api_row.probe_verdict, api_row.confidence.as_str()), (dangle::probe::Verdict::Ours, "confirmed"), "owned rows are probed with baselines on");
    drop(store);

    // Run 5: api.example.org answers with a certificate from another CA, on another key: high, and
    // it counts for the exit code.
    let k4 = KeyPair::generate().unwrap();
    let (c4, p4) = leaf(&public, &k4, "api.example.org", 365);
    let api = Tls::start(&c4, &p4);
    estate(dir, &api, &nothing);
    let (certs, failing, run) = scan(dir);
    assert_eq!(certs.len(), 1, "{certs:?}");
    assert_eq!((certs[0].0.as_str(), certs[0].1.as_str()), ("issuer-changed", "high"));
    assert!(certs[0].2.starts_with("issuer changed since run 2: was CN=Example Org CA"), "{certs:?}");
    assert!(failing >= 1);

    // The stored run says the same in every format.
    let store = Store::open_existing(&dir.join("dangle.sqlite")).unwrap();
    let report = dangle::report::Report::load(&store, run).unwrap();
    assert_eq!(report.name_findings.len(), 1);
    report.write_dir(&dangle::report::Stored { store: &store, run }, &dir.join("again")).unwrap();
    for f in ["findings.csv", "report.md", "report.json", "report.html", "report.sarif"] {
        let (a, b) = (std::fs::read_to_string(dir.join("out").join(f)).unwrap(), std::fs::read_to_string(dir.join("again").join(f)).unwrap());
        assert!(a == b, "{f} differs between the scan and report --run");
    }
    // report.json and report.sarif still match their schemas with certificate findings in them.
    use crate::formats::{json, valid, validator};
    let doc = json(&dir.join("out/report.json"));
    assert_eq!(doc["name_findings"][0]["kind"], "issuer-changed");
    valid(&validator("schemas/report.schema.json"), &doc, "report.json");
    let log = json(&dir.join("out/report.sarif"));
    valid(&validator("fixtures/sarif/sarif-schema-2.1.0.json"), &log, "report.sarif");
    let first = &log["runs"][0]["results"][0];
    assert_eq!((first["ruleId"].as_str(), first["level"].as_str()), (Some("owned-endpoint-certificate"), Some("error")), "{first:#}");
    let md = std::fs::read_to_string(dir.join("out/report.md")).unwrap();
    assert!(md.contains("## Live checks of our names") && md.contains("| high | api.example.org |"), "{md}");
}

#[test]
fn certificate_transparency_names_certificates_for_owned_names_on_keys_we_have_not_seen() {
    let org = ca("Example Org CA");
    let public = ca("Some Public CA");
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    std::fs::write(dir.join("org-ca.pem"), org.cert.pem()).unwrap();
    let ours = KeyPair::generate().unwrap();
    let (chain, key) = leaf(&org, &ours, "api.example.org", 365);
    let api = Tls::start(&chain, &key);
    // What the CT log lists for api.example.org: an old certificate (before dangle watched the
    // name), one on our own key, one on a key no endpoint of ours has shown.
    let theirs = KeyPair::generate().unwrap();
    let (foreign_pem, _) = leaf(&public, &theirs, "api.example.org", 90);
    let (own_pem, _) = leaf(&org, &ours, "api.example.org", 365);
    let soon = dangle::store::format_unix(dangle::time::unix_now() as u64 + 60);
    let soon = soon.trim_end_matches('Z');
    let entry = |id: u64, nb: &str, issuer: &str| serde_json::json!({"id": id, "issuer_name": issuer, "common_name": "api.example.org", "name_value": "api.example.org", "not_before": nb, "not_after": "2099-01-01T00:00:00"});
    let search = serde_json::json!([entry(300, "2020-01-01T00:00:00", "CN=Old CA"), entry(301, soon, "CN=Some Public CA"), entry(302, soon, "CN=Example Org CA")]).to_string();
    let first_pem = |pem: &str| pem.split_inclusive("-----END CERTIFICATE-----\n").next().unwrap().to_string();
    let ct = dangle_testkit::Http::start(vec![
        ("/?q=api.example.org&output=json".into(), dangle_testkit::Reply::new(200, search)),
        ("/?d=301".into(), dangle_testkit::Reply::new(200, first_pem(&foreign_pem))),
        ("/?d=302".into(), dangle_testkit::Reply::new(200, first_pem(&own_pem))),
    ]);
    estate(dir, &api, &api);
    let cfg = std::fs::read_to_string(dir.join("dangle.toml")).unwrap();
    std::fs::write(dir.join("dangle.toml"), format!("{cfg}[signals.ct]\nurl = \"http://{}\"\nrequests_per_second = 50\n", ct.addr)).unwrap();
    for run in 1..=2 {
        let (certs, failing, _) = scan(dir);
        let unknown: Vec<_> = certs.iter().filter(|c| c.0 == "unknown-key").collect();
        assert_eq!(unknown.len(), 1, "run {run}: {certs:?}");
        assert_eq!(unknown[0].1, "high");
        assert!(unknown[0].2.starts_with("a certificate for api.example.org issued on ") && unknown[0].2.contains("(log id 301) is on a key none of our endpoints has shown"), "{unknown:?}");
        assert!(failing >= 1);
    }
    // One search for the dangling name (old.example.org), one for the owned name and one download per
    // certificate listed since the baseline began; then the cache: the second run asked nothing. (The
    // old certificate is never fetched.)
    assert_eq!(ct.hosts().len(), 4, "{:?}", ct.hosts());
}

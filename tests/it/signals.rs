//! Second opinions that reach the targets, against local servers only: the service fingerprints (one
//! DNS lookup or one HTTP request per flagged cloud / SaaS CNAME) with an authoritative name server
//! (hickory-server, dangle_testkit::Dns) serving the provider zones and an HTTP server
//! (dangle_testkit::Http) playing the services' recorded answers. The scan dials loopback only
//! (`allow_dial`) and resolves through the local name server only.

use std::path::Path;

use dangle::config::Config;
use dangle::store::Store;
use dangle_testkit::{Dns, Http, Reply};

const ZONE: &str = r#"$ORIGIN example.net.
$TTL 300
@       SOA   ns1 hostmaster 1 3600 600 604800 300
@       NS    ns1
ns1     A     192.0.2.53
docs    CNAME gone-project.readme.io.                    ; Readme.io shows its "unclaimed" page
help    CNAME kept-project.readme.io.                    ; a live docs site
shop    CNAME old-env.us-east-1.elasticbeanstalk.com.    ; the environment is gone: NXDOMAIN
app     CNAME live-env.us-east-1.elasticbeanstalk.com.   ; a live environment
media   CNAME media.example.net.s3.amazonaws.com.        ; S3: NoSuchBucket
files   CNAME files.example.net.s3.amazonaws.com.        ; S3: the bucket exists (AccessDenied)
pages   CNAME someone.github.io.                         ; GitHub Pages: an edge case
tunnel  CNAME abc123.ngrok.io.                           ; a regular-expression fingerprint
lb      CNAME gone-1.us-east-1.elb.amazonaws.com.        ; NXDOMAIN, but nobody else can claim an ELB name
www     CNAME example-site.pages.zz.                     ; no fingerprint: never asked; no server answers for it
sub     NS    ns-101.awsdns-12.com.                      ; Route53's servers refuse it: lame at a hosted service
sub     NS    ns-900.awsdns-50.net.
labs    NS    ns1.gone-dns-vendor.test.                  ; the server's own name does not exist
ok      NS    ns.served.test.                            ; the server serves the sub-zone
half    NS    ns.served.test.                            ; the same server refuses this one
legacy  CNAME app.gone-vendor.test.                      ; nobody has registered gone-vendor.test
partner CNAME missing.served.test.                       ; served.test exists, missing.served.test does not
"#;

/// The provider zones the local name server holds.
const PROVIDER_ZONES: &[(&str, &str)] = &[
    (
        "us-east-1.elasticbeanstalk.com.",
        "@ 300 SOA ns hostmaster 1 3600 600 604800 300\n@ 300 NS ns\nns 300 A 127.0.0.53\nlive-env 60 A 203.0.113.80\n",
    ),
    ("us-east-1.elb.amazonaws.com.", "@ 300 SOA ns hostmaster 1 3600 600 604800 300\n@ 300 NS ns\nns 300 A 127.0.0.53\n"),
    // The name servers' own zone, and the one sub-zone a server serves.
    ("test.", "@ 300 SOA ns.served hostmaster 1 3600 600 604800 300\n@ 300 NS ns.served\nns.served 300 A 127.0.0.53\n"),
    ("ok.example.net.", "@ 300 SOA ns.served.test. hostmaster 1 3600 600 604800 300\n@ 300 NS ns.served.test.\nwww 300 A 192.0.2.80\n"),
];

fn estate(dns: &Dns, http: &Http, signals: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("example.net.zone"), ZONE).unwrap();
    std::fs::write(d.path().join("owned.csv"), "id,kind,account,region,ips,hosts\ndc,static,dc,fra1,192.0.2.0/24,\n").unwrap();
    let hosts = ["gone-project.readme.io", "kept-project.readme.io", "media.example.net.s3.amazonaws.com", "files.example.net.s3.amazonaws.com", "someone.github.io", "abc123.ngrok.io"];
    let mut connect_to: String = hosts.iter().map(|h| format!("\"{h}\" = \"{}\"\n", http.addr)).collect();
    // The delegations' name servers are all the local one (port 53 of each name goes there).
    for ns in ["ns-101.awsdns-12.com", "ns-900.awsdns-50.net", "ns.served.test"] {
        connect_to.push_str(&format!("\"{ns}:53\" = \"{}\"\n", dns.addr));
    }
    let cfg = format!(
        r#"db = "dangle.sqlite"
[[providers]]
type = "zonefile"
name = "example.net"
path = "example.net.zone"
[[providers]]
type = "static"
name = "dc"
path = "owned.csv"
[[ranges]]
cidr = "192.0.2.0/24"
provider = "dc"
[probe]
connect_timeout_ms = 1000
handshake_timeout_ms = 2000
allow_dial = ["127.0.0.0/8"]
nameservers = ["{dns}"]
[probe.connect_to]
{connect_to}
[signals]
{signals}
"#,
        dns = dns.addr
    );
    std::fs::write(d.path().join("dangle.toml"), cfg).unwrap();
    let p = d.path().to_path_buf();
    (d, p)
}

fn servers() -> (Dns, Http) {
    let dns = Dns::start(PROVIDER_ZONES);
    let http = Http::start(vec![
        ("docs.example.net".into(), Reply::new(200, "<html><h1>Project doesnt exist... yet!</h1><p>The creators of this project are still working on making everything perfect!</p></html>")),
        ("help.example.net".into(), Reply::new(200, "<html><h1>Help centre</h1></html>")),
        ("media.example.net".into(), Reply::new(404, "<?xml version=\"1.0\"?><Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message><BucketName>media.example.net</BucketName></Error>")),
        ("files.example.net".into(), Reply::new(403, "<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>")),
        ("pages.example.net".into(), Reply::new(404, "<html><title>Site not found · GitHub Pages</title><h1>404</h1><p><strong>There isn't a GitHub Pages site here.</strong></p></html>")),
        ("tunnel.example.net".into(), Reply::new(404, "Tunnel abc123.ngrok.io not found\n")),
    ]);
    (dns, http)
}

/// Scans like `dangle scan --out out` (with probing), off the test's thread: the scan runs its own
/// runtime.
fn scan(dir: &Path) -> i64 {
    scan_probing(dir, true)
}

/// Scans without probing (CT is no probe of the targets).
fn scan_quiet(dir: &Path) -> i64 {
    scan_probing(dir, false)
}

fn scan_probing(dir: &Path, probe: bool) -> i64 {
    let dir = dir.to_path_buf();
    std::thread::spawn(move || {
        let cfg = Config::load(&dir.join("dangle.toml")).unwrap();
        let mut store = Store::open(&cfg.db).unwrap();
        let out = dir.join("out");
        let outputs = dangle::pipeline::Outputs { dir: Some(&out), ..Default::default() };
        dangle::pipeline::scan_into(&cfg, &mut store, probe, std::time::Duration::from_secs(30), outputs).unwrap().run
    })
    .join()
    .unwrap()
}

/// findings.csv as (record name → (severity, confidence, kind, reason)).
fn findings(dir: &Path) -> std::collections::BTreeMap<String, (String, String, String, String)> {
    let mut r = csv::Reader::from_path(dir.join("out/findings.csv")).unwrap();
    let h = r.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap_or_else(|| panic!("column {n}"));
    let (name, sev, conf, kind, reason) = (col("record_name"), col("severity"), col("confidence"), col("kind"), col("reason"));
    r.records()
        .map(|x| {
            let x = x.unwrap();
            (x[name].trim_end_matches('.').to_string(), (x[sev].to_string(), x[conf].to_string(), x[kind].to_string(), x[reason].to_string()))
        })
        .collect()
}

#[test]
fn fingerprints_raise_what_the_services_say_is_unclaimed_and_nothing_else() {
    let (dns, http) = servers();
    let (_d, dir) = estate(&dns, &http, "");
    let run = scan(&dir);
    let f = findings(&dir);
    let get = |n: &str| f.get(n).unwrap_or_else(|| panic!("{n} is a finding: {f:#?}"));

    // Unclaimed at a service where anyone can claim it: high, and the reason quotes the answer.
    let (sev, conf, kind, reason) = get("docs.example.net");
    assert_eq!((sev.as_str(), conf.as_str(), kind.as_str()), ("high", "firm", "external-takeover-prone"), "{reason}");
    assert!(reason.contains("Readme.io fingerprint (can-i-take-over-xyz (CC BY 4.0)): HTTP 200 from 127.0.0.1:"), "{reason}");
    assert!(reason.contains("anyone can claim it now"), "{reason}");
    let (sev, _, _, reason) = get("shop.example.net");
    assert_eq!(sev, "high", "{reason}");
    assert!(reason.contains("`old-env.us-east-1.elasticbeanstalk.com` does not exist (NXDOMAIN)"), "{reason}");
    let (sev, _, _, reason) = get("media.example.net");
    assert_eq!(sev, "high", "{reason}");
    assert!(reason.contains("AWS/S3 fingerprint (") && reason.contains("HTTP 404 from 127.0.0.1:"), "{reason}");
    let (sev, _, _, reason) = get("tunnel.example.net");
    assert_eq!(sev, "high", "a regular-expression fingerprint: {reason}");
    // An edge case: medium, tentative.
    let (sev, conf, _, reason) = get("pages.example.net");
    assert_eq!((sev.as_str(), conf.as_str()), ("medium", "tentative"), "{reason}");
    assert!(reason.contains("under conditions"), "{reason}");

    // A live site, a live environment, a held bucket and a name nobody else can claim: the
    // inventory's judgement stands (low at most), with what was seen in the reason where it matched.
    for n in ["help.example.net", "app.example.net"] {
        let (sev, _, _, reason) = get(n);
        assert_ne!(sev, "high", "{n}: {reason}");
        assert!(!reason.contains("fingerprint"), "{n}: {reason}");
    }
    let (sev, _, _, reason) = get("files.example.net");
    assert_ne!(sev, "high", "{reason}");
    assert!(reason.contains("the name is held there"), "{reason}");
    let (sev, _, _, reason) = get("lb.example.net");
    assert_ne!(sev, "high", "{reason}");
    assert!(reason.contains("does not let anyone else claim the name"), "{reason}");

    // One HTTP request per target with a body fingerprint, the record name as Host; none to a
    // target that does not exist, to NXDOMAIN-only services, or to names without a fingerprint.
    let mut hosts = http.hosts();
    hosts.sort();
    assert_eq!(hosts, ["docs.example.net", "files.example.net", "help.example.net", "media.example.net", "pages.example.net", "tunnel.example.net"]);

    // The store keeps it: the report of the stored run is the scan's, byte for byte.
    let store = Store::open_existing(&dir.join("dangle.sqlite")).unwrap();
    let report = dangle::report::Report::load(&store, run).unwrap();
    report.write_dir(&dangle::report::Stored { store: &store, run }, &dir.join("again")).unwrap();
    for f in ["records.csv", "findings.csv", "report.json", "report.sarif"] {
        let (a, b) = (std::fs::read_to_string(dir.join("out").join(f)).unwrap(), std::fs::read_to_string(dir.join("again").join(f)).unwrap());
        assert!(a == b, "{f} differs between the scan and report --run");
    }
}

#[test]
fn signals_off_send_nothing_and_change_nothing() {
    let (dns, http) = servers();
    let (_d, dir) = estate(&dns, &http, "fingerprints = false\n[signals.dns]\ndelegations = false\nchains = false");
    scan(&dir);
    let f = findings(&dir);
    assert!(http.hosts().is_empty(), "{:?}", http.hosts());
    for (n, (sev, _, _, reason)) in &f {
        assert!(!reason.contains("fingerprint") && !reason.contains("asked now") && !reason.contains("resolved now"), "{n}: {reason}");
        assert_ne!(sev, "high", "{n}: {reason}");
    }
}

#[test]
fn delegations_whose_servers_do_not_serve_the_zone_are_findings_without_any_inventory() {
    let (dns, http) = servers();
    let (_d, dir) = estate(&dns, &http, "");
    scan(&dir);
    let f = findings(&dir);
    let get = |n: &str| f.get(n).unwrap_or_else(|| panic!("{n} is a finding: {f:#?}"));
    // Route53's servers refuse the sub-zone: anyone who creates it there may be handed them. No AWS
    // provider is configured: this was `external`, `low`.
    let (sev, conf, kind, reason) = get("sub.example.net");
    assert_eq!((sev.as_str(), conf.as_str(), kind.as_str()), ("high", "firm", "dangling-delegation"), "{reason}");
    assert!(reason.contains("answers REFUSED for `sub.example.net`: it does not host the zone"), "{reason}");
    assert!(reason.contains("anyone who creates `sub.example.net` at Route53 and is given this server answers for the whole zone"), "{reason}");
    let (sev, _, _, reason) = get("labs.example.net");
    assert_eq!(sev, "high", "{reason}");
    assert!(reason.contains("`ns1.gone-dns-vendor.test` does not exist (NXDOMAIN): whoever registers its domain"), "{reason}");
    let (sev, _, kind, reason) = get("half.example.net");
    assert_eq!((sev.as_str(), kind.as_str()), ("medium", "dangling-delegation"), "{reason}");
    assert!(reason.contains("the delegation is lame"), "{reason}");
    // A server that serves its sub-zone: as judged.
    let (sev, _, _, reason) = get("ok.example.net");
    assert_ne!(sev, "high", "{reason}");
    assert!(!reason.contains("asked now"), "{reason}");
}

/// A crt.sh answer: (name, not_before, issuer, id) per certificate.
fn crt_sh(certs: &[(&str, &str, &str, u64)]) -> String {
    let v: Vec<serde_json::Value> = certs
        .iter()
        .map(|(name, nb, issuer, id)| serde_json::json!({"issuer_ca_id": 1, "issuer_name": issuer, "common_name": name, "name_value": name, "id": id, "entry_timestamp": nb, "not_before": nb, "not_after": "2099-01-01T00:00:00", "serial_number": "01"}))
        .collect();
    serde_json::Value::Array(v).to_string()
}

fn ct_estate(url: &str, max_age_hours: u64, dir: &Path) {
    std::fs::write(dir.join("example.org.zone"), "$ORIGIN example.org.\n$TTL 300\n@ SOA ns1 h 1 3600 600 604800 300\n@ NS ns1\nns1 A 192.0.2.53\ngone A 192.0.2.200\nkept A 192.0.2.10\n").unwrap();
    std::fs::write(dir.join("owned.csv"), "id,kind,account,region,ips,hosts\ndc,static,dc,fra1,192.0.2.0/25,\n").unwrap();
    let cfg = format!(
        "db = \"dangle.sqlite\"\n[[providers]]\ntype = \"zonefile\"\nname = \"example.org\"\npath = \"example.org.zone\"\n[[providers]]\ntype = \"static\"\nname = \"dc\"\npath = \"owned.csv\"\n[[ranges]]\ncidr = \"192.0.2.0/24\"\nprovider = \"dc\"\n[signals.ct]\nurl = \"{url}\"\nmax_age_hours = {max_age_hours}\nrequests_per_second = 50\n"
    );
    std::fs::write(dir.join("dangle.toml"), cfg).unwrap();
}

#[test]
fn certificates_logged_since_a_name_dangles_make_it_critical_and_searches_are_cached() {
    let q = "/?q=gone.example.org&output=json";
    // Before: only a certificate from when the address was ours.
    let before = Http::start(vec![(q.into(), Reply::new(200, crt_sh(&[("gone.example.org", "2020-01-01T00:00:00", "C=US, O=Org CA", 101)])))]);
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    ct_estate(&format!("http://{}", before.addr), 24, dir);
    let run1 = scan_quiet(dir);
    let f = findings(dir);
    let (sev, conf, kind, reason) = &f["gone.example.org"];
    assert_eq!((sev.as_str(), kind.as_str()), ("medium", "dangling-address"), "{conf} {reason}");
    assert!(!reason.contains("Certificate Transparency"), "{reason}");
    assert_eq!(before.hosts().len(), 1, "one search for the one dangling name; none for owned names");
    // Again within max_age_hours: the store's cached answer, no search.
    scan_quiet(dir);
    assert_eq!(before.hosts().len(), 1, "the cached answer is used");

    // Someone got a certificate for the name after it started dangling (run 1).
    let started = {
        let store = Store::open_existing(&dir.join("dangle.sqlite")).unwrap();
        store.run_meta(run1).unwrap().started_at
    };
    let now = dangle::store::now_rfc3339();
    let issued = now.trim_end_matches('Z');
    let after = Http::start(vec![(
        q.into(),
        Reply::new(200, crt_sh(&[("gone.example.org", "2020-01-01T00:00:00", "C=US, O=Org CA", 101), ("gone.example.org", issued, "C=US, O=Let's Encrypt, CN=R11", 202)])),
    )]);
    ct_estate(&format!("http://{}", after.addr), 0, dir);
    let run3 = scan_quiet(dir);
    let f = findings(dir);
    let (sev, conf, kind, reason) = &f["gone.example.org"];
    assert_eq!((sev.as_str(), conf.as_str(), kind.as_str()), ("critical", "confirmed", "takeover-suspected"), "{reason}");
    assert!(
        reason.contains(&format!("Certificate Transparency: 1 certificate(s) for gone.example.org issued since it dangles (since {}), the latest on {} by C=US, O=Let's Encrypt, CN=R11 (log id 202)", &started[..19], &issued[..19])),
        "{reason}"
    );
    assert_eq!(after.hosts().len(), 1, "max_age_hours = 0 searches again");
    // The store keeps it: the stored run reports the same.
    let store = Store::open_existing(&dir.join("dangle.sqlite")).unwrap();
    let report = dangle::report::Report::load(&store, run3).unwrap();
    report.write_dir(&dangle::report::Stored { store: &store, run: run3 }, &dir.join("again")).unwrap();
    for f in ["findings.csv", "report.json", "report.sarif"] {
        let (a, b) = (std::fs::read_to_string(dir.join("out").join(f)).unwrap(), std::fs::read_to_string(dir.join("again").join(f)).unwrap());
        assert!(a == b, "{f} differs between the scan and report --run");
    }
}

#[test]
fn external_chains_that_end_in_nxdomain_say_whether_the_domain_can_be_registered() {
    let (dns, http) = servers();
    let (_d, dir) = estate(&dns, &http, "fingerprints = false\n[signals.dns]\ndelegations = false");
    scan(&dir);
    let f = findings(&dir);
    let get = |n: &str| f.get(n).unwrap_or_else(|| panic!("{n} is a finding: {f:#?}"));
    let (sev, conf, kind, reason) = get("legacy.example.net");
    assert_eq!((sev.as_str(), conf.as_str(), kind.as_str()), ("high", "firm", "external-takeover-prone"), "{reason}");
    assert!(reason.contains("`app.gone-vendor.test` does not exist (NXDOMAIN), and `gone-vendor.test` is not registered under `.test`: whoever registers"), "{reason}");
    let (sev, _, kind, reason) = get("partner.example.net");
    assert_eq!((sev.as_str(), kind.as_str()), ("medium", "broken-chain"), "{reason}");
    assert!(reason.contains("does not exist (NXDOMAIN) under `served.test`"), "{reason}");
    // A name no server answers for (REFUSED: no answer to judge by) changes nothing.
    let (sev, _, _, reason) = get("www.example.net");
    assert!(!reason.contains("resolved now"), "{reason}");
    assert_ne!(sev, "high");
}

#[test]
fn zones_delegated_elsewhere_or_not_at_all_and_wildcards_answering_for_deleted_names() {
    // The world's DNS: live.test is served with other name servers than its zone data names;
    // orphan.test does not exist under test.
    let dns = Dns::start(&[
        ("test.", "@ 300 SOA ns.registry hostmaster 1 3600 600 604800 300\n@ 300 NS ns.registry\nns.registry 300 A 127.0.0.53\n"),
        ("live.test.", "@ 300 SOA ns.elsewhere.test. hostmaster 1 3600 600 604800 300\n@ 300 NS ns.elsewhere.test.\n"),
    ]);
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let live = |extra: &str| format!("$ORIGIN live.test.\n$TTL 300\n@ SOA ns1 h 1 3600 600 604800 300\n@ NS ns1\nns1 A 192.0.2.53\n*.apps CNAME gone-lb.live.test.\n{extra}");
    std::fs::write(dir.join("live.test.zone"), live("login.apps A 192.0.2.10\n")).unwrap();
    std::fs::write(dir.join("orphan.test.zone"), "$ORIGIN orphan.test.\n$TTL 300\n@ SOA ns1 h 1 3600 600 604800 300\n@ NS ns1\nns1 A 192.0.2.54\nwww A 192.0.2.11\n").unwrap();
    std::fs::write(dir.join("owned.csv"), "id,kind,account,region,ips,hosts\ndc,static,dc,fra1,192.0.2.0/24,\n").unwrap();
    let cfg = format!(
        "db = \"dangle.sqlite\"\n[[providers]]\ntype = \"zonefile\"\nname = \"live\"\npath = \"live.test.zone\"\n[[providers]]\ntype = \"zonefile\"\nname = \"orphan\"\npath = \"orphan.test.zone\"\n[[providers]]\ntype = \"static\"\nname = \"dc\"\npath = \"owned.csv\"\n[[ranges]]\ncidr = \"192.0.2.0/24\"\nprovider = \"dc\"\n[probe]\nconnect_timeout_ms = 1000\nallow_dial = [\"127.0.0.0/8\"]\nnameservers = [\"{}\"]\n[signals]\nrequests_per_second = 100\n",
        dns.addr
    );
    std::fs::write(dir.join("dangle.toml"), cfg).unwrap();
    let names = |dir: &Path| -> Vec<(String, String, String, String)> {
        let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("out/report.json")).unwrap()).unwrap();
        doc["name_findings"]
            .as_array()
            .map(|a| a.iter().map(|f| (f["name"].as_str().unwrap().into(), f["kind"].as_str().unwrap().into(), f["severity"].as_str().unwrap().into(), f["detail"].as_str().unwrap().into())).collect())
            .unwrap_or_default()
    };
    scan(dir);
    let first = names(dir);
    let kinds: Vec<(&str, &str, &str)> = first.iter().map(|(n, k, s, _)| (n.as_str(), k.as_str(), s.as_str())).collect();
    assert_eq!(kinds, [("orphan.test", "zone-not-delegated", "high"), ("live.test", "zone-delegated-elsewhere", "medium")], "{first:#?}");
    assert!(first[1].3.contains("DNS answers live.test NS ns.elsewhere.test now, none of the servers its zone data names (ns1.live.test)"), "{}", first[1].3);
    assert!(first[0].3.contains("whoever registers orphan.test under .test answers for every name in it"), "{}", first[0].3);

    // login.apps.live.test is deleted; the dangling wildcard *.apps answers for it now.
    std::fs::write(dir.join("live.test.zone"), live("")).unwrap();
    scan(dir);
    let second = names(dir);
    let shadow: Vec<_> = second.iter().filter(|f| f.1 == "wildcard-shadows-deleted").collect();
    assert_eq!(shadow.len(), 1, "{second:#?}");
    assert_eq!(shadow[0].0, "login.apps.live.test");
    assert!(shadow[0].3.contains("is gone from the zone (last seen in run 1), and the wildcard *.apps.live.test answers for it now → gone-lb.live.test, which dangles"), "{}", shadow[0].3);
    assert_ne!(shadow[0].2, "info", "the wildcard dangles: the deleted name is one more name someone else answers for");
}

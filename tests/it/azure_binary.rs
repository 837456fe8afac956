//! The binary against a local Azure Resource Manager (dangle_azure::testing, https with its own CA) and
//! a managed-identity token endpoint, all inside a fresh network namespace: this test runs itself
//! again under `unshare -n` (its servers and the binary then share that namespace's loopback only).

use std::path::Path;
use std::process::{Command, Output};

use dangle_azure::testing::{ArmServer, IdentityEndpoint, Route};
use serde_json::{json, Value};

use crate::cli::{netns, text};

const SUB: &str = "11111111-1111-1111-1111-111111111111";
/// Set in the copy of this test that runs inside the namespace.
const INNER: &str = "DANGLE_TEST_AZURE_INNER";

/// Runs test `name` of this binary again inside `unshare -n` (or, where the machine cannot, in this
/// namespace, on loopback), with `INNER` set; true in that copy, which does the work.
fn inside_namespace(name: &str) -> bool {
    if std::env::var_os(INNER).is_some() {
        return true;
    }
    let exe = std::env::current_exe().unwrap();
    let test = format!("{}::{name}", module_path!().split_once("::").map_or(module_path!(), |(_, m)| m));
    let args = [exe.to_str().unwrap(), &test, "--exact", "--nocapture", "--test-threads=1"];
    let mut cmd = if netns() {
        let mut c = Command::new("unshare");
        c.args(["-n", "sh", "-c", "ip link set lo up 2>/dev/null; exec \"$@\"", "sh"]).args(args);
        c
    } else {
        let mut c = Command::new(args[0]);
        c.args(&args[1..]);
        c
    };
    let out = cmd.env(INNER, "1").output().unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "the copy inside the namespace ran no test:\n{stdout}\n{stderr}");
    false
}

fn set(rtype: &str, name: &str, props: Value) -> Value {
    let mut p = props;
    p["TTL"] = json!(300);
    p["fqdn"] = json!(format!("{name}.example.com."));
    json!({
        "id": format!("/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Network/dnsZones/example.com/{rtype}/{name}"),
        "name": name, "type": format!("Microsoft.Network/dnszones/{rtype}"), "properties": p,
    })
}

fn rg() -> String {
    format!("/subscriptions/{SUB}/resourceGroups/rg1/providers")
}

/// A subscription with a zone (`api` → a public IP, `www` → an App Service site), the IP and the site.
fn estate(arm: &ArmServer) {
    let rg = rg();
    arm.empty_subscription(SUB);
    let zone = format!("{rg}/Microsoft.Network/dnsZones/example.com");
    arm.route(
        &format!("/subscriptions/{SUB}/providers/Microsoft.Network/dnszones"),
        Route::List(vec![json!({"id": zone, "name": "example.com", "properties": {"nameServers": ["ns1-01.azure-dns.com."]}})]),
    );
    arm.route(
        &format!("{zone}/recordsets"),
        Route::List(vec![
            set("A", "api", json!({"ARecords": [{"ipv4Address": "4.144.1.50"}]})),
            set("CNAME", "www", json!({"CNAMERecord": {"cname": "shop-live.azurewebsites.net"}})),
            // An address nothing of ours holds: dangling from the start, and probed.
            set("A", "old", json!({"ARecords": [{"ipv4Address": "4.144.1.60"}]})),
        ]),
    );
    arm.route(
        &format!("/subscriptions/{SUB}/providers/Microsoft.Network/publicIPAddresses"),
        Route::List(vec![json!({"id": format!("{rg}/Microsoft.Network/publicIPAddresses/api-ip"), "name": "api-ip", "location": "westeurope",
            "properties": {"ipAddress": "4.144.1.50"}})]),
    );
    arm.route(
        &format!("/subscriptions/{SUB}/providers/Microsoft.Web/sites"),
        Route::List(vec![json!({"id": format!("{rg}/Microsoft.Web/sites/shop-live"), "name": "shop-live", "location": "westeurope",
            "properties": {"defaultHostName": "shop-live.azurewebsites.net", "enabledHostNames": ["shop-live.azurewebsites.net"]}})]),
    );
    arm.route(&format!("{rg}/Microsoft.Web/sites/shop-live/slots"), Route::List(vec![]));
}

fn dangle(dir: &Path, identity: &str, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dangle"));
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || k.starts_with("AZURE_") || k.starts_with("IDENTITY_") || k.starts_with("MSI_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("HOME", dir).env("PATH", "/usr/bin:/bin").env("IDENTITY_ENDPOINT", identity).env("IDENTITY_HEADER", "the-secret");
    cmd.args(args).current_dir(dir).env_remove("DANGLE_LOG").output().unwrap()
}

#[track_caller]
fn rc(o: &Output, want: i32) {
    assert_eq!(o.status.code(), Some(want), "stdout:\n{}\nstderr:\n{}", text(&o.stdout), text(&o.stderr));
}

/// The judged CSV's row of `name`, by column.
fn row(csv: &str, name: &str) -> Option<std::collections::HashMap<String, String>> {
    let mut r = csv::Reader::from_reader(csv.as_bytes());
    let head = r.headers().unwrap().clone();
    r.records().map(Result::unwrap).find(|x| &x[0] == name).map(|x| head.iter().map(str::to_string).zip(x.iter().map(str::to_string)).collect())
}

/// A TLS server with a certificate nobody of ours issued, for the estate's names.
fn foreign_server() -> dangle_testkit::Tls {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["old.example.com".to_string(), "api.example.com".to_string()]).unwrap().self_signed(&key).unwrap();
    dangle_testkit::Tls::start(&cert.pem(), &key.serialize_pem())
}

#[test]
fn react_to_an_activity_log_delete_reads_only_the_list_it_names() {
    if !inside_namespace("react_to_an_activity_log_delete_reads_only_the_list_it_names") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let (arm, identity) = rt.block_on(async { (ArmServer::start(50).await, IdentityEndpoint::start("the-secret", "msi-token").await) });
    estate(&arm);
    let tls = foreign_server();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("arm-ca.pem"), &arm.ca_pem).unwrap();
    std::fs::write(
        d.join("dangle.toml"),
        format!(
            "db = \"shards.sqlite\"\n\n[[providers]]\ntype = \"azure\"\nname = \"azure\"\nsubscriptions = [\"{SUB}\"]\nendpoint_url = \"{}\"\nca_file = \"arm-ca.pem\"\ncredential = \"managed_identity\"\n\n\
             [probe]\nallow_dial = [\"127.0.0.0/8\"]\nnameservers = [\"127.0.0.1:1\"]\nconnect_timeout_ms = 1000\nhandshake_timeout_ms = 2000\n\
             [probe.connect_to]\n\"4.144.1.50\" = \"{tls}\"\n\"4.144.1.60\" = \"{tls}\"\n\n[signals]\nfingerprints = false\n[signals.dns]\ndelegations = false\n",
            arm.url,
            tls = tls.addr
        ),
    )
    .unwrap();
    let run = |args: &[&str]| dangle(d, &identity.url, args);
    rc(&run(&["scan", "--shard", "azure", "--enumerate-only"]), 0);
    let judged = run(&["judge", "--format", "csv"]);
    rc(&judged, 1);
    let csv = text(&judged.stdout);
    assert!(row(&csv, "api.example.com").is_none(), "the IP is held: {csv}");
    let old = row(&csv, "old.example.com").unwrap();
    assert_eq!((old["status"].as_str(), old["probe_verdict"].as_str(), old["severity"].as_str()), ("dangling", "foreign", "critical"), "{old:?}");
    let probed_by_judge = tls.handshakes();
    assert!(probed_by_judge > 0);

    // The decommission: the public IP and the site are deleted; only the IP's deletion is an event here.
    arm.route(&format!("/subscriptions/{SUB}/providers/Microsoft.Network/publicIPAddresses"), Route::List(vec![]));
    arm.route(&format!("/subscriptions/{SUB}/providers/Microsoft.Web/sites"), Route::List(vec![]));
    let event = json!({"records": [{
        "time": "2026-12-02T10:00:00Z", "category": "Administrative", "resultType": "Success",
        "operationName": "MICROSOFT.NETWORK/PUBLICIPADDRESSES/DELETE",
        "resourceId": format!("/SUBSCRIPTIONS/{}/RESOURCEGROUPS/RG1/PROVIDERS/MICROSOFT.NETWORK/PUBLICIPADDRESSES/API-IP", SUB.to_ascii_uppercase()),
    }]});
    std::fs::write(d.join("event.json"), event.to_string()).unwrap();
    arm.log.lock().unwrap().clear();
    let reacted = run(&["react", "--event", "event.json", "--format", "csv"]);
    rc(&reacted, 1);
    let csv = text(&reacted.stdout);
    let api = row(&csv, "api.example.com").unwrap_or_else(|| panic!("api.example.com is no finding:\n{csv}"));
    assert_eq!((api["status"].as_str(), api["probe_verdict"].as_str()), ("dangling", "foreign"), "{api:?}");
    // The site's deletion sent no event: its record still reads as the stored inventory says.
    assert!(row(&csv, "www.example.com").is_none(), "{csv}");
    // Only what changed was probed again; the finding that did not keeps the verdict of the run that
    // probed it, and its severity.
    assert_eq!(tls.handshakes(), 2 * probed_by_judge, "one more target probed, as many handshakes as the judge's one");
    let old = row(&csv, "old.example.com").unwrap();
    assert_eq!((old["probe_verdict"].as_str(), old["severity"].as_str()), ("foreign", "critical"), "{old:?}");
    assert!(old["probe_detail"].ends_with("(as probed in run 1)"), "{old:?}");
    assert!(old["reason"].contains("a foreign server answered there when it was last probed"), "{old:?}");
    let mut asked: Vec<String> = arm.requests().iter().map(|r| r.path.split('?').next().unwrap().to_ascii_lowercase()).collect();
    asked.sort();
    asked.dedup();
    let network = format!("/subscriptions/{SUB}/providers/microsoft.network");
    assert_eq!(asked, [format!("{network}/publicipaddresses"), format!("{network}/publicipprefixes")], "every list asked during react");
    assert!(arm.requests().iter().all(|r| r.method == "GET"));
}

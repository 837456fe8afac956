//! End-to-end tests of the `dangle` binary on the demo estate and on bad input. Each run happens inside
//! `unshare -n` (a fresh network namespace with only loopback) where the machine allows it, which proves
//! a scan of files sends nothing anywhere.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

mod common;
use common::copy_dir;

fn netns() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| {
        let ok = Command::new("unshare").args(["-n", "true"]).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
        if !ok {
            eprintln!("note: `unshare -n` is not available here; the binary runs in the host network namespace");
        }
        ok
    })
}

fn dangle(dir: &Path, args: &[&str]) -> Output {
    let bin = env!("CARGO_BIN_EXE_dangle");
    let mut cmd = if netns() {
        let mut c = Command::new("unshare");
        c.arg("-n").arg(bin);
        c
    } else {
        Command::new(bin)
    };
    // No ambient AWS identity: no credentials, no profiles, no instance metadata.
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("HOME", dir).env("AWS_EC2_METADATA_DISABLED", "true");
    cmd.args(args).current_dir(dir).env_remove("DANGLE_LOG").output().expect("run dangle")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[track_caller]
fn code(o: &Output, want: i32) {
    assert_eq!(o.status.code(), Some(want), "exit code\nstdout:\n{}\nstderr:\n{}", text(&o.stdout), text(&o.stderr));
}

/// A copy of the demo estate in a fresh folder.
fn demo() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo");
    copy_dir(&src, dir.path());
    let p = dir.path().to_path_buf();
    (dir, p)
}

fn filters() -> Vec<(&'static str, &'static str)> {
    vec![(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[TIME]"), (r"\(\d{4}-\d\d-\d\d\)", "([DATE])"), (r"\| \d{4}-\d\d-\d\d \|", "| [DATE] |")]
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn demo_scan_writes_contract_files_and_exits_1_on_high_findings() {
    let (_d, dir) = demo();
    let o = dangle(&dir, &["scan", "--out", "out"]);
    code(&o, 1);
    assert!(text(&o.stdout).contains("finding(s) at or above high"));
    let header = "record_name,record_type,set_id,target,zone,source,account,status,severity,claimable,reason,probe_verdict,probe_detail,first_seen";
    for f in ["records.csv", "findings.csv"] {
        assert_eq!(read(&dir.join("out").join(f)).lines().next(), Some(header), "{f}");
    }
    assert_eq!(read(&dir.join("out/assets.csv")).lines().next(), Some("kind,id,source,account,region,ips,hosts"));
    assert_eq!(read(&dir.join("out/gaps.csv")).lines().next(), Some("source,account,region,service,error"));
    insta::with_settings!({ filters => filters() }, {
        insta::assert_snapshot!("demo_records_csv", read(&dir.join("out/records.csv")));
        insta::assert_snapshot!("demo_findings_csv", read(&dir.join("out/findings.csv")));
        insta::assert_snapshot!("demo_assets_csv", read(&dir.join("out/assets.csv")));
        insta::assert_snapshot!("demo_report_md", read(&dir.join("out/report.md")));
    });
    let json: serde_json::Value = serde_json::from_str(&read(&dir.join("out/report.json"))).unwrap();
    assert!(json["run"]["snapshot"].as_str().unwrap().contains("aws="), "the JSON names the range snapshot");
}

#[test]
fn exit_code_follows_fail_on() {
    let (_d, dir) = demo();
    code(&dangle(&dir, &["scan", "--fail-on", "critical"]), 0);
    code(&dangle(&dir, &["scan", "--fail-on", "medium"]), 1);
    code(&dangle(&dir, &["scan", "--fail-on", "bogus"]), 2);
}

#[test]
fn report_regenerates_a_run_byte_for_byte() {
    let (_d, dir) = demo();
    code(&dangle(&dir, &["scan", "--out", "scan-out"]), 1);
    // A later run in a later second: anything it moves in run 1's data would change run 1's report.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    code(&dangle(&dir, &["scan", "--out", "scan-out-2"]), 1);
    let o = dangle(&dir, &["report", "--run", "1", "--out", "report-out", "--format", "csv"]);
    code(&o, 0);
    for f in ["records.csv", "findings.csv", "assets.csv", "gaps.csv", "report.md", "report.json"] {
        assert_eq!(read(&dir.join("scan-out").join(f)), read(&dir.join("report-out").join(f)), "{f}");
    }
    assert_eq!(text(&o.stdout), read(&dir.join("scan-out/records.csv")));
    let o = dangle(&dir, &["report", "--format", "json"]);
    code(&o, 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["run"]["id"], 2);
    code(&dangle(&dir, &["report", "--run", "9"]), 2);
}

#[test]
fn history_turns_a_decommission_into_released_since_run_1_and_diff_fails() {
    let (_d, dir) = demo();
    code(&dangle(&dir, &["scan"]), 1);
    // Nothing changed: diff has nothing new.
    code(&dangle(&dir, &["scan"]), 1);
    let o = dangle(&dir, &["diff"]);
    code(&o, 0);
    assert!(text(&o.stdout).contains("0 new, 0 changed, 0 fixed"), "{}", text(&o.stdout));
    std::fs::copy(dir.join("owned-after-decommission.csv"), dir.join("owned.csv")).unwrap();
    let o = dangle(&dir, &["scan", "--format", "csv"]);
    code(&o, 1);
    let out = text(&o.stdout);
    let api = out.lines().find(|l| l.starts_with("api.example.com,A,")).expect("api.example.com is a finding");
    assert!(api.contains("dangling,high,yes,released since run 2 ("), "{api}");
    let o = dangle(&dir, &["diff", "--format", "json"]);
    code(&o, 1);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> = v["entries"].as_array().unwrap().iter().map(|e| e["record_name"].as_str().unwrap()).collect();
    assert_eq!(names, ["api.example.com", "api.example.org", "status.example.com"]);
    code(&dangle(&dir, &["diff", "--fail-on", "critical"]), 0);
    // Put it back: the findings are fixed.
    std::fs::write(dir.join("owned.csv"), read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo/owned.csv"))).unwrap();
    code(&dangle(&dir, &["scan"]), 1);
    let o = dangle(&dir, &["diff"]);
    code(&o, 0);
    assert!(text(&o.stdout).contains("0 new, 0 changed, 3 fixed"), "{}", text(&o.stdout));
}

#[test]
fn checklist_finds_direct_and_chained_records() {
    let (_d, dir) = demo();
    // No run stored yet: checklist scans first.
    let o = dangle(&dir, &["checklist", "198.51.100.20", "--format", "json"]);
    code(&o, 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let got: Vec<(String, String)> = v["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["record_name"].as_str().unwrap().to_string(), r["via"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        got,
        [
            ("api.example.com".to_string(), String::new()),
            ("status.example.com".to_string(), "api.example.com → 198.51.100.20".to_string()),
            ("api.example.org".to_string(), "api.example.com → 198.51.100.20".to_string()),
        ]
    );
    // A CIDR, a hostname and the markdown form.
    let o = dangle(&dir, &["checklist", "192.0.2.0/28", "--format", "csv"]);
    code(&o, 0);
    let out = text(&o.stdout);
    assert!(out.contains("www.example.org,CNAME,,www.example.com,example.org"), "{out}");
    assert!(out.contains("www.example.com → web.example.com → 192.0.2.10"), "{out}");
    let o = dangle(&dir, &["checklist", "example.readme.io", "--format", "markdown"]);
    code(&o, 0);
    assert!(text(&o.stdout).contains("| docs.example.com | CNAME | example.com | example.readme.io |"), "{}", text(&o.stdout));
    let o = dangle(&dir, &["checklist", "vpn-gw"]);
    code(&o, 0);
    assert!(text(&o.stdout).contains("vpn.example.com"), "asset id widens to its addresses: {}", text(&o.stdout));
    let o = dangle(&dir, &["checklist", "10.9.9.9"]);
    code(&o, 0);
    assert!(text(&o.stdout).contains("no record in run 1 reaches 10.9.9.9"));
    code(&dangle(&dir, &["checklist", "10.0.0.1/8"]), 2);
}

#[test]
fn help_teaches_with_examples() {
    let (_d, dir) = demo();
    let o = dangle(&dir, &["--help"]);
    code(&o, 0);
    let h = text(&o.stdout);
    for want in ["scan", "checklist", "report", "diff", "Examples:", "Exit codes"] {
        assert!(h.contains(want), "{want} missing from --help:\n{h}");
    }
    let o = dangle(&dir, &["checklist", "--help"]);
    assert!(text(&o.stdout).contains("dangle checklist 203.0.113.10"));
}

fn expect_error(dir: &Path, args: &[&str], needles: &[&str]) {
    let o = dangle(dir, args);
    code(&o, 2);
    let err = text(&o.stderr);
    assert!(err.starts_with("error: "), "{err}");
    for n in needles {
        assert!(err.contains(n), "stderr lacks `{n}`:\n{err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn broken_zone_line_is_exit_2_naming_file_and_line() {
    let (_d, dir) = demo();
    let z = dir.join("zones/example.com.zone");
    let mut s = read(&z);
    s.push_str("broken A 300.1.2.3\n");
    let line = s.lines().count();
    std::fs::write(&z, s).unwrap();
    expect_error(&dir, &["scan"], &[&format!("zones/example.com.zone:{line}:"), "not an IPv4 address"]);
    // Nothing was stored: no half run.
    expect_error(&dir, &["report"], &["holds no run yet"]);
}

#[test]
fn unknown_config_key_is_exit_2_naming_the_key() {
    let (_d, dir) = demo();
    let c = read(&dir.join("dangle.toml")).replace("name = \"datacentre\"", "name = \"datacentre\"\npaht = \"x\"");
    std::fs::write(dir.join("dangle.toml"), c).unwrap();
    expect_error(&dir, &["scan"], &["dangle.toml: line ", "unknown field `paht`"]);
}

#[test]
fn missing_files_are_exit_2_naming_them() {
    let (_d, dir) = demo();
    std::fs::remove_file(dir.join("owned.csv")).unwrap();
    expect_error(&dir, &["scan"], &["owned.csv", "No such file"]);
    expect_error(&dir, &["scan", "-c", "nope.toml"], &["cannot read config nope.toml"]);
    expect_error(&dir, &["report", "--db", "nope.sqlite"], &["no store at nope.sqlite"]);
}

#[test]
fn unwritable_store_is_exit_2() {
    let (_d, dir) = demo();
    std::fs::write(dir.join("a-file"), "").unwrap();
    // A path below a regular file cannot be created, even by root.
    expect_error(&dir, &["scan", "--db", "a-file/dangle.sqlite"], &["store a-file/dangle.sqlite"]);
    std::fs::write(dir.join("garbage.sqlite"), "this is not a database, just text long enough to be read as a header ....").unwrap();
    expect_error(&dir, &["scan", "--db", "garbage.sqlite"], &["store garbage.sqlite"]);
}

#[test]
fn empty_inputs_are_a_clean_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dangle.toml"), "").unwrap();
    let o = dangle(dir.path(), &["scan", "--out", "out"]);
    code(&o, 0);
    assert!(text(&o.stdout).contains("no findings"));
    std::fs::write(dir.path().join("empty.zone"), "").unwrap();
    std::fs::write(dir.path().join("dangle.toml"), "[[providers]]\ntype = \"zonefile\"\npath = \"empty.zone\"\norigin = \"example.com\"\n").unwrap();
    code(&dangle(dir.path(), &["scan"]), 0);
}

#[test]
fn an_aws_provider_without_credentials_is_exit_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dangle.toml"), "[[providers]]\ntype = \"aws\"\nname = \"prod\"\nregions = [\"us-east-1\"]\n").unwrap();
    expect_error(dir.path(), &["scan"], &["provider `prod`", "no AWS credentials"]);
}

/// A scan killed at any moment leaves every earlier run intact and no half run visible.
#[test]
fn killed_scan_leaves_earlier_runs_intact() {
    let (_d, dir) = demo();
    code(&dangle(&dir, &["scan"]), 1);
    let db = dir.join("dangle.sqlite");
    let before = dangle::store::Store::open(&db).unwrap().rows(1).unwrap();
    // A big zone, so that writing the run takes a while.
    let mut z = String::from("$ORIGIN big.example.com.\n$TTL 300\n");
    for i in 0..150_000 {
        z.push_str(&format!("h{i} A 198.51.{}.{}\n", (i / 250) % 250, i % 250));
    }
    std::fs::write(dir.join("zones/big.zone"), z).unwrap();
    let mut cfg = read(&dir.join("dangle.toml"));
    cfg.push_str("\n[[providers]]\ntype = \"zonefile\"\nname = \"big\"\npath = \"zones/big.zone\"\n");
    std::fs::write(dir.join("dangle.toml"), cfg).unwrap();
    let mut killed = 0;
    for delay_ms in [150u64, 400, 800, 1500] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_dangle"))
            .args(["scan", "--format", "csv"])
            .current_dir(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        if child.try_wait().unwrap().is_none() {
            killed += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
        let store = dangle::store::Store::open(&db).unwrap();
        assert_eq!(store.verify().unwrap(), Vec::<String>::new(), "after a kill at {delay_ms} ms");
        assert_eq!(store.rows(1).unwrap(), before, "run 1 changed after a kill at {delay_ms} ms");
    }
    assert!(killed > 0, "no scan was still running when killed: the test proved nothing");
}

#[test]
fn bad_probe_inputs_are_exit_2_naming_file_and_key() {
    let (_d, dir) = demo();
    let with_probe = |section: &str| {
        let c = read(&dir.join("dangle.toml"));
        let c = c.split("[probe]").next().unwrap().to_string() + "[probe]\n" + section;
        std::fs::write(dir.join("dangle.toml"), c).unwrap();
    };
    with_probe("trust_anchors = [\"missing-ca.pem\"]\n");
    expect_error(&dir, &["scan"], &["[probe] trust_anchors", "missing-ca.pem", "No such file"]);
    std::fs::write(dir.join("junk.pem"), "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n-----END CERTIFICATE-----\n").unwrap();
    with_probe("trust_anchors = [\"junk.pem\"]\n");
    expect_error(&dir, &["scan"], &["[probe] trust_anchors", "junk.pem", "does not parse"]);
    std::fs::write(dir.join("empty.pem"), "no PEM here\n").unwrap();
    with_probe("trust_anchors = [\"empty.pem\"]\n");
    expect_error(&dir, &["scan"], &["empty.pem", "no PEM certificate"]);
    with_probe("spki_pins = [\"abcd\"]\n");
    expect_error(&dir, &["scan"], &["[probe] spki_pins", "`abcd`"]);
    with_probe("connect_to = { \"52.1.2.3\" = \"not a host!\" }\n");
    expect_error(&dir, &["scan"], &["dangle.toml", "connect_to", "not a host!"]);
    with_probe("allow_dial = [\"10.0.0.0/33\"]\n");
    expect_error(&dir, &["scan"], &["[probe] allow_dial", "10.0.0.0/33"]);
    with_probe("[[probe.targets]]\ntarget = \"bad host:443\"\n");
    expect_error(&dir, &["scan"], &["[probe] targets[0].target", "bad host:443"]);
    with_probe("[[probe.targets]]\ntarget = \"10.0.0.1\"\nport = 443\n");
    expect_error(&dir, &["scan"], &["dangle.toml", "unknown field `port`"]);
    with_probe("nameservers = [\"dns.example\"]\n");
    expect_error(&dir, &["scan"], &["[probe] nameservers", "dns.example"]);
    // A client certificate without anything that could prove a server ours would never be used.
    std::fs::write(dir.join("c.pem"), "x").unwrap();
    with_probe("client_cert = \"junk.pem\"\nclient_key = \"c.pem\"\n");
    expect_error(&dir, &["scan"], &["client_cert", "junk.pem"]);
    // Nothing was stored by any of these.
    expect_error(&dir, &["report"], &["holds no run yet"]);
    // `dangle probe` on bad input.
    expect_error(&dir, &["probe", "bad host:443"], &["not HOST[:PORT]"]);
    expect_error(&dir, &["probe", "127.0.0.1:443", "--trust-anchor", "missing-ca.pem"], &["missing-ca.pem"]);
    expect_error(&dir, &["probe", "127.0.0.1:443", "--connect-to", "nonsense"], &["--connect-to nonsense", "FROM=TO"]);
}

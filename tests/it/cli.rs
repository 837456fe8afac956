//! End-to-end tests of the `dangle` binary on the demo estate and on bad input. Each run happens inside
//! `unshare -n` (a fresh network namespace with only loopback) where the machine allows it, which proves
//! a scan of files sends nothing anywhere.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;


use crate::common::copy_dir;

pub(crate) fn netns() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| {
        let ok = Command::new("unshare").args(["-n", "true"]).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
        if !ok {
            eprintln!("note: `unshare -n` is not available here; the binary runs in the host network namespace");
        }
        ok
    })
}

pub(crate) fn dangle(dir: &Path, args: &[&str]) -> Output {
    let bin = env!("CARGO_BIN_EXE_dangle");
    let mut cmd = if netns() {
        let mut c = Command::new("unshare");
        c.arg("-n").arg(bin);
        c
    } else {
        Command::new(bin)
    };
    // No ambient AWS or Azure identity: no credentials, no profiles, no instance metadata; no `az`
    // beyond the system's folders. A managed identity endpoint on a closed loopback port: the Azure
    // chain never reaches for IMDS (169.254.169.254), in a network namespace or not.
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || k.starts_with("AZURE_") || k.starts_with("IDENTITY_") || k.starts_with("MSI_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("HOME", dir).env("AWS_EC2_METADATA_DISABLED", "true");
    cmd.env("IDENTITY_ENDPOINT", "http://127.0.0.1:9/msi/token").env("IDENTITY_HEADER", "none").env("PATH", "/usr/bin:/bin");
    cmd.args(args).current_dir(dir).env_remove("DANGLE_LOG").output().expect("run dangle")
}

pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[track_caller]
pub(crate) fn code(o: &Output, want: i32) {
    assert_eq!(o.status.code(), Some(want), "exit code\nstdout:\n{}\nstderr:\n{}", text(&o.stdout), text(&o.stderr));
}

/// A copy of the demo estate in a fresh folder.
pub(crate) fn demo() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/demo");
    copy_dir(&src, dir.path());
    let p = dir.path().to_path_buf();
    (dir, p)
}

fn filters() -> Vec<(&'static str, &'static str)> {
    vec![(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[TIME]"), (r"\(\d{4}-\d\d-\d\d\)", "([DATE])"), (r"\| \d{4}-\d\d-\d\d \|", "| [DATE] |"), (r"\d{4}-\d\d-\d\d", "[DATE]")]
}

pub(crate) fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn demo_scan_writes_contract_files_and_exits_1_on_high_findings() {
    let (_d, dir) = demo();
    let o = dangle(&dir, &["scan", "--out", "out"]);
    code(&o, 1);
    assert!(text(&o.stdout).contains("finding(s) at or above high"));
    // The contract's columns, then the ones the second wave added after them (design.md).
    let header = "record_name,record_type,set_id,target,zone,source,account,status,severity,claimable,reason,probe_verdict,probe_detail,first_seen,\
                  confidence,dangling_since,last_changed,age_days,location,stale,kind";
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
fn an_azure_provider_without_any_credential_stops_with_what_it_tried() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("dangle.toml"),
        "[[providers]]\ntype = \"azure\"\nsubscriptions = [\"11111111-1111-1111-1111-111111111111\"]\nendpoint_url = \"https://127.0.0.1:9\"\n",
    )
    .unwrap();
    let started = std::time::Instant::now();
    expect_error(
        dir.path(),
        &["scan", "--no-probe"],
        &["provider `azure`: no Azure credential: tried environment (", "; workload identity (", "; managed identity (", "; Azure CLI ("],
    );
    let err = text(&dangle(dir.path(), &["scan", "--no-probe"]).stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "one sentence:\n{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(40), "the chain gives up promptly: {:?}", started.elapsed());
}

#[test]
fn log_format_json_writes_one_object_a_line_errors_included() {
    let (_d, dir) = demo();
    let o = dangle(&dir, &["--log-format", "json", "-v", "scan"]);
    code(&o, 1);
    let err = text(&o.stderr);
    let lines: Vec<serde_json::Value> =
        err.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}\n{err}"))).collect();
    assert!(lines.iter().any(|l| l["level"] == "INFO" && l["message"] == "enumerated" && l["records"].is_u64()), "{err}");
    assert!(lines.iter().all(|l| !l["message"].as_str().unwrap_or_default().contains('\u{1b}')), "no colour codes: {err}");
    let o = dangle(&dir, &["--log-format", "json", "report", "--db", "missing.sqlite"]);
    code(&o, 2);
    let e: serde_json::Value = serde_json::from_str(text(&o.stderr).trim()).unwrap();
    assert_eq!(e["level"], "ERROR");
    assert!(e["message"].as_str().unwrap().starts_with("no store at"), "{e}");
}

#[test]
fn colour_only_at_a_terminal_and_never_with_no_color() {
    let (_d, dir) = demo();
    // A terminal (`script` gives the scan a pty); the stale range snapshot warning is always there.
    let at_tty = |no_color: Option<&str>| {
        let mut c = Command::new("script");
        c.args(["-qec", &format!("'{}' scan --no-probe >/dev/null", env!("CARGO_BIN_EXE_dangle")), "/dev/null"]).current_dir(&dir).env_remove("NO_COLOR");
        if let Some(v) = no_color {
            c.env("NO_COLOR", v);
        }
        text(&c.output().expect("script(1) from util-linux").stdout)
    };
    // Colour is an SGR sequence (ESC [ … m); the progress display's cursor moves are not colour.
    let sgr = |s: &str| s.split('\u{1b}').skip(1).any(|after| after.strip_prefix('[').is_some_and(|p| p.trim_start_matches(|c: char| c.is_ascii_digit() || c == ';').starts_with('m')));
    let tty = at_tty(None);
    assert!(sgr(&tty), "a person at a terminal gets colour");
    // And progress: each provider read, with what it found.
    assert!(tty.contains("zonefile `example.com`") && tty.contains("records,"), "{tty:?}");
    let plain = at_tty(Some("1"));
    assert!(plain.contains("WARN") && !sgr(&plain), "{plain:?}");
    // Redirected stderr: no colour, no progress, no escape of any kind.
    let o = dangle(&dir, &["scan", "--no-probe"]);
    let err = text(&o.stderr);
    assert!(!err.contains('\u{1b}') && !err.contains("zonefile `example.com`"), "{err:?}");
}

#[test]
fn exit_code_follows_fail_on() {
    let (_d, dir) = demo();
    code(&dangle(&dir, &["scan", "--fail-on", "critical"]), 0);
    code(&dangle(&dir, &["scan", "--fail-on", "medium"]), 1);
    code(&dangle(&dir, &["scan", "--fail-on", "bogus"]), 2);
    // Not probed, the demo's high findings are tentative: a gate on firm findings passes them.
    code(&dangle(&dir, &["scan", "--min-confidence", "firm"]), 0);
    code(&dangle(&dir, &["scan", "--min-confidence", "tentative"]), 1);
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
    // Run 2 sees run 1's records and assets again: its first_seen dates come from the store.
    code(&dangle(&dir, &["report", "--run", "2", "--out", "report-out-2"]), 0);
    for f in ["records.csv", "findings.csv", "assets.csv", "gaps.csv", "report.md", "report.json", "report.sarif", "report.html"] {
        assert_eq!(read(&dir.join("scan-out").join(f)), read(&dir.join("report-out").join(f)), "{f}");
        assert_eq!(read(&dir.join("scan-out-2").join(f)), read(&dir.join("report-out-2").join(f)), "run 2 {f}");
    }
    let column = |file: &str, name: &str| -> Vec<String> {
        let mut r = csv::Reader::from_path(dir.join(file)).unwrap();
        let at = r.headers().unwrap().iter().position(|h| h == name).unwrap();
        r.records().map(|rec| rec.unwrap()[at].to_string()).collect()
    };
    let first_seen = column("scan-out/records.csv", "first_seen")[0].clone();
    let records2 = column("scan-out-2/records.csv", "first_seen");
    assert!(records2.iter().all(|f| *f == first_seen), "run 2 rows keep run 1's first_seen {first_seen}: {records2:?}");
    // Nothing changed between the runs: every row's last change is run 1's.
    assert!(column("scan-out-2/records.csv", "last_changed").iter().all(|f| *f == first_seen));
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
    // Records still reach it: exit 1, so a decommission pipeline stops here.
    code(&o, 1);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // The zone file's change: its file and line.
    let edits = v["changes"]["zone_files"].as_array().unwrap();
    assert_eq!(edits.len(), 1, "only the record that points at the address itself: {edits:?}");
    assert_eq!((edits[0]["file"].as_str(), edits[0]["line"].as_u64()), (Some("zones/example.com.zone"), Some(17)));
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
    code(&o, 1);
    let out = text(&o.stdout);
    assert!(out.contains("www.example.org,CNAME,,www.example.com,example.org"), "{out}");
    assert!(out.contains("www.example.com → web.example.com → 192.0.2.10"), "{out}");
    // Markdown is the default: the records, then the changes (the zone file line to delete).
    let o = dangle(&dir, &["checklist", "example.readme.io"]);
    code(&o, 1);
    let md = text(&o.stdout);
    assert!(md.contains("| docs.example.com | CNAME | example.com | example.com / zones/example.com.zone | example.readme.io |"), "{md}");
    assert!(md.contains("## Changes to make") && md.contains("`zones/example.com.zone:27`: delete the line `docs.example.com CNAME example.readme.io`"), "{md}");
    let o = dangle(&dir, &["checklist", "vpn-gw", "--format", "table"]);
    code(&o, 1);
    assert!(text(&o.stdout).contains("vpn.example.com"), "asset id widens to its addresses: {}", text(&o.stdout));
    let o = dangle(&dir, &["checklist", "10.9.9.9", "--format", "table"]);
    code(&o, 0);
    assert!(text(&o.stdout).contains("no record in run 1 reaches 10.9.9.9"));
    let o = dangle(&dir, &["checklist", "10.9.9.9"]);
    code(&o, 0);
    assert!(text(&o.stdout).contains("No record reaches these targets"));
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
fn silent_success_on_empty_inputs_is_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dangle.toml"), "").unwrap();
    expect_error(dir.path(), &["scan", "--out", "out"], &["dangle.toml: no [[providers]]"]);
    std::fs::write(dir.path().join("empty.zone"), "").unwrap();
    std::fs::write(dir.path().join("dangle.toml"), "[[providers]]\ntype = \"zonefile\"\npath = \"empty.zone\"\norigin = \"example.com\"\n").unwrap();
    expect_error(dir.path(), &["scan"], &["empty.zone:1: the zone file holds no records"]);
    std::fs::write(dir.path().join("empty.zone"), "web2 IN CNAEM web\n").unwrap();
    expect_error(dir.path(), &["scan"], &["empty.zone:1: `CNAEM` is not a record type"]);
}

#[test]
fn an_aws_provider_without_credentials_is_exit_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dangle.toml"), "[[providers]]\ntype = \"aws\"\nname = \"prod\"\nregions = [\"us-east-1\"]\n").unwrap();
    expect_error(dir.path(), &["scan"], &["provider `prod`", "no AWS credentials"]);
    let err = text(&dangle(dir.path(), &["scan"]).stderr);
    assert!(!err.contains("CredentialsNotLoaded") && !err.contains(" {"), "an SDK Debug dump: {err}");
    // Plain http to a host other than this one: a warning, since tokens would travel in cleartext.
    std::fs::write(dir.path().join("dangle.toml"), "[[providers]]\ntype = \"aws\"\nname = \"prod\"\nregions = [\"us-east-1\"]\nendpoint_url = \"http://10.0.0.5:5000\"\n").unwrap();
    let err = text(&dangle(dir.path(), &["scan"]).stderr);
    assert!(err.contains("providers[0].endpoint_url is plain http to a host that is not this machine"), "{err}");
}

/// Adds a zone of `n` records to the demo config, so that a scan takes a while.
fn add_big_zone(dir: &Path, n: usize) {
    let mut z = String::from("$ORIGIN big.example.com.\n$TTL 300\n");
    for i in 0..n {
        z.push_str(&format!("h{i} A 198.51.{}.{}\n", (i / 250) % 250, i % 250));
    }
    std::fs::write(dir.join("zones/big.zone"), z).unwrap();
    let mut cfg = read(&dir.join("dangle.toml"));
    cfg.push_str("\n[[providers]]\ntype = \"zonefile\"\nname = \"big\"\npath = \"zones/big.zone\"\n");
    std::fs::write(dir.join("dangle.toml"), cfg).unwrap();
}

/// Every run a store holds, as reports show them.
fn all_runs(db: &Path) -> Vec<Vec<dangle::rows::ReportRow>> {
    let store = dangle::store::Store::open_existing(db).unwrap();
    let latest = store.latest_run().unwrap().unwrap_or(0);
    (1..=latest).map(|r| store.rows(r).unwrap()).collect()
}

/// SIGKILL at 50 points spread over a whole scan (reading, judging, writing, checkpointing): after
/// each, `PRAGMA integrity_check` passes, every earlier run reads as before, no half run is visible,
/// and the next scan works.
#[test]
fn sigkill_at_random_points_never_corrupts_the_store() {
    let (_d, dir) = demo();
    code(&dangle(&dir, &["scan"]), 1);
    add_big_zone(&dir, 20_000);
    let db = dir.join("dangle.sqlite");
    let bin = env!("CARGO_BIN_EXE_dangle");
    let start = std::time::Instant::now();
    code(&dangle(&dir, &["scan", "--format", "csv"]), 1);
    let whole = start.elapsed();
    // The two runs before the kills are compared row by row after every kill; each later run is held
    // to its own row count by `verify`.
    let before = all_runs(&db);
    let mut runs = before.len();
    // A fixed seed: a failure names the delay, and the same delays come again.
    let mut seed: u64 = 0x5eed_dead_beef;
    let (mut killed, mut finished) = (0, 0);
    for i in 0..50 {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let delay = whole.mul_f64((seed >> 11) as f64 / (1u64 << 53) as f64 * 1.1);
        let mut child = Command::new(bin).args(["scan", "--format", "csv"]).current_dir(&dir).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        std::thread::sleep(delay);
        match child.try_wait().unwrap() {
            Some(_) => finished += 1,
            None => {
                killed += 1;
                child.kill().unwrap();
            }
        }
        child.wait().unwrap();
        let store = dangle::store::Store::open(&db).unwrap();
        assert_eq!(store.verify().unwrap(), Vec::<String>::new(), "kill {i} at {delay:?}");
        let now = store.latest_run().unwrap().unwrap() as usize;
        assert!(now == runs || now == runs + 1, "kill {i} at {delay:?}: {now} runs, had {runs}");
        for (r, rows) in before.iter().enumerate() {
            assert_eq!(&store.rows(r as i64 + 1).unwrap(), rows, "kill {i} at {delay:?} changed run {}", r + 1);
        }
        runs = now;
    }
    eprintln!("a whole scan took {whole:?}; {killed} scans killed, {finished} finished");
    assert!(killed >= 25, "only {killed} of 50 scans were still running when killed ({finished} finished): the test proved little");
    code(&dangle(&dir, &["scan"]), 1);
    assert_eq!(all_runs(&db).len(), runs + 1, "the next scan works");
}

/// Two scans of one store at once: the second waits for the first (runs never interleave), both
/// runs are complete, and the second judged with the first in its history.
#[test]
fn concurrent_scans_never_interleave_and_both_complete() {
    let (_d, dir) = demo();
    add_big_zone(&dir, 30_000);
    let bin = env!("CARGO_BIN_EXE_dangle");
    let spawn = || Command::new(bin).args(["scan", "--format", "csv"]).current_dir(&dir).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    code(&a, 1);
    code(&b, 1);
    let store = dangle::store::Store::open_existing(&dir.join("dangle.sqlite")).unwrap();
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
    let (r1, r2) = (store.run_meta(1).unwrap(), store.run_meta(2).unwrap());
    assert!(r2.started_at >= r1.finished_at, "run 2 started {} before run 1 finished {}", r2.started_at, r1.finished_at);
    assert_eq!(store.rows(1).unwrap().len(), store.rows(2).unwrap().len());
    let waited = text(&a.stderr) + &text(&b.stderr);
    // The holder names itself once it has written the lock file: the waiter may look before that.
    assert!(waited.contains("another scan is running") && waited.contains("waiting for it"), "{waited}");
}

#[test]
fn a_held_store_with_lock_timeout_0_is_exit_2_naming_the_lock() {
    let (_d, dir) = demo();
    code(&dangle(&dir, &["scan"]), 1);
    let held = dangle::store::RunLock::acquire(&dir.join("dangle.sqlite"), std::time::Duration::ZERO).unwrap();
    let holder = format!("another dangle scan holds it (pid {}, since 20", std::process::id());
    expect_error(&dir, &["scan", "--lock-timeout", "0"], &[&holder, "dangle.sqlite.lock", "--lock-timeout"]);
    // Readers are never blocked by a scan.
    code(&dangle(&dir, &["report"]), 0);
    drop(held);
    code(&dangle(&dir, &["scan", "--lock-timeout", "0"]), 1);
}

/// A store on a disk that fills up during a scan: exit 2 saying so, the earlier runs intact, and the
/// next scan works once there is room again.
#[test]
fn a_full_disk_during_a_scan_loses_no_history() {
    let (_d, dir) = demo();
    let bin = env!("CARGO_BIN_EXE_dangle");
    add_big_zone(&dir, 20_000);
    let big = read(&dir.join("zones/big.zone"));
    std::fs::write(dir.join("zones/big.zone"), "$ORIGIN big.example.com.\nh0 A 198.51.0.0\n").unwrap();
    std::fs::write(dir.join("big.zone.later"), big).unwrap();
    let script = format!(
        "set -e; mkdir -p disk; mount -t tmpfs -o size=24m tmpfs disk; cp -r zones owned.csv dangle.toml disk/; cd disk; \
         {bin} scan >/dev/null 2>&1 || true; \
         cp ../big.zone.later zones/big.zone; \
         head -c 64m /dev/zero > filler 2>/dev/null || true; truncate -s -1M filler; \
         set +e; {bin} scan >/dev/null 2>../full.err; echo $? > ../full.rc; \
         rm -f filler; cp dangle.sqlite* ../ 2>/dev/null; {bin} scan >/dev/null 2>../after.err; echo $? > ../after.rc; \
         mkdir -p ../after && cp dangle.sqlite* ../after/"
    );
    let o = Command::new("unshare").args(["-m", "-n", "sh", "-c", &script]).current_dir(&dir).output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(read(&dir.join("full.rc")).trim(), "2", "{}", read(&dir.join("full.err")));
    assert!(read(&dir.join("full.err")).contains("disk is full"), "{}", read(&dir.join("full.err")));
    let store = dangle::store::Store::open(&dir.join("dangle.sqlite")).unwrap();
    assert_eq!(store.verify().unwrap(), Vec::<String>::new());
    assert_eq!(store.latest_run().unwrap(), Some(1), "the failed run left nothing");
    assert_eq!(read(&dir.join("after.rc")).trim(), "1", "{}", read(&dir.join("after.err")));
    let after = dangle::store::Store::open(&dir.join("after/dangle.sqlite")).unwrap();
    assert_eq!(after.verify().unwrap(), Vec::<String>::new());
    assert_eq!(after.latest_run().unwrap(), Some(2));
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
    assert!(Command::new("mkfifo").arg(dir.join("fifo.pem")).status().unwrap().success());
    with_probe("trust_anchors = [\"fifo.pem\"]\n");
    expect_error(&dir, &["scan"], &["[probe] trust_anchors", "fifo.pem", "not a regular file"]);
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

// Regression tests for the defects found from outside (hardening issue), named after each.

fn zone_dir(zone: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("zones")).unwrap();
    std::fs::write(dir.path().join("zones/example.com.zone"), zone).unwrap();
    std::fs::write(
        dir.path().join("dangle.toml"),
        "[[providers]]\ntype = \"zonefile\"\nname = \"zones\"\npath = \"zones/example.com.zone\"\n[[ranges]]\ncidr = \"192.0.2.0/24\"\nprovider = \"zones\"\n[probe]\nenabled = false\n",
    )
    .unwrap();
    dir
}

#[test]
fn include_proc_self_environ_is_refused_and_no_secret_reaches_stderr() {
    let dir = zone_dir("$INCLUDE /proc/self/environ\nwww A 192.0.2.1\n");
    let bin = env!("CARGO_BIN_EXE_dangle");
    let o = Command::new(bin)
        .args(["scan"])
        .current_dir(dir.path())
        .env("AWS_SECRET_ACCESS_KEY", "MARKER-SECRET-wJalrXUtnFEMI")
        .output()
        .unwrap();
    code(&o, 2);
    let err = text(&o.stderr);
    assert!(err.contains("zones/example.com.zone:1: $INCLUDE `/proc/self/environ` lies outside"), "{err}");
    assert!(!err.contains("MARKER-SECRET") && !err.contains("PATH="), "{err}");
    // /dev/zero and a FIFO: refused at once, never read or waited on.
    for (inc, needle) in [("/dev/zero", "outside"), ("fifo.inc", "not a regular file")] {
        std::fs::write(dir.path().join("zones/example.com.zone"), format!("$INCLUDE {inc}\n")).unwrap();
        if inc == "fifo.inc" {
            assert!(Command::new("mkfifo").arg(dir.path().join("zones/fifo.inc")).status().unwrap().success());
        }
        expect_error(dir.path(), &["scan"], &[needle]);
    }
}

#[test]
fn non_ascii_owner_and_long_txt_are_errors_or_names_never_a_panic() {
    let dir = zone_dir("\\é A 192.0.2.1\n");
    let o = dangle(dir.path(), &["scan", "--format", "csv"]);
    assert!(matches!(o.status.code(), Some(0..=3)), "{o:?}");
    assert!(text(&o.stdout).contains("\\195\\169.example.com"), "{}", text(&o.stdout));
    std::fs::write(dir.path().join("zones/example.com.zone"), format!("t TXT \"{}\"\n", "é".repeat(200))).unwrap();
    expect_error(dir.path(), &["scan"], &["zones/example.com.zone:1: TXT string longer than 255 octets"]);
}

#[test]
fn rfc3597_generic_data_is_judged() {
    let dir = zone_dir("printer A \\# 4 c00002c8\nold TYPE1 \\# 4 c00002c9\n");
    let o = dangle(dir.path(), &["scan", "--format", "csv"]);
    code(&o, 0);
    let out = text(&o.stdout);
    assert!(out.contains("printer.example.com,A,,192.0.2.200,example.com,zones,zones/example.com.zone,dangling"), "{out}");
    assert!(out.contains("old.example.com,A,,192.0.2.201,"), "{out}");
}

#[test]
fn one_out_of_zone_record_is_a_warning_not_a_failed_run() {
    let dir = zone_dir("www A 192.0.2.1\nns.other.net. A 198.51.100.1\n");
    let o = dangle(dir.path(), &["scan", "--format", "csv"]);
    code(&o, 0);
    let err = text(&o.stderr);
    assert!(err.contains("zones/example.com.zone:2: ignoring out-of-zone data"), "{err}");
    assert!(!text(&o.stdout).contains("other.net"));
}

#[test]
fn read_only_commands_work_in_a_read_only_folder_and_never_write() {
    let (_d, dir) = demo();
    code(&dangle(&dir, &["scan"]), 1);
    code(&dangle(&dir, &["scan"]), 1);
    let db = dir.join("dangle.sqlite");
    let before = std::fs::read(&db).unwrap();
    // A read-only bind mount over the folder, in a private mount namespace.
    let bin = env!("CARGO_BIN_EXE_dangle");
    for cmd in ["report --format json", "diff", "checklist 198.51.100.20"] {
        let script = format!("mount --bind -o ro \"$0\" \"$0\" && exec {bin} {cmd}");
        let o = Command::new("unshare").args(["-m", "-n", "sh", "-c", &script]).arg(&dir).current_dir(&dir).output().unwrap();
        assert!(matches!(o.status.code(), Some(0 | 1)), "{cmd}: {}", text(&o.stderr));
        assert!(o.stderr.is_empty() || !text(&o.stderr).contains("error"), "{cmd}: {}", text(&o.stderr));
    }
    assert!(std::fs::read(&db).unwrap() == before, "a read-only command changed the store");
}

#[test]
fn control_characters_never_reach_the_terminal_or_csv() {
    let dir = zone_dir("x\\027]0\\059pwned\\007y CNAME gone\n");
    let o = dangle(dir.path(), &["scan", "--out", "out"]);
    let all = [o.stdout.clone(), o.stderr.clone(), std::fs::read(dir.path().join("out/findings.csv")).unwrap(), std::fs::read(dir.path().join("out/report.md")).unwrap()];
    for bytes in all {
        assert!(!bytes.iter().any(|b| *b == 0x1b || *b == 0x07), "a raw control character: {}", text(&bytes));
    }
    assert!(text(&o.stdout).contains("x\\027]0\\;pwned\\007y.example.com"), "{}", text(&o.stdout));
}

#[test]
fn checklist_ip_does_not_widen_to_the_owned_block_around_it() {
    let (_d, dir) = demo();
    // 192.0.2.26 lies in the owned block dc-fra1-hosts (192.0.2.0/25); no record points at it.
    let o = dangle(&dir, &["checklist", "192.0.2.26", "--format", "json"]);
    code(&o, 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["records"].as_array().unwrap().len(), 0, "{v:#}");
    // mail.example.com is 192.0.2.25: it, and what follows it, and nothing else in the block.
    let o = dangle(&dir, &["checklist", "192.0.2.25", "--format", "json"]);
    code(&o, 1);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let recs = v["records"].as_array().unwrap();
    let direct: Vec<&str> = recs.iter().filter(|r| r["via"] == "").map(|r| r["target"].as_str().unwrap()).collect();
    assert_eq!(direct, ["192.0.2.25"], "{v:#}");
    assert!(recs.iter().filter(|r| r["via"] != "").all(|r| r["via"].as_str().unwrap().starts_with("mail.example.com → ")), "{v:#}");
}

#[test]
fn report_run_n_shows_the_line_numbers_run_n_saw() {
    let (_d, dir) = demo();
    code(&dangle(&dir, &["scan", "--out", "run1"]), 1);
    let z = dir.join("zones/example.com.zone");
    let original = read(&z);
    let at = original.find("\napi ").expect("api is in the zone") + 1;
    std::fs::write(&z, format!("{}; a comment\n; another\n{}", &original[..at], &original[at..])).unwrap();
    code(&dangle(&dir, &["scan"]), 1);
    let o = dangle(&dir, &["report", "--run", "1", "--out", "again"]);
    code(&o, 0);
    for f in ["report.md", "report.json"] {
        assert_eq!(read(&dir.join("run1").join(f)), read(&dir.join("again").join(f)), "{f}");
    }
}

#[test]
fn diff_calls_a_moved_address_changed_and_names_changes_alike() {
    let (_d, dir) = demo();
    // The colo server is gone: api.example.com (198.51.100.20) is dangling in run 1 ...
    std::fs::copy(dir.join("owned-after-decommission.csv"), dir.join("owned.csv")).unwrap();
    code(&dangle(&dir, &["scan"]), 1);
    // ... and someone "fixes" it by pointing it at another unowned colo address.
    let z = dir.join("zones/example.com.zone");
    let s = read(&z);
    assert!(s.contains("198.51.100.20"));
    std::fs::write(&z, s.replace("198.51.100.20", "198.51.100.21")).unwrap();
    code(&dangle(&dir, &["scan"]), 1);
    let o = dangle(&dir, &["diff", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let api: Vec<&serde_json::Value> = v["entries"].as_array().unwrap().iter().filter(|e| e["record_name"] == "api.example.com").collect();
    assert_eq!(api.len(), 1, "{v:#}");
    assert_eq!(api[0]["change"], "changed");
    assert_eq!((api[0]["old_target"].as_str(), api[0]["target"].as_str()), (Some("198.51.100.20"), Some("198.51.100.21")));
    // The same two runs named explicitly; runs that do not exist or come in the wrong order are refused.
    assert_eq!(text(&dangle(&dir, &["diff", "--from", "1", "--to", "2", "--format", "json"]).stdout), text(&o.stdout));
    expect_error(&dir, &["diff", "--from", "2", "--to", "1"], &["--from 2 is not earlier than run 1"]);
    expect_error(&dir, &["diff", "--to", "9"], &["holds no run 9"]);
    let first = dangle(&dir, &["diff", "--to", "1", "--format", "json"]);
    let v1: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!((v1["run"].as_i64(), v1["previous_run"].as_i64()), (Some(1), None), "{v1}");
    let table = text(&dangle(&dir, &["diff"]).stdout);
    let md = text(&dangle(&dir, &["diff", "--format", "markdown"]).stdout);
    assert!(table.contains("changed") && md.contains("| changed |"), "{table}\n{md}");
    assert!(!md.contains("Changed") && !md.contains("New"), "{md}");
}

#[test]
fn errors_say_each_thing_once() {
    let (_d, dir) = demo();
    std::fs::remove_file(dir.join("owned.csv")).unwrap();
    let err = text(&dangle(&dir, &["scan"]).stderr);
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    std::fs::write(dir.join("garbage.sqlite"), vec![b'x'; 4096]).unwrap();
    let err = text(&dangle(&dir, &["report", "--db", "garbage.sqlite"]).stderr);
    assert_eq!(err.trim_end(), "error: store garbage.sqlite: not a dangle store: the file is not an SQLite database");
    let c = read(&dir.join("dangle.toml")).replace("path = \"owned.csv\"", "path = \"\"");
    std::fs::write(dir.join("dangle.toml"), c).unwrap();
    expect_error(&dir, &["scan"], &["providers[3].path: empty"]);
    std::fs::write(dir.join("dangle.toml"), b"db = \"x\"\n# caf\xe9\n").unwrap();
    let err = text(&dangle(&dir, &["scan"]).stderr);
    assert_eq!(err.trim_end(), "error: dangle.toml: line 2: not valid UTF-8");
    let o = dangle(&dir, &["probe", "does-not-exist.invalid"]);
    let all = text(&o.stdout) + &text(&o.stderr);
    assert!(!all.contains("Query {") && !all.contains("Name("), "{all}");
}

#[test]
fn scan_out_on_a_full_disk_keeps_the_previous_reports() {
    let (_d, dir) = demo();
    let bin = env!("CARGO_BIN_EXE_dangle");
    // The reports live on a 192 KiB tmpfs: the first scan's fit, a second scan with a big zone does not.
    let mut z = String::from("$ORIGIN big.example.com.\n$TTL 300\n");
    for i in 0..5_000 {
        z.push_str(&format!("h{i} A 198.51.100.{}\n", i % 250));
    }
    std::fs::write(dir.join("big.zone.later"), z).unwrap();
    let script = format!(
        "mkdir -p out && mount -t tmpfs -o size=192k tmpfs out && {bin} scan --out out >/dev/null 2>&1; cp out/records.csv first.csv; \
         printf '\\n[[providers]]\\ntype = \"zonefile\"\\nname = \"big\"\\npath = \"big.zone.later\"\\n' >> dangle.toml; \
         {bin} scan --out out >/dev/null 2>second.err; echo $? > second.rc; cp out/records.csv after.csv; ls -a out > listing"
    );
    let o = Command::new("unshare").args(["-m", "-n", "sh", "-c", &script]).current_dir(&dir).output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(read(&dir.join("second.rc")).trim(), "2", "{}", read(&dir.join("second.err")));
    assert!(read(&dir.join("second.err")).contains("No space left"), "{}", read(&dir.join("second.err")));
    let first = read(&dir.join("first.csv"));
    assert!(first.lines().count() > 5, "{first}");
    assert_eq!(read(&dir.join("after.csv")), first, "the previous records.csv was damaged");
    assert!(!read(&dir.join("listing")).contains(".tmp"), "temporary files were left: {}", read(&dir.join("listing")));
}

#[test]
fn probe_flags_out_of_range_are_refused_like_the_config_not_clamped() {
    let dir = zone_dir("www A 192.0.2.1\n");
    expect_error(dir.path(), &["probe", "127.0.0.1:9", "--connect-timeout-ms", "0"], &["--connect-timeout-ms: 0 is outside 1..=600000"]);
    expect_error(dir.path(), &["probe", "127.0.0.1:9", "--handshake-timeout-ms", "600001"], &["--handshake-timeout-ms: 600001 is outside 1..=600000"]);
    std::fs::write(dir.path().join("dangle.toml"), "[probe]\nconnect_timeout_ms = 0\n").unwrap();
    expect_error(dir.path(), &["scan"], &["[probe] connect_timeout_ms: 0 is outside 1..=600000"]);
}

#[test]
fn prune_keeps_the_latest_runs_and_first_seen() {
    let (_d, dir) = demo();
    code(&dangle(&dir, &["scan", "--out", "one"]), 1);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    code(&dangle(&dir, &["scan"]), 1);
    code(&dangle(&dir, &["scan"]), 1);
    code(&dangle(&dir, &["prune"]), 2);
    let o = dangle(&dir, &["prune", "--keep", "1"]);
    code(&o, 0);
    assert!(text(&o.stdout).starts_with("pruned 2 run(s) (1…2)"), "{}", text(&o.stdout));
    let o = dangle(&dir, &["report", "--run", "1"]);
    code(&o, 2);
    assert!(text(&o.stderr).contains("run 1 was pruned on"), "{}", text(&o.stderr));
    // Run 3's rows still date their records from run 1.
    let o = dangle(&dir, &["report", "--format", "json"]);
    code(&o, 0);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let run1: serde_json::Value = serde_json::from_str(&read(&dir.join("one/report.json"))).unwrap();
    assert_eq!(v["rows"][0]["first_seen"], run1["run"]["started_at"]);
    let o = dangle(&dir, &["prune", "--keep", "1"]);
    assert!(text(&o.stdout).starts_with("nothing to prune"), "{}", text(&o.stdout));
}

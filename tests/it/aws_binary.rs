//! The `dangle` binary on an AWS estate, inside a fresh network namespace (`unshare -n`, loopback only)
//! where the machine allows it: moto, the seeding script and dangle all run in there, so the test
//! proves nothing leaves the machine. Seeds the demo's two accounts (scripts/demo-aws), scans,
//! decommissions (an EIP released, the ALB deleted, DNS untouched), and scans again.

use std::path::Path;
use std::process::Command;

fn netns() -> bool {
    Command::new("unshare").args(["-n", "true"]).status().is_ok_and(|s| s.success())
}

const SCRIPT: &str = r#"
set -eu
ip link set lo up 2>/dev/null || true
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >moto.log 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null || true' EXIT
for _ in $(seq 150); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break; sleep 0.1; done
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true
"$VENV/bin/python" "$ROOT/scripts/demo-aws" "http://127.0.0.1:$port" seed aws.json >/dev/null
cat >dangle.toml <<TOML
[[providers]]
type = "aws"
name = "aws"
regions = ["us-east-1", "eu-west-1"]
assume_roles = ["arn:aws:iam::111111111111:role/dangle-readonly", "arn:aws:iam::222222222222:role/dangle-readonly"]
endpoint_url = "http://127.0.0.1:$port"

[[ranges]]
cidr = "127.0.0.0/8"
provider = "aws"
claimable = true
TOML
set +e
"$DANGLE" scan --format csv >run1.csv 2>run1.err; echo $? >rc1
"$VENV/bin/python" "$ROOT/scripts/demo-aws" "http://127.0.0.1:$port" decommission aws.json >/dev/null
"$DANGLE" scan --format csv >run2.csv 2>run2.err; echo $? >rc2
"$DANGLE" diff --format csv >diff.csv 2>diff.err; echo $? >rc3
"#;

fn read(dir: &Path, f: &str) -> String {
    std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"))
}

/// The findings.csv row of a record, as `name,type,set,target,…,status,severity`.
fn finding<'a>(csv: &'a str, name: &str) -> &'a str {
    csv.lines().find(|l| l.starts_with(&format!("{name},"))).unwrap_or_else(|| panic!("{name} is no finding in:\n{csv}"))
}

/// Runs `script` with moto's virtualenv, the repository and the dangle binary at hand, inside
/// `unshare -n` where the machine allows it, with no ambient AWS or Azure identity but `env`; returns
/// the folder it ran in.
fn run_script(script: &str, env: &[(&str, &str)]) -> tempfile::TempDir {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = std::env::var_os("DANGLE_VENV").map(std::path::PathBuf::from).unwrap_or_else(|| root.join(".venv"));
    assert!(venv.join("bin/moto_server").exists(), "moto is not installed in {}: run scripts/setup", venv.display());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("run.sh"), script).unwrap();
    let mut cmd = if netns() {
        let mut c = Command::new("unshare");
        c.args(["-n", "sh", "run.sh"]);
        c
    } else {
        eprintln!("note: `unshare -n` is not available here; the scan runs in the host network namespace, on loopback");
        let mut c = Command::new("sh");
        c.arg("run.sh");
        c
    };
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || k.starts_with("AZURE_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    let out = cmd
        .current_dir(dir.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("HOME", dir.path())
        .env("VENV", &venv)
        .env("ROOT", root)
        .env("DANGLE", env!("CARGO_BIN_EXE_dangle"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    dir
}

#[test]
fn scans_an_aws_estate_inside_a_network_namespace() {
    let dir = run_script(SCRIPT, &[]);
    let d = dir.path();
    assert_eq!(read(d, "rc1").trim(), "1", "run 1 has high findings; stderr: {}", read(d, "run1.err"));
    let run1 = read(d, "run1.csv");
    assert!(finding(&run1, "old-api.shop.example").contains(",dangling,high,yes,"), "{run1}");
    assert!(finding(&run1, "promo.shop.example").contains("bucket `shop-promo-2024`"), "{run1}");
    assert!(finding(&run1, "legacy.shop.example").contains(",unverified,"), "{run1}");
    let is_finding = |csv: &str, name: &str| csv.lines().any(|l| l.starts_with(&format!("{name},")));
    assert!(!is_finding(&run1, "www.shop.example"), "the ALB is still there in run 1: {run1}");
    assert!(!is_finding(&run1, "api.shop.example"), "the EIP is still held in run 1: {run1}");
    assert_eq!(read(d, "rc2").trim(), "1", "{}", read(d, "run2.err"));
    let run2 = read(d, "run2.csv");
    assert!(finding(&run2, "api.shop.example").contains("released since run 1"), "{run2}");
    assert!(finding(&run2, "www.shop.example").contains("released since run 1"), "{run2}");
    assert_eq!(read(d, "rc3").trim(), "1", "diff fails on new high findings");
    let diff = read(d, "diff.csv");
    assert!(diff.lines().any(|l| l.starts_with("new,api.shop.example,A")), "{diff}");
}

/// Every secret dangle may be handed, as a marker no output may contain.
const MARKERS: &[(&str, &str)] = &[
    ("AWS_SECRET_ACCESS_KEY", "MARKER-AWS-SECRET-7f3a"),
    ("AWS_SESSION_TOKEN", "MARKER-AWS-TOKEN-91c2"),
    ("AZURE_CLIENT_SECRET", "MARKER-AZURE-SECRET-4b7d"),
    ("AZURE_FEDERATED_TOKEN", "MARKER-AZURE-FEDERATED-0e5f"),
    ("DANGLE_ALERT_TOKEN", "MARKER-ALERT-TOKEN-6d21"),
];
const EXTERNAL_ID: &str = "MARKER-EXTERNAL-ID-2a9c";

const SECRETS_SCRIPT: &str = r#"
set -eu
ip link set lo up 2>/dev/null || true
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
closed=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >moto.log 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null || true' EXIT
for _ in $(seq 150); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break; sleep 0.1; done
AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN= "$VENV/bin/python" "$ROOT/scripts/demo-aws" "http://127.0.0.1:$port" seed aws.json >/dev/null
config() {
cat >dangle.toml <<TOML
[[providers]]
type = "aws"
name = "aws"
regions = ["us-east-1"]
assume_roles = ["arn:aws:iam::111111111111:role/dangle-readonly"]
external_id = "$EXTERNAL_ID"
endpoint_url = "http://127.0.0.1:$1"

[[ranges]]
cidr = "127.0.0.0/8"
provider = "aws"
TOML
}
set +e
n=0
for run in "|" "-v|" "-vv|" "|trace" "|aws_sigv4=trace,aws_smithy_runtime=trace,aws_config=trace,hyper=trace,trace"; do
    level=${run%%|*}; log=${run#*|}
    n=$((n+1))
    config "$port"
    DANGLE_LOG="$log" "$DANGLE" $level scan --out "out$n" --format json >"ok$n.out" 2>"ok$n.err"; echo $? >>codes
    config "$closed"
    DANGLE_LOG="$log" "$DANGLE" $level scan --db failed.sqlite --out "failed$n" >"fail$n.out" 2>"fail$n.err"; echo $? >>codes
done
config "$port"
"$DANGLE" report --format json >report.json 2>report.err
"$DANGLE" report --format markdown >report.md 2>>report.err
"$DANGLE" diff --format json >diff.json 2>>report.err
"$DANGLE" checklist 127.0.0.1/8 --format json >checklist.json 2>>report.err
true
"#;

/// A scan never writes a secret anywhere: at every log level, succeeding and failing, in what it
/// prints, the reports it writes and the store it keeps.
#[test]
fn no_secret_reaches_any_output_log_report_or_store() {
    let mut env: Vec<(&str, &str)> = MARKERS.to_vec();
    env.extend([
        ("AWS_ACCESS_KEY_ID", "AKIDTESTING"),
        ("AZURE_CLIENT_ID", "00000000-0000-0000-0000-000000000001"),
        ("AZURE_TENANT_ID", "00000000-0000-0000-0000-000000000002"),
        ("EXTERNAL_ID", EXTERNAL_ID),
    ]);
    let dir = run_script(SECRETS_SCRIPT, &env);
    let d = dir.path();
    // The runs did what they should: the good ones scanned (exit 1: findings), the failed ones hit a closed port (gaps: 3).
    let codes = read(d, "codes");
    let codes: Vec<&str> = codes.lines().collect();
    assert_eq!(codes.len(), 10, "{codes:?}");
    assert!(codes.iter().step_by(2).all(|c| *c == "1"), "succeeding scans: {codes:?}\n{}", read(d, "ok1.err"));
    assert!(codes.iter().skip(1).step_by(2).all(|c| *c == "3"), "failing scans: {codes:?}\n{}", read(d, "fail1.err"));
    assert!(read(d, "ok4.err").lines().count() > 100, "the trace run logged little: the test proved nothing");
    // Every file the runs left, the store included (its bytes, and SQLite's WAL beside it).
    let mut files = Vec::new();
    let mut stack = vec![d.to_path_buf()];
    while let Some(p) = stack.pop() {
        for e in std::fs::read_dir(&p).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else if e.file_name() != "run.sh" {
                files.push(e.path());
            }
        }
    }
    assert!(files.iter().any(|f| f.ends_with("dangle.sqlite")) && files.iter().any(|f| f.ends_with("out1/report.json")), "{files:?}");
    let mut secrets: Vec<&str> = MARKERS.iter().map(|(_, v)| *v).collect();
    secrets.push(EXTERNAL_ID);
    for f in &files {
        if f.ends_with("dangle.toml") || f.ends_with("moto.log") {
            continue; // the config holds the external id because the user put it there; moto is the far end
        }
        let bytes = std::fs::read(f).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for s in &secrets {
            assert!(!text.contains(s), "{s} in {}", f.display());
        }
    }
}

const REACT_SCRIPT: &str = r#"
set -eu
ip link set lo up 2>/dev/null || true
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
MOTO_ENABLE_RECORDING=True MOTO_RECORDER_FILEPATH="$PWD/requests.jsonl" "$VENV/bin/moto_server" -H 127.0.0.1 -p "$port" >moto.log 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null || true' EXIT
for _ in $(seq 150); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null && break; sleep 0.1; done
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true
"$VENV/bin/python" "$ROOT/scripts/demo-aws" "http://127.0.0.1:$port" seed aws.json >/dev/null
cat >dangle.toml <<TOML
db = "shards.sqlite"

[[providers]]
type = "aws"
name = "aws"
regions = ["us-east-1", "eu-west-1"]
assume_roles = ["arn:aws:iam::111111111111:role/dangle-readonly", "arn:aws:iam::222222222222:role/dangle-readonly"]
endpoint_url = "http://127.0.0.1:$port"

[[ranges]]
cidr = "127.0.0.0/8"
provider = "aws"
claimable = true
TOML
set +e
"$DANGLE" scan --shard aws --enumerate-only >shard.out 2>shard.err; echo $? >rc1
"$DANGLE" judge --format csv >judge.csv 2>judge.err; echo $? >rc2
"$VENV/bin/python" "$ROOT/scripts/demo-aws" "http://127.0.0.1:$port" decommission aws.json >/dev/null
alloc=$(python3 -c 'import json; print(json.load(open("aws.json"))["api_alloc"])')
cat >event.json <<JSON
{"version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "detail-type": "AWS API Call via CloudTrail", "source": "aws.ec2",
 "account": "111111111111", "time": "2026-12-01T10:00:00Z", "region": "us-east-1", "resources": [],
 "detail": {"eventVersion": "1.08", "eventSource": "ec2.amazonaws.com", "eventName": "ReleaseAddress", "awsRegion": "us-east-1",
            "recipientAccountId": "111111111111", "requestParameters": {"allocationId": "$alloc"}, "responseElements": {"_return": true}}}
JSON
: >requests.jsonl
"$DANGLE" react --event - --format csv <event.json >react.csv 2>react.err; echo $? >rc3
cp requests.jsonl react-requests.jsonl
"#;

#[test]
fn react_reads_only_what_an_event_touched_and_judges_it_at_once() {
    let dir = run_script(REACT_SCRIPT, &[]);
    let d = dir.path();
    assert_eq!(read(d, "rc1").trim(), "0", "{}", read(d, "shard.err"));
    assert!(read(d, "shard.out").starts_with("shard aws: "), "{}", read(d, "shard.out"));
    assert_eq!(read(d, "rc2").trim(), "1", "{}", read(d, "judge.err"));
    let is_finding = |csv: &str, name: &str| csv.lines().any(|l| l.starts_with(&format!("{name},")));
    let judged = read(d, "judge.csv");
    assert!(!is_finding(&judged, "api.shop.example"), "the EIP is held before the release: {judged}");
    // The release event: the record to the released address is dangling in the next run.
    assert_eq!(read(d, "rc3").trim(), "1", "{}", read(d, "react.err"));
    let reacted = read(d, "react.csv");
    assert!(finding(&reacted, "api.shop.example").contains("released since run 1"), "{reacted}");
    // Only EC2 of that account and region was read again: the ALB deleted in the same decommission
    // sent no event here, so its record still reads as the stored inventory says.
    assert!(!is_finding(&reacted, "www.shop.example"), "{reacted}");
    let mut services = std::collections::BTreeSet::new();
    for line in read(d, "react-requests.jsonl").lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let auth = v["headers"]["Authorization"].as_str().or_else(|| v["headers"]["authorization"].as_str()).unwrap_or_default();
        // Credential=KEY/DATE/REGION/SERVICE/aws4_request
        let scope: Vec<&str> = auth.split("Credential=").nth(1).unwrap_or_default().split(',').next().unwrap_or_default().split('/').collect();
        if scope.len() >= 4 {
            services.insert(format!("{} {}", scope[3], scope[2]));
        }
    }
    let read_again: Vec<&String> = services.iter().filter(|s| !s.starts_with("sts ") && !s.starts_with("organizations ") && !s.starts_with("iam ")).collect();
    assert_eq!(read_again, ["ec2 us-east-1"], "every service asked during react: {services:?}");
}

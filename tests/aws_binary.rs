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

#[test]
fn scans_an_aws_estate_inside_a_network_namespace() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let venv = std::env::var_os("DANGLE_VENV").map(std::path::PathBuf::from).unwrap_or_else(|| root.join(".venv"));
    assert!(venv.join("bin/moto_server").exists(), "moto is not installed in {}: run scripts/setup", venv.display());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("run.sh"), SCRIPT).unwrap();
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
        if k.starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .env("VENV", &venv)
        .env("ROOT", root)
        .env("DANGLE", env!("CARGO_BIN_EXE_dangle"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
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

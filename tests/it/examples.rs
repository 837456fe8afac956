//! examples/ work: each is checked by its ecosystem's own validator (systemd-analyze verify, the
//! Kubernetes OpenAPI schemas through kubernetes-validate --strict, GitHub's workflow schema through
//! check-jsonschema; the last two installed in the virtualenv by scripts/setup), and every dangle
//! command line in them parses with this build's CLI.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Parser as _;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

fn tool(name: &str) -> PathBuf {
    let p = dangle_aws::testing::venv().join("bin").join(name);
    assert!(p.exists(), "{} is not installed: run scripts/setup", p.display());
    p
}

#[track_caller]
fn passes(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?} ({e}): run scripts/setup"));
    let (out, err) = (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned());
    assert!(o.status.success(), "{cmd:?} failed:\n{out}\n{err}");
    out + &err
}

/// Parses `argv` (without the program) as this build's dangle would.
#[track_caller]
fn parses(argv: &[String], from: &str) {
    let mut full = vec!["dangle".to_string()];
    full.extend(argv.iter().cloned());
    if let Err(e) = dangle::cli::Cli::try_parse_from(&full) {
        panic!("{from}: `{}` does not parse: {e}", full.join(" "));
    }
}

#[test]
fn systemd_units_verify_and_their_commands_parse() {
    let dir = tempfile::tempdir().unwrap();
    // The one change: the binary where this build put it (verify checks that ExecStart exists).
    for unit in ["dangle.service", "dangle.timer"] {
        let text = std::fs::read_to_string(examples().join("systemd").join(unit)).unwrap();
        std::fs::write(dir.path().join(unit), text.replace("/usr/local/bin/dangle", env!("CARGO_BIN_EXE_dangle"))).unwrap();
    }
    let said = passes(Command::new("systemd-analyze").args(["verify", "./dangle.service", "./dangle.timer"]).current_dir(dir.path()));
    // verify only warns about an unknown key or a bad value: none may appear.
    assert!(!said.contains("Unknown") && !said.contains("ignoring") && !said.contains("Failed"), "{said}");
    let service = std::fs::read_to_string(examples().join("systemd/dangle.service")).unwrap();
    let mut n = 0;
    for line in service.lines().filter(|l| l.starts_with("ExecStart")) {
        let cmd = line.split_once('=').unwrap().1;
        let argv: Vec<String> = cmd.split_whitespace().skip(1).map(String::from).collect();
        parses(&argv, "dangle.service");
        n += 1;
    }
    assert_eq!(n, 2, "a scan and a prune");
}

#[test]
fn the_kubernetes_cronjob_validates_strictly_and_its_command_parses() {
    let file = examples().join("kubernetes/cronjob.yaml");
    let said = passes(Command::new(tool("kubernetes-validate")).arg("--strict").arg(&file));
    for kind in ["serviceaccount/dangle", "persistentvolumeclaim/dangle-store", "cronjob/dangle"] {
        assert!(said.contains(&format!("passed for resource {kind}")), "{said}");
    }
    // The container's args, as the YAML lists them.
    let text = std::fs::read_to_string(&file).unwrap();
    let args: Vec<String> = text
        .split("args:\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| l.trim_start().starts_with("- "))
        .map(|l| l.trim_start().trim_start_matches("- ").to_string())
        .collect();
    assert!(args.contains(&"scan".to_string()), "{args:?}");
    parses(&args, "cronjob.yaml");
    assert!(text.contains("eks.amazonaws.com/role-arn") && text.contains("azure.workload.identity/client-id"), "IRSA and workload identity");
    assert!(text.contains("readOnlyRootFilesystem: true") && text.contains("persistentVolumeClaim"));
}

#[test]
fn the_github_workflow_matches_githubs_schema_uploads_sarif_and_its_command_parses() {
    let file = examples().join("github/dangle.yml");
    passes(Command::new(tool("check-jsonschema")).args(["--builtin-schema", "vendor.github-workflows"]).arg(&file));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("github/codeql-action/upload-sarif") && text.contains("sarif_file: out/report.sarif"), "uploads the SARIF");
    assert!(text.contains("security-events: write"));
    let line = text.lines().map(str::trim).find(|l| l.starts_with("dangle scan")).expect("a dangle scan line");
    assert!(line.contains("--fail-on high"), "{line}");
    parses(&line.split_whitespace().skip(1).map(String::from).collect::<Vec<_>>(), "dangle.yml");
}

#[test]
fn the_iam_policy_and_azure_role_grant_reads_only() {
    let policy: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(examples().join("iam-policy.json")).unwrap()).unwrap();
    for s in policy["Statement"].as_array().unwrap() {
        assert_eq!(s["Effect"], "Allow");
        for a in s["Action"].as_array().unwrap() {
            let verb = a.as_str().unwrap().split(':').nth(1).unwrap();
            // Reads, and the one call that reaches member accounts' read-only roles (`assume_roles`).
            assert!(["List", "Describe", "Get"].iter().any(|v| verb.starts_with(v)) || a == "sts:AssumeRole", "{a} is not a read");
        }
    }
    let role: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(examples().join("azure-role.json")).unwrap()).unwrap();
    for a in role["Actions"].as_array().or_else(|| role["properties"]["permissions"][0]["actions"].as_array()).unwrap() {
        let a = a.as_str().unwrap();
        // Reads, and the services' name availability checks (a POST that reads; dangle_azure::claims::CHECKS).
        let check = dangle_azure::claims::CHECKS.iter().any(|c| c.action == a);
        assert!(a.ends_with("/read") || check, "{a} is not a read");
    }
}

/// The react function: its config loads, its command line parses, its shell is valid, and every
/// event its EventBridge rule forwards is one `dangle react` acts on (the rule and the code cannot
/// drift apart).
#[test]
fn the_react_function_forwards_only_events_react_acts_on() {
    let dir = examples().join("aws-react");
    dangle::config::Config::load(&dir.join("dangle.toml")).unwrap_or_else(|e| panic!("{}", dangle::errors::render(&e.into())));
    let sh = Command::new("sh").arg("-n").arg(dir.join("bootstrap")).status().unwrap();
    assert!(sh.success(), "bootstrap is not valid sh");
    let bootstrap = std::fs::read_to_string(dir.join("bootstrap")).unwrap();
    let line = bootstrap.lines().map(str::trim).find(|l| l.starts_with("dangle react")).expect("a dangle react line");
    let argv: Vec<String> = line.split('<').next().unwrap().split_whitespace().skip(1).map(|a| a.trim_matches('"').replace("$config", "dangle.toml").replace("$DANGLE_DB", "postgres://dangle@db/dangle")).collect();
    let argv: Vec<String> = argv.into_iter().take_while(|a| a != "||").collect();
    parses(&argv, "aws-react/bootstrap");
    let rule: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("eventbridge-rule.json")).unwrap()).unwrap();
    let sources: Vec<&str> = rule["detail"]["eventSource"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    let names: Vec<&str> = rule["detail"]["eventName"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    for name in &names {
        // The source that emits it (the rule lists each event's source).
        let acted = sources.iter().any(|source| {
            let event = serde_json::json!({
                "source": format!("aws.{}", source.trim_end_matches(".amazonaws.com")), "account": "111111111111", "region": "us-east-1",
                "detail": {"eventSource": source, "eventName": name, "awsRegion": "us-east-1", "recipientAccountId": "111111111111", "requestParameters": {}}
            });
            matches!(dangle::commands::react::parse(&event.to_string(), &dangle::providers::registry()).unwrap().1.as_slice(), [dangle::commands::react::Seen::Change(_)])
        });
        assert!(acted, "the rule forwards {name}, which react ignores");
    }
    for source in &sources {
        let service = source.trim_end_matches(".amazonaws.com");
        assert!(rule["source"].as_array().unwrap().iter().any(|s| s.as_str() == Some(&format!("aws.{service}"))), "{source} is not among the rule's sources");
    }
}

//! The shared store end to end: the binary, inside a network namespace of its own, on the demo estate
//! against PostgreSQL (through the test server's socket) scans, reports, diffs, checklists and prunes
//! exactly as on SQLite, byte for byte but for the times.

use std::path::Path;
use std::process::Output;

use crate::cli::{code, dangle, demo, read, text};
use dangle_testkit::PgDb;

/// What a command printed, with times and the store's own name masked (they differ by engine and run).
fn masked(s: &str, store: &str) -> String {
    let times = regex::Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)").unwrap();
    let days = regex::Regex::new(r"\d{4}-\d\d-\d\d").unwrap();
    let s = s.replace(store, "[STORE]");
    days.replace_all(&times.replace_all(&s, "[TIME]"), "[DATE]").into_owned()
}

/// Everything the demo's story prints and writes, on the store `db` (`None`: the config's SQLite file).
fn story(dir: &Path, db: Option<&str>) -> Vec<(String, String)> {
    let store = db.unwrap_or("./dangle.sqlite").to_string();
    let run = |args: &[&str]| -> Output {
        let mut a: Vec<&str> = args.to_vec();
        if let Some(db) = db {
            a.extend(["--db", db]);
        }
        dangle(dir, &a)
    };
    let mut out = Vec::new();
    let keep = |out: &mut Vec<(String, String)>, what: &str, o: &Output| {
        out.push((what.to_string(), format!("exit {:?}\n{}\n--- stderr\n{}", o.status.code(), masked(&text(&o.stdout), &store), masked(&text(&o.stderr), &store))));
    };
    let o = run(&["scan", "--no-probe", "--out", "out1"]);
    code(&o, 1);
    keep(&mut out, "scan 1", &o);
    // The colo server is decommissioned; nobody touches DNS.
    std::fs::copy(dir.join("owned-after-decommission.csv"), dir.join("owned.csv")).unwrap();
    keep(&mut out, "scan 2", &run(&["scan", "--no-probe", "--out", "out2"]));
    for f in ["records.csv", "findings.csv", "assets.csv", "gaps.csv", "report.md", "report.sarif"] {
        out.push((format!("out2/{f}"), masked(&read(&dir.join("out2").join(f)), &store)));
    }
    keep(&mut out, "report json", &run(&["report", "--format", "json"]));
    keep(&mut out, "report run 1", &run(&["report", "--run", "1", "--format", "csv"]));
    keep(&mut out, "diff", &run(&["diff"]));
    keep(&mut out, "diff json", &run(&["diff", "--format", "json"]));
    keep(&mut out, "checklist", &run(&["checklist", "192.0.2.0/28", "--format", "csv"]));
    keep(&mut out, "prune", &run(&["prune", "--keep", "1"]));
    keep(&mut out, "report pruned", &run(&["report", "--run", "1"]));
    keep(&mut out, "report kept", &run(&["report", "--run", "2", "--format", "csv"]));
    out
}

#[test]
fn the_demo_on_postgres_reads_exactly_as_on_sqlite() {
    let pg = PgDb::new();
    let (_a, on_sqlite) = demo();
    let (_b, on_postgres) = demo();
    let want = story(&on_sqlite, None);
    let got = story(&on_postgres, Some(&pg.socket_url()));
    assert_eq!(want.len(), got.len());
    for ((what, w), (_, g)) in want.iter().zip(&got) {
        assert_eq!(g, w, "{what} differs between PostgreSQL (left) and SQLite (right)");
    }
    // The story did what it says: findings, a diff with the decommissioned server, a pruned run.
    let all: String = got.iter().map(|(_, s)| s.as_str()).collect();
    assert!(all.contains("run 1 was pruned on"), "{all}");
    assert!(!on_postgres.join("dangle.sqlite").exists(), "the PostgreSQL runs wrote no SQLite file");
}

#[test]
fn a_password_in_the_store_url_is_refused_and_never_shown() {
    let (_d, dir) = demo();
    let o = dangle(&dir, &["scan", "--no-probe", "--db", "postgres://dangle:sekrit-42@127.0.0.1:9/dangle"]);
    code(&o, 2);
    let err = text(&o.stderr);
    assert!(err.contains("holds a password") && err.contains("PGPASSWORD"), "{err}");
    assert!(!err.contains("sekrit-42") && !text(&o.stdout).contains("sekrit-42"), "{err}");
}

#[test]
fn an_unreachable_store_server_is_one_sentence_and_exit_2() {
    let (_d, dir) = demo();
    let o = dangle(&dir, &["report", "--db", "postgres://dangle@127.0.0.1:9/dangle"]);
    code(&o, 2);
    let err = text(&o.stderr);
    assert!(err.starts_with("error: store postgres://dangle@127.0.0.1:9/dangle: "), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

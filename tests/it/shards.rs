//! Shards end to end: eight runner processes, each with one provider, write their inventories into one
//! PostgreSQL at the same time (`scan --shard NAME --enumerate-only`, each in a network namespace of its
//! own, over the server's socket); `judge` then judges the union, and its rows are the rows a single
//! scan of all eight providers makes. A runner killed while it writes leaves its shard as it was.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::cli::{code, dangle, netns, read, text};
use dangle::store::{Location, Store};
use dangle_testkit::PgDb;

const ZONES: usize = 6;

/// Six zones whose records point into each other and at two static lists' addresses, the lists
/// themselves, one config per runner and one with everything.
fn estate(dir: &Path, hosts_per_zone: usize) {
    std::fs::create_dir_all(dir.join("zones")).unwrap();
    for i in 0..ZONES {
        let mut z = format!("$ORIGIN example{i}.com.\n$TTL 300\n@ SOA ns1.example{i}.com. hostmaster.example{i}.com. 1 3600 600 86400 300\n@ NS ns1.example{i}.com.\nns1 A 192.0.2.1\n");
        for k in 0..hosts_per_zone {
            z.push_str(&format!("h{k} A 192.0.2.{}\n", (i * 37 + k) % 254 + 1));
        }
        for k in 0..20 {
            z.push_str(&format!("c{k} CNAME h{k}.example{}.com.\n", (i + 1) % ZONES));
        }
        for k in 0..5 {
            z.push_str(&format!("gone{k} CNAME missing{k}.example{}.com.\n", (i + 2) % ZONES));
        }
        std::fs::write(dir.join(format!("zones/z{i}.zone")), z).unwrap();
    }
    let list = |name: &str, pick: &dyn Fn(usize) -> bool| {
        let mut csv = String::from("id,kind,account,region,ips,hosts\n");
        for n in (1..=254).filter(|n| pick(*n)) {
            csv.push_str(&format!("host-{n},static,{name},fra1,192.0.2.{n},\n"));
        }
        std::fs::write(dir.join(format!("{name}.csv")), csv).unwrap();
    };
    list("dc-a", &|n| n <= 120 && n % 2 == 0);
    list("dc-b", &|n| n > 120 && n % 3 == 0);
    let providers: Vec<String> = (0..ZONES)
        .map(|i| format!("[[providers]]\ntype = \"zonefile\"\nname = \"example{i}.com\"\npath = \"zones/z{i}.zone\"\n"))
        .chain(["dc-a", "dc-b"].iter().map(|n| format!("[[providers]]\ntype = \"static\"\nname = \"{n}\"\npath = \"{n}.csv\"\n")))
        .collect();
    let ranges = "[[ranges]]\ncidr = \"192.0.2.0/24\"\nprovider = \"static\"\n\n[probe]\nenabled = false\n";
    for (i, p) in providers.iter().enumerate() {
        std::fs::write(dir.join(format!("runner-{i}.toml")), p).unwrap();
    }
    std::fs::write(dir.join("all.toml"), format!("db = \"single.sqlite\"\n{}\n{ranges}", providers.join("\n"))).unwrap();
    std::fs::write(dir.join("judge.toml"), ranges).unwrap();
}

/// Runner `i`'s command line: its shard's name sorts in the providers' order.
fn runner(dir: &Path, i: usize, url: &str) -> Command {
    let bin = env!("CARGO_BIN_EXE_dangle");
    let mut c = if netns() {
        let mut c = Command::new("unshare");
        c.arg("-n").arg(bin);
        c
    } else {
        Command::new(bin)
    };
    let config = format!("runner-{i}.toml");
    let shard = format!("{i:02}-runner");
    c.args(["scan", "-c", &config, "--shard", &shard, "--enumerate-only", "--db", url]).current_dir(dir).env("HOME", dir).env_remove("DANGLE_LOG");
    c
}

/// records.csv with its dates masked (the runs differ in time only).
fn rows(path: &Path) -> String {
    let times = regex::Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z").unwrap();
    times.replace_all(&read(path), "[TIME]").into_owned()
}

#[test]
fn eight_runners_at_once_judge_as_one_scan() {
    let pg = PgDb::new();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    estate(dir, 40);
    let url = pg.socket_url();
    // Eight processes at once, on a database none of them has seen: they migrate it once between them.
    let children: Vec<_> = (0..8).map(|i| runner(dir, i, &url).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap()).collect();
    for (i, c) in children.into_iter().enumerate() {
        let o = c.wait_with_output().unwrap();
        code(&o, 0);
        assert!(text(&o.stdout).starts_with(&format!("shard {i:02}-runner: ")), "{}", text(&o.stdout));
    }
    let judged = dangle(dir, &["judge", "-c", "judge.toml", "--db", &url, "--out", "judged", "--fail-on", "medium"]);
    code(&judged, 1);
    let single = dangle(dir, &["scan", "-c", "all.toml", "--out", "single", "--fail-on", "medium"]);
    code(&single, 1);
    assert_eq!(text(&judged.stdout).replace("judge", "scan"), text(&single.stdout));
    let (judged, single) = (rows(&dir.join("judged/records.csv")), rows(&dir.join("single/records.csv")));
    assert!(judged.lines().count() > 300, "{judged}");
    assert_eq!(judged, single, "judge of eight shards (left) and one scan (right)");
    // Ownership across shards: a record in a zone shard is owned by a static list's shard.
    assert!(judged.contains(",owned,") && judged.contains(",dangling,"), "{judged}");
    for f in ["assets.csv", "gaps.csv"] {
        assert_eq!(rows(&dir.join("judged").join(f)), rows(&dir.join("single").join(f)), "{f}");
    }
}

#[test]
fn a_runner_killed_while_it_writes_leaves_its_shard_as_it_was() {
    let pg = PgDb::new();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    estate(dir, 40);
    let url = pg.socket_url();
    code(&runner(dir, 0, &url).output().unwrap(), 0);
    let store = || Store::open_existing(Location::Postgres { url: pg.url.clone(), password_file: None }).unwrap();
    let before = store().shards().unwrap();
    assert_eq!(before.len(), 1);
    // The next enumeration is far bigger (a long write); it is killed as soon as it starts writing.
    estate(dir, 60_000);
    let mut killed_mid_write = 0;
    for _ in 0..5 {
        let mut child = runner(dir, 0, &url).env("DANGLE_LOG", "dangle=info").stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let mut err = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        while std::io::BufRead::read_line(&mut err, &mut line).unwrap() > 0 && !line.contains("phase=read") && !line.contains("phase=\"read\"") {
            line.clear();
        }
        child.kill().unwrap();
        let status = child.wait().unwrap();
        let now = store().shards().unwrap();
        assert_eq!(now.len(), 1);
        // Whole or not at all: the snapshot the shard names holds exactly what it says.
        let s = &now[0];
        let inv = store().load_shards(&[s.snapshot], &Default::default()).unwrap();
        assert_eq!((inv.records.len() as i64, inv.assets.len() as i64), (s.records, s.assets));
        if !status.success() && now == before {
            killed_mid_write += 1;
        }
    }
    assert!(killed_mid_write > 0, "no run was killed mid-write: the test proved nothing");
    // The previous inventory still judges.
    let o = dangle(dir, &["judge", "-c", "judge.toml", "--db", &url, "--no-probe"]);
    assert!(o.status.code() == Some(0) || o.status.code() == Some(1), "{}", text(&o.stderr));
}

#[test]
fn judge_marks_stale_shards_or_refuses_them() {
    let pg = PgDb::new();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    estate(dir, 10);
    let url = pg.socket_url();
    for i in 0..8 {
        code(&runner(dir, i, &url).output().unwrap(), 0);
    }
    // Shard 06 (the first static list) was enumerated long ago.
    pg.admin_sql("UPDATE shard_snapshots SET started_at = '2026-01-01T00:00:00Z' WHERE shard = '06-runner'");
    let o = dangle(dir, &["judge", "-c", "judge.toml", "--db", &url, "--max-age", "2h", "--refuse-stale"]);
    code(&o, 2);
    assert!(text(&o.stderr).contains("06-runner (enumerated 2026-01-01T00:00:00Z)"), "{}", text(&o.stderr));
    let o = dangle(dir, &["judge", "-c", "judge.toml", "--db", &url, "--max-age", "2h", "--out", "out", "--format", "csv"]);
    let gaps = read(&dir.join("out/gaps.csv"));
    assert!(gaps.contains("shard 06-runner") && gaps.contains("older than --max-age"), "{gaps}");
    // Its addresses are not judged missing on old news: what was dangling against it is unverified.
    let rows = read(&dir.join("out/records.csv"));
    assert!(rows.contains(",unverified,"), "{rows}");
    code(&o, 3);
    let o = dangle(dir, &["judge", "-c", "judge.toml", "--db", &url, "--max-age", "soon"]);
    code(&o, 2);
    assert!(text(&o.stderr).contains("`soon` is not a duration"), "{}", text(&o.stderr));
}

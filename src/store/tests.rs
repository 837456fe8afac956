use std::sync::Arc;

use dangle_model::{Asset, AssetKind, DnsName, DnsRecord, RecordType, Target};

use super::*;
use crate::reconcile::ranges::Ranges;
use crate::reconcile::{reconcile, Inputs};

fn rec(name: &str, ip: &str, location: &str) -> DnsRecord {
    DnsRecord {
        source: "zones".into(),
        account: "z.zone".into(),
        zone: DnsName::parse("example.com").unwrap(),
        zone_private: false,
        name: DnsName::parse(name).unwrap(),
        rtype: RecordType::A,
        ttl: 60,
        set_id: None,
        targets: [Target::Ip(ip.parse().unwrap())].into_iter().collect(),
        location: Some(Arc::from(location)),
        spec: None,
    }
}

fn asset(id: &str, ip: &str) -> Asset {
    Asset {
        source: "dc".into(),
        account: "dc".into(),
        region: None,
        kind: AssetKind::Static,
        id: id.into(),
        ips: [dangle_model::parse_ip_or_cidr(ip).unwrap()].into_iter().collect(),
        hosts: vec![],
    }
}

fn write(store: &mut Store, started: &str, records: &[DnsRecord], assets: &[Asset]) -> i64 {
    let ranges = Ranges::new(&[]);
    let history = store.history().unwrap();
    let inputs = Inputs { records, assets, gaps: &[], covered: &[], providers: &[], ranges: &ranges, history: &history };
    let judgements = reconcile(&inputs);
    store
        .write_run(&RunInput {
            explain: &inputs.explainer(),
            started_at: started.into(),
            config: "test".into(),
            snapshot: "snap".into(),
            records,
            judgements: &judgements,
            assets,
            gaps: &[],
            probed: &Default::default(),
            stale_days: 90,
            probing: false,
            claims: &Default::default(),
            name_findings: &[],
            baselines: &[],
        })
        .unwrap()
}

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("s.sqlite")).unwrap();
    (dir, s)
}

#[test]
fn first_seen_stays_and_last_seen_moves() {
    let (_d, mut s) = store();
    let a = [asset("web", "192.0.2.1")];
    write(&mut s, "2026-01-01T00:00:00Z", &[rec("a.example.com", "192.0.2.1", "z.zone:3")], &a);
    write(&mut s, "2026-01-02T00:00:00Z", &[rec("a.example.com", "192.0.2.1", "z.zone:3"), rec("b.example.com", "192.0.2.2", "z.zone:4")], &a);
    let rows = s.rows(2).unwrap();
    let a_row = rows.iter().find(|r| r.record_name == "a.example.com").unwrap();
    assert_eq!(a_row.first_seen, "2026-01-01T00:00:00Z");
    let (first, last): (i64, i64) =
        s.conn.query_row("SELECT first_run, last_run FROM records c WHERE c.name = 'a.example.com'", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!((first, last), (1, 2));
    assert_eq!(a_row.owner, "static web");
    let b_row = rows.iter().find(|r| r.record_name == "b.example.com").unwrap();
    assert_eq!(b_row.first_seen, "2026-01-02T00:00:00Z");
    // Run 1 reads back as it was written.
    assert_eq!(s.rows(1).unwrap().len(), 1);
    assert_eq!(s.assets(2).unwrap()[0].first_seen, "2026-01-01T00:00:00Z");
    assert_eq!(s.verify().unwrap(), Vec::<String>::new());
}

#[test]
fn a_moved_record_keeps_its_identity_and_gets_the_new_location() {
    let (_d, mut s) = store();
    write(&mut s, "2026-01-01T00:00:00Z", &[rec("a.example.com", "192.0.2.1", "z.zone:3")], &[]);
    write(&mut s, "2026-01-02T00:00:00Z", &[rec("a.example.com", "192.0.2.1", "z.zone:9")], &[]);
    let rows = s.rows(2).unwrap();
    assert_eq!(rows[0].location, "z.zone:9");
    assert_eq!(rows[0].first_seen, "2026-01-01T00:00:00Z");
    let n: i64 = s.conn.query_row("SELECT COUNT(*) FROM records", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 1);
}

#[test]
fn the_same_identity_twice_in_one_run_is_one_record() {
    let (_d, mut s) = store();
    let r = rec("a.example.com", "192.0.2.1", "z.zone:3");
    write(&mut s, "2026-01-01T00:00:00Z", &[r.clone(), r.clone()], &[asset("x", "192.0.2.1"), asset("x", "192.0.2.1")]);
    write(&mut s, "2026-01-02T00:00:00Z", &[r.clone(), r], &[]);
    let n: i64 = s.conn.query_row("SELECT COUNT(*) FROM records", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 1);
    assert_eq!(s.rows(2).unwrap().len(), 2);
    assert_eq!(s.assets(1).unwrap().len(), 1);
    assert_eq!(s.verify().unwrap(), Vec::<String>::new());
}

#[test]
fn history_is_each_assets_last_sighting() {
    let (_d, mut s) = store();
    write(&mut s, "2026-01-01T00:00:00Z", &[], &[asset("old", "192.0.2.1"), asset("kept", "192.0.2.2")]);
    write(&mut s, "2026-01-05T00:00:00Z", &[], &[asset("kept", "192.0.2.2")]);
    let h = s.history().unwrap();
    assert_eq!(h.len(), 2);
    let (newest, oldest) = (h.former(0), h.former(1));
    assert_eq!((newest.run, &*newest.id, &*newest.date), (2, "kept", "2026-01-05"));
    assert_eq!((oldest.run, &*oldest.id, &*oldest.date), (1, "old", "2026-01-01"));
    // A record to the released address is dangling with the run named... once the address is judged space.
    let records = [rec("gone.example.com", "192.0.2.1", "z.zone:1")];
    let ranges = Ranges::new(&[]);
    let inputs = Inputs { records: &records, assets: &[], gaps: &[], covered: &[], providers: &[], ranges: &ranges, history: &h };
    let j = reconcile(&inputs);
    assert_eq!(inputs.explainer().render(&j[0].reason).split(':').next(), Some("released since run 1 (2026-01-01)"));
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.sqlite");
    drop(Store::open(&p).unwrap());
    Connection::open(&p).unwrap().pragma_update(None, "user_version", 99).unwrap();
    let e = Store::open(&p).err().unwrap().to_string();
    assert!(e.contains("written by a newer dangle (schema 99"), "{e}");
}

#[test]
fn verify_catches_a_broken_reference_and_a_short_run() {
    let (_d, mut s) = store();
    write(&mut s, "2026-01-01T00:00:00Z", &[rec("a.example.com", "192.0.2.1", "z.zone:3")], &[]);
    s.conn.execute("UPDATE rows SET record_id = 999", []).unwrap();
    s.conn.execute("UPDATE runs SET n_rows = 5", []).unwrap();
    let problems = s.verify().unwrap().join("\n");
    assert!(problems.contains("rows without their record"), "{problems}");
    assert!(problems.contains("run 1 says 5 rows, holds 1"), "{problems}");
}

#[test]
fn an_uncommitted_run_is_invisible() {
    let (_d, mut s) = store();
    write(&mut s, "2026-01-01T00:00:00Z", &[rec("a.example.com", "192.0.2.1", "z.zone:3")], &[]);
    {
        let tx = s.conn.transaction().unwrap();
        tx.execute("INSERT INTO runs (started_at, finished_at, config, snapshot, tool_version, n_records, n_rows, n_assets, n_gaps) VALUES ('x','x','x','x','x',0,0,0,0)", []).unwrap();
        // dropped without commit
    }
    assert_eq!(s.latest_run().unwrap(), Some(1));
}

#[test]
fn report_run_n_shows_the_locations_run_n_saw() {
    let (_d, mut s) = store();
    write(&mut s, "2026-01-01T00:00:00Z", &[rec("a.example.com", "192.0.2.1", "z.zone:3")], &[]);
    write(&mut s, "2026-01-02T00:00:00Z", &[rec("a.example.com", "192.0.2.1", "z.zone:9")], &[]);
    write(&mut s, "2026-01-03T00:00:00Z", &[rec("a.example.com", "192.0.2.1", "z.zone:9")], &[]);
    assert_eq!(s.rows(1).unwrap()[0].location, "z.zone:3");
    assert_eq!(s.rows(2).unwrap()[0].location, "z.zone:9");
    assert_eq!(s.rows(3).unwrap()[0].location, "z.zone:9");
    let ro = Store::open_existing(s.path()).unwrap();
    assert_eq!(ro.rows(1).unwrap()[0].location, "z.zone:3");
}

#[test]
fn locations_are_kept_per_move_not_per_record() {
    let (_d, mut s) = store();
    let b = rec("b.example.com", "192.0.2.2", "z.zone:4");
    write(&mut s, "2026-01-01T00:00:00Z", &[rec("a.example.com", "192.0.2.1", "z.zone:3"), b.clone()], &[]);
    let entries = |s: &Store| s.conn.query_row("SELECT COUNT(*) FROM record_locations", [], |r| r.get::<_, i64>(0)).unwrap();
    // A run of new records writes no per-run location: each is where `records` says.
    assert_eq!(entries(&s), 0);
    let mut lost = rec("a.example.com", "192.0.2.1", "");
    lost.location = None;
    write(&mut s, "2026-01-02T00:00:00Z", &[lost, b.clone()], &[]);
    write(&mut s, "2026-01-03T00:00:00Z", &[rec("a.example.com", "192.0.2.1", "z.zone:12"), b], &[]);
    let at = |run: i64, name: &str| s.rows(run).unwrap().into_iter().find(|r| r.record_name == name).unwrap().location;
    // a: where it was, then no location at all, then a new line; b never moved.
    assert_eq!([at(1, "a.example.com"), at(2, "a.example.com"), at(3, "a.example.com")], ["z.zone:3", "", "z.zone:12"]);
    assert_eq!([at(1, "b.example.com"), at(2, "b.example.com"), at(3, "b.example.com")], ["z.zone:4"; 3]);
    // a's first line (kept on its first move) and its two moves; nothing for b.
    assert_eq!(entries(&s), 3);
}

/// Which files sit in the folder, with their size and a hash of their bytes.
fn snapshot(dir: &Path) -> Vec<(String, usize, u64)> {
    use std::hash::{Hash, Hasher};
    let mut out: Vec<(String, usize, u64)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            let mut h = std::collections::hash_map::DefaultHasher::new();
            bytes.hash(&mut h);
            (p.file_name().unwrap().to_string_lossy().into_owned(), bytes.len(), h.finish())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn read_only_commands_never_write_the_store() {
    let (d, mut s) = store();
    write(&mut s, "2026-01-01T00:00:00Z", &[rec("a.example.com", "192.0.2.1", "z.zone:3")], &[]);
    s.checkpoint().unwrap();
    drop(s);
    let store_file = |dir: &Path| snapshot(dir).into_iter().filter(|f| f.0 == "s.sqlite").collect::<Vec<_>>();
    let before = store_file(d.path());
    {
        let ro = Store::open_existing(&d.path().join("s.sqlite")).unwrap();
        assert_eq!(ro.rows(1).unwrap().len(), 1);
        assert!(ro.conn.execute("DELETE FROM runs", []).is_err(), "the connection is read-only");
    }
    // SQLite's WAL reader may leave its shared-memory index beside the file; the store itself is untouched.
    assert_eq!(store_file(d.path()), before, "reading changed the store");
}

#[test]
fn a_newer_or_older_store_is_refused_unchanged_by_a_read_only_open() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.sqlite");
    // A store in rollback-journal mode that claims a newer schema: refusing it must not switch it to WAL.
    {
        let c = Connection::open(&p).unwrap();
        c.execute_batch("CREATE TABLE runs (id INTEGER PRIMARY KEY); PRAGMA user_version = 99;").unwrap();
    }
    let before = snapshot(dir.path());
    let e = Store::open_existing(&p).err().unwrap().to_string();
    assert!(e.contains("newer dangle (schema 99"), "{e}");
    let e = Store::open(&p).err().unwrap().to_string();
    assert!(e.contains("newer dangle (schema 99"), "{e}");
    assert_eq!(snapshot(dir.path()), before, "refusing the store changed it");
    let mode: String = Connection::open(&p).unwrap().pragma_query_value(None, "journal_mode", |r| r.get(0)).unwrap();
    assert_eq!(mode, "delete");
    Connection::open(&p).unwrap().pragma_update(None, "user_version", 1).unwrap();
    let e = Store::open_existing(&p).err().unwrap().to_string();
    assert!(e.contains("older dangle (schema 1); run `dangle scan`"), "{e}");
}

#[test]
fn a_schema_2_store_reads_without_migrating() {
    let (d, mut s) = store();
    write(&mut s, "2026-01-01T00:00:00Z", &[rec("a.example.com", "192.0.2.1", "z.zone:3")], &[]);
    // What the previous release left: no per-run locations, no ages.
    s.conn.execute_batch(&format!("DROP TABLE record_locations; {DROP_AGES} PRAGMA user_version = 2;")).unwrap();
    drop(s);
    let ro = Store::open_existing(&d.path().join("s.sqlite")).unwrap();
    assert_eq!(ro.rows(1).unwrap()[0].location, "z.zone:3");
    let v: i64 = ro.conn.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    assert_eq!(v, 2, "reading migrated nothing");
    drop(ro);
    // A scan's open migrates it, and the per-run locations start from what the store knew.
    let rw = Store::open(&d.path().join("s.sqlite")).unwrap();
    assert_eq!(rw.rows(1).unwrap()[0].location, "z.zone:3");
    assert_eq!(rw.schema, MIGRATIONS.len() as i64);
}

/// Takes a store back to before schema 4 (ages): every column and table the fourth and later migrations add.
/// [`drop_ages_leaves_schema_3`] holds it to what the first three migrations make.
const DROP_AGES: &str = "ALTER TABLE records DROP COLUMN state; ALTER TABLE records DROP COLUMN changed_run;
    ALTER TABLE records DROP COLUMN dangling_run; ALTER TABLE rows DROP COLUMN changed_run;
    ALTER TABLE rows DROP COLUMN dangling_run; ALTER TABLE rows DROP COLUMN kind;
    ALTER TABLE runs DROP COLUMN stale_days; ALTER TABLE runs DROP COLUMN probing; ALTER TABLE runs DROP COLUMN findings;
    ALTER TABLE runs DROP COLUMN pruned_at; DROP TABLE record_specs; DROP TABLE alert_outbox;
    ALTER TABLE rows DROP COLUMN claim; ALTER TABLE rows DROP COLUMN ct; DROP TABLE ct_cache;
    DROP TABLE baselines; DROP TABLE name_findings;";

/// Every table with its columns, in order.
fn columns(c: &Connection) -> Vec<(String, Vec<String>)> {
    let mut stmt = c.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").unwrap();
    let tables: Vec<String> = stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    tables
        .into_iter()
        .map(|t| {
            let mut s = c.prepare(&format!("PRAGMA table_info({t})")).unwrap();
            let cols = s.query_map([], |r| r.get::<_, String>(1)).unwrap().map(Result::unwrap).collect();
            (t, cols)
        })
        .collect()
}

#[test]
fn drop_ages_leaves_schema_3() {
    let (_d, s) = store();
    s.conn.execute_batch(DROP_AGES).unwrap();
    let old = Connection::open_in_memory().unwrap();
    for m in &MIGRATIONS[..3] {
        old.execute_batch(m).unwrap();
    }
    assert_eq!(columns(&s.conn), columns(&old), "DROP_AGES must undo exactly what the migrations after the third add");
}

/// Runs of one record, `a.example.com` → 192.0.2.1, with the asset that holds the address in the runs
/// marked `true` (owned) and released in the others (dangling, by history); each run on its date.
fn age_runs(s: &mut Store, runs: &[(&str, bool)]) -> Vec<ReportRow> {
    let r = [rec("a.example.com", "192.0.2.1", "z.zone:3")];
    let a = [asset("web", "192.0.2.1")];
    let mut out = Vec::new();
    for (date, owned) in runs {
        let run = write(s, &format!("{date}T00:00:00Z"), &r, if *owned { &a } else { &[] });
        out.push(s.rows(run).unwrap().remove(0));
    }
    out
}

#[test]
fn dangling_since_last_changed_and_stale_follow_the_history() {
    let (_d, mut s) = store();
    let rows = age_runs(
        &mut s,
        &[("2026-01-01", true), ("2026-01-02", false), ("2026-01-03", false), ("2026-04-10", false), ("2026-04-11", true), ("2026-04-12", false)],
    );
    let view: Vec<(Status, &str, &str, Option<i64>, bool)> =
        rows.iter().map(|r| (r.status, &r.dangling_since[..10.min(r.dangling_since.len())], &r.last_changed[..10], r.age_days, r.stale)).collect();
    assert_eq!(
        view,
        [
            (Status::Owned, "", "2026-01-01", Some(0), false),
            (Status::Dangling, "2026-01-02", "2026-01-02", Some(1), false),
            (Status::Dangling, "2026-01-02", "2026-01-02", Some(2), false),
            // Unchanged for 98 days, past the default 90: stale.
            (Status::Dangling, "2026-01-02", "2026-01-02", Some(99), true),
            (Status::Owned, "", "2026-04-11", Some(100), false),
            // A new streak starts at the run that broke the old one.
            (Status::Dangling, "2026-04-12", "2026-04-12", Some(101), false),
        ]
    );
    // Each run's rows read back as that run knew them, whatever came after.
    assert_eq!(s.rows(4).unwrap()[0].dangling_since, "2026-01-02T00:00:00Z");
    assert_eq!(s.run_meta(4).unwrap().stale_days, Some(90));
}

#[test]
fn upgrading_a_store_works_out_ages_from_its_history() {
    let (d, mut s) = store();
    age_runs(&mut s, &[("2026-01-01", true), ("2026-01-02", false), ("2026-01-03", false)]);
    // As a schema-3 dangle left it: the same runs, no age columns.
    s.conn.execute_batch(&format!("{DROP_AGES} PRAGMA user_version = 3;")).unwrap();
    drop(s);
    let mut s = Store::open(&d.path().join("s.sqlite")).unwrap();
    let (changed, since): (i64, Option<i64>) =
        s.conn.query_row("SELECT changed_run, dangling_run FROM records", [], |r| Ok((r.get(0)?, r.get(1)?))).unwrap();
    assert_eq!((changed, since), (2, Some(2)), "the streak began at run 2");
    // Runs before the upgrade show no age; the next run carries the streak on.
    assert_eq!(s.rows(3).unwrap()[0].dangling_since, "");
    let next = age_runs(&mut s, &[("2026-01-04", false)]);
    assert_eq!((next[0].dangling_since.as_str(), next[0].last_changed.as_str()), ("2026-01-02T00:00:00Z", "2026-01-02T00:00:00Z"));
    assert_eq!(s.verify().unwrap(), Vec::<String>::new());
}

#[test]
fn sqlite_errors_are_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("garbage.sqlite");
    std::fs::write(&p, vec![b'x'; 8192]).unwrap();
    let e = Store::open_existing(&p).err().unwrap();
    let text = crate::errors::render(&anyhow::Error::new(e));
    assert_eq!(text, format!("store {}: not a dangle store: the file is not an SQLite database", p.display()));
}

#[test]
fn an_unknown_stored_code_is_an_error_naming_it_not_a_clamped_value() {
    let (d, mut s) = store();
    let run = write(&mut s, "2026-12-01T00:00:00Z", &[rec("www.example.com", "192.0.2.1", "z.zone:1")], &[]);
    assert_eq!(s.rows(run).unwrap()[0].status, Status::External);
    // A newer dangle's status, or a damaged file: never read as some valid status.
    s.conn.execute("UPDATE rows SET status = 9", []).unwrap();
    let e = crate::errors::render(&anyhow::Error::new(s.rows(run).unwrap_err()));
    let want = "a row holds status code `9`, which this dangle does not know (written by a newer version, or the store is damaged)";
    assert_eq!(e, format!("store {}: {want}", d.path().join("s.sqlite").display()));
    s.conn.execute("UPDATE rows SET status = 2, probe_verdict = 'maybe'", []).unwrap();
    let e = crate::errors::render(&anyhow::Error::new(s.rows(run).unwrap_err()));
    assert!(e.contains("probe verdict `maybe`"), "{e}");
}

#[test]
fn addresses_are_written_as_people_write_them() {
    let nets: Vec<ipnet::IpNet> = ["192.0.2.7", "10.0.0.0/8", "0.0.0.0", "255.255.255.255", "2001:db8::1", "2001:db8::/32"]
        .iter()
        .map(|s| dangle_model::parse_ip_or_cidr(s).unwrap())
        .collect();
    let mut out = String::new();
    push_nets(&mut out, &nets);
    assert_eq!(out, "192.0.2.7 10.0.0.0/8 0.0.0.0 255.255.255.255 2001:db8::1 2001:db8::/32");
}

#[test]
fn prune_drops_old_rows_and_keeps_first_seen_ages_and_released_history() {
    let (_d, mut s) = store();
    age_runs(&mut s, &[("2026-01-01", true), ("2026-01-02", false), ("2026-01-03", false), ("2026-01-04", false)]);
    let p = s.prune(Some(2), None).unwrap();
    assert_eq!((p.runs.as_slice(), p.rows), (&[1, 2][..], 2));
    // The kept runs read as before: first seen in (pruned) run 1, dangling since (pruned) run 2.
    let r = &s.rows(4).unwrap()[0];
    assert_eq!((r.first_seen.as_str(), r.dangling_since.as_str()), ("2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"));
    // The asset's last sighting (run 1) keeps its address: the next run still names the release.
    let next = age_runs(&mut s, &[("2026-01-05", false)]);
    assert!(next[0].reason.starts_with("released since run 1 (2026-01-01)"), "{}", next[0].reason);
    // A pruned run says so; diff's "the run before" skips it; the chart still counts it.
    let e = s.require_rows(1).unwrap_err().to_string();
    assert!(e.contains("run 1 was pruned on"), "{e}");
    assert_eq!(s.previous_run(3).unwrap(), None);
    assert_eq!(s.finding_history(None, 10).unwrap().len(), 5);
    assert_eq!(s.verify().unwrap(), Vec::<String>::new());
    // Nothing left to prune within the bounds; the latest run is never pruned.
    assert!(s.prune(Some(3), None).unwrap().runs.is_empty());
    assert_eq!(s.prune(Some(0), None).unwrap().runs, [3, 4]);
    assert!(s.rows(5).unwrap().len() == 1);
}

#[test]
fn last_changed_moves_with_a_foreign_answer_not_with_runs_that_did_not_probe() {
    let (_d, mut s) = store();
    let r = [rec("a.example.com", "192.0.2.1", "z.zone:3")];
    let run = |s: &mut Store, date: &str, verdict: Option<Verdict>| {
        let ranges = Ranges::new(&[]);
        let history = s.history().unwrap();
        let inputs = Inputs { records: &r, assets: &[], gaps: &[], covered: &[], providers: &[], ranges: &ranges, history: &history };
        let judgements = reconcile(&inputs);
        let mut probed = Probes::default();
        if let Some(v) = verdict {
            probed.set_row(0, RowProbe { verdict: v, detail: String::new(), reason: None, evidence: vec![] });
        }
        let id = s
            .write_run(&RunInput {
                explain: &inputs.explainer(),
                started_at: format!("{date}T00:00:00Z"),
                config: "test".into(),
                snapshot: "snap".into(),
                records: &r,
                judgements: &judgements,
                assets: &[],
                gaps: &[],
                probed: &probed,
                stale_days: 90,
                probing: verdict.is_some(),
                claims: &Default::default(),
                name_findings: &[],
                baselines: &[],
            })
            .unwrap();
        s.rows(id).unwrap().remove(0).last_changed
    };
    assert_eq!(run(&mut s, "2026-01-01", Some(Verdict::NoAnswer)), "2026-01-01T00:00:00Z");
    // Not probed, then a timeout again: nothing changed.
    assert_eq!(run(&mut s, "2026-01-02", None), "2026-01-01T00:00:00Z");
    assert_eq!(run(&mut s, "2026-01-03", Some(Verdict::NoAnswer)), "2026-01-01T00:00:00Z");
    // A foreign server answers: that is a change.
    assert_eq!(run(&mut s, "2026-01-04", Some(Verdict::Foreign)), "2026-01-04T00:00:00Z");
}

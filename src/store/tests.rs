//! The store suite: every test on SQLite and, through `scripts/test`'s throwaway server, PostgreSQL —
//! first and last sightings, moves, ages, upgrades of older schemas, locks, shards, crash safety.

use dangle_model::{Asset, AssetKind, DnsName, DnsRecord, RecordType, Target};

use super::schema::MIGRATIONS;
use super::*;
use crate::reconcile::Status;
use crate::rows::ReportRow;
use dangle_model::Verdict;
use rusqlite::Connection;
use crate::reconcile::ranges::Ranges;
use crate::reconcile::{reconcile, Inputs};

/// A row's location as reports show it.
fn shown(l: &Option<dangle_model::Location>) -> String {
    l.as_ref().map(ToString::to_string).unwrap_or_default()
}

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
        location: Some(dangle_model::Location::decode(location, true)),
        spec: None,
    }
}

fn asset(id: &str, ip: &str) -> Asset {
    Asset {
        source: "dc".into(),
        account: "dc".into(),
        region: None,
        kind: AssetKind::STATIC,
        id: id.into(),
        ips: [dangle_model::parse_ip_or_cidr(ip).unwrap()].into_iter().collect(),
        hosts: vec![],
    }
}

fn write(store: &mut Store, started: &str, records: &[DnsRecord], assets: &[Asset]) -> i64 {
    let ranges = Ranges::new(&[]);
    let history = store.history(&Default::default()).unwrap();
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
            kinds: &crate::store::kinds(&judgements, &Default::default(), &Default::default()),
            providers: &[],
            assets,
            gaps: &[],
            probed: &Default::default(),
            stale_days: 90,
            probing: false,
            claims: &Default::default(),
            name_findings: &[],
            baselines: &[],
            ct_answers: &[],
        })
        .unwrap()
}

/// Where a test's store lives: a folder for an SQLite file, or a database of its own on the test
/// PostgreSQL server (dropped with it).
enum Place {
    Folder(tempfile::TempDir),
    Database(dangle_testkit::PgDb),
}

impl Place {
    fn new(on: Dialect) -> Self {
        match on {
            Dialect::Sqlite => Place::Folder(tempfile::tempdir().unwrap()),
            Dialect::Postgres => Place::Database(dangle_testkit::PgDb::new()),
        }
    }

    fn location(&self) -> Location {
        match self {
            Place::Folder(d) => Location::Sqlite(d.path().join("s.sqlite")),
            Place::Database(db) => Location::Postgres { url: db.url.clone(), password_file: None },
        }
    }
}

fn store_on(on: Dialect) -> (Place, Store) {
    let place = Place::new(on);
    let s = Store::open(place.location()).unwrap();
    (place, s)
}

/// An SQLite store (the tests of what only SQLite has).
fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("s.sqlite")).unwrap();
    (dir, s)
}

/// The one integer a query returns.
fn int(s: &Store, sql: &str) -> i64 {
    s.db.int(sql, &[]).unwrap().unwrap()
}

fn sql(s: &Store, sql: &str) {
    s.db.execute(sql, &[]).unwrap();
}

/// The SQLite connection under a store.
fn conn(s: &Store) -> &Connection {
    let db: &dyn std::any::Any = s.db.as_any();
    &db.downcast_ref::<db::sqlite::Sqlite>().expect("an SQLite store").conn
}

/// Each test of the store suite, once per engine.
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[test] fn $name() { super::$name(super::Dialect::Sqlite) })*
        }
        mod on_postgres {
            $(#[test] fn $name() { super::$name(super::Dialect::Postgres) })*
        }
    };
}

on_both_engines!(
    first_seen_stays_and_last_seen_moves,
    a_moved_record_keeps_its_identity_and_gets_the_new_location,
    the_same_identity_twice_in_one_run_is_one_record,
    history_is_each_assets_last_sighting,
    a_newer_schema_is_refused,
    verify_catches_a_broken_reference_and_a_short_run,
    an_unfinished_run_is_invisible,
    report_run_n_shows_the_locations_run_n_saw,
    locations_are_kept_per_move_not_per_record,
    a_read_only_open_cannot_write,
    dangling_since_last_changed_and_stale_follow_the_history,
    an_unknown_stored_code_is_an_error_naming_it_not_a_clamped_value,
    prune_drops_old_rows_and_keeps_first_seen_ages_and_released_history,
    last_changed_moves_with_a_foreign_answer_not_with_runs_that_did_not_probe,
    diffs_walk_two_runs_in_key_order,
    gaps_keep_their_order,
    one_name_cached_twice_keeps_the_last_answer,
);

fn first_seen_stays_and_last_seen_moves(on: Dialect) {
    let (_place, mut s) = store_on(on);
    let a = [asset("web", "192.0.2.1")];
    write(&mut s, "2026-01-01T00:00:00Z", &[rec("a.example.com", "192.0.2.1", "z.zone:3")], &a);
    write(&mut s, "2026-01-02T00:00:00Z", &[rec("a.example.com", "192.0.2.1", "z.zone:3"), rec("b.example.com", "192.0.2.2", "z.zone:4")], &a);
    let rows = s.rows(2).unwrap();
    let a_row = rows.iter().find(|r| r.record_name == "a.example.com").unwrap();
    assert_eq!(a_row.first_seen, "2026-01-01T00:00:00Z");
    let sightings = |s: &Store| {
        let last = s.last_sighting("c").unwrap();
        let sql = format!("SELECT c.name, first_run, {last} FROM records c ORDER BY c.name");
        s.db.all(&sql, &[], |r| Ok((r.string(0)?, r.i64(1)?, r.i64(2)?))).unwrap()
    };
    assert_eq!(sightings(&s), [("a.example.com".to_string(), 1, 2), ("b.example.com".to_string(), 2, 2)]);
    assert_eq!(a_row.owner, "static web");
    let b_row = rows.iter().find(|r| r.record_name == "b.example.com").unwrap();
    assert_eq!(b_row.first_seen, "2026-01-02T00:00:00Z");
    // Run 1 reads back as it was written.
    assert_eq!(s.rows(1).unwrap().len(), 1);
    assert_eq!(s.assets(2).unwrap()[0].first_seen, "2026-01-01T00:00:00Z");
    assert_eq!(s.verify().unwrap(), Vec::<String>::new());
    // Run 3 sees neither `b` nor the asset: both were last seen in run 2; run 4 sees `b` again.
    write(&mut s, "2026-01-03T00:00:00Z", &[rec("a.example.com", "192.0.2.1", "z.zone:3")], &[]);
    assert_eq!(sightings(&s), [("a.example.com".to_string(), 1, 3), ("b.example.com".to_string(), 2, 2)]);
    assert_eq!(s.names_in_zone("example.com").unwrap().into_iter().collect::<std::collections::BTreeMap<_, _>>()["b.example.com"], 2);
    let h = s.history(&Default::default()).unwrap();
    assert_eq!((h.len(), h.former(0).run), (1, 2), "the asset's last sighting");
    write(&mut s, "2026-01-04T00:00:00Z", &[rec("a.example.com", "192.0.2.1", "z.zone:3"), rec("b.example.com", "192.0.2.2", "z.zone:4")], &a);
    assert_eq!(sightings(&s), [("a.example.com".to_string(), 1, 4), ("b.example.com".to_string(), 2, 4)]);
    let h = s.history(&Default::default()).unwrap();
    assert_eq!((h.len(), h.former(0).run), (1, 4));
    assert_eq!(s.verify().unwrap(), Vec::<String>::new());
}

fn a_moved_record_keeps_its_identity_and_gets_the_new_location(on: Dialect) {
    let (_place, mut s) = store_on(on);
    write(&mut s, "2026-01-01T00:00:00Z", &[rec("a.example.com", "192.0.2.1", "z.zone:3")], &[]);
    write(&mut s, "2026-01-02T00:00:00Z", &[rec("a.example.com", "192.0.2.1", "z.zone:9")], &[]);
    let rows = s.rows(2).unwrap();
    assert_eq!(shown(&rows[0].location), "z.zone:9");
    assert_eq!(rows[0].first_seen, "2026-01-01T00:00:00Z");
    let n = int(&s, "SELECT COUNT(*) FROM records");
    assert_eq!(n, 1);
}

fn the_same_identity_twice_in_one_run_is_one_record(on: Dialect) {
    let (_place, mut s) = store_on(on);
    let r = rec("a.example.com", "192.0.2.1", "z.zone:3");
    write(&mut s, "2026-01-01T00:00:00Z", &[r.clone(), r.clone()], &[asset("x", "192.0.2.1"), asset("x", "192.0.2.1")]);
    write(&mut s, "2026-01-02T00:00:00Z", &[r.clone(), r], &[]);
    let n = int(&s, "SELECT COUNT(*) FROM records");
    assert_eq!(n, 1);
    assert_eq!(s.rows(2).unwrap().len(), 2);
    assert_eq!(s.assets(1).unwrap().len(), 1);
    assert_eq!(s.verify().unwrap(), Vec::<String>::new());
}

fn history_is_each_assets_last_sighting(on: Dialect) {
    let (_place, mut s) = store_on(on);
    write(&mut s, "2026-01-01T00:00:00Z", &[], &[asset("old", "192.0.2.1"), asset("kept", "192.0.2.2")]);
    write(&mut s, "2026-01-05T00:00:00Z", &[], &[asset("kept", "192.0.2.2")]);
    let h = s.history(&Default::default()).unwrap();
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

fn a_newer_schema_is_refused(on: Dialect) {
    let place = Place::new(on);
    let s = Store::open(place.location()).unwrap();
    match on {
        Dialect::Sqlite => conn(&s).pragma_update(None, "user_version", 99).unwrap(),
        Dialect::Postgres => sql(&s, "UPDATE dangle_schema SET version = 99"),
    }
    drop(s);
    let e = Store::open(place.location()).err().unwrap().to_string();
    assert!(e.contains("written by a newer dangle (schema 99"), "{e}");
    let e = Store::open_existing(place.location()).err().unwrap().to_string();
    assert!(e.contains("written by a newer dangle (schema 99"), "{e}");
}

fn verify_catches_a_broken_reference_and_a_short_run(on: Dialect) {
    let (_place, mut s) = store_on(on);
    write(&mut s, "2026-01-01T00:00:00Z", &[rec("a.example.com", "192.0.2.1", "z.zone:3")], &[]);
    sql(&s, "UPDATE rows SET record_id = 999");
    sql(&s, "UPDATE runs SET n_rows = 5");
    let problems = s.verify().unwrap().join("\n");
    assert!(problems.contains("rows without their record"), "{problems}");
    assert!(problems.contains("run 1 says 5 rows, holds 1"), "{problems}");
}

fn an_unfinished_run_is_invisible(on: Dialect) {
    let (_place, mut s) = store_on(on);
    write(&mut s, "2026-01-01T00:00:00Z", &[rec("a.example.com", "192.0.2.1", "z.zone:3")], &[]);
    let records = [rec("b.example.com", "192.0.2.2", "z.zone:4")];
    let ranges = Ranges::new(&[]);
    let history = s.history(&Default::default()).unwrap();
    let inputs = Inputs { records: &records, assets: &[], gaps: &[], covered: &[], providers: &[], ranges: &ranges, history: &history };
    let judgements = reconcile(&inputs);
    let kinds = crate::store::kinds(&judgements, &Default::default(), &Default::default());
    let input = RunInput {
        explain: &inputs.explainer(),
        started_at: "2026-01-02T00:00:00Z".into(),
        config: "test".into(),
        snapshot: "snap".into(),
        records: &records,
        judgements: &judgements,
        kinds: &kinds,
        providers: &[],
        assets: &[],
        gaps: &[],
        probed: &Default::default(),
        stale_days: 90,
        probing: false,
        claims: &Default::default(),
        name_findings: &[],
        baselines: &[],
        ct_answers: &[],
    };
    {
        let mut w = s.begin_run(&input).unwrap();
        w.records().unwrap();
        w.assets().unwrap();
        // dropped without finish: rolled back
    }
    assert_eq!(s.latest_run().unwrap(), Some(1));
    assert_eq!(int(&s, "SELECT COUNT(*) FROM records"), 1);
    // The store takes the next run as if nothing happened.
    write(&mut s, "2026-01-03T00:00:00Z", &records, &[]);
    assert_eq!(s.verify().unwrap(), Vec::<String>::new());
}

fn report_run_n_shows_the_locations_run_n_saw(on: Dialect) {
    let (_place, mut s) = store_on(on);
    write(&mut s, "2026-01-01T00:00:00Z", &[rec("a.example.com", "192.0.2.1", "z.zone:3")], &[]);
    write(&mut s, "2026-01-02T00:00:00Z", &[rec("a.example.com", "192.0.2.1", "z.zone:9")], &[]);
    write(&mut s, "2026-01-03T00:00:00Z", &[rec("a.example.com", "192.0.2.1", "z.zone:9")], &[]);
    assert_eq!(shown(&s.rows(1).unwrap()[0].location), "z.zone:3");
    assert_eq!(shown(&s.rows(2).unwrap()[0].location), "z.zone:9");
    assert_eq!(shown(&s.rows(3).unwrap()[0].location), "z.zone:9");
    let ro = Store::open_existing(s.location()).unwrap();
    assert_eq!(shown(&ro.rows(1).unwrap()[0].location), "z.zone:3");
}

fn locations_are_kept_per_move_not_per_record(on: Dialect) {
    let (_place, mut s) = store_on(on);
    let b = rec("b.example.com", "192.0.2.2", "z.zone:4");
    write(&mut s, "2026-01-01T00:00:00Z", &[rec("a.example.com", "192.0.2.1", "z.zone:3"), b.clone()], &[]);
    let entries = |s: &Store| int(s, "SELECT COUNT(*) FROM record_locations");
    // A run of new records writes no per-run location: each is where `records` says.
    assert_eq!(entries(&s), 0);
    let mut lost = rec("a.example.com", "192.0.2.1", "");
    lost.location = None;
    write(&mut s, "2026-01-02T00:00:00Z", &[lost, b.clone()], &[]);
    write(&mut s, "2026-01-03T00:00:00Z", &[rec("a.example.com", "192.0.2.1", "z.zone:12"), b], &[]);
    let at = |run: i64, name: &str| s.rows(run).unwrap().into_iter().find(|r| r.record_name == name).unwrap().location.as_ref().map(ToString::to_string).unwrap_or_default();
    // a: where it was, then no location at all, then a new line; b never moved.
    assert_eq!([at(1, "a.example.com"), at(2, "a.example.com"), at(3, "a.example.com")], ["z.zone:3", "", "z.zone:12"]);
    assert_eq!([at(1, "b.example.com"), at(2, "b.example.com"), at(3, "b.example.com")], ["z.zone:4"; 3]);
    // a's first line (kept on its first move) and its two moves; nothing for b.
    assert_eq!(entries(&s), 3);
}

fn a_read_only_open_cannot_write(on: Dialect) {
    let (place, mut s) = store_on(on);
    write(&mut s, "2026-01-01T00:00:00Z", &[rec("a.example.com", "192.0.2.1", "z.zone:3")], &[]);
    drop(s);
    let ro = Store::open_existing(place.location()).unwrap();
    assert_eq!(ro.rows(1).unwrap().len(), 1);
    assert!(ro.db.execute("DELETE FROM runs", &[]).is_err(), "the connection is read-only");
    assert_eq!(ro.latest_run().unwrap(), Some(1));
}

/// Accounts whose order differs between bytes ("Zeta" < "_beta" < "alpha") and an English
/// collation ("alpha" < "_beta" < "Zeta"; the test server's default): a diff pairs every row.
fn diffs_walk_two_runs_in_key_order(on: Dialect) {
    let (_place, mut s) = store_on(on);
    let in_account = |account: &str, ip: &str| {
        let mut r = rec(&format!("{}.example.com", account.trim_start_matches('_').to_ascii_lowercase()), ip, "z.zone:1");
        r.account = account.into();
        r
    };
    let one = [in_account("alpha", "192.0.2.1"), in_account("Zeta", "192.0.2.2"), in_account("_beta", "192.0.2.3"), in_account("Beta", "192.0.2.4")];
    let mut two = one.clone();
    two[1] = in_account("Zeta", "192.0.2.9");
    write(&mut s, "2026-01-01T00:00:00Z", &one, &[]);
    write(&mut s, "2026-01-02T00:00:00Z", &two, &[]);
    let mut seen = Vec::new();
    s.merge_rows(Some(1), 2, |o, n| {
        let side = |r: &Option<ReportRow>| r.as_ref().map(|r| format!("{} {}", r.account, r.target_text()));
        seen.push((side(&o), side(&n)));
        Ok::<_, StoreError>(())
    })
    .unwrap();
    let s = |x: &str| Some(x.to_string());
    assert_eq!(
        seen,
        [
            (s("Beta 192.0.2.4"), s("Beta 192.0.2.4")),
            (s("Zeta 192.0.2.2"), None),
            (None, s("Zeta 192.0.2.9")),
            (s("_beta 192.0.2.3"), s("_beta 192.0.2.3")),
            (s("alpha 192.0.2.1"), s("alpha 192.0.2.1")),
        ]
    );
}

fn one_name_cached_twice_keeps_the_last_answer(on: Dialect) {
    let (_place, mut s) = store_on(on);
    let entries = [("a.example.com".to_string(), "[1]".to_string()), ("b.example.com".to_string(), "[]".to_string()), ("a.example.com".to_string(), "[2]".to_string())];
    s.ct_save(&entries, 100).unwrap();
    let got = s.ct_fresh(0).unwrap();
    assert_eq!((got["a.example.com"].as_str(), got["b.example.com"].as_str()), ("[2]", "[]"));
    s.ct_save(&[("a.example.com".to_string(), "[3]".to_string())], 200).unwrap();
    assert_eq!(s.ct_fresh(150).unwrap()["a.example.com"], "[3]");
}

fn gaps_keep_their_order(on: Dialect) {
    let (_place, mut s) = store_on(on);
    let gap = |service: &str| dangle_model::CoverageGap {
        source: "aws".into(),
        account: "111111111111".into(),
        region: Some("eu-west-1".into()),
        service: service.into(),
        error: format!("{service} failed"),
        hides: dangle_model::Hides::Account,
    };
    let gaps = [gap("route53"), gap("elb"), gap("ec2"), gap("s3")];
    let ranges = Ranges::new(&[]);
    let history = s.history(&Default::default()).unwrap();
    let inputs = Inputs { records: &[], assets: &[], gaps: &gaps, covered: &[], providers: &[], ranges: &ranges, history: &history };
    let run = s
        .write_run(&RunInput {
            explain: &inputs.explainer(),
            started_at: "2026-01-01T00:00:00Z".into(),
            config: "test".into(),
            snapshot: "snap".into(),
            records: &[],
            judgements: &[],
            kinds: &[],
            providers: &[],
            assets: &[],
            gaps: &gaps,
            probed: &Default::default(),
            stale_days: 90,
            probing: false,
            claims: &Default::default(),
            name_findings: &[],
            baselines: &[],
            ct_answers: &[],
        })
        .unwrap();
    let services: Vec<String> = s.gaps(run).unwrap().into_iter().map(|g| g.service).collect();
    assert_eq!(services, ["route53", "elb", "ec2", "s3"]);
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
        assert!(ro.db.execute("DELETE FROM runs", &[]).is_err(), "the connection is read-only");
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
    conn(&s).execute_batch(&format!("DROP TABLE record_locations; {DROP_AGES} PRAGMA user_version = 2;")).unwrap();
    drop(s);
    let ro = Store::open_existing(&d.path().join("s.sqlite")).unwrap();
    assert_eq!(shown(&ro.rows(1).unwrap()[0].location), "z.zone:3");
    let v: i64 = conn(&ro).pragma_query_value(None, "user_version", |r| r.get(0)).unwrap();
    assert_eq!(v, 2, "reading migrated nothing");
    drop(ro);
    // A scan's open migrates it, and the per-run locations start from what the store knew.
    let rw = Store::open(&d.path().join("s.sqlite")).unwrap();
    assert_eq!(shown(&rw.rows(1).unwrap()[0].location), "z.zone:3");
    assert_eq!(rw.schema.version, MIGRATIONS.len() as i64);
}

/// Takes a store back to before schema 4 (ages): every column and table the fourth and later migrations add.
/// [`drop_ages_leaves_schema_3`] holds it to what the first three migrations make.
const DROP_AGES: &str = "ALTER TABLE records DROP COLUMN state; ALTER TABLE records DROP COLUMN changed_run;
    ALTER TABLE records DROP COLUMN dangling_run; ALTER TABLE rows DROP COLUMN changed_run;
    ALTER TABLE rows DROP COLUMN dangling_run; ALTER TABLE rows DROP COLUMN kind;
    ALTER TABLE runs DROP COLUMN stale_days; ALTER TABLE runs DROP COLUMN probing; ALTER TABLE runs DROP COLUMN findings;
    ALTER TABLE runs DROP COLUMN pruned_at; DROP TABLE record_specs; DROP TABLE alert_outbox; ALTER TABLE gaps DROP COLUMN seq;
    ALTER TABLE rows DROP COLUMN claim; ALTER TABLE rows DROP COLUMN ct; DROP TABLE ct_cache;
    DROP TABLE baselines; DROP TABLE name_findings;
    DROP TABLE shards; DROP TABLE shard_snapshots; DROP TABLE shard_providers; DROP TABLE shard_records;
    DROP TABLE shard_assets; DROP TABLE shard_coverage; DROP TABLE shard_gaps;
    ALTER TABLE records DROP COLUMN seen_latest; ALTER TABLE assets DROP COLUMN seen_latest;
    ALTER TABLE records DROP COLUMN line_location; DROP TABLE run_providers;";

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
    conn(&s).execute_batch(DROP_AGES).unwrap();
    let old = Connection::open_in_memory().unwrap();
    for m in &MIGRATIONS[..3] {
        old.execute_batch(m).unwrap();
    }
    assert_eq!(columns(conn(&s)), columns(&old), "DROP_AGES must undo exactly what the migrations after the third add");
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

fn dangling_since_last_changed_and_stale_follow_the_history(on: Dialect) {
    let (_place, mut s) = store_on(on);
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
    conn(&s).execute_batch(&format!("{DROP_AGES} PRAGMA user_version = 3;")).unwrap();
    drop(s);
    let mut s = Store::open(&d.path().join("s.sqlite")).unwrap();
    let (changed, since) = s.db.one("SELECT changed_run, dangling_run FROM records", &[], |r| Ok((r.i64(0)?, r.opt_i64(1)?))).unwrap().unwrap();
    assert_eq!((changed, since), (2, Some(2)), "the streak began at run 2");
    // Runs before the upgrade show no age; the next run carries the streak on.
    assert_eq!(s.rows(3).unwrap()[0].dangling_since, "");
    let next = age_runs(&mut s, &[("2026-01-04", false)]);
    assert_eq!((next[0].dangling_since.as_str(), next[0].last_changed.as_str()), ("2026-01-02T00:00:00Z", "2026-01-02T00:00:00Z"));
    assert_eq!(s.verify().unwrap(), Vec::<String>::new());
}

#[test]
fn upgrading_a_store_tells_lines_of_files_and_provider_types_from_what_it_holds() {
    let (d, mut s) = store();
    let mut cloud = rec("api.example.com", "192.0.2.9", "route53 hosted zone Z1");
    cloud.source = "r53".into();
    cloud.location = Some(dangle_model::Location::Place("route53 hosted zone Z1".into()));
    cloud.spec = Some("{}".into());
    write(&mut s, "2026-01-01T00:00:00Z", &[rec("a.example.com", "192.0.2.1", "z.zone:3"), cloud], &[]);
    // As a schema-10 dangle left it: no flags, no run providers.
    conn(&s).execute_batch("ALTER TABLE records DROP COLUMN line_location; ALTER TABLE shard_records DROP COLUMN line_location; DROP TABLE run_providers; PRAGMA user_version = 10;").unwrap();
    drop(s);
    let s = Store::open(&d.path().join("s.sqlite")).unwrap();
    let rows = s.rows(1).unwrap();
    let at = |name: &str| rows.iter().find(|r| r.record_name == name).unwrap().location.clone().unwrap();
    assert_eq!(at("a.example.com"), dangle_model::Location::Line { file: "z.zone".into(), line: 3 });
    assert!(!at("api.example.com").is_line());
    assert_eq!(s.run_providers(1).unwrap(), [("r53".to_string(), "aws".to_string()), ("zones".to_string(), "zonefile".to_string())]);
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

fn an_unknown_stored_code_is_an_error_naming_it_not_a_clamped_value(on: Dialect) {
    let (_place, mut s) = store_on(on);
    let run = write(&mut s, "2026-12-01T00:00:00Z", &[rec("www.example.com", "192.0.2.1", "z.zone:1")], &[]);
    assert_eq!(s.rows(run).unwrap()[0].status, Status::External);
    // A newer dangle's status, or a damaged file: never read as some valid status.
    sql(&s, "UPDATE rows SET status = 9");
    let e = crate::errors::render(&anyhow::Error::new(s.rows(run).unwrap_err()));
    let want = "a row holds status code `9`, which this dangle does not know (written by a newer version, or the store is damaged)";
    assert_eq!(e, format!("store {}: {want}", s.path().display()));
    sql(&s, "UPDATE rows SET status = 2, probe_verdict = 'maybe'");
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

fn prune_drops_old_rows_and_keeps_first_seen_ages_and_released_history(on: Dialect) {
    let (_place, mut s) = store_on(on);
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

fn last_changed_moves_with_a_foreign_answer_not_with_runs_that_did_not_probe(on: Dialect) {
    let (_place, mut s) = store_on(on);
    let r = [rec("a.example.com", "192.0.2.1", "z.zone:3")];
    let run = |s: &mut Store, date: &str, verdict: Option<Verdict>| {
        let ranges = Ranges::new(&[]);
        let history = s.history(&Default::default()).unwrap();
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
                kinds: &crate::store::kinds(&judgements, &probed, &Default::default()),
                providers: &[],
                assets: &[],
                gaps: &[],
                probed: &probed,
                stale_days: 90,
                probing: verdict.is_some(),
                claims: &Default::default(),
                name_findings: &[],
                baselines: &[],
                ct_answers: &[],
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

#[test]
fn postgres_speaks_tls_to_a_server_it_verifies_and_refuses_one_it_cannot() {
    let db = dangle_testkit::PgDb::new();
    let at = |query: &str| Location::Postgres { url: format!("postgres://dangle@localhost:{}/{}{query}", db.port(), db.name()), password_file: None };
    let ssl = |s: &Store| s.db.one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[], |r| r.bool(0)).unwrap().flatten();
    let ca = db.ca_file();
    let s = Store::open(at(&format!("?sslmode=verify-full&sslrootcert={}", ca.display()))).unwrap();
    assert_eq!(ssl(&s), Some(true), "TLS when asked for");
    // On this machine and not asked for: in the clear (the traffic never leaves it).
    assert_eq!(ssl(&Store::open(at("")).unwrap()), Some(false));
    // `require` checks the server's certificate too: against the system's roots it is unknown.
    let e = Store::open(at("?sslmode=require")).err().unwrap().to_string();
    assert!(e.contains("certificate") || e.contains("UnknownIssuer"), "{e}");
    let e = Store::open(at("?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem")).err().unwrap().to_string();
    assert!(e.contains("sslrootcert /nonexistent/ca.pem"), "{e}");
}

#[test]
fn postgres_takes_its_password_from_a_file_and_never_shows_it() {
    let db = dangle_testkit::PgDb::new();
    // Roles belong to the server, not the database: made once, by whichever test gets there first.
    db.admin_sql(
        "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'dangle_pw') THEN CREATE ROLE dangle_pw LOGIN PASSWORD 'correct-horse'; END IF; END $$;
         GRANT ALL ON SCHEMA public TO dangle_pw;",
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    let url = format!("postgres://dangle_pw@127.0.0.1:{}/{}", db.port(), db.name());
    let at = |pw: &str| {
        std::fs::write(&file, pw).unwrap();
        Location::Postgres { url: url.clone(), password_file: Some(file.clone()) }
    };
    let s = Store::open(at("correct-horse\n")).unwrap();
    assert_eq!(s.latest_run().unwrap(), None);
    let e = Store::open(at("wrong-battery\n")).err().unwrap().to_string();
    assert!(e.contains("password authentication failed") && !e.contains("wrong-battery"), "{e}");
    let e = Store::open(Location::Postgres { url: url.clone(), password_file: Some(dir.path().join("missing")) }).err().unwrap().to_string();
    assert!(e.contains("db_password_file") && e.contains("missing"), "{e}");
    // A password in the URL is refused, and the URL is shown without it.
    let e = Store::open(Location::new(Path::new(&format!("postgres://dangle_pw:correct-horse@127.0.0.1:{}/{}", db.port(), db.name())), None)).err().unwrap().to_string();
    assert!(e.contains("holds a password") && e.contains("dangle_pw:***@") && !e.contains("correct-horse"), "{e}");
}

//! The schema: the migrations that build a store on either engine, one after another, and what each
//! later migration added, decided once per open as the SQL a read uses ([`Schema`]).

use super::db::{self, vals, DbError, Dialect, Engine, Load};
use super::{sightings, Store, StoreError};

pub(super) const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    config TEXT NOT NULL,
    snapshot TEXT NOT NULL,
    tool_version TEXT NOT NULL,
    n_records INTEGER NOT NULL,
    n_rows INTEGER NOT NULL,
    n_assets INTEGER NOT NULL,
    n_gaps INTEGER NOT NULL
);
CREATE TABLE zones (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    account TEXT NOT NULL,
    zone TEXT NOT NULL,
    private INTEGER NOT NULL,
    UNIQUE (source, account, zone, private)
);
CREATE TABLE records (
    id INTEGER PRIMARY KEY,
    zone_id INTEGER NOT NULL REFERENCES zones (id),
    name TEXT NOT NULL,
    rtype TEXT NOT NULL,
    set_id TEXT NOT NULL,
    location TEXT,
    first_run INTEGER NOT NULL REFERENCES runs (id),
    last_run INTEGER NOT NULL REFERENCES runs (id),
    UNIQUE (zone_id, name, rtype, set_id)
);
CREATE TABLE assets (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    account TEXT NOT NULL,
    kind TEXT NOT NULL,
    asset_id TEXT NOT NULL,
    first_run INTEGER NOT NULL REFERENCES runs (id),
    last_run INTEGER NOT NULL REFERENCES runs (id),
    UNIQUE (source, account, kind, asset_id)
);
-- One row per (run, record, target). status / severity / claimable are small codes (see codes.rs).
CREATE TABLE rows (
    run_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    record_id INTEGER NOT NULL,
    ttl INTEGER NOT NULL,
    target TEXT NOT NULL,
    status INTEGER NOT NULL,
    severity INTEGER NOT NULL,
    claimable INTEGER NOT NULL,
    reason TEXT NOT NULL,
    owner INTEGER,
    probe_verdict TEXT NOT NULL,
    probe_detail TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE TABLE run_assets (
    run_id INTEGER NOT NULL,
    asset_ref INTEGER NOT NULL,
    region TEXT,
    ips TEXT NOT NULL,
    hosts TEXT NOT NULL,
    PRIMARY KEY (run_id, asset_ref)
) WITHOUT ROWID;
CREATE TABLE gaps (
    run_id INTEGER NOT NULL,
    source TEXT NOT NULL,
    account TEXT NOT NULL,
    region TEXT,
    service TEXT NOT NULL,
    error TEXT NOT NULL
);
CREATE INDEX gaps_run ON gaps (run_id);
"#, r#"
-- Probe evidence (JSON, as `report --format json` shows it), once per probe, and which rows it speaks for.
CREATE TABLE probes (
    run_id INTEGER NOT NULL,
    id INTEGER NOT NULL,
    verdict TEXT NOT NULL,
    evidence TEXT NOT NULL,
    PRIMARY KEY (run_id, id)
) WITHOUT ROWID;
CREATE TABLE row_probes (
    run_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    probe_id INTEGER NOT NULL,
    PRIMARY KEY (run_id, seq, probe_id)
) WITHOUT ROWID;
-- Targets the user named in [[probe.targets]], with their verdict and the probes behind it.
CREATE TABLE named_probes (
    run_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    target TEXT NOT NULL,
    sni TEXT NOT NULL,
    verdict TEXT NOT NULL,
    detail TEXT NOT NULL,
    probe_ids TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
"#, r#"
-- Where each record was (file and line, console location) as of the run that first saw it or moved it:
-- a row of run N shows the location with the greatest run_id <= N. Older runs get the location
-- known when this migration ran, the best there is.
CREATE TABLE record_locations (
    record_id INTEGER NOT NULL,
    run_id INTEGER NOT NULL,
    location TEXT,
    PRIMARY KEY (record_id, run_id)
) WITHOUT ROWID;
INSERT INTO record_locations (record_id, run_id, location) SELECT id, first_run, location FROM records WHERE location IS NOT NULL;
"#, r#"
-- Age. Per record: a fingerprint of its rows (targets and judgements) at its last sighting, the run in
-- which that last changed, and the first run of its current dangling streak (NULL when not dangling).
-- Per row, both runs as of its run (a report of run N shows what run N knew). Per run, the
-- `--stale-days` it flagged stale findings with. Filled from history when this migration runs
-- (`backfill_ages`); rows of earlier runs keep NULL (their reports show no age).
ALTER TABLE records ADD COLUMN state INTEGER;
ALTER TABLE records ADD COLUMN changed_run INTEGER;
ALTER TABLE records ADD COLUMN dangling_run INTEGER;
ALTER TABLE rows ADD COLUMN changed_run INTEGER;
ALTER TABLE rows ADD COLUMN dangling_run INTEGER;
ALTER TABLE runs ADD COLUMN stale_days INTEGER;
ALTER TABLE runs ADD COLUMN probing INTEGER;
-- The finding's kind (`Kind::code`), NULL in rows stored before.
ALTER TABLE rows ADD COLUMN kind INTEGER;
-- The run's findings by severity, `critical high medium low info` counts (the HTML report's chart).
ALTER TABLE runs ADD COLUMN findings TEXT;
-- A record set as its provider's change API names it (Route53: a ResourceRecordSet as JSON), as of its
-- last sighting: `checklist` writes the exact change from it.
CREATE TABLE record_specs (
    record_id INTEGER PRIMARY KEY,
    spec TEXT NOT NULL
);
-- Alerts that could not be delivered, re-sent with the next run (by the alert's name: never its URL
-- or headers, which may be secrets).
ALTER TABLE runs ADD COLUMN pruned_at TEXT;
CREATE TABLE alert_outbox (
    id INTEGER PRIMARY KEY,
    alert TEXT NOT NULL,
    run_id INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    last_error TEXT NOT NULL
);
"#, r#"
-- A claim check's result per row (0 available, 1 taken, 2 no answer; NULL: not checked).
ALTER TABLE rows ADD COLUMN claim INTEGER;
"#, r#"
-- Certificate Transparency: per row, how many certificates were issued for its name since it dangles
-- (NULL: not looked up); per name, the CT log search's last answer (a cache, not history).
ALTER TABLE rows ADD COLUMN ct INTEGER;
CREATE TABLE ct_cache (
    name TEXT PRIMARY KEY,
    fetched_at INTEGER NOT NULL, -- Unix seconds
    body TEXT NOT NULL
) WITHOUT ROWID;
"#, r#"
-- Certificate baselines of owned endpoints ([probe] baseline): per name, the key (SPKI SHA-256), issuer,
-- requested CA names, ALPN and expiry it answered with at its last sighting, and the runs that first
-- saw it and last saw its key or issuer change. Per run, the findings made against them.
CREATE TABLE baselines (
    name TEXT PRIMARY KEY,
    spki TEXT NOT NULL,
    issuer TEXT NOT NULL,
    ca_names TEXT NOT NULL,
    alpn TEXT NOT NULL,
    not_after TEXT NOT NULL,
    first_run INTEGER NOT NULL,
    changed_run INTEGER NOT NULL,
    last_run INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE name_findings (
    run_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    name TEXT NOT NULL,
    address TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity INTEGER NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
"#, r#"
-- A run's gaps in the order it found them (SQLite's row order said it before; PostgreSQL has none).
ALTER TABLE gaps ADD COLUMN seq INTEGER;
"#, r#"
-- Shards: the inventory runners enumerate (`scan --shard NAME --enumerate-only`) for `judge` to judge
-- as one. Per shard, its current snapshot; per snapshot, what the providers said they are and what
-- they returned. A snapshot replaces the shard's previous one in the transaction that writes it.
CREATE TABLE shards (
    name TEXT PRIMARY KEY,
    snapshot INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE shard_snapshots (
    id INTEGER PRIMARY KEY,
    shard TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    tool_version TEXT NOT NULL,
    config TEXT NOT NULL,
    n_records INTEGER NOT NULL,
    n_assets INTEGER NOT NULL,
    n_gaps INTEGER NOT NULL
);
CREATE TABLE shard_providers (
    snapshot INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    cloud TEXT NOT NULL,
    covers TEXT NOT NULL,
    PRIMARY KEY (snapshot, seq)
) WITHOUT ROWID;
CREATE TABLE shard_records (
    snapshot INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    source TEXT NOT NULL,
    account TEXT NOT NULL,
    zone TEXT NOT NULL,
    private INTEGER NOT NULL,
    name TEXT NOT NULL,
    rtype TEXT NOT NULL,
    ttl INTEGER NOT NULL,
    set_id TEXT,
    targets TEXT NOT NULL,
    location TEXT,
    spec TEXT,
    PRIMARY KEY (snapshot, seq)
) WITHOUT ROWID;
CREATE TABLE shard_assets (
    snapshot INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    source TEXT NOT NULL,
    account TEXT NOT NULL,
    region TEXT,
    kind TEXT NOT NULL,
    asset_id TEXT NOT NULL,
    ips TEXT NOT NULL,
    hosts TEXT NOT NULL,
    PRIMARY KEY (snapshot, seq)
) WITHOUT ROWID;
CREATE TABLE shard_coverage (
    snapshot INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    source TEXT NOT NULL,
    account TEXT NOT NULL,
    region TEXT,
    PRIMARY KEY (snapshot, seq)
) WITHOUT ROWID;
CREATE TABLE shard_gaps (
    snapshot INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    source TEXT NOT NULL,
    account TEXT NOT NULL,
    region TEXT,
    service TEXT NOT NULL,
    error TEXT NOT NULL,
    hides TEXT NOT NULL,
    PRIMARY KEY (snapshot, seq)
) WITHOUT ROWID;
"#, r#"
-- 1 when the store's latest run saw the record / asset: its last sighting is that run, and
-- `last_run` is written only when it stops being seen (a steady-state run rewrites no row of a
-- million that it sees again).
ALTER TABLE records ADD COLUMN seen_latest INTEGER NOT NULL DEFAULT 0;
ALTER TABLE assets ADD COLUMN seen_latest INTEGER NOT NULL DEFAULT 0;
UPDATE records SET seen_latest = 1 WHERE last_run = (SELECT MAX(id) FROM runs);
UPDATE assets SET seen_latest = 1 WHERE last_run = (SELECT MAX(id) FROM runs);
"#, r#"
-- 1 when a record's location is a line of a file (`file:line`), else a place in a provider's console:
-- a record's source keeps its kind, so one flag per record (and per shard record). Stores written
-- before get it from the shape of their locations when this migration runs (`backfill_lines`).
ALTER TABLE records ADD COLUMN line_location INTEGER NOT NULL DEFAULT 0;
ALTER TABLE shard_records ADD COLUMN line_location INTEGER NOT NULL DEFAULT 0;
-- Each run's providers, by name and config type: the provider type that writes the change to a
-- record set of a source (`checklist`).
CREATE TABLE run_providers (
    run_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
"#];

/// The schema that flags locations that are lines of files and keeps each run's providers (the
/// eleventh migration).
const LINES: i64 = 11;

/// The schema that keeps the latest run's sightings as a flag (the tenth migration).
const SEEN_LATEST: i64 = 10;

/// The schema that added shards (the ninth migration).
const SHARDS: i64 = 9;

/// The schema that numbered gaps (the eighth migration).
const GAP_ORDER: i64 = 8;

/// The schema that added certificate baselines (the seventh migration).
const BASELINES: i64 = 7;

/// The schema that added Certificate Transparency (the sixth migration).
const CT: i64 = 6;

/// The schema that added claim checks (the fifth migration).
const CLAIMS: i64 = 5;

/// The schema that added ages (see the fourth migration).
const AGES: i64 = 4;

/// The schema that kept each record's location per run (the third migration).
const LOCATIONS: i64 = 3;

/// The oldest schema a read-only command can read without migrating it (schema 2 lacks only the
/// per-run locations: its rows show each record's latest location).
pub(super) const OLDEST_READABLE: i64 = 2;

/// The schema this build writes: every migration applied.
pub(super) const LATEST: i64 = MIGRATIONS.len() as i64;

/// What an opened store's schema holds, decided once when it is opened: for each column a later
/// migration added, the SQL a read uses (the column, or a stand-in with the same meaning on an older
/// store a read-only command opened without migrating it), and which later tables are there. A store
/// opened for writing is always at [`LATEST`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Schema {
    pub version: i64,
    /// A row's location as of its run (`w` the row, `c` its record): the latest move up to the run,
    /// else where the record has always been (see `insert_records`); schema 2 keeps only the latest.
    pub row_location: &'static str,
    /// `rows.claim` of row `w`, and unqualified.
    pub row_claim: &'static str,
    pub claim: &'static str,
    /// `rows.ct` of row `w`, and whether a row's certificate count is above zero (unqualified).
    pub row_ct: &'static str,
    pub ct_issued: &'static str,
    /// The age columns of row `w` in run `rr` (last change, dangling since, the run's stale days and
    /// probing, the finding kind), and the joins they need.
    pub row_ages: &'static str,
    pub age_joins: &'static str,
    /// A run's stale days and probing; its findings by severity.
    pub run_ages: &'static str,
    pub run_findings: &'static str,
    /// A condition true of runs whose rows are kept (not pruned).
    pub kept: &'static str,
    /// The order a run's gaps were found in.
    pub gap_order: &'static str,
    /// The tables and columns of schema 4 and later: ages, record specs, pruning, the alert outbox.
    pub ages: bool,
    pub ct_cache: bool,
    pub baselines: bool,
    pub shards: bool,
    /// The latest run's sightings are a flag (`seen_latest`), not `last_run`.
    pub seen_latest: bool,
    /// Whether a record's location is a line of a file (`records.line_location`), else SQL that says no.
    pub line_location: &'static str,
    /// Each run's providers (`run_providers`).
    pub run_providers: bool,
}

impl Schema {
    /// What `version` holds, on `dialect`.
    pub(super) fn of(version: i64, dialect: Dialect) -> Self {
        let at = |since: i64, now: &'static str, before: &'static str| if version >= since { now } else { before };
        Self {
            version,
            row_location: at(
                LOCATIONS,
                "COALESCE((SELECT l.location FROM record_locations l WHERE l.record_id = c.id AND l.run_id <= w.run_id ORDER BY l.run_id DESC LIMIT 1), c.location)",
                "c.location",
            ),
            row_claim: at(CLAIMS, "w.claim", "NULL"),
            claim: at(CLAIMS, "claim", "NULL"),
            row_ct: at(CT, "w.ct", "NULL"),
            ct_issued: at(CT, "ct > 0", "NULL"),
            row_ages: at(AGES, "ch.started_at, dg.started_at, rr.stale_days, rr.probing, w.kind", "NULL, NULL, NULL, NULL, NULL"),
            age_joins: at(AGES, "LEFT JOIN runs ch ON ch.id = w.changed_run LEFT JOIN runs dg ON dg.id = w.dangling_run", ""),
            run_ages: at(AGES, "stale_days, probing", "NULL, NULL"),
            run_findings: at(AGES, "findings", "NULL"),
            kept: at(AGES, "pruned_at IS NULL", "1 = 1"),
            // In the order the run found them: `seq` since schema 8, SQLite's row order before.
            gap_order: match dialect {
                _ if version < GAP_ORDER => "rowid",
                Dialect::Sqlite => "seq, rowid",
                Dialect::Postgres => "seq",
            },
            ages: version >= AGES,
            ct_cache: version >= CT,
            baselines: version >= BASELINES,
            shards: version >= SHARDS,
            seen_latest: version >= SEEN_LATEST,
            line_location: at(LINES, "c.line_location", "0"),
            run_providers: version >= LINES,
        }
    }
}

impl Store {
    /// Brings the schema up to date in one transaction. On PostgreSQL a transaction-level advisory
    /// lock makes runners that start together on a new database migrate it once, one after another.
    pub(super) fn migrate(&mut self) -> Result<(), StoreError> {
        let db = &*self.db;
        let e = |e: DbError| StoreError::Db { path: self.path.clone(), message: e.message };
        let known = LATEST;
        db.begin().map_err(e)?;
        let done = (|| {
            if db.dialect() == Dialect::Postgres {
                db.execute("SELECT pg_advisory_xact_lock(?1)", vals![db::postgres::RUN_LOCK + 1])?;
            }
            let version = db.schema_version()?;
            if version > known {
                return Ok(Some(version));
            }
            for (i, m) in MIGRATIONS.iter().enumerate().skip(version as usize) {
                db.batch(&db.migration(m))?;
                if i as i64 + 1 == AGES && version > 0 {
                    tracing::info!(store = %self.path.display(), "upgrading the store: working out each record's age from its history (once)");
                    sightings::backfill_ages(db)?;
                }
                if i as i64 + 1 == LINES && version > 0 {
                    backfill_lines(db)?;
                }
            }
            if version == 0 && db.dialect() == Dialect::Postgres {
                // Every run rewrites each seen record's and asset's last sighting: room on each page
                // lets PostgreSQL update them in place (HOT), without touching the identity indexes.
                db.batch("ALTER TABLE records SET (fillfactor = 50); ALTER TABLE assets SET (fillfactor = 50);")?;
            }
            if version < known {
                db.set_schema_version(known)?;
            }
            Ok(None)
        })();
        match done {
            Ok(None) => db.commit().map_err(e),
            Ok(Some(found)) => {
                db.rollback().map_err(e)?;
                Err(StoreError::TooNew { path: self.path.clone(), found, known })
            }
            Err(err) => {
                let _ = db.rollback();
                Err(e(err))
            }
        }
    }
}

/// Flags the stored locations that are lines of files (the migration to schema 11), by their shape:
/// `PATH:N`, where PATH is neither a resource id (`/…`) nor a console place (`route53 hosted zone …`);
/// and names the latest run's providers' types the same way. The one time dangle reads what a
/// location or a source is from its text: runs written since say it.
fn backfill_lines(db: &dyn Engine) -> db::Result<()> {
    let is_line = |l: &str| {
        !l.starts_with('/') && !l.starts_with("route53 ") && l.rsplit_once(':').is_some_and(|(f, n)| !f.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    let records = db.all("SELECT id, location FROM records WHERE location IS NOT NULL", &[], |r| Ok((r.i64(0)?, r.string(1)?)))?;
    db.load("records", &["line_location", "id"], Load::Update { key: "id" }, &mut |sink| {
        for (id, _) in records.iter().filter(|(_, l)| is_line(l)) {
            sink.row(vals![1i64, *id])?;
        }
        Ok(())
    })?;
    let shard = db.all("SELECT snapshot, seq, location FROM shard_records WHERE location IS NOT NULL", &[], |r| Ok((r.i64(0)?, r.i64(1)?, r.string(2)?)))?;
    for (snapshot, seq, _) in shard.iter().filter(|(_, _, l)| is_line(l)) {
        db.execute("UPDATE shard_records SET line_location = 1 WHERE snapshot = ?1 AND seq = ?2", vals![*snapshot, *seq])?;
    }
    // The latest run's providers (what `checklist` asks to write changes), by the shape of what each
    // source left: Route53 change specs, lines of files, Azure resource ids.
    let Some(latest) = db.int("SELECT MAX(id) FROM runs", &[])? else { return Ok(()) };
    let sources = db.all(
        "SELECT z.source, MAX(CASE WHEN s.record_id IS NOT NULL THEN 1 ELSE 0 END), MAX(c.line_location), MIN(c.location) FROM zones z
         JOIN records c ON c.zone_id = z.id LEFT JOIN record_specs s ON s.record_id = c.id GROUP BY z.source ORDER BY z.source",
        &[],
        |r| Ok((r.string(0)?, r.i64(1)?, r.i64(2)?, r.opt_string(3)?)),
    )?;
    for (seq, (source, spec, line, location)) in sources.iter().enumerate() {
        let kind = match (spec, line, location.as_deref()) {
            (1, _, _) => "aws",
            (_, 1, _) => "zonefile",
            (_, _, Some(l)) if l.starts_with("/subscriptions/") => "azure",
            _ => continue,
        };
        db.execute("INSERT INTO run_providers (run_id, seq, name, kind) VALUES (?1, ?2, ?3, ?4)", vals![latest, seq as i64, source.as_str(), kind])?;
    }
    Ok(())
}

//! Every run in SQLite: runs, records (first / last seen), per-run judgement rows, assets (first / last
//! seen) with their per-run addresses, and gaps. Schema migrations go by `PRAGMA user_version`; a run is
//! written in one transaction, so a process killed mid-run leaves the earlier runs intact and no half run.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use dangle_model::{Asset, CoverageGap, DnsName, DnsRecord, Verdict};
use std::collections::HashMap;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::reconcile::{Claimable, Confidence, Explainer, Former, History, Judgement, Kind, Severity, Status};

mod baseline;
mod claims;
mod outbox;
mod probes;
mod prune;
mod write;

pub use crate::time::{format_unix, now_rfc3339};
pub use baseline::{Baseline, NameFinding, NameKind};
pub use claims::{Claims, RowClaim, RowCt};
pub use outbox::Pending;
pub use prune::Pruned;
pub use probes::{EvidenceJson, NamedProbe, Probes, RowProbe};
pub use write::{FirstSeen, RecordDates, RunWriter};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite's own words, once: rusqlite's error repeats its message in its source.
    #[error("store {}: {}", path.display(), sqlite_message(error))]
    Sqlite { path: PathBuf, error: rusqlite::Error },
    #[error("store {} was written by an older dangle (schema {found}); run `dangle scan` once with this version to upgrade it", path.display())]
    TooOld { path: PathBuf, found: i64 },
    #[error("no store at {}: run `dangle scan` first, or pass --db", path.display())]
    Missing { path: PathBuf },
    #[error("store {} was written by a newer dangle (schema {found}, this build knows {known})", path.display())]
    TooNew { path: PathBuf, found: i64, known: i64 },
    #[error("store {} holds no run {run}", path.display())]
    NoSuchRun { path: PathBuf, run: i64 },
    #[error("store {}: run {run} was pruned on {at} (its rows are gone; its counts and dates stay for history)", path.display())]
    PrunedRun { path: PathBuf, run: i64, at: String },
    #[error("store {}: run {run} holds no row {seq}", path.display())]
    NoSuchRow { path: PathBuf, run: i64, seq: u32 },
    #[error("store {} holds no run yet: run `dangle scan` first", path.display())]
    Empty { path: PathBuf },
    #[error("store {}: another dangle scan holds it ({holder}lock {}) and did not finish within {waited} s; raise --lock-timeout or try again later", path.display(), lock.display())]
    Locked { path: PathBuf, lock: PathBuf, waited: u64, /** `pid N, since T; ` as the holder wrote it, or empty */ holder: String },
    #[error("store {}: cannot take the run lock {}: {error}", path.display(), lock.display())]
    Lock { path: PathBuf, lock: PathBuf, error: std::io::Error },
}

/// Held for a whole scan, from reading history to committing the run: two scans of one store never
/// interleave, and the second judges with the first one's run in its history. An advisory lock on
/// `STORE.lock`; the kernel drops it when the process dies, so a killed scan never leaves it stuck. The
/// holder writes its pid and start time into the file, so a scan that gives up can say who holds it.
#[derive(Debug)]
pub struct RunLock {
    _file: std::fs::File,
}

impl RunLock {
    /// Takes the lock of the store at `path`, waiting up to `timeout` for a scan that holds it.
    pub fn acquire(path: &Path, timeout: std::time::Duration) -> Result<Self, StoreError> {
        let mut lock = path.as_os_str().to_owned();
        lock.push(".lock");
        let lock = PathBuf::from(lock);
        let fail = |error| StoreError::Lock { path: path.to_path_buf(), lock: lock.clone(), error };
        let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&lock).map_err(fail)?;
        let start = std::time::Instant::now();
        let mut said = false;
        loop {
            match file.try_lock() {
                Ok(()) => {
                    use std::io::Write as _;
                    // Who holds it, for a scan that waits in vain (best effort: the lock is what counts).
                    let mut f = &file;
                    let _ = f.set_len(0).and_then(|()| writeln!(f, "pid {}, since {}", std::process::id(), now_rfc3339()));
                    return Ok(Self { _file: file });
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    if start.elapsed() >= timeout {
                        return Err(StoreError::Locked { path: path.to_path_buf(), holder: lock_holder(&lock), lock, waited: timeout.as_secs() });
                    }
                    if !said {
                        let holder = lock_holder(&lock);
                        let holder = holder.trim_end_matches("; ");
                        let by = if holder.is_empty() { String::new() } else { format!(" ({holder})") };
                        tracing::warn!("store {}: another scan is running{by}; waiting for it (up to {} s)", path.display(), timeout.as_secs());
                        said = true;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(fail(e)),
            }
        }
    }
}

const MIGRATIONS: &[&str] = &[r#"
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
"#];

/// The schema that added certificate baselines (the seventh migration).
const BASELINES: i64 = 7;

/// The schema that added Certificate Transparency (the sixth migration).
const CT: i64 = 6;

/// The schema that added claim checks (the fifth migration).
const CLAIMS: i64 = 5;

/// The schema that added ages (see the fourth migration).
const AGES: i64 = 4;

/// The oldest schema a read-only command can read without migrating it (schema 2 lacks only the
/// per-run locations: its rows show each record's latest location).
const OLDEST_READABLE: i64 = 2;

/// `pid N, since T; ` from a lock file its holder wrote, or nothing when it holds nothing readable.
fn lock_holder(lock: &Path) -> String {
    let text = dangle_model::input::read_file(lock, 4096).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    let line = text.lines().next().unwrap_or_default().trim();
    let well_formed = line.starts_with("pid ") && line.len() < 100 && line.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
    if well_formed {
        format!("{line}; ")
    } else {
        String::new()
    }
}

/// SQLite's message for a person, with what to do where there is something to do.
fn sqlite_message(e: &rusqlite::Error) -> String {
    use rusqlite::ErrorCode as C;
    match e {
        rusqlite::Error::SqliteFailure(f, msg) => match f.code {
            C::NotADatabase => "not a dangle store: the file is not an SQLite database".into(),
            C::DatabaseCorrupt => "the database file is corrupt (SQLite: malformed); restore it from a backup".into(),
            C::DatabaseBusy | C::DatabaseLocked => "another dangle run holds the store; try again when it has finished".into(),
            C::DiskFull => "the disk is full; nothing of this run was stored".into(),
            C::CannotOpen => "cannot open the file (does its folder exist, and may dangle read it?)".into(),
            C::ReadOnly => "the store is read-only here (a scan needs to write it)".into(),
            _ => msg.clone().unwrap_or_else(|| f.to_string()),
        },
        // A value the row decoder refused (an unknown code): its own sentence, not rusqlite's wrapper.
        rusqlite::Error::FromSqlConversionFailure(_, _, inner) => inner.to_string(),
        other => other.to_string(),
    }
}

/// What one scan hands to the store.
pub struct RunInput<'a> {
    /// Renders the judgements' reasons.
    pub explain: &'a Explainer<'a>,
    pub started_at: String,
    pub config: String,
    pub snapshot: String,
    pub records: &'a [DnsRecord],
    pub judgements: &'a [Judgement],
    pub assets: &'a [Asset],
    pub gaps: &'a [CoverageGap],
    /// Probe results by judgement (empty when nothing was probed).
    pub probed: &'a Probes,
    /// `--stale-days`: a finding unchanged this many days is flagged stale.
    pub stale_days: i64,
    /// Whether the scan probed (rows it did not probe say why).
    pub probing: bool,
    /// Claim checks by judgement (empty when none ran).
    pub claims: &'a Claims,
    /// The run's certificate baseline findings, and the baselines as they stand after it (both empty
    /// without `[probe] baseline`).
    pub name_findings: &'a [NameFinding],
    pub baselines: &'a [Baseline],
}

impl RunInput<'_> {
    /// The probe result of judgement `seq`, if the run probed it.
    pub fn probe(&self, seq: usize) -> Option<&RowProbe> {
        if self.probed.is_empty() {
            None
        } else {
            self.probed.get(seq)
        }
    }

    /// The probe verdict of judgement `seq` (`not_probed` when none).
    pub fn verdict(&self, seq: usize) -> Verdict {
        self.probe(seq).map_or(Verdict::NotProbed, |p| p.verdict)
    }

    /// Judgement `seq`'s reason as every report shows it, into `out` (cleared first): the
    /// reconciler's sentence, then what the claim check and the prober added.
    pub fn reason_into(&self, seq: usize, out: &mut String) {
        out.clear();
        self.explain.render_into(&self.judgements[seq].reason, out);
        if let Some(c) = self.claims.get(seq) {
            out.push_str(&c.reason);
        }
        if let Some(c) = self.claims.ct(seq) {
            out.push_str(&c.reason);
        }
        if let Some(extra) = self.probe(seq).and_then(|p| p.reason.as_deref()) {
            out.push_str(extra);
        }
    }
}

/// A run's metadata.
#[derive(Debug, Clone, Serialize)]
pub struct RunMeta {
    pub id: i64,
    pub started_at: String,
    pub finished_at: String,
    pub config: String,
    pub snapshot: String,
    pub tool_version: String,
    pub records: i64,
    pub rows: i64,
    pub assets: i64,
    pub gaps: i64,
    /// `--stale-days` of the run: findings unchanged this long are flagged stale (none before schema 4).
    pub stale_days: Option<i64>,
    /// Whether the run probed (none before schema 4).
    pub probing: Option<bool>,
}

/// One (record, target) row as reports show it: the records.csv columns plus where to edit. Nothing in
/// it may change after its run: `report --run N` renders the same bytes whenever it runs (so no
/// `last_seen`, which the next run moves; the store keeps it in `records.last_run`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportRow {
    pub record_name: String,
    pub record_type: String,
    pub set_id: String,
    pub target: String,
    pub zone: String,
    pub source: String,
    pub account: String,
    pub status: Status,
    pub severity: Severity,
    pub claimable: Claimable,
    pub reason: String,
    pub probe_verdict: Verdict,
    pub probe_detail: String,
    pub first_seen: String,
    pub location: String,
    /// How much evidence stands behind the status ([`Confidence::of`]).
    pub confidence: Confidence,
    /// When the record was first judged dangling in its current streak (its exposure window); empty
    /// when it is not dangling (or the run predates schema 4).
    pub dangling_since: String,
    /// The start of the run in which the record's rows (targets, statuses, severities, claimability,
    /// probe verdicts) last changed.
    pub last_changed: String,
    /// Whole days from first_seen to this run.
    pub age_days: Option<i64>,
    /// A finding unchanged for the run's `--stale-days` or longer.
    pub stale: bool,
    /// What kind of finding it is (`ok` for none): its remediation and OWASP entries go by it.
    pub kind: Kind,
    pub ttl: u32,
    pub owner: String,
    /// The evidence of every probe behind `probe_verdict` (JSON report only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<serde_json::Value>,
}

impl ReportRow {
    /// A row with every field empty (the lowest status, severity and confidence), to fill in.
    pub fn empty() -> Self {
        Self {
            record_name: String::new(),
            record_type: String::new(),
            set_id: String::new(),
            target: String::new(),
            zone: String::new(),
            source: String::new(),
            account: String::new(),
            status: Status::NoTarget,
            severity: Severity::Info,
            claimable: Claimable::No,
            reason: String::new(),
            probe_verdict: Verdict::NotProbed,
            probe_detail: String::new(),
            first_seen: String::new(),
            location: String::new(),
            confidence: Confidence::Tentative,
            dangling_since: String::new(),
            last_changed: String::new(),
            age_days: None,
            stale: false,
            kind: Kind::Ok,
            ttl: 0,
            owner: String::new(),
            probes: Vec::new(),
        }
    }

    /// Where a person edits the record: its file and line or console location, else source / account.
    pub fn place(&self) -> String {
        if self.location.is_empty() {
            format!("{} / {}", self.source, self.account)
        } else {
            self.location.clone()
        }
    }

    /// [`ReportRow::key`] without copying it.
    pub fn key_ref(&self) -> (&str, &str, &str, &str, &str, &str, &str) {
        (&self.source, &self.account, &self.zone, &self.record_name, &self.record_type, &self.set_id, &self.target)
    }

    /// Identifies a row across runs.
    pub fn key(&self) -> (String, String, String, String, String, String, String) {
        (
            self.source.clone(),
            self.account.clone(),
            self.zone.clone(),
            self.record_name.clone(),
            self.record_type.clone(),
            self.set_id.clone(),
            self.target.clone(),
        )
    }
}

/// Which rows [`Store::each_row`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    All,
    /// Rows whose status is a finding (external, unverified, dangling).
    Findings,
}

/// Counts over a run's rows ([`Store::row_counts`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowCounts {
    /// Indexed by [`Status`] as a number.
    pub by_status: [usize; 5],
    /// Findings only, indexed by [`Severity`] as a number.
    pub by_severity: [usize; 5],
    /// Findings only, by severity and then [`Confidence`] as numbers (for `--min-confidence`).
    pub by_confidence: [[usize; 3]; 5],
    /// Some row carries a probe verdict.
    pub probed: bool,
}

/// A named target's probe result, as reports show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamedProbeRow {
    pub target: String,
    pub sni: String,
    pub verdict: Verdict,
    pub detail: String,
    pub probes: Vec<serde_json::Value>,
}

/// An asset of a run, as assets.csv shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssetRow {
    pub kind: String,
    pub id: String,
    pub source: String,
    pub account: String,
    pub region: String,
    pub ips: String,
    pub hosts: String,
    pub first_seen: String,
}

/// A coverage gap of a run, as gaps.csv shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GapRow {
    pub source: String,
    pub account: String,
    pub region: String,
    pub service: String,
    pub error: String,
}

/// One run's findings by severity, for a chart of the store's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunPoint {
    pub run: i64,
    pub started_at: String,
    /// Indexed by [`Severity`] as a number.
    pub by_severity: [usize; 5],
}

/// `runs.findings` as written: the counts from critical down to info.
pub(crate) fn findings_text(by_severity: &[usize; 5]) -> String {
    Severity::ALL.iter().rev().map(|s| by_severity[*s as usize].to_string()).collect::<Vec<_>>().join(" ")
}

fn parse_findings(text: &str) -> Option<[usize; 5]> {
    let n: Vec<usize> = text.split_whitespace().map(|x| x.parse().ok()).collect::<Option<_>>()?;
    if n.len() != 5 {
        return None;
    }
    let mut out = [0; 5];
    for (s, v) in Severity::ALL.iter().rev().zip(n) {
        out[*s as usize] = v;
    }
    Some(out)
}

/// A row's age as reports show it, from dates the store (or the run in memory) holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ages {
    pub age_days: Option<i64>,
    pub stale: bool,
}

impl Ages {
    /// A row of `status` in the run started at `run_started`, its record first seen at `first_seen` and
    /// last changed at `last_changed` (empty: unknown); `stale_days` is the run's `--stale-days`.
    /// A finding (a target not owned) is stale when it has not changed for `stale_days` days.
    pub fn of(status: Status, run_started: &str, first_seen: &str, last_changed: &str, stale_days: Option<i64>) -> Self {
        let age_days = crate::time::days_between(first_seen, run_started);
        let unchanged = crate::time::days_between(last_changed, run_started);
        let stale = status.is_finding() && matches!((unchanged, stale_days), (Some(d), Some(n)) if d >= n);
        Self { age_days, stale }
    }
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// Held by a store a scan writes (see [`RunLock`]).
    run_lock: Option<RunLock>,
    /// The schema version the file holds (a read-only open never migrates).
    schema: i64,
}

impl Store {
    /// Opens (creating if needed) the store at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(|error| StoreError::Sqlite { path: path.to_path_buf(), error })?;
        let mut s = Self { conn, path: path.to_path_buf(), run_lock: None, schema: MIGRATIONS.len() as i64 };
        s.init()?;
        Ok(s)
    }

    /// Takes the run lock (waiting up to `timeout` for a scan that holds it), then opens the store
    /// for writing: a fresh store is created and migrated by one scan only.
    pub fn open_for_run(path: &Path, timeout: std::time::Duration) -> Result<Self, StoreError> {
        let lock = RunLock::acquire(path, timeout)?;
        let mut s = Self::open(path)?;
        s.run_lock = Some(lock);
        Ok(s)
    }

    /// The run lock this store holds (from [`Store::open_for_run`]), else a freshly taken one: the
    /// caller holds it for the scan and drops it when the run is stored.
    pub fn take_run_lock(&mut self, timeout: std::time::Duration) -> Result<RunLock, StoreError> {
        match self.run_lock.take() {
            Some(l) => Ok(l),
            None => RunLock::acquire(&self.path, timeout),
        }
    }

    /// Opens a store that must exist already, read-only (reports, diffs, checklists): nothing in the
    /// file changes — no migration, no journal-mode switch — and it works in a read-only folder.
    pub fn open_existing(path: &Path) -> Result<Self, StoreError> {
        if !path.exists() {
            return Err(StoreError::Missing { path: path.to_path_buf() });
        }
        let e = |error| StoreError::Sqlite { path: path.to_path_buf(), error };
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX | rusqlite::OpenFlags::SQLITE_OPEN_URI;
        let version = |conn: &Connection| -> rusqlite::Result<i64> {
            conn.busy_timeout(std::time::Duration::from_secs(30))?;
            conn.pragma_query_value(None, "user_version", |r| r.get(0))
        };
        let conn = Connection::open_with_flags(path, flags).map_err(e)?;
        let (conn, found) = match version(&conn) {
            Ok(v) => (conn, v),
            // A WAL store in a folder we may not write: SQLite cannot make its shared-memory file.
            // Nobody can be writing there either, so read the file as immutable.
            Err(rusqlite::Error::SqliteFailure(f, _)) if matches!(f.code, rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly) => {
                drop(conn);
                let conn = Connection::open_with_flags(immutable_uri(path), flags).map_err(e)?;
                let v = version(&conn).map_err(e)?;
                (conn, v)
            }
            Err(err) => return Err(e(err)),
        };
        let known = MIGRATIONS.len() as i64;
        if found > known {
            return Err(StoreError::TooNew { path: path.to_path_buf(), found, known });
        }
        if found == 0 {
            return Err(StoreError::Empty { path: path.to_path_buf() });
        }
        if found < OLDEST_READABLE {
            return Err(StoreError::TooOld { path: path.to_path_buf(), found });
        }
        Ok(Self { conn, path: path.to_path_buf(), run_lock: None, schema: found })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |error| StoreError::Sqlite { path: self.path.clone(), error }
    }

    fn init(&mut self) -> Result<(), StoreError> {
        let path = self.path.clone();
        let e = move |error| StoreError::Sqlite { path: path.clone(), error };
        self.conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(&e)?;
        // Refuse a newer store before changing anything in it (page size, journal mode).
        let version: i64 = self.conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(&e)?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew { path: self.path.clone(), found: version, known });
        }
        // 16 KiB pages: a run appends a million rows to a few B-trees; bigger pages mean fewer levels
        // and splits. Takes effect only on a new file, before WAL is switched on.
        self.conn.pragma_update(None, "page_size", 16_384).map_err(&e)?;
        self.conn.pragma_update(None, "journal_mode", "WAL").map_err(&e)?;
        self.conn.pragma_update(None, "synchronous", "NORMAL").map_err(&e)?;
        // The foreign keys document the schema; `verify` checks them. Enforcing them on every insert
        // costs a parent look-up per reference, which a run's million rows do not need: one writer, one
        // transaction, ids it has just read or made.
        self.conn.pragma_update(None, "foreign_keys", "OFF").map_err(&e)?;
        // Checkpoint explicitly after each run (Store::checkpoint), not in the middle of one.
        self.conn.pragma_update(None, "wal_autocheckpoint", 0).map_err(&e)?;
        // 16 MiB of page cache: the run is written in key order (appends and one ordered merge), so a
        // bigger cache buys nothing; measured at 1M × 1M, 64 MiB wrote the first and the second run no
        // faster (4.06 / 4.70 s against 3.99 / 4.51 s) and held 51 MB more.
        self.conn.pragma_update(None, "cache_size", -16_384).map_err(&e)?;
        for (i, m) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self.conn.transaction().map_err(&e)?;
            tx.execute_batch(m).map_err(&e)?;
            if i as i64 + 1 == AGES && version > 0 {
                tracing::info!(store = %self.path.display(), "upgrading the store: working out each record's age from its history (once)");
                write::backfill_ages(&tx).map_err(&e)?;
            }
            tx.pragma_update(None, "user_version", (i + 1) as i64).map_err(&e)?;
            tx.commit().map_err(&e)?;
        }
        Ok(())
    }

    /// What earlier runs held: each asset's last sighting, most recent first.
    pub fn history(&self) -> Result<History, StoreError> {
        let mut h = History::default();
        let mut stmt = self
            .conn
            .prepare(
                "SELECT a.last_run, r.started_at, a.kind, a.asset_id, a.source, ra.region, ra.ips, ra.hosts
                 FROM assets a JOIN run_assets ra ON ra.run_id = a.last_run AND ra.asset_ref = a.id
                 JOIN runs r ON r.id = a.last_run ORDER BY a.last_run DESC, a.id",
            )
            .map_err(self.err())?;
        let mut rows = stmt.query([]).map_err(self.err())?;
        // Sources, regions and dates repeat across thousands of assets: share them.
        let mut shared: std::collections::HashMap<String, Arc<str>> = std::collections::HashMap::new();
        let mut intern = |s: String| shared.entry(s).or_insert_with_key(|k| Arc::from(k.as_str())).clone();
        while let Some(row) = rows.next().map_err(self.err())? {
            let get = |i| row.get::<_, String>(i).map_err(self.err());
            let started = get(1)?;
            let former = Former {
                run: row.get(0).map_err(self.err())?,
                date: intern(started.get(..10).unwrap_or(&started).to_string()),
                kind: get(2)?.parse().unwrap_or_else(|e| match e {}),
                id: get(3)?.into_boxed_str(),
                source: intern(get(4)?),
                region: row.get::<_, Option<String>>(5).map_err(self.err())?.map(&mut intern),
            };
            let ips: Vec<ipnet::IpNet> = get(6)?.split_whitespace().filter_map(|s| dangle_model::parse_ip_or_cidr(s).ok()).collect();
            let hosts: Vec<DnsName> = get(7)?.split_whitespace().filter_map(|s| DnsName::parse(s).ok()).collect();
            h.add(former, &ips, &hosts);
        }
        Ok(h)
    }

    /// Folds the write-ahead log into the database file (after a run; readers are never blocked).
    /// Certificate Transparency answers cached for `names`, fetched at or after `since` (Unix
    /// seconds): name → the search's JSON.
    pub fn ct_cached(&self, names: &[String], since: i64) -> Result<HashMap<String, String>, StoreError> {
        let mut out = HashMap::new();
        if self.schema < CT {
            return Ok(out);
        }
        let mut stmt = self.conn.prepare_cached("SELECT body FROM ct_cache WHERE name = ?1 AND fetched_at >= ?2").map_err(self.err())?;
        for n in names {
            let body: Option<String> = stmt.query_row(params![n, since], |r| r.get(0)).optional().map_err(self.err())?;
            if let Some(b) = body {
                out.insert(n.clone(), b);
            }
        }
        Ok(out)
    }

    /// Caches Certificate Transparency answers (name, JSON) fetched at `at` (Unix seconds), in one
    /// transaction.
    pub fn ct_save(&mut self, entries: &[(String, String)], at: i64) -> Result<(), StoreError> {
        if entries.is_empty() || self.schema < CT {
            return Ok(());
        }
        let path = self.path.clone();
        let err = move |error| StoreError::Sqlite { path: path.clone(), error };
        let tx = self.conn.transaction().map_err(&err)?;
        {
            let mut ins = tx.prepare("INSERT OR REPLACE INTO ct_cache (name, fetched_at, body) VALUES (?1, ?2, ?3)").map_err(&err)?;
            for (n, b) in entries {
                ins.execute(params![n, at, b]).map_err(&err)?;
            }
        }
        tx.commit().map_err(&err)
    }

    /// Per record name (lower case, no final dot), the start of the earliest current dangling
    /// streak among its records as of their last sighting (RFC 3339).
    pub fn dangling_since_by_name(&self) -> Result<HashMap<String, String>, StoreError> {
        let mut out: HashMap<String, String> = HashMap::new();
        if self.schema < AGES {
            return Ok(out);
        }
        let mut stmt = self
            .conn
            .prepare("SELECT c.name, MIN(r.started_at) FROM records c JOIN runs r ON r.id = c.dangling_run WHERE c.dangling_run IS NOT NULL GROUP BY c.name")
            .map_err(self.err())?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))).map_err(self.err())?;
        for row in rows {
            let (name, since) = row.map_err(self.err())?;
            let key = name.trim_end_matches('.').to_ascii_lowercase();
            match out.get_mut(&key) {
                Some(s) if *s <= since => {}
                _ => {
                    out.insert(key, since);
                }
            }
        }
        Ok(out)
    }

    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).map_err(self.err())
    }

    /// The provider's change spec of the record a row of the latest sighting belongs to
    /// ([`dangle_model::DnsRecord::spec`]), if it has one.
    pub fn record_spec(&self, r: &ReportRow) -> Result<Option<String>, StoreError> {
        if self.schema < AGES {
            return Ok(None);
        }
        self.conn
            .query_row(
                "SELECT s.spec FROM record_specs s JOIN records c ON c.id = s.record_id JOIN zones z ON z.id = c.zone_id
                 WHERE z.source = ?1 AND z.account = ?2 AND z.zone = ?3 AND c.name = ?4 AND c.rtype = ?5 AND c.set_id = ?6",
                rusqlite::params![r.source, r.account, r.zone, r.record_name, r.record_type, r.set_id],
                |row| row.get(0),
            )
            .optional()
            .map_err(self.err())
    }

    /// Every run up to `until` (all when none) with its findings by severity, oldest first: at most
    /// the `limit` latest. Runs stored before dangle kept counts are counted from their rows.
    pub fn finding_history(&self, until: Option<i64>, limit: usize) -> Result<Vec<RunPoint>, StoreError> {
        let counts = if self.schema >= AGES { "findings" } else { "NULL" };
        let sql = format!("SELECT id, started_at, {counts} FROM runs WHERE id <= ?1 ORDER BY id DESC LIMIT ?2");
        let mut stmt = self.conn.prepare(&sql).map_err(self.err())?;
        let rows = stmt
            .query_map(rusqlite::params![until.unwrap_or(i64::MAX), limit as i64], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, Option<String>>(2)?)))
            .map_err(self.err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err())?;
        let mut out = Vec::with_capacity(rows.len());
        for (run, started_at, text) in rows.into_iter().rev() {
            let by_severity = match text.as_deref().and_then(parse_findings) {
                Some(c) => c,
                None => self.row_counts(run)?.by_severity,
            };
            out.push(RunPoint { run, started_at, by_severity });
        }
        Ok(out)
    }

    pub fn latest_run(&self) -> Result<Option<i64>, StoreError> {
        self.conn.query_row("SELECT MAX(id) FROM runs", [], |r| r.get(0)).map_err(self.err())
    }

    /// The latest run, or an error that says to scan first.
    pub fn require_latest(&self) -> Result<i64, StoreError> {
        self.latest_run()?.ok_or_else(|| StoreError::Empty { path: self.path.clone() })
    }

    /// The run before `run` that still holds its rows (pruned runs are skipped).
    pub fn previous_run(&self, run: i64) -> Result<Option<i64>, StoreError> {
        let kept = if self.schema >= AGES { "AND pruned_at IS NULL" } else { "" };
        self.conn.query_row(&format!("SELECT MAX(id) FROM runs WHERE id < ?1 {kept}"), [run], |r| r.get(0)).map_err(self.err())
    }

    pub fn run_meta(&self, run: i64) -> Result<RunMeta, StoreError> {
        self.conn
            .query_row(
                &format!(
                    "SELECT id, started_at, finished_at, config, snapshot, tool_version, n_records, n_rows, n_assets, n_gaps, {} FROM runs WHERE id = ?1",
                    if self.schema >= AGES { "stale_days, probing" } else { "NULL, NULL" }
                ),
                [run],
                |r| {
                    Ok(RunMeta {
                        id: r.get(0)?,
                        started_at: r.get(1)?,
                        finished_at: r.get(2)?,
                        config: r.get(3)?,
                        snapshot: r.get(4)?,
                        tool_version: r.get(5)?,
                        records: r.get(6)?,
                        rows: r.get(7)?,
                        assets: r.get(8)?,
                        gaps: r.get(9)?,
                        stale_days: r.get(10)?,
                        probing: r.get(11)?,
                    })
                },
            )
            .optional()
            .map_err(self.err())?
            .ok_or_else(|| StoreError::NoSuchRun { path: self.path.clone(), run })
    }

    /// Runs `sql` with the run id as its one parameter and maps every row.
    fn per_run<T>(&self, sql: &str, run: i64, map: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>) -> Result<Vec<T>, StoreError> {
        let mut stmt = self.conn.prepare(sql).map_err(self.err())?;
        let rows = stmt.query_map([run], map).map_err(self.err())?.collect::<Result<Vec<_>, _>>().map_err(self.err())?;
        Ok(rows)
    }

    /// A run's rows, in the order they were judged, with their probe evidence.
    pub fn rows(&self, run: i64) -> Result<Vec<ReportRow>, StoreError> {
        let mut rows = Vec::new();
        self.each_row(run, Which::All, |r| {
            rows.push(r);
            Ok::<_, StoreError>(())
        })?;
        Ok(rows)
    }

    /// Hands `f` a run's rows one at a time, in the order they were judged, each with its probe
    /// evidence: a report of a million rows never holds them all.
    pub fn each_row<E: From<StoreError>>(&self, run: i64, which: Which, f: impl FnMut(ReportRow) -> Result<(), E>) -> Result<(), E> {
        self.rows_in(run, which, None, f)
    }

    /// The row at position `seq` of a run.
    pub fn row_at(&self, run: i64, seq: u32) -> Result<ReportRow, StoreError> {
        let mut found = None;
        self.rows_in(run, Which::All, Some(seq), |r| {
            found = Some(r);
            Ok::<_, StoreError>(())
        })?;
        found.ok_or_else(|| StoreError::NoSuchRow { path: self.path.clone(), run, seq })
    }

    /// [`Store::each_row`], of the one row at `at` if given.
    fn rows_in<E: From<StoreError>>(&self, run: i64, which: Which, at: Option<u32>, mut f: impl FnMut(ReportRow) -> Result<(), E>) -> Result<(), E> {
        let only = at.map(|seq| format!("AND w.seq = {seq}")).unwrap_or_default();
        let mut stmt = self.conn.prepare(&self.row_query(which, &only, "w.seq")).map_err(self.err())?;
        // The evidence, in the same order: merged with the rows as both cursors advance.
        let only = at.map(|seq| format!("AND rp.seq = {seq}")).unwrap_or_default();
        let mut ev_stmt = self
            .conn
            .prepare(&format!(
                "SELECT rp.seq, p.evidence FROM row_probes rp JOIN probes p ON p.run_id = rp.run_id AND p.id = rp.probe_id
                 WHERE rp.run_id = ?1 {only} ORDER BY rp.seq, rp.probe_id"
            ))
            .map_err(self.err())?;
        let mut evidence = ev_stmt.query_map([run], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))).map_err(self.err())?.peekable();
        let rows = stmt.query_map([run], Self::report_row).map_err(self.err())?;
        for row in rows {
            let (seq, mut row) = row.map_err(self.err())?;
            loop {
                match evidence.peek() {
                    Some(Ok((s, _))) if *s < seq => {
                        evidence.next();
                    }
                    Some(Ok((s, _))) if *s == seq => {
                        if let Some(Ok((_, json))) = evidence.next() {
                            row.probes.push(evidence_value(json));
                        }
                    }
                    Some(Err(_)) => {
                        if let Some(Err(e)) = evidence.next() {
                            return Err(self.err()(e).into());
                        }
                    }
                    _ => break,
                }
            }
            f(row)?;
        }
        Ok(())
    }

    /// The rows query of one run (`?1`), narrowed by `only` (more `AND` terms), in `order`.
    fn row_query(&self, which: Which, only: &str, order: &str) -> String {
        let location = if self.schema >= 3 {
            // The location as of the row's run: the latest move up to it, else where the record has
            // always been (see `insert_records`).
            "COALESCE((SELECT l.location FROM record_locations l WHERE l.record_id = c.id AND l.run_id <= w.run_id ORDER BY l.run_id DESC LIMIT 1), c.location)"
        } else {
            "c.location"
        };
        // Status codes are the enum's order: 2 and up (external, unverified, dangling) are findings.
        let filter = match which {
            Which::All => "",
            Which::Findings => "AND w.status >= 2",
        };
        let claim = if self.schema >= CLAIMS { "w.claim" } else { "NULL" };
        let ct = if self.schema >= CT { "w.ct" } else { "NULL" };
        let (ages, age_joins) = if self.schema >= AGES {
            ("ch.started_at, dg.started_at, rr.stale_days, rr.probing, w.kind", "LEFT JOIN runs ch ON ch.id = w.changed_run LEFT JOIN runs dg ON dg.id = w.dangling_run")
        } else {
            ("NULL, NULL, NULL, NULL, NULL", "")
        };
        format!(
            "SELECT c.name, c.rtype, c.set_id, w.target, z.zone, z.source, z.account, w.status, w.severity, w.claimable, w.reason,
                    w.probe_verdict, w.probe_detail, f.started_at, {location}, w.ttl, a.kind, a.asset_id, w.seq,
                    rr.started_at, {ages}, {claim}, {ct}
             FROM rows w JOIN records c ON c.id = w.record_id JOIN zones z ON z.id = c.zone_id
             JOIN runs f ON f.id = c.first_run JOIN runs rr ON rr.id = w.run_id {age_joins}
             LEFT JOIN assets a ON a.id = w.owner
             WHERE w.run_id = ?1 {filter} {only} ORDER BY {order}"
        )
    }

    /// Walks the rows of two runs together in key order ([`ReportRow::key`]), handing `f` each key's
    /// row in `old` (a run, or none) and in `new`. Memory stays bounded by one row per side: `diff`
    /// of two million-row runs holds only what changed. Of rows sharing a key, the last judged counts.
    /// (Probe evidence is not read: a diff shows verdicts.)
    pub fn merge_rows<E: From<StoreError>>(
        &self,
        old: Option<i64>,
        new: i64,
        mut f: impl FnMut(Option<ReportRow>, Option<ReportRow>) -> Result<(), E>,
    ) -> Result<(), E> {
        // BINARY collation compares bytes, as Rust compares the key's strings.
        let sql = self.row_query(Which::All, "", "z.source, z.account, z.zone, c.name, c.rtype, c.set_id, w.target, w.seq");
        let mut a_stmt = self.conn.prepare(&sql).map_err(self.err())?;
        let mut b_stmt = self.conn.prepare(&sql).map_err(self.err())?;
        // A run id no run has reads as empty.
        type Map = fn(&rusqlite::Row<'_>) -> rusqlite::Result<(i64, ReportRow)>;
        type Rows<'s> = std::iter::Peekable<rusqlite::MappedRows<'s, Map>>;
        let map: Map = Self::report_row;
        let mut a = a_stmt.query_map([old.unwrap_or(-1)], map).map_err(self.err())?.peekable();
        let mut b = b_stmt.query_map([new], map).map_err(self.err())?.peekable();
        fn next_key(it: &mut Rows<'_>) -> rusqlite::Result<Option<ReportRow>> {
            let Some(first) = it.next() else { return Ok(None) };
            let mut row = first?.1;
            while let Some(Ok((_, n))) = it.peek() {
                if n.key_ref() != row.key_ref() {
                    break;
                }
                row = it.next().expect("peeked")?.1;
            }
            Ok(Some(row))
        }
        let (mut x, mut y) = (next_key(&mut a).map_err(self.err())?, next_key(&mut b).map_err(self.err())?);
        loop {
            match (x.take(), y.take()) {
                (None, None) => return Ok(()),
                (Some(o), None) => {
                    f(Some(o), None)?;
                    x = next_key(&mut a).map_err(self.err())?;
                }
                (None, Some(n)) => {
                    f(None, Some(n))?;
                    y = next_key(&mut b).map_err(self.err())?;
                }
                (Some(o), Some(n)) => match o.key_ref().cmp(&n.key_ref()) {
                    std::cmp::Ordering::Less => {
                        f(Some(o), None)?;
                        x = next_key(&mut a).map_err(self.err())?;
                        y = Some(n);
                    }
                    std::cmp::Ordering::Greater => {
                        f(None, Some(n))?;
                        y = next_key(&mut b).map_err(self.err())?;
                        x = Some(o);
                    }
                    std::cmp::Ordering::Equal => {
                        f(Some(o), Some(n))?;
                        x = next_key(&mut a).map_err(self.err())?;
                        y = next_key(&mut b).map_err(self.err())?;
                    }
                },
            }
        }
    }

    /// One row of the query in [`Store::each_row`], with its `seq`.
    fn report_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, ReportRow)> {
        let kind: Option<String> = r.get(16)?;
        let id: Option<String> = r.get(17)?;
        let status = codes::status(r.get(7)?).map_err(|e| e.at(7))?;
        let probe_verdict = codes::verdict(r.get_ref(11)?.as_str().unwrap_or_default()).map_err(|e| e.at(11))?;
        let first_seen: String = r.get(13)?;
        let run_started: String = r.get(19)?;
        let last_changed = r.get::<_, Option<String>>(20)?.unwrap_or_default();
        let ages = Ages::of(status, &run_started, &first_seen, &last_changed, r.get(22)?);
        let claimable = codes::claimable(r.get(9)?).map_err(|e| e.at(9))?;
        let claim = claims::claim_of(r.get(25)?);
        let issued_since = r.get::<_, Option<i64>>(26)?.is_some_and(|n| n > 0);
        let finding = match r.get::<_, Option<i64>>(24)? {
            Some(c) => codes::kind(c).map_err(|e| e.at(24))?,
            None => Kind::guess(status, claimable, probe_verdict, r.get_ref(1)?.as_str().unwrap_or_default(), r.get_ref(10)?.as_str().unwrap_or_default()),
        };
        let row = ReportRow {
            record_name: r.get(0)?,
            record_type: r.get(1)?,
            set_id: r.get(2)?,
            target: r.get(3)?,
            zone: r.get(4)?,
            source: r.get(5)?,
            account: r.get(6)?,
            status,
            severity: codes::severity(r.get(8)?).map_err(|e| e.at(8))?,
            claimable,
            reason: r.get(10)?,
            probe_verdict,
            probe_detail: match (probe_verdict, r.get::<_, String>(12)?) {
                // A row the scan chose not to probe says why (a probe the prober declined says so itself).
                (Verdict::NotProbed, d) if d.is_empty() => {
                    let rtype = r.get_ref(1)?.as_str().unwrap_or_default();
                    let target = r.get_ref(3)?.as_str().unwrap_or_default();
                    crate::reconcile::why_not_probed(status, rtype, target, r.get(23)?).to_string()
                }
                (_, d) => d,
            },
            first_seen,
            location: r.get::<_, Option<String>>(14)?.unwrap_or_default(),
            confidence: Confidence::of(status, probe_verdict, claim, issued_since),
            dangling_since: r.get::<_, Option<String>>(21)?.unwrap_or_default(),
            last_changed,
            age_days: ages.age_days,
            stale: ages.stale,
            kind: finding,
            ttl: r.get(15)?,
            owner: match (kind, id) {
                (Some(k), Some(i)) => format!("{k} {i}"),
                _ => String::new(),
            },
            probes: Vec::new(),
        };
        Ok((r.get(18)?, row))
    }

    /// How many rows of a run have each status, and each severity among findings; whether any row
    /// was probed. One pass in SQL, for reports that do not list every row.
    pub fn row_counts(&self, run: i64) -> Result<RowCounts, StoreError> {
        let mut c = RowCounts::default();
        let groups = self.per_run(
            &format!(
                "SELECT status, severity, probe_verdict, {claim}, {ct}, COUNT(*) FROM rows WHERE run_id = ?1 GROUP BY status, severity, probe_verdict, {claim}, {ct}",
                claim = if self.schema >= CLAIMS { "claim" } else { "NULL" },
                ct = if self.schema >= CT { "ct > 0" } else { "NULL" }
            ),
            run,
            |r| {
                let status = codes::status(r.get(0)?).map_err(|e| e.at(0))?;
                let severity = codes::severity(r.get(1)?).map_err(|e| e.at(1))?;
                let verdict = codes::verdict(r.get_ref(2)?.as_str().unwrap_or_default()).map_err(|e| e.at(2))?;
                let ct = r.get::<_, Option<bool>>(4)?.unwrap_or(false);
                Ok((status, severity, verdict, claims::claim_of(r.get(3)?), ct, r.get::<_, i64>(5)? as usize))
            },
        )?;
        for (status, severity, verdict, claim, ct, n) in groups {
            c.by_status[status as usize] += n;
            if status.is_finding() {
                c.by_severity[severity as usize] += n;
                c.by_confidence[severity as usize][Confidence::of(status, verdict, claim, ct) as usize] += n;
            }
        }
        c.probed = self
            .conn
            .query_row("SELECT EXISTS (SELECT 1 FROM rows WHERE run_id = ?1 AND probe_verdict != 'not_probed')", [run], |r| r.get(0))
            .map_err(self.err())?;
        Ok(c)
    }

    /// Every record name the store has seen in `zone`, with the last run that saw each (what a scan
    /// compares its inventory with to find deleted names a wildcard answers for). One pass over the
    /// zone's records, by the (zone, name, type, set) index.
    pub fn names_in_zone(&self, zone: &str) -> Result<Vec<(String, i64)>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT c.name, MAX(c.last_run) FROM records c JOIN zones z ON z.id = c.zone_id WHERE z.zone = ?1 GROUP BY c.name")
            .map_err(self.err())?;
        let rows = stmt.query_map(params![zone], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))).map_err(self.err())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.err())
    }

    /// Every certificate baseline, by name.
    pub fn baselines(&self) -> Result<HashMap<String, Baseline>, StoreError> {
        let mut out = HashMap::new();
        if self.schema < BASELINES {
            return Ok(out);
        }
        let mut stmt = self.conn.prepare("SELECT name, spki, issuer, ca_names, alpn, not_after, first_run, changed_run FROM baselines").map_err(self.err())?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Baseline {
                    name: r.get(0)?,
                    spki: r.get(1)?,
                    issuer: r.get(2)?,
                    ca_names: r.get(3)?,
                    alpn: r.get(4)?,
                    not_after: r.get(5)?,
                    first_run: Some(r.get(6)?),
                    changed_run: Some(r.get(7)?),
                })
            })
            .map_err(self.err())?;
        for b in rows {
            let b = b.map_err(self.err())?;
            out.insert(b.name.clone(), b);
        }
        Ok(out)
    }

    /// The certificate baseline findings of a run, worst first.
    pub fn name_findings(&self, run: i64) -> Result<Vec<NameFinding>, StoreError> {
        if self.schema < BASELINES {
            return Ok(Vec::new());
        }
        let mut out = self.per_run("SELECT name, address, kind, severity, detail FROM name_findings WHERE run_id = ?1 ORDER BY seq", run, |r| {
            let kind = codes::name_kind(r.get_ref(2)?.as_str().unwrap_or_default()).map_err(|e| e.at(2))?;
            Ok(NameFinding { name: r.get(0)?, address: r.get(1)?, kind, severity: codes::severity(r.get(3)?).map_err(|e| e.at(3))?, detail: r.get(4)? })
        })?;
        out.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.name.cmp(&b.name)).then_with(|| a.kind.cmp(&b.kind)));
        Ok(out)
    }

    /// The named targets' results of a run, in config order.
    pub fn named_probes(&self, run: i64) -> Result<Vec<NamedProbeRow>, StoreError> {
        let named = self.per_run("SELECT target, sni, verdict, detail, probe_ids FROM named_probes WHERE run_id = ?1 ORDER BY seq", run, |r| {
            let verdict = codes::verdict(&r.get::<_, String>(2)?).map_err(|e| e.at(2))?;
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, verdict, r.get::<_, String>(3)?, r.get::<_, String>(4)?))
        })?;
        let mut stmt = self.conn.prepare("SELECT evidence FROM probes WHERE run_id = ?1 AND id = ?2").map_err(self.err())?;
        let mut out = Vec::with_capacity(named.len());
        for (target, sni, verdict, detail, ids) in named {
            let mut probes = Vec::new();
            for id in ids.split_whitespace().filter_map(|i| i.parse::<i64>().ok()) {
                let json: String = stmt.query_row(rusqlite::params![run, id], |r| r.get(0)).map_err(self.err())?;
                probes.push(evidence_value(json));
            }
            out.push(NamedProbeRow { target, sni, verdict, detail, probes });
        }
        Ok(out)
    }

    pub fn assets(&self, run: i64) -> Result<Vec<AssetRow>, StoreError> {
        let mut out = Vec::new();
        self.each_asset(run, |a| {
            out.push(a);
            Ok::<_, StoreError>(())
        })?;
        Ok(out)
    }

    /// Hands `f` a run's assets one at a time, in assets.csv order.
    pub fn each_asset<E: From<StoreError>>(&self, run: i64, mut f: impl FnMut(AssetRow) -> Result<(), E>) -> Result<(), E> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT a.kind, a.asset_id, a.source, a.account, ra.region, ra.ips, ra.hosts, f.started_at
                 FROM run_assets ra JOIN assets a ON a.id = ra.asset_ref JOIN runs f ON f.id = a.first_run
                 WHERE ra.run_id = ?1 ORDER BY a.kind, a.asset_id, a.source, a.account",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map([run], |r| {
                Ok(AssetRow {
                    kind: r.get(0)?,
                    id: r.get(1)?,
                    source: r.get(2)?,
                    account: r.get(3)?,
                    region: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                    ips: r.get(5)?,
                    hosts: r.get(6)?,
                    first_seen: r.get(7)?,
                })
            })
            .map_err(self.err())?;
        for a in rows {
            f(a.map_err(self.err())?)?;
        }
        Ok(())
    }

    pub fn gaps(&self, run: i64) -> Result<Vec<GapRow>, StoreError> {
        self.per_run("SELECT source, account, region, service, error FROM gaps WHERE run_id = ?1 ORDER BY rowid", run, |r| {
            Ok(GapRow {
                source: r.get(0)?,
                account: r.get(1)?,
                region: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                service: r.get(3)?,
                error: r.get(4)?,
            })
        })
    }

    /// `PRAGMA integrity_check` passes and every run holds exactly the rows it says it has.
    pub fn verify(&self) -> Result<Vec<String>, StoreError> {
        let mut problems = Vec::new();
        let ok: String = self.conn.query_row("PRAGMA integrity_check", [], |r| r.get(0)).map_err(self.err())?;
        if ok != "ok" {
            problems.push(format!("integrity_check: {ok}"));
        }
        let mut fk = self.conn.prepare("PRAGMA foreign_key_check").map_err(self.err())?;
        let broken: Vec<String> = fk
            .query_map([], |r| {
                let row = r.get::<_, Option<i64>>(1)?.map_or("without rowid".to_string(), |id| id.to_string());
                Ok(format!("{} row {row} -> {}", r.get::<_, String>(0)?, r.get::<_, String>(2)?))
            })
            .map_err(self.err())?
            .collect::<Result<_, _>>()
            .map_err(self.err())?;
        problems.extend(broken.into_iter().map(|b| format!("foreign key: {b}")));
        for (sql, what) in [
            ("SELECT COUNT(*) FROM rows w LEFT JOIN records c ON c.id = w.record_id WHERE c.id IS NULL", "rows without their record"),
            ("SELECT COUNT(*) FROM rows w LEFT JOIN assets a ON a.id = w.owner WHERE w.owner IS NOT NULL AND a.id IS NULL", "rows whose owner is missing"),
            ("SELECT COUNT(*) FROM run_assets ra LEFT JOIN assets a ON a.id = ra.asset_ref WHERE a.id IS NULL", "run assets without their asset"),
            (
                "SELECT COUNT(*) FROM row_probes rp LEFT JOIN probes p ON p.run_id = rp.run_id AND p.id = rp.probe_id WHERE p.id IS NULL",
                "row probes without their evidence",
            ),
            (
                "SELECT COUNT(*) FROM row_probes rp LEFT JOIN rows w ON w.run_id = rp.run_id AND w.seq = rp.seq WHERE w.seq IS NULL",
                "row probes without their row",
            ),
        ] {
            let n: i64 = self.conn.query_row(sql, [], |r| r.get(0)).map_err(self.err())?;
            if n > 0 {
                problems.push(format!("{n} {what}"));
            }
        }
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT r.id, r.n_rows, (SELECT COUNT(*) FROM rows w WHERE w.run_id = r.id) FROM runs r {}",
                if self.schema >= AGES { "WHERE r.pruned_at IS NULL" } else { "" }
            ))
            .map_err(self.err())?;
        let runs = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, i64>(2)?)))
            .map_err(self.err())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err())?;
        for (id, want, have) in runs {
            if want != have {
                problems.push(format!("run {id} says {want} rows, holds {have}"));
            }
        }
        Ok(problems)
    }
}

/// Small integer codes for the enums stored per row. A code this build does not know (a newer
/// dangle's, or a damaged store) is an error naming it, never clamped to a valid value.
mod codes {
    use super::{Claimable, Severity, Status, Verdict};

    /// A stored value no enum variant has.
    #[derive(Debug)]
    pub struct UnknownCode {
        what: &'static str,
        value: String,
    }

    impl std::fmt::Display for UnknownCode {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "a row holds {} `{}`, which this dangle does not know (written by a newer version, or the store is damaged)", self.what, self.value)
        }
    }

    impl std::error::Error for UnknownCode {}

    impl UnknownCode {
        /// As the row decoder reports it: column `col`.
        pub fn at(self, col: usize) -> rusqlite::Error {
            rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, Box::new(self))
        }
    }

    fn unknown(what: &'static str, value: impl ToString) -> UnknownCode {
        UnknownCode { what, value: value.to_string() }
    }

    const STATUSES: [Status; 5] = [Status::NoTarget, Status::Owned, Status::External, Status::Unverified, Status::Dangling];
    const CLAIMABLE: [Claimable; 3] = [Claimable::Yes, Claimable::No, Claimable::Unknown];

    pub fn status_code(s: Status) -> i64 {
        s as i64
    }
    pub fn status(c: i64) -> Result<Status, UnknownCode> {
        usize::try_from(c).ok().and_then(|i| STATUSES.get(i).copied()).ok_or_else(|| unknown("status code", c))
    }
    pub fn severity_code(s: Severity) -> i64 {
        s as i64
    }
    pub fn severity(c: i64) -> Result<Severity, UnknownCode> {
        usize::try_from(c).ok().and_then(|i| Severity::ALL.get(i).copied()).ok_or_else(|| unknown("severity code", c))
    }
    pub fn claimable_code(c: Claimable) -> i64 {
        match c {
            Claimable::Yes => 0,
            Claimable::No => 1,
            Claimable::Unknown => 2,
        }
    }
    pub fn claimable(c: i64) -> Result<Claimable, UnknownCode> {
        usize::try_from(c).ok().and_then(|i| CLAIMABLE.get(i).copied()).ok_or_else(|| unknown("claimable code", c))
    }
    pub fn kind(c: i64) -> Result<super::Kind, UnknownCode> {
        super::Kind::from_code(c).ok_or_else(|| unknown("finding kind code", c))
    }
    pub fn verdict(s: &str) -> Result<Verdict, UnknownCode> {
        Verdict::parse(s).ok_or_else(|| unknown("probe verdict", dangle_model::excerpt(s)))
    }
    pub fn name_kind(s: &str) -> Result<super::NameKind, UnknownCode> {
        super::NameKind::parse(s).ok_or_else(|| unknown("certificate finding kind", dangle_model::excerpt(s)))
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        #[test]
        fn codes_round_trip() {
            for s in STATUSES {
                assert_eq!(status(status_code(s)).unwrap(), s);
            }
            for s in Severity::ALL {
                assert_eq!(severity(severity_code(s)).unwrap(), s);
            }
            for c in CLAIMABLE {
                assert_eq!(claimable(claimable_code(c)).unwrap(), c);
            }
            for v in Verdict::ALL {
                assert_eq!(verdict(v.as_str()).unwrap(), v);
            }
        }

        #[test]
        fn unknown_codes_are_errors_not_clamped() {
            assert!(status(5).is_err() && status(-1).is_err());
            assert!(severity(5).is_err());
            assert!(claimable(3).is_err());
            let e = verdict("maybe").unwrap_err().to_string();
            assert_eq!(e, "a row holds probe verdict `maybe`, which this dangle does not know (written by a newer version, or the store is damaged)");
        }
    }
}

/// FNV-1a (64-bit) of `parts` in order: a hash that is the same in every build and on every machine
/// (the standard library's is seeded), for what is stored or published and compared later.
pub fn stable_hash<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// `file:PATH?immutable=1`, with the characters a URI path may not hold percent-encoded.
fn immutable_uri(path: &Path) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = String::from("file:");
    for b in abs.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out.push_str("?immutable=1");
    out
}

/// Stored probe evidence (JSON) as reports show it; text that is not JSON stays text.
pub(crate) fn evidence_value(json: String) -> serde_json::Value {
    serde_json::from_str(&json).unwrap_or(serde_json::Value::String(json))
}

fn join<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join(" ")
}

/// An asset's addresses as the store and assets.csv hold them, as people write them (a single address
/// without its `/32` or `/128`, a block with its prefix), space-separated, appended to `out` (a
/// million assets: no allocation per address).
pub fn push_nets(out: &mut String, nets: &[ipnet::IpNet]) {
    use std::fmt::Write as _;
    for (i, net) in nets.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        match net.addr() {
            std::net::IpAddr::V4(v4) => push_ipv4(out, v4),
            v6 => {
                let _ = write!(out, "{v6}");
            }
        }
        if net.prefix_len() != net.max_prefix_len() {
            let _ = write!(out, "/{}", net.prefix_len());
        }
    }
}

/// Dotted decimal, as `Ipv4Addr`'s `Display` writes it, without the formatter per octet.
fn push_ipv4(out: &mut String, ip: std::net::Ipv4Addr) {
    for (i, o) in ip.octets().into_iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        if o >= 100 {
            out.push(char::from(b'0' + o / 100));
        }
        if o >= 10 {
            out.push(char::from(b'0' + o / 10 % 10));
        }
        out.push(char::from(b'0' + o % 10));
    }
}

/// An asset's host names, space-separated, appended to `out`.
pub fn push_hosts(out: &mut String, hosts: &[DnsName]) {
    for (i, h) in hosts.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(h.as_str());
    }
}

#[cfg(test)]
mod tests;

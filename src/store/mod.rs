//! Every run, in SQLite (a file, the default) or PostgreSQL (a server many runners share): runs,
//! records (first / last seen), per-run judgement rows, assets (first / last seen) with their per-run
//! addresses, and gaps. The queries are written once against [`db::Engine`]; the same migrations
//! build both (SQLite's version in `PRAGMA user_version`, PostgreSQL's in `dangle_schema`); a run is
//! written in one transaction, so a process killed mid-run leaves the earlier runs intact and no half run.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use dangle_model::{Asset, CoverageGap, DnsName, DnsRecord, Verdict};
use std::collections::HashMap;

use serde::Serialize;

use db::postgres::Postgres;
use db::{vals, DbError, Engine, Load, Row};
pub use db::Dialect;

use crate::reconcile::{Claimable, Confidence, Explainer, Former, History, Judgement, Kind, Severity, Status};

mod baseline;
mod claims;
pub(crate) mod db;
mod outbox;
mod probes;
mod prune;
mod shards;
mod write;

pub use crate::time::{format_unix, now_rfc3339};
pub use baseline::{Baseline, NameFinding, NameKind};
pub use claims::{Claims, RowClaim, RowCt};
pub use outbox::Pending;
pub use prune::Pruned;
pub use shards::{ShardInput, ShardInventory, ShardMeta};
pub use probes::{EvidenceJson, NamedProbe, Probes, RowProbe};
pub use write::{FirstSeen, RecordDates, RunWriter};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The engine's own words (SQLite's or PostgreSQL's), once.
    #[error("store {}: {message}", path.display())]
    Db { path: PathBuf, message: String },
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
/// interleave, and the second judges with the first one's run in its history. On SQLite an advisory
/// lock on `STORE.lock`, on PostgreSQL a session advisory lock on a connection of its own; the kernel
/// or the server drops it when the process dies, so a killed scan never leaves it stuck. The SQLite
/// holder writes its pid and start time into the file, the PostgreSQL one into its application name,
/// so a scan that gives up can say who holds it.
pub struct RunLock {
    _held: Held,
}

enum Held {
    File { _file: std::fs::File },
    Server { _session: Box<Postgres> },
}

impl std::fmt::Debug for RunLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RunLock")
    }
}

impl RunLock {
    /// Takes the lock of the store at `at`, waiting up to `timeout` for a scan that holds it.
    pub fn acquire(at: impl Into<Location>, timeout: std::time::Duration) -> Result<Self, StoreError> {
        let at = at.into();
        match &at {
            Location::Sqlite(path) => Self::file(path, timeout),
            Location::Postgres { .. } => {
                let pg = at.connect()?;
                let path = at.shown();
                let lock = PathBuf::from(format!("advisory lock {}", db::postgres::RUN_LOCK));
                let e = |e: DbError| StoreError::Db { path: path.clone(), message: e.message };
                if pg.try_lock(db::postgres::RUN_LOCK, std::time::Duration::ZERO).map_err(e)? {
                    return Ok(Self { _held: Held::Server { _session: Box::new(pg) } });
                }
                let holder = pg.lock_holder(db::postgres::RUN_LOCK);
                let by = holder.trim_end_matches("; ");
                let by = if by.is_empty() { String::new() } else { format!(" ({by})") };
                tracing::warn!("store {}: another scan is running{by}; waiting for it (up to {} s)", path.display(), timeout.as_secs());
                if pg.try_lock(db::postgres::RUN_LOCK, timeout).map_err(e)? {
                    return Ok(Self { _held: Held::Server { _session: Box::new(pg) } });
                }
                Err(StoreError::Locked { holder: pg.lock_holder(db::postgres::RUN_LOCK), path, lock, waited: timeout.as_secs() })
            }
        }
    }

    fn file(path: &Path, timeout: std::time::Duration) -> Result<Self, StoreError> {
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
                    return Ok(Self { _held: Held::File { _file: file } });
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
"#];

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

/// The oldest schema a read-only command can read without migrating it (schema 2 lacks only the
/// per-run locations: its rows show each record's latest location).
const OLDEST_READABLE: i64 = 2;

/// Shares the strings a store's rows repeat by the thousand (sources, accounts, regions, dates) as one
/// allocation each.
#[derive(Default)]
pub(crate) struct Interner(HashMap<String, Arc<str>>);

impl Interner {
    pub(crate) fn get(&mut self, s: &str) -> Arc<str> {
        if let Some(v) = self.0.get(s) {
            return v.clone();
        }
        let v: Arc<str> = Arc::from(s);
        self.0.insert(s.to_string(), v.clone());
        v
    }
}

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
    db: Box<dyn Engine>,
    at: Location,
    /// Where the store is, as errors name it (a path, or a URL without a password).
    path: PathBuf,
    /// Held by a store a scan writes (see [`RunLock`]).
    run_lock: Option<RunLock>,
    /// The schema version the store holds (a read-only open never migrates).
    schema: i64,
}

/// Where a store lives: an SQLite file (the default), or a PostgreSQL database shared by many runners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Sqlite(PathBuf),
    /// `postgres://…`: the password comes from `PGPASSWORD` or `password_file`, never the URL.
    Postgres { url: String, password_file: Option<PathBuf> },
}

impl Location {
    /// `db` as the config or `--db` gives it: a `postgres://` (or `postgresql://`) URL, else a path.
    pub fn new(db: &Path, password_file: Option<&Path>) -> Self {
        match db.to_str() {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Location::Postgres { url: url.to_string(), password_file: password_file.map(Path::to_path_buf) }
            }
            _ => Location::Sqlite(db.to_path_buf()),
        }
    }

    /// As errors and logs name it: a password someone put in the URL (which the store refuses)
    /// shows as `***`.
    pub fn shown(&self) -> PathBuf {
        match self {
            Location::Sqlite(p) => p.clone(),
            Location::Postgres { url, .. } => PathBuf::from(redacted(url)),
        }
    }

    fn connect(&self) -> Result<Postgres, StoreError> {
        match self {
            Location::Postgres { url, password_file } => {
                Postgres::connect(url, password_file.as_deref()).map_err(|e| StoreError::Db { path: self.shown(), message: e.message })
            }
            Location::Sqlite(p) => Err(StoreError::Db { path: p.clone(), message: "not a PostgreSQL store".into() }),
        }
    }
}

/// `url` with the password of its user part (`user:PASSWORD@`) and of a `password=` parameter masked.
fn redacted(url: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let mut out = match base.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((user, host)) if user.contains(':') => format!("{scheme}://{}:***@{host}", user.split(':').next().unwrap_or_default()),
            _ => base.to_string(),
        },
        None => base.to_string(),
    };
    if let Some(q) = query {
        let q: Vec<String> = q.split('&').map(|p| if p.starts_with("password=") { "password=***".to_string() } else { p.to_string() }).collect();
        out.push('?');
        out.push_str(&q.join("&"));
    }
    out
}

impl From<&Path> for Location {
    fn from(p: &Path) -> Self {
        Location::new(p, None)
    }
}

impl From<&PathBuf> for Location {
    fn from(p: &PathBuf) -> Self {
        Location::new(p, None)
    }
}

impl From<&Location> for Location {
    fn from(l: &Location) -> Self {
        l.clone()
    }
}

impl Store {
    /// Opens (creating if needed) the store at `at` and brings its schema up to date.
    pub fn open(at: impl Into<Location>) -> Result<Self, StoreError> {
        let at = at.into();
        let path = at.shown();
        let e = |e: DbError| StoreError::Db { path: at.shown(), message: e.message };
        let known = MIGRATIONS.len() as i64;
        let db: Box<dyn Engine> = match &at {
            Location::Sqlite(p) => {
                let s = db::sqlite::Sqlite::open(p).map_err(e)?;
                // Refuse a newer store before changing anything in it (page size, journal mode).
                let found = s.schema_version().map_err(e)?;
                if found > known {
                    return Err(StoreError::TooNew { path, found, known });
                }
                s.tune().map_err(e)?;
                Box::new(s)
            }
            Location::Postgres { .. } => Box::new(at.connect()?),
        };
        let mut s = Self { db, at, path, run_lock: None, schema: known };
        s.migrate()?;
        Ok(s)
    }

    /// Takes the run lock (waiting up to `timeout` for a scan that holds it), then opens the store
    /// for writing: a fresh store is created and migrated by one scan only.
    pub fn open_for_run(at: impl Into<Location>, timeout: std::time::Duration) -> Result<Self, StoreError> {
        let at = at.into();
        let lock = RunLock::acquire(&at, timeout)?;
        let mut s = Self::open(at)?;
        s.run_lock = Some(lock);
        Ok(s)
    }

    /// The run lock this store holds (from [`Store::open_for_run`]), else a freshly taken one: the
    /// caller holds it for the scan and drops it when the run is stored.
    pub fn take_run_lock(&mut self, timeout: std::time::Duration) -> Result<RunLock, StoreError> {
        match self.run_lock.take() {
            Some(l) => Ok(l),
            None => RunLock::acquire(&self.at, timeout),
        }
    }

    /// Opens a store that must exist already, read-only (reports, diffs, checklists): nothing in the
    /// store changes — no migration, no journal-mode switch; an SQLite store works in a read-only
    /// folder, a PostgreSQL session is read-only.
    pub fn open_existing(at: impl Into<Location>) -> Result<Self, StoreError> {
        let at = at.into();
        let path = at.shown();
        let e = |e: DbError| StoreError::Db { path: at.shown(), message: e.message };
        let db: Box<dyn Engine> = match &at {
            Location::Sqlite(p) => {
                if !p.exists() {
                    return Err(StoreError::Missing { path });
                }
                Box::new(db::sqlite::Sqlite::open_read_only(p).map_err(|(m, _)| e(m))?)
            }
            Location::Postgres { .. } => {
                let pg = at.connect()?;
                pg.batch("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY").map_err(e)?;
                Box::new(pg)
            }
        };
        let found = db.schema_version().map_err(e)?;
        let known = MIGRATIONS.len() as i64;
        if found > known {
            return Err(StoreError::TooNew { path, found, known });
        }
        if found == 0 {
            return Err(StoreError::Empty { path });
        }
        if found < OLDEST_READABLE {
            return Err(StoreError::TooOld { path, found });
        }
        Ok(Self { db, at, path, run_lock: None, schema: found })
    }

    /// Where the store is, as errors name it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Where the store is, to open it again.
    pub fn location(&self) -> &Location {
        &self.at
    }

    /// The engine the store runs on.
    pub fn dialect(&self) -> Dialect {
        self.db.dialect()
    }

    fn err(&self) -> impl Fn(DbError) -> StoreError + '_ {
        move |e| StoreError::Db { path: self.path.clone(), message: e.message }
    }

    /// How a read that hands rows to a caller's `f` ended: `f`'s own error when it stopped the read
    /// (`stopped`), else the engine's, else done.
    fn ended<E: From<StoreError>>(&self, stopped: Option<E>, done: db::Result<()>) -> Result<(), E> {
        match (stopped, done) {
            (Some(e), _) => Err(e),
            (None, Err(e)) => Err(self.err()(e).into()),
            (None, Ok(())) => Ok(()),
        }
    }

    /// Brings the schema up to date in one transaction. On PostgreSQL a transaction-level advisory
    /// lock makes runners that start together on a new database migrate it once, one after another.
    fn migrate(&mut self) -> Result<(), StoreError> {
        let db = &*self.db;
        let e = |e: DbError| StoreError::Db { path: self.path.clone(), message: e.message };
        let known = MIGRATIONS.len() as i64;
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
                    write::backfill_ages(db)?;
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

    /// The last run that saw each row of `alias` (`records` / `assets` under that name), as SQL: the
    /// store's latest run for a row it saw ([`SEEN_LATEST`]), else `last_run`.
    pub(crate) fn last_sighting(&self, alias: &str) -> Result<String, StoreError> {
        if self.schema < SEEN_LATEST {
            return Ok(format!("{alias}.last_run"));
        }
        let latest = self.db.int("SELECT MAX(id) FROM runs", &[]).map_err(self.err())?.unwrap_or(0);
        Ok(format!("(CASE WHEN {alias}.seen_latest = 1 THEN {latest} ELSE {alias}.last_run END)"))
    }

    /// What earlier runs held: each asset's last sighting, most recent first.
    pub fn history(&self) -> Result<History, StoreError> {
        let last = self.last_sighting("a")?;
        let mut h = History::default();
        // Sources, regions and dates repeat across thousands of assets: share them.
        let mut shared = Interner::default();
        let mut intern = |s: &str| shared.get(s);
        self.db
            .each(
                &format!(
                    "SELECT r.id, r.started_at, a.kind, a.asset_id, a.source, ra.region, ra.ips, ra.hosts
                     FROM assets a JOIN run_assets ra ON ra.run_id = {last} AND ra.asset_ref = a.id
                     JOIN runs r ON r.id = ra.run_id ORDER BY r.id DESC, a.id"
                ),
                &[],
                &mut |row| {
                    let started = row.str(1)?;
                    let former = Former {
                        run: row.i64(0)?,
                        date: intern(started.get(..10).unwrap_or(started)),
                        kind: row.str(2)?.parse().unwrap_or_else(|e| match e {}),
                        id: row.str(3)?.into(),
                        source: intern(row.str(4)?),
                        region: row.text(5)?.map(&mut intern),
                    };
                    let ips: Vec<ipnet::IpNet> = row.str(6)?.split_whitespace().filter_map(|s| dangle_model::parse_ip_or_cidr(s).ok()).collect();
                    let hosts: Vec<DnsName> = row.str(7)?.split_whitespace().filter_map(|s| DnsName::parse(s).ok()).collect();
                    h.add(former, &ips, &hosts);
                    Ok(())
                },
            )
            .map_err(self.err())?;
        Ok(h)
    }

    /// Certificate Transparency answers cached for `names`, fetched at or after `since` (Unix
    /// seconds): name → the search's JSON.
    pub fn ct_cached(&self, names: &[String], since: i64) -> Result<HashMap<String, String>, StoreError> {
        let mut out = HashMap::new();
        if self.schema < CT {
            return Ok(out);
        }
        for n in names {
            let body = self.db.one("SELECT body FROM ct_cache WHERE name = ?1 AND fetched_at >= ?2", vals![n, since], |r| r.string(0)).map_err(self.err())?;
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
        // One row per name (the last answer counts): PostgreSQL refuses to upsert one key twice at once.
        let mut last: HashMap<&str, &str> = HashMap::new();
        for (n, b) in entries {
            last.insert(n, b);
        }
        self.in_transaction(|db| {
            db.load("ct_cache", &["name", "fetched_at", "body"], Load::Upsert { key: &["name"] }, &mut |sink| {
                for (n, b) in &last {
                    sink.row(vals![*n, at, *b])?;
                }
                Ok(())
            })
            .map(|_| ())
        })
    }

    /// Runs `f` in one transaction: committed when it succeeds, rolled back when it fails.
    fn in_transaction<T>(&self, f: impl FnOnce(&dyn Engine) -> db::Result<T>) -> Result<T, StoreError> {
        let db = &*self.db;
        db.begin().map_err(self.err())?;
        match f(db) {
            Ok(v) => {
                db.commit().map_err(self.err())?;
                Ok(v)
            }
            Err(e) => {
                let _ = db.rollback();
                Err(self.err()(e))
            }
        }
    }

    /// Per record name (lower case, no final dot), the start of the earliest current dangling
    /// streak among its records as of their last sighting (RFC 3339).
    pub fn dangling_since_by_name(&self) -> Result<HashMap<String, String>, StoreError> {
        let mut out: HashMap<String, String> = HashMap::new();
        if self.schema < AGES {
            return Ok(out);
        }
        let rows = self
            .db
            .all(
                "SELECT c.name, MIN(r.started_at) FROM records c JOIN runs r ON r.id = c.dangling_run WHERE c.dangling_run IS NOT NULL GROUP BY c.name",
                &[],
                |r| Ok((r.string(0)?, r.string(1)?)),
            )
            .map_err(self.err())?;
        for (name, since) in rows {
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

    /// Folds SQLite's write-ahead log into the database file (after a run; readers are never
    /// blocked). PostgreSQL checkpoints on its own.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        match self.db.dialect() {
            Dialect::Sqlite => self.db.one("PRAGMA wal_checkpoint(TRUNCATE)", &[], |_| Ok(())).map(|_| ()).map_err(self.err()),
            Dialect::Postgres => Ok(()),
        }
    }

    /// The provider's change spec of the record a row of the latest sighting belongs to
    /// ([`dangle_model::DnsRecord::spec`]), if it has one.
    pub fn record_spec(&self, r: &ReportRow) -> Result<Option<String>, StoreError> {
        if self.schema < AGES {
            return Ok(None);
        }
        self.db
            .one(
                "SELECT s.spec FROM record_specs s JOIN records c ON c.id = s.record_id JOIN zones z ON z.id = c.zone_id
                 WHERE z.source = ?1 AND z.account = ?2 AND z.zone = ?3 AND c.name = ?4 AND c.rtype = ?5 AND c.set_id = ?6",
                vals![&r.source, &r.account, &r.zone, &r.record_name, &r.record_type, &r.set_id],
                |row| row.string(0),
            )
            .map_err(self.err())
    }

    /// Every run up to `until` (all when none) with its findings by severity, oldest first: at most
    /// the `limit` latest. Runs stored before dangle kept counts are counted from their rows.
    pub fn finding_history(&self, until: Option<i64>, limit: usize) -> Result<Vec<RunPoint>, StoreError> {
        let counts = if self.schema >= AGES { "findings" } else { "NULL" };
        let sql = format!("SELECT id, started_at, {counts} FROM runs WHERE id <= ?1 ORDER BY id DESC LIMIT ?2");
        let rows = self
            .db
            .all(&sql, vals![until.unwrap_or(i64::MAX), limit as i64], |r| Ok((r.i64(0)?, r.string(1)?, r.opt_string(2)?)))
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
        self.db.int("SELECT MAX(id) FROM runs", &[]).map_err(self.err())
    }

    /// The latest run, or an error that says to scan first.
    pub fn require_latest(&self) -> Result<i64, StoreError> {
        self.latest_run()?.ok_or_else(|| StoreError::Empty { path: self.path.clone() })
    }

    /// The run before `run` that still holds its rows (pruned runs are skipped).
    pub fn previous_run(&self, run: i64) -> Result<Option<i64>, StoreError> {
        let kept = if self.schema >= AGES { "AND pruned_at IS NULL" } else { "" };
        self.db.int(&format!("SELECT MAX(id) FROM runs WHERE id < ?1 {kept}"), vals![run]).map_err(self.err())
    }

    pub fn run_meta(&self, run: i64) -> Result<RunMeta, StoreError> {
        self.db
            .one(
                &format!(
                    "SELECT id, started_at, finished_at, config, snapshot, tool_version, n_records, n_rows, n_assets, n_gaps, {} FROM runs WHERE id = ?1",
                    if self.schema >= AGES { "stale_days, probing" } else { "NULL, NULL" }
                ),
                vals![run],
                |r| {
                    Ok(RunMeta {
                        id: r.i64(0)?,
                        started_at: r.string(1)?,
                        finished_at: r.string(2)?,
                        config: r.string(3)?,
                        snapshot: r.string(4)?,
                        tool_version: r.string(5)?,
                        records: r.i64(6)?,
                        rows: r.i64(7)?,
                        assets: r.i64(8)?,
                        gaps: r.i64(9)?,
                        stale_days: r.opt_i64(10)?,
                        probing: r.bool(11)?,
                    })
                },
            )
            .map_err(self.err())?
            .ok_or_else(|| StoreError::NoSuchRun { path: self.path.clone(), run })
    }

    /// Runs `sql` with the run id as its one parameter and maps every row.
    fn per_run<T>(&self, sql: &str, run: i64, map: impl FnMut(&dyn Row) -> db::Result<T>) -> Result<Vec<T>, StoreError> {
        self.db.all(sql, vals![run], map).map_err(self.err())
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
        let rows_sql = self.row_query(which, &only, "w.seq");
        // The evidence, in the same order: merged with the rows as both cursors advance.
        let only = at.map(|seq| format!("AND rp.seq = {seq}")).unwrap_or_default();
        let ev_sql = format!(
            "SELECT rp.seq, p.evidence FROM row_probes rp JOIN probes p ON p.run_id = rp.run_id AND p.id = rp.probe_id
             WHERE rp.run_id = ?1 {only} ORDER BY rp.seq, rp.probe_id"
        );
        let mut stopped: Option<E> = None;
        let done = self.db.two((&rows_sql, vals![run]), (&ev_sql, vals![run]), &mut |rows, evidence| {
            let mut next: Option<(i64, String)> = None;
            let mut evidence_done = false;
            while let Some(r) = rows.next()? {
                let (seq, mut row) = Self::report_row(r)?;
                loop {
                    if next.is_none() && !evidence_done {
                        match evidence.next()? {
                            Some(e) => next = Some((e.i64(0)?, e.string(1)?)),
                            None => evidence_done = true,
                        }
                    }
                    match next.take() {
                        Some((s, _)) if s < seq => {}
                        Some((s, json)) if s == seq => row.probes.push(evidence_value(json)),
                        other => {
                            next = other;
                            break;
                        }
                    }
                }
                if let Err(e) = f(row) {
                    stopped = Some(e);
                    return Err(DbError::stop());
                }
            }
            Ok(())
        });
        self.ended(stopped, done)
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
        // Both engines compare text byte by byte (SQLite's BINARY collation, PostgreSQL's "C"), as
        // Rust compares the key's strings.
        let sql = self.row_query(Which::All, "", "z.source, z.account, z.zone, c.name, c.rtype, c.set_id, w.target, w.seq");
        /// One side: the row read ahead, and whether the cursor is done.
        struct Side {
            ahead: Option<ReportRow>,
            done: bool,
        }
        impl Side {
            /// The next key's row (the last of the rows sharing it).
            fn next_key(&mut self, c: &mut dyn db::Cursor) -> db::Result<Option<ReportRow>> {
                let mut row = match self.ahead.take() {
                    Some(r) => r,
                    None => match self.read(c)? {
                        Some(r) => r,
                        None => return Ok(None),
                    },
                };
                while let Some(n) = self.read(c)? {
                    if n.key_ref() != row.key_ref() {
                        self.ahead = Some(n);
                        break;
                    }
                    row = n;
                }
                Ok(Some(row))
            }

            fn read(&mut self, c: &mut dyn db::Cursor) -> db::Result<Option<ReportRow>> {
                if self.done {
                    return Ok(None);
                }
                match c.next()? {
                    Some(r) => Ok(Some(Store::report_row(r)?.1)),
                    None => {
                        self.done = true;
                        Ok(None)
                    }
                }
            }
        }
        let mut stopped: Option<E> = None;
        let mut call = |o: Option<ReportRow>, n: Option<ReportRow>| match f(o, n) {
            Ok(()) => Ok(()),
            Err(e) => {
                stopped = Some(e);
                Err(DbError::stop())
            }
        };
        // A run id no run has reads as empty.
        let done = self.db.two((&sql, vals![old.unwrap_or(-1)]), (&sql, vals![new]), &mut |a, b| {
            let (mut sa, mut sb) = (Side { ahead: None, done: false }, Side { ahead: None, done: false });
            let (mut x, mut y) = (sa.next_key(a)?, sb.next_key(b)?);
            loop {
                match (x.take(), y.take()) {
                    (None, None) => return Ok(()),
                    (Some(o), None) => {
                        call(Some(o), None)?;
                        x = sa.next_key(a)?;
                    }
                    (None, Some(n)) => {
                        call(None, Some(n))?;
                        y = sb.next_key(b)?;
                    }
                    (Some(o), Some(n)) => match o.key_ref().cmp(&n.key_ref()) {
                        std::cmp::Ordering::Less => {
                            call(Some(o), None)?;
                            x = sa.next_key(a)?;
                            y = Some(n);
                        }
                        std::cmp::Ordering::Greater => {
                            call(None, Some(n))?;
                            y = sb.next_key(b)?;
                            x = Some(o);
                        }
                        std::cmp::Ordering::Equal => {
                            call(Some(o), Some(n))?;
                            x = sa.next_key(a)?;
                            y = sb.next_key(b)?;
                        }
                    },
                }
            }
        });
        self.ended(stopped, done)
    }

    /// One row of the query in [`Store::each_row`], with its `seq`.
    fn report_row(r: &dyn Row) -> db::Result<(i64, ReportRow)> {
        let kind = r.opt_string(16)?;
        let id = r.opt_string(17)?;
        let status = codes::status(r.i64(7)?).map_err(|e| e.at(7))?;
        let probe_verdict = codes::verdict(r.str(11)?).map_err(|e| e.at(11))?;
        let first_seen = r.string(13)?;
        let run_started = r.string(19)?;
        let last_changed = r.opt_string(20)?.unwrap_or_default();
        let ages = Ages::of(status, &run_started, &first_seen, &last_changed, r.opt_i64(22)?);
        let claimable = codes::claimable(r.i64(9)?).map_err(|e| e.at(9))?;
        let claim = claims::claim_of(r.opt_i64(25)?);
        let issued_since = r.opt_i64(26)?.is_some_and(|n| n > 0);
        let finding = match r.opt_i64(24)? {
            Some(c) => codes::kind(c).map_err(|e| e.at(24))?,
            None => Kind::guess(status, claimable, probe_verdict, r.str(1)?, r.str(10)?),
        };
        let row = ReportRow {
            record_name: r.string(0)?,
            record_type: r.string(1)?,
            set_id: r.string(2)?,
            target: r.string(3)?,
            zone: r.string(4)?,
            source: r.string(5)?,
            account: r.string(6)?,
            status,
            severity: codes::severity(r.i64(8)?).map_err(|e| e.at(8))?,
            claimable,
            reason: r.string(10)?,
            probe_verdict,
            probe_detail: match (probe_verdict, r.string(12)?) {
                // A row the scan chose not to probe says why (a probe the prober declined says so itself).
                (Verdict::NotProbed, d) if d.is_empty() => crate::reconcile::why_not_probed(status, r.str(1)?, r.str(3)?, r.bool(23)?).to_string(),
                (_, d) => d,
            },
            first_seen,
            location: r.opt_string(14)?.unwrap_or_default(),
            confidence: Confidence::of(status, probe_verdict, claim, issued_since),
            dangling_since: r.opt_string(21)?.unwrap_or_default(),
            last_changed,
            age_days: ages.age_days,
            stale: ages.stale,
            kind: finding,
            ttl: u32::try_from(r.i64(15)?).unwrap_or(u32::MAX),
            owner: match (kind, id) {
                (Some(k), Some(i)) => format!("{k} {i}"),
                _ => String::new(),
            },
            probes: Vec::new(),
        };
        Ok((r.i64(18)?, row))
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
                let status = codes::status(r.i64(0)?).map_err(|e| e.at(0))?;
                let severity = codes::severity(r.i64(1)?).map_err(|e| e.at(1))?;
                let verdict = codes::verdict(r.str(2)?).map_err(|e| e.at(2))?;
                let ct = r.bool(4)?.unwrap_or(false);
                Ok((status, severity, verdict, claims::claim_of(r.opt_i64(3)?), ct, r.i64(5)? as usize))
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
            .db
            .one("SELECT EXISTS (SELECT 1 FROM rows WHERE run_id = ?1 AND probe_verdict != 'not_probed')", vals![run], |r| r.bool(0))
            .map_err(self.err())?
            .flatten()
            .unwrap_or(false);
        Ok(c)
    }

    /// Every record name the store has seen in `zone`, with the last run that saw each (what a scan
    /// compares its inventory with to find deleted names a wildcard answers for). One pass over the
    /// zone's records, by the (zone, name, type, set) index.
    pub fn names_in_zone(&self, zone: &str) -> Result<Vec<(String, i64)>, StoreError> {
        let last = self.last_sighting("c")?;
        self.db
            .all(
                &format!("SELECT c.name, MAX({last}) FROM records c JOIN zones z ON z.id = c.zone_id WHERE z.zone = ?1 GROUP BY c.name"),
                vals![zone],
                |r| Ok((r.string(0)?, r.i64(1)?)),
            )
            .map_err(self.err())
    }

    /// Every certificate baseline, by name.
    pub fn baselines(&self) -> Result<HashMap<String, Baseline>, StoreError> {
        let mut out = HashMap::new();
        if self.schema < BASELINES {
            return Ok(out);
        }
        let rows = self
            .db
            .all("SELECT name, spki, issuer, ca_names, alpn, not_after, first_run, changed_run FROM baselines", &[], |r| {
                Ok(Baseline {
                    name: r.string(0)?,
                    spki: r.string(1)?,
                    issuer: r.string(2)?,
                    ca_names: r.string(3)?,
                    alpn: r.string(4)?,
                    not_after: r.string(5)?,
                    first_run: Some(r.i64(6)?),
                    changed_run: Some(r.i64(7)?),
                })
            })
            .map_err(self.err())?;
        for b in rows {
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
            let kind = codes::name_kind(r.str(2)?).map_err(|e| e.at(2))?;
            Ok(NameFinding { name: r.string(0)?, address: r.string(1)?, kind, severity: codes::severity(r.i64(3)?).map_err(|e| e.at(3))?, detail: r.string(4)? })
        })?;
        out.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.name.cmp(&b.name)).then_with(|| a.kind.cmp(&b.kind)));
        Ok(out)
    }

    /// The named targets' results of a run, in config order.
    pub fn named_probes(&self, run: i64) -> Result<Vec<NamedProbeRow>, StoreError> {
        let named = self.per_run("SELECT target, sni, verdict, detail, probe_ids FROM named_probes WHERE run_id = ?1 ORDER BY seq", run, |r| {
            let verdict = codes::verdict(r.str(2)?).map_err(|e| e.at(2))?;
            Ok((r.string(0)?, r.string(1)?, verdict, r.string(3)?, r.string(4)?))
        })?;
        let mut out = Vec::with_capacity(named.len());
        for (target, sni, verdict, detail, ids) in named {
            let mut probes = Vec::new();
            for id in ids.split_whitespace().filter_map(|i| i.parse::<i64>().ok()) {
                let json = self.db.one("SELECT evidence FROM probes WHERE run_id = ?1 AND id = ?2", vals![run, id], |r| r.string(0)).map_err(self.err())?;
                probes.push(evidence_value(json.unwrap_or_default()));
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
        let mut stopped: Option<E> = None;
        let done = self.db.each(
            "SELECT a.kind, a.asset_id, a.source, a.account, ra.region, ra.ips, ra.hosts, f.started_at
             FROM run_assets ra JOIN assets a ON a.id = ra.asset_ref JOIN runs f ON f.id = a.first_run
             WHERE ra.run_id = ?1 ORDER BY a.kind, a.asset_id, a.source, a.account",
            vals![run],
            &mut |r| {
                let a = AssetRow {
                    kind: r.string(0)?,
                    id: r.string(1)?,
                    source: r.string(2)?,
                    account: r.string(3)?,
                    region: r.opt_string(4)?.unwrap_or_default(),
                    ips: r.string(5)?,
                    hosts: r.string(6)?,
                    first_seen: r.string(7)?,
                };
                f(a).map_err(|e| {
                    stopped = Some(e);
                    DbError::stop()
                })
            },
        );
        self.ended(stopped, done)
    }

    pub fn gaps(&self, run: i64) -> Result<Vec<GapRow>, StoreError> {
        // In the order the run found them: `seq` since schema 8, SQLite's row order before.
        let order = match self.db.dialect() {
            Dialect::Sqlite => "seq, rowid",
            Dialect::Postgres => "seq",
        };
        let order = if self.schema >= GAP_ORDER { order } else { "rowid" };
        self.per_run(&format!("SELECT source, account, region, service, error FROM gaps WHERE run_id = ?1 ORDER BY {order}"), run, |r| {
            Ok(GapRow { source: r.string(0)?, account: r.string(1)?, region: r.opt_string(2)?.unwrap_or_default(), service: r.string(3)?, error: r.string(4)? })
        })
    }

    /// The engine's own integrity check (SQLite's `integrity_check` and `foreign_key_check`), every
    /// reference between the store's tables, and every run holding exactly the rows it says it has.
    pub fn verify(&self) -> Result<Vec<String>, StoreError> {
        let mut problems = Vec::new();
        if self.db.dialect() == Dialect::Sqlite {
            let ok = self.db.one("PRAGMA integrity_check", &[], |r| r.string(0)).map_err(self.err())?.unwrap_or_default();
            if ok != "ok" {
                problems.push(format!("integrity_check: {ok}"));
            }
            let broken = self
                .db
                .all("PRAGMA foreign_key_check", &[], |r| {
                    let row = r.opt_i64(1)?.map_or("without rowid".to_string(), |id| id.to_string());
                    Ok(format!("{} row {row} -> {}", r.string(0)?, r.string(2)?))
                })
                .map_err(self.err())?;
            problems.extend(broken.into_iter().map(|b| format!("foreign key: {b}")));
        }
        for (sql, what) in [
            ("SELECT COUNT(*) FROM rows w LEFT JOIN records c ON c.id = w.record_id WHERE c.id IS NULL", "rows without their record"),
            ("SELECT COUNT(*) FROM rows w LEFT JOIN assets a ON a.id = w.owner WHERE w.owner IS NOT NULL AND a.id IS NULL", "rows whose owner is missing"),
            ("SELECT COUNT(*) FROM run_assets ra LEFT JOIN assets a ON a.id = ra.asset_ref WHERE a.id IS NULL", "run assets without their asset"),
            ("SELECT COUNT(*) FROM records c LEFT JOIN zones z ON z.id = c.zone_id WHERE z.id IS NULL", "records without their zone"),
            (
                "SELECT COUNT(*) FROM row_probes rp LEFT JOIN probes p ON p.run_id = rp.run_id AND p.id = rp.probe_id WHERE p.id IS NULL",
                "row probes without their evidence",
            ),
            (
                "SELECT COUNT(*) FROM row_probes rp LEFT JOIN rows w ON w.run_id = rp.run_id AND w.seq = rp.seq WHERE w.seq IS NULL",
                "row probes without their row",
            ),
        ] {
            let n = self.db.int(sql, &[]).map_err(self.err())?.unwrap_or(0);
            if n > 0 {
                problems.push(format!("{n} {what}"));
            }
        }
        let runs = self
            .db
            .all(
                &format!(
                    "SELECT r.id, r.n_rows, (SELECT COUNT(*) FROM rows w WHERE w.run_id = r.id) FROM runs r {}",
                    if self.schema >= AGES { "WHERE r.pruned_at IS NULL" } else { "" }
                ),
                &[],
                |r| Ok((r.i64(0)?, r.i64(1)?, r.i64(2)?)),
            )
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
        /// As the row decoder reports it (the column does not matter to a person: the value does).
        pub fn at(self, _col: usize) -> super::DbError {
            super::DbError::new(self.to_string())
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

//! Every run, in SQLite (a file, the default) or PostgreSQL (a server many runners share): runs,
//! records (first / last seen), per-run judgement rows, assets (first / last seen) with their per-run
//! addresses, and gaps. The queries are written once against [`db::Engine`]; the same migrations
//! build both (SQLite's version in `PRAGMA user_version`, PostgreSQL's in `dangle_schema`); a run is
//! written in one transaction, so a process killed mid-run leaves the earlier runs intact and no half run.
//!
//! By concern: [`schema`] (migrations, and what an opened store's schema holds), [`lock`] (one scan at
//! a time), [`write`] (a run in), [`read`] (runs out), [`history`] (what a new run reads of the runs
//! before it), [`shards`], [`prune`], [`outbox`] (alerts), [`verify`], [`encode`] (how values are stored).

use std::path::{Path, PathBuf};

use db::postgres::Postgres;
use db::{DbError, Engine};
pub use db::Dialect;

mod baseline;
mod claims;
pub(crate) mod db;
mod encode;
mod history;
mod lock;
mod outbox;
mod probes;
mod prune;
mod read;
mod schema;
mod shards;
mod sightings;
mod verify;
mod write;

pub use crate::time::{format_unix, now_rfc3339};
pub use baseline::{Baseline, NameFinding, NameKind};
pub use crate::reconcile::{Claims, RowClaim, RowCt};
pub use encode::{push_hosts, push_nets, stable_hash};
pub(crate) use encode::{evidence_value, findings_text, Interner};
pub use lock::RunLock;
pub use outbox::Pending;
pub use prune::Pruned;
pub use shards::{ShardInput, ShardInventory, ShardMeta};
pub use probes::{EvidenceJson, NamedProbe, Probes, RowProbe};
pub use write::{kinds, FirstSeen, RecordDates, RunInput, RunWriter};
use schema::Schema;

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

pub struct Store {
    db: Box<dyn Engine>,
    at: Location,
    /// Where the store is, as errors name it (a path, or a URL without a password).
    path: PathBuf,
    /// Held by a store a scan writes (see [`RunLock`]).
    run_lock: Option<RunLock>,
    /// What the store's schema holds (a read-only open never migrates): decided once, when opened.
    schema: Schema,
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
        let known = schema::LATEST;
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
        let schema = Schema::of(known, db.dialect());
        let mut s = Self { db, at, path, run_lock: None, schema };
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
        let known = schema::LATEST;
        if found > known {
            return Err(StoreError::TooNew { path, found, known });
        }
        if found == 0 {
            return Err(StoreError::Empty { path });
        }
        if found < schema::OLDEST_READABLE {
            return Err(StoreError::TooOld { path, found });
        }
        let schema = Schema::of(found, db.dialect());
        Ok(Self { db, at, path, run_lock: None, schema })
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

    /// Folds SQLite's write-ahead log into the database file (after a run; readers are never
    /// blocked). PostgreSQL checkpoints on its own.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        match self.db.dialect() {
            Dialect::Sqlite => self.db.one("PRAGMA wal_checkpoint(TRUNCATE)", &[], |_| Ok(())).map(|_| ()).map_err(self.err()),
            Dialect::Postgres => Ok(()),
        }
    }

}

#[cfg(test)]
mod tests;

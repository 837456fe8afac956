//! The run lock: one scan writes a store at a time, and a killed scan never leaves the lock stuck.

use std::path::{Path, PathBuf};

use super::db::{self, postgres::Postgres, DbError};
use super::{now_rfc3339, Location, StoreError};

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

//! The embedded engine: one SQLite file, migrations by `PRAGMA user_version`.

use std::path::Path;

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags};

use super::{load_statement, Cursor, DbError, Dialect, Engine, Load, Result, Row, Sink, Value};

pub(crate) struct Sqlite {
    pub(crate) conn: Connection,
}

/// SQLite's message for a person, with what to do where there is something to do.
pub(crate) fn message(e: &rusqlite::Error) -> String {
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
        other => other.to_string(),
    }
}

fn err(e: rusqlite::Error) -> DbError {
    DbError::new(message(&e))
}

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(*v)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

/// What a stored value is, in words.
fn kind(v: ValueRef<'_>) -> &'static str {
    match v {
        ValueRef::Null => "nothing",
        ValueRef::Integer(_) => "a number",
        ValueRef::Real(_) => "a real number",
        ValueRef::Text(_) => "text",
        ValueRef::Blob(_) => "bytes",
    }
}

impl Row for rusqlite::Row<'_> {
    fn int(&self, i: usize) -> Result<Option<i64>> {
        match self.get_ref(i).map_err(err)? {
            ValueRef::Null => Ok(None),
            ValueRef::Integer(v) => Ok(Some(v)),
            other => Err(DbError::new(format!("column {i} holds {} where a number belongs", kind(other)))),
        }
    }

    fn text(&self, i: usize) -> Result<Option<&str>> {
        match self.get_ref(i).map_err(err)? {
            ValueRef::Null => Ok(None),
            ValueRef::Text(t) => std::str::from_utf8(t).map(Some).map_err(|_| DbError::new(format!("column {i} holds text that is not UTF-8"))),
            other => Err(DbError::new(format!("column {i} holds {} where text belongs", kind(other)))),
        }
    }
}

impl Cursor for rusqlite::Rows<'_> {
    fn next(&mut self) -> Result<Option<&dyn Row>> {
        Ok(rusqlite::Rows::next(self).map_err(err)?.map(|r| r as &dyn Row))
    }
}

struct Statement<'a, 'c>(&'a mut rusqlite::CachedStatement<'c>);

impl Sink for Statement<'_, '_> {
    fn row(&mut self, values: &[Value<'_>]) -> Result<()> {
        self.0.execute(rusqlite::params_from_iter(values.iter())).map(|_| ()).map_err(err)
    }
}

impl Sqlite {
    /// Opens (creating) the file for reading and writing; changes nothing in it yet.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(30)).map_err(err)?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(Self { conn })
    }

    /// Opens an existing file read-only; a WAL store in a folder dangle may not write is read as
    /// immutable (nobody can be writing there either).
    pub(crate) fn open_read_only(path: &Path) -> std::result::Result<Self, (DbError, bool)> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let version = |conn: &Connection| -> rusqlite::Result<i64> {
            conn.busy_timeout(std::time::Duration::from_secs(30))?;
            conn.pragma_query_value(None, "user_version", |r| r.get(0))
        };
        let conn = Connection::open_with_flags(path, flags).map_err(|e| (err(e), false))?;
        let conn = match version(&conn) {
            Ok(_) => conn,
            Err(rusqlite::Error::SqliteFailure(f, _)) if matches!(f.code, rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly) => {
                drop(conn);
                let conn = Connection::open_with_flags(immutable_uri(path), flags).map_err(|e| (err(e), false))?;
                version(&conn).map_err(|e| (err(e), false))?;
                conn
            }
            Err(e) => return Err((err(e), false)),
        };
        conn.set_prepared_statement_cache_capacity(64);
        Ok(Self { conn })
    }

    /// The settings a store written by scans runs with (after its version was checked: a newer
    /// store is refused before anything in it changes).
    pub(crate) fn tune(&self) -> Result<()> {
        let c = &self.conn;
        // 16 KiB pages: a run appends a million rows to a few B-trees; bigger pages mean fewer levels
        // and splits. Takes effect only on a new file, before WAL is switched on.
        c.pragma_update(None, "page_size", 16_384).map_err(err)?;
        c.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        c.pragma_update(None, "synchronous", "NORMAL").map_err(err)?;
        // The foreign keys document the schema; `verify` checks them. Enforcing them on every insert
        // costs a parent look-up per reference, which a run's million rows do not need: one writer, one
        // transaction, ids it has just read or made.
        c.pragma_update(None, "foreign_keys", "OFF").map_err(err)?;
        // A run's commit would otherwise fold the log into the file itself; the scan does it once,
        // after the run (`Store::checkpoint`).
        c.pragma_update(None, "wal_autocheckpoint", 0).map_err(err)?;
        // 16 MiB of page cache: the run is written in key order (appends and one ordered merge), so a
        // bigger cache buys nothing; measured at 1M × 1M, 64 MiB wrote the first and the second run no
        // faster (4.06 / 4.70 s against 3.99 / 4.51 s) and held 51 MB more.
        c.pragma_update(None, "cache_size", -16_384).map_err(err)
    }
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

impl Engine for Sqlite {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn batch(&self, sql: &str) -> Result<()> {
        self.conn.execute_batch(sql).map_err(err)
    }

    fn execute(&self, sql: &str, params: &[Value<'_>]) -> Result<u64> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(err)?;
        stmt.execute(rusqlite::params_from_iter(params.iter())).map(|n| n as u64).map_err(err)
    }

    fn each(&self, sql: &str, params: &[Value<'_>], f: &mut dyn FnMut(&dyn Row) -> Result<()>) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(err)?;
        let mut rows = stmt.query(rusqlite::params_from_iter(params.iter())).map_err(err)?;
        while let Some(r) = rows.next().map_err(err)? {
            f(r)?;
        }
        Ok(())
    }

    fn two(&self, a: (&str, &[Value<'_>]), b: (&str, &[Value<'_>]), f: &mut dyn FnMut(&mut dyn Cursor, &mut dyn Cursor) -> Result<()>) -> Result<()> {
        let mut sa = self.conn.prepare(a.0).map_err(err)?;
        let mut sb = self.conn.prepare(b.0).map_err(err)?;
        let mut ra = sa.query(rusqlite::params_from_iter(a.1.iter())).map_err(err)?;
        let mut rb = sb.query(rusqlite::params_from_iter(b.1.iter())).map_err(err)?;
        f(&mut ra, &mut rb)
    }

    fn load(&self, table: &str, columns: &[&str], how: Load<'_>, fill: &mut dyn FnMut(&mut dyn Sink) -> Result<()>) -> Result<u64> {
        let mut stmt = self.conn.prepare_cached(&load_statement(table, columns, how)).map_err(err)?;
        let before = self.conn.total_changes();
        fill(&mut Statement(&mut stmt))?;
        Ok(self.conn.total_changes().saturating_sub(before))
    }

    fn schema_version(&self) -> Result<i64> {
        self.conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(err)
    }

    fn set_schema_version(&self, version: i64) -> Result<()> {
        self.conn.pragma_update(None, "user_version", version).map_err(err)
    }

    #[cfg(test)]
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn migration(&self, sql: &str) -> String {
        sql.to_string()
    }

    fn begin_write(&self) -> Result<()> {
        // One writer holds the run lock; IMMEDIATE takes SQLite's write lock now, not at the first write.
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(err)
    }
}

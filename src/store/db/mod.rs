//! The store's two engines behind one trait: SQLite (embedded, the default) and PostgreSQL (a shared
//! server for many runners). The store's queries are written once, in the SQL both speak (`?N`
//! parameters, `INSERT … ON CONFLICT`, `RETURNING`); an engine translates what differs (PostgreSQL's
//! `$N` and types) and provides the few operations SQL does not say the same way: schema versions,
//! bulk loads (a prepared statement per row in SQLite, `COPY` in PostgreSQL) and two cursors at once.

use std::fmt;

pub(crate) mod postgres;
pub(crate) mod sqlite;

/// An engine's error as one sentence (what to do, where there is something to do).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbError {
    pub message: String,
}

impl DbError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self { message: message.into() }
    }

    /// Ends the query a callback is reading ([`Engine::each`], [`Engine::two`]); the callback keeps
    /// its own reason, which the caller reports instead of this.
    pub(crate) fn stop() -> Self {
        Self::new("stopped")
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DbError {}

pub(crate) type Result<T> = std::result::Result<T, DbError>;

/// Which engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A parameter: the store binds integers, text and NULL only (booleans as 0 / 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Value<'a> {
    Null,
    Int(i64),
    Text(&'a str),
}

impl From<i64> for Value<'_> {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<u32> for Value<'_> {
    fn from(v: u32) -> Self {
        Value::Int(i64::from(v))
    }
}

impl From<bool> for Value<'_> {
    fn from(v: bool) -> Self {
        Value::Int(i64::from(v))
    }
}

impl From<Option<i64>> for Value<'_> {
    fn from(v: Option<i64>) -> Self {
        v.map_or(Value::Null, Value::Int)
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(v: &'a str) -> Self {
        Value::Text(v)
    }
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(v: &'a String) -> Self {
        Value::Text(v)
    }
}

impl<'a> From<Option<&'a str>> for Value<'a> {
    fn from(v: Option<&'a str>) -> Self {
        v.map_or(Value::Null, Value::Text)
    }
}

/// Parameters of a statement: `vals![a, b, c]`.
macro_rules! vals {
    ($($e:expr),* $(,)?) => { &[$($crate::store::db::Value::from($e)),*][..] };
}
pub(crate) use vals;

/// One row of a result.
pub(crate) trait Row {
    /// An integer column (PostgreSQL's booleans read as 0 / 1); `None` for NULL.
    fn int(&self, i: usize) -> Result<Option<i64>>;
    /// A text column; `None` for NULL.
    fn text(&self, i: usize) -> Result<Option<&str>>;
}

impl dyn Row + '_ {
    pub(crate) fn i64(&self, i: usize) -> Result<i64> {
        self.int(i)?.ok_or_else(|| DbError::new(format!("column {i} is NULL where a number belongs")))
    }

    pub(crate) fn opt_i64(&self, i: usize) -> Result<Option<i64>> {
        self.int(i)
    }

    pub(crate) fn bool(&self, i: usize) -> Result<Option<bool>> {
        Ok(self.int(i)?.map(|v| v != 0))
    }

    /// Text, or `""` for NULL.
    pub(crate) fn str(&self, i: usize) -> Result<&str> {
        Ok(self.text(i)?.unwrap_or_default())
    }

    pub(crate) fn string(&self, i: usize) -> Result<String> {
        self.text(i)?.map(str::to_string).ok_or_else(|| DbError::new(format!("column {i} is NULL where text belongs")))
    }

    pub(crate) fn opt_string(&self, i: usize) -> Result<Option<String>> {
        Ok(self.text(i)?.map(str::to_string))
    }
}

/// A query's rows, one at a time (one of two read together: [`Engine::two`]).
pub(crate) trait Cursor {
    fn next(&mut self) -> Result<Option<&dyn Row>>;
}

/// Where a bulk load's rows go ([`Engine::load`]).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Load<'a> {
    /// New rows.
    Insert,
    /// New rows, or the non-key columns of the row with the same `key` replaced.
    Upsert { key: &'a [&'a str] },
    /// New rows; a row whose `key` is stored already is left as it is.
    Ignore { key: &'a [&'a str] },
    /// The non-key columns of the stored rows with `key` (one column) set.
    Update { key: &'a str },
}

/// Takes the rows of a bulk load.
pub(crate) trait Sink {
    fn row(&mut self, values: &[Value<'_>]) -> Result<()>;
}

/// What the store needs of an engine. Every statement is the store's common SQL (see the module).
pub(crate) trait Engine: Send {
    fn dialect(&self) -> Dialect;
    /// Statements without parameters (DDL, `BEGIN`, `COMMIT`).
    fn batch(&self, sql: &str) -> Result<()>;
    /// One statement; the number of rows it changed.
    fn execute(&self, sql: &str, params: &[Value<'_>]) -> Result<u64>;
    /// Hands `f` the rows of a query as they arrive.
    fn each(&self, sql: &str, params: &[Value<'_>], f: &mut dyn FnMut(&dyn Row) -> Result<()>) -> Result<()>;
    /// Two queries read side by side (a merge of two ordered results). Not inside a write.
    fn two(&self, a: (&str, &[Value<'_>]), b: (&str, &[Value<'_>]), f: &mut dyn FnMut(&mut dyn Cursor, &mut dyn Cursor) -> Result<()>) -> Result<()>;
    /// Loads the rows `fill` hands its sink into `table` (`columns` in that order); the number of rows.
    fn load(&self, table: &str, columns: &[&str], how: Load<'_>, fill: &mut dyn FnMut(&mut dyn Sink) -> Result<()>) -> Result<u64>;
    /// The schema version the store holds (0: none yet).
    fn schema_version(&self) -> Result<i64>;
    /// Sets it, inside the migration's transaction.
    fn set_schema_version(&self, version: i64) -> Result<()>;
    /// A migration as the engine writes it (the store's migrations are SQLite's DDL).
    fn migration(&self, sql: &str) -> String;
    /// Starts a transaction.
    fn begin(&self) -> Result<()> {
        self.batch("BEGIN")
    }
    /// Starts a write that assigns ids of its own: no other writer assigns ids until it commits.
    fn begin_write(&self) -> Result<()>;
    fn commit(&self) -> Result<()> {
        self.batch("COMMIT")
    }
    fn rollback(&self) -> Result<()> {
        self.batch("ROLLBACK")
    }
    /// The engine itself (tests reach under the store).
    #[cfg(test)]
    fn as_any(&self) -> &dyn std::any::Any;
}

impl dyn Engine + '_ {
    /// The first row of a query, mapped.
    pub(crate) fn one<T>(&self, sql: &str, params: &[Value<'_>], f: impl FnOnce(&dyn Row) -> Result<T>) -> Result<Option<T>> {
        let mut f = Some(f);
        let mut out = None;
        self.each(sql, params, &mut |r| {
            if let Some(f) = f.take() {
                out = Some(f(r)?);
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Every row of a query, mapped.
    pub(crate) fn all<T>(&self, sql: &str, params: &[Value<'_>], mut f: impl FnMut(&dyn Row) -> Result<T>) -> Result<Vec<T>> {
        let mut out = Vec::new();
        self.each(sql, params, &mut |r| {
            out.push(f(r)?);
            Ok(())
        })?;
        Ok(out)
    }

    /// An integer the query returns (`None` when it returns no row or NULL).
    pub(crate) fn int(&self, sql: &str, params: &[Value<'_>]) -> Result<Option<i64>> {
        Ok(self.one(sql, params, |r| r.opt_i64(0))?.flatten())
    }
}

/// `c = excluded.c` for every column outside `key`: what an upsert replaces.
pub(crate) fn excluded(columns: &[&str], key: &[&str]) -> String {
    columns.iter().filter(|c| !key.contains(c)).map(|c| format!("{c} = excluded.{c}")).collect::<Vec<_>>().join(", ")
}

/// The statement a [`Load`] runs per row, in the common SQL (`?N` parameters in column order).
pub(crate) fn load_statement(table: &str, columns: &[&str], how: Load<'_>) -> String {
    let marks = (1..=columns.len()).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ");
    let cols = columns.join(", ");
    match how {
        Load::Insert => format!("INSERT INTO {table} ({cols}) VALUES ({marks})"),
        Load::Upsert { key } => format!("INSERT INTO {table} ({cols}) VALUES ({marks}) ON CONFLICT ({}) DO UPDATE SET {}", key.join(", "), excluded(columns, key)),
        Load::Ignore { key } => format!("INSERT INTO {table} ({cols}) VALUES ({marks}) ON CONFLICT ({}) DO NOTHING", key.join(", ")),
        Load::Update { key } => {
            let at = columns.iter().position(|c| *c == key).map_or(columns.len() + 1, |p| p + 1);
            let set = columns.iter().enumerate().filter(|(_, c)| **c != key).map(|(i, c)| format!("{c} = ?{}", i + 1)).collect::<Vec<_>>().join(", ");
            format!("UPDATE {table} SET {set} WHERE {key} = ?{at}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_statements_say_each_mode() {
        assert_eq!(load_statement("t", &["a", "b"], Load::Insert), "INSERT INTO t (a, b) VALUES (?1, ?2)");
        assert_eq!(load_statement("t", &["a", "b", "c"], Load::Upsert { key: &["a"] }), "INSERT INTO t (a, b, c) VALUES (?1, ?2, ?3) ON CONFLICT (a) DO UPDATE SET b = excluded.b, c = excluded.c");
        assert_eq!(load_statement("t", &["a", "b"], Load::Ignore { key: &["a", "b"] }), "INSERT INTO t (a, b) VALUES (?1, ?2) ON CONFLICT (a, b) DO NOTHING");
        assert_eq!(load_statement("t", &["x", "id", "y"], Load::Update { key: "id" }), "UPDATE t SET x = ?1, y = ?3 WHERE id = ?2");
    }
}

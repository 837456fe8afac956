//! The shared engine: a PostgreSQL server many runners write to. Text columns use the "C" collation, so
//! the server orders keys byte by byte as Rust compares strings (the store's merge joins rely on it);
//! ids of records and assets are assigned by the writer under a table lock; bulk loads go by `COPY`.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io::Write as _;
use std::path::Path;
use std::sync::LazyLock;

use postgres::types::{IsNull, ToSql, Type};
use regex::Regex;

use super::{Cursor, DbError, Dialect, Engine, Load, Result, Row, Sink, Value};

pub(crate) struct Postgres {
    client: RefCell<postgres::Client>,
    statements: RefCell<HashMap<String, postgres::Statement>>,
    in_tx: Cell<bool>,
    loads: Cell<u64>,
}

/// What a person reads of a PostgreSQL error: the server's message (and detail), or the client's
/// error with its causes, in one line.
pub(crate) fn message(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let mut m = db.message().to_string();
        if let Some(d) = db.detail() {
            m.push_str(" (");
            m.push_str(d);
            m.push(')');
        }
        return m;
    }
    let mut m = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let t = s.to_string();
        if !t.is_empty() && !m.contains(&t) {
            m.push_str(": ");
            m.push_str(&t);
        }
        source = s.source();
    }
    m
}

fn err(e: postgres::Error) -> DbError {
    DbError::new(message(&e))
}

/// How a connection is secured: libpq's `sslmode` names. The verifying modes verify the server's
/// chain and name (rustls always does), `require` too: dangle never accepts an unverified server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SslMode {
    Disable,
    Prefer,
    Require,
}

/// A `postgres://` URL split into what the client library parses and what dangle handles itself.
#[derive(Debug)]
struct Url {
    /// Without `sslmode` and `sslrootcert`.
    rest: String,
    ssl: Option<SslMode>,
    root_cert: Option<String>,
}

fn split_url(url: &str) -> std::result::Result<Url, String> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let (mut ssl, mut root_cert, mut kept) = (None, None, Vec::new());
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "sslmode" => {
                ssl = Some(match v {
                    "disable" => SslMode::Disable,
                    "allow" | "prefer" => SslMode::Prefer,
                    "require" | "verify-ca" | "verify-full" => SslMode::Require,
                    other => return Err(format!("sslmode `{other}` is not one of disable, prefer, require, verify-ca, verify-full")),
                })
            }
            "sslrootcert" => root_cert = Some(v.to_string()),
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() { base.to_string() } else { format!("{base}?{}", kept.join("&")) };
    Ok(Url { rest, ssl, root_cert })
}

/// Whether every host of the connection is this machine (loopback addresses, `localhost`, a socket).
fn local(config: &postgres::Config) -> bool {
    config.get_hosts().iter().all(|h| match h {
        postgres::config::Host::Tcp(name) => name == "localhost" || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback()),
        #[cfg(unix)]
        postgres::config::Host::Unix(_) => true,
    })
}

impl Postgres {
    /// Connects to the store at `url`. The password comes from `PGPASSWORD` or `password_file`
    /// (trailing newline dropped), never from the URL: a URL is shown in errors, logs and reports.
    /// TLS: `sslmode` as libpq names it; without one, a server elsewhere must speak TLS and prove its
    /// name (`require`), one on this machine (loopback, a socket) is spoken to in the clear: its
    /// traffic never leaves the machine.
    pub(crate) fn connect(url: &str, password_file: Option<&Path>) -> Result<Self> {
        let parts = split_url(url).map_err(|e| DbError::new(format!("db: {e}")))?;
        let mut config: postgres::Config = parts.rest.parse().map_err(|e: postgres::Error| DbError::new(format!("db: not a PostgreSQL URL ({})", message(&e))))?;
        if config.get_password().is_some() {
            return Err(DbError::new(
                "db: the URL holds a password, which would show in logs, reports and process lists; remove it and set PGPASSWORD or db_password_file",
            ));
        }
        let password = match (std::env::var("PGPASSWORD").ok().filter(|p| !p.is_empty()), password_file) {
            (Some(p), _) => Some(p),
            (None, Some(file)) => {
                let bytes = dangle_model::input::read_file(file, 64 * 1024).map_err(|e| DbError::new(format!("db_password_file {}: {e}", file.display())))?;
                let text = String::from_utf8(bytes).map_err(|_| DbError::new(format!("db_password_file {}: not UTF-8 text", file.display())))?;
                Some(text.trim_end_matches(['\n', '\r']).to_string())
            }
            (None, None) => None,
        };
        if let Some(p) = password {
            config.password(p);
        }
        if config.get_application_name().is_none() {
            config.application_name(&format!("dangle pid {}", std::process::id()));
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(10));
        }
        let ssl = parts.ssl.unwrap_or(if local(&config) { SslMode::Disable } else { SslMode::Require });
        let client = match ssl {
            SslMode::Disable => {
                config.ssl_mode(postgres::config::SslMode::Disable);
                config.connect(postgres::NoTls).map_err(err)?
            }
            SslMode::Prefer | SslMode::Require => {
                config.ssl_mode(if ssl == SslMode::Prefer { postgres::config::SslMode::Prefer } else { postgres::config::SslMode::Require });
                // The roots a store's server certificate must chain to: `sslrootcert`'s, else the system's.
                let tls = crate::tls::client_config(parts.root_cert.as_deref().map(Path::new)).map_err(|e| DbError::new(if parts.root_cert.is_some() { format!("db: sslrootcert {e}") } else { format!("db: {e}") }))?;
                config.connect(tokio_postgres_rustls::MakeRustlsConnect::new(tls)).map_err(err)?
            }
        };
        let pg = Self { client: RefCell::new(client), statements: RefCell::new(HashMap::new()), in_tx: Cell::new(false), loads: Cell::new(0) };
        // The server's notices (a table dropped that was not there, …) are not dangle's to print.
        pg.batch("SET client_min_messages = warning")?;
        Ok(pg)
    }

    fn client(&self) -> Result<std::cell::RefMut<'_, postgres::Client>> {
        self.client.try_borrow_mut().map_err(|_| DbError::new("the store was asked a second question while it was answering one (a bug in dangle)"))
    }

    fn statement(&self, client: &mut postgres::Client, sql: &str) -> Result<postgres::Statement> {
        if let Some(s) = self.statements.borrow().get(sql) {
            return Ok(s.clone());
        }
        let s = client.prepare(&translate(sql)).map_err(err)?;
        self.statements.borrow_mut().insert(sql.to_string(), s.clone());
        Ok(s)
    }

    /// Takes a session-level advisory lock on `key`, waiting up to `timeout`; `false` when another
    /// session held it all that time. (The lock goes with the connection.)
    pub(crate) fn try_lock(&self, key: i64, timeout: std::time::Duration) -> Result<bool> {
        let start = std::time::Instant::now();
        loop {
            let got = (self as &dyn Engine).one("SELECT pg_try_advisory_lock(?1)", super::vals![key], |r| r.bool(0))?.flatten().unwrap_or(false);
            if got {
                return Ok(true);
            }
            if start.elapsed() >= timeout {
                return Ok(false);
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// Who holds the advisory lock `key`: the holder's application name and start, if it can be seen.
    pub(crate) fn lock_holder(&self, key: i64) -> String {
        let sql = "SELECT a.application_name, a.backend_start::text FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                   WHERE l.locktype = 'advisory' AND l.granted AND ((l.classid::bigint << 32) | l.objid::bigint) = ?1 LIMIT 1";
        (self as &dyn Engine)
            .one(sql, super::vals![key], |r| Ok(format!("{}, since {}; ", r.str(0)?, r.str(1)?)))
            .ok()
            .flatten()
            .filter(|h| h.starts_with("dangle"))
            .unwrap_or_default()
    }
}

/// The store's common SQL as PostgreSQL takes it: `?N` parameters become `$N` (outside quotes).
pub(crate) fn translate(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quoted = false;
    for c in sql.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => out.push('$'),
            _ => out.push(c),
        }
    }
    out
}

/// A migration (SQLite's DDL) as PostgreSQL takes it: 64-bit integers, identity keys, byte-order
/// text, no `WITHOUT ROWID`; references stay documentation (`verify` checks them), as in SQLite.
pub(crate) fn migration(sql: &str) -> String {
    static RULES: LazyLock<Vec<(Regex, &'static str)>> = LazyLock::new(|| {
        [
            (r"--[^\n]*", ""),
            (r"\)\s*WITHOUT ROWID", ")"),
            (r"\s+REFERENCES \w+ \(\w+\)", ""),
            (r"\bINTEGER PRIMARY KEY\b", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"),
            (r"\bINTEGER\b", "BIGINT"),
            (r"\bTEXT\b", "TEXT COLLATE \"C\""),
        ]
        .into_iter()
        .map(|(re, to)| (Regex::new(re).expect("a valid pattern"), to))
        .collect()
    });
    RULES.iter().fold(sql.to_string(), |s, (re, to)| re.replace_all(&s, *to).into_owned())
}

/// Binds the store's values to whatever type the server infers for the parameter.
impl ToSql for Value<'_> {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match *self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) => match *ty {
                Type::INT8 => v.to_sql(ty, out),
                Type::INT4 => i32::try_from(v)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(v)?.to_sql(ty, out),
                Type::BOOL => (v != 0).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR | Type::UNKNOWN => v.to_string().to_sql(ty, out),
                _ => Err(format!("an integer cannot be bound to a {ty} parameter").into()),
            },
            Value::Text(s) => s.to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

impl Row for postgres::Row {
    fn int(&self, i: usize) -> Result<Option<i64>> {
        let ty = self.columns().get(i).map(|c| c.type_().clone()).ok_or_else(|| DbError::new(format!("no column {i}")))?;
        let e = |e: postgres::Error| DbError::new(format!("column {i}: {}", message(&e)));
        Ok(match ty {
            Type::INT8 => self.try_get::<_, Option<i64>>(i).map_err(e)?,
            Type::INT4 => self.try_get::<_, Option<i32>>(i).map_err(e)?.map(i64::from),
            Type::INT2 => self.try_get::<_, Option<i16>>(i).map_err(e)?.map(i64::from),
            Type::BOOL => self.try_get::<_, Option<bool>>(i).map_err(e)?.map(i64::from),
            _ => match self.try_get::<_, Option<&str>>(i).map_err(e)? {
                None => None,
                Some(s) => Some(s.parse().map_err(|_| DbError::new(format!("column {i} holds `{}` where a number belongs", dangle_model::excerpt(s))))?),
            },
        })
    }

    fn text(&self, i: usize) -> Result<Option<&str>> {
        self.try_get::<_, Option<&str>>(i).map_err(|e| DbError::new(format!("column {i}: {}", message(&e))))
    }
}

/// One of two cursors [`Postgres::two`] reads through portals of one transaction, a batch at a time.
struct PortalCursor<'t, 'c> {
    tx: &'t RefCell<postgres::Transaction<'c>>,
    portal: postgres::Portal,
    batch: std::collections::VecDeque<postgres::Row>,
    current: Option<postgres::Row>,
    done: bool,
}

impl Cursor for PortalCursor<'_, '_> {
    fn next(&mut self) -> Result<Option<&dyn Row>> {
        if self.batch.is_empty() && !self.done {
            let rows = self.tx.borrow_mut().query_portal(&self.portal, 4096).map_err(err)?;
            self.done = rows.len() < 4096;
            self.batch.extend(rows);
        }
        self.current = self.batch.pop_front();
        Ok(self.current.as_ref().map(|r| r as &dyn Row))
    }
}

/// `COPY … FROM STDIN` in text format, a buffer at a time.
struct Copy<'w> {
    writer: postgres::CopyInWriter<'w>,
    line: String,
    rows: u64,
}

impl Copy<'_> {
    fn field(&mut self, v: &Value<'_>) {
        use std::fmt::Write as _;
        match v {
            Value::Null => self.line.push_str("\\N"),
            Value::Int(i) => {
                let _ = write!(self.line, "{i}");
            }
            Value::Text(s) => {
                for c in s.chars() {
                    match c {
                        '\\' => self.line.push_str("\\\\"),
                        '\t' => self.line.push_str("\\t"),
                        '\n' => self.line.push_str("\\n"),
                        '\r' => self.line.push_str("\\r"),
                        c => self.line.push(c),
                    }
                }
            }
        }
    }

    fn flush(&mut self) -> Result<()> {
        self.writer.write_all(self.line.as_bytes()).map_err(|e| DbError::new(format!("COPY: {e}")))?;
        self.line.clear();
        Ok(())
    }
}

impl Sink for Copy<'_> {
    fn row(&mut self, values: &[Value<'_>]) -> Result<()> {
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.line.push('\t');
            }
            self.field(v);
        }
        self.line.push('\n');
        self.rows += 1;
        if self.line.len() >= 256 * 1024 {
            self.flush()?;
        }
        Ok(())
    }
}

impl Engine for Postgres {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn batch(&self, sql: &str) -> Result<()> {
        self.client()?.batch_execute(sql).map_err(err)
    }

    fn execute(&self, sql: &str, params: &[Value<'_>]) -> Result<u64> {
        let mut c = self.client()?;
        let stmt = self.statement(&mut c, sql)?;
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        c.execute(&stmt, &params).map_err(err)
    }

    fn each(&self, sql: &str, params: &[Value<'_>], f: &mut dyn FnMut(&dyn Row) -> Result<()>) -> Result<()> {
        use postgres::fallible_iterator::FallibleIterator as _;
        let mut c = self.client()?;
        let stmt = self.statement(&mut c, sql)?;
        let mut rows = c.query_raw(&stmt, params.iter()).map_err(err)?;
        while let Some(r) = rows.next().map_err(err)? {
            f(&r)?;
        }
        Ok(())
    }

    fn two(&self, a: (&str, &[Value<'_>]), b: (&str, &[Value<'_>]), f: &mut dyn FnMut(&mut dyn Cursor, &mut dyn Cursor) -> Result<()>) -> Result<()> {
        if self.in_tx.get() {
            return Err(DbError::new("two cursors were asked for inside a write (a bug in dangle)"));
        }
        let mut c = self.client()?;
        let (sa, sb) = (self.statement(&mut c, a.0)?, self.statement(&mut c, b.0)?);
        let mut tx = c.transaction().map_err(err)?;
        let bind = |tx: &mut postgres::Transaction<'_>, s: &postgres::Statement, p: &[Value<'_>]| {
            let p: Vec<&(dyn ToSql + Sync)> = p.iter().map(|v| v as &(dyn ToSql + Sync)).collect();
            tx.bind(s, &p).map_err(err)
        };
        let (pa, pb) = (bind(&mut tx, &sa, a.1)?, bind(&mut tx, &sb, b.1)?);
        let tx = RefCell::new(tx);
        let cursor = |portal| PortalCursor { tx: &tx, portal, batch: Default::default(), current: None, done: false };
        let (mut ca, mut cb) = (cursor(pa), cursor(pb));
        f(&mut ca, &mut cb)?;
        drop((ca, cb));
        tx.into_inner().commit().map_err(err)
    }

    fn load(&self, table: &str, columns: &[&str], how: Load<'_>, fill: &mut dyn FnMut(&mut dyn Sink) -> Result<()>) -> Result<u64> {
        let cols = columns.join(", ");
        let staged = !matches!(how, Load::Insert);
        // Replacing or updating rows goes through a temporary table: COPY into it, one statement from it.
        let into = if staged {
            let n = self.loads.get() + 1;
            self.loads.set(n);
            let tmp = format!("dangle_load_{n}");
            self.batch(&format!("CREATE TEMP TABLE {tmp} AS SELECT {cols} FROM {table} WITH NO DATA"))?;
            tmp
        } else {
            table.to_string()
        };
        let rows = {
            let mut c = self.client()?;
            let writer = c.copy_in(&format!("COPY {into} ({cols}) FROM STDIN")).map_err(err)?;
            let mut copy = Copy { writer, line: String::new(), rows: 0 };
            fill(&mut copy)?;
            copy.flush()?;
            let rows = copy.rows;
            copy.writer.finish().map_err(err)?;
            rows
        };
        if !staged {
            return Ok(rows);
        }
        let sql = match how {
            Load::Insert => unreachable!("not staged"),
            Load::Upsert { key } => format!("INSERT INTO {table} ({cols}) SELECT {cols} FROM {into} ON CONFLICT ({}) DO UPDATE SET {}", key.join(", "), super::excluded(columns, key)),
            Load::Ignore { key } => format!("INSERT INTO {table} ({cols}) SELECT {cols} FROM {into} ON CONFLICT ({}) DO NOTHING", key.join(", ")),
            Load::Update { key } => {
                let set = columns.iter().filter(|c| **c != key).map(|c| format!("{c} = l.{c}")).collect::<Vec<_>>().join(", ");
                format!("UPDATE {table} SET {set} FROM {into} l WHERE {table}.{key} = l.{key}")
            }
        };
        let changed = self.client()?.execute(sql.as_str(), &[]).map_err(err)?;
        self.batch(&format!("DROP TABLE {into}"))?;
        Ok(changed)
    }

    fn schema_version(&self) -> Result<i64> {
        let this = self as &dyn Engine;
        let exists = this.int("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'dangle_schema'", &[])?;
        if exists.unwrap_or(0) == 0 {
            return Ok(0);
        }
        Ok(this.int("SELECT MAX(version) FROM dangle_schema", &[])?.unwrap_or(0))
    }

    fn set_schema_version(&self, version: i64) -> Result<()> {
        self.batch("CREATE TABLE IF NOT EXISTS dangle_schema (version BIGINT NOT NULL)")?;
        self.execute("DELETE FROM dangle_schema", &[])?;
        self.execute("INSERT INTO dangle_schema (version) VALUES (?1)", super::vals![version]).map(|_| ())
    }

    #[cfg(test)]
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn migration(&self, sql: &str) -> String {
        migration(sql)
    }

    fn begin(&self) -> Result<()> {
        self.batch("BEGIN")?;
        self.in_tx.set(true);
        Ok(())
    }

    fn begin_write(&self) -> Result<()> {
        self.begin()?;
        // The writer assigns record and asset ids (max + 1) and inserts zones it did not find: one
        // writer at a time from here to its commit. Readers are not blocked.
        self.batch("LOCK TABLE zones, records, assets IN SHARE ROW EXCLUSIVE MODE")
    }

    fn commit(&self) -> Result<()> {
        self.in_tx.set(false);
        self.batch("COMMIT")
    }

    fn rollback(&self) -> Result<()> {
        self.in_tx.set(false);
        self.batch("ROLLBACK")
    }
}

/// The advisory lock key of a store's run lock (any constant: one database is one store).
pub(crate) const RUN_LOCK: i64 = 0x6461_6e67_6c65; // "dangle"

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_and_ddl_translate() {
        assert_eq!(translate("SELECT a FROM t WHERE b = ?1 AND c = '?' AND d = ?2"), "SELECT a FROM t WHERE b = $1 AND c = '?' AND d = $2");
        let ddl = migration("CREATE TABLE t (\n    id INTEGER PRIMARY KEY, -- the id\n    run INTEGER NOT NULL REFERENCES runs (id),\n    name TEXT NOT NULL\n) WITHOUT ROWID;");
        assert_eq!(ddl, "CREATE TABLE t (\n    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, \n    run BIGINT NOT NULL,\n    name TEXT COLLATE \"C\" NOT NULL\n);");
    }

    #[test]
    fn urls_keep_secrets_out_and_say_their_tls() {
        let u = split_url("postgres://dangle@db.example.com/dangle?sslmode=verify-full&sslrootcert=/etc/ca.pem&connect_timeout=5").unwrap();
        assert_eq!(u.rest, "postgres://dangle@db.example.com/dangle?connect_timeout=5");
        assert_eq!((u.ssl, u.root_cert.as_deref()), (Some(SslMode::Require), Some("/etc/ca.pem")));
        assert!(split_url("postgres://h/d?sslmode=maybe").unwrap_err().contains("sslmode `maybe`"));
        let e = Postgres::connect("postgres://dangle:hunter2@127.0.0.1:1/dangle", None).err().unwrap();
        assert!(e.message.contains("holds a password") && !e.message.contains("hunter2"), "{e}");
    }
}

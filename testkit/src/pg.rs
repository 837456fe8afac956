//! A database of its own per test on the throwaway PostgreSQL server `scripts/test` starts
//! (`scripts/pg`): `DANGLE_TEST_PG` is its admin URL, `DANGLE_TEST_PG_SOCKET` the folder of its socket.
//! Without them a test that needs PostgreSQL fails, naming the script: never a silent skip.

use std::sync::atomic::{AtomicUsize, Ordering};

/// A database made for one test, dropped with it.
pub struct PgDb {
    admin: String,
    name: String,
    /// Its URL over TCP on loopback.
    pub url: String,
}

fn admin_url() -> String {
    std::env::var("DANGLE_TEST_PG").unwrap_or_else(|_| {
        panic!("this test needs PostgreSQL: run it through scripts/test, which starts a throwaway server (scripts/pg) and sets DANGLE_TEST_PG")
    })
}

impl PgDb {
    pub fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let admin = admin_url();
        let name = format!("dangle_t{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL at {admin}: {e}"));
        c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
        let url = format!("{base}/{name}");
        Self { admin, name, url }
    }

    /// The database's URL through the server's socket (for a process in a network namespace of its
    /// own, where the host's loopback is out of reach).
    pub fn socket_url(&self) -> String {
        let dir = std::env::var("DANGLE_TEST_PG_SOCKET").unwrap_or_else(|_| panic!("this test needs PostgreSQL's socket folder: run it through scripts/test (DANGLE_TEST_PG_SOCKET)"));
        let port = self.admin.rsplit_once(':').and_then(|(_, p)| p.split('/').next()).unwrap_or("5432");
        format!("postgres://dangle@/{}?host={dir}&port={port}", self.name)
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.admin.rsplit_once(':').and_then(|(_, p)| p.split('/').next()?.parse().ok()).expect("a port in DANGLE_TEST_PG")
    }

    /// The CA (PEM) the server's TLS certificate chains to (`scripts/pg` makes it in the server's folder).
    pub fn ca_file(&self) -> std::path::PathBuf {
        std::path::Path::new(&std::env::var("DANGLE_TEST_PG_SOCKET").expect("DANGLE_TEST_PG_SOCKET: run through scripts/test")).join("ca.pem")
    }

    /// Runs SQL on the database as the admin user (a test's setup).
    pub fn admin_sql(&self, sql: &str) {
        let base = self.admin.rsplit_once('/').map_or(self.admin.as_str(), |(b, _)| b);
        let mut c = postgres::Client::connect(&format!("{base}/{}", self.name), postgres::NoTls).expect("connect to the test database");
        c.batch_execute(sql).unwrap_or_else(|e| panic!("{sql}: {}", e.as_db_error().map_or(e.to_string(), |d| d.message().to_string())));
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Default for PgDb {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

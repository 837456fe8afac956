//! A local Azure Resource Manager for the demo (and anyone trying dangle's Azure provider without an
//! Azure account): serves an estate file over https with the given certificate until killed.
//!
//!   dangle-arm-fake --estate estate.json --cert server.pem --key server.key [--listen 127.0.0.1:0]
//!                   [--page 100] [--delay-ms 0] [--ready FILE] [--log FILE]
//!
//! The estate file maps ARM paths (any case) to routes: `{"routes": {"/subscriptions": {"list": […]},
//! "/subscriptions/ID": {"doc": {…}}, "…": {"fail": {"status": 403, "code": "AuthorizationFailed"}}}}`.
//! `--ready` receives the base URL once the server listens; `--log` the requests (JSON lines) at exit;
//! `--delay-ms` holds every answer that long (ARM's latency, for benchmarks).

use std::collections::HashMap;
use std::path::PathBuf;

use dangle_azure::testing::{ArmServer, Route};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

#[derive(serde::Deserialize)]
struct Estate {
    routes: HashMap<String, Route>,
}

struct Args {
    estate: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    listen: String,
    page: usize,
    delay_ms: u64,
    ready: Option<PathBuf>,
    log: Option<PathBuf>,
}

fn args() -> Result<Args, String> {
    let mut a = Args { estate: PathBuf::new(), cert: PathBuf::new(), key: PathBuf::new(), listen: "127.0.0.1:0".into(), page: 100, delay_ms: 0, ready: None, log: None };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--estate" => a.estate = value()?.into(),
            "--cert" => a.cert = value()?.into(),
            "--key" => a.key = value()?.into(),
            "--listen" => a.listen = value()?,
            "--page" => a.page = value()?.parse().map_err(|_| "--page takes a number".to_string())?,
            "--delay-ms" => a.delay_ms = value()?.parse().map_err(|_| "--delay-ms takes a number".to_string())?,
            "--ready" => a.ready = Some(value()?.into()),
            "--log" => a.log = Some(value()?.into()),
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    if a.estate.as_os_str().is_empty() || a.cert.as_os_str().is_empty() || a.key.as_os_str().is_empty() {
        return Err("--estate, --cert and --key are required".into());
    }
    if a.page == 0 {
        return Err("--page must be at least 1".into());
    }
    Ok(a)
}

async fn run(a: Args) -> Result<(), String> {
    let read = |p: &PathBuf| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let estate: Estate = serde_json::from_slice(&read(&a.estate)?).map_err(|e| format!("{}: {e}", a.estate.display()))?;
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(&read(&a.cert)?).collect::<Result<_, _>>().map_err(|e| format!("{}: {e}", a.cert.display()))?;
    let key = PrivateKeyDer::from_pem_slice(&read(&a.key)?).map_err(|e| format!("{}: {e}", a.key.display()))?;
    let listener = tokio::net::TcpListener::bind(&a.listen).await.map_err(|e| format!("cannot listen on {}: {e}", a.listen))?;
    let server = ArmServer::serve(listener, chain, key, String::new(), a.page)?.with_delay(std::time::Duration::from_millis(a.delay_ms));
    server.set_routes(estate.routes.into_iter().map(|(k, v)| (k.to_ascii_lowercase(), v)).collect());
    if let Some(r) = &a.ready {
        std::fs::write(r, &server.url).map_err(|e| format!("{}: {e}", r.display()))?;
    }
    eprintln!("dangle-arm-fake: serving {} at {}", a.estate.display(), server.url);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).map_err(|e| e.to_string())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    if let Some(l) = &a.log {
        let lines: Vec<String> = server.requests().iter().map(|r| serde_json::to_string(r).unwrap_or_default()).collect();
        std::fs::write(l, lines.join("\n") + "\n").map_err(|e| format!("{}: {e}", l.display()))?;
    }
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let result = match args() {
        Ok(a) => run(a).await,
        Err(e) => Err(e),
    };
    if let Err(e) = result {
        eprintln!("dangle-arm-fake: {e}");
        std::process::exit(2);
    }
}

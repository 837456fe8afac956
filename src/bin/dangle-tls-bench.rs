//! TLS helpers for the probe benchmark (`scripts/bench-probe`), the demo and whole-binary tests. Not a
//! test: it asserts nothing.
//!
//! - `serve`: a rustls server (tokio-rustls) on one or more loopback addresses, optionally demanding a
//!   client certificate, that completes the handshake, writes a line and closes.
//! - `handshakes`: full TLS handshakes per second against an address, N in flight for S seconds, either
//!   with a bare tokio-rustls connect that records nothing (`bare`) or through dangle's prober in
//!   observe mode (`dangle`), which records the chain and judges it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::AsyncWriteExt;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    Serve {
        /// Certificate chain (PEM), leaf first.
        #[arg(long)]
        cert: PathBuf,
        #[arg(long)]
        key: PathBuf,
        /// Addresses to listen on (repeatable).
        #[arg(long, required = true)]
        listen: Vec<SocketAddr>,
        /// Demand a client certificate from this CA (PEM).
        #[arg(long)]
        client_ca: Option<PathBuf>,
        /// Speak TLS 1.2 only.
        #[arg(long)]
        tls12: bool,
        /// Create this file once every listener is bound.
        #[arg(long)]
        ready: Option<PathBuf>,
    },
    Handshakes {
        #[arg(long)]
        connect: SocketAddr,
        #[arg(long)]
        sni: String,
        /// The CA the server's chain leads to (the bare loop verifies with it; dangle judges with it).
        #[arg(long)]
        ca: PathBuf,
        #[arg(long, default_value = "5")]
        seconds: u64,
        #[arg(long, default_value = "1")]
        inflight: usize,
        #[arg(long, value_enum)]
        mode: Mode,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    Bare,
    Dangle,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

fn certs(p: &PathBuf) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).map(|c| c.expect("a PEM certificate")).collect()
}

fn main() {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    match cli.cmd {
        Cmd::Serve { cert, key, listen, client_ca, tls12, ready } => rt.block_on(serve(cert, key, listen, client_ca, tls12, ready)),
        Cmd::Handshakes { connect, sni, ca, seconds, inflight, mode } => rt.block_on(handshakes(connect, sni, ca, seconds, inflight, mode)),
    }
}

async fn serve(cert: PathBuf, key: PathBuf, listen: Vec<SocketAddr>, client_ca: Option<PathBuf>, tls12: bool, ready: Option<PathBuf>) {
    let chain = certs(&cert);
    let key = PrivateKeyDer::from_pem_file(&key).unwrap_or_else(|e| panic!("{}: {e}", key.display()));
    let versions: &[&rustls::SupportedProtocolVersion] = if tls12 { &[&rustls::version::TLS12] } else { rustls::DEFAULT_VERSIONS };
    let b = rustls::ServerConfig::builder_with_provider(provider()).with_protocol_versions(versions).expect("versions");
    let b = match client_ca {
        Some(p) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in certs(&p) {
                roots.add(c).expect("a CA certificate");
            }
            b.with_client_cert_verifier(rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider()).build().expect("verifier"))
        }
        None => b.with_no_client_auth(),
    };
    let mut config = b.with_single_cert(chain, key).expect("certificate and key");
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    config.send_tls13_tickets = 0;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let mut tasks = Vec::new();
    for addr in listen {
        let l = tokio::net::TcpListener::bind(addr).await.unwrap_or_else(|e| panic!("bind {addr}: {e}"));
        println!("listening {}", l.local_addr().expect("bound"));
        let acceptor = acceptor.clone();
        tasks.push(tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let _ = s.set_nodelay(true);
                    if let Ok(mut tls) = acceptor.accept(s).await {
                        let _ = tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").await;
                        let _ = tls.shutdown().await;
                    }
                });
            }
        }));
    }
    if let Some(r) = ready {
        std::fs::write(&r, b"ready\n").unwrap_or_else(|e| panic!("{}: {e}", r.display()));
    }
    for t in tasks {
        let _ = t.await;
    }
}

async fn handshakes(connect: SocketAddr, sni: String, ca: PathBuf, seconds: u64, inflight: usize, mode: Mode) {
    let anchors = certs(&ca);
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let bare = {
        let mut roots = rustls::RootCertStore::empty();
        for a in &anchors {
            roots.add(a.clone()).expect("a CA certificate");
        }
        let mut c = rustls::ClientConfig::builder_with_provider(provider()).with_safe_default_protocol_versions().expect("versions").with_root_certificates(roots).with_no_client_auth();
        c.resumption = rustls::client::Resumption::disabled();
        tokio_rustls::TlsConnector::from(Arc::new(c))
    };
    let settings = Arc::new(dangle::probe::Settings {
        connect_timeout: Duration::from_secs(3),
        handshake_timeout: Duration::from_secs(5),
        trust: dangle::probe::Trust::new(anchors, vec![]).expect("trust"),
        identity: None,
    });
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..inflight {
        let (stop, done, failed, bare, settings, sni) = (stop.clone(), done.clone(), failed.clone(), bare.clone(), settings.clone(), sni.clone());
        tasks.push(tokio::spawn(async move {
            let name = ServerName::try_from(sni.clone()).expect("a DNS name");
            while !stop.load(Ordering::Relaxed) {
                let ok = match mode {
                    Mode::Bare => match tokio::net::TcpStream::connect(connect).await {
                        Ok(tcp) => {
                            let _ = tcp.set_nodelay(true);
                            bare.connect(name.clone(), tcp).await.is_ok()
                        }
                        Err(_) => false,
                    },
                    Mode::Dangle => {
                        let ev = dangle::probe::probe(&connect.ip().to_string(), Some(connect), connect, &sni, &settings).await;
                        ev.verdict == dangle::probe::Verdict::Ours
                    }
                };
                if ok { &done } else { &failed }.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    let secs = start.elapsed().as_secs_f64();
    let n = done.load(Ordering::Relaxed);
    let mode = match mode {
        Mode::Bare => "bare tokio-rustls",
        Mode::Dangle => "dangle observe",
    };
    println!("{mode:<18} in flight {inflight:>3}: {:>8.0} handshakes/s ({n} in {secs:.1} s, {} failed)", n as f64 / secs, failed.load(Ordering::Relaxed));
}

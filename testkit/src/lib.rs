//! Local servers for dangle's tests and benchmarks, on loopback only, each on its own thread and
//! runtime (a scan builds its own runtime and blocks): [`Dns`], an authoritative name server
//! (hickory-server's in-memory zones, from zone-file texts), and [`Http`], an HTTP/1 server that
//! answers by `Host` header (recorded responses of the services a test plays). Both count what they
//! were asked, so a test can prove what a scan sent.

mod pg;
pub use pg::PgDb;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use hickory_proto::rr::Name;
use hickory_proto::serialize::txt::Parser;
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::Server;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A server running on its own thread until dropped.
struct Running {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs `serve` (given the bound address's listeners) on a thread with its own runtime; returns once
/// it listens.
fn spawn<F, Fut>(what: &'static str, serve: F) -> (SocketAddr, Running)
where
    F: FnOnce(tokio::sync::oneshot::Sender<SocketAddr>, tokio::sync::oneshot::Receiver<()>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel();
    let thread = std::thread::Builder::new()
        .name(what.into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
            rt.block_on(serve(addr_tx, stop_rx));
        })
        .expect("a server thread");
    let addr = addr_rx.blocking_recv().unwrap_or_else(|_| panic!("the {what} server did not start"));
    (addr, Running { stop: Some(stop_tx), thread: Some(thread) })
}

/// Serves TCP connections on a fresh 127.0.0.1 port, each with `conn` on its own task, until dropped.
fn serve_tcp<F, Fut>(what: &'static str, conn: F) -> (SocketAddr, Running)
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    spawn(what, move |addr_tx, mut stop| async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a TCP port");
        let _ = addr_tx.send(listener.local_addr().expect("bound"));
        loop {
            let (stream, _) = tokio::select! {
                _ = &mut stop => return,
                a = listener.accept() => match a { Ok(a) => a, Err(_) => continue },
            };
            tokio::spawn(conn(stream));
        }
    })
}

/// An authoritative DNS server on 127.0.0.1 (UDP and TCP, one port) serving zone-file texts. A name
/// in none of its zones is answered REFUSED (hickory's catalog), like a server that does not host it.
pub struct Dns {
    pub addr: SocketAddr,
    queries: Arc<AtomicUsize>,
    _running: Running,
}

/// The catalog, counting the requests it answers.
struct Counting {
    inner: Catalog,
    n: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl RequestHandler for Counting {
    async fn handle_request<R: ResponseHandler, T: Time>(&self, request: &Request, response_handle: R) -> ResponseInfo {
        self.n.fetch_add(1, Ordering::Relaxed);
        self.inner.handle_request::<R, T>(request, response_handle).await
    }
}

impl Dns {
    /// `zones`: (origin, zone-file text) pairs; each text needs its SOA.
    pub fn start(zones: &[(&str, &str)]) -> Self {
        let mut catalog = Catalog::new();
        for (origin, text) in zones {
            let origin = Name::from_ascii(origin).unwrap_or_else(|e| panic!("zone origin {origin}: {e}"));
            let (name, records) = Parser::new(*text, None, Some(origin.clone())).parse().unwrap_or_else(|e| panic!("zone {origin}: {e}"));
            let zone = InMemoryZoneHandler::<hickory_server::net::runtime::TokioRuntimeProvider>::new(name.clone(), records, ZoneType::Primary, AxfrPolicy::Deny)
                .unwrap_or_else(|e| panic!("zone {origin}: {e}"));
            catalog.upsert(name.into(), vec![Arc::new(zone) as Arc<dyn ZoneHandler>]);
        }
        let queries = Arc::new(AtomicUsize::new(0));
        let handler = Counting { inner: catalog, n: queries.clone() };
        let (addr, running) = spawn("dns", move |addr_tx, stop| async move {
            // A UDP port whose TCP twin is free too (another test may hold it): try again until one is.
            let mut pair = None;
            for _ in 0..100 {
                let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.expect("a UDP port");
                let addr = udp.local_addr().expect("bound");
                if let Ok(tcp) = tokio::net::TcpListener::bind(addr).await {
                    pair = Some((udp, tcp, addr));
                    break;
                }
            }
            let (udp, tcp, addr) = pair.expect("a UDP and TCP port pair on 127.0.0.1");
            let mut server = Server::new(handler);
            server.register_socket(udp);
            server.register_listener(tcp, std::time::Duration::from_secs(5), 65_535);
            let _ = addr_tx.send(addr);
            let _ = stop.await;
            let _ = server.shutdown_gracefully().await;
        });
        Self { addr, queries, _running: running }
    }

    /// Requests answered so far.
    pub fn queries(&self) -> usize {
        self.queries.load(Ordering::Relaxed)
    }
}

/// One recorded answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    pub fn new(status: u16, body: impl Into<String>) -> Self {
        Self { status, body: body.into() }
    }
}

/// An HTTP/1 server on 127.0.0.1 answering by `Host` header and path (an answer keyed
/// `HOST/PATH?QUERY` wins over one keyed `/PATH?QUERY`, which wins over one keyed `HOST`); anything
/// else gets `200` and a plain page. Keeps the `Host` of every request.
pub struct Http {
    pub addr: SocketAddr,
    hosts: Arc<Mutex<Vec<String>>>,
    _running: Running,
}

impl Http {
    pub fn start(answers: Vec<(String, Reply)>) -> Self {
        let answers: Arc<HashMap<String, Reply>> = Arc::new(answers.into_iter().map(|(h, r)| (h.to_ascii_lowercase(), r)).collect());
        let hosts = Arc::new(Mutex::new(Vec::new()));
        let seen = hosts.clone();
        let (addr, running) = serve_tcp("http", move |stream| {
            let (answers, seen) = (answers.clone(), seen.clone());
            async move {
                let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let host = req.headers().get(hyper::header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default().to_ascii_lowercase();
                    let uri = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
                    seen.lock().expect("hosts").push(host.clone());
                    // `HOST/PATH?QUERY` first, then `/PATH?QUERY` (an API's answers), then the host
                    // alone (a site's).
                    let reply = answers
                        .get(&format!("{host}{uri}"))
                        .or_else(|| answers.get(&uri))
                        .or_else(|| answers.get(&host))
                        .cloned()
                        .unwrap_or_else(|| Reply::new(200, "<html><body>A site someone runs.</body></html>"));
                    async move {
                        let mut resp = hyper::Response::new(http_body_util::Full::new(hyper::body::Bytes::from(reply.body)));
                        *resp.status_mut() = hyper::StatusCode::from_u16(reply.status).unwrap_or(hyper::StatusCode::OK);
                        Ok::<_, std::convert::Infallible>(resp)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(stream), service).await;
            }
        });
        Self { addr, hosts, _running: running }
    }

    /// The `Host` header of every request so far, in arrival order.
    pub fn hosts(&self) -> Vec<String> {
        self.hosts.lock().expect("hosts").clone()
    }
}

/// A TLS server on 127.0.0.1 (rustls) presenting one certificate chain: completes the handshake,
/// then closes. What an endpoint shows the prober.
pub struct Tls {
    pub addr: SocketAddr,
    handshakes: Arc<AtomicUsize>,
    _running: Running,
}

impl Tls {
    /// `chain_pem`: the leaf first; `key_pem`: its PKCS#8 key.
    pub fn start(chain_pem: &str, key_pem: &str) -> Self {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain_pem.as_bytes()).map(|c| c.expect("a PEM certificate")).collect();
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("a PEM key");
        let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("a certificate and its key");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let handshakes = Arc::new(AtomicUsize::new(0));
        let done = handshakes.clone();
        let (addr, running) = serve_tcp("tls", move |stream| {
            let (acceptor, done) = (acceptor.clone(), done.clone());
            async move {
                if let Ok(mut s) = acceptor.accept(stream).await {
                    done.fetch_add(1, Ordering::SeqCst);
                    use tokio::io::AsyncWriteExt;
                    let _ = s.shutdown().await;
                }
            }
        });
        Self { addr, handshakes, _running: running }
    }

    /// Handshakes completed so far.
    pub fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }
}

//! The prober against real rustls servers on 127.0.0.0/8, certificates made by rcgen at test time, and
//! hostile listeners written byte by byte.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DistinguishedName, SignatureScheme};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::runner::{ConnectTo, Job, Prober, PER_ADDRESS};
use super::*;

struct Ca {
    cert: rcgen::Certificate,
    key: KeyPair,
}

fn ca(name: &str) -> Ca {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name.push(DnType::CommonName, name);
    Ca { cert: p.self_signed(&key).unwrap(), key }
}

impl Ca {
    /// The DER subject, as a CertificateRequest names it.
    fn dn(&self) -> Vec<u8> {
        x509_parser::parse_x509_certificate(self.cert.der()).unwrap().1.subject().as_raw().to_vec()
    }
}

struct Leaf {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    spki: [u8; 32],
}

impl Leaf {
    fn clone_key(&self) -> PrivateKeyDer<'static> {
        self.key.clone_key()
    }
}

/// A leaf for `names`, signed by `issuer` (or self-signed); `expired` puts its validity in the past.
fn leaf_with(issuer: Option<&Ca>, names: &[&str], expired: bool) -> Leaf {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name.push(DnType::CommonName, names[0]);
    if expired {
        p.not_before = rcgen::date_time_ymd(2020, 1, 1);
        p.not_after = rcgen::date_time_ymd(2021, 1, 1);
    }
    let cert = match issuer {
        Some(ca) => p.signed_by(&key, &ca.cert, &ca.key).unwrap(),
        None => p.self_signed(&key).unwrap(),
    };
    let mut chain = vec![cert.der().clone()];
    if let Some(ca) = issuer {
        chain.push(ca.cert.der().clone());
    }
    let spki: [u8; 32] = Sha256::digest(key.public_key_der()).into();
    Leaf { chain, key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())), spki }
}

fn leaf(issuer: Option<&Ca>, names: &[&str]) -> Leaf {
    leaf_with(issuer, names, false)
}

/// Records every client certificate a server receives, asks with `hints`, accepts anything: the most
/// permissive (or hostile) server there is.
#[derive(Debug)]
struct Spy {
    hints: Vec<DistinguishedName>,
    mandatory: bool,
    got: Arc<Mutex<Vec<CertificateDer<'static>>>>,
}

impl ClientCertVerifier for Spy {
    fn offer_client_auth(&self) -> bool {
        true
    }
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }
    fn verify_client_cert(&self, end_entity: &CertificateDer<'_>, _: &[CertificateDer<'_>], _: UnixTime) -> Result<ClientCertVerified, rustls::Error> {
        self.got.lock().unwrap().push(end_entity.clone().into_owned());
        Ok(ClientCertVerified::assertion())
    }
    fn verify_tls12_signature(&self, m: &[u8], c: &CertificateDer<'_>, d: &rustls::DigitallySignedStruct) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &provider().signature_verification_algorithms)
    }
    fn verify_tls13_signature(&self, m: &[u8], c: &CertificateDer<'_>, d: &rustls::DigitallySignedStruct) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &provider().signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        provider().signature_verification_algorithms.supported_schemes()
    }
}

type Got = Arc<Mutex<Vec<CertificateDer<'static>>>>;

#[derive(Default)]
struct Opts<'a> {
    /// Demand a client certificate from this CA (rustls's own verifier).
    require_client_from: Option<&'a Ca>,
    /// A spy asking with these CA names instead.
    spy: Option<(Vec<Vec<u8>>, bool)>,
    tls12_only: bool,
}

/// A TLS server on a free loopback port. Returns its address and, with a spy, what it received.
async fn serve(leaf: Leaf, opts: Opts<'_>) -> (SocketAddr, Got) {
    let versions: &[&rustls::SupportedProtocolVersion] = if opts.tls12_only { &[&rustls::version::TLS12] } else { rustls::DEFAULT_VERSIONS };
    let builder = rustls::ServerConfig::builder_with_provider(provider()).with_protocol_versions(versions).unwrap();
    let got: Got = Arc::default();
    let builder = if let Some(ca) = opts.require_client_from {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.cert.der().clone()).unwrap();
        builder.with_client_cert_verifier(rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider()).build().unwrap())
    } else if let Some((hints, mandatory)) = opts.spy {
        builder.with_client_cert_verifier(Arc::new(Spy { hints: hints.into_iter().map(DistinguishedName::from).collect(), mandatory, got: got.clone() }))
    } else {
        builder.with_no_client_auth()
    };
    (serve_config(builder.with_single_cert(leaf.chain, leaf.key).unwrap()).await, got)
}

async fn serve_config(config: rustls::ServerConfig) -> SocketAddr {
    serve_config_on("127.0.0.1", config).await
}

async fn serve_config_on(ip: &str, config: rustls::ServerConfig) -> SocketAddr {
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind((ip, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(s).await {
                    let _ = tls.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await;
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                }
            });
        }
    });
    addr
}

/// A server configuration for `leaf`, TLS 1.2 and 1.3, no client authentication.
fn plain_config(leaf: Leaf) -> rustls::ServerConfig {
    rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(leaf.chain, leaf.key)
        .unwrap()
}

fn settings(anchors: &[&Ca], pins: &[[u8; 32]]) -> Settings {
    Settings {
        connect_timeout: Duration::from_millis(500),
        handshake_timeout: Duration::from_millis(800),
        trust: Trust::new(anchors.iter().map(|c| c.cert.der().clone()).collect(), pins.to_vec()).unwrap(),
        identity: None,
    }
}

async fn look(addr: SocketAddr, sni: &str, s: &Settings) -> Evidence {
    observe(&addr.ip().to_string(), Some(addr), addr, sni, s).await
}

#[tokio::test]
async fn our_ca_is_ours_and_the_evidence_is_recorded() {
    let org = ca("Org CA");
    let (addr, _) = serve(leaf(Some(&org), &["www.example.com"]), Opts::default()).await;
    let ev = look(addr, "www.example.com", &settings(&[&org], &[])).await;
    assert_eq!(ev.verdict, Verdict::Ours, "{ev:#?}");
    assert_eq!(ev.chain.len(), 2);
    assert!(ev.chain[0].sans.contains(&"www.example.com".to_string()));
    assert!(ev.chain[0].issuer.contains("Org CA"));
    assert_eq!(ev.chain[0].spki_sha256.len(), 64);
    assert_eq!(ev.chain[0].sha256.len(), 64);
    assert!(!ev.chain[0].serial.is_empty() && !ev.chain[0].not_after.is_empty());
    assert!(ev.tls_version.as_deref().unwrap().contains("TLSv1_3"), "{:?}", ev.tls_version);
    assert!(ev.cipher_suite.is_some() && ev.kx_group.is_some(), "{ev:#?}");
    assert_eq!(ev.requested_ca_names, None);
    assert_eq!((ev.attempts, ev.dialed), (1, Some(addr)));
}

#[tokio::test]
async fn a_foreign_ca_valid_for_our_name_is_foreign() {
    let (org, other) = (ca("Org CA"), ca("Some Public CA"));
    let (addr, _) = serve(leaf(Some(&other), &["www.example.com"]), Opts::default()).await;
    let ev = look(addr, "www.example.com", &settings(&[&org], &[])).await;
    assert_eq!(ev.verdict, Verdict::Foreign, "{ev:#?}");
    assert!(ev.detail.contains("Some Public CA") && ev.detail.contains("www.example.com"), "{}", ev.detail);
}

#[tokio::test]
async fn self_signed_and_other_names_are_foreign_and_a_pin_alone_makes_ours() {
    let org = ca("Org CA");
    let l = leaf(None, &["other.example.net"]);
    let pin = l.spki;
    let (addr, _) = serve(l, Opts::default()).await;
    assert_eq!(look(addr, "www.example.com", &settings(&[&org], &[])).await.verdict, Verdict::Foreign);
    // The same self-signed server, pinned by its SPKI and with no anchors at all: ours.
    assert_eq!(look(addr, "www.example.com", &settings(&[], &[pin])).await.verdict, Verdict::Ours);
    // A foreign CA's certificate for someone else's name.
    let other = ca("Some Public CA");
    let (addr, _) = serve(leaf(Some(&other), &["shop.attacker.test"]), Opts::default()).await;
    let ev = look(addr, "www.example.com", &settings(&[&org], &[])).await;
    assert_eq!(ev.verdict, Verdict::Foreign);
    assert!(ev.detail.contains("shop.attacker.test"), "{}", ev.detail);
}

#[tokio::test]
async fn expired_certificates_ours_and_foreign() {
    let (org, other) = (ca("Org CA"), ca("Some Public CA"));
    let (addr, _) = serve(leaf_with(Some(&other), &["www.example.com"], true), Opts::default()).await;
    assert_eq!(look(addr, "www.example.com", &settings(&[&org], &[])).await.verdict, Verdict::Foreign);
    // Our CA's expired certificate still proves the key holder is ours; the detail says it expired.
    let (addr, _) = serve(leaf_with(Some(&org), &["www.example.com"], true), Opts::default()).await;
    let ev = look(addr, "www.example.com", &settings(&[&org], &[])).await;
    assert_eq!(ev.verdict, Verdict::Ours, "{ev:#?}");
    assert!(ev.detail.contains("expired"), "{}", ev.detail);
}

#[tokio::test]
async fn a_shared_provider_wildcard_is_shared() {
    let other = ca("Some Public CA");
    let (addr, _) = serve(leaf(Some(&other), &["*.cloudfront.net", "cloudfront.net"]), Opts::default()).await;
    let ev = look(addr, "cdn.example.com", &settings(&[], &[])).await;
    assert_eq!(ev.verdict, Verdict::Shared, "{ev:#?}");
}

#[tokio::test]
async fn mtls_required_records_the_requested_ca_names_and_presents_nothing() {
    let org = ca("Org CA");
    let (addr, _) = serve(leaf(Some(&org), &["api.example.com"]), Opts { require_client_from: Some(&org), ..Default::default() }).await;
    let ev = look(addr, "api.example.com", &settings(&[&org], &[])).await;
    assert_eq!(ev.verdict, Verdict::Ours, "{ev:#?}");
    let asked = ev.requested_ca_names.as_ref().expect("a CertificateRequest");
    assert!(asked.iter().any(|n| n.contains("Org CA")), "{asked:?}");
    assert!(ev.client_cert_mandatory, "the server refuses without a certificate: {ev:#?}");
}

#[tokio::test]
async fn a_tls12_only_server_is_judged_by_its_chain() {
    let org = ca("Org CA");
    let (addr, _) = serve(leaf(Some(&org), &["old.example.com"]), Opts { tls12_only: true, ..Default::default() }).await;
    let ev = look(addr, "old.example.com", &settings(&[&org], &[])).await;
    assert_eq!(ev.verdict, Verdict::Ours, "{ev:#?}");
    assert!(ev.tls_version.as_deref().unwrap().contains("TLSv1_2"), "{:?}", ev.tls_version);
}

#[tokio::test]
async fn a_closed_port_is_no_answer_and_is_not_retried() {
    let addr = closed_port();
    let ev = look(addr, "www.example.com", &settings(&[], &[])).await;
    assert_eq!(ev.verdict, Verdict::NoAnswer, "{ev:#?}");
    assert_eq!(ev.attempts, 1);
}

/// A port of 127.42.0.1, where no test server listens (they bind 127.0.0.1): nothing can take it
/// between finding it and dialling it.
fn closed_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.42.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    addr
}

/// A listener that counts connections and hands each to `f`.
async fn listener<F, Fut>(f: F) -> (SocketAddr, Arc<AtomicUsize>)
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let n = Arc::new(AtomicUsize::new(0));
    let count = n.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(f(s));
        }
    });
    (addr, n)
}

#[tokio::test]
async fn a_garbage_listener_is_an_unknown_listener_tried_once() {
    let (addr, n) = listener(|mut s| async move {
        let _ = s.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").await;
        tokio::time::sleep(Duration::from_secs(2)).await;
    })
    .await;
    let ev = look(addr, "www.example.com", &settings(&[], &[])).await;
    assert_eq!(ev.verdict, Verdict::UnknownListener, "{ev:#?}");
    assert_eq!((ev.attempts, n.load(Ordering::SeqCst)), (1, 1), "only a timeout is retried");
}

#[tokio::test]
async fn a_tarpit_is_retried_once_and_bounded() {
    let (addr, n) = listener(|s| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(s);
    })
    .await;
    let s = settings(&[], &[]);
    let start = Instant::now();
    let ev = probe("www.example.com", Some(addr), addr, "www.example.com", &s).await;
    assert_eq!(ev.verdict, Verdict::UnknownListener, "{ev:#?}");
    assert_eq!((ev.attempts, n.load(Ordering::SeqCst)), (2, 2), "one retry on timeout");
    assert!(start.elapsed() < s.hard_bound(), "{:?} within {:?}", start.elapsed(), s.hard_bound());
}

/// A TLS 1.2 ServerHello (ECDHE-RSA-AES128-GCM-SHA256, no extensions), then a Certificate message that
/// declares `declared` bytes and streams `chunk` forever: a 1 MB certificate, or an endless chain.
async fn hostile_certificate(declared: u32, chunk: Vec<u8>) -> SocketAddr {
    let (addr, _) = listener(move |mut s| {
        let chunk = chunk.clone();
        async move {
            let mut buf = vec![0u8; 16 * 1024];
            let _ = s.read(&mut buf).await;
            let mut hello = vec![0x02, 0, 0, 40, 0x03, 0x03];
            hello.extend([7u8; 32]);
            hello.extend([0x00, 0xc0, 0x2f, 0x00, 0x00, 0x00]);
            let mut out = vec![0x16, 0x03, 0x03, 0, hello.len() as u8];
            out.extend(hello);
            let mut cert = vec![0x0b, (declared >> 16) as u8, (declared >> 8) as u8, declared as u8];
            let list = declared - 3;
            cert.extend([(list >> 16) as u8, (list >> 8) as u8, list as u8]);
            cert.extend(&chunk);
            out.extend([0x16, 0x03, 0x03, (cert.len() >> 8) as u8, cert.len() as u8]);
            out.extend(cert);
            if s.write_all(&out).await.is_err() {
                return;
            }
            loop {
                let mut rec = vec![0x16, 0x03, 0x03, (chunk.len() >> 8) as u8, chunk.len() as u8];
                rec.extend(&chunk);
                if s.write_all(&rec).await.is_err() {
                    return;
                }
            }
        }
    })
    .await;
    addr
}

#[tokio::test]
async fn a_one_megabyte_certificate_and_an_endless_chain_are_refused_quickly() {
    let s = settings(&[], &[]);
    // One certificate of 1 MB.
    let mut big = vec![0x0f, 0xff, 0xfd, 0x30, 0x82];
    big.resize(4096, 0x41);
    // Certificates of 1 KiB each, for as long as anyone reads.
    let mut small = Vec::new();
    for _ in 0..4 {
        small.extend([0x00, 0x04, 0x00]);
        small.extend([0x30u8; 1024]);
    }
    for (declared, chunk) in [(0x10_0000 + 6, big), (0xff_ffff, small)] {
        let addr = hostile_certificate(declared, chunk).await;
        let start = Instant::now();
        let ev = probe("www.example.com", Some(addr), addr, "www.example.com", &s).await;
        assert_eq!(ev.verdict, Verdict::UnknownListener, "{ev:#?}");
        assert!(ev.chain.is_empty());
        assert!(ev.error.is_some(), "{ev:#?}");
        assert!(start.elapsed() < s.handshake_timeout, "refused on the declared size, not by timing out: {:?}", start.elapsed());
    }
}

/// Serves a fixed chain and key, however they match.
#[derive(Debug)]
struct Fixed(Arc<rustls::sign::CertifiedKey>);

impl rustls::server::ResolvesServerCert for Fixed {
    fn resolve(&self, _: rustls::server::ClientHello<'_>) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// A server presenting our chain with a stranger's key, optionally asking with our CA names.
async fn impostor(ours: &Leaf, spy_hints: Option<Vec<Vec<u8>>>) -> (SocketAddr, Got) {
    let stranger = KeyPair::generate().unwrap();
    let key = provider().key_provider.load_private_key(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(stranger.serialize_der()))).unwrap();
    let got: Got = Arc::default();
    let b = rustls::ServerConfig::builder_with_provider(provider()).with_safe_default_protocol_versions().unwrap();
    let b = match spy_hints {
        Some(h) => b.with_client_cert_verifier(Arc::new(Spy { hints: h.into_iter().map(DistinguishedName::from).collect(), mandatory: false, got: got.clone() })),
        None => b.with_no_client_auth(),
    };
    let config = b.with_cert_resolver(Arc::new(Fixed(Arc::new(rustls::sign::CertifiedKey::new(ours.chain.clone(), key)))));
    (serve_config(config).await, got)
}

#[tokio::test]
async fn an_impostor_replaying_our_chain_without_our_key_is_caught() {
    let org = ca("Org CA");
    let ours = leaf(Some(&org), &["www.example.com"]);
    let (addr, _) = impostor(&ours, None).await;
    let ev = look(addr, "www.example.com", &settings(&[&org], &[])).await;
    assert_eq!(ev.verdict, Verdict::Foreign, "{ev:#?}");
    assert!(ev.chain[0].issuer.contains("Org CA"), "it did present our chain: {ev:#?}");
    assert!(ev.error.as_deref().unwrap_or("").to_ascii_lowercase().contains("signature"), "{:?}", ev.error);
}

// ---- authenticate mode: the client certificate goes only to servers that proved to be ours ----

struct Client {
    identity: Identity,
    ca: Ca,
}

/// A client certificate issued by "Org Client CA", with our CA names as the prober computes them.
fn client(org: &Ca) -> Client {
    let cca = ca("Org Client CA");
    let l = leaf(Some(&cca), &["dangle-prober.example.com"]);
    let key = provider().key_provider.load_private_key(l.clone_key()).unwrap();
    let ck = rustls::sign::CertifiedKey::new(l.chain.clone(), key);
    // What load::identity computes: our anchors' subjects and the client chain's issuers.
    let ca_names = vec![org.dn(), cca.dn()];
    Client { identity: Identity { key: Arc::new(ck), ca_names }, ca: cca }
}

fn with_identity(mut s: Settings, c: &Client) -> Settings {
    s.identity = Some(c.identity.clone());
    s
}

#[tokio::test]
async fn our_mtls_server_gets_the_client_certificate_over_tls13() {
    let org = ca("Org CA");
    let c = client(&org);
    let s = with_identity(settings(&[&org], &[]), &c);
    for hints in [vec![c.ca.dn()], vec![org.dn()], vec![]] {
        let (addr, got) = serve(leaf(Some(&org), &["api.example.com"]), Opts { spy: Some((hints.clone(), true)), ..Default::default() }).await;
        let ev = probe("api.example.com", Some(addr), addr, "api.example.com", &s).await;
        assert_eq!(ev.verdict, Verdict::Ours, "{ev:#?}");
        let auth = ev.authentication.as_ref().expect("authenticate mode ran");
        assert!(auth.presented && auth.accepted == Some(true), "hints {hints:?}: {auth:?}");
        let got = got.lock().unwrap();
        assert_eq!(got.len(), 1, "the server received exactly our client certificate once");
        assert_eq!(got[0], c.identity.key.cert[0]);
    }
}

#[tokio::test]
async fn our_server_asking_for_a_ca_that_is_not_ours_gets_nothing() {
    let org = ca("Org CA");
    let c = client(&org);
    let s = with_identity(settings(&[&org], &[]), &c);
    let elsewhere = ca("Partner CA");
    let (addr, got) = serve(leaf(Some(&org), &["api.example.com"]), Opts { spy: Some((vec![elsewhere.dn()], false)), ..Default::default() }).await;
    let ev = probe("api.example.com", Some(addr), addr, "api.example.com", &s).await;
    assert_eq!(ev.verdict, Verdict::Ours);
    assert!(!ev.authentication.as_ref().unwrap().presented, "{:?}", ev.authentication);
    assert!(got.lock().unwrap().is_empty());
}

/// Every hostile server of the issue: none ever receives the client certificate, neither through the
/// probe (which stops at a foreign verdict) nor when authenticate mode is forced on it directly.
#[tokio::test]
async fn no_foreign_server_ever_receives_the_client_certificate() {
    let org = ca("Org CA");
    let c = client(&org);
    let s = with_identity(settings(&[&org], &[]), &c);
    let foreign_ca = ca("Foreign CA");
    let mut servers: Vec<(&str, SocketAddr, Got)> = Vec::new();
    // Foreign mTLS, asking for certificates from its own CA.
    let (a, g) = serve(leaf(Some(&foreign_ca), &["api.example.com"]), Opts { spy: Some((vec![foreign_ca.dn()], true)), ..Default::default() }).await;
    servers.push(("foreign mTLS asking for its own CA", a, g));
    // A foreign chain, asking with OUR CA names.
    let (a, g) = serve(leaf(Some(&foreign_ca), &["api.example.com"]), Opts { spy: Some((vec![org.dn(), c.ca.dn()], true)), ..Default::default() }).await;
    servers.push(("foreign chain asking with our CA names", a, g));
    // Our own chain and key, but TLS 1.2 only: a client certificate would travel in cleartext.
    let (a, g) = serve(leaf(Some(&org), &["api.example.com"]), Opts { spy: Some((vec![org.dn(), c.ca.dn()], false)), tls12_only: true, ..Default::default() }).await;
    servers.push(("TLS 1.2 only", a, g));
    // Our chain replayed without our key, asking with our CA names.
    let (a, g) = impostor(&leaf(Some(&org), &["api.example.com"]), Some(vec![org.dn(), c.ca.dn()])).await;
    servers.push(("impostor with our chain", a, g));
    for (what, addr, got) in &servers {
        let ev = probe("api.example.com", Some(*addr), *addr, "api.example.com", &s).await;
        if let Some(auth) = &ev.authentication {
            assert!(!auth.presented, "{what}: {auth:?}");
        }
        let direct = auth::authenticate(*addr, "api.example.com", &s, &c.identity).await;
        assert!(!direct.presented, "{what}: {direct:?}");
        assert!(got.lock().unwrap().is_empty(), "{what} received a client certificate");
    }
    // The TLS 1.2 server is ours (our chain and key) and still got nothing.
    let ev = probe("api.example.com", Some(servers[2].1), servers[2].1, "api.example.com", &s).await;
    assert_eq!(ev.verdict, Verdict::Ours, "{ev:#?}");
    assert!(ev.authentication.as_ref().unwrap().detail.contains("TLS 1.3"), "{:?}", ev.authentication);
}

// ---- the runner: connect_to, resolution, allow_dial, bounds ----

fn runner(s: Settings, ports: Vec<u16>, concurrency: usize) -> Prober {
    Prober::new(s, ports, concurrency)
}

#[tokio::test]
async fn connect_to_dials_loopback_for_a_cloud_address_and_allow_dial_stops_the_rest() {
    let org = ca("Org CA");
    let (addr, _) = serve(leaf(Some(&org), &["app.example.com"]), Opts::default()).await;
    let map = ConnectTo::parse([("54.214.1.2", addr.to_string().as_str())]).unwrap();
    let p = Arc::new(
        runner(settings(&[&org], &[]), vec![443], 8).with_connect_to(map).with_allow_dial(vec!["127.0.0.0/8".parse().unwrap()]),
    );
    let out = p
        .run(&[Job::new("54.214.1.2", "app.example.com"), Job::new("54.214.9.9", "old.example.com")])
        .await;
    let ev = &out[0][0];
    assert_eq!(ev.verdict, Verdict::Ours, "{ev:#?}");
    assert_eq!(ev.address, Some("54.214.1.2:443".parse().unwrap()));
    assert_eq!(ev.dialed, Some(addr));
    assert_eq!(ev.sni, "app.example.com");
    let blocked = &out[1][0];
    assert_eq!(blocked.verdict, Verdict::NotProbed, "{blocked:#?}");
    assert_eq!(blocked.dialed, None);
    assert!(blocked.detail.contains("allow_dial"), "{}", blocked.detail);
}

/// A DNS server on loopback UDP: `app.example.net` → 127.0.0.1 and 127.0.0.2, everything else NXDOMAIN.
async fn dns_server() -> SocketAddr {
    use hickory_resolver::proto::op::{Message, MessageType, ResponseCode};
    use hickory_resolver::proto::rr::{rdata::A, RData, Record, RecordType};
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let Ok(q) = Message::from_vec(&buf[..n]) else { continue };
            let mut r = Message::new(q.metadata.id, MessageType::Response, q.metadata.op_code);
            r.metadata.recursion_desired = q.metadata.recursion_desired;
            r.metadata.recursion_available = true;
            r.add_queries(q.queries.clone());
            let query = &q.queries[0];
            if query.name().to_ascii().trim_end_matches('.') == "app.example.net" {
                if query.query_type() == RecordType::A {
                    for ip in ["127.0.0.1", "127.0.0.2"] {
                        r.add_answer(Record::from_rdata(query.name().clone(), 60, RData::A(A(ip.parse().unwrap()))));
                    }
                }
            } else {
                r.metadata.response_code = ResponseCode::NXDomain;
            }
            let _ = sock.send_to(&r.to_vec().unwrap(), from).await;
        }
    });
    addr
}

#[tokio::test]
async fn host_names_resolve_through_the_configured_name_server_and_every_address_is_probed() {
    let org = ca("Org CA");
    let l = leaf(Some(&org), &["www.example.com"]);
    let config = plain_config(l);
    // One port on both loopback addresses the name resolves to.
    let a1 = serve_config_on("127.0.0.1", config.clone()).await;
    let l2 = TcpListener::bind(("127.0.0.2", a1.port())).await;
    let Ok(l2) = l2 else { panic!("127.0.0.2:{} is taken; rerun", a1.port()) };
    drop(l2);
    let a2 = {
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind(("127.0.0.2", a1.port())).await.unwrap();
        tokio::spawn(async move {
            while let Ok((s, _)) = listener.accept().await {
                let _ = acceptor.accept(s).await;
            }
        });
        SocketAddr::new("127.0.0.2".parse().unwrap(), a1.port())
    };
    let ns = dns_server().await;
    let p = Arc::new(runner(settings(&[&org], &[]), vec![a1.port()], 8).with_nameservers(Some(vec![ns])));
    let out = p
        .run(&[Job::new("app.example.net", "www.example.com"), Job::new("gone.example.net", "old.example.com")])
        .await;
    let addrs: Vec<_> = out[0].iter().map(|e| (e.address, e.verdict)).collect();
    assert_eq!(addrs, vec![(Some(a1), Verdict::Ours), (Some(a2), Verdict::Ours)]);
    assert_eq!(out[1].len(), 1);
    assert_eq!(out[1][0].verdict, Verdict::NoAnswer);
    assert_eq!(out[1][0].detail, "gone.example.net does not exist (NXDOMAIN)", "hickory's Debug form of the query never reaches a person");
}

/// Counts connections open at once, holding each for a while without speaking.
async fn counting_listener(ip: &str, live: Arc<AtomicUsize>, peak: Arc<AtomicUsize>) -> SocketAddr {
    let l = TcpListener::bind((ip, 0)).await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let (live, peak) = (live.clone(), peak.clone());
            tokio::spawn(async move {
                let now = live.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(150)).await;
                live.fetch_sub(1, Ordering::SeqCst);
                drop(s);
            });
        }
    });
    addr
}

#[tokio::test]
async fn concurrency_is_bounded_per_address_and_overall() {
    // Twenty names on one address: never more than PER_ADDRESS at once, though 128 may fly.
    let (live, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let addr = counting_listener("127.0.0.1", live.clone(), peak.clone()).await;
    let p = Arc::new(runner(settings(&[], &[]), vec![addr.port()], 128));
    let jobs: Vec<Job> = (0..20).map(|i| Job::new("127.0.0.1", format!("n{i}.example.com"))).collect();
    let out = p.run(&jobs).await;
    assert!(out.iter().all(|e| e[0].verdict == Verdict::UnknownListener), "{out:#?}");
    let seen = peak.load(Ordering::SeqCst);
    assert!((2..=PER_ADDRESS).contains(&seen), "peak {seen} at one address");
    // Eight addresses, concurrency 3: never more than 3 at once in all.
    let (live, peak) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut jobs = Vec::new();
    let mut map = Vec::new();
    for i in 0..8 {
        let a = counting_listener(&format!("127.0.1.{}", i + 1), live.clone(), peak.clone()).await;
        map.push((format!("10.0.0.{}", i + 1), a.to_string()));
        jobs.push(Job::new(format!("10.0.0.{}", i + 1), "x.example.com"));
    }
    let ct = ConnectTo::parse(map.iter().map(|(a, b)| (a.as_str(), b.as_str()))).unwrap();
    let p = Arc::new(runner(settings(&[], &[]), vec![443], 3).with_connect_to(ct));
    p.run(&jobs).await;
    let seen = peak.load(Ordering::SeqCst);
    assert!((2..=3).contains(&seen), "peak {seen} overall");
}

#[test]
fn verdict_ranks_put_foreign_first() {
    let mut v = [Verdict::NoAnswer, Verdict::Ours, Verdict::Foreign, Verdict::UnknownListener, Verdict::Shared, Verdict::NotProbed];
    v.sort_by_key(|v| std::cmp::Reverse(v.rank()));
    assert_eq!(v, [Verdict::Foreign, Verdict::Shared, Verdict::UnknownListener, Verdict::Ours, Verdict::NoAnswer, Verdict::NotProbed]);
}

#[test]
fn connect_to_accepts_addresses_hosts_and_ports() {
    let c = ConnectTo::parse([("52.1.2.3", "127.0.0.5"), ("app.example.com:8443", "127.0.0.6:9443"), ("[2600::1]:443", "[::1]:8443")]).unwrap();
    assert!(!c.is_empty());
    assert!(ConnectTo::parse([("52.1.2.3", "not a host!")]).is_err());
    assert!(ConnectTo::parse([("52.1.2.3", "127.0.0.1:0")]).is_err());
}

#[tokio::test]
async fn ipv6_targets_and_connect_to_loopback_v6() {
    let org = ca("Org CA");
    let l = leaf(Some(&org), &["v6.example.com"]);
    let config = plain_config(l);
    let addr = serve_config_on("::1", config).await;
    let map = ConnectTo::parse([("2600:1f18::7", addr.to_string().as_str())]).unwrap();
    let p = Arc::new(runner(settings(&[&org], &[]), vec![443], 4).with_connect_to(map).with_allow_dial(vec!["::1/128".parse().unwrap()]));
    let out = p.run(&[Job::new("2600:1f18::7", "v6.example.com")]).await;
    let ev = &out[0][0];
    assert_eq!(ev.verdict, Verdict::Ours, "{ev:#?}");
    assert_eq!(ev.address, Some("[2600:1f18::7]:443".parse().unwrap()));
    assert_eq!(ev.dialed, Some(addr));
    assert!(ev.place().starts_with("[2600:1f18::7]:443 (dialed [::1]:"), "{}", ev.place());
}

#[test]
fn targets_with_and_without_ports() {
    use super::runner::parse_target;
    assert_eq!(parse_target("api.example.com").unwrap(), ("api.example.com".into(), None));
    assert_eq!(parse_target("API.example.com.:8443").unwrap(), ("api.example.com".into(), Some(8443)));
    assert_eq!(parse_target("52.1.2.3").unwrap(), ("52.1.2.3".into(), None));
    assert_eq!(parse_target("52.1.2.3:443").unwrap(), ("52.1.2.3".into(), Some(443)));
    assert_eq!(parse_target("[2600::1]:443").unwrap(), ("2600::1".into(), Some(443)));
    assert_eq!(parse_target("2600::1").unwrap(), ("2600::1".into(), None));
    assert!(parse_target("api.example.com:0").is_err());
    assert!(parse_target("bad host").is_err());
    assert_eq!(super::runner::default_sni("52.1.2.3", None), "");
    assert_eq!(super::runner::default_sni("api.example.com", None), "api.example.com");
    assert_eq!(super::runner::default_sni("52.1.2.3", Some("api.example.com.")), "api.example.com");
}

// ---- hostile TLS at scale, and malformed handshakes ----

/// Client-side TCP sockets this machine holds towards `port` (established or connecting), from
/// /proc/net/tcp: what the prober has open at one moment, whatever else the process holds.
fn client_sockets_to(port: u16) -> usize {
    let text = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    // The kernel writes the table while sockets come and go: count each socket (local address) once.
    let mut seen = std::collections::HashSet::new();
    text.lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let rem_port = f.get(2).and_then(|r| r.rsplit(':').next()).and_then(|p| u16::from_str_radix(p, 16).ok());
            let local_port = f.get(1).and_then(|r| r.rsplit(':').next()).and_then(|p| u16::from_str_radix(p, 16).ok());
            rem_port == Some(port) && local_port != Some(port) && matches!(f.get(3), Some(&"01") | Some(&"02")) && seen.insert(f[1].to_string())
        })
        .count()
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:").and_then(|v| v.trim().trim_end_matches(" kB").parse().ok()))
        .unwrap_or(0)
}

/// A loopback port free on 127.0.0.1, to bind on a thousand other loopback addresses too.
fn shared_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One TLS server config per class, shared by its listeners.
fn spy_config(l: Leaf, hints: Vec<Vec<u8>>, got: Got) -> rustls::ServerConfig {
    rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(Arc::new(Spy { hints: hints.into_iter().map(DistinguishedName::from).collect(), mandatory: true, got }))
        .with_single_cert(l.chain, l.key)
        .unwrap()
}

/// 1,000 loopback targets, each on its own address: 30 % tarpits, 10 % garbage, 5 % hostile mTLS
/// servers asking (with our CA names) for our client certificate, 1 % our own mTLS servers, the rest
/// foreign TLS. The run ends within its stated bound, the prober never holds more sockets than its
/// concurrency, memory stays bounded, and our client certificate reaches our servers only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_hostile_targets_end_within_the_bound_and_no_certificate_leaks() {
    let org = ca("Org CA");
    let c = client(&org);
    let foreign_ca = ca("Foreign CA");
    let port = shared_port();
    let (hostile_got, ours_got): (Got, Got) = (Arc::default(), Arc::default());
    let hostile = Arc::new(spy_config(leaf(Some(&foreign_ca), &["t.example.com"]), vec![org.dn(), c.ca.dn()], hostile_got.clone()));
    let ours = Arc::new(spy_config(leaf(Some(&org), &["t.example.com"]), vec![org.dn(), c.ca.dn()], ours_got.clone()));
    let foreign = Arc::new(plain_config(leaf(Some(&foreign_ca), &["t.example.com"])));
    let mut jobs = Vec::new();
    let mut classes = Vec::new();
    for i in 0..1000u32 {
        let ip = format!("127.3.{}.{}", i / 250, i % 250 + 1);
        let l = TcpListener::bind((ip.as_str(), port)).await.unwrap();
        let class = match i % 100 {
            0..=29 => "tarpit",
            30..=39 => "garbage",
            40..=44 => "hostile",
            45 => "ours",
            _ => "foreign",
        };
        let tls = match class {
            "hostile" => Some(hostile.clone()),
            "ours" => Some(ours.clone()),
            "foreign" => Some(foreign.clone()),
            _ => None,
        };
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let tls = tls.clone();
                tokio::spawn(async move {
                    match (class, tls) {
                        ("tarpit", _) => tokio::time::sleep(Duration::from_secs(30)).await,
                        ("garbage", _) => {
                            let junk: Vec<u8> = (0..4096u32).map(|k| (k.wrapping_mul(2654435761) >> 13) as u8).collect();
                            let _ = s.write_all(&junk).await;
                            tokio::time::sleep(Duration::from_secs(5)).await;
                        }
                        (_, Some(cfg)) => {
                            if let Ok(mut t) = tokio_rustls::TlsAcceptor::from(cfg).accept(s).await {
                                let _ = t.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await;
                                tokio::time::sleep(Duration::from_millis(300)).await;
                            }
                        }
                        _ => {}
                    }
                });
            }
        });
        jobs.push(Job::new(ip, "t.example.com"));
        classes.push(class);
    }
    let concurrency = 128;
    let p = Arc::new(runner(with_identity(settings(&[&org], &[]), &c), vec![port], concurrency));
    // The stated bound: waves of `concurrency` probes, each within its hard bound.
    let bound = p.settings().hard_bound() * (jobs.len().div_ceil(concurrency) as u32);
    let rss_before = rss_kib();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (mut sockets, mut rss) = (0, 0);
            while !stop.load(Ordering::SeqCst) {
                sockets = sockets.max(client_sockets_to(port));
                rss = rss.max(rss_kib());
                std::thread::sleep(Duration::from_millis(25));
            }
            (sockets, rss)
        })
    };
    let start = Instant::now();
    let out = p.run(&jobs).await;
    let took = start.elapsed();
    stop.store(true, Ordering::SeqCst);
    let (peak_sockets, peak_rss) = sampler.join().unwrap();
    assert!(took < bound, "1,000 probes took {took:?}, over the stated bound {bound:?}");
    // A read of /proc/net/tcp is no snapshot: a socket that closes and the next one that opens while it
    // is read can both appear, so allow that churn (a few sockets), not a second wave.
    assert!(peak_sockets <= concurrency + concurrency / 16, "{peak_sockets} sockets open at once, concurrency {concurrency}");
    assert!(peak_sockets >= concurrency / 2, "only {peak_sockets} sockets at once: the load never reached the bound");
    assert!(peak_rss.saturating_sub(rss_before) < 256 * 1024, "memory grew by {} MiB", (peak_rss - rss_before) / 1024);
    let mut verdicts: std::collections::BTreeMap<(&str, &str), usize> = Default::default();
    for (class, ev) in classes.iter().zip(&out) {
        assert_eq!(ev.len(), 1);
        *verdicts.entry((class, ev[0].verdict.as_str())).or_default() += 1;
    }
    let want: std::collections::BTreeMap<(&str, &str), usize> = [
        (("tarpit", "unknown_listener"), 300),
        (("garbage", "unknown_listener"), 100),
        (("hostile", "foreign"), 50),
        (("ours", "ours"), 10),
        (("foreign", "foreign"), 540),
    ]
    .into_iter()
    .collect();
    assert_eq!(verdicts, want);
    assert!(hostile_got.lock().unwrap().is_empty(), "a hostile server received our client certificate");
    assert_eq!(ours_got.lock().unwrap().len(), 10, "each of our servers received the certificate once");
}

/// A recorded TLS 1.2 server flight (ServerHello, Certificate, ServerKeyExchange, ServerHelloDone:
/// all plaintext, so a mutation reaches the certificate parser), mutated 400 ways and replayed to the
/// prober: every probe ends within its bound with a verdict, never `ours`, never a panic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_handshakes_never_panic_hang_or_pass_as_ours() {
    let org = ca("Org CA");
    let l = leaf(Some(&org), &["m.example.com"]);
    let cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS12])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(l.chain, l.key)
        .unwrap();
    let real = serve_config(cfg).await;
    // Record what the real server sends to the prober's ClientHello.
    let flight: Arc<Mutex<Vec<u8>>> = Arc::default();
    let rec = flight.clone();
    let (tap, _) = listener(move |mut client| {
        let rec = rec.clone();
        async move {
            let mut server = tokio::net::TcpStream::connect(real).await.unwrap();
            let mut hello = vec![0u8; 4096];
            let n = client.read(&mut hello).await.unwrap_or(0);
            let _ = server.write_all(&hello[..n]).await;
            let mut buf = vec![0u8; 65536];
            let mut got = Vec::new();
            while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_millis(300), server.read(&mut buf)).await {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            *rec.lock().unwrap() = got.clone();
            let _ = client.write_all(&got).await;
        }
    })
    .await;
    let s = Arc::new(settings(&[&org], &[]));
    let ev = look(tap, "m.example.com", &s).await;
    let flight = flight.lock().unwrap().clone();
    assert!(flight.len() > 500 && flight[0] == 0x16, "recorded {} bytes: {ev:#?}", flight.len());
    // Mutations, seeded: flip bits, stomp bytes with 0x00 / 0xff (length fields), cut, splice.
    let mut seed: u64 = 0x0dd_ba11;
    let mut next = move || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        seed >> 17
    };
    let mut variants = Vec::new();
    for i in 0..400 {
        let mut v = flight.clone();
        let at = (next() as usize) % v.len();
        match i % 5 {
            0 => v[at] ^= 1 << (next() % 8),
            1 => v[at] = 0xff,
            2 => v[at] = 0x00,
            3 => v.truncate(at.max(1)),
            _ => {
                let len = (next() as usize % 64) + 1;
                let from = (next() as usize) % v.len();
                let piece: Vec<u8> = v[from..(from + len).min(v.len())].to_vec();
                v.splice(at..at, piece);
            }
        }
        variants.push(v);
    }
    let bound = s.hard_bound();
    let mut set = tokio::task::JoinSet::new();
    for (i, v) in variants.into_iter().enumerate() {
        let s = s.clone();
        set.spawn(async move {
            let (addr, _) = listener(move |mut c| {
                let v = v.clone();
                async move {
                    let mut hello = vec![0u8; 4096];
                    let _ = c.read(&mut hello).await;
                    let _ = c.write_all(&v).await;
                    tokio::time::sleep(Duration::from_secs(3)).await;
                }
            })
            .await;
            let start = Instant::now();
            let ev = probe("m.example.com", Some(addr), addr, "m.example.com", &s).await;
            (i, ev, start.elapsed())
        });
    }
    let mut seen = std::collections::BTreeMap::new();
    while let Some(done) = set.join_next().await {
        let (i, ev, took) = done.expect("a probe panicked on a malformed handshake");
        assert!(took <= bound, "variant {i} took {took:?}");
        assert_ne!(ev.verdict, Verdict::Ours, "variant {i}: a mangled handshake passed as ours: {ev:#?}");
        *seen.entry(ev.verdict.as_str()).or_insert(0) += 1;
    }
    assert!(seen.len() >= 2, "every variant ended the same way ({seen:?}): the mutations reached little");
}

#[test]
fn certificate_required_is_read_from_the_rustls_error_not_its_text() {
    use rustls::AlertDescription as A;
    let wrapped = |e: rustls::Error| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
    assert_eq!(super::alert_received(&wrapped(rustls::Error::AlertReceived(A::CertificateRequired))), Some(A::CertificateRequired));
    assert!(super::refuses_missing_client_cert(A::CertificateRequired));
    assert!(!super::refuses_missing_client_cert(A::CloseNotify));
    // Text that merely mentions the alert is not the alert.
    let text = std::io::Error::other("received fatal alert: CertificateRequired");
    assert_eq!(super::alert_received(&text), None);
    assert_eq!(super::alert_received(&wrapped(rustls::Error::DecryptError)), None);
}

//! Observe mode against real rustls servers on 127.0.0.1, certificates made by rcgen at test time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

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

struct Leaf {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    spki: [u8; 32],
}

/// A leaf for `names`, signed by `issuer` (or self-signed).
fn leaf(issuer: Option<&Ca>, names: &[&str]) -> Leaf {
    let key = KeyPair::generate().unwrap();
    let mut p = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name.push(DnType::CommonName, names[0]);
    let (cert, mut chain) = match issuer {
        Some(ca) => (p.signed_by(&key, &ca.cert, &ca.key).unwrap(), vec![]),
        None => (p.self_signed(&key).unwrap(), vec![]),
    };
    chain.insert(0, cert.der().clone());
    if let Some(ca) = issuer {
        chain.push(ca.cert.der().clone());
    }
    let spki: [u8; 32] = Sha256::digest(key.public_key_der()).into();
    Leaf { chain, key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())), spki }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A TLS server on a free loopback port; with `require_client_from`, it demands a client certificate
/// from that CA.
async fn serve(leaf: Leaf, require_client_from: Option<&Ca>) -> SocketAddr {
    let builder = rustls::ServerConfig::builder_with_provider(provider()).with_safe_default_protocol_versions().unwrap();
    let config = match require_client_from {
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            roots.add(ca.cert.der().clone()).unwrap();
            let v = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider()).build().unwrap();
            builder.with_client_cert_verifier(v).with_single_cert(leaf.chain, leaf.key).unwrap()
        }
        None => builder.with_no_client_auth().with_single_cert(leaf.chain, leaf.key).unwrap(),
    };
    serve_config(config).await
}

async fn serve_config(config: rustls::ServerConfig) -> SocketAddr {
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        for _ in 0..4 {
            let Ok((s, _)) = listener.accept().await else { return };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(s).await {
                    let _ = tls.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await;
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            });
        }
    });
    addr
}

fn settings(anchors: &[&Ca], pins: &[[u8; 32]]) -> Settings {
    Settings {
        connect_timeout: Duration::from_millis(500),
        handshake_timeout: Duration::from_millis(800),
        trust: Trust { anchors: anchors.iter().map(|c| c.cert.der().clone()).collect(), spki_pins: pins.to_vec() },
    }
}

#[tokio::test]
async fn our_ca_is_ours_and_the_evidence_is_recorded() {
    let org = ca("Org CA");
    let addr = serve(leaf(Some(&org), &["www.example.com"]), None).await;
    let ev = observe(addr, "www.example.com", &settings(&[&org], &[])).await;
    assert_eq!(ev.verdict, Verdict::Ours, "{ev:#?}");
    assert_eq!(ev.chain.len(), 2);
    assert!(ev.chain[0].sans.contains(&"www.example.com".to_string()));
    assert!(ev.chain[0].issuer.contains("Org CA"));
    assert_eq!(ev.chain[0].spki_sha256.len(), 64);
    assert!(ev.tls_version.as_deref().unwrap().contains("TLSv1_3"), "{:?}", ev.tls_version);
    assert!(ev.cipher_suite.is_some());
    assert_eq!(ev.requested_ca_names, None);
}

#[tokio::test]
async fn a_foreign_ca_valid_for_our_name_is_foreign() {
    let (org, other) = (ca("Org CA"), ca("Some Public CA"));
    let addr = serve(leaf(Some(&other), &["www.example.com"]), None).await;
    let ev = observe(addr, "www.example.com", &settings(&[&org], &[])).await;
    assert_eq!(ev.verdict, Verdict::Foreign, "{ev:#?}");
    assert!(ev.detail.contains("Some Public CA"), "{}", ev.detail);
}

#[tokio::test]
async fn self_signed_and_other_names_are_foreign_and_a_pin_is_ours() {
    let org = ca("Org CA");
    let l = leaf(None, &["other.example.net"]);
    let pin = l.spki;
    let addr = serve(l, None).await;
    assert_eq!(observe(addr, "www.example.com", &settings(&[&org], &[])).await.verdict, Verdict::Foreign);
    // The same self-signed server, pinned by its SPKI: ours.
    assert_eq!(observe(addr, "www.example.com", &settings(&[], &[pin])).await.verdict, Verdict::Ours);
}

#[tokio::test]
async fn a_shared_provider_wildcard_is_shared() {
    let other = ca("Some Public CA");
    let addr = serve(leaf(Some(&other), &["*.cloudfront.net", "cloudfront.net"]), None).await;
    let ev = observe(addr, "cdn.example.com", &settings(&[], &[])).await;
    assert_eq!(ev.verdict, Verdict::Shared, "{ev:#?}");
}

#[tokio::test]
async fn mtls_required_records_the_requested_ca_names_and_presents_nothing() {
    let org = ca("Org CA");
    let addr = serve(leaf(Some(&org), &["api.example.com"]), Some(&org)).await;
    let ev = observe(addr, "api.example.com", &settings(&[&org], &[])).await;
    assert_eq!(ev.verdict, Verdict::Ours, "{ev:#?}");
    let asked = ev.requested_ca_names.as_ref().expect("a CertificateRequest");
    assert!(asked.iter().any(|n| n.contains("Org CA")), "{asked:?}");
    assert!(ev.client_cert_mandatory, "the server refuses without a certificate: {ev:#?}");
}

#[tokio::test]
async fn a_closed_port_is_no_answer() {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let ev = observe(addr, "www.example.com", &settings(&[], &[])).await;
    assert_eq!(ev.verdict, Verdict::NoAnswer, "{ev:#?}");
}

#[tokio::test]
async fn a_garbage_listener_and_a_tarpit_are_unknown_listeners() {
    let garbage = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gaddr = garbage.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = garbage.accept().await {
            let _ = s.write_all(b"SSH-2.0-OpenSSH_9.6\r\n").await;
        }
    });
    let ev = observe(gaddr, "www.example.com", &settings(&[], &[])).await;
    assert_eq!(ev.verdict, Verdict::UnknownListener, "{ev:#?}");
    let tarpit = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let taddr = tarpit.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = tarpit.accept().await {
            held.push(s);
        }
    });
    let start = std::time::Instant::now();
    let ev = observe(taddr, "www.example.com", &settings(&[], &[])).await;
    assert_eq!(ev.verdict, Verdict::UnknownListener, "{ev:#?}");
    assert!(start.elapsed() < Duration::from_secs(3), "the handshake timeout bounds a tarpit");
}

/// Serves a fixed chain and key, however they match.
#[derive(Debug)]
struct Fixed(Arc<rustls::sign::CertifiedKey>);

impl rustls::server::ResolvesServerCert for Fixed {
    fn resolve(&self, _: rustls::server::ClientHello<'_>) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
}

#[tokio::test]
async fn an_impostor_replaying_our_chain_without_our_key_is_caught() {
    let org = ca("Org CA");
    let ours = leaf(Some(&org), &["www.example.com"]);
    let stranger = KeyPair::generate().unwrap();
    let key = provider().key_provider.load_private_key(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(stranger.serialize_der()))).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(Fixed(Arc::new(rustls::sign::CertifiedKey::new(ours.chain, key)))));
    let addr = serve_config(config).await;
    let ev = observe(addr, "www.example.com", &settings(&[&org], &[])).await;
    assert_eq!(ev.verdict, Verdict::Foreign, "{ev:#?}");
    assert!(ev.chain[0].issuer.contains("Org CA"), "it did present our chain: {ev:#?}");
    assert!(ev.error.as_deref().unwrap_or("").to_ascii_lowercase().contains("signature"), "{:?}", ev.error);
}

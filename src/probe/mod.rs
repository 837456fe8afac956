//! The prober, observe mode: who answers at a target? One TCP connect and one TLS handshake that
//! records everything (chain, version, cipher, ALPN, the CA names of a CertificateRequest) and presents
//! no client certificate, then a verdict from the configured trust anchors and SPKI pins only.
//! "Publicly trusted and valid for our name" is `foreign`: that is what a takeover looks like.
//!
//! Not yet here (issue 4 goes on): the authenticate mode with the client certificate, `connect_to`,
//! resolving hostnames, concurrency bounds and retries, wiring into `scan`, and `dangle probe`.

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::client::danger::ServerCertVerifier;
use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

pub mod danger;

/// The verdict of a probe (contract names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    NotProbed,
    NoAnswer,
    UnknownListener,
    Ours,
    Foreign,
    Shared,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotProbed => "not_probed",
            Self::NoAnswer => "no_answer",
            Self::UnknownListener => "unknown_listener",
            Self::Ours => "ours",
            Self::Foreign => "foreign",
            Self::Shared => "shared",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What makes a server ours.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    pub anchors: Vec<CertificateDer<'static>>,
    /// SHA-256 of SubjectPublicKeyInfo.
    pub spki_pins: Vec<[u8; 32]>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub connect_timeout: Duration,
    pub handshake_timeout: Duration,
    pub trust: Trust,
}

impl Default for Settings {
    fn default() -> Self {
        Self { connect_timeout: Duration::from_secs(3), handshake_timeout: Duration::from_secs(5), trust: Trust::default() }
    }
}

/// One certificate of a presented chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertInfo {
    pub subject: String,
    pub issuer: String,
    pub sans: Vec<String>,
    pub not_before: String,
    pub not_after: String,
    pub serial: String,
    pub spki_sha256: String,
    pub sha256: String,
}

/// Everything one probe saw.
#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    pub address: SocketAddr,
    pub sni: String,
    pub verdict: Verdict,
    pub tls_version: Option<String>,
    pub cipher_suite: Option<String>,
    pub alpn: Option<String>,
    pub chain: Vec<CertInfo>,
    /// The CertificateRequest's CA names; `None` when no client certificate was requested.
    pub requested_ca_names: Option<Vec<String>>,
    /// The server refused the handshake without a client certificate.
    pub client_cert_mandatory: bool,
    pub connect_ms: u64,
    pub handshake_ms: u64,
    pub error: Option<String>,
    /// Why the verdict, in a sentence.
    pub detail: String,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Parses a DER certificate for the evidence; unparseable ones keep their hash.
pub fn cert_info(der: &CertificateDer<'_>) -> CertInfo {
    let sha256 = hex(&Sha256::digest(der.as_ref()));
    match x509_parser::parse_x509_certificate(der.as_ref()) {
        Ok((_, c)) => {
            let sans = c
                .subject_alternative_name()
                .ok()
                .flatten()
                .map(|ext| {
                    ext.value
                        .general_names
                        .iter()
                        .map(|g| match g {
                            x509_parser::extensions::GeneralName::DNSName(d) => d.to_string(),
                            x509_parser::extensions::GeneralName::IPAddress(ip) => hex(ip),
                            other => other.to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            CertInfo {
                subject: c.subject().to_string(),
                issuer: c.issuer().to_string(),
                sans,
                not_before: c.validity().not_before.to_string(),
                not_after: c.validity().not_after.to_string(),
                serial: c.raw_serial_as_string(),
                spki_sha256: hex(&Sha256::digest(c.public_key().raw)),
                sha256,
            }
        }
        Err(e) => CertInfo {
            subject: format!("(unparseable: {e})"),
            issuer: String::new(),
            sans: vec![],
            not_before: String::new(),
            not_after: String::new(),
            serial: String::new(),
            spki_sha256: String::new(),
            sha256,
        },
    }
}

/// Provider certificates shared by every customer: TLS cannot say whose service answers.
const SHARED_WILDCARDS: &[&str] = &[
    "*.cloudfront.net",
    "*.s3.amazonaws.com",
    "*.elb.amazonaws.com",
    "*.azurewebsites.net",
    "*.blob.core.windows.net",
    "*.azureedge.net",
    "*.azurefd.net",
    "*.trafficmanager.net",
    "*.herokuapp.com",
    "*.github.io",
];

/// Does the chain prove the server is ours: an SPKI pin anywhere in it, or a path to our anchors?
fn is_ours(chain: &[CertificateDer<'static>], sni: &str, trust: &Trust) -> bool {
    if chain.is_empty() {
        return false;
    }
    if !trust.spki_pins.is_empty() {
        for c in chain {
            if let Ok((_, x)) = x509_parser::parse_x509_certificate(c.as_ref()) {
                let spki: [u8; 32] = Sha256::digest(x.public_key().raw).into();
                if trust.spki_pins.contains(&spki) {
                    return true;
                }
            }
        }
    }
    if trust.anchors.is_empty() {
        return false;
    }
    let mut roots = rustls::RootCertStore::empty();
    for a in &trust.anchors {
        let _ = roots.add(a.clone());
    }
    let Ok(verifier) = WebPkiServerVerifier::builder(Arc::new(roots)).build() else { return false };
    let name = ServerName::try_from(sni.to_string()).unwrap_or_else(|_| ServerName::try_from("invalid.invalid").expect("valid"));
    match verifier.verify_server_cert(&chain[0], &chain[1..], &name, &[], UnixTime::now()) {
        Ok(_) => true,
        // Our CA, another of our names: still our server.
        Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
        | Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForNameContext { .. })) => true,
        Err(_) => false,
    }
}

fn names(ders: &[Vec<u8>]) -> Vec<String> {
    ders.iter()
        .map(|d| {
            <x509_parser::x509::X509Name as x509_parser::prelude::FromDer<x509_parser::error::X509Error>>::from_der(d)
                .map(|(_, n)| n.to_string())
                .unwrap_or_else(|_| format!("(der {})", hex(d)))
        })
        .collect()
}

/// Probes one address with `sni`, in observe mode: never presents a client certificate.
pub async fn observe(address: SocketAddr, sni: &str, settings: &Settings) -> Evidence {
    let mut ev = Evidence {
        address,
        sni: sni.to_string(),
        verdict: Verdict::NoAnswer,
        tls_version: None,
        cipher_suite: None,
        alpn: None,
        chain: vec![],
        requested_ca_names: None,
        client_cert_mandatory: false,
        connect_ms: 0,
        handshake_ms: 0,
        error: None,
        detail: String::new(),
    };
    let start = Instant::now();
    let tcp = match tokio::time::timeout(settings.connect_timeout, TcpStream::connect(address)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            ev.error = Some(e.to_string());
            ev.detail = format!("nothing answers at {address}: {e}");
            return ev;
        }
        Err(_) => {
            ev.error = Some("connect timed out".into());
            ev.detail = format!("nothing answers at {address} within {} ms", settings.connect_timeout.as_millis());
            return ev;
        }
    };
    ev.connect_ms = start.elapsed().as_millis() as u64;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let seen = Arc::new(Mutex::new(danger::Seen::default()));
    let mut config = match rustls::ClientConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions() {
        Ok(b) => b
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(danger::Recorder::new(provider, seen.clone())))
            .with_client_cert_resolver(Arc::new(danger::Asked::new(seen.clone()))),
        Err(e) => {
            ev.error = Some(e.to_string());
            return ev;
        }
    };
    config.resumption = Resumption::disabled();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let name = ServerName::try_from(sni.to_string()).unwrap_or_else(|_| ServerName::IpAddress(address.ip().into()));
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let hs_start = Instant::now();
    let result = tokio::time::timeout(settings.handshake_timeout, connector.connect(name, tcp)).await;
    ev.handshake_ms = hs_start.elapsed().as_millis() as u64;
    let (chain, asked) = {
        let s = seen.lock().expect("probe state");
        (s.chain.clone(), s.requested_ca_names.clone())
    };
    ev.chain = chain.iter().map(cert_info).collect();
    ev.requested_ca_names = asked.as_deref().map(names);
    match result {
        Err(_) => {
            ev.verdict = Verdict::UnknownListener;
            ev.error = Some("TLS handshake timed out".into());
            ev.detail = format!("{address} accepts connections but completes no TLS handshake within {} ms", settings.handshake_timeout.as_millis());
            return ev;
        }
        Ok(Err(e)) => {
            ev.error = Some(e.to_string());
            if chain.is_empty() {
                ev.verdict = Verdict::UnknownListener;
                ev.detail = format!("{address} is open but speaks no TLS we can complete: {e}");
                return ev;
            }
            // A chain came, but the handshake failed: a bad signature (someone replaying a chain it
            // has no key for) or a refusal without a client certificate. Never ours.
            ev.client_cert_mandatory = asked.is_some();
            ev.verdict = Verdict::Foreign;
            ev.detail = format!("the handshake failed after the server presented {}: {e}", ev.chain[0].subject);
            return ev;
        }
        Ok(Ok(mut tls)) => {
            {
                let (_, conn) = tls.get_ref();
                ev.tls_version = conn.protocol_version().map(|v| format!("{v:?}"));
                ev.cipher_suite = conn.negotiated_cipher_suite().map(|c| format!("{:?}", c.suite()));
                ev.alpn = conn.alpn_protocol().map(|a| String::from_utf8_lossy(a).into_owned());
            }
            // TLS 1.3 servers that require a client certificate say so after the handshake.
            let mut buf = [0u8; 1];
            if let Ok(Err(e)) = tokio::time::timeout(Duration::from_millis(200), tls.read(&mut buf)).await {
                if e.to_string().to_ascii_lowercase().contains("certificaterequired") || e.to_string().contains("CertificateRequired") {
                    ev.client_cert_mandatory = true;
                }
            }
        }
    }
    let leaf = &ev.chain[0];
    if is_ours(&chain, sni, &settings.trust) {
        ev.verdict = Verdict::Ours;
        ev.detail = format!("our certificate answers: {} issued by {}", leaf.subject, leaf.issuer);
    } else if leaf.sans.iter().any(|s| SHARED_WILDCARDS.contains(&s.as_str())) {
        ev.verdict = Verdict::Shared;
        ev.detail = format!("a provider's shared certificate answers ({}): TLS cannot say whose service this is", leaf.sans.join(", "));
    } else {
        ev.verdict = Verdict::Foreign;
        ev.detail = format!("a foreign server answers: {} issued by {} for {}", leaf.subject, leaf.issuer, leaf.sans.join(", "));
    }
    ev
}

#[cfg(test)]
mod tests;

//! The prober: who answers at a target? Two modes, both on tokio + rustls.
//!
//! - **Observe** ([`observe`]), for every probe: one TCP connect and one TLS handshake that records
//!   everything (chain, version, cipher suite, key-exchange group, ALPN, the CA names of a
//!   CertificateRequest) and presents no client certificate. The verdict comes from the configured trust
//!   anchors and SPKI pins only: "publicly trusted and valid for our name" is `foreign`, because that is
//!   what a takeover looks like. The verifier that lets the handshake finish with anyone lives in
//!   [`danger`] and nowhere else; it still checks the handshake signature, so an impostor replaying our
//!   public chain without our key is caught.
//! - **Authenticate** ([`auth`]), only after an `ours` verdict and only when a client certificate is
//!   configured: a second handshake, TLS 1.3 only, with a strict verifier, presenting the certificate
//!   only to a server that asks for one of our CA names (or for any).
//!
//! [`runner`] resolves names, applies `connect_to` and bounds concurrency; [`load`] turns `[probe]` into
//! [`Settings`].

use std::net::SocketAddr;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant};

use rustls::client::danger::ServerCertVerifier;
use rustls::client::{Resumption, WebPkiServerVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

pub mod auth;
mod danger;
mod signature;
pub mod dns;
pub mod http;
pub mod load;
mod options;
pub mod runner;

pub use dangle_model::Verdict;
pub use options::{NamedTarget, Options};
pub use runner::{default_sni, parse_target, ConnectTo, Job, Lookup, Prober};


/// What makes a server ours: a chain to one of these anchors, or one of these SPKI pins anywhere in
/// the presented chain.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    pub anchors: Vec<CertificateDer<'static>>,
    /// SHA-256 of SubjectPublicKeyInfo.
    pub spki_pins: Vec<[u8; 32]>,
    /// Built once from `anchors`.
    verifier: Option<Arc<WebPkiServerVerifier>>,
}

impl Trust {
    /// Fails when an anchor is not a usable CA certificate.
    pub fn new(anchors: Vec<CertificateDer<'static>>, spki_pins: Vec<[u8; 32]>) -> Result<Self, String> {
        let verifier = if anchors.is_empty() {
            None
        } else {
            let mut roots = rustls::RootCertStore::empty();
            for (i, a) in anchors.iter().enumerate() {
                roots.add(a.clone()).map_err(|e| format!("trust anchor {}: {e}", i + 1))?;
            }
            Some(WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider()).build().map_err(|e| e.to_string())?)
        };
        Ok(Self { anchors, spki_pins, verifier })
    }

    pub fn is_empty(&self) -> bool {
        self.anchors.is_empty() && self.spki_pins.is_empty()
    }

    /// Does this chain prove the server is ours? A pin anywhere in it, or a path to our anchors (for
    /// any name: our CA certifying another of our names is still our server). The handshake signature
    /// is checked elsewhere: by the observe handshake, or by the strict verifier's caller.
    pub fn vouches_for(&self, chain: &[CertificateDer<'_>], sni: &str) -> bool {
        self.vouch(chain, sni) == Vouch::Yes
    }

    /// [`Self::vouches_for`], telling apart a chain that is ours but outside its validity.
    pub fn vouch(&self, chain: &[CertificateDer<'_>], sni: &str) -> Vouch {
        let Some((leaf, rest)) = chain.split_first() else { return Vouch::No };
        if !self.spki_pins.is_empty() && chain.iter().any(|c| spki_sha256(c).is_some_and(|s| self.spki_pins.contains(&s))) {
            return Vouch::Yes;
        }
        let Some(verifier) = &self.verifier else { return Vouch::No };
        let name = ServerName::try_from(sni.to_string()).unwrap_or_else(|_| ServerName::try_from("invalid.invalid").expect("a valid name"));
        let at = |now| match verifier.verify_server_cert(leaf, rest, &name, &[], now) {
            Ok(_) => true,
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForNameContext { .. })) => true,
            Err(_) => false,
        };
        if at(UnixTime::now()) {
            return Vouch::Yes;
        }
        // Expired (or not yet valid): webpki reports the time before it looks for a path, so check the
        // path again at a moment the leaf was valid.
        let Ok((_, x)) = x509_parser::parse_x509_certificate(leaf.as_ref()) else { return Vouch::No };
        let Ok(secs) = u64::try_from(x.validity().not_before.timestamp()) else { return Vouch::No };
        if at(UnixTime::since_unix_epoch(Duration::from_secs(secs + 1))) {
            Vouch::OutsideValidity
        } else {
            Vouch::No
        }
    }

    /// The DER subject names of our anchors: what a server of ours puts in its CertificateRequest.
    pub fn ca_names(&self) -> Vec<Vec<u8>> {
        self.anchors.iter().filter_map(|a| x509_parser::parse_x509_certificate(a.as_ref()).ok().map(|(_, c)| c.subject().as_raw().to_vec())).collect()
    }
}

/// What [`Trust`] says of a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vouch {
    Yes,
    /// Our anchors certify it, but it is expired or not yet valid.
    OutsideValidity,
    No,
}

/// The client certificate for authenticate mode, and the CA names a server of ours would ask for.
#[derive(Debug, Clone)]
pub struct Identity {
    pub key: Arc<CertifiedKey>,
    /// DER names: the issuers of the client chain, the subjects of its CA certificates, and the
    /// subjects of our trust anchors.
    pub ca_names: Vec<Vec<u8>>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub connect_timeout: Duration,
    pub handshake_timeout: Duration,
    pub trust: Trust,
    pub identity: Option<Identity>,
}

impl Default for Settings {
    fn default() -> Self {
        Self { connect_timeout: Duration::from_secs(3), handshake_timeout: Duration::from_secs(5), trust: Trust::default(), identity: None }
    }
}

impl Settings {
    /// The most one probe can take (two observe attempts and the authenticate handshake): the bound a
    /// tarpit meets, whatever it does.
    pub fn hard_bound(&self) -> Duration {
        3 * (self.connect_timeout + self.handshake_timeout + after_handshake(self)) + Duration::from_secs(1)
    }
}

/// The alert a peer sent, as rustls reports it through tokio-rustls (an `io::Error` wrapping
/// `rustls::Error::AlertReceived`): typed, so that a rustls release rewording its messages cannot
/// silently break mTLS detection.
pub(crate) fn alert_received(e: &std::io::Error) -> Option<rustls::AlertDescription> {
    match e.get_ref()?.downcast_ref::<rustls::Error>()? {
        rustls::Error::AlertReceived(a) => Some(*a),
        _ => None,
    }
}

/// Alerts by which a server refuses a handshake that carried no client certificate: TLS 1.3's
/// `certificate_required` (RFC 8446 §4.4.2.4), and what older stacks send instead.
pub(crate) fn refuses_missing_client_cert(a: rustls::AlertDescription) -> bool {
    use rustls::AlertDescription as A;
    matches!(a, A::CertificateRequired | A::HandshakeFailure | A::BadCertificate)
}

/// How long to wait after the handshake for a TLS 1.3 server's `certificate_required` alert.
pub(crate) fn after_handshake(s: &Settings) -> Duration {
    s.handshake_timeout.min(Duration::from_secs(1))
}

/// One crypto provider for every probe.
pub(crate) use crate::tls::provider;

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

/// What the authenticate-mode handshake did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Authentication {
    /// The client certificate went on the wire (TLS 1.3, to a server that proved it is ours).
    pub presented: bool,
    /// After presenting: did the server keep the connection (`Some(true)`) or refuse the certificate?
    pub accepted: Option<bool>,
    pub detail: String,
}

/// Everything one probe saw.
#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    /// The DNS target probed: an address or a host name.
    pub target: String,
    /// The address the target resolves to, with the port; `None` when it did not resolve or was mapped
    /// by `connect_to` before resolving.
    pub address: Option<SocketAddr>,
    /// The address actually dialed (differs from `address` under `connect_to`).
    pub dialed: Option<SocketAddr>,
    pub sni: String,
    pub verdict: Verdict,
    pub tls_version: Option<String>,
    pub cipher_suite: Option<String>,
    pub kx_group: Option<String>,
    pub alpn: Option<String>,
    pub chain: Vec<CertInfo>,
    /// The CertificateRequest's CA names; `None` when no client certificate was requested.
    pub requested_ca_names: Option<Vec<String>>,
    /// The server refuses the handshake without a client certificate.
    pub client_cert_mandatory: bool,
    pub connect_ms: u64,
    pub handshake_ms: u64,
    /// 2 when the first attempt timed out and the probe was retried.
    pub attempts: u8,
    pub error: Option<String>,
    /// Why the verdict, in a sentence.
    pub detail: String,
    pub authentication: Option<Authentication>,
    #[serde(skip)]
    timed_out: bool,
}

impl Evidence {
    pub fn new(target: &str, address: Option<SocketAddr>, sni: &str) -> Self {
        Self {
            target: target.to_string(),
            address,
            dialed: None,
            sni: sni.to_string(),
            verdict: Verdict::NoAnswer,
            tls_version: None,
            cipher_suite: None,
            kx_group: None,
            alpn: None,
            chain: vec![],
            requested_ca_names: None,
            client_cert_mandatory: false,
            connect_ms: 0,
            handshake_ms: 0,
            attempts: 1,
            error: None,
            detail: String::new(),
            authentication: None,
            timed_out: false,
        }
    }

    /// A probe that did not happen, with why.
    pub fn not_probed(target: &str, address: Option<SocketAddr>, sni: &str, why: String) -> Self {
        Self { verdict: Verdict::NotProbed, detail: why, ..Self::new(target, address, sni) }
    }

    /// `address`, or the dialed address, or the target: where this evidence was gathered.
    pub fn place(&self) -> String {
        match (self.address, self.dialed) {
            (Some(a), Some(d)) if a != d => format!("{a} (dialed {d})"),
            (Some(a), _) => a.to_string(),
            (None, Some(d)) => format!("{} (dialed {d})", self.target),
            (None, None) => self.target.clone(),
        }
    }
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn spki_sha256(der: &CertificateDer<'_>) -> Option<[u8; 32]> {
    x509_parser::parse_x509_certificate(der.as_ref()).ok().map(|(_, c)| Sha256::digest(c.public_key().raw).into())
}

/// [`cert_info`], remembered by the certificate's SHA-256: a scan meets the same provider and CDN
/// certificates at many targets. Bounded: past [`CERT_CACHE`] entries it starts over.
fn cert_info_cached(der: &CertificateDer<'_>) -> CertInfo {
    static CACHE: LazyLock<Mutex<rustc_hash::FxHashMap<[u8; 32], CertInfo>>> = LazyLock::new(Default::default);
    let key: [u8; 32] = Sha256::digest(der.as_ref()).into();
    if let Some(c) = CACHE.lock().expect("certificate cache").get(&key) {
        return c.clone();
    }
    let info = cert_info(der);
    let mut cache = CACHE.lock().expect("certificate cache");
    if cache.len() >= CERT_CACHE {
        cache.clear();
    }
    cache.insert(key, info.clone());
    info
}

const CERT_CACHE: usize = 4096;

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
                            x509_parser::extensions::GeneralName::IPAddress(ip) => match ip.len() {
                                4 => std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*ip).expect("4 bytes")).to_string(),
                                16 => std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*ip).expect("16 bytes")).to_string(),
                                _ => hex(ip),
                            },
                            other => other.to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            CertInfo {
                subject: c.subject().to_string(),
                issuer: c.issuer().to_string(),
                sans,
                not_before: when(&c.validity().not_before),
                not_after: when(&c.validity().not_after),
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

/// A certificate time as RFC 3339 UTC (as the store writes times); before 1970, as written.
fn when(t: &x509_parser::time::ASN1Time) -> String {
    u64::try_from(t.timestamp()).map(crate::time::format_unix).unwrap_or_else(|_| t.to_string())
}

/// DER distinguished names, as a person reads them.
pub fn names(ders: &[Vec<u8>]) -> Vec<String> {
    ders.iter()
        .map(|d| {
            <x509_parser::x509::X509Name as x509_parser::prelude::FromDer<x509_parser::error::X509Error>>::from_der(d)
                .map(|(_, n)| n.to_string())
                .unwrap_or_else(|_| format!("(der {})", hex(d)))
        })
        .collect()
}

/// The name rustls sends as SNI; an address (no SNI is sent) when `sni` is not a valid DNS name.
pub(crate) fn server_name(sni: &str, fallback: SocketAddr) -> ServerName<'static> {
    ServerName::try_from(sni.to_string()).unwrap_or_else(|_| ServerName::IpAddress(fallback.ip().into()))
}

/// Connects within the connect timeout; the error is the evidence's text.
pub(crate) async fn connect(dial: SocketAddr, timeout: Duration) -> Result<TcpStream, (String, bool)> {
    match tokio::time::timeout(timeout, TcpStream::connect(dial)).await {
        Ok(Ok(s)) => {
            let _ = s.set_nodelay(true);
            Ok(s)
        }
        Ok(Err(e)) => Err((e.to_string(), false)),
        Err(_) => Err((format!("connect timed out after {} ms", timeout.as_millis()), true)),
    }
}

/// Probes one address in observe mode, dialing `dial` (which `connect_to` may have changed) with
/// `sni`. Never presents a client certificate. Retries once when the first attempt timed out.
pub async fn observe(target: &str, address: Option<SocketAddr>, dial: SocketAddr, sni: &str, settings: &Settings) -> Evidence {
    let first = observe_once(target, address, dial, sni, settings).await;
    if !first.timed_out {
        return first;
    }
    let mut second = observe_once(target, address, dial, sni, settings).await;
    second.attempts = 2;
    second
}

/// [`observe`], then [`auth::authenticate`] when the server proved to be ours and a client
/// certificate is configured.
pub async fn probe(target: &str, address: Option<SocketAddr>, dial: SocketAddr, sni: &str, settings: &Settings) -> Evidence {
    let bound = settings.hard_bound();
    let work = async {
        let mut ev = observe(target, address, dial, sni, settings).await;
        if ev.verdict == Verdict::Ours {
            if let Some(id) = &settings.identity {
                ev.authentication = Some(auth::authenticate(dial, sni, settings, id).await);
            }
        }
        ev
    };
    match tokio::time::timeout(bound, work).await {
        Ok(ev) => ev,
        Err(_) => {
            let mut ev = Evidence::new(target, address, sni);
            ev.dialed = Some(dial);
            ev.verdict = Verdict::UnknownListener;
            ev.error = Some(format!("probe exceeded its bound of {} ms", bound.as_millis()));
            ev.detail = format!("{dial} held the probe past its bound");
            ev
        }
    }
}

async fn observe_once(target: &str, address: Option<SocketAddr>, dial: SocketAddr, sni: &str, settings: &Settings) -> Evidence {
    let mut ev = Evidence::new(target, address, sni);
    ev.dialed = Some(dial);
    let start = Instant::now();
    let tcp = match connect(dial, settings.connect_timeout).await {
        Ok(s) => s,
        Err((e, timed_out)) => {
            ev.timed_out = timed_out;
            ev.detail = format!("nothing answers at {}: {e}", ev.place());
            ev.error = Some(e);
            return ev;
        }
    };
    ev.connect_ms = start.elapsed().as_millis() as u64;
    let seen = Arc::new(Mutex::new(danger::Seen::default()));
    let connector = match recording_connector(&seen) {
        Ok(c) => c,
        Err(e) => {
            ev.error = Some(e);
            return ev;
        }
    };
    let hs_start = Instant::now();
    let result = tokio::time::timeout(settings.handshake_timeout, connector.connect(server_name(sni, dial), tcp)).await;
    ev.handshake_ms = hs_start.elapsed().as_millis() as u64;
    let (chain, asked, signed) = {
        let s = seen.lock().expect("probe state");
        (s.chain.clone(), s.requested_ca_names.clone(), s.signature_valid)
    };
    ev.chain = chain.iter().map(cert_info_cached).collect();
    ev.requested_ca_names = asked.as_deref().map(names);
    match result {
        Err(_) => {
            ev.timed_out = true;
            ev.verdict = Verdict::UnknownListener;
            ev.error = Some(format!("TLS handshake timed out after {} ms", settings.handshake_timeout.as_millis()));
            ev.detail = format!("{} accepts connections but completes no TLS handshake", ev.place());
            return ev;
        }
        Ok(Err(e)) => {
            if failed_handshake(&mut ev, &e, chain.is_empty(), signed, asked.is_some()) {
                return ev;
            }
        }
        Ok(Ok(mut tls)) => {
            session(&mut ev, tls.get_ref().1);
            // A TLS 1.3 server that requires a client certificate says so after our Finished.
            if asked.is_some() {
                let mut buf = [0u8; 1];
                if let Ok(Err(e)) = tokio::time::timeout(after_handshake(settings), tls.read(&mut buf)).await {
                    if alert_received(&e).is_some_and(refuses_missing_client_cert) {
                        ev.client_cert_mandatory = true;
                    }
                }
            }
        }
    }
    judge(&mut ev, &chain, sni, &settings.trust);
    ev
}

/// A client that completes any handshake, recording the chain, whether the server's handshake
/// signature verified, and what client CAs it asked for; it never presents a certificate.
fn recording_connector(seen: &Arc<Mutex<danger::Seen>>) -> Result<tokio_rustls::TlsConnector, String> {
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(danger::Recorder::new(provider(), seen.clone())))
        .with_client_cert_resolver(Arc::new(danger::Asked::new(seen.clone())));
    config.resumption = Resumption::disabled();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsConnector::from(Arc::new(config)))
}

/// A handshake that failed: `true` when that settles the verdict; `false` when the chain is still
/// to be judged (the server proved it holds the key, and refused us for another reason).
fn failed_handshake(ev: &mut Evidence, e: &std::io::Error, no_chain: bool, signed: bool, asked: bool) -> bool {
    ev.error = Some(e.to_string());
    if no_chain {
        ev.verdict = Verdict::UnknownListener;
        ev.detail = format!("{} is open but speaks no TLS we can complete: {e}", ev.place());
        return true;
    }
    // A chain came and the handshake failed. With a valid handshake signature, the server holds the
    // key (a TLS 1.2 server refusing us for want of a client certificate, say): judge the chain.
    // Without one, someone presents a chain it cannot sign for: never ours.
    ev.client_cert_mandatory = asked;
    if !signed {
        ev.verdict = Verdict::Foreign;
        ev.detail = format!("the handshake failed after the server presented {}: {e}", ev.chain[0].subject);
        return true;
    }
    false
}

/// What the session negotiated, by the registry's names.
fn session(ev: &mut Evidence, conn: &rustls::ClientConnection) {
    ev.tls_version = conn.protocol_version().map(|v| iana(v.as_str(), v.into()));
    ev.cipher_suite = conn.negotiated_cipher_suite().map(|c| iana(c.suite().as_str(), c.suite().into()));
    ev.kx_group = conn.negotiated_key_exchange_group().map(|g| iana(g.name().as_str(), g.name().into()));
    ev.alpn = conn.alpn_protocol().map(|a| String::from_utf8_lossy(a).into_owned());
}

/// The verdict for a chain whose handshake signature was valid.
fn judge(ev: &mut Evidence, chain: &[CertificateDer<'static>], sni: &str, trust: &Trust) {
    let Some(leaf) = ev.chain.first() else {
        ev.verdict = Verdict::UnknownListener;
        ev.detail = format!("{} completed a handshake without a certificate", ev.place());
        return;
    };
    let vouch = trust.vouch(chain, sni);
    if vouch != Vouch::No {
        ev.verdict = Verdict::Ours;
        ev.detail = format!("our certificate answers: {} issued by {}", leaf.subject, leaf.issuer);
        if vouch == Vouch::OutsideValidity {
            ev.detail.push_str(&format!(" (expired or not yet valid: {} to {})", leaf.not_before, leaf.not_after));
        }
    } else if leaf.sans.iter().any(|s| dangle_model::cloud::is_shared_wildcard(s)) {
        ev.verdict = Verdict::Shared;
        ev.detail = format!("a provider's shared certificate answers ({}): TLS cannot say whose service this is", leaf.sans.join(", "));
    } else {
        ev.verdict = Verdict::Foreign;
        let names = if leaf.sans.is_empty() { "no names".to_string() } else { leaf.sans.join(", ") };
        ev.detail = format!("a foreign server answers: {} issued by {} for {names}", leaf.subject, leaf.issuer);
    }
}

/// A TLS registry value by its name (`TLSv1_3`, `TLS13_AES_128_GCM_SHA256`, `X25519`), or its code
/// point when rustls has no name for it: never a `Debug` form.
fn iana(name: Option<&'static str>, code: u16) -> String {
    name.map(str::to_string).unwrap_or_else(|| format!("0x{code:04x}"))
}

/// The SNI for a record name: the name without its final dot; a wildcard's `*` becomes a label no one
/// would use, so the server answers for the wildcard.
pub fn sni_for(name: &str) -> String {
    let n = name.trim_end_matches('.');
    match n.strip_prefix("*.") {
        Some(rest) => format!("dangle-wildcard-probe.{rest}"),
        None => n.to_string(),
    }
}

#[cfg(test)]
mod sni_tests {
    use super::sni_for;

    #[test]
    fn sni_of_names_and_wildcards() {
        assert_eq!(sni_for("www.example.com."), "www.example.com");
        assert_eq!(sni_for("*.apps.example.com."), "dangle-wildcard-probe.apps.example.com");
    }
}
#[cfg(test)]
mod tests;

//! Authenticate mode: the second handshake, run only after observe mode judged a server `ours` and only
//! when a client certificate is configured. It exists to confirm that an mTLS endpoint accepts our
//! client identity, and it must never hand that identity to anyone else. Three locks, each enough alone:
//!
//! 1. TLS 1.3 only. In TLS 1.2 the client certificate travels in cleartext, before the server's
//!    Finished has proved anything; a TLS 1.2-only server gets nothing.
//! 2. A strict verifier: the chain must lead to our anchors or carry our pin, and the handshake
//!    signature must verify. rustls checks the server's Certificate, CertificateVerify and Finished
//!    before it sends ours, so a server that fails here never sees it.
//! 3. The certificate is offered only when the server's CertificateRequest names one of our CAs, or
//!    names none.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, Resumption};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::AsyncReadExt;

use super::signature::Signatures;
use super::{after_handshake, connect, provider, server_name, Authentication, Identity, Settings, Trust};

/// Accepts only a chain our [`Trust`] vouches for, with a valid handshake signature.
#[derive(Debug)]
struct Strict {
    trust: Trust,
    sni: String,
    signatures: Signatures,
}

impl ServerCertVerifier for Strict {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let chain: Vec<CertificateDer<'_>> = std::iter::once(end_entity.clone()).chain(intermediates.iter().cloned()).collect();
        if self.trust.vouches_for(&chain, &self.sni) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer))
        }
    }

    fn verify_tls12_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.tls12(message, cert, dss)
    }

    fn verify_tls13_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.tls13(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.signatures.schemes()
    }
}

/// Offers the client certificate only to a CertificateRequest that names one of our CAs, or none.
#[derive(Debug)]
struct Guarded {
    key: Arc<CertifiedKey>,
    ca_names: Vec<Vec<u8>>,
    offered: AtomicBool,
    asked: Mutex<Option<Vec<Vec<u8>>>>,
}

impl ResolvesClientCert for Guarded {
    fn resolve(&self, root_hint_subjects: &[&[u8]], sigschemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        *self.asked.lock().expect("auth state") = Some(root_hint_subjects.iter().map(|s| s.to_vec()).collect());
        let ours = root_hint_subjects.is_empty() || root_hint_subjects.iter().any(|h| self.ca_names.iter().any(|n| n.as_slice() == *h));
        if !ours || self.key.key.choose_scheme(sigschemes).is_none() {
            return None;
        }
        self.offered.store(true, Ordering::SeqCst);
        Some(self.key.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// The second handshake. `dial` and `sni` are the observe probe's.
pub async fn authenticate(dial: SocketAddr, sni: &str, settings: &Settings, identity: &Identity) -> Authentication {
    let refuse = |detail: String| Authentication { presented: false, accepted: None, detail };
    let tcp = match connect(dial, settings.connect_timeout).await {
        Ok(s) => s,
        Err((e, _)) => return refuse(format!("second connection failed: {e}; client certificate withheld")),
    };
    let p = provider();
    let guarded = Arc::new(Guarded { key: identity.key.clone(), ca_names: identity.ca_names.clone(), offered: AtomicBool::new(false), asked: Mutex::new(None) });
    let mut config = match rustls::ClientConfig::builder_with_provider(p.clone()).with_protocol_versions(&[&rustls::version::TLS13]) {
        Ok(b) => b
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Strict { trust: settings.trust.clone(), sni: sni.to_string(), signatures: Signatures::new(p) }))
            .with_client_cert_resolver(guarded.clone()),
        Err(e) => return refuse(format!("cannot configure TLS 1.3: {e}")),
    };
    config.resumption = Resumption::disabled();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let result = tokio::time::timeout(settings.handshake_timeout, connector.connect(server_name(sni, dial), tcp)).await;
    let offered = guarded.offered.load(Ordering::SeqCst);
    let asked = guarded.asked.lock().expect("auth state").is_some();
    let mut tls = match result {
        Err(_) => return refuse("the TLS 1.3 handshake timed out; client certificate withheld".into()),
        // rustls sends the client certificate only after the server's Finished, in the flight that
        // completes the handshake: a failed handshake never carried it.
        Ok(Err(e)) => return refuse(format!("the TLS 1.3-only handshake failed ({e}); client certificate withheld")),
        Ok(Ok(tls)) => tls,
    };
    if !asked {
        return refuse("the server asked for no client certificate".into());
    }
    if !offered {
        return refuse("the server asked for certificates from CAs that are not ours; client certificate withheld".into());
    }
    // A server that refuses the certificate says so with an alert right after our Finished.
    let mut buf = [0u8; 1];
    let accepted = match tokio::time::timeout(after_handshake(settings), tls.read(&mut buf)).await {
        Ok(Err(e)) => {
            return Authentication { presented: true, accepted: Some(false), detail: format!("client certificate presented and refused: {e}") };
        }
        Ok(Ok(_)) | Err(_) => true,
    };
    Authentication { presented: true, accepted: Some(accepted), detail: "client certificate presented over TLS 1.3 and accepted".into() }
}

//! The one place that bypasses certificate verification. The observe-mode handshake must complete
//! with any server so that dangle can see who answers: this verifier records the whole chain and
//! defers trust to [`super`]'s verdict, but still verifies the handshake signature with the presented
//! leaf key, so an impostor replaying our public certificate without our key fails the handshake.
//! The client-certificate resolver records what the server asks for and never presents anything.

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::ResolvesClientCert;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::signature::Signatures;

/// What one handshake showed, filled in by the verifier and the resolver.
#[derive(Debug, Default)]
pub(super) struct Seen {
    pub chain: Vec<CertificateDer<'static>>,
    /// DER-encoded distinguished names from the CertificateRequest; `None` if none was sent.
    pub requested_ca_names: Option<Vec<Vec<u8>>>,
    /// The server proved it holds the leaf's key (its handshake signature verified).
    pub signature_valid: bool,
}

#[derive(Debug)]
pub(super) struct Recorder {
    signatures: Signatures,
    seen: Arc<Mutex<Seen>>,
}

impl Recorder {
    pub(super) fn new(provider: Arc<CryptoProvider>, seen: Arc<Mutex<Seen>>) -> Self {
        Self { signatures: Signatures::new(provider), seen }
    }

    fn signed(&self, r: Result<HandshakeSignatureValid, rustls::Error>) -> Result<HandshakeSignatureValid, rustls::Error> {
        if r.is_ok() {
            self.seen.lock().expect("probe state").signature_valid = true;
        }
        r
    }
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut seen = self.seen.lock().expect("probe state");
        seen.chain = std::iter::once(end_entity).chain(intermediates).map(|c| c.clone().into_owned()).collect();
        // Trust is decided after the handshake, from the recorded chain.
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signed(self.signatures.tls12(message, cert, dss))
    }

    fn verify_tls13_signature(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signed(self.signatures.tls13(message, cert, dss))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.signatures.schemes()
    }
}

/// Records a CertificateRequest's CA names and answers with no certificate.
#[derive(Debug)]
pub(super) struct Asked {
    seen: Arc<Mutex<Seen>>,
}

impl Asked {
    pub(super) fn new(seen: Arc<Mutex<Seen>>) -> Self {
        Self { seen }
    }
}

impl ResolvesClientCert for Asked {
    fn resolve(&self, root_hint_subjects: &[&[u8]], _sigschemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        self.seen.lock().expect("probe state").requested_ca_names = Some(root_hint_subjects.iter().map(|s| s.to_vec()).collect());
        None
    }

    /// `true`, so that rustls consults `resolve` (and the request is recorded); it returns none.
    fn has_certs(&self) -> bool {
        true
    }
}

//! Handshake signature checks, one helper for both verifiers: the strict one that lets the client
//! certificate out ([`super::auth`]) and the recording one of the observe probe ([`super::danger`]).
//! Both check that the server signed the handshake with the key of the leaf it presented; only what
//! they make of the chain differs.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::CertificateDer;
use rustls::{DigitallySignedStruct, SignatureScheme};

#[derive(Debug, Clone)]
pub(super) struct Signatures(Arc<CryptoProvider>);

impl Signatures {
    pub(super) fn new(provider: Arc<CryptoProvider>) -> Self {
        Self(provider)
    }

    pub(super) fn tls12(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    pub(super) fn tls13(&self, message: &[u8], cert: &CertificateDer<'_>, dss: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    pub(super) fn schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

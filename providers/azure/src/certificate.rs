//! A service principal's certificate as a credential (`AZURE_CLIENT_CERTIFICATE_PATH`): a PEM file
//! with the certificate and its RSA private key signs a client assertion (RFC 7523: an RS256 JWT with
//! the certificate's thumbprint), which azure_identity's `ClientAssertionCredential` exchanges for a
//! token. azure_identity's own certificate credential needs OpenSSL; this signs with ring, which rustls
//! already brings.

use std::sync::Arc;

use azure_core::http::ClientMethodOptions;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::signature::{RsaKeyPair, RSA_PKCS1_SHA256};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// What signs the assertions: the key, and the certificate's thumbprints.
pub struct CertAssertion {
    key: Arc<RsaKeyPair>,
    /// base64url of the certificate's SHA-1 and SHA-256 digests (`x5t`, `x5t#S256`).
    x5t: String,
    x5t_s256: String,
    client_id: String,
    /// The token endpoint the assertion is for (its `aud`).
    audience: String,
}

impl std::fmt::Debug for CertAssertion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertAssertion").field("client_id", &self.client_id).field("x5t#S256", &self.x5t_s256).finish_non_exhaustive()
    }
}

impl CertAssertion {
    /// From a PEM file's bytes (`path` only for messages): its first certificate and its private key.
    pub fn from_pem(pem: &[u8], path: &str, tenant: &str, client_id: &str, authority: &str) -> Result<Self, String> {
        let cert = CertificateDer::pem_slice_iter(pem)
            .next()
            .ok_or_else(|| format!("{path} holds no PEM certificate"))?
            .map_err(|e| format!("{path}: {e}"))?;
        let key = PrivateKeyDer::from_pem_slice(pem).map_err(|e| format!("{path} holds no PEM private key: {e}"))?;
        let key = match &key {
            PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
            _ => return Err(format!("{path}: the private key is not RSA (a certificate credential signs with RSA)")),
        }
        .map_err(|e| format!("{path}: not a usable RSA key: {e}"))?;
        let digest = |alg| URL_SAFE_NO_PAD.encode(ring::digest::digest(alg, cert.as_ref()).as_ref());
        Ok(Self {
            key: Arc::new(key),
            x5t: digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY),
            x5t_s256: digest(&ring::digest::SHA256),
            client_id: client_id.to_string(),
            audience: format!("{}/{tenant}/oauth2/v2.0/token", authority.trim_end_matches('/')),
        })
    }

    /// A fresh signed assertion, valid for ten minutes.
    pub fn assertion(&self) -> Result<String, String> {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_err(|e| e.to_string())?.as_secs();
        let rng = ring::rand::SystemRandom::new();
        let jti: [u8; 16] = ring::rand::generate(&rng).map_err(|_| "no randomness for the assertion id".to_string())?.expose();
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": self.x5t, "x5t#S256": self.x5t_s256});
        let claims = serde_json::json!({
            "aud": self.audience, "iss": self.client_id, "sub": self.client_id,
            "jti": jti.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "nbf": now, "iat": now, "exp": now + 600,
        });
        let signing_input = format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let mut sig = vec![0; self.key.public().modulus_len()];
        self.key.sign(&RSA_PKCS1_SHA256, &rng, signing_input.as_bytes(), &mut sig).map_err(|_| "signing the assertion failed".to_string())?;
        Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

#[async_trait::async_trait]
impl azure_identity::ClientAssertion for CertAssertion {
    async fn secret(&self, _: Option<ClientMethodOptions<'_>>) -> azure_core::Result<String> {
        self.assertion().map_err(|e| azure_core::Error::with_message(azure_core::error::ErrorKind::Credential, e))
    }
}

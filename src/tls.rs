//! TLS for everything dangle dials: the one crypto provider (the prober's, and that of every other
//! client), and the client configuration of the clients besides the prober (alerts' webhooks, CT
//! searches, the PostgreSQL store): the system's roots or a CA file's.

use std::path::Path;
use std::sync::{Arc, LazyLock};

use rustls::crypto::CryptoProvider;

/// The crypto provider every TLS connection of dangle's uses (aws-lc-rs), made once.
pub fn provider() -> Arc<CryptoProvider> {
    static P: LazyLock<Arc<CryptoProvider>> = LazyLock::new(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    P.clone()
}

/// A client configuration that verifies servers against `ca_file`'s certificates (PEM) when given,
/// else the system's roots.
pub fn client_config(ca_file: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    match ca_file {
        Some(file) => {
            use rustls::pki_types::pem::PemObject as _;
            let shown = file.display();
            let bytes = dangle_model::input::read_file(file, 1024 * 1024).map_err(|e| format!("{shown}: {e}"))?;
            for c in rustls::pki_types::CertificateDer::pem_slice_iter(&bytes) {
                let c = c.map_err(|e| format!("{shown}: not a PEM certificate ({e})"))?;
                roots.add(c).map_err(|e| format!("{shown}: {e}"))?;
            }
            if roots.is_empty() {
                return Err(format!("{shown}: no PEM certificate in it"));
            }
        }
        None => {
            for c in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(c);
            }
        }
    }
    Ok(rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

//! `[probe]` (or `dangle probe`'s flags) → a ready [`Prober`]: PEM files read and checked, pins
//! decoded, the client key loaded. Every error names the file or key.

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

use super::{provider, ConnectTo, Identity, Prober, Settings, Trust};
use super::Options as ProbeConfig;

#[derive(Debug, thiserror::Error)]
#[error("[probe] {0}")]
pub struct LoadError(String);

/// A PEM file: a regular file of at most 16 MiB (a FIFO named here would block the run forever).
fn read(path: &Path, what: &str) -> Result<Vec<u8>, LoadError> {
    dangle_model::input::read_file(path, dangle_model::input::MAX_SMALL_FILE).map_err(|e| LoadError(format!("{what} {}: {e}", path.display())))
}

fn certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, LoadError> {
    let text = read(path, what)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&text)
        .collect::<Result<_, _>>()
        .map_err(|e| LoadError(format!("{what} {}: not PEM certificates: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(LoadError(format!("{what} {}: no PEM certificate in it", path.display())));
    }
    for (i, c) in certs.iter().enumerate() {
        if let Err(e) = x509_parser::parse_x509_certificate(c.as_ref()) {
            return Err(LoadError(format!("{what} {}: certificate {} does not parse: {e}", path.display(), i + 1)));
        }
    }
    Ok(certs)
}

/// A pin: SHA-256 of a SubjectPublicKeyInfo, in hex (64 digits, colons allowed) or base64.
pub fn parse_pin(s: &str) -> Result<[u8; 32], String> {
    let t = s.trim().trim_start_matches("sha256/").replace(':', "");
    let bytes = if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32).map(|i| u8::from_str_radix(&t[2 * i..2 * i + 2], 16).expect("hex digits")).collect::<Vec<u8>>()
    } else {
        base64::engine::general_purpose::STANDARD.decode(t.as_bytes()).map_err(|_| format!("`{s}` is neither 64 hex digits nor base64"))?
    };
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| format!("`{s}` is {} bytes, a SHA-256 pin is 32", bytes.len()))
}

/// Builds the prober for `cfg`.
pub fn prober(cfg: &ProbeConfig) -> Result<Prober, LoadError> {
    let mut anchors = Vec::new();
    for p in &cfg.trust_anchors {
        anchors.extend(certs(p, "trust_anchors")?);
    }
    let pins = cfg.spki_pins.iter().map(|p| parse_pin(p).map_err(|e| LoadError(format!("spki_pins: {e}")))).collect::<Result<Vec<_>, _>>()?;
    let trust = Trust::new(anchors, pins).map_err(|e| LoadError(format!("trust_anchors: {e}")))?;
    let identity = match (&cfg.client_cert, &cfg.client_key) {
        (Some(cert), Some(key)) => Some(identity(cert, key, &trust)?),
        _ => None,
    };
    if identity.is_some() && trust.is_empty() {
        return Err(LoadError("client_cert needs trust_anchors or spki_pins: it is only ever presented to servers that prove to be ours".into()));
    }
    let settings = Settings {
        connect_timeout: Duration::from_millis(cfg.connect_timeout_ms),
        handshake_timeout: Duration::from_millis(cfg.handshake_timeout_ms),
        trust,
        identity,
    };
    let connect_to = ConnectTo::parse(cfg.connect_to.iter().map(|(k, v)| (k.as_str(), v.as_str()))).map_err(LoadError)?;
    Ok(Prober::new(settings, cfg.ports.clone(), cfg.concurrency)
        .with_connect_to(connect_to)
        .with_allow_dial(cfg.allow_dial.clone())
        .with_nameservers(cfg.nameservers.clone()))
}

fn identity(cert: &Path, key: &Path, trust: &Trust) -> Result<Identity, LoadError> {
    let chain = certs(cert, "client_cert")?;
    let der = PrivateKeyDer::from_pem_slice(&read(key, "client_key")?).map_err(|e| LoadError(format!("client_key {}: {e}", key.display())))?;
    let signing = provider().key_provider.load_private_key(der).map_err(|e| LoadError(format!("client_key {}: {e}", key.display())))?;
    let ck = CertifiedKey::new(chain.clone(), signing);
    ck.keys_match().map_err(|e| LoadError(format!("client_key {} does not belong to client_cert {}: {e}", key.display(), cert.display())))?;
    let mut ca_names = trust.ca_names();
    for (i, c) in chain.iter().enumerate() {
        let (_, x) = x509_parser::parse_x509_certificate(c.as_ref()).expect("parsed in certs()");
        ca_names.push(x.issuer().as_raw().to_vec());
        if i > 0 {
            ca_names.push(x.subject().as_raw().to_vec());
        }
    }
    ca_names.sort();
    ca_names.dedup();
    Ok(Identity { key: std::sync::Arc::new(ck), ca_names })
}

#[cfg(test)]
mod tests {
    use super::parse_pin;

    #[test]
    fn pins_in_hex_and_base64() {
        let hex = "4b:d9".to_string() + &"00".repeat(30);
        let a = parse_pin(&hex).unwrap();
        assert_eq!(&a[..2], &[0x4b, 0xd9]);
        let b64 = "S9kAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
        assert_eq!(parse_pin(b64).unwrap(), a);
        assert_eq!(parse_pin(&format!("sha256/{b64}")).unwrap(), a);
        assert!(parse_pin("abcd").unwrap_err().contains("bytes"));
        assert!(parse_pin("not a pin!").unwrap_err().contains("neither"));
    }
}

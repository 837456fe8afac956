//! Entry points for the coverage-guided fuzzers (`tests/fuzz`, run by `scripts/fuzz`) and for the
//! replay of their corpora in the test suite: each takes untrusted bytes the way dangle meets them
//! and must return, never panic or hang. The zone-file and static-list targets live in
//! `dangle_files::fuzz`, the Route53 record decoding in `dangle_aws::fuzz`.

use std::path::Path;

use rustls::pki_types::CertificateDer;

/// A config file's text.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = crate::config::Config::parse(Path::new("dangle.toml"), text) {
        let m = e.to_string();
        assert!(!m.chars().any(char::is_control), "an error carries a control character: {m:?}");
    }
}

/// A server's certificate chain, as the prober records and judges it: each certificate's evidence,
/// and whether our trust anchors vouch for the chain. The input is split into certificates at a
/// `0xff 0x00 0xff` marker (the fuzzer finds it), so chains of several certificates are reached.
pub fn certificate_chain(data: &[u8]) {
    let chain: Vec<CertificateDer<'static>> = split(data).map(|c| CertificateDer::from(c.to_vec())).collect();
    for c in &chain {
        let _ = crate::probe::cert_info(c);
    }
    let trust = test_trust();
    let _ = trust.vouch(&chain, "www.example.com");
}

/// The CA names of a TLS CertificateRequest (DER distinguished names), as the prober prints them.
pub fn certificate_request_names(data: &[u8]) {
    let names: Vec<Vec<u8>> = split(data).map(<[u8]>::to_vec).collect();
    let _ = crate::probe::names(&names);
}

fn split(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(data);
    std::iter::from_fn(move || {
        let r = rest?;
        match r.windows(3).position(|w| w == [0xff, 0x00, 0xff]) {
            Some(i) => {
                rest = Some(&r[i + 3..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// A trust store with one fixed anchor, built once: the fuzzers exercise the path building against it.
fn test_trust() -> &'static crate::probe::Trust {
    static TRUST: std::sync::OnceLock<crate::probe::Trust> = std::sync::OnceLock::new();
    TRUST.get_or_init(|| {
        let der = include_bytes!("../fixtures/fuzz/anchor.der").to_vec();
        crate::probe::Trust::new(vec![CertificateDer::from(der)], vec![[7u8; 32]]).expect("the fixed fuzz anchor is a CA certificate")
    })
}

#[cfg(test)]
mod tests {
    //! Every committed corpus entry and every crash the fuzzers ever found, run again.

    use std::path::PathBuf;

    fn replay(target: &str, run: fn(&[u8])) {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/fuzz").join(target);
        let mut n = 0;
        for sub in ["corpus", "crashes"] {
            let Ok(entries) = std::fs::read_dir(dir.join(sub)) else { continue };
            for e in entries {
                let p = e.unwrap().path();
                let data = std::fs::read(&p).unwrap();
                let r = std::panic::catch_unwind(|| run(&data));
                assert!(r.is_ok(), "fuzz input {} panics", p.display());
                n += 1;
            }
        }
        assert!(n > 0, "no corpus for {target} in {}: run scripts/fuzz", dir.display());
    }

    #[test]
    fn zone_corpus() {
        replay("zone", dangle_files::fuzz::zone);
    }

    #[test]
    fn static_list_corpus() {
        replay("static_list", dangle_files::fuzz::static_list);
    }

    #[test]
    fn config_corpus() {
        replay("config", super::config);
    }

    #[test]
    fn certificate_chain_corpus() {
        replay("certificate_chain", super::certificate_chain);
    }

    #[cfg(feature = "aws")]
    #[test]
    fn route53_record_corpus() {
        replay("route53_record", dangle_aws::fuzz::route53_record);
    }

    #[test]
    fn certificate_request_names_corpus() {
        replay("certificate_request_names", super::certificate_request_names);
    }
}

//! The prober's own settings type. config.rs builds it from `[probe]`, `dangle probe` from its flags;
//! both go through [`Options::check`], so a value one refuses the other does not silently clamp.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// A target the user names in `[[probe.targets]]`: probed on every scan, record or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedTarget {
    /// As written in the config.
    pub label: String,
    pub host: String,
    pub port: Option<u16>,
    pub sni: String,
}

/// The prober's settings: `[probe]` as config.rs reads it, or `dangle probe`'s flags, both checked by
/// [`Options::check`] (files are read when the prober is built: [`super::load`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub enabled: bool,
    pub ports: Vec<u16>,
    pub connect_timeout_ms: u64,
    pub handshake_timeout_ms: u64,
    pub concurrency: usize,
    pub trust_anchors: Vec<PathBuf>,
    pub spki_pins: Vec<String>,
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<PathBuf>,
    pub connect_to: BTreeMap<String, String>,
    /// Name servers for resolving probe targets (`None`: the system's configuration).
    pub nameservers: Option<Vec<std::net::SocketAddr>>,
    /// Dial only inside these blocks, after `connect_to` (empty: anywhere).
    pub allow_dial: Vec<ipnet::IpNet>,
    /// Targets probed on every scan besides the records that need it.
    pub targets: Vec<NamedTarget>,
    /// Also probe owned rows and keep their certificates as baselines (`scan` only).
    pub baseline: bool,
    /// With `baseline`: an owned endpoint's certificate expiring within this many days is a finding.
    pub expiry_warn_days: u32,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            enabled: true,
            ports: vec![443],
            connect_timeout_ms: 3000,
            handshake_timeout_ms: 5000,
            concurrency: 128,
            trust_anchors: Vec::new(),
            spki_pins: Vec::new(),
            client_cert: None,
            client_key: None,
            connect_to: BTreeMap::new(),
            nameservers: None,
            allow_dial: Vec::new(),
            targets: Vec::new(),
            baseline: false,
            expiry_warn_days: 21,
        }
    }
}

impl Options {
    /// Upper bound of both timeouts, milliseconds (ten minutes).
    pub const MAX_TIMEOUT_MS: u64 = 600_000;
    /// Upper bound of `concurrency`.
    pub const MAX_CONCURRENCY: usize = 4096;

    /// The values in range, or the key that is not and why.
    pub fn check(&self) -> Result<(), (&'static str, String)> {
        if self.ports.is_empty() || self.ports.contains(&0) {
            return Err(("ports", "give one or more ports between 1 and 65535".into()));
        }
        for (key, v) in [("connect_timeout_ms", self.connect_timeout_ms), ("handshake_timeout_ms", self.handshake_timeout_ms)] {
            if v == 0 || v > Self::MAX_TIMEOUT_MS {
                return Err((key, format!("{v} is outside 1..={}", Self::MAX_TIMEOUT_MS)));
            }
        }
        if self.concurrency == 0 || self.concurrency > Self::MAX_CONCURRENCY {
            return Err(("concurrency", format!("{} is outside 1..={}", self.concurrency, Self::MAX_CONCURRENCY)));
        }
        if self.client_cert.is_some() != self.client_key.is_some() {
            return Err(("client_cert", "client_cert and client_key go together".into()));
        }
        Ok(())
    }
}

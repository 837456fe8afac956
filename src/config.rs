//! `dangle.toml` → typed, validated settings. Every error names the file, and the line and key where
//! there is one; unknown keys are refused by name. Paths are relative to the config file's folder.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use dangle_model::registry::{Configured, Context, SettingsError};
use serde::Deserialize;

pub use crate::probe::{NamedTarget, Options as ProbeConfig};
use crate::providers::Entry;
use crate::reconcile::ranges::DeclaredRange;
use crate::reconcile::{Claimable, Severity};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    /// What is wrong, and where: the line and the key (`providers[0].regions`, `[probe] ports`) when
    /// there are such.
    #[error("{}: {}", path.display(), located(*line, key.as_deref(), message))]
    Invalid { path: PathBuf, line: Option<usize>, key: Option<String>, message: String },
}

/// `line 3: providers[0].path: empty`, each part there is.
fn located(line: Option<usize>, key: Option<&str>, message: &str) -> String {
    let mut parts = Vec::with_capacity(3);
    parts.extend(line.map(|l| format!("line {l}")));
    parts.extend(key.map(str::to_string));
    parts.push(message.to_string());
    parts.join(": ")
}

/// An alert URL: https, or http to a loopback address (a local relay, a test server). The URL itself
/// is never part of the message (a Slack webhook URL is a secret).
fn check_alert_url(url: &str) -> Result<(), String> {
    check_url(url, "alerts carry findings (and maybe a token)")
}

/// A URL dangle sends to: https, or plain http to a loopback address; `why` says what plain http
/// would expose.
fn check_url(url: &str, why: &str) -> Result<(), String> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| "not a URL (https://…)".to_string())?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let bare = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    if bare.is_empty() {
        return Err("the URL names no host".into());
    }
    match scheme.to_ascii_lowercase().as_str() {
        "https" => Ok(()),
        "http" if bare == "localhost" || bare.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback()) => Ok(()),
        "http" => Err(format!("plain http only to a loopback address: {why}; use https")),
        _ => Err(format!("`{scheme}` is not https")),
    }
}

/// Findings unchanged for 90 days are stale: the seed's advice for records pointing at mTLS services.
pub const DEFAULT_STALE_DAYS: u32 = 90;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    db: Option<PathBuf>,
    db_password_file: Option<PathBuf>,
    stale_days: Option<u32>,
    #[serde(default)]
    providers: Vec<toml::Spanned<toml::Table>>,
    #[serde(default)]
    ranges: Vec<toml::Spanned<RawRange>>,
    probe: Option<RawProbe>,
    #[serde(default)]
    alerts: Vec<toml::Spanned<RawAlert>>,
    signals: Option<RawSignals>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSignals {
    claim_checks: Option<bool>,
    claim_timeout_secs: Option<u64>,
    fingerprints: Option<bool>,
    fingerprint_timeout_secs: Option<u64>,
    requests_per_second: Option<toml::Spanned<u32>>,
    dns: Option<RawSignalsDns>,
    ct: Option<RawCt>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCt {
    enabled: Option<bool>,
    url: Option<String>,
    max_age_hours: Option<u64>,
    requests_per_second: Option<u32>,
    timeout_secs: Option<u64>,
}

/// `[signals.ct]`: Certificate Transparency searches for dangling names (opt-in: the names go to the
/// search service).
#[derive(Debug, Clone)]
pub struct CtConfig {
    /// A crt.sh-compatible search (`URL/?q=NAME&output=json`); default https://crt.sh.
    pub url: String,
    /// How long a cached answer is used before the name is searched again (default 24 h).
    pub max_age: std::time::Duration,
    /// Searches started per second, at most (default 1).
    pub requests_per_second: u32,
    /// The whole step (default 120 s).
    pub timeout: std::time::Duration,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSignalsDns {
    delegations: Option<bool>,
    chains: Option<bool>,
    nameservers: Option<Vec<String>>,
}

/// `[signals]`: second opinions on what the reconciler flagged.
#[derive(Debug, Clone)]
pub struct SignalsConfig {
    /// Ask the clouds whether a dangling name can be registered right now (default on).
    pub claim_checks: bool,
    /// How long one provider's claim checks may take all told (default 120 s).
    pub claim_timeout: std::time::Duration,
    /// One DNS lookup / HTTP request per flagged cloud or SaaS CNAME, matched against the service
    /// fingerprints (default on; only in scans that probe).
    pub fingerprints: bool,
    /// How long the fingerprint step may take all told (default 120 s).
    pub fingerprint_timeout: std::time::Duration,
    /// Requests the signals start per second, at most (default 20).
    pub requests_per_second: u32,
    /// Ask each flagged delegation's name servers for the sub-zone (`[signals.dns] delegations`,
    /// default on; only in scans that probe).
    pub delegations: bool,
    /// Resolve each external CNAME's target now (`[signals.dns] chains`, default on; only in scans
    /// that probe): a chain ending in NXDOMAIN is a finding.
    pub chains: bool,
    /// The resolver for the resolution-path checks (`[signals.dns] nameservers`); `None`: the
    /// prober's (`[probe] nameservers`, else the system's).
    pub dns_nameservers: Option<Vec<std::net::SocketAddr>>,
    /// Certificate Transparency, when `[signals.ct]` is given (and not `enabled = false`).
    pub ct: Option<CtConfig>,
}

impl Default for SignalsConfig {
    fn default() -> Self {
        Self {
            claim_checks: true,
            claim_timeout: std::time::Duration::from_secs(120),
            fingerprints: true,
            fingerprint_timeout: std::time::Duration::from_secs(120),
            requests_per_second: 20,
            delegations: true,
            chains: true,
            dns_nameservers: None,
            ct: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlert {
    #[serde(rename = "type")]
    kind: String,
    url: String,
    name: Option<String>,
    min_severity: Option<String>,
    #[serde(default)]
    headers_from_env: std::collections::BTreeMap<String, String>,
    timeout_secs: Option<u64>,
    retries: Option<u32>,
}

/// Where an alert goes (`[[alerts]]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertKind {
    /// A JSON body (documented in docs/guide.md) POSTed to any URL.
    Webhook,
    /// A Slack incoming webhook: a message with blocks.
    Slack,
}

/// One `[[alerts]]` entry. The URL may itself be a secret (a Slack webhook's is): it is never stored,
/// logged or shown; reports and the store name the alert by `name`.
#[derive(Clone)]
pub struct AlertConfig {
    pub kind: AlertKind,
    /// `name`, else `TYPE N` (its place among the alerts).
    pub name: String,
    pub url: String,
    pub min_severity: Severity,
    /// Header name → the environment variable that holds its value, read when sending.
    pub headers_from_env: Vec<(String, String)>,
    pub timeout: std::time::Duration,
    /// Attempts after the first, with a doubling backoff.
    pub retries: u32,
}

impl std::fmt::Debug for AlertConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertConfig").field("kind", &self.kind).field("name", &self.name).field("url", &"<not shown>").finish_non_exhaustive()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRange {
    cidr: String,
    provider: String,
    region: Option<String>,
    service: Option<String>,
    claimable: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProbe {
    enabled: Option<bool>,
    ports: Option<Vec<u16>>,
    connect_timeout_ms: Option<u64>,
    handshake_timeout_ms: Option<u64>,
    concurrency: Option<usize>,
    #[serde(default)]
    trust_anchors: Vec<PathBuf>,
    #[serde(default)]
    spki_pins: Vec<String>,
    client_cert: Option<PathBuf>,
    client_key: Option<PathBuf>,
    #[serde(default)]
    connect_to: BTreeMap<String, String>,
    nameservers: Option<Vec<String>>,
    #[serde(default)]
    allow_dial: Vec<String>,
    #[serde(default)]
    targets: Vec<RawTarget>,
    baseline: Option<bool>,
    expiry_warn_days: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    target: String,
    sni: Option<String>,
}

/// A validated provider: its label, its config `type`, and its own settings as its crate read them.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub name: String,
    pub kind: &'static str,
    pub settings: std::sync::Arc<dyn Configured>,
}

impl ProviderConfig {
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn kind(&self) -> &'static str {
        self.kind
    }
}

impl Config {
    /// The store `db` names (or `--db`, when given), with the config's password file.
    pub fn store(&self, db: Option<&Path>) -> crate::store::Location {
        crate::store::Location::new(db.unwrap_or(&self.db), self.db_password_file.as_deref())
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    /// An SQLite file (relative to the config's folder), or a `postgres://` URL.
    pub db: PathBuf,
    /// A file holding the PostgreSQL password (`db_password_file`), when `PGPASSWORD` is not set.
    pub db_password_file: Option<PathBuf>,
    /// A finding unchanged this many days is flagged stale (`stale_days`, `scan --stale-days`).
    pub stale_days: u32,
    pub providers: Vec<ProviderConfig>,
    pub ranges: Vec<DeclaredRange>,
    pub probe: ProbeConfig,
    pub alerts: Vec<AlertConfig>,
    pub signals: SignalsConfig,
    /// The clouds its registry's provider types know (the built-in ones and each type's own).
    pub clouds: dangle_model::Clouds,
}

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::load_with(path, &crate::providers::registry())
    }

    /// [`Config::load`] against another registry (one a test extends with its own provider type).
    pub fn load_with(path: &Path, registry: &[Entry]) -> Result<Self, ConfigError> {
        let bytes = dangle_model::input::read_file(path, dangle_model::input::MAX_SMALL_FILE)
            .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let line = e.as_bytes()[..e.utf8_error().valid_up_to()].iter().filter(|b| **b == b'\n').count() + 1;
            ConfigError::Invalid { path: path.to_path_buf(), line: Some(line), key: None, message: "not valid UTF-8".into() }
        })?;
        Self::parse_with(path, &text, registry)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        Self::parse_with(path, text, &crate::providers::registry())
    }

    /// [`Config::parse`] against another registry: the one a test extends with its own provider type.
    pub fn parse_with(path: &Path, text: &str, registry: &[Entry]) -> Result<Self, ConfigError> {
        let src = Source { path, text, registry };
        let raw: Raw = toml::from_str(text).map_err(|e| src.invalid(e.span().map(|s| src.line_of(s.start)), "", e.message().trim_end().to_string()))?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
        let resolve = |p: &Path| dangle_model::registry::resolve(&dir, p);
        let (providers, names) = src.providers(&raw.providers, &dir)?;
        let ranges = src.ranges(&raw.ranges, &names)?;
        let probe = src.probe(raw.probe, &resolve)?;
        let db = raw.db.as_deref().unwrap_or(Path::new("dangle.sqlite"));
        let db = match crate::store::Location::new(db, None) {
            crate::store::Location::Sqlite(_) => resolve(db),
            crate::store::Location::Postgres { .. } => db.to_path_buf(),
        };
        let db_password_file = raw.db_password_file.as_deref().map(resolve);
        let stale_days = raw.stale_days.unwrap_or(DEFAULT_STALE_DAYS);
        let alerts = src.alerts(&raw.alerts)?;
        let mut signals = SignalsConfig::default();
        if let Some(s) = raw.signals {
            signals.claim_checks = s.claim_checks.unwrap_or(signals.claim_checks);
            if let Some(t) = s.claim_timeout_secs {
                signals.claim_timeout = std::time::Duration::from_secs(t.clamp(1, 3600));
            }
            signals.fingerprints = s.fingerprints.unwrap_or(signals.fingerprints);
            if let Some(t) = s.fingerprint_timeout_secs {
                signals.fingerprint_timeout = std::time::Duration::from_secs(t.clamp(1, 3600));
            }
            if let Some(n) = s.requests_per_second {
                if *n.get_ref() == 0 {
                    let line = Some(src.line_of(n.span().start));
                    return Err(src.invalid(line, "signals.requests_per_second", "must be at least 1 (turn a signal off with its own key)".into()));
                }
                signals.requests_per_second = (*n.get_ref()).min(10_000);
            }
            if let Some(c) = s.ct.filter(|c| c.enabled != Some(false)) {
                let url = c.url.unwrap_or_else(|| "https://crt.sh".into());
                check_url(&url, "the names searched are the findings").map_err(|m| src.invalid(None, "signals.ct.url", m))?;
                if c.requests_per_second == Some(0) {
                    return Err(src.invalid(None, "signals.ct.requests_per_second", "must be at least 1 (turn the search off with enabled = false)".into()));
                }
                signals.ct = Some(CtConfig {
                    url,
                    max_age: std::time::Duration::from_secs(3600 * c.max_age_hours.unwrap_or(24).min(24 * 365)),
                    requests_per_second: c.requests_per_second.unwrap_or(1).min(100),
                    timeout: std::time::Duration::from_secs(c.timeout_secs.unwrap_or(120).clamp(1, 3600)),
                });
            }
            if let Some(d) = s.dns {
                signals.delegations = d.delegations.unwrap_or(signals.delegations);
                signals.chains = d.chains.unwrap_or(signals.chains);
                if let Some(ns) = d.nameservers {
                    let parsed: Result<Vec<_>, _> = ns.iter().map(|n| parse_nameserver(n)).collect();
                    let parsed = parsed.map_err(|e| src.invalid(None, "signals.dns.nameservers", e))?;
                    if parsed.is_empty() {
                        return Err(src.invalid(None, "signals.dns.nameservers", "give one or more, or leave the key out for the prober's".into()));
                    }
                    signals.dns_nameservers = Some(parsed);
                }
            }
        }
        let clouds = crate::providers::clouds(registry);
        Ok(Self { path: path.to_path_buf(), db, db_password_file, stale_days, providers, ranges, probe, alerts, signals, clouds })
    }
}

/// The config text being read, for errors that name its file, line and key.
struct Source<'t> {
    path: &'t Path,
    text: &'t str,
    registry: &'t [Entry],
}

impl Source<'_> {
    fn kinds(&self) -> String {
        self.registry.iter().map(Entry::kind).collect::<Vec<_>>().join(", ")
    }

    fn invalid(&self, line: Option<usize>, key: &str, message: String) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_path_buf(),
            line,
            key: (!key.is_empty()).then(|| excerpt_quoted(key)),
            message: excerpt_quoted(&message),
        }
    }

    fn line_of(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())].bytes().filter(|b| *b == b'\n').count() + 1
    }

    /// `[[providers]]`: each table through its type's factory; returns them and their names.
    fn providers(&self, raw: &[toml::Spanned<toml::Table>], dir: &Path) -> Result<(Vec<ProviderConfig>, HashSet<String>), ConfigError> {
        let invalid = |line: Option<usize>, key: &str, message: String| self.invalid(line, key, message);
        let line_of = |offset: usize| self.line_of(offset);
        let kinds = || self.kinds();
        let (path, text, registry) = (self.path, self.text, self.registry);
        let mut providers = Vec::new();
        let mut names = HashSet::new();
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, sp) in raw.iter().enumerate() {
            let start = sp.span().start;
            let at = format!("providers[{i}]");
            // The line of `key` inside this provider's table (which runs from its header to the next).
            let key_line = |key: &str| {
                text[start.min(text.len())..]
                    .lines()
                    .enumerate()
                    .take_while(|(n, l)| *n == 0 || !l.trim_start().starts_with('['))
                    .find(|(_, l)| l.trim_start().strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with('=')))
                    .map(|(n, _)| line_of(start) + n)
                    .unwrap_or(line_of(start))
            };
            let mut table = sp.get_ref().clone();
            let kind = match table.remove("type") {
                Some(toml::Value::String(k)) => k,
                Some(_) => return Err(invalid(Some(key_line("type")), &format!("{at}.type"), "must be a string".into())),
                None => return Err(invalid(Some(line_of(start)), &at, format!("missing field `type` (one of {})", kinds()))),
            };
            let factory = match registry.iter().find(|e| e.kind() == kind) {
                Some(Entry::Built(f)) => *f,
                Some(Entry::Missing { kind, feature }) => {
                    return Err(invalid(
                        Some(key_line("type")),
                        &format!("{at}.type"),
                        format!("this dangle was built without the `{feature}` feature, so it has no `{kind}` provider; remove it from the config or use a build with it"),
                    ))
                }
                None => {
                    return Err(invalid(Some(key_line("type")), &format!("{at}.type"), format!("unknown provider type `{kind}` (one of {})", kinds())))
                }
            };
            let kind = factory.kind();
            let n = counts.entry(kind).or_default();
            *n += 1;
            let name = match table.remove("name") {
                None if *n == 1 => kind.to_string(),
                None => format!("{kind}-{n}"),
                Some(toml::Value::String(s)) if s.trim().is_empty() => {
                    return Err(invalid(Some(key_line("name")), &format!("{at}.name"), "must not be empty".into()))
                }
                Some(toml::Value::String(s)) => s,
                Some(_) => return Err(invalid(Some(key_line("name")), &format!("{at}.name"), "must be a string".into())),
            };
            let mut cx = Context::new(dir.to_path_buf());
            let settings = factory.configure(&name, table, &mut cx).map_err(|e| {
                let line = e.key_name().map(key_line).unwrap_or(line_of(start));
                match e {
                    SettingsError::Key { key, message } => invalid(Some(line), &format!("{at}.{key}"), message),
                    SettingsError::Table { message, .. } => invalid(Some(line), &at, message),
                }
            })?;
            for w in cx.warnings {
                tracing::warn!("{}: line {}: {at}.{}", path.display(), line_of(start), w);
            }
            if !names.insert(name.clone()) {
                return Err(invalid(Some(key_line("name")), &format!("{at}.name"), format!("`{name}` names two providers; give each a distinct `name`")));
            }
            providers.push(ProviderConfig { name, kind, settings: settings.into() });
        }

        Ok((providers, names))
    }

    /// `[[ranges]]`: declared address space, each naming a cloud, a provider type or a provider.
    fn ranges(&self, raw: &[toml::Spanned<RawRange>], names: &HashSet<String>) -> Result<Vec<DeclaredRange>, ConfigError> {
        let invalid = |line: Option<usize>, key: &str, message: String| self.invalid(line, key, message);
        let line_of = |offset: usize| self.line_of(offset);
        let kinds = || self.kinds();
        let registry = self.registry;
        let mut ranges = Vec::new();
        for (i, sr) in raw.iter().enumerate() {
            let (line, at) = (Some(line_of(sr.span().start)), format!("ranges[{i}]"));
            let r = sr.get_ref();
            let cidr = dangle_model::parse_ip_or_cidr(&r.cidr).map_err(|m| invalid(line, &format!("{at}.cidr"), m))?;
            let known = crate::providers::clouds(registry);
            if known.parse(&r.provider).is_none() && !registry.iter().any(|e| e.kind() == r.provider) && !names.contains(&r.provider) {
                let clouds: Vec<&str> = known.iter().map(|c| c.as_str()).collect();
                return Err(invalid(
                    line,
                    &format!("{at}.provider"),
                    format!("`{}` is neither a cloud ({}), a provider type ({}) nor the name of a configured provider", r.provider, clouds.join(", "), kinds()),
                ));
            }
            ranges.push(DeclaredRange {
                cidr,
                provider: r.provider.clone(),
                region: r.region.clone(),
                service: r.service.clone(),
                claimable: r.claimable.map(|c| if c { Claimable::Yes } else { Claimable::No }),
            });
        }

        Ok(ranges)
    }

    /// `[[alerts]]`: where new and worsened findings are posted.
    fn alerts(&self, raw: &[toml::Spanned<RawAlert>]) -> Result<Vec<AlertConfig>, ConfigError> {
        let mut out: Vec<AlertConfig> = Vec::new();
        for (i, sa) in raw.iter().enumerate() {
            let (line, at) = (Some(self.line_of(sa.span().start)), format!("alerts[{i}]"));
            let a = sa.get_ref();
            let invalid = |key: &str, message: String| self.invalid(line, &format!("{at}.{key}"), message);
            let kind = match a.kind.as_str() {
                "webhook" => AlertKind::Webhook,
                "slack" => AlertKind::Slack,
                other => return Err(invalid("type", format!("`{other}` is not an alert type (webhook, slack)"))),
            };
            check_alert_url(&a.url).map_err(|m| invalid("url", m))?;
            let min_severity = match &a.min_severity {
                Some(s) => Severity::parse(s).ok_or_else(|| invalid("min_severity", format!("`{s}` is not a severity (info, low, medium, high, critical)")))?,
                None => Severity::High,
            };
            let mut headers = Vec::new();
            for (h, var) in &a.headers_from_env {
                if h.is_empty() || !h.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)) {
                    return Err(invalid("headers_from_env", format!("`{h}` is not an HTTP header name")));
                }
                if var.is_empty() || var.contains('=') || var.contains('\0') {
                    return Err(invalid(&format!("headers_from_env.{h}"), format!("`{var}` is not an environment variable name")));
                }
                headers.push((h.clone(), var.clone()));
            }
            let name = a.name.clone().unwrap_or_else(|| format!("{} {}", a.kind, i + 1));
            if out.iter().any(|o| o.name == name) {
                return Err(invalid("name", format!("`{name}` names another alert too; the store keeps undelivered alerts by name")));
            }
            let timeout = std::time::Duration::from_secs(a.timeout_secs.unwrap_or(10).clamp(1, 300));
            out.push(AlertConfig { kind, name, url: a.url.clone(), min_severity, headers_from_env: headers, timeout, retries: a.retries.unwrap_or(3).min(10) });
        }
        Ok(out)
    }

    /// `[probe]`: the prober's options, checked the way `dangle probe` checks its flags.
    fn probe(&self, raw: Option<RawProbe>, resolve: &dyn Fn(&Path) -> PathBuf) -> Result<ProbeConfig, ConfigError> {
        let invalid = |line: Option<usize>, key: &str, message: String| self.invalid(line, key, message);
        let mut probe = ProbeConfig::default();
        if let Some(p) = raw {
            let at = "[probe]";
            if let Some(v) = p.enabled {
                probe.enabled = v;
            }
            if let Some(v) = p.ports {
                probe.ports = v;
            }
            probe.connect_timeout_ms = p.connect_timeout_ms.unwrap_or(probe.connect_timeout_ms);
            probe.handshake_timeout_ms = p.handshake_timeout_ms.unwrap_or(probe.handshake_timeout_ms);
            probe.concurrency = p.concurrency.unwrap_or(probe.concurrency);
            probe.baseline = p.baseline.unwrap_or(probe.baseline);
            probe.expiry_warn_days = p.expiry_warn_days.unwrap_or(probe.expiry_warn_days).min(3650);
            if p.client_cert.is_some() != p.client_key.is_some() {
                return Err(invalid(None, at, "client_cert and client_key go together".into()));
            }
            probe.check().map_err(|(key, m)| invalid(None, &format!("{at} {key}"), m))?;
            crate::probe::ConnectTo::parse(p.connect_to.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .map_err(|e| invalid(None, &format!("{at} {e}"), "give an address or host name, with an optional :port".into()))?;
            if let Some(ns) = &p.nameservers {
                let mut out = Vec::new();
                for n in ns {
                    out.push(parse_nameserver(n).map_err(|e| invalid(None, &format!("{at} nameservers"), e))?);
                }
                if out.is_empty() {
                    return Err(invalid(None, &format!("{at} nameservers"), "give one or more, or leave the key out for the system's".into()));
                }
                probe.nameservers = Some(out);
            }
            for (i, t) in p.targets.iter().enumerate() {
                let (host, port) = crate::probe::parse_target(&t.target).map_err(|e| invalid(None, &format!("{at} targets[{i}].target"), e))?;
                let sni = crate::probe::default_sni(&host, t.sni.as_deref());
                probe.targets.push(NamedTarget { label: t.target.trim().to_string(), host, port, sni });
            }
            for a in &p.allow_dial {
                probe.allow_dial.push(dangle_model::parse_ip_or_cidr(a).map_err(|_| invalid(None, &format!("{at} allow_dial"), format!("`{a}` is not an address or CIDR")))?);
            }
            probe.trust_anchors = p.trust_anchors.iter().map(|x| resolve(x)).collect();
            probe.spki_pins = p.spki_pins;
            probe.client_cert = p.client_cert.as_deref().map(resolve);
            probe.client_key = p.client_key.as_deref().map(resolve);
            probe.connect_to = p.connect_to;
        }

        Ok(probe)
    }
}

/// A name server: `ADDR`, `ADDR:PORT` or `[V6]:PORT` (port 53 by default).
pub fn parse_nameserver(n: &str) -> Result<std::net::SocketAddr, String> {
    n.parse::<std::net::SocketAddr>()
        .or_else(|_| n.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>().map(|ip| std::net::SocketAddr::new(ip, 53)))
        .map_err(|_| format!("`{n}` is not an address or address:port"))
}

/// `message` with every `quoted` piece of input cut to a short escaped excerpt and any other control
/// character escaped: serde and toml quote whole values, and a value can be anything.
fn excerpt_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    for (i, part) in message.split('`').enumerate() {
        if i > 0 {
            out.push('`');
        }
        if i % 2 == 1 {
            out.push_str(&dangle_model::excerpt(part));
        } else {
            out.push_str(&dangle_model::input::printable(part));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(Path::new("conf/dangle.toml"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn alerts_are_checked_and_their_url_never_shown() {
        let base = "[[providers]]\ntype = \"zonefile\"\npath = \"z.zone\"\n";
        let c = parse(&format!(
            "{base}[[alerts]]\ntype = \"slack\"\nurl = \"https://hooks.slack.com/services/T/B/secret\"\n[[alerts]]\ntype = \"webhook\"\nname = \"pager\"\nurl = \"http://127.0.0.1:9/x\"\nmin_severity = \"critical\"\nheaders_from_env = {{ \"Authorization\" = \"TOKEN\" }}\n"
        ))
        .unwrap();
        assert_eq!(c.alerts.len(), 2);
        assert_eq!((c.alerts[0].name.as_str(), c.alerts[0].min_severity), ("slack 1", Severity::High));
        assert_eq!((c.alerts[1].name.as_str(), c.alerts[1].kind, c.alerts[1].min_severity), ("pager", AlertKind::Webhook, Severity::Critical));
        assert!(!format!("{:?}", c.alerts[0]).contains("secret"), "Debug shows no URL");
        for (alert, want) in [
            ("type = \"email\"\nurl = \"https://x\"", "line 4: alerts[0].type: `email` is not an alert type (webhook, slack)"),
            ("type = \"webhook\"\nurl = \"http://hooks.example.com/x\"", "line 4: alerts[0].url: plain http only to a loopback address"),
            ("type = \"webhook\"\nurl = \"https://x\"\nmin_severity = \"loud\"", "line 4: alerts[0].min_severity: `loud` is not a severity"),
            ("type = \"webhook\"\nurl = \"https://x\"\nheaders_from_env = { \"Bad Header\" = \"T\" }", "alerts[0].headers_from_env: `Bad Header` is not an HTTP header name"),
        ] {
            let e = parse(&format!("{base}[[alerts]]\n{alert}\n")).unwrap_err();
            assert!(e.contains(want), "{e}");
        }
    }

    #[test]
    fn signals_keys() {
        let base = "[[providers]]\ntype = \"zonefile\"\npath = \"z.zone\"\n";
        let c = parse(base).unwrap();
        assert!(c.signals.claim_checks && c.signals.fingerprints);
        assert_eq!((c.signals.fingerprint_timeout.as_secs(), c.signals.requests_per_second), (120, 20));
        let c = parse(&format!("{base}[signals]\nfingerprints = false\nfingerprint_timeout_secs = 9999\nrequests_per_second = 5\n")).unwrap();
        assert!(!c.signals.fingerprints);
        assert_eq!((c.signals.fingerprint_timeout.as_secs(), c.signals.requests_per_second), (3600, 5));
        let e = parse(&format!("{base}[signals]\nrequests_per_second = 0\n")).unwrap_err().to_string();
        assert!(e.contains("line 5") && e.contains("signals.requests_per_second") && e.contains("at least 1"), "{e}");
        let c = parse(&format!("{base}[signals.dns]\ndelegations = false\nnameservers = [\"127.0.0.1:5353\", \"10.0.0.2\"]\n")).unwrap();
        assert!(!c.signals.delegations);
        assert_eq!(c.signals.dns_nameservers, Some(vec!["127.0.0.1:5353".parse().unwrap(), "10.0.0.2:53".parse().unwrap()]));
        let e = parse(&format!("{base}[signals.dns]\nnameservers = [\"not a server\"]\n")).unwrap_err().to_string();
        assert!(e.contains("signals.dns.nameservers"), "{e}");
        assert!(parse(base).unwrap().signals.ct.is_none(), "CT is opt-in");
        let c = parse(&format!("{base}[signals.ct]\n")).unwrap();
        let ct = c.signals.ct.unwrap();
        assert_eq!((ct.url.as_str(), ct.max_age.as_secs(), ct.requests_per_second), ("https://crt.sh", 86_400, 1));
        assert!(parse(&format!("{base}[signals.ct]\nenabled = false\n")).unwrap().signals.ct.is_none());
        let e = parse(&format!("{base}[signals.ct]\nurl = \"http://ct.example.net\"\n")).unwrap_err().to_string();
        assert!(e.contains("signals.ct.url") && e.contains("plain http only to a loopback address"), "{e}");
    }

    #[test]
    fn full_config() {
        let c = parse(
            r#"
db = "state/dangle.sqlite"
[[providers]]
type = "aws"
name = "prod"
regions = ["us-east-1"]
assume_roles = ["arn:aws:iam::111111111111:role/dangle-readonly"]
endpoint_url = "http://127.0.0.1:5000"
[[providers]]
type = "zonefile"
path = "zones/example.com.zone"
origin = "example.com."
[[providers]]
type = "zonefile"
path = "zones/example.org.zone"
[[providers]]
type = "static"
path = "owned.csv"
[[ranges]]
cidr = "203.0.113.0/24"
provider = "prod"
claimable = true
[probe]
ports = [443, 8443]
connect_to = { "52.1.2.3" = "127.0.0.5" }
"#,
        )
        .unwrap();
        assert_eq!(c.db, Path::new("conf/state/dangle.sqlite"));
        let names: Vec<&str> = c.providers.iter().map(|p| p.name()).collect();
        assert_eq!(names, ["prod", "zonefile", "zonefile-2", "static"]);
        assert_eq!(c.providers[1].kind(), "zonefile");
        let settings = format!("{:?}", c.providers[1].settings);
        assert!(settings.contains("disk_path: \"conf/zones/example.com.zone\""), "{settings}");
        assert_eq!(c.ranges[0].claimable, Some(Claimable::Yes));
        assert_eq!(c.probe.ports, [443, 8443]);
    }

    #[test]
    fn errors_name_line_and_key() {
        for (text, needle) in [
            ("[[providers]]\ntype = \"zonefile\"\npath = \"x\"\nregoins = 1\n", "unknown field `regoins`"),
            ("colour = 1\n", "line 1: unknown field `colour`"),
            ("[[providers]]\ntype = \"gcp\"\n", "line 2: providers[0].type: unknown provider type `gcp` (one of aws, azure, zonefile, static)"),
            ("[[providers]]\ntype = \"azure\"\nendpoint_url = \"http://127.0.0.1:8090\"\n", "line 3: providers[0].endpoint_url: `http://127.0.0.1:8090` is not https: Azure bearer tokens travel over TLS only"),
            ("[[providers]]\ntype = \"azure\"\nsubscriptions = [\"../x\"]\n", "providers[0].subscriptions: `../x` is not a subscription id"),
            ("[[providers]]\ntype = \"azure\"\ncredential = \"browser\"\n", "line 3: providers[0].credential: `browser` is not a credential"),
            ("[[providers]]\ntype = \"azure\"\nsubscription = []\n", "unknown field `subscription`"),
            ("[[providers]]\nname = \"x\"\n", "line 1: providers[0]: missing field `type`"),
            ("[[providers]]\ntype = \"static\"\n", "missing field `path`"),
            ("\n[[ranges]]\ncidr = \"10.0.0.1/8\"\nprovider = \"aws\"\n", "line 2: ranges[0].cidr: `10.0.0.1/8` has host bits set"),
            ("[[ranges]]\ncidr = \"10.0.0.0/8\"\nprovider = \"nobody\"\n", "ranges[0].provider: `nobody`"),
            ("[[providers]]\ntype = \"static\"\npath = \"a\"\n[[providers]]\ntype = \"static\"\nname = \"static\"\npath = \"b\"\n", "line 6: providers[1].name: `static` names two"),
            ("[probe]\nports = []\n", "[probe] ports"),
            ("[probe]\nclient_cert = \"c.pem\"\n", "client_cert and client_key go together"),
            ("[[providers]]\ntype = \"aws\"\nassume_roles = [\"prod\"]\n", "providers[0].assume_roles: `prod` is not a role ARN"),
            ("db = [1\n", "line 1"),
            ("[[providers]]\ntype = \"zonefile\"\npath = \"\"\n", "line 3: providers[0].path: empty; give the path of a file"),
            ("[[providers]]\ntype = \"static\"\npath = \"\"\n", "providers[0].path: empty"),
            ("[[providers]]\ntype = \"aws\"\ntimeout_secs = 0\n", "providers[0].timeout_secs: 0 is outside 1..=600"),
            ("[[providers]]\ntype = \"zonefile\"\npath = \"z\"\ninclude_dirs = [\"\"]\n", "providers[0].include_dirs: empty"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.starts_with("conf/dangle.toml: "), "{e}");
            assert!(e.contains(needle), "{text:?}\n=> {e}");
        }
    }

    #[test]
    fn the_line_and_the_key_are_fields_of_the_error_not_only_its_text() {
        let text = "[[providers]]\ntype = \"zonefile\"\npath = \"a.zone\"\norigin = \"bad..name\"\n";
        match Config::parse(Path::new("dangle.toml"), text) {
            Err(ConfigError::Invalid { line: Some(4), key: Some(k), message, .. }) => {
                assert_eq!(k, "providers[0].origin");
                assert!(!message.contains("line") && !message.contains("providers["), "{message}");
            }
            other => panic!("{other:?}"),
        }
        match Config::parse(Path::new("dangle.toml"), "[probe]\nports = []\n") {
            Err(ConfigError::Invalid { line: None, key: Some(k), .. }) => assert_eq!(k, "[probe] ports"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn errors_quote_short_escaped_excerpts_of_input() {
        let long = format!("zone\tfile{}", "x".repeat(500));
        let e = parse(&format!("[[providers]]\ntype = \"{long}\"\n")).unwrap_err();
        assert!(!e.contains('\t') && e.contains("zone\\u{9}file"), "{e}");
        assert!(e.len() < 200, "{e}");
    }

    #[test]
    fn invalid_utf8_names_its_line_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("dangle.toml");
        std::fs::write(&p, b"db = \"x\"\n# caf\xe9\n").unwrap();
        let e = Config::load(&p).unwrap_err().to_string();
        assert_eq!(e, format!("{}: line 2: not valid UTF-8", p.display()));
    }

    #[test]
    fn a_config_that_is_a_directory_or_a_fifo_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let e = Config::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("is a directory"), "{e}");
        let fifo = dir.path().join("fifo.toml");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let e = Config::load(&fifo).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
    }

    #[test]
    fn unknown_provider_key_names_its_line() {
        let e = parse("[[providers]]\ntype = \"zonefile\"\npath = \"x\"\n\n[[providers]]\ntype = \"static\"\npath = \"y\"\nregoins = 1\n").unwrap_err();
        assert!(e.contains("unknown field `regoins`"), "{e}");
        assert!(e.contains("line 8: providers[1]: unknown field `regoins`"), "{e}");
    }
}

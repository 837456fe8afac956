//! `dangle.toml` → typed, validated settings. Every error names the file, and the line and key where
//! there is one; unknown keys are refused by name. Paths are relative to the config file's folder.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use dangle_model::DnsName;
use serde::Deserialize;

use crate::reconcile::ranges::DeclaredRange;
use crate::reconcile::Claimable;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}: {message}", path.display())]
    Invalid { path: PathBuf, message: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    db: Option<PathBuf>,
    #[serde(default)]
    providers: Vec<toml::Spanned<toml::Table>>,
    #[serde(default)]
    ranges: Vec<toml::Spanned<RawRange>>,
    probe: Option<RawProbe>,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
enum RawProvider {
    Aws {
        name: Option<String>,
        regions: Option<Vec<String>>,
        profile: Option<String>,
        #[serde(default)]
        assume_roles: Vec<String>,
        endpoint_url: Option<String>,
        organization_role: Option<String>,
        external_id: Option<String>,
        timeout_secs: Option<u64>,
    },
    Azure {
        name: Option<String>,
        #[serde(default)]
        subscriptions: Vec<String>,
        endpoint_url: Option<String>,
    },
    Zonefile {
        name: Option<String>,
        path: PathBuf,
        origin: Option<String>,
        #[serde(default)]
        include_dirs: Vec<PathBuf>,
    },
    Static {
        name: Option<String>,
        path: PathBuf,
    },
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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    target: String,
    sni: Option<String>,
}

/// A target the user names in `[[probe.targets]]`: probed on every scan, record or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedTarget {
    /// As written in the config.
    pub label: String,
    pub host: String,
    pub port: Option<u16>,
    pub sni: String,
}

/// A validated provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderConfig {
    Aws(AwsConfig),
    Azure(AzureConfig),
    ZoneFile { name: String, path: PathBuf, disk_path: PathBuf, origin: Option<DnsName>, include_dirs: Vec<PathBuf> },
    Static { name: String, path: PathBuf, disk_path: PathBuf },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsConfig {
    pub name: String,
    pub regions: Option<Vec<String>>,
    pub profile: Option<String>,
    pub assume_roles: Vec<String>,
    pub endpoint_url: Option<String>,
    pub organization_role: Option<String>,
    pub external_id: Option<String>,
    /// Per-attempt timeout of every API call, seconds (default 20).
    pub timeout_secs: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureConfig {
    pub name: String,
    pub subscriptions: Vec<String>,
    pub endpoint_url: Option<String>,
}

impl ProviderConfig {
    pub fn name(&self) -> &str {
        match self {
            Self::Aws(a) => &a.name,
            Self::Azure(a) => &a.name,
            Self::ZoneFile { name, .. } | Self::Static { name, .. } => name,
        }
    }
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Aws(_) => "aws",
            Self::Azure(_) => "azure",
            Self::ZoneFile { .. } => "zonefile",
            Self::Static { .. } => "static",
        }
    }
    /// The namespace whose ownership this provider enumerates (`dns` for record-only providers).
    pub fn cloud(&self) -> &'static str {
        match self {
            Self::Aws(_) => "aws",
            Self::Azure(_) => "azure",
            Self::ZoneFile { .. } => "dns",
            Self::Static { .. } => "static",
        }
    }
}

/// `[probe]`, validated (files are read when the prober is built: `probe::load`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeConfig {
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
}

impl Default for ProbeConfig {
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
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub db: PathBuf,
    pub providers: Vec<ProviderConfig>,
    pub ranges: Vec<DeclaredRange>,
    pub probe: ProbeConfig,
}

const RANGE_CLOUDS: &[&str] = &["aws", "azure", "static"];

impl Config {
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let bytes = dangle_model::input::read_file(path, dangle_model::input::MAX_SMALL_FILE)
            .map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let line = e.as_bytes()[..e.utf8_error().valid_up_to()].iter().filter(|b| **b == b'\n').count() + 1;
            ConfigError::Invalid { path: path.to_path_buf(), message: format!("line {line}: not valid UTF-8") }
        })?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid { path: path.to_path_buf(), message: excerpt_quoted(&message) };
        let line_of = |offset: usize| text[..offset.min(text.len())].bytes().filter(|b| *b == b'\n').count() + 1;
        let raw: Raw = toml::from_str(text).map_err(|e| {
            let at = e.span().map(|s| format!("line {}: ", line_of(s.start))).unwrap_or_default();
            invalid(format!("{at}{}", e.message().trim_end()))
        })?;
        let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
        let resolve = |p: &Path| dangle_files::resolve(&dir, p);

        let mut providers = Vec::new();
        let mut names = HashSet::new();
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, sp) in raw.providers.iter().enumerate() {
            let at = format!("line {}: providers[{i}]", line_of(sp.span().start));
            let parsed = RawProvider::deserialize(toml::Value::Table(sp.get_ref().clone())).map_err(|e| {
                // Serde's tagged enums lose spans: find the offending key inside this provider's table.
                let msg = e.message().trim_end().to_string();
                let key = msg.split('`').nth(1).filter(|_| msg.starts_with("unknown field"));
                let span = sp.span();
                let line = key
                    .and_then(|k| {
                        // The table runs from its header to the next header.
                        let body = &text[span.start.min(text.len())..];
                        body.lines()
                            .enumerate()
                            .take_while(|(n, l)| *n == 0 || !l.trim_start().starts_with('['))
                            .find(|(_, l)| l.trim_start().starts_with(k) && l.contains('='))
                            .map(|(n, _)| line_of(span.start) + n)
                    })
                    .unwrap_or(line_of(span.start));
                invalid(format!("line {line}: providers[{i}]: {msg}"))
            })?;
            let p = &parsed;
            let kind = match p {
                RawProvider::Aws { .. } => "aws",
                RawProvider::Azure { .. } => "azure",
                RawProvider::Zonefile { .. } => "zonefile",
                RawProvider::Static { .. } => "static",
            };
            let n = counts.entry(kind).or_default();
            *n += 1;
            let default_name = if *n == 1 { kind.to_string() } else { format!("{kind}-{n}") };
            let pick = |name: &Option<String>| -> Result<String, ConfigError> {
                let name = name.clone().unwrap_or(default_name.clone());
                if name.trim().is_empty() {
                    return Err(invalid(format!("{at}.name: must not be empty")));
                }
                Ok(name)
            };
            let cfg = match p {
                RawProvider::Aws { name, regions, profile, assume_roles, endpoint_url, organization_role, external_id, timeout_secs } => {
                    if let Some(t) = timeout_secs {
                        if *t == 0 || *t > 600 {
                            return Err(invalid(format!("{at}.timeout_secs: {t} is outside 1..=600")));
                        }
                    }
                    if let Some(r) = regions {
                        if r.is_empty() {
                            return Err(invalid(format!("{at}.regions: empty list (leave the key out for every enabled region)")));
                        }
                    }
                    for role in assume_roles {
                        if !role.starts_with("arn:") || !role.contains(":role/") {
                            return Err(invalid(format!("{at}.assume_roles: `{role}` is not a role ARN (arn:aws:iam::ACCOUNT:role/NAME)")));
                        }
                    }
                    check_url(endpoint_url.as_deref()).map_err(|m| invalid(format!("{at}.endpoint_url: {m}")))?;
                    warn_cleartext(path, &at, endpoint_url.as_deref());
                    ProviderConfig::Aws(AwsConfig {
                        name: pick(name)?,
                        regions: regions.clone(),
                        profile: profile.clone(),
                        assume_roles: assume_roles.clone(),
                        endpoint_url: endpoint_url.clone(),
                        organization_role: organization_role.clone(),
                        external_id: external_id.clone(),
                        timeout_secs: *timeout_secs,
                    })
                }
                RawProvider::Azure { name, subscriptions, endpoint_url } => {
                    check_url(endpoint_url.as_deref()).map_err(|m| invalid(format!("{at}.endpoint_url: {m}")))?;
                    warn_cleartext(path, &at, endpoint_url.as_deref());
                    ProviderConfig::Azure(AzureConfig { name: pick(name)?, subscriptions: subscriptions.clone(), endpoint_url: endpoint_url.clone() })
                }
                RawProvider::Zonefile { name, path: p, origin, include_dirs } => {
                    non_empty(p).map_err(|m| invalid(format!("{at}.path: {m}")))?;
                    for d in include_dirs {
                        non_empty(d).map_err(|m| invalid(format!("{at}.include_dirs: {m}")))?;
                    }
                    let origin = origin
                        .as_deref()
                        .map(DnsName::parse)
                        .transpose()
                        .map_err(|e| invalid(format!("{at}.origin: {e}")))?;
                    let include_dirs = include_dirs.iter().map(|d| resolve(d)).collect();
                    ProviderConfig::ZoneFile { name: pick(name)?, path: p.clone(), disk_path: resolve(p), origin, include_dirs }
                }
                RawProvider::Static { name, path: p } => {
                    non_empty(p).map_err(|m| invalid(format!("{at}.path: {m}")))?;
                    ProviderConfig::Static { name: pick(name)?, path: p.clone(), disk_path: resolve(p) }
                }
            };
            if !names.insert(cfg.name().to_string()) {
                return Err(invalid(format!("{at}.name: `{}` names two providers; give each a distinct `name`", cfg.name())));
            }
            providers.push(cfg);
        }

        let mut ranges = Vec::new();
        for (i, sr) in raw.ranges.iter().enumerate() {
            let at = format!("line {}: ranges[{i}]", line_of(sr.span().start));
            let r = sr.get_ref();
            let cidr = dangle_files::parse_ip_or_cidr(&r.cidr).map_err(|m| invalid(format!("{at}.cidr: {m}")))?;
            if !RANGE_CLOUDS.contains(&r.provider.as_str()) && !names.contains(&r.provider) {
                return Err(invalid(format!(
                    "{at}.provider: `{}` is neither aws, azure, static nor the name of a configured provider",
                    r.provider
                )));
            }
            ranges.push(DeclaredRange {
                cidr,
                provider: r.provider.clone(),
                region: r.region.clone(),
                service: r.service.clone(),
                claimable: r.claimable.map(|c| if c { Claimable::Yes } else { Claimable::No }),
            });
        }

        let mut probe = ProbeConfig::default();
        if let Some(p) = raw.probe {
            let at = "[probe]";
            if let Some(v) = p.enabled {
                probe.enabled = v;
            }
            if let Some(v) = p.ports {
                if v.is_empty() || v.contains(&0) {
                    return Err(invalid(format!("{at} ports: give one or more ports between 1 and 65535")));
                }
                probe.ports = v;
            }
            for (key, v, slot) in [
                ("connect_timeout_ms", p.connect_timeout_ms, &mut probe.connect_timeout_ms),
                ("handshake_timeout_ms", p.handshake_timeout_ms, &mut probe.handshake_timeout_ms),
            ] {
                if let Some(v) = v {
                    if v == 0 || v > 600_000 {
                        return Err(invalid(format!("{at} {key}: {v} is outside 1..=600000")));
                    }
                    *slot = v;
                }
            }
            if let Some(c) = p.concurrency {
                if c == 0 || c > 4096 {
                    return Err(invalid(format!("{at} concurrency: {c} is outside 1..=4096")));
                }
                probe.concurrency = c;
            }
            if p.client_cert.is_some() != p.client_key.is_some() {
                return Err(invalid(format!("{at}: client_cert and client_key go together")));
            }
            crate::probe::ConnectTo::parse(p.connect_to.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .map_err(|e| invalid(format!("{at} {e}: give an address or host name, with an optional :port")))?;
            if let Some(ns) = &p.nameservers {
                let mut out = Vec::new();
                for n in ns {
                    out.push(parse_nameserver(n).map_err(|e| invalid(format!("{at} nameservers: {e}")))?);
                }
                if out.is_empty() {
                    return Err(invalid(format!("{at} nameservers: give one or more, or leave the key out for the system's")));
                }
                probe.nameservers = Some(out);
            }
            for (i, t) in p.targets.iter().enumerate() {
                let (host, port) = crate::probe::parse_target(&t.target).map_err(|e| invalid(format!("{at} targets[{i}].target: {e}")))?;
                let sni = crate::probe::default_sni(&host, t.sni.as_deref());
                probe.targets.push(NamedTarget { label: t.target.trim().to_string(), host, port, sni });
            }
            for a in &p.allow_dial {
                probe.allow_dial.push(dangle_files::parse_ip_or_cidr(a).map_err(|_| invalid(format!("{at} allow_dial: `{a}` is not an address or CIDR")))?);
            }
            probe.trust_anchors = p.trust_anchors.iter().map(|x| resolve(x)).collect();
            probe.spki_pins = p.spki_pins;
            probe.client_cert = p.client_cert.as_deref().map(resolve);
            probe.client_key = p.client_key.as_deref().map(resolve);
            probe.connect_to = p.connect_to;
        }

        let db = resolve(raw.db.as_deref().unwrap_or(Path::new("dangle.sqlite")));
        Ok(Self { path: path.to_path_buf(), db, providers, ranges, probe })
    }
}

/// A name server: `ADDR`, `ADDR:PORT` or `[V6]:PORT` (port 53 by default).
pub fn parse_nameserver(n: &str) -> Result<std::net::SocketAddr, String> {
    n.parse::<std::net::SocketAddr>()
        .or_else(|_| n.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>().map(|ip| std::net::SocketAddr::new(ip, 53)))
        .map_err(|_| format!("`{n}` is not an address or address:port"))
}

fn warn_cleartext(path: &Path, at: &str, url: Option<&str>) {
    if url.is_some_and(cleartext_to_remote) {
        tracing::warn!(
            "{}: {at}.endpoint_url is plain http to a host that is not this machine: signed requests and session tokens would travel in cleartext; use https",
            path.display()
        );
    }
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

fn non_empty(p: &Path) -> Result<(), String> {
    if p.as_os_str().is_empty() {
        return Err("empty; give the path of a file".into());
    }
    Ok(())
}

fn check_url(url: Option<&str>) -> Result<(), String> {
    match url {
        Some(u) if !(u.starts_with("http://") || u.starts_with("https://")) => Err(format!("`{}` is not an http(s) URL", dangle_model::excerpt(u))),
        _ => Ok(()),
    }
}

/// Plain http is for an emulator on this machine: to any other host, signed requests and session
/// tokens would travel in cleartext.
pub fn cleartext_to_remote(url: &str) -> bool {
    let Some(rest) = url.strip_prefix("http://") else { return false };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host.strip_prefix('[') { v6.split(']').next().unwrap_or("") } else { host.split(':').next().unwrap_or("") };
    let loopback = host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    !loopback
}


#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(Path::new("conf/dangle.toml"), text).map_err(|e| e.to_string())
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
        assert!(matches!(&c.providers[1], ProviderConfig::ZoneFile { disk_path, .. } if disk_path == Path::new("conf/zones/example.com.zone")));
        assert_eq!(c.ranges[0].claimable, Some(Claimable::Yes));
        assert_eq!(c.probe.ports, [443, 8443]);
    }

    #[test]
    fn errors_name_line_and_key() {
        for (text, needle) in [
            ("[[providers]]\ntype = \"zonefile\"\npath = \"x\"\nregoins = 1\n", "unknown field `regoins`"),
            ("colour = 1\n", "line 1: unknown field `colour`"),
            ("[[providers]]\ntype = \"gcp\"\n", "unknown variant `gcp`"),
            ("[[providers]]\ntype = \"static\"\n", "missing field `path`"),
            ("\n[[ranges]]\ncidr = \"10.0.0.1/8\"\nprovider = \"aws\"\n", "line 2: ranges[0].cidr: `10.0.0.1/8` has host bits set"),
            ("[[ranges]]\ncidr = \"10.0.0.0/8\"\nprovider = \"nobody\"\n", "ranges[0].provider: `nobody`"),
            ("[[providers]]\ntype = \"static\"\npath = \"a\"\n[[providers]]\ntype = \"static\"\nname = \"static\"\npath = \"b\"\n", "line 4: providers[1].name: `static` names two"),
            ("[probe]\nports = []\n", "[probe] ports"),
            ("[probe]\nclient_cert = \"c.pem\"\n", "client_cert and client_key go together"),
            ("[[providers]]\ntype = \"aws\"\nassume_roles = [\"prod\"]\n", "providers[0].assume_roles: `prod` is not a role ARN"),
            ("db = [1\n", "line 1"),
            ("[[providers]]\ntype = \"zonefile\"\npath = \"\"\n", "line 1: providers[0].path: empty; give the path of a file"),
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
    fn errors_quote_short_escaped_excerpts_of_input() {
        let long = format!("zone\tfile{}", "x".repeat(500));
        let e = parse(&format!("[[providers]]\ntype = \"{long}\"\n")).unwrap_err();
        assert!(!e.contains('\t') && e.contains("zone\\u{9}file"), "{e}");
        assert!(e.len() < 200, "{e}");
    }

    #[test]
    fn plain_http_is_only_for_this_machine() {
        for (url, remote) in [
            ("http://127.0.0.1:5000", false),
            ("http://[::1]:5000/", false),
            ("http://localhost:5000", false),
            ("http://user@127.0.0.2", false),
            ("https://10.0.0.5", false),
            ("http://10.0.0.5:5000", true),
            ("http://moto.internal", true),
            ("http://[2001:db8::1]:80", true),
        ] {
            assert_eq!(cleartext_to_remote(url), remote, "{url}");
        }
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

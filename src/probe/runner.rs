//! Many probes at once: resolve host names (hickory-resolver), apply `connect_to`, refuse addresses
//! outside `allow_dial`, and keep at most `concurrency` probes in flight and [`PER_ADDRESS`] per dialed
//! address, so a scan never hammers one host.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::TokioResolver;
use ipnet::IpNet;
use tokio::sync::{OnceCell, Semaphore};

use super::{probe, Evidence, Settings, Verdict};

/// At most this many probes in flight to one dialed address.
pub const PER_ADDRESS: usize = 4;

/// One thing to probe: a DNS target (an address or a host name) with the SNI to send, on one port or
/// (`None`) on every `[probe] ports` entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Job {
    pub target: String,
    pub sni: String,
    pub port: Option<u16>,
}

impl Job {
    /// A target on the configured ports.
    pub fn new(target: impl Into<String>, sni: impl Into<String>) -> Self {
        Self { target: target.into(), sni: sni.into(), port: None }
    }
}

/// `HOST[:PORT]` (an address, a host name, `[V6]:PORT`) → host and port.
pub fn parse_target(t: &str) -> Result<(String, Option<u16>), String> {
    let t = t.trim();
    if let Ok(sa) = t.parse::<SocketAddr>() {
        if sa.port() == 0 {
            return Err(format!("`{t}`: port 0"));
        }
        return Ok((sa.ip().to_string(), Some(sa.port())));
    }
    if let Ok(ip) = t.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        return Ok((ip.to_string(), None));
    }
    let (host, port) = match t.rsplit_once(':') {
        Some((h, p)) => (h, Some(p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| format!("`{t}`: `{p}` is not a port"))?)),
        None => (t, None),
    };
    if host.is_empty() || !host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_')) {
        return Err(format!("`{t}` is not HOST[:PORT]"));
    }
    dangle_model::DnsName::parse(host).map_err(|e| format!("`{t}`: {e}"))?;
    Ok((host.trim_end_matches('.').to_ascii_lowercase(), port))
}

/// The SNI for a named target: `sni` if given, else the host when it is a name (none for an address).
pub fn default_sni(host: &str, sni: Option<&str>) -> String {
    match sni {
        Some(s) => s.trim_end_matches('.').to_string(),
        None if host.parse::<IpAddr>().is_ok() => String::new(),
        None => host.to_string(),
    }
}

/// Where to dial instead: an address or a host name, with or without a port.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Endpoint {
    host: String,
    port: Option<u16>,
}

impl Endpoint {
    fn parse(s: &str) -> Result<Self, String> {
        parse_target(s).map(|(host, port)| Self { host, port })
    }
}

/// `connect_to`, like curl's `--connect-to`: dial another address or host for an address or host
/// (optionally for one port only), keeping the SNI.
#[derive(Debug, Clone, Default)]
pub struct ConnectTo {
    map: HashMap<(String, Option<u16>), Endpoint>,
}

impl ConnectTo {
    /// Keys and values: `ADDR`, `ADDR:PORT`, `[V6]:PORT`, `HOST`, `HOST:PORT`.
    pub fn parse<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, String> {
        let mut map = HashMap::new();
        for (from, to) in entries {
            let f = Endpoint::parse(from).map_err(|e| format!("connect_to key {e}"))?;
            let t = Endpoint::parse(to).map_err(|e| format!("connect_to.\"{from}\": {e}"))?;
            map.insert((f.host, f.port), t);
        }
        Ok(Self { map })
    }

    fn get(&self, host: &str, port: u16) -> Option<&Endpoint> {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.map.get(&(host.clone(), Some(port))).or_else(|| self.map.get(&(host, None)))
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

/// Runs probes for a scan or for `dangle probe`.
pub struct Prober {
    settings: Arc<Settings>,
    ports: Vec<u16>,
    connect_to: ConnectTo,
    /// Dial only inside these blocks (empty: anywhere).
    allow_dial: Vec<IpNet>,
    /// `None`: the system's resolver configuration.
    nameservers: Option<Vec<SocketAddr>>,
    resolver: OnceCell<Result<TokioResolver, String>>,
    /// Names our own public zones answer, consulted before DNS: name → addresses, name → CNAME target.
    zone_hosts: HashMap<String, Vec<IpAddr>>,
    zone_cnames: HashMap<String, String>,
    flight: Arc<Semaphore>,
    /// Jobs resolving or probing at once (so a scan of 100k names does not send 100k queries at once).
    jobs: Arc<Semaphore>,
    per_address: Mutex<HashMap<IpAddr, Arc<Semaphore>>>,
}

impl Prober {
    pub fn new(settings: Settings, ports: Vec<u16>, concurrency: usize) -> Self {
        Self {
            settings: Arc::new(settings),
            ports,
            connect_to: ConnectTo::default(),
            allow_dial: Vec::new(),
            nameservers: None,
            resolver: OnceCell::new(),
            zone_hosts: HashMap::new(),
            zone_cnames: HashMap::new(),
            flight: Arc::new(Semaphore::new(concurrency.max(1))),
            jobs: Arc::new(Semaphore::new(concurrency.max(1))),
            per_address: Mutex::new(HashMap::new()),
        }
    }

    pub fn with_connect_to(mut self, c: ConnectTo) -> Self {
        self.connect_to = c;
        self
    }

    pub fn with_allow_dial(mut self, nets: Vec<IpNet>) -> Self {
        self.allow_dial = nets;
        self
    }

    pub fn with_nameservers(mut self, ns: Option<Vec<SocketAddr>>) -> Self {
        self.nameservers = ns;
        self
    }

    /// Our public zones' A / AAAA and CNAME records: names they hold resolve from them, as our
    /// authoritative servers would answer, without a query.
    pub fn with_zone_records(mut self, records: &[dangle_model::DnsRecord]) -> Self {
        use dangle_model::{RecordType, Target};
        for r in records.iter().filter(|r| !r.zone_private) {
            let name = key(r.name.as_str());
            for t in r.targets.iter() {
                match (&r.rtype, t) {
                    (RecordType::A | RecordType::Aaaa, Target::Ip(ip)) => self.zone_hosts.entry(name.clone()).or_default().push(*ip),
                    (RecordType::Cname, Target::Host(h)) => {
                        self.zone_cnames.insert(name.clone(), key(h.as_str()));
                    }
                    _ => {}
                }
            }
        }
        self
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    async fn resolver(&self) -> Result<&TokioResolver, String> {
        let r = self
            .resolver
            .get_or_init(|| async {
                let mut builder = match &self.nameservers {
                    Some(ns) => {
                        let servers = ns
                            .iter()
                            .map(|sa| {
                                let mut udp = ConnectionConfig::udp();
                                udp.port = sa.port();
                                let mut tcp = ConnectionConfig::tcp();
                                tcp.port = sa.port();
                                NameServerConfig::new(sa.ip(), true, vec![udp, tcp])
                            })
                            .collect();
                        TokioResolver::builder_with_config(ResolverConfig::from_name_servers(servers), TokioRuntimeProvider::default())
                    }
                    None => TokioResolver::builder_tokio().map_err(|e| format!("cannot read the system's resolver configuration: {e}"))?,
                };
                let o: &mut ResolverOpts = builder.options_mut();
                o.timeout = self.settings.connect_timeout;
                o.attempts = 1;
                o.ip_strategy = hickory_resolver::config::LookupIpStrategy::Ipv4AndIpv6;
                builder.build().map_err(|e| format!("cannot start the resolver: {e}"))
            })
            .await;
        r.as_ref().map_err(Clone::clone)
    }

    /// Every address `host` resolves to, or why none: our own zones first, then DNS.
    async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        match self.lookup(host).await {
            Lookup::Addresses(ips) => Ok(ips),
            Lookup::NxDomain(host) => Err(format!("{host} does not exist (NXDOMAIN)")),
            Lookup::NoAddresses(host) => Err(format!("{host} has no address records")),
            Lookup::Failed(why) => Err(why),
        }
    }

    /// What DNS says of `host` (our own zones first, then the resolver): its addresses, or that the
    /// name (or the end of its CNAME chain) does not exist, or why there is no answer.
    pub async fn lookup(&self, host: &str) -> Lookup {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Lookup::Addresses(vec![ip]);
        }
        let mut name = key(host);
        for _ in 0..dangle_model::MAX_CHAIN {
            if let Some(ips) = self.zone_hosts.get(&name) {
                return Lookup::Addresses(ips.clone());
            }
            match self.zone_cnames.get(&name) {
                Some(next) => name = next.clone(),
                None => break,
            }
        }
        let host = name.as_str();
        let resolver = match self.resolver().await {
            Ok(r) => r,
            Err(e) => return Lookup::Failed(e),
        };
        let fqdn = if host.ends_with('.') { host.to_string() } else { format!("{host}.") };
        // hickory bounds each query; this bounds the whole lookup (CNAME chains, TCP fallback) too.
        let bound = 4 * self.settings.connect_timeout;
        let lookup = match tokio::time::timeout(bound, resolver.lookup_ip(fqdn.as_str())).await {
            Ok(r) => r,
            Err(_) => return Lookup::Failed(format!("{host} does not resolve within {} ms", bound.as_millis())),
        };
        match lookup {
            Ok(l) => {
                let mut ips: Vec<IpAddr> = l.iter().collect();
                ips.sort();
                ips.dedup();
                if ips.is_empty() {
                    Lookup::NoAddresses(host.to_string())
                } else {
                    Lookup::Addresses(ips)
                }
            }
            Err(e) if e.is_nx_domain() => Lookup::NxDomain(host.to_string()),
            Err(e) if e.is_no_records_found() => Lookup::NoAddresses(host.to_string()),
            Err(e) => Lookup::Failed(format!("{host} {}", lookup_failure(&e))),
        }
    }

    /// The name servers of `zone` as DNS answers now (`NS` through the resolver), lower case without
    /// the final dot; `Err` with what DNS said instead (NXDOMAIN, no NS records, no answer).
    pub async fn lookup_ns(&self, zone: &str) -> Result<Vec<String>, Lookup> {
        let zone = key(zone);
        let resolver = self.resolver().await.map_err(Lookup::Failed)?;
        let bound = 4 * self.settings.connect_timeout;
        let got = tokio::time::timeout(bound, resolver.lookup(format!("{zone}."), hickory_resolver::proto::rr::RecordType::NS)).await;
        match got {
            Err(_) => Err(Lookup::Failed(format!("{zone} NS: no answer within {} ms", bound.as_millis()))),
            Ok(Err(e)) if e.is_nx_domain() => Err(Lookup::NxDomain(zone)),
            Ok(Err(e)) if e.is_no_records_found() => Err(Lookup::NoAddresses(zone)),
            Ok(Err(e)) => Err(Lookup::Failed(format!("{zone} NS {}", lookup_failure(&e)))),
            Ok(Ok(l)) => {
                let mut ns: Vec<String> = l
                    .answers()
                    .iter()
                    .filter_map(|r| match &r.data {
                        hickory_resolver::proto::rr::RData::NS(n) => Some(key(&n.0.to_ascii())),
                        _ => None,
                    })
                    .collect();
                ns.sort();
                ns.dedup();
                Ok(ns)
            }
        }
    }

    /// Which resolver the lookups go to, for a reason: the configured name servers, or the system's.
    pub fn resolver_name(&self) -> String {
        match &self.nameservers {
            Some(ns) => ns.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", "),
            None => "the system resolver".into(),
        }
    }

    /// Where to dial `host` on `port`: `connect_to` first (by name, then by each address it resolves
    /// to), then DNS. Each entry: the address shown (none when `connect_to` maps the name itself) and
    /// the address to dial, or why not; an error when the name does not resolve.
    pub(super) async fn plan(&self, host: &str, port: u16) -> Result<Vec<(Option<SocketAddr>, Result<SocketAddr, String>)>, String> {
        let host = host.trim_end_matches('.');
        if host.parse::<IpAddr>().is_err() {
            if let Some(to) = self.connect_to.get(host, port) {
                let port_to = to.port.unwrap_or(port);
                let ips = self.resolve(&to.host).await.map_err(|e| format!("connect_to target {e}"))?;
                return Ok(ips.into_iter().map(|ip| (None, Ok(SocketAddr::new(ip, port_to)))).collect());
            }
        }
        let ips = self.resolve(host).await?;
        let mut plan = Vec::with_capacity(ips.len());
        for ip in ips {
            let shown = SocketAddr::new(ip, port);
            let dial = match self.connect_to.get(&ip.to_string(), port) {
                Some(to) => match self.resolve(&to.host).await {
                    Ok(d) => Ok(SocketAddr::new(d[0], to.port.unwrap_or(port))),
                    Err(e) => Err(format!("connect_to target {e}")),
                },
                None => Ok(shown),
            };
            plan.push((Some(shown), dial));
        }
        Ok(plan)
    }

    /// Holds one of the in-flight slots for `dial` (overall and per address) while the guard lives.
    pub(super) async fn slot(&self, dial: IpAddr) -> (tokio::sync::OwnedSemaphorePermit, tokio::sync::OwnedSemaphorePermit) {
        let per = {
            let mut m = self.per_address.lock().expect("prober state");
            m.entry(dial).or_insert_with(|| Arc::new(Semaphore::new(PER_ADDRESS))).clone()
        };
        let p = per.acquire_owned().await.expect("never closed");
        let f = self.flight.clone().acquire_owned().await.expect("never closed");
        (p, f)
    }

    /// Does `connect_to` map this host on this port?
    pub(super) fn maps(&self, host: &str, port: u16) -> bool {
        self.connect_to.get(host, port).is_some()
    }

    pub(super) fn allowed(&self, ip: IpAddr) -> bool {
        self.allow_dial.is_empty() || self.allow_dial.iter().any(|n| n.contains(&ip))
    }

    /// Probes every job on every port, each job on its own task (so handshakes use every core); per
    /// job, the evidence sorted by address and port.
    pub async fn run(self: &Arc<Self>, jobs: &[Job]) -> Vec<Vec<Evidence>> {
        self.run_with(jobs, &|| {}).await
    }

    /// [`Prober::run`], calling `done` as each job finishes (a progress bar's tick).
    pub async fn run_with(self: &Arc<Self>, jobs: &[Job], done: &(dyn Fn() + Sync)) -> Vec<Vec<Evidence>> {
        let mut set = tokio::task::JoinSet::new();
        for (i, j) in jobs.iter().enumerate() {
            let (me, job) = (self.clone(), j.clone());
            set.spawn(async move {
                let _permit = me.jobs.clone().acquire_owned().await.expect("never closed");
                (i, me.run_job(&job).await)
            });
        }
        let mut out: Vec<Vec<Evidence>> = vec![Vec::new(); jobs.len()];
        while let Some(finished) = set.join_next().await {
            done();
            match finished {
                Ok((i, ev)) => out[i] = ev,
                // A panic in one probe is a bug; it must not lose the other results.
                Err(e) => tracing::error!(error = %e, "a probe task failed"),
            }
        }
        out
    }

    /// Probes one job (on the current task).
    pub async fn run_job(&self, job: &Job) -> Vec<Evidence> {
        let host = job.target.trim_end_matches('.');
        // Each (address shown, address dialed) pair to probe.
        let mut plan: Vec<(Option<SocketAddr>, Result<SocketAddr, String>)> = Vec::new();
        let mut failed: Vec<Evidence> = Vec::new();
        let ports = match job.port {
            Some(p) => vec![p],
            None => self.ports.clone(),
        };
        // A name that does not resolve is said once, not once per port (resolutions are per port only
        // where connect_to maps the name on that port).
        let mut unresolved = false;
        for port in ports {
            match self.plan(host, port).await {
                Ok(p) => plan.extend(p),
                Err(e) if e.starts_with("connect_to target") => failed.push(no_answer(job, None, e)),
                Err(e) => {
                    if !unresolved {
                        failed.push(no_answer(job, None, e));
                    }
                    unresolved = true;
                }
            }
        }
        let probes = plan.into_iter().map(|(shown, dial)| async move {
            match dial {
                Err(e) => no_answer(job, shown, e),
                Ok(d) if !self.allowed(d.ip()) => {
                    let mut ev = Evidence::not_probed(&job.target, shown, &job.sni, format!("{d} is outside [probe] allow_dial"));
                    ev.dialed = None;
                    ev
                }
                Ok(d) => self.one(job, shown, d).await,
            }
        });
        let mut out = futures_util::future::join_all(probes).await;
        out.extend(failed);
        out.sort_by_key(|e| (e.address, e.dialed));
        out
    }

    async fn one(&self, job: &Job, shown: Option<SocketAddr>, dial: SocketAddr) -> Evidence {
        let _slot = self.slot(dial.ip()).await;
        probe(&job.target, shown, dial, &job.sni, &self.settings).await
    }
}

/// What DNS says of a name ([`Prober::lookup`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    Addresses(Vec<IpAddr>),
    /// The name, or the end of its CNAME chain (named), does not exist.
    NxDomain(String),
    /// The name exists without address records.
    NoAddresses(String),
    /// No answer: why, in words.
    Failed(String),
}

/// A name as the maps hold it: lower case, no final dot.
fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn no_answer(job: &Job, address: Option<SocketAddr>, why: String) -> Evidence {
    let mut ev = Evidence::new(&job.target, address, &job.sni);
    ev.verdict = Verdict::NoAnswer;
    ev.detail = why.clone();
    ev.error = Some(why);
    ev
}

/// The verdict that speaks for a target probed at several places (see [`Verdict::rank`]), with its
/// evidence.
pub fn summarize(evidence: &[Evidence]) -> Option<&Evidence> {
    evidence.iter().max_by_key(|e| e.verdict.rank())
}

/// Why a name did not resolve, in words: hickory's Display of "no records" carries the `Debug` form
/// of its query, which is no message for a person.
fn lookup_failure(e: &hickory_resolver::net::NetError) -> String {
    use hickory_resolver::net::NetError;
    if e.is_nx_domain() {
        return "does not exist (NXDOMAIN)".into();
    }
    if e.is_no_records_found() {
        return "has no address records".into();
    }
    match e {
        NetError::Timeout => "does not resolve: the name servers did not answer in time".into(),
        NetError::Io(io) => format!("does not resolve: {io}"),
        NetError::NoConnections => "does not resolve: no name server could be reached".into(),
        other => format!("does not resolve: {}", dangle_model::excerpt(&other.to_string())),
    }
}

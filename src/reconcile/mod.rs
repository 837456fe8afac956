//! Judgement: pure, synchronous, deterministic. Records and assets in, one [`Judgement`] per
//! (record, target) out — no I/O, no clock, no randomness.
//!
//! The rules (design.md, "Judgement"): a target is `owned` when an inventoried asset holds it, directly or
//! through CNAME / alias chains inside inventoried zones; `dangling` when it lies in a namespace that was
//! enumerated completely (a cloud's published range or service suffix, a declared range, our own zones)
//! and nothing holds it; `unverified` when the scope that would hold it has a coverage gap; `external`
//! otherwise. A target held in an earlier run and not now is `dangling` ("released since run N").

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

pub use dangle_model::Claimable;
use dangle_model::cloud::{self, Key};
use dangle_model::{Asset, AssetKind, Cloud, Coverage, CoverageGap, Description, DnsName, DnsRecord, Hides, Namespace, RecordType, Service, Target};
use ipnet::IpNet;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;

pub mod index;
pub mod ranges;
pub mod reason;
pub mod suffixes;

use index::PrefixIndex;
use ranges::Ranges;
pub use reason::{Detail, Explainer, Reason, ScopeNote};

/// Chains longer than this are not followed (the record is `unverified`).
pub const MAX_CHAIN: usize = 16;

/// A judgement's status (contract names). Ordered from least to most severe, so `max` is the worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    NoTarget,
    Owned,
    External,
    Unverified,
    Dangling,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoTarget => "no_target",
            Self::Owned => "owned",
            Self::External => "external",
            Self::Unverified => "unverified",
            Self::Dangling => "dangling",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::NoTarget, Self::Owned, Self::External, Self::Unverified, Self::Dangling].into_iter().find(|x| x.as_str() == s)
    }
    /// A finding is anything that is neither owned nor without target.
    pub fn is_finding(self) -> bool {
        !matches!(self, Self::Owned | Self::NoTarget)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Severity (contract names), ordered so that `Critical` is the greatest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [Self::Info, Self::Low, Self::Medium, Self::High, Self::Critical];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s.to_ascii_lowercase())
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The severity rule of design.md. `foreign_answer`: the prober saw a foreign server at the target.
pub fn severity(status: Status, claimable: Claimable, foreign_answer: bool) -> Severity {
    match status {
        Status::Dangling if foreign_answer => Severity::Critical,
        Status::Dangling if claimable == Claimable::Yes => Severity::High,
        Status::Dangling => Severity::Medium,
        Status::External | Status::Unverified if claimable == Claimable::Yes || foreign_answer => Severity::Low,
        _ => Severity::Info,
    }
}

/// A configured provider: its label, its config `type` and what it says it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderInfo {
    pub name: Arc<str>,
    pub kind: Arc<str>,
    pub description: Description,
}

/// A keyed namespace (S3 buckets, Azure storage accounts): the cloud and what its keys are called.
/// Services whose names share keys (blob and static-website endpoints of one storage account) share it.
pub type KeySpace = (Cloud, &'static str);

fn key_space(s: Service) -> Option<KeySpace> {
    s.key_noun.map(|n| (s.cloud, n))
}

/// The namespace key an asset of `kind` with `id` holds, if its kind holds one.
fn asset_key<'i>(kind: &AssetKind, id: &'i str) -> Option<(KeySpace, &'i str)> {
    let (service, key) = kind.key(id)?;
    Some((key_space(service)?, key))
}

/// An asset as an earlier run saw it: the evidence behind "released since run N".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Former {
    pub run: i64,
    /// The run's date (shared by every asset of that run).
    pub date: Arc<str>,
    pub kind: AssetKind,
    pub id: Box<str>,
    pub source: Arc<str>,
    pub region: Option<Arc<str>>,
}

/// What earlier runs held, indexed like the current inventory.
#[derive(Debug, Default)]
pub struct History {
    ips: PrefixIndex<u32>,
    hosts: FxHashMap<DnsName, u32>,
    buckets: FxHashMap<(KeySpace, Box<str>), u32>,
    /// Lower-case ids, built on the first resource alias.
    ids: std::sync::OnceLock<FxHashMap<String, u32>>,
    formers: Vec<Former>,
}

impl History {
    /// Adds an asset's last sighting. Add the most recent sightings first: the first one for a key wins.
    pub fn add(&mut self, former: Former, ips: &[IpNet], hosts: &[DnsName]) {
        let i = u32::try_from(self.formers.len()).expect("fewer than 4G former assets");
        for ip in ips {
            self.ips.insert(*ip, i);
        }
        for h in hosts {
            self.hosts.entry(h.clone()).or_insert(i);
        }
        if let Some((space, key)) = asset_key(&former.kind, &former.id) {
            self.buckets.entry((space, key.into())).or_insert(i);
        }
        self.formers.push(former);
    }

    fn id(&self, lower: &str) -> Option<u32> {
        self.ids
            .get_or_init(|| {
                let mut ids = FxHashMap::default();
                for (i, f) in self.formers.iter().enumerate() {
                    ids.entry(f.id.to_ascii_lowercase()).or_insert(i as u32);
                }
                ids
            })
            .get(lower)
            .copied()
    }

    pub fn len(&self) -> usize {
        self.formers.len()
    }

    pub fn former(&self, i: u32) -> &Former {
        &self.formers[i as usize]
    }

    pub fn is_empty(&self) -> bool {
        self.formers.is_empty()
    }
}

/// Everything a judgement depends on.
pub struct Inputs<'a> {
    pub records: &'a [DnsRecord],
    pub assets: &'a [Asset],
    pub gaps: &'a [CoverageGap],
    pub covered: &'a [Coverage],
    pub providers: &'a [ProviderInfo],
    pub ranges: &'a Ranges,
    pub history: &'a History,
}

impl<'a> Inputs<'a> {
    /// Renders the reasons of judgements made on these inputs.
    pub fn explainer(&self) -> Explainer<'a> {
        Explainer { assets: self.assets, history: self.history, ranges: self.ranges, gaps: self.gaps }
    }
}

/// One (record, target) row. 48 bytes: an estate of a million records holds a million of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judgement {
    /// Index into `Inputs::records`.
    pub record: u32,
    /// Index into the record's targets, or NONE.
    target: u32,
    /// Index into `Inputs::assets`, or NONE.
    owner: u32,
    pub status: Status,
    pub claimable: Claimable,
    pub severity: Severity,
    pub reason: Reason,
}

impl Judgement {
    fn new(record: u32, target: Option<u32>, o: Outcome) -> Self {
        Self {
            record,
            target: target.unwrap_or(NONE),
            owner: o.owner.unwrap_or(NONE),
            status: o.status,
            claimable: o.claimable,
            severity: severity(o.status, o.claimable, false),
            reason: o.reason,
        }
    }

    /// Index into the record's targets; `None` for a record without targets.
    pub fn target_index(&self) -> Option<u32> {
        (self.target != NONE).then_some(self.target)
    }

    pub fn target<'r>(&self, records: &'r [DnsRecord]) -> Option<&'r Target> {
        self.target_index().map(|t| &records[self.record as usize].targets[t as usize])
    }

    /// Index into `Inputs::assets` of the asset that holds the target.
    pub fn owner(&self) -> Option<u32> {
        (self.owner != NONE).then_some(self.owner)
    }
}

#[derive(Debug, Clone)]
struct Outcome {
    status: Status,
    claimable: Claimable,
    reason: Reason,
    owner: Option<u32>,
    /// Cut short by a loop or the chain limit: depends on where the walk started, so never memoised.
    partial: bool,
}

impl Outcome {
    fn new(status: Status, claimable: Claimable, reason: Reason) -> Self {
        Self { status, claimable, reason, owner: None, partial: false }
    }
    fn detail(status: Status, claimable: Claimable, d: Detail) -> Self {
        Self::new(status, claimable, Reason::detail(d))
    }
    fn via(mut self, name: &DnsName) -> Self {
        if !self.reason.is_loop() {
            self.reason = Reason::detail(Detail::Via { name: name.clone(), inner: self.reason });
        }
        self
    }
    /// The worst of several outcomes; the first of equals.
    fn worst(outcomes: impl IntoIterator<Item = Outcome>) -> Option<Outcome> {
        let mut best: Option<Outcome> = None;
        let mut partial = false;
        for o in outcomes {
            partial |= o.partial;
            if best.as_ref().is_none_or(|b| o.status > b.status) {
                best = Some(o);
            }
        }
        best.map(|mut b| {
            b.partial = partial;
            b
        })
    }
}

/// What a scope is looked up by: a cloud (its published ranges and service names), or a label (a
/// provider's name or config `type`, as `[[ranges]]` and history name them).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ScopeKey {
    Cloud(Cloud),
    Label(Arc<str>),
}

#[derive(Default)]
struct ScopeInfo {
    configured: bool,
    /// What the scope's providers vouch for.
    covers: FxHashSet<Namespace>,
    all_regions: bool,
    regions: FxHashSet<Arc<str>>,
    accounts: FxHashSet<Arc<str>>,
    gaps: Vec<ScopedGap>,
}

/// A gap as a scope sees it; `index` points into the run's gaps.
struct ScopedGap {
    region: Option<Arc<str>>,
    account: Arc<str>,
    hides: Hides,
    index: u32,
}

fn is_global(region: &str) -> bool {
    region.is_empty() || region.eq_ignore_ascii_case("global")
}

struct ZoneInfo<'a> {
    name: &'a DnsName,
    private: bool,
    sources: Vec<(Arc<str>, Arc<str>)>,
    has_wildcard: bool,
    apex_ns: Vec<DnsName>,
    /// Names below the apex that carry NS records: delegation points.
    delegations: Vec<DnsName>,
}

/// The read-only indexes, shared by every worker thread.
struct Ctx<'a> {
    inp: &'a Inputs<'a>,
    ips: PrefixIndex<u32>,
    hosts: FxHashMap<&'a DnsName, u32>,
    /// Lower-case asset ids, built on the first resource alias (most estates never need it).
    ids: std::sync::OnceLock<FxHashMap<String, u32>>,
    buckets: FxHashMap<(KeySpace, &'a str), u32>,
    zone_assets: FxHashMap<&'a DnsName, Vec<u32>>,
    zones: Vec<ZoneInfo<'a>>,
    /// (zone name, private) → zone: a private zone and a public one may share a name (split horizon).
    zone_by_fqdn: FxHashMap<(&'a str, bool), u32>,
    /// First record (index) at a name; `next` chains the others.
    first_at: FxHashMap<&'a str, u32>,
    next: Vec<u32>,
    scopes: FxHashMap<ScopeKey, ScopeInfo>,
}

const NONE: u32 = u32::MAX;

/// What kind of target an earlier run saw held.
#[derive(Clone, Copy)]
enum Held {
    Address,
    Name,
    /// An alias to a resource id: only its owner's subscription can hold that id again.
    Resource,
}

/// One thread's walk state: memo of judged names and the wildcard existence sets.
struct Walker<'c, 'a> {
    ctx: &'c Ctx<'a>,
    /// The view the current record resolves in: its zone's (a chain never changes view).
    private_view: bool,
    memo: FxHashMap<(DnsName, bool), Outcome>,
    ents: FxHashMap<u32, FxHashSet<&'a str>>,
    stack: Vec<DnsName>,
}

/// Judges every record of `inputs`. Rows come in record order, then target order; the work is split
/// across the machine's cores, and the result does not depend on how.
pub fn reconcile(inputs: &Inputs<'_>) -> Vec<Judgement> {
    let ctx = Ctx::new(inputs);
    let n = inputs.records.len();
    let threads = std::thread::available_parallelism().map(|t| t.get()).unwrap_or(1).clamp(1, 8);
    let placeholder = Judgement::new(0, None, Outcome::new(Status::NoTarget, Claimable::No, Reason::Held(0)));
    let rows_of = |r: &DnsRecord| r.targets.len().max(1);
    let total: usize = inputs.records.iter().map(rows_of).sum();
    let mut out = vec![placeholder; total];
    if n < 20_000 || threads == 1 {
        Walker::new(&ctx).judge_into(0..n, &mut out);
        return out;
    }
    // Split records into equal runs and hand each thread the exact slice of rows they produce.
    let chunk = n.div_ceil(threads);
    std::thread::scope(|s| {
        let mut rest: &mut [Judgement] = &mut out;
        for t in 0..threads {
            let range = t * chunk..((t + 1) * chunk).min(n);
            let len: usize = inputs.records[range.clone()].iter().map(rows_of).sum();
            let (mine, tail) = rest.split_at_mut(len);
            rest = tail;
            let ctx = &ctx;
            s.spawn(move || Walker::new(ctx).judge_into(range, mine));
        }
    });
    out
}

/// The worst status of a record's rows (dangling > unverified > external > owned).
pub fn record_status(rows: &[Judgement]) -> Status {
    rows.iter().map(|j| j.status).max().unwrap_or(Status::NoTarget)
}

impl<'a> Ctx<'a> {
    fn new(inp: &'a Inputs<'a>) -> Self {
        // The asset side and the record side are independent: build them on two cores.
        let (assets, records) = std::thread::scope(|s| {
            let a = s.spawn(|| Self::asset_indexes(inp));
            let r = Self::record_indexes(inp);
            (a.join().expect("asset index builder panicked"), r)
        });
        let (ips, hosts, buckets, zone_assets) = assets;
        let (zones, zone_by_fqdn, first_at, next) = records;
        let scopes = Self::scopes(inp);
        Self { inp, ips, hosts, ids: std::sync::OnceLock::new(), buckets, zone_assets, zones, zone_by_fqdn, first_at, next, scopes }
    }

    /// Every scope a judgement can ask about: each provider under its name, its type and its cloud.
    fn scopes(inp: &Inputs<'_>) -> FxHashMap<ScopeKey, ScopeInfo> {
        let keys_of = |p: &ProviderInfo| {
            let mut keys = vec![ScopeKey::Label(p.name.clone()), ScopeKey::Label(p.kind.clone())];
            keys.extend(p.description.cloud.map(ScopeKey::Cloud));
            keys
        };
        let by_name: FxHashMap<&str, &ProviderInfo> = inp.providers.iter().map(|p| (&*p.name, p)).collect();
        // A source no provider describes (a test, a bench) is its own scope.
        let keys_of_source = |source: &Arc<str>| by_name.get(&**source).map(|p| keys_of(p)).unwrap_or_else(|| vec![ScopeKey::Label(source.clone())]);
        let mut scopes: FxHashMap<ScopeKey, ScopeInfo> = FxHashMap::default();
        for p in inp.providers {
            for key in keys_of(p) {
                let s = scopes.entry(key).or_default();
                s.configured = true;
                s.covers.extend(p.description.covers.iter().copied());
            }
        }
        for c in inp.covered {
            for key in keys_of_source(&c.source) {
                let s = scopes.entry(key).or_default();
                s.configured = true;
                s.accounts.insert(c.account.clone());
                match &c.region {
                    None => s.all_regions = true,
                    Some(r) => {
                        s.regions.insert(r.clone());
                    }
                }
            }
        }
        for (gi, g) in inp.gaps.iter().enumerate() {
            for key in keys_of_source(&g.source) {
                let s = scopes.entry(key).or_default();
                s.configured = true;
                s.gaps.push(ScopedGap { region: g.region.clone(), account: g.account.clone(), hides: g.hides.clone(), index: gi as u32 });
            }
        }
        scopes
    }

    #[allow(clippy::type_complexity)]
    fn asset_indexes(
        inp: &'a Inputs<'a>,
    ) -> (PrefixIndex<u32>, FxHashMap<&'a DnsName, u32>, FxHashMap<(KeySpace, &'a str), u32>, FxHashMap<&'a DnsName, Vec<u32>>) {
        let mut ips = PrefixIndex::default();
        let (v4, v6) = inp.assets.iter().flat_map(|a| &a.ips).fold((0, 0), |(v4, v6), n| match n {
            IpNet::V4(n) if n.prefix_len() == 32 => (v4 + 1, v6),
            IpNet::V6(n) if n.prefix_len() == 128 => (v4, v6 + 1),
            _ => (v4, v6),
        });
        ips.reserve_hosts(v4, v6);
        let mut hosts = FxHashMap::default();
        let mut buckets = FxHashMap::default();
        let mut zone_assets: FxHashMap<&DnsName, Vec<u32>> = FxHashMap::default();
        for (i, a) in inp.assets.iter().enumerate() {
            let i = u32::try_from(i).expect("fewer than 4G assets");
            for ip in &a.ips {
                ips.insert(*ip, i);
            }
            for h in &a.hosts {
                hosts.entry(h).or_insert(i);
            }
            if let Some((space, key)) = asset_key(&a.kind, &a.id) {
                buckets.entry((space, key)).or_insert(i);
            }
            if a.kind.is_zone() {
                if let Some(apex) = a.hosts.first() {
                    zone_assets.entry(apex).or_default().push(i);
                }
            }
        }
        (ips, hosts, buckets, zone_assets)
    }

    #[allow(clippy::type_complexity)]
    fn record_indexes(inp: &'a Inputs<'a>) -> (Vec<ZoneInfo<'a>>, FxHashMap<(&'a str, bool), u32>, FxHashMap<&'a str, u32>, Vec<u32>) {
        let mut zones: Vec<ZoneInfo> = Vec::new();
        let mut zone_by_fqdn: FxHashMap<(&str, bool), u32> = FxHashMap::default();
        // Only names something points at are ever looked up by name, besides wildcards and delegation
        // points: index those, not every record (most records are leaves nobody points at).
        let mut wanted: FxHashSet<&str> = FxHashSet::default();
        for r in inp.records {
            for t in &r.targets {
                match t {
                    Target::Host(h) => {
                        wanted.insert(h.as_fqdn());
                    }
                    Target::Alias { dns_name, .. } => {
                        let n = dns_name.as_fqdn();
                        wanted.insert(n.strip_prefix("dualstack.").unwrap_or(n));
                    }
                    _ => {}
                }
            }
        }
        let mut first_at: FxHashMap<&str, u32> = FxHashMap::default();
        let mut next = vec![NONE; inp.records.len()];
        // Walk backwards so each name's chain runs in record order.
        for (i, r) in inp.records.iter().enumerate().rev() {
            let name = r.name.as_fqdn();
            if !(r.rtype == RecordType::Ns || name.starts_with("*.") || wanted.contains(name)) {
                continue;
            }
            let i = u32::try_from(i).expect("fewer than 4G records");
            if let Some(prev) = first_at.insert(name, i) {
                next[i as usize] = prev;
            }
        }
        drop(wanted);
        // Records come grouped by zone: remember the last one instead of hashing every zone name.
        let mut last: Option<(&DnsName, bool, u32, &str, &str)> = None;
        for r in inp.records {
            let zi = match last {
                Some((z, p, zi, src, acc)) if z == &r.zone && p == r.zone_private && src == &*r.source && acc == &*r.account => zi,
                _ => {
                    let zi = *zone_by_fqdn.entry((r.zone.as_fqdn(), r.zone_private)).or_insert_with(|| {
                        zones.push(ZoneInfo {
                            name: &r.zone,
                            private: r.zone_private,
                            sources: Vec::new(),
                            has_wildcard: false,
                            apex_ns: Vec::new(),
                            delegations: Vec::new(),
                        });
                        (zones.len() - 1) as u32
                    });
                    let z = &mut zones[zi as usize];
                    if !z.sources.iter().any(|(s, a)| *s == r.source && *a == r.account) {
                        z.sources.push((r.source.clone(), r.account.clone()));
                    }
                    last = Some((&r.zone, r.zone_private, zi, &r.source, &r.account));
                    zi
                }
            };
            let z = &mut zones[zi as usize];
            if r.name.as_fqdn().starts_with("*.") {
                z.has_wildcard = true;
            }
            if r.rtype == RecordType::Ns {
                if r.name == r.zone {
                    for t in &r.targets {
                        if let Target::Host(h) = t {
                            if !z.apex_ns.contains(h) {
                                z.apex_ns.push(h.clone());
                            }
                        }
                    }
                } else if !z.delegations.contains(&r.name) {
                    z.delegations.push(r.name.clone());
                }
            }
        }
        (zones, zone_by_fqdn, first_at, next)
    }

    /// Where a target of namespace `ns` (`None`: any) in `region` stands in scope `key`.
    fn scope(&self, key: &ScopeKey, region: Option<&str>, ns: Option<Namespace>) -> ScopeNote {
        self.scope_with(key, region, ns, false)
    }

    /// Like [`Ctx::scope`]; `declared`: the user declared this space for the scope (`[[ranges]]`),
    /// so it is judged even if the provider does not say it covers that kind of target.
    fn scope_with(&self, key: &ScopeKey, region: Option<&str>, ns: Option<Namespace>, declared: bool) -> ScopeNote {
        let Some(s) = self.scopes.get(key).filter(|s| s.configured) else { return ScopeNote::NotConfigured };
        if !declared && ns.is_some_and(|n| !s.covers.contains(&n)) {
            // Configured, but nothing there vouches for this kind of target.
            return ScopeNote::NotConfigured;
        }
        let region = region.filter(|r| !is_global(r));
        if let Some(g) = s.gaps.iter().find(|g| {
            ns.is_none_or(|n| g.hides.covers(&n))
                && match (g.region.as_deref(), region) {
                    (None, _) | (_, None) => true,
                    (Some(a), Some(b)) => a == b,
                }
        }) {
            return ScopeNote::Gap(g.index);
        }
        if let Some(r) = region {
            if !s.all_regions && !s.regions.contains(r) {
                return ScopeNote::RegionNotEnumerated;
            }
        }
        ScopeNote::Complete
    }

    fn scope_account(&self, key: &ScopeKey, account: &str, ns: Namespace) -> ScopeNote {
        let Some(s) = self.scopes.get(key).filter(|s| s.configured && s.covers.contains(&ns)) else { return ScopeNote::NotConfigured };
        if let Some(g) = s.gaps.iter().find(|g| g.account.eq_ignore_ascii_case(account) && g.hides.covers(&ns)) {
            return ScopeNote::Gap(g.index);
        }
        if s.accounts.iter().any(|a| a.eq_ignore_ascii_case(account)) {
            ScopeNote::Complete
        } else {
            ScopeNote::NotConfigured
        }
    }

    /// Whether names of `service` are judged: a provider of its cloud enumerates it (or, with none
    /// configured, one would: the reason then says the cloud is not enumerated).
    fn judges(&self, service: Service, enumerated: bool) -> bool {
        match self.scopes.get(&ScopeKey::Cloud(service.cloud)).filter(|s| s.configured) {
            Some(s) => s.covers.contains(&Namespace::Names(service)),
            None => enumerated,
        }
    }

    fn owned(&self, i: u32) -> Outcome {
        Outcome { status: Status::Owned, claimable: Claimable::No, reason: Reason::Held(i), owner: Some(i), partial: false }
    }

    /// A target an earlier run saw held: dangling, unless the scope that held it has a gap now. Its
    /// claimability comes from what held it: a released Elastic IP went back to the provider's pool,
    /// whatever range it lies in; a name is judged by its service's rule (`otherwise`), else its kind.
    fn released(&self, i: u32, held: Held, otherwise: Claimable) -> Outcome {
        let f = self.inp.history.former(i);
        let first_known = |a: Claimable, b: Claimable| if a == Claimable::Unknown { b } else { a };
        let claimable = match held {
            Held::Address => first_known(f.kind.released_address(), otherwise),
            // A service name's rule knows its shape (a random part or not) better than the kind does.
            Held::Name => first_known(otherwise, f.kind.released_name()),
            Held::Resource => Claimable::No,
        };
        match self.scope(&ScopeKey::Label(f.source.clone()), f.region.as_deref(), None) {
            ScopeNote::Gap(g) => Outcome::new(Status::Unverified, claimable, Reason::ReleasedGap(i, g)),
            _ => Outcome::new(Status::Dangling, claimable, Reason::Released(i)),
        }
    }

    fn judge_ip(&self, ip: IpAddr) -> Outcome {
        if let Some(i) = self.ips.lookup(ip) {
            return self.owned(*i);
        }
        let range = self.inp.ranges.lookup_ref(ip);
        let info = range.map(|r| self.inp.ranges.get(r));
        if let Some(f) = self.inp.history.ips.lookup(ip) {
            return self.released(*f, Held::Address, info.map(|r| r.claimable).unwrap_or(Claimable::Unknown));
        }
        let Some(info) = info else {
            return Outcome::new(Status::External, Claimable::Unknown, Reason::Ip { ip, range: None, scope: ScopeNote::NotConfigured });
        };
        let key = match info.cloud {
            Some(c) => ScopeKey::Cloud(c),
            None => ScopeKey::Label(info.provider.clone()),
        };
        let scope = self.scope_with(&key, info.region.as_deref(), Some(Namespace::Addresses), info.declared.is_some());
        let (status, claimable) = match scope {
            ScopeNote::Complete => (Status::Dangling, info.claimable),
            ScopeNote::Gap(_) | ScopeNote::RegionNotEnumerated => (Status::Unverified, info.claimable),
            ScopeNote::NotConfigured => (Status::External, Claimable::Unknown),
        };
        Outcome::new(status, claimable, Reason::Ip { ip, range, scope })
    }

    /// The longest inventoried zone of one view (public or private) holding `name`, without allocating.
    fn longest_zone(&self, name: &DnsName, private: bool) -> Option<u32> {
        let mut s = name.as_fqdn();
        loop {
            if let Some(z) = self.zone_by_fqdn.get(&(s, private)) {
                return Some(*z);
            }
            let dot = s.find('.')?;
            s = &s[dot + 1..];
            if s.is_empty() {
                return None;
            }
        }
    }

    /// The zone that answers for `name`, as a resolver in that view sees it: the public internet sees
    /// public zones only; inside a VPC a matching private zone answers (and hides the public one).
    fn zone_of(&self, name: &DnsName, private_view: bool) -> Option<u32> {
        if private_view {
            if let Some(z) = self.longest_zone(name, true) {
                return Some(z);
            }
        }
        self.longest_zone(name, false)
    }

    /// Records at `name` inside zone `zi`.
    fn records_at(&self, name: &str, zi: u32) -> impl Iterator<Item = &'a DnsRecord> + '_ {
        let info = &self.zones[zi as usize];
        let (zone, private) = (info.name, info.private);
        let mut i = self.first_at.get(name).copied().unwrap_or(NONE);
        std::iter::from_fn(move || {
            while i != NONE {
                let r = &self.inp.records[i as usize];
                i = self.next[i as usize];
                if &r.zone == zone && r.zone_private == private {
                    return Some(r);
                }
            }
            None
        })
    }

    /// A name that is a key of a global namespace (an S3 bucket): held, released, or free for anyone.
    fn judge_bucket(&self, service: Service, bucket: &str) -> Outcome {
        let Some(space) = key_space(service) else {
            return Outcome::detail(Status::External, Claimable::Unknown, Detail::NotJudged { service });
        };
        if let Some(i) = self.buckets.get(&(space, bucket)) {
            return self.owned(*i);
        }
        if let Some(f) = self.inp.history.buckets.get(&(space, Box::from(bucket))) {
            return self.released(*f, Held::Name, Claimable::Yes);
        }
        // Keys are global: the listing of every account, not a region, decides.
        let scope = self.scope(&ScopeKey::Cloud(service.cloud), None, Some(Namespace::Names(service)));
        let status = match scope {
            ScopeNote::Complete => Status::Dangling,
            ScopeNote::Gap(_) | ScopeNote::RegionNotEnumerated => Status::Unverified,
            ScopeNote::NotConfigured => Status::External,
        };
        Outcome::detail(status, Claimable::Yes, Detail::Bucket { service, bucket: bucket.to_string(), scope })
    }

    fn judge_resource(&self, id: &str) -> Outcome {
        let lower = id.to_ascii_lowercase();
        let ids = self.ids.get_or_init(|| {
            let mut ids = FxHashMap::default();
            for (i, a) in self.inp.assets.iter().enumerate() {
                ids.entry(a.id.to_ascii_lowercase()).or_insert(i as u32);
            }
            ids
        });
        if let Some(i) = ids.get(&lower) {
            return self.owned(*i);
        }
        if let Some(f) = self.inp.history.id(&lower) {
            return self.released(f, Held::Resource, Claimable::No);
        }
        let (cloud, sub) = match cloud::resource_account(id) {
            Some((c, sub)) => (Some(c), sub),
            None => (None, ""),
        };
        let scope = match cloud {
            Some(c) => self.scope_account(&ScopeKey::Cloud(c), sub, Namespace::Resources),
            None => ScopeNote::NotConfigured,
        };
        let status = match scope {
            ScopeNote::Complete => Status::Dangling,
            ScopeNote::Gap(_) => Status::Unverified,
            _ => Status::External,
        };
        Outcome::detail(status, Claimable::No, Detail::Resource { cloud, id: id.to_string(), subscription: sub.to_string(), scope })
    }

    /// A gap of a source that serves this zone and could hide its records.
    fn zone_gap(&self, info: &ZoneInfo) -> Option<u32> {
        self.inp
            .gaps
            .iter()
            .position(|g| g.hides.covers(&Namespace::Zones) && info.sources.iter().any(|(s, a)| *s == g.source && *a == g.account))
            .map(|i| i as u32)
    }
}

impl<'c, 'a> Walker<'c, 'a> {
    fn new(ctx: &'c Ctx<'a>) -> Self {
        Self { ctx, private_view: false, memo: FxHashMap::default(), ents: FxHashMap::default(), stack: Vec::new() }
    }

    /// Judges `range` of the records into `out`, which holds exactly their rows.
    fn judge_into(&mut self, range: std::ops::Range<usize>, out: &mut [Judgement]) {
        let mut k = 0;
        for i in range {
            let r = &self.ctx.inp.records[i];
            let record = i as u32;
            self.private_view = r.zone_private;
            if r.targets.is_empty() {
                out[k] = Judgement::new(record, None, Outcome::new(Status::NoTarget, Claimable::No, Reason::NoTarget(r.rtype.clone())));
                k += 1;
                continue;
            }
            for (ti, t) in r.targets.iter().enumerate() {
                let o = self.judge_target(r, t);
                out[k] = Judgement::new(record, Some(ti as u32), o);
                k += 1;
            }
        }
        debug_assert_eq!(k, out.len());
    }

    fn judge_target(&mut self, r: &DnsRecord, t: &Target) -> Outcome {
        match t {
            Target::Ip(ip) => self.ctx.judge_ip(*ip),
            Target::Host(h) if r.rtype == RecordType::Ns => self.judge_ns(r, h),
            Target::Host(h) => self.judge_host(h, 0),
            Target::Alias { dns_name, .. } => self.judge_alias(r, dns_name, 0),
            Target::Resource { id } => self.ctx.judge_resource(id),
        }
    }

    fn judge_host(&mut self, name: &DnsName, depth: usize) -> Outcome {
        if let Some(o) = self.memo.get(&(name.clone(), self.private_view)) {
            return o.clone();
        }
        if let Some(pos) = self.stack.iter().position(|n| n == name) {
            let mut chain: Vec<DnsName> = self.stack[pos..].to_vec();
            chain.push(name.clone());
            let mut o = Outcome::detail(Status::Dangling, Claimable::No, Detail::Loop { chain });
            o.partial = true;
            return o;
        }
        if depth >= MAX_CHAIN {
            let mut o = Outcome::detail(Status::Unverified, Claimable::Unknown, Detail::TooDeep);
            o.partial = true;
            return o;
        }
        let ctx = self.ctx;
        if let Some(i) = ctx.hosts.get(name) {
            return ctx.owned(*i);
        }
        // Chains through our own zones recur and cost a walk: memoise those. Everything else is a
        // single classification, cheaper to redo than to remember.
        if let Some(zone) = ctx.zone_of(name, self.private_view) {
            self.stack.push(name.clone());
            let o = self.resolve_in_zone(name, zone, depth);
            self.stack.pop();
            if !o.partial {
                self.memo.insert((name.clone(), self.private_view), o.clone());
            }
            return o;
        }
        self.judge_foreign_host(name)
    }

    /// A name outside every inventoried zone: a service name, a former asset, or someone else's.
    fn judge_foreign_host(&mut self, name: &DnsName) -> Outcome {
        let ctx = self.ctx;
        if let Some(m) = cloud::classify(name) {
            if let Some(ip) = m.implied_ip {
                return ctx.judge_ip(ip).via(name);
            }
            if let Key::Name(b) = &m.key {
                return ctx.judge_bucket(m.service, b);
            }
            if let Some(f) = ctx.inp.history.hosts.get(name) {
                return ctx.released(*f, Held::Name, m.claimable);
            }
            if !ctx.judges(m.service, m.enumerated) {
                return Outcome::detail(Status::External, m.claimable, Detail::NotJudged { service: m.service });
            }
            let scope = ctx.scope(&ScopeKey::Cloud(m.service.cloud), m.region.as_deref(), Some(Namespace::Names(m.service)));
            let status = match scope {
                ScopeNote::Complete => Status::Dangling,
                ScopeNote::Gap(_) | ScopeNote::RegionNotEnumerated => Status::Unverified,
                ScopeNote::NotConfigured => Status::External,
            };
            return Outcome::detail(status, m.claimable, Detail::Service { name: name.clone(), service: m.service, region: m.region, scope });
        }
        if let Some(f) = ctx.inp.history.hosts.get(name) {
            return ctx.released(*f, Held::Name, Claimable::Unknown);
        }
        if let Some(service) = suffixes::known_takeover(name) {
            return Outcome::detail(Status::External, Claimable::Yes, Detail::KnownTakeover { service });
        }
        Outcome::detail(Status::External, Claimable::Unknown, Detail::ExternalHost { name: name.clone() })
    }

    fn resolve_in_zone(&mut self, name: &DnsName, zi: u32, depth: usize) -> Outcome {
        let ctx = self.ctx;
        let info = &ctx.zones[zi as usize];
        let zone = info.name;
        if let Some(cut) = info.delegations.iter().filter(|d| name.is_within(d)).max_by_key(|d| d.label_count()) {
            let ns: Vec<(&DnsRecord, &DnsName)> = ctx
                .records_at(cut.as_fqdn(), zi)
                .filter(|r| r.rtype == RecordType::Ns)
                .flat_map(|r| r.targets.iter().filter_map(move |t| if let Target::Host(h) = t { Some((r, h)) } else { None }))
                .collect();
            let outs: Vec<Outcome> = ns.into_iter().map(|(r, h)| self.judge_ns(r, h)).collect();
            if let Some(o) = Outcome::worst(outs) {
                let reason = Reason::detail(Detail::Delegated { cut: cut.clone(), zone: zone.clone(), inner: o.reason });
                return Outcome { reason, ..o };
            }
        }
        let here: Vec<&DnsRecord> = ctx.records_at(name.as_fqdn(), zi).collect();
        if !here.is_empty() {
            return match self.addresses(&here, depth) {
                Some(o) => o.via(name),
                None => Outcome::detail(Status::Dangling, Claimable::No, Detail::NoAddress { name: name.clone(), zone: zone.clone() }),
            };
        }
        if info.has_wildcard {
            if let Some(o) = self.wildcard(name, zi, depth) {
                return o;
            }
        }
        let gap = ctx.zone_gap(info);
        let status = if gap.is_some() { Status::Unverified } else { Status::Dangling };
        Outcome::detail(status, Claimable::No, Detail::Missing { name: name.clone(), zone: zone.clone(), gap })
    }

    /// The addresses that the record sets at a name lead to; `None` if none of them carries any.
    fn addresses(&mut self, here: &[&DnsRecord], depth: usize) -> Option<Outcome> {
        let mut outs = Vec::new();
        for r in here {
            for t in &r.targets {
                match (&r.rtype, t) {
                    (RecordType::Cname, Target::Host(h)) => outs.push(self.judge_host(h, depth + 1)),
                    (RecordType::A | RecordType::Aaaa, Target::Ip(ip)) => outs.push(self.ctx.judge_ip(*ip)),
                    (_, Target::Alias { dns_name, .. }) => outs.push(self.judge_alias(r, dns_name, depth + 1)),
                    (_, Target::Resource { id }) => outs.push(self.ctx.judge_resource(id)),
                    _ => {}
                }
            }
        }
        Outcome::worst(outs)
    }

    /// RFC 4592: the wildcard at the closest encloser, if the name does not exist as an empty non-terminal.
    fn wildcard(&mut self, name: &DnsName, zi: u32, depth: usize) -> Option<Outcome> {
        let ctx = self.ctx;
        let zone = ctx.zones[zi as usize].name;
        let existing = self.ents.entry(zi).or_insert_with(|| {
            let mut set = FxHashSet::default();
            let private = ctx.zones[zi as usize].private;
            for r in ctx.inp.records.iter().filter(|r| &r.zone == zone && r.zone_private == private) {
                let mut s = r.name.as_fqdn();
                while s.len() >= zone.as_fqdn().len() && set.insert(s) {
                    match s.find('.') {
                        Some(d) if d + 1 < s.len() => s = &s[d + 1..],
                        _ => break,
                    }
                }
            }
            set
        });
        if existing.contains(name.as_fqdn()) {
            return None;
        }
        let encloser = name.ancestors().skip(1).take_while(|a| a.is_within(zone)).find(|a| existing.contains(a.as_fqdn()))?;
        let wild = DnsName::wildcard_of(&encloser);
        let here: Vec<&DnsRecord> = ctx.records_at(wild.as_fqdn(), zi).collect();
        if here.is_empty() {
            return None;
        }
        let o = self
            .addresses(&here, depth)
            .unwrap_or_else(|| Outcome::detail(Status::Dangling, Claimable::No, Detail::NoAddress { name: wild.clone(), zone: zone.clone() }));
        Some(o.via(&wild))
    }

    fn judge_alias(&mut self, r: &DnsRecord, dns_name: &DnsName, depth: usize) -> Outcome {
        let name = match dns_name.as_str().strip_prefix("dualstack.") {
            Some(rest) => DnsName::parse(rest).unwrap_or_else(|_| dns_name.clone()),
            None => dns_name.clone(),
        };
        if let Some(m) = cloud::classify(&name).filter(|m| m.key == Key::RecordName) {
            return self.ctx.judge_bucket(m.service, r.name.as_str());
        }
        self.judge_host(&name, depth)
    }

    fn judge_ns(&mut self, r: &DnsRecord, target: &DnsName) -> Outcome {
        let ctx = self.ctx;
        let delegated = &r.name;
        if r.name != r.zone {
            // Delegations are public: the child is the public zone of that name.
            if let Some(child) = ctx.zone_by_fqdn.get(&(delegated.as_fqdn(), false)).map(|z| &ctx.zones[*z as usize]) {
                if child.apex_ns.is_empty() || child.apex_ns.contains(target) {
                    return Outcome::detail(Status::Owned, Claimable::No, Detail::HeldZone { zone: delegated.clone() });
                }
            }
        }
        if let Some(zs) = ctx.zone_assets.get(delegated) {
            let held = zs.iter().find(|i| {
                let hosts = &ctx.inp.assets[**i as usize].hosts;
                hosts.len() <= 1 || hosts[1..].contains(target)
            });
            if let Some(i) = held {
                let mut o = Outcome::detail(Status::Owned, Claimable::No, Detail::HeldZoneAsset { asset: *i });
                o.owner = Some(*i);
                return o;
            }
        }
        if let Some(service) = cloud::nameserver(target) {
            let held_elsewhere = ctx.zone_assets.contains_key(delegated);
            let scope = ctx.scope(&ScopeKey::Cloud(service.cloud), None, Some(Namespace::NameServers));
            let status = match scope {
                ScopeNote::Complete => Status::Dangling,
                ScopeNote::Gap(_) => Status::Unverified,
                ScopeNote::RegionNotEnumerated | ScopeNote::NotConfigured => Status::External,
            };
            return Outcome::detail(
                status,
                Claimable::Yes,
                Detail::Ns { delegated: delegated.clone(), target: target.clone(), service, held_elsewhere, scope },
            );
        }
        self.judge_host(target, 0)
    }
}

#[cfg(test)]
mod tests;

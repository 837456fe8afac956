//! Judgement: pure, synchronous, deterministic. Records and assets in, one [`Judgement`] per
//! (record, target) out — no I/O, no clock, no randomness.
//!
//! The rules (design.md, "Judgement"): a target is `owned` when an inventoried asset holds it, directly or
//! through CNAME / alias chains inside inventoried zones; `dangling` when it lies in a namespace that was
//! enumerated completely (a cloud's published range or service suffix, a declared range, our own zones)
//! and nothing holds it; `unverified` when the scope that would hold it has a coverage gap; `external`
//! otherwise. A target held in an earlier run and not now is `dangling` ("released since run N").

use std::net::IpAddr;
use std::sync::Arc;

pub use dangle_model::Claimable;
use dangle_model::cloud;
use dangle_model::{Asset, Clouds, Coverage, CoverageGap, Description, DnsName, DnsRecord, Namespace, RecordType, Service, Target};
use ipnet::IpNet;
use rustc_hash::{FxHashMap, FxHashSet};

pub mod evidence;
mod history;
pub mod index;
pub mod fingerprints;
pub mod kind;
pub mod ranges;
pub mod reason;
mod scope;
pub mod suffixes;
mod vocabulary;
mod walk;

pub use evidence::{Claims, Evidence, Finding, RowClaim, RowCt};
pub use history::{Former, History};
pub use kind::Kind;
pub use vocabulary::{carries_https, record_status, severity, ClaimEvidence, ClaimSource, Confidence, Severity, Status};
use history::{asset_key, key_space, KeySpace};
use scope::{ScopeInfo, ScopeKey};
use walk::Walker;

use index::PrefixIndex;
use ranges::Ranges;
pub use reason::{Detail, Explainer, Reason, ScopeNote};

pub use dangle_model::MAX_CHAIN;

/// A configured provider: its label, its config `type` and what it says it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderInfo {
    pub name: Arc<str>,
    pub kind: Arc<str>,
    pub description: Description,
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
    /// The clouds these inputs are judged by: the built-in ones, and each provider's own.
    pub fn clouds(&self) -> Clouds {
        Clouds::builtin().with(self.providers.iter().filter_map(|p| p.description.cloud))
    }

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
    /// The built-in clouds and those the providers describe.
    clouds: Clouds,
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
    /// (fqdn, private) of our TXT records at a domain-verification name (`asuid.www.example.com.`).
    verified: FxHashSet<(&'a str, bool)>,
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
        let clouds = inp.clouds();
        let verified = Self::verification_records(inp, &clouds);
        Self { inp, clouds, ips, hosts, ids: std::sync::OnceLock::new(), buckets, zone_assets, zones, zone_by_fqdn, first_at, next, scopes, verified }
    }

    /// Our TXT records that verify a custom domain with a cloud service (the cloud tables' prefixes).
    fn verification_records(inp: &'a Inputs<'a>, clouds: &Clouds) -> FxHashSet<(&'a str, bool)> {
        let prefixes: Vec<&str> = clouds.verification_prefixes().collect();
        inp.records
            .iter()
            .filter(|r| r.rtype == RecordType::Txt)
            .filter(|r| prefixes.iter().any(|p| r.name.as_fqdn().strip_prefix(p).is_some_and(|rest| rest.starts_with('.'))))
            .map(|r| (r.name.as_fqdn(), r.zone_private))
            .collect()
    }

    /// A dangling service name that record `r` points at, whose service binds a custom domain only
    /// after a TXT proof at `PREFIX.<r's name>` that we publish: nobody else can bind `r`'s name, so it
    /// cannot be claimed (the name stays dangling: remove the record).
    fn verified_binding(&self, r: &DnsRecord, o: Outcome) -> Outcome {
        if o.status != Status::Dangling || o.claimable != Claimable::Yes || self.verified.is_empty() {
            return o;
        }
        let Some(prefix) = o.reason.service().and_then(cloud::verification_prefix) else { return o };
        let txt = format!("{prefix}.{}", r.name.as_fqdn());
        if !self.verified.contains(&(txt.as_str(), r.zone_private)) {
            return o;
        }
        let txt = DnsName::parse(&txt).unwrap_or_else(|_| r.name.clone());
        Outcome { claimable: Claimable::No, reason: Reason::detail(Detail::Verified { txt, inner: o.reason }), ..o }
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
        let status = scope.status();
        // Outside every configured scope, the range's claimability is no finding of ours.
        let claimable = if status == Status::External { Claimable::Unknown } else { info.claimable };
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
        let status = scope.status();
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
        let (cloud, sub) = match self.clouds.resource_account(id) {
            Some((c, sub)) => (Some(c), sub),
            None => (None, ""),
        };
        let scope = match cloud {
            Some(c) => self.scope_account(&ScopeKey::Cloud(c), sub, Namespace::Resources),
            None => ScopeNote::NotConfigured,
        };
        let status = scope.status();
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

#[cfg(test)]
mod tests;

//! Judgement: pure, synchronous, deterministic. Records and assets in, one [`Judgement`] per
//! (record, target) out — no I/O, no clock, no randomness.
//!
//! The rules (design.md, "Judgement"): a target is `owned` when an inventoried asset holds it, directly or
//! through CNAME / alias chains inside inventoried zones; `dangling` when it lies in a namespace that was
//! enumerated completely (a cloud's published range or service suffix, a declared range, our own zones)
//! and nothing holds it; `unverified` when the scope that would hold it has a coverage gap; `external`
//! otherwise. A target held in an earlier run and not now is `dangling` ("released since run N").

use std::cell::RefCell;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use dangle_model::{Asset, AssetKind, Coverage, CoverageGap, DnsName, DnsRecord, RecordType, Target};
use ipnet::IpNet;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;

pub mod index;
pub mod ranges;
pub mod suffixes;

use index::PrefixIndex;
use ranges::{provider_display, Ranges};

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

/// Can a third party obtain this target?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Claimable {
    Yes,
    No,
    Unknown,
}

impl Claimable {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Yes => "yes",
            Self::No => "no",
            Self::Unknown => "unknown",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Yes, Self::No, Self::Unknown].into_iter().find(|x| x.as_str() == s)
    }
}

impl fmt::Display for Claimable {
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

/// A configured provider: its label and the namespace (`aws`, `azure`, `static`, `dns`) it enumerates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderInfo {
    pub name: Arc<str>,
    pub cloud: Arc<str>,
}

/// An asset as an earlier run saw it: the evidence behind "released since run N".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Former {
    pub run: i64,
    pub date: String,
    pub kind: AssetKind,
    pub id: String,
    pub source: Arc<str>,
    pub region: Option<Arc<str>>,
}

/// What earlier runs held, indexed like the current inventory.
#[derive(Debug, Default)]
pub struct History {
    ips: PrefixIndex<u32>,
    hosts: FxHashMap<DnsName, u32>,
    ids: FxHashMap<String, u32>,
    buckets: FxHashMap<String, u32>,
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
        if former.kind == AssetKind::S3Bucket {
            self.buckets.entry(bucket_of(&former.id).to_string()).or_insert(i);
        }
        self.ids.entry(former.id.to_ascii_lowercase()).or_insert(i);
        self.formers.push(former);
    }

    pub fn len(&self) -> usize {
        self.formers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.formers.is_empty()
    }
}

/// The S3 bucket name of an S3 asset id (`arn:aws:s3:::name` or the plain name).
pub fn bucket_of(id: &str) -> &str {
    id.rsplit(":::").next().unwrap_or(id)
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

/// One (record, target) row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Judgement {
    /// Index into `Inputs::records`.
    pub record: u32,
    pub target: Option<Target>,
    pub status: Status,
    pub claimable: Claimable,
    pub severity: Severity,
    pub reason: String,
    /// Index into `Inputs::assets` of the asset that holds the target.
    pub owner: Option<u32>,
}

#[derive(Debug, Clone)]
struct Outcome {
    status: Status,
    claimable: Claimable,
    reason: String,
    owner: Option<u32>,
    /// Cut short by the chain limit: depends on where the walk started, so never memoised.
    partial: bool,
}

impl Outcome {
    fn new(status: Status, claimable: Claimable, reason: impl Into<String>) -> Self {
        Self { status, claimable, reason: reason.into(), owner: None, partial: false }
    }
    fn via(mut self, name: &DnsName) -> Self {
        self.reason = format!("via {name}: {}", self.reason);
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

enum Scope {
    Complete,
    Gap(String),
    RegionNotEnumerated(String),
    NotConfigured,
}

#[derive(Default)]
struct ScopeInfo {
    configured: bool,
    all_regions: bool,
    regions: FxHashSet<Arc<str>>,
    accounts: FxHashSet<Arc<str>>,
    gaps: Vec<(Option<Arc<str>>, Arc<str>, String)>,
}

fn describe_gap(g: &CoverageGap) -> String {
    let region = g.region.as_deref().map(|r| format!(" {r}")).unwrap_or_default();
    format!("{} {} {}{}: {}", g.source, g.account, g.service, region, g.error)
}

fn is_global(region: &str) -> bool {
    region.is_empty() || region.eq_ignore_ascii_case("global")
}

struct ZoneInfo {
    sources: Vec<(Arc<str>, Arc<str>)>,
    has_wildcard: bool,
    apex_ns: Vec<DnsName>,
    /// Names below the apex that carry NS records: delegation points.
    delegations: Vec<DnsName>,
}

struct Ctx<'a> {
    inp: &'a Inputs<'a>,
    ips: PrefixIndex<u32>,
    hosts: FxHashMap<&'a DnsName, u32>,
    ids: FxHashMap<String, u32>,
    buckets: FxHashMap<&'a str, u32>,
    zone_assets: FxHashMap<&'a DnsName, Vec<u32>>,
    zones: FxHashMap<&'a DnsName, ZoneInfo>,
    by_name: FxHashMap<&'a DnsName, Vec<u32>>,
    scopes: FxHashMap<Arc<str>, ScopeInfo>,
    memo: RefCell<FxHashMap<DnsName, Outcome>>,
    ents: RefCell<FxHashMap<DnsName, FxHashSet<DnsName>>>,
}

/// Judges every record of `inputs`. Rows come in record order, then target order.
pub fn reconcile(inputs: &Inputs<'_>) -> Vec<Judgement> {
    let ctx = Ctx::new(inputs);
    let mut out = Vec::with_capacity(inputs.records.len());
    for (i, r) in inputs.records.iter().enumerate() {
        let record = u32::try_from(i).expect("fewer than 4G records");
        if r.targets.is_empty() {
            out.push(Judgement {
                record,
                target: None,
                status: Status::NoTarget,
                claimable: Claimable::No,
                severity: Severity::Info,
                reason: format!("{} record: nothing to judge", r.rtype),
                owner: None,
            });
            continue;
        }
        for t in &r.targets {
            let o = ctx.judge_target(r, t);
            out.push(Judgement {
                record,
                target: Some(t.clone()),
                status: o.status,
                claimable: o.claimable,
                severity: severity(o.status, o.claimable, false),
                reason: o.reason,
                owner: o.owner,
            });
        }
    }
    out
}

/// The worst status of a record's rows (dangling > unverified > external > owned).
pub fn record_status(rows: &[Judgement]) -> Status {
    rows.iter().map(|j| j.status).max().unwrap_or(Status::NoTarget)
}

impl<'a> Ctx<'a> {
    fn new(inp: &'a Inputs<'a>) -> Self {
        let mut ips = PrefixIndex::default();
        let mut hosts = FxHashMap::default();
        let mut ids = FxHashMap::default();
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
            if a.kind == AssetKind::S3Bucket {
                buckets.entry(bucket_of(&a.id)).or_insert(i);
            }
            if a.kind.is_zone() {
                if let Some(apex) = a.hosts.first() {
                    zone_assets.entry(apex).or_default().push(i);
                }
            }
            ids.entry(a.id.to_ascii_lowercase()).or_insert(i);
        }
        let mut zones: FxHashMap<&DnsName, ZoneInfo> = FxHashMap::default();
        let mut by_name: FxHashMap<&DnsName, Vec<u32>> = FxHashMap::default();
        for (i, r) in inp.records.iter().enumerate() {
            let z = zones.entry(&r.zone).or_insert_with(|| ZoneInfo {
                sources: Vec::new(),
                has_wildcard: false,
                apex_ns: Vec::new(),
                delegations: Vec::new(),
            });
            if !z.sources.iter().any(|(s, a)| *s == r.source && *a == r.account) {
                z.sources.push((r.source.clone(), r.account.clone()));
            }
            if r.name.first_label() == "*" {
                z.has_wildcard = true;
            }
            if r.rtype == RecordType::Ns {
                if r.name == r.zone {
                    z.apex_ns.extend(r.targets.iter().filter_map(|t| match t {
                        Target::Host(h) => Some(h.clone()),
                        _ => None,
                    }));
                } else if !z.delegations.contains(&r.name) {
                    z.delegations.push(r.name.clone());
                }
            }
            by_name.entry(&r.name).or_default().push(u32::try_from(i).expect("fewer than 4G records"));
        }
        let mut scopes: FxHashMap<Arc<str>, ScopeInfo> = FxHashMap::default();
        let cloud_of = |source: &str| inp.providers.iter().find(|p| &*p.name == source).map(|p| p.cloud.clone());
        for p in inp.providers {
            scopes.entry(p.cloud.clone()).or_default().configured = true;
            scopes.entry(p.name.clone()).or_default().configured = true;
        }
        for c in inp.covered {
            for key in [c.cloud.clone(), c.source.clone()] {
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
        for g in inp.gaps {
            let mut keys = vec![g.source.clone()];
            keys.extend(cloud_of(&g.source));
            for key in keys {
                let s = scopes.entry(key).or_default();
                s.configured = true;
                s.gaps.push((g.region.clone(), g.account.clone(), describe_gap(g)));
            }
        }
        Self {
            inp,
            ips,
            hosts,
            ids,
            buckets,
            zone_assets,
            zones,
            by_name,
            scopes,
            memo: RefCell::new(FxHashMap::default()),
            ents: RefCell::new(FxHashMap::default()),
        }
    }

    fn scope(&self, key: &str, region: Option<&str>) -> Scope {
        let Some(s) = self.scopes.get(key).filter(|s| s.configured) else { return Scope::NotConfigured };
        let region = region.filter(|r| !is_global(r));
        if let Some((_, _, text)) = s.gaps.iter().find(|(gr, _, _)| match (gr.as_deref(), region) {
            (None, _) | (_, None) => true,
            (Some(a), Some(b)) => a == b,
        }) {
            return Scope::Gap(text.clone());
        }
        if let Some(r) = region {
            if !s.all_regions && !s.regions.contains(r) {
                return Scope::RegionNotEnumerated(r.to_string());
            }
        }
        Scope::Complete
    }

    fn scope_account(&self, key: &str, account: &str) -> Scope {
        let Some(s) = self.scopes.get(key).filter(|s| s.configured) else { return Scope::NotConfigured };
        if let Some((_, _, text)) = s.gaps.iter().find(|(_, ga, _)| ga.eq_ignore_ascii_case(account)) {
            return Scope::Gap(text.clone());
        }
        if s.accounts.iter().any(|a| a.eq_ignore_ascii_case(account)) {
            Scope::Complete
        } else {
            Scope::NotConfigured
        }
    }

    fn owned(&self, i: u32) -> Outcome {
        let a = &self.inp.assets[i as usize];
        let region = a.region.as_deref().map(|r| format!(", {r}")).unwrap_or_default();
        Outcome {
            status: Status::Owned,
            claimable: Claimable::No,
            reason: format!("held by {} {} ({}{region})", a.kind, a.id, a.account),
            owner: Some(i),
            partial: false,
        }
    }

    /// A target an earlier run saw held: dangling, unless the scope that held it has a gap now.
    fn released(&self, i: u32, claimable: Claimable) -> Outcome {
        let f = &self.inp.history.formers[i as usize];
        match self.scope(&f.source, f.region.as_deref()) {
            Scope::Gap(g) => Outcome::new(
                Status::Unverified,
                claimable,
                format!("held by {} {} in run {} ({}); that scope has a coverage gap now ({g})", f.kind, f.id, f.run, f.date),
            ),
            _ => Outcome::new(
                Status::Dangling,
                claimable,
                format!("released since run {} ({}): was {} {}; remove the record or re-acquire the target", f.run, f.date, f.kind, f.id),
            ),
        }
    }

    fn judge_target(&self, r: &DnsRecord, t: &Target) -> Outcome {
        match t {
            Target::Ip(ip) => self.judge_ip(*ip),
            Target::Host(h) if r.rtype == RecordType::Ns => self.judge_ns(r, h),
            Target::Host(h) => self.judge_host(h, 0, &mut Vec::new()),
            Target::Alias { dns_name, .. } => self.judge_alias(r, dns_name, 0, &mut Vec::new()),
            Target::Resource { id } => self.judge_resource(id),
        }
    }

    fn judge_ip(&self, ip: IpAddr) -> Outcome {
        if let Some(i) = self.ips.lookup(ip) {
            return self.owned(*i);
        }
        let range = self.inp.ranges.lookup(ip);
        if let Some(f) = self.inp.history.ips.lookup(ip) {
            return self.released(*f, range.map(|r| r.claimable).unwrap_or(Claimable::Unknown));
        }
        let Some(range) = range else {
            return Outcome::new(Status::External, Claimable::Unknown, format!("{ip} is outside every judged range (not a known cloud or declared range)"));
        };
        let what = range.describe();
        match self.scope(&range.provider, range.region.as_deref()) {
            Scope::Complete => Outcome::new(
                Status::Dangling,
                range.claimable,
                format!("{ip} is in {what} and no enumerated account holds it; remove the record or re-acquire the address"),
            ),
            Scope::Gap(g) => Outcome::new(Status::Unverified, range.claimable, format!("{ip} is in {what}, which has a coverage gap: {g}")),
            Scope::RegionNotEnumerated(r) => {
                Outcome::new(Status::Unverified, range.claimable, format!("{ip} is in {what}, but region {r} was not enumerated"))
            }
            Scope::NotConfigured => Outcome::new(
                Status::External,
                Claimable::Unknown,
                format!("{ip} is in {what}; {} is not enumerated", provider_display(&range.provider)),
            ),
        }
    }

    /// The longest inventoried zone holding `name`.
    fn zone_of(&self, name: &DnsName) -> Option<&'a DnsName> {
        name.ancestors().find_map(|a| self.zones.get_key_value(&a).map(|(k, _)| *k))
    }

    fn judge_host(&self, name: &DnsName, depth: usize, stack: &mut Vec<DnsName>) -> Outcome {
        if let Some(o) = self.memo.borrow().get(name) {
            return o.clone();
        }
        if stack.contains(name) {
            let mut chain: Vec<String> = stack.iter().skip_while(|n| *n != name).map(|n| n.to_string()).collect();
            chain.push(name.to_string());
            let mut o = Outcome::new(Status::Dangling, Claimable::No, format!("CNAME loop: {}", chain.join(" → ")));
            o.partial = true;
            return o;
        }
        if depth >= MAX_CHAIN {
            let mut o = Outcome::new(Status::Unverified, Claimable::Unknown, format!("chain longer than {MAX_CHAIN} links, not followed"));
            o.partial = true;
            return o;
        }
        stack.push(name.clone());
        let o = self.judge_host_uncached(name, depth, stack);
        stack.pop();
        if !o.partial {
            self.memo.borrow_mut().insert(name.clone(), o.clone());
        }
        o
    }

    fn judge_host_uncached(&self, name: &DnsName, depth: usize, stack: &mut Vec<DnsName>) -> Outcome {
        if let Some(i) = self.hosts.get(name) {
            return self.owned(*i);
        }
        if let Some(zone) = self.zone_of(name) {
            return self.resolve_in_zone(name, zone, depth, stack);
        }
        if let Some(m) = suffixes::classify(name) {
            if let Some(ip) = m.implied_ip {
                return self.judge_ip(ip).via(name);
            }
            if let Some(b) = &m.bucket {
                return self.judge_bucket(b, m.region.as_deref());
            }
            if let Some(f) = self.inp.history.hosts.get(name) {
                return self.released(*f, m.claimable);
            }
            let cloud = provider_display(m.cloud);
            if !m.judged {
                return Outcome::new(
                    Status::External,
                    m.claimable,
                    format!("points at {} ({cloud}), which dangle does not enumerate", m.service),
                );
            }
            return match self.scope(m.cloud, m.region.as_deref()) {
                Scope::Complete => Outcome::new(
                    Status::Dangling,
                    m.claimable,
                    format!("no enumerated account holds the {} name {name}; remove or repoint the record", m.service),
                ),
                Scope::Gap(g) => Outcome::new(Status::Unverified, m.claimable, format!("{} name; {cloud} has a coverage gap: {g}", m.service)),
                Scope::RegionNotEnumerated(r) => {
                    Outcome::new(Status::Unverified, m.claimable, format!("{} name in region {r}, which was not enumerated", m.service))
                }
                Scope::NotConfigured => {
                    Outcome::new(Status::External, m.claimable, format!("{} name ({cloud}); {cloud} is not enumerated", m.service))
                }
            };
        }
        if let Some(f) = self.inp.history.hosts.get(name) {
            return self.released(*f, Claimable::Unknown);
        }
        if let Some(service) = suffixes::known_takeover(name) {
            return Outcome::new(
                Status::External,
                Claimable::Yes,
                format!("points at {service}, listed as takeover-prone by can-i-take-over-xyz; dangle does not enumerate it, check that the account there is yours"),
            );
        }
        Outcome::new(Status::External, Claimable::Unknown, format!("{name} is outside every enumerated zone and service"))
    }

    fn judge_bucket(&self, bucket: &str, region: Option<&str>) -> Outcome {
        if let Some(i) = self.buckets.get(bucket) {
            return self.owned(*i);
        }
        if let Some(f) = self.inp.history.buckets.get(bucket) {
            return self.released(*f, Claimable::Yes);
        }
        match self.scope("aws", region) {
            Scope::Complete => Outcome::new(
                Status::Dangling,
                Claimable::Yes,
                format!("S3 bucket `{bucket}` is in no enumerated account: anyone can create it and serve this name"),
            ),
            Scope::Gap(g) => Outcome::new(Status::Unverified, Claimable::Yes, format!("S3 bucket `{bucket}`; AWS has a coverage gap: {g}")),
            Scope::RegionNotEnumerated(r) => {
                Outcome::new(Status::Unverified, Claimable::Yes, format!("S3 bucket `{bucket}` in region {r}, which was not enumerated"))
            }
            Scope::NotConfigured => Outcome::new(Status::External, Claimable::Yes, format!("S3 bucket `{bucket}`; AWS is not enumerated")),
        }
    }

    fn records_at(&self, name: &DnsName, zone: &DnsName) -> Vec<&'a DnsRecord> {
        self.by_name
            .get(name)
            .map(|v| v.iter().map(|i| &self.inp.records[*i as usize]).filter(|r| &r.zone == zone).collect())
            .unwrap_or_default()
    }

    fn resolve_in_zone(&self, name: &DnsName, zone: &'a DnsName, depth: usize, stack: &mut Vec<DnsName>) -> Outcome {
        let info = &self.zones[zone];
        if let Some(cut) = info.delegations.iter().filter(|d| name.is_within(d)).max_by_key(|d| d.label_count()) {
            let ns: Vec<Outcome> = self
                .records_at(cut, zone)
                .into_iter()
                .filter(|r| r.rtype == RecordType::Ns)
                .flat_map(|r| r.targets.iter().filter_map(move |t| if let Target::Host(h) = t { Some((r, h)) } else { None }))
                .map(|(r, h)| self.judge_ns(r, h))
                .collect();
            if let Some(o) = Outcome::worst(ns) {
                return Outcome { reason: format!("in zone {cut}, delegated from {zone}: {}", o.reason), ..o };
            }
        }
        let here = self.records_at(name, zone);
        if !here.is_empty() {
            return match self.addresses(&here, depth, stack) {
                Some(o) if o.reason.starts_with("CNAME loop") => o,
                Some(o) => o.via(name),
                None => Outcome::new(Status::Dangling, Claimable::No, format!("{name} exists in our zone {zone} but has no A, AAAA or CNAME record")),
            };
        }
        if info.has_wildcard {
            if let Some(o) = self.wildcard(name, zone, depth, stack) {
                return o;
            }
        }
        if let Some(gap) = self.zone_gap(info) {
            return Outcome::new(Status::Unverified, Claimable::No, format!("{name} is not in our zone {zone}, whose enumeration has a gap: {gap}"));
        }
        Outcome::new(
            Status::Dangling,
            Claimable::No,
            format!("{name} does not exist in our zone {zone} (NXDOMAIN); remove the record or recreate the name"),
        )
    }

    fn zone_gap(&self, info: &ZoneInfo) -> Option<String> {
        self.inp
            .gaps
            .iter()
            .find(|g| info.sources.iter().any(|(s, a)| *s == g.source && *a == g.account))
            .map(describe_gap)
    }

    /// The addresses that the record sets at a name lead to; `None` if none of them carries any.
    fn addresses(&self, here: &[&DnsRecord], depth: usize, stack: &mut Vec<DnsName>) -> Option<Outcome> {
        let mut outs = Vec::new();
        for r in here {
            for t in &r.targets {
                match (&r.rtype, t) {
                    (RecordType::Cname, Target::Host(h)) => outs.push(self.judge_host(h, depth + 1, stack)),
                    (RecordType::A | RecordType::Aaaa, Target::Ip(ip)) => outs.push(self.judge_ip(*ip)),
                    (_, Target::Alias { dns_name, .. }) => outs.push(self.judge_alias(r, dns_name, depth + 1, stack)),
                    (_, Target::Resource { id }) => outs.push(self.judge_resource(id)),
                    _ => {}
                }
            }
        }
        Outcome::worst(outs)
    }

    /// RFC 4592: the wildcard at the closest encloser, if the name does not exist as an empty non-terminal.
    fn wildcard(&self, name: &DnsName, zone: &'a DnsName, depth: usize, stack: &mut Vec<DnsName>) -> Option<Outcome> {
        let mut ents = self.ents.borrow_mut();
        let existing = ents.entry(zone.clone()).or_insert_with(|| {
            let mut set = FxHashSet::default();
            for r in self.inp.records.iter().filter(|r| &r.zone == zone) {
                for a in r.name.ancestors() {
                    if !a.is_within(zone) || !set.insert(a) {
                        break;
                    }
                }
            }
            set
        });
        if existing.contains(name) {
            return None;
        }
        let encloser = name.ancestors().skip(1).take_while(|a| a.is_within(zone)).find(|a| existing.contains(a))?;
        drop(ents);
        let wild = DnsName::wildcard_of(&encloser);
        let here = self.records_at(&wild, zone);
        if here.is_empty() {
            return None;
        }
        Some(
            self.addresses(&here, depth, stack)
                .unwrap_or_else(|| Outcome::new(Status::Dangling, Claimable::No, format!("{wild} has no A, AAAA or CNAME record")))
                .via(&wild),
        )
    }

    fn judge_alias(&self, r: &DnsRecord, dns_name: &DnsName, depth: usize, stack: &mut Vec<DnsName>) -> Outcome {
        let name = match dns_name.as_str().strip_prefix("dualstack.") {
            Some(rest) => DnsName::parse(rest).unwrap_or_else(|_| dns_name.clone()),
            None => dns_name.clone(),
        };
        if suffixes::is_bare_s3_website(&name) {
            let region = suffixes::classify(&name).and_then(|m| m.region);
            return self.judge_bucket(r.name.as_str(), region.as_deref());
        }
        self.judge_host(&name, depth, stack)
    }

    fn judge_resource(&self, id: &str) -> Outcome {
        if let Some(i) = self.ids.get(&id.to_ascii_lowercase()) {
            return self.owned(*i);
        }
        if let Some(f) = self.inp.history.ids.get(&id.to_ascii_lowercase()) {
            return self.released(*f, Claimable::No);
        }
        let sub = id.split('/').skip_while(|s| !s.eq_ignore_ascii_case("subscriptions")).nth(1).unwrap_or("");
        match self.scope_account("azure", sub) {
            Scope::Complete => Outcome::new(
                Status::Dangling,
                Claimable::No,
                format!("alias to Azure resource {id}, which no longer exists in subscription {sub}"),
            ),
            Scope::Gap(g) => Outcome::new(Status::Unverified, Claimable::No, format!("alias to Azure resource; subscription has a gap: {g}")),
            _ => Outcome::new(Status::External, Claimable::No, format!("alias to a resource in subscription `{sub}`, which is not enumerated")),
        }
    }

    fn judge_ns(&self, r: &DnsRecord, target: &DnsName) -> Outcome {
        let delegated = &r.name;
        let apex = r.name == r.zone;
        if !apex {
            if let Some(child) = self.zones.get(delegated) {
                if child.apex_ns.is_empty() || child.apex_ns.contains(target) {
                    return Outcome::new(Status::Owned, Claimable::No, format!("delegates to zone {delegated}, which we hold"));
                }
            }
        }
        if let Some(zs) = self.zone_assets.get(delegated) {
            let a = zs.iter().find(|i| {
                let hosts = &self.inp.assets[**i as usize].hosts;
                hosts.len() <= 1 || hosts[1..].contains(target)
            });
            if let Some(i) = a {
                let mut o = self.owned(*i);
                o.reason = format!("delegates to a zone we hold: {}", o.reason);
                return o;
            }
        }
        if let Some((cloud, service)) = suffixes::nameserver(target) {
            let held_elsewhere = self.zone_assets.contains_key(delegated);
            let what = if held_elsewhere {
                format!("{delegated} is delegated to {service} server {target}, but no zone we hold for it is served there")
            } else {
                format!("{delegated} is delegated to {service} server {target}, but no enumerated account holds a zone {delegated}")
            };
            return match self.scope(cloud, None) {
                Scope::Complete => Outcome::new(Status::Dangling, Claimable::Yes, format!("{what}: anyone can create it there and answer for the name")),
                Scope::Gap(g) => Outcome::new(Status::Unverified, Claimable::Yes, format!("{what}; coverage gap: {g}")),
                Scope::RegionNotEnumerated(_) | Scope::NotConfigured => Outcome::new(
                    Status::External,
                    Claimable::Yes,
                    format!("delegated to {service} server {target}; {} is not enumerated", provider_display(cloud)),
                ),
            };
        }
        self.judge_host(target, 0, &mut Vec::new())
    }
}

#[cfg(test)]
mod tests;

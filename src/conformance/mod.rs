//! The behavioural conformance suite: what a provider's inventory does to judgements, checked with the
//! engine itself. `dangle_model::conformance` checks the shape of one inventory; this suite seeds an
//! estate through a [`Fixture`] (the provider's own backend: a moto server, files on disk, memory),
//! enumerates it healthy and then under every failure the fixture can inject, judges each inventory
//! with [`crate::reconcile`], and checks:
//!
//! - **pagination**: every record set of an estate one page larger than the provider's page is read;
//! - **determinism**: two enumerations of an unchanged estate are equal, and so are their judgements;
//! - **coverage keys**: a record pointing at a seeded asset is `owned`, and one pointing at a free
//!   target of the same namespace, account and region is `dangling` — so the coverage the provider
//!   declares is the coverage the judge looks up;
//! - **gaps taint exactly what they declare**: under each failure the provider reports a gap, no wider
//!   than the fixture says the failure is; a record whose target the gap declares it may hide is never
//!   `dangling` (a healthy `dangling` becomes `unverified`), and every other record is judged exactly
//!   as in the healthy run.
//!
//! Behind the `conformance` feature, as a provider crate's dev-dependency:
//!
//! ```text
//! [dev-dependencies]
//! dangle = { path = "../..", default-features = false, features = ["conformance"] }
//! ```
//!
//! and in its tests `dangle::conformance::assert_fixture(&mut MyFixture::new()).await`.

mod memory;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use dangle_model::{BoxFuture, CoverageGap, Description, DnsName, DnsRecord, Hides, Inventory, Namespace, Provider, RecordType, Target};

pub use memory::{Memory, MemoryFactory, MemoryFailure};

use crate::reconcile::ranges::{DeclaredRange, Ranges};
use crate::reconcile::{reconcile, History, Inputs, ProviderInfo, Status};

/// The zone the suite's record sets live in.
pub const ZONE: &str = "conformance.test";

/// A target of one namespace, as the judge sees it: the region its name or address belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub namespace: Namespace,
    /// The region the judge attributes the target to (`None`: global, like a bucket name).
    pub region: Option<String>,
    pub target: Target,
}

/// One asset the fixture created, and a target of the same namespace, account and region that nothing
/// holds (an address of the same region's range, a load-balancer name of the same region…).
#[derive(Debug, Clone)]
pub struct Pair {
    pub held: Slot,
    pub free: Slot,
}

/// One record set the suite asks a fixture to create.
#[derive(Debug, Clone)]
pub struct Seed {
    pub name: DnsName,
    pub rtype: RecordType,
    pub target: Target,
}

/// A failure the fixture can inject, and the most its gaps may declare: a failure of one region must
/// not be reported as the whole account, one service's failure must not hide every namespace.
#[derive(Debug, Clone)]
pub struct Failure {
    /// For messages: `account 100000000002 (AssumeRole refused)`, `ec2 in eu-west-1`.
    pub label: String,
    /// `Some`: every gap must name this region.
    pub region: Option<String>,
    /// What the gaps may hide, at most.
    pub hides: Hides,
}

/// A provider's backend, seeded and broken on demand.
pub trait Fixture: Send {
    /// The provider's config `type` (what its [`ProviderInfo`] says).
    fn kind(&self) -> &str;
    /// The provider's page size for record sets, when it pages: the suite seeds one page more.
    fn page_size(&self) -> Option<usize> {
        None
    }
    /// Creates one asset in each namespace the provider covers (in each account and region it
    /// enumerates) and names, beside each, a free target of the same namespace and region.
    fn seed_assets(&mut self) -> BoxFuture<'_, Result<Vec<Pair>, String>>;
    /// Creates `sets` in zone `zone`. `Ok(false)`: this provider holds no records (the suite then
    /// serves them from memory, as another provider of the same scan would).
    fn seed_records<'a>(&'a mut self, zone: &'a DnsName, sets: &'a [Seed]) -> BoxFuture<'a, Result<bool, String>>;
    /// Every failure the fixture can inject.
    fn failures(&self) -> Vec<Failure>;
    /// The provider, healthy (`None`) or suffering `failure`.
    fn provider<'a>(&'a self, failure: Option<&'a Failure>) -> BoxFuture<'a, Result<Box<dyn Provider>, String>>;
    /// Address ranges a user declares for this provider (`[[ranges]]`): a static list's own space.
    fn ranges(&self) -> Vec<DeclaredRange> {
        Vec::new()
    }
}

/// Runs the suite; returns every violation (empty when the provider conforms).
pub async fn check_fixture(fx: &mut dyn Fixture) -> Vec<String> {
    let mut v = Vec::new();
    let pairs = match fx.seed_assets().await {
        Ok(p) => p,
        Err(e) => return vec![format!("seeding the assets failed: {e}")],
    };
    let zone = DnsName::parse(ZONE).expect("a valid zone name");
    let pages = fx.page_size().unwrap_or(100) + 1;
    let mut seeds: Vec<Seed> = (0..pages)
        .map(|i| Seed { name: child(&zone, &format!("p{i:04}")), rtype: RecordType::A, target: Target::Ip(doc_ip(i)) })
        .collect();
    for (i, p) in pairs.iter().enumerate() {
        seeds.push(seed(&zone, &format!("held-{i}"), &p.held.target));
        seeds.push(seed(&zone, &format!("free-{i}"), &p.free.target));
    }
    let holds_records = match fx.seed_records(&zone, &seeds).await {
        Ok(h) => h,
        Err(e) => return vec![format!("seeding the record sets failed: {e}")],
    };
    let companion = if holds_records { Vec::new() } else { memory::records_of(COMPANION, &zone, &seeds) };
    let judge = Judge { kind: fx.kind().to_string(), ranges: Ranges::new(&fx.ranges()), companion };

    // Healthy.
    let p = match fx.provider(None).await {
        Ok(p) => p,
        Err(e) => return vec![format!("building the healthy provider failed: {e}")],
    };
    let d = p.describe();
    let (a, b) = match (p.enumerate().await, p.enumerate().await) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return vec![format!("enumerating the healthy estate failed: {e}")],
    };
    v.extend(dangle_model::conformance::check_inventory(p.name(), &d, &a).into_iter().map(|m| format!("healthy: {m}")));
    if a != b {
        v.push("determinism: two enumerations of an unchanged estate differ".into());
    }
    if !a.gaps.is_empty() {
        v.push(format!("healthy: the estate enumerated with gaps: {}", gap_list(&a.gaps)));
    }
    if holds_records {
        check_pages(&a, &seeds[..pages], &mut v);
    }
    let clean = judge.run(&*p, &d, &a);
    let again = judge.run(&*p, &d, &b);
    if let Some((name, j)) = clean.iter().find(|(n, j)| again.get(*n) != Some(*j)) {
        let then = again.get(name).map_or("not judged".to_string(), |(s, why)| format!("{s} ({why})"));
        v.push(format!("determinism: the judgements of two equal enumerations differ: {name} is {} ({}), then {then}", j.0, j.1));
    }
    // Records already misjudged when healthy are reported once, here, not again under each failure.
    let mut misjudged = std::collections::HashSet::new();
    for (i, pair) in pairs.iter().enumerate() {
        for (label, slot, want) in [("held", &pair.held, Status::Owned), ("free", &pair.free, Status::Dangling)] {
            let name = child(&zone, &format!("{label}-{i}"));
            if clean.get(&name).is_none_or(|(got, _)| *got != want) {
                misjudged.insert(name.clone());
            }
            match clean.get(&name) {
                Some((got, _)) if *got == want => {}
                Some((got, why)) => v.push(format!(
                    "coverage keys: {name} → {} ({}, region {}) is {got}, not {want}: {why}",
                    slot.target,
                    ns_label(&slot.namespace),
                    slot.region.as_deref().unwrap_or("none")
                )),
                None => v.push(format!("coverage keys: {name} was not judged")),
            }
        }
    }

    // Each failure.
    for f in fx.failures() {
        let p = match fx.provider(Some(&f)).await {
            Ok(p) => p,
            Err(e) => {
                v.push(format!("{}: building the provider failed: {e}", f.label));
                continue;
            }
        };
        let inv = match p.enumerate().await {
            Ok(inv) => inv,
            Err(e) => {
                v.push(format!("{}: enumerate() failed instead of reporting a gap: {e}", f.label));
                continue;
            }
        };
        v.extend(dangle_model::conformance::check_inventory(p.name(), &d, &inv).into_iter().map(|m| format!("{}: {m}", f.label)));
        if inv.gaps.is_empty() {
            v.push(format!("{}: no gap reported: what the failure hid would be judged as if it were gone", f.label));
            continue;
        }
        for g in &inv.gaps {
            if !within(&g.hides, &f.hides) {
                v.push(format!("{}: gap `{} {}` hides {}, wider than the failure ({})", f.label, g.service, g.error, hides_label(&g.hides), hides_label(&f.hides)));
            }
            if f.region.is_some() && g.region.as_deref() != f.region.as_deref() {
                v.push(format!(
                    "{}: gap `{} {}` names region {}, not the failed {}",
                    f.label,
                    g.service,
                    g.error,
                    g.region.as_deref().unwrap_or("none"),
                    f.region.as_deref().unwrap_or("none")
                ));
            }
        }
        let got = judge.run(&*p, &d, &inv);
        for (i, pair) in pairs.iter().enumerate() {
            for (label, slot) in [("held", &pair.held), ("free", &pair.free)] {
                let name = child(&zone, &format!("{label}-{i}"));
                if misjudged.contains(&name) {
                    continue;
                }
                let (Some((before, _)), Some((now, why))) = (clean.get(&name), got.get(&name)) else { continue };
                let hidden = inv.gaps.iter().any(|g| hides_slot(g, slot));
                let ok = match hidden {
                    true => *now != Status::Dangling && (*before != Status::Dangling || *now == Status::Unverified),
                    false => now == before,
                };
                if !ok {
                    let expect = match hidden {
                        true if *before == Status::Dangling => "unverified (a gap declares it may hide it)".to_string(),
                        true => format!("{before} or unverified, never dangling (a gap declares it may hide it)"),
                        false => format!("{before}, as when healthy (no gap declares {})", ns_label(&slot.namespace)),
                    };
                    v.push(format!("{}: {name} → {} is {now}, expected {expect}: {why}; gaps: {}", f.label, slot.target, gap_list(&inv.gaps)));
                }
            }
        }
    }
    v
}

/// Runs the suite and panics with every violation.
pub async fn assert_fixture(fx: &mut dyn Fixture) {
    let v = check_fixture(fx).await;
    assert!(v.is_empty(), "provider type `{}` fails the conformance suite:\n  {}", fx.kind(), v.join("\n  "));
}

/// The source name of the record sets the suite serves itself.
const COMPANION: &str = "conformance-zone";

/// Judges one inventory the way `dangle scan` does (no history: a first run).
struct Judge {
    kind: String,
    ranges: Ranges,
    companion: Vec<DnsRecord>,
}

impl Judge {
    fn run(&self, p: &dyn Provider, d: &Description, inv: &Inventory) -> BTreeMap<DnsName, (Status, String)> {
        let mut providers = vec![ProviderInfo { name: Arc::from(p.name()), kind: Arc::from(self.kind.as_str()), description: d.clone() }];
        let mut records = inv.records.clone();
        if !self.companion.is_empty() {
            providers.push(ProviderInfo {
                name: Arc::from(COMPANION),
                kind: Arc::from("zonefile"),
                description: Description { cloud: None, covers: vec![Namespace::Zones] },
            });
            records.extend(self.companion.iter().cloned());
        }
        let history = History::default();
        let inputs = Inputs {
            records: &records,
            assets: &inv.assets,
            gaps: &inv.gaps,
            covered: &inv.covered,
            providers: &providers,
            ranges: &self.ranges,
            history: &history,
        };
        let rows = reconcile(&inputs);
        let explain = inputs.explainer();
        // Per name: the worst status of its record sets (rows come in record order).
        let mut by_name: BTreeMap<DnsName, (Status, String)> = BTreeMap::new();
        for j in &rows {
            let why = explain.render(&j.reason);
            let e = by_name.entry(records[j.record as usize].name.clone()).or_insert((j.status, String::new()));
            e.0 = e.0.max(j.status);
            if !e.1.is_empty() {
                e.1.push_str("; ");
            }
            e.1.push_str(&why);
        }
        by_name
    }
}

fn check_pages(inv: &Inventory, pages: &[Seed], v: &mut Vec<String>) {
    let read: HashMap<&DnsName, &DnsRecord> = inv.records.iter().map(|r| (&r.name, r)).collect();
    let missing: Vec<&str> = pages.iter().filter(|s| !read.get(&s.name).is_some_and(|r| r.targets.contains(&s.target))).map(|s| s.name.as_fqdn()).collect();
    if !missing.is_empty() {
        v.push(format!(
            "pagination: {} of {} record sets seeded in one zone were not read (first: {}); a listing stopped at a page boundary",
            missing.len(),
            pages.len(),
            missing[0]
        ));
    }
}

/// Whether gap `g` declares it may hide `slot`: the same reading as the judge's (a gap without a
/// region, or a target without one, spans every region; a target's account is not known).
pub fn hides_slot(g: &CoverageGap, slot: &Slot) -> bool {
    g.hides.covers(&slot.namespace)
        && match (g.region.as_deref(), slot.region.as_deref()) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        }
}

/// `a` hides nothing `b` does not.
fn within(a: &Hides, b: &Hides) -> bool {
    match (a, b) {
        (_, Hides::Account) => true,
        (Hides::Account, Hides::Only(_)) => false,
        (Hides::Only(x), Hides::Only(_)) => x.iter().all(|n| b.covers(n)),
    }
}

fn ns_label(n: &Namespace) -> String {
    match n {
        Namespace::Addresses => "addresses".into(),
        Namespace::Names(s) => format!("{} names", s.name),
        Namespace::NameServers => "name servers".into(),
        Namespace::Zones => "zones".into(),
        Namespace::Resources => "resource ids".into(),
    }
}

fn hides_label(h: &Hides) -> String {
    match h {
        Hides::Account => "the whole account".into(),
        Hides::Only(ns) => ns.iter().map(ns_label).collect::<Vec<_>>().join(", "),
    }
}

fn gap_list(gaps: &[CoverageGap]) -> String {
    gaps.iter()
        .map(|g| format!("[{} {} {}: {} hides {}]", g.account, g.region.as_deref().unwrap_or("-"), g.service, g.error, hides_label(&g.hides)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn child(zone: &DnsName, label: &str) -> DnsName {
    zone.child(label).expect("a valid label")
}

fn seed(zone: &DnsName, label: &str, target: &Target) -> Seed {
    let rtype = match target {
        Target::Ip(IpAddr::V4(_)) => RecordType::A,
        Target::Ip(IpAddr::V6(_)) => RecordType::Aaaa,
        _ => RecordType::Cname,
    };
    Seed { name: child(zone, label), rtype, target: target.clone() }
}

/// An address of TEST-NET-1 (RFC 5737): judged `external` by every provider.
fn doc_ip(i: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1 + (i % 250) as u8))
}

//! Why a judgement came out as it did, kept structured (indexes into the inventory, shared names) so a
//! million rows cost a few dozen bytes each; [`Explainer::render`] turns a reason into the one sentence
//! a person acts on, when a report or the store needs the text.

use std::net::IpAddr;
use std::sync::Arc;

use dangle_model::{Asset, Cloud, CoverageGap, DnsName, RecordType, Service};

use super::ranges::{provider_display, RangeRef, Ranges};
use super::History;

/// Where a scope check landed. `Gap` holds an index into the run's gaps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScopeNote {
    Complete,
    Gap(u32),
    RegionNotEnumerated,
    NotConfigured,
}

impl ScopeNote {
    /// The one place where coverage becomes a status: a target of a scope enumerated whole is
    /// `dangling` when nothing holds it; a gap or a region left out makes it `unverified` (never
    /// `dangling`); outside every configured scope it is `external`.
    pub fn status(self) -> super::Status {
        use super::Status;
        match self {
            ScopeNote::Complete => Status::Dangling,
            ScopeNote::Gap(_) | ScopeNote::RegionNotEnumerated => Status::Unverified,
            ScopeNote::NotConfigured => Status::External,
        }
    }
}

/// A judgement's reason. Common cases are inline; the rest sit behind one shared allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    NoTarget(RecordType),
    /// Held by this asset (index into the run's assets).
    Held(u32),
    /// Held in an earlier run by this former asset, not now.
    Released(u32),
    /// Held earlier; the scope that held it has this gap now.
    ReleasedGap(u32, u32),
    /// An address judged by range.
    Ip { ip: IpAddr, range: Option<RangeRef>, scope: ScopeNote },
    Detail(Arc<Detail>),
}

/// The less common reasons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detail {
    Via { name: DnsName, inner: Reason },
    Delegated { cut: DnsName, zone: DnsName, inner: Reason },
    HeldZone { zone: DnsName },
    HeldZoneAsset { asset: u32 },
    Loop { chain: Vec<DnsName> },
    TooDeep,
    Missing { name: DnsName, zone: DnsName, gap: Option<u32> },
    NoAddress { name: DnsName, zone: DnsName },
    Service { name: DnsName, service: Service, region: Option<String>, scope: ScopeNote },
    NotJudged { service: Service },
    /// A key of a keyed service's namespace (an S3 bucket name).
    Bucket { service: Service, bucket: String, scope: ScopeNote },
    Resource { cloud: Option<Cloud>, id: String, subscription: String, scope: ScopeNote },
    Ns { delegated: DnsName, target: DnsName, service: Service, held_elsewhere: bool, scope: ScopeNote },
    KnownTakeover { service: &'static str },
    ExternalHost { name: DnsName },
    /// `inner` (a dangling service name), but our zone publishes the TXT proof the service asks before
    /// it binds the record's name to a tenant: nobody else can bind it.
    Verified { txt: DnsName, inner: Reason },
}

impl Reason {
    pub fn detail(d: Detail) -> Self {
        Self::Detail(Arc::new(d))
    }

    /// The service whose name the reason ends at, through any chain.
    pub fn service(&self) -> Option<Service> {
        let Self::Detail(d) = self else { return None };
        match &**d {
            Detail::Via { inner, .. } | Detail::Delegated { inner, .. } | Detail::Verified { inner, .. } => inner.service(),
            Detail::Service { service, .. } => Some(*service),
            _ => None,
        }
    }

    /// `true` for a CNAME loop, whose text already names the whole chain.
    pub fn is_loop(&self) -> bool {
        matches!(self, Self::Detail(d) if matches!(**d, Detail::Loop { .. }))
    }
}

/// Renders reasons against the inventory they index into.
pub struct Explainer<'a> {
    pub assets: &'a [Asset],
    pub history: &'a History,
    pub ranges: &'a Ranges,
    pub gaps: &'a [CoverageGap],
}

/// Appends formatted text to a `String` (which cannot fail).
macro_rules! put {
    ($out:expr, $($fmt:tt)*) => {{
        use std::fmt::Write as _;
        let _ = write!($out, $($fmt)*);
    }};
}

/// A coverage gap as a reason quotes it: `source account service[ region]: error`.
struct GapText<'a>(&'a CoverageGap);

impl std::fmt::Display for GapText<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let g = self.0;
        write!(f, "{} {} {}", g.source, g.account, g.service)?;
        if let Some(r) = g.region.as_deref() {
            write!(f, " {r}")?;
        }
        write!(f, ": {}", g.error)
    }
}

impl Explainer<'_> {
    fn gap(&self, i: u32) -> GapText<'_> {
        GapText(&self.gaps[i as usize])
    }

    fn held(&self, i: u32, out: &mut String) {
        let a = &self.assets[i as usize];
        put!(out, "held by {} {} ({}", a.kind, a.id, a.account);
        if let Some(r) = a.region.as_deref() {
            put!(out, ", {r}");
        }
        out.push(')');
    }

    pub fn render(&self, r: &Reason) -> String {
        let mut out = String::new();
        self.render_into(r, &mut out);
        out
    }

    /// [`Explainer::render`], appended to `out` (a scan renders a million reasons: into one buffer).
    pub fn render_into(&self, r: &Reason, out: &mut String) {
        match r {
            Reason::NoTarget(t) => put!(out, "{t} record: nothing to judge"),
            Reason::Held(i) => self.held(*i, out),
            Reason::Released(f) => {
                let f = self.history.former(*f);
                put!(out, "released since run {} ({}): was {} {}; remove the record or re-acquire the target", f.run, f.date, f.kind, f.id)
            }
            Reason::ReleasedGap(f, g) => {
                let f = self.history.former(*f);
                put!(out, "held by {} {} in run {} ({}); that scope has a coverage gap now ({})", f.kind, f.id, f.run, f.date, self.gap(*g))
            }
            Reason::Ip { ip, range: None, .. } => put!(out, "{ip} is outside every judged range (not a known cloud or declared range)"),
            Reason::Ip { ip, range: Some(rr), scope } => {
                let range = self.ranges.get(*rr);
                let what = range.describe();
                match scope {
                    ScopeNote::Complete => put!(out, "{ip} is in {what} and no enumerated account holds it; remove the record or re-acquire the address"),
                    ScopeNote::Gap(g) => put!(out, "{ip} is in {what}, which has a coverage gap: {}", self.gap(*g)),
                    ScopeNote::RegionNotEnumerated => {
                        put!(out, "{ip} is in {what}, but region {} was not enumerated", range.region.as_deref().unwrap_or("?"))
                    }
                    ScopeNote::NotConfigured => put!(out, "{ip} is in {what}; {} is not enumerated", provider_display(&range.provider)),
                }
            }
            Reason::Detail(d) => self.render_detail(d, out),
        }
    }

    fn render_detail(&self, d: &Detail, out: &mut String) {
        match d {
            Detail::Via { name, inner } => {
                put!(out, "via {name}: ");
                self.render_into(inner, out)
            }
            Detail::Delegated { cut, zone, inner } => {
                put!(out, "in zone {cut}, delegated from {zone}: ");
                self.render_into(inner, out)
            }
            Detail::HeldZone { zone } => put!(out, "delegates to zone {zone}, which we hold"),
            Detail::HeldZoneAsset { asset } => {
                out.push_str("delegates to a zone we hold: ");
                self.held(*asset, out)
            }
            Detail::Loop { chain } => {
                out.push_str("CNAME loop: ");
                for (i, n) in chain.iter().enumerate() {
                    if i > 0 {
                        out.push_str(" → ");
                    }
                    put!(out, "{n}");
                }
            }
            Detail::TooDeep => put!(out, "chain longer than {} links, not followed", super::MAX_CHAIN),
            Detail::Missing { name, zone, gap: None } => {
                put!(out, "{name} does not exist in our zone {zone} (NXDOMAIN); remove the record or recreate the name")
            }
            Detail::Missing { name, zone, gap: Some(g) } => {
                put!(out, "{name} is not in our zone {zone}, whose enumeration has a gap: {}", self.gap(*g))
            }
            Detail::NoAddress { name, zone } => put!(out, "{name} exists in our zone {zone} but has no A, AAAA or CNAME record"),
            Detail::Service { .. } | Detail::Bucket { .. } | Detail::Resource { .. } | Detail::Ns { .. } => self.render_scoped(d, out),
            Detail::NotJudged { service } => {
                put!(out, "points at {service} ({}), which dangle does not enumerate", service.cloud.display())
            }

            Detail::KnownTakeover { service } => put!(
                out,
                "points at {service}, listed as takeover-prone by can-i-take-over-xyz; dangle does not enumerate it, check that the account there is yours"
            ),
            Detail::ExternalHost { name } => put!(out, "{name} is outside every enumerated zone and service"),
            Detail::Verified { txt, inner } => {
                self.render_into(inner, out);
                put!(out, "; not claimable by another tenant: our zone publishes {txt} (TXT domain verification), without which the service binds this name to no one else's app");
            }
        }
    }

    /// The details that depend on the scope a target lies in: a service name, a bucket, a resource
    /// id, a delegation.
    fn render_scoped(&self, d: &Detail, out: &mut String) {
        match d {
            Detail::Service { name, service, region, scope } => {
                let cloud = service.cloud.display();
                match scope {
                    ScopeNote::Complete => put!(out, "no enumerated account holds the {service} name {name}; remove or repoint the record"),
                    ScopeNote::Gap(g) => put!(out, "{service} name; {cloud} has a coverage gap: {}", self.gap(*g)),
                    ScopeNote::RegionNotEnumerated => {
                        put!(out, "{service} name in region {}, which was not enumerated", region.as_deref().unwrap_or("?"))
                    }
                    ScopeNote::NotConfigured => put!(out, "{service} name ({cloud}); {cloud} is not enumerated"),
                }
            }
            Detail::Bucket { service, bucket, scope } => {
                let (noun, cloud) = (service.key_noun.unwrap_or("bucket"), service.cloud.display());
                match scope {
                    ScopeNote::Complete => put!(out, "{noun} `{bucket}` is in no enumerated account: anyone can create it and serve this name"),
                    ScopeNote::Gap(g) => put!(out, "{noun} `{bucket}`; {cloud} has a coverage gap: {}", self.gap(*g)),
                    // Keys are global: no region scope applies.
                    ScopeNote::RegionNotEnumerated | ScopeNote::NotConfigured => put!(out, "{noun} `{bucket}`; {cloud} is not enumerated"),
                }
            }
            Detail::Resource { cloud, id, subscription, scope } => {
                let cloud = cloud.map(Cloud::display).unwrap_or("cloud");
                match scope {
                    ScopeNote::Complete => put!(out, "alias to {cloud} resource {id}, which no longer exists in subscription {subscription}"),
                    ScopeNote::Gap(g) => put!(out, "alias to {cloud} resource; subscription has a gap: {}", self.gap(*g)),
                    _ => put!(out, "alias to a resource in subscription `{subscription}`, which is not enumerated"),
                }
            }
            Detail::Ns { delegated, target, service, held_elsewhere, scope } => {
                let mut what = || {
                    if *held_elsewhere {
                        put!(out, "{delegated} is delegated to {service} server {target}, but no zone we hold for it is served there")
                    } else {
                        put!(out, "{delegated} is delegated to {service} server {target}, but no enumerated account holds a zone {delegated}")
                    }
                };
                match scope {
                    ScopeNote::Complete => {
                        what();
                        out.push_str(": anyone can create it there and answer for the name")
                    }
                    ScopeNote::Gap(g) => {
                        what();
                        put!(out, "; coverage gap: {}", self.gap(*g))
                    }
                    _ => put!(out, "delegated to {service} server {target}; {} is not enumerated", service.cloud.display()),
                }
            }
            _ => self.render_detail(d, out),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reasons_stay_small() {
        assert!(std::mem::size_of::<super::Reason>() <= 32, "{}", std::mem::size_of::<super::Reason>());
        assert!(std::mem::size_of::<crate::reconcile::Judgement>() <= 48, "{}", std::mem::size_of::<crate::reconcile::Judgement>());
    }
}

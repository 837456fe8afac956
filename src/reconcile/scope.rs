//! Scopes: what each configured provider (by name, type and cloud) vouches for, which accounts and
//! regions it enumerated and which gaps it reported; a target's scope decides, through
//! [`ScopeNote::status`], whether an unheld target is `dangling`, `unverified` or `external`.

use std::sync::Arc;

use dangle_model::{Cloud, Hides, Namespace, Service};
use rustc_hash::{FxHashMap, FxHashSet};

use super::{Ctx, Inputs, ProviderInfo, ScopeNote};

/// What a scope is looked up by: a cloud (its published ranges and service names), or a label (a
/// provider's name or config `type`, as `[[ranges]]` and history name them).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum ScopeKey {
    Cloud(Cloud),
    Label(Arc<str>),
}

#[derive(Default)]
pub(super) struct ScopeInfo {
    pub(super) configured: bool,
    /// What the scope's providers vouch for.
    pub(super) covers: FxHashSet<Namespace>,
    pub(super) all_regions: bool,
    pub(super) regions: FxHashSet<Arc<str>>,
    pub(super) accounts: FxHashSet<Arc<str>>,
    pub(super) gaps: Vec<ScopedGap>,
}

/// A gap as a scope sees it; `index` points into the run's gaps.
pub(super) struct ScopedGap {
    pub(super) region: Option<Arc<str>>,
    pub(super) account: Arc<str>,
    pub(super) hides: Hides,
    pub(super) index: u32,
}

pub(super) fn is_global(region: &str) -> bool {
    region.is_empty() || region.eq_ignore_ascii_case("global")
}

impl Ctx<'_> {
    /// Every scope a judgement can ask about: each provider under its name, its type and its cloud.
    pub(super) fn scopes(inp: &Inputs<'_>) -> FxHashMap<ScopeKey, ScopeInfo> {
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

    /// Where a target of namespace `ns` (`None`: any) in `region` stands in scope `key`.
    pub(super) fn scope(&self, key: &ScopeKey, region: Option<&str>, ns: Option<Namespace>) -> ScopeNote {
        self.scope_with(key, region, ns, false)
    }

    /// Like [`Ctx::scope`]; `declared`: the user declared this space for the scope (`[[ranges]]`),
    /// so it is judged even if the provider does not say it covers that kind of target.
    pub(super) fn scope_with(&self, key: &ScopeKey, region: Option<&str>, ns: Option<Namespace>, declared: bool) -> ScopeNote {
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

    pub(super) fn scope_account(&self, key: &ScopeKey, account: &str, ns: Namespace) -> ScopeNote {
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
    pub(super) fn judges(&self, service: Service, enumerated: bool) -> bool {
        match self.scopes.get(&ScopeKey::Cloud(service.cloud)).filter(|s| s.configured) {
            Some(s) => s.covers.contains(&Namespace::Names(service)),
            None => enumerated,
        }
    }
}

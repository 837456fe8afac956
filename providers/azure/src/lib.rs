//! dangle's Azure provider: Azure DNS zones and record sets, and the Azure resources that hold
//! addresses and names, read over Azure Resource Manager with the official azure_core pipeline.
//!
//! Per subscription (the configured ones, or every one the identity can list): the subscription
//! itself (a failure there is one gap that hides the whole subscription), public DNS zones with their
//! record sets (the zones are assets: their name servers make delegations to them owned), and public
//! IP addresses (address and DNS label). Each list follows its `nextLink`; each failed list is a gap
//! naming what it hides. Subscriptions are read side by side, a few at a time.

mod arm;
pub mod claims;
mod certificate;
mod change;
mod events;
pub mod credential;
mod dns;
mod resources;
mod scoped;
mod settings;
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use azure_core::http::Url;
use dangle_model::cloud::Cloud;
use dangle_model::{
    Part,
    Asset, AssetKind, BoxFuture, Coverage, CoverageGap, Description, DnsName, Hides, Inventory, Namespace, Provider, ProviderError,
};
use futures_util::StreamExt;
use serde_json::Value;

pub use arm::{tls_config, ArmError};
pub use settings::AzureFactory;

/// api-version per resource type, pinned: the JSON shapes dangle reads are those of these versions.
/// The parts of a subscription this provider reads that are not a resource list of its own (those are
/// in the resource tables), each a gap of its own when it fails.
pub mod parts {
    use dangle_model::Part;

    pub const SUBSCRIPTION: Part = Part::new("subscription");
    pub const DNS: Part = Part::new("dns");
    pub const PRIVATE_DNS: Part = Part::new("privatedns");
}

pub mod api {
    pub const SUBSCRIPTIONS: &str = "2022-12-01";
    pub const DNS: &str = "2018-05-01";
    pub const PRIVATE_DNS: &str = "2024-06-01";
    pub const NETWORK: &str = "2024-05-01";
    pub const WEB: &str = "2023-12-01";
    pub const TRAFFIC_MANAGER: &str = "2022-04-01";
    pub const CDN: &str = "2024-02-01";
    pub const FRONT_DOOR: &str = "2021-06-01";
    pub const STORAGE: &str = "2023-05-01";
    pub const CONTAINER_INSTANCE: &str = "2023-05-01";
    pub const API_MANAGEMENT: &str = "2022-08-01";
    pub const CONTAINER_APPS: &str = "2024-03-01";
}

/// Subscriptions read at once by default.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// Child lists (a site's slots, a CDN profile's endpoints) in flight at once per resource type, for
/// each subscription read at once.
pub const CHILD_LISTS_PER: usize = 2;

/// Every list the provider reads under `/subscriptions/{id}/` (DNS, private DNS, each resource type).
pub fn subscription_lists() -> impl Iterator<Item = &'static str> {
    [DNS_ZONES, PRIVATE_DNS_ZONES].into_iter().chain(resources::TYPES.iter().map(|t| t.path))
}

const DNS_ZONES: &str = "providers/Microsoft.Network/dnszones";
const PRIVATE_DNS_ZONES: &str = "providers/Microsoft.Network/privateDnsZones";

/// What the provider enumerates, as the judge sees it.
pub fn description() -> Description {
    use Namespace::*;
    let mut covers = vec![Addresses, NameServers, Zones];
    for t in resources::TYPES {
        for ns in t.hides {
            if !covers.contains(ns) {
                covers.push(*ns);
            }
        }
    }
    Description { cloud: Some(Cloud::AZURE), covers }
}

/// One configured Azure provider.
pub struct AzureSource {
    name: Arc<str>,
    arm: arm::Arm,
    credential: Arc<dyn TokenCredential>,
    subscriptions: Option<Vec<String>>,
    concurrency: usize,
}

impl std::fmt::Debug for AzureSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureSource").field("name", &self.name).field("arm", &self.arm).field("subscriptions", &self.subscriptions).finish()
    }
}

/// Whose record sets [`AzureSource::record_sets`] reads, and how a failure is named.
struct RecordSets<'a> {
    sub: &'a str,
    account: &'a Arc<str>,
    zone: &'a DnsName,
    private: bool,
    service: Part,
    hides: &'a [Namespace],
}

impl AzureSource {
    /// A provider reading `endpoint` (ARM's base URL, https) with `credential`, trusting the system's
    /// roots and `ca_pem`.
    pub fn new(
        name: &str,
        endpoint: &str,
        credential: Arc<dyn TokenCredential>,
        ca_pem: Option<&[u8]>,
        timeout: Duration,
    ) -> Result<Self, ProviderError> {
        let tls = tls_config(ca_pem).map_err(|e| ProviderError::Config { provider: name.to_string(), message: format!("ca_file {e}") })?;
        Self::with_tls(name, endpoint, credential, tls, timeout)
    }

    /// [`AzureSource::new`] with the TLS configuration already made (the one the credential's token
    /// requests use too).
    pub fn with_tls(
        name: &str,
        endpoint: &str,
        credential: Arc<dyn TokenCredential>,
        tls: rustls::ClientConfig,
        timeout: Duration,
    ) -> Result<Self, ProviderError> {
        let config = |message: String| ProviderError::Config { provider: name.to_string(), message };
        let base = Url::parse(endpoint).map_err(|e| config(format!("endpoint_url `{}`: {e}", dangle_model::excerpt(endpoint))))?;
        let arm = arm::Arm::new(base, credential.clone(), tls, timeout).map_err(config)?;
        Ok(Self { name: Arc::from(name), arm, credential, subscriptions: None, concurrency: DEFAULT_CONCURRENCY })
    }

    /// Read only these subscriptions (ids), instead of every one the identity can list.
    pub fn with_subscriptions(mut self, subs: Vec<String>) -> Self {
        self.subscriptions = Some(subs);
        self
    }

    /// Subscriptions read at once (at least 1).
    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    fn gap(&self, subscription: &str, service: Part, error: impl std::fmt::Display, hides: Hides) -> CoverageGap {
        CoverageGap {
            source: self.name.clone(),
            account: Arc::from(subscription),
            region: None,
            service,
            error: dangle_model::input::printable(&error.to_string()).into_owned(),
            hides,
        }
    }

    /// A list's result, or `None` and a gap `{what}: {error}` of `service` in `sub` that hides `hides`.
    fn or_gap<T>(
        &self,
        listed: Result<T, ArmError>,
        sub: &str,
        service: &Part,
        what: impl std::fmt::Display,
        hides: &[Namespace],
        inv: &mut Inventory,
    ) -> Option<T> {
        match listed {
            Ok(items) => Some(items),
            Err(e) => {
                inv.gaps.push(self.gap(sub, service.clone(), format!("{what}: {e}"), Hides::only(hides)));
                None
            }
        }
    }

    async fn subscriptions(&self) -> Result<Vec<String>, ProviderError> {
        if let Some(s) = &self.subscriptions {
            return Ok(s.clone());
        }
        let items = self.arm.list("/subscriptions", api::SUBSCRIPTIONS).await.map_err(|e| ProviderError::Api {
            provider: self.name.to_string(),
            operation: "list subscriptions".into(),
            message: e.to_string(),
        })?;
        let mut subs: Vec<String> = items.iter().filter_map(|s| s.get("subscriptionId").and_then(Value::as_str)).map(str::to_string).collect();
        subs.sort();
        subs.dedup();
        if subs.is_empty() {
            return Err(ProviderError::Api {
                provider: self.name.to_string(),
                operation: "list subscriptions".into(),
                message: "the identity can read no subscription: name them in `subscriptions`, or grant it a role on them".into(),
            });
        }
        Ok(subs)
    }

    async fn numbered(&self, i: usize, sub: &str) -> (usize, Inventory) {
        (i, self.subscription(sub).await)
    }

    /// Everything of one subscription.
    async fn subscription(&self, sub: &str) -> Inventory {
        let mut inv = Inventory::default();
        let path = format!("/subscriptions/{sub}");
        if let Err(e) = self.arm.get_path(&path, api::SUBSCRIPTIONS).await {
            inv.gaps.push(self.gap(sub, parts::SUBSCRIPTION, format!("GET subscription {sub}: {e}"), Hides::Account));
            return inv;
        }
        let account: Arc<str> = Arc::from(sub);
        inv.covered.push(Coverage { source: self.name.clone(), account: account.clone(), region: None });
        self.dns(sub, &account, &mut inv).await;
        self.private_dns(sub, &account, &mut inv).await;
        for t in resources::TYPES {
            self.resources(sub, &account, t, &mut inv).await;
        }
        tracing::info!(target: dangle_model::PROGRESS, source = &*self.name, account = sub, regions = 0usize, "subscription read");
        inv
    }

    async fn dns(&self, sub: &str, account: &Arc<str>, inv: &mut Inventory) {
        use Namespace::{NameServers, Zones};
        let hides = &[Zones, NameServers];
        let listed = self.arm.list(&format!("/subscriptions/{sub}/{DNS_ZONES}"), api::DNS).await;
        let Some(zones) = self.or_gap(listed, sub, &parts::DNS, "list DNS zones", hides, inv) else { return };
        for z in &zones {
            let (Some(id), Some(name)) = (z.get("id").and_then(Value::as_str), z.get("name").and_then(Value::as_str)) else { continue };
            let zone = match DnsName::parse(name) {
                Ok(n) => n,
                Err(e) => {
                    inv.gaps.push(self.gap(sub, parts::DNS, format!("DNS zone `{}`: {e}", dangle_model::excerpt(name)), Hides::only(hides)));
                    continue;
                }
            };
            let mut hosts = vec![zone.clone()];
            let servers = z.pointer("/properties/nameServers").and_then(Value::as_array);
            hosts.extend(servers.into_iter().flatten().filter_map(Value::as_str).filter_map(|n| DnsName::parse(n).ok()));
            inv.assets.push(Asset {
                source: self.name.clone(),
                account: account.clone(),
                region: None,
                kind: dangle_model::cloud::kinds::azure::DNS_ZONE,
                id: id.into(),
                ips: Default::default(),
                hosts,
            });
            let sets = RecordSets { sub, account, zone: &zone, private: false, service: parts::DNS, hides };
            self.record_sets(&sets, &format!("{id}/recordsets"), api::DNS, format!("list record sets of {zone}"), |_| {}, inv).await;
        }
    }

    /// Private DNS zones: their record sets, seen only inside the virtual networks linked to the zone
    /// (split horizon: judged apart from public names), each record's location naming the links.
    async fn private_dns(&self, sub: &str, account: &Arc<str>, inv: &mut Inventory) {
        let hides = &[Namespace::Zones];
        let listed = self.arm.list(&format!("/subscriptions/{sub}/{PRIVATE_DNS_ZONES}"), api::PRIVATE_DNS).await;
        let Some(zones) = self.or_gap(listed, sub, &parts::PRIVATE_DNS, "list private DNS zones", hides, inv) else { return };
        for z in &zones {
            let (Some(id), Some(name)) = (z.get("id").and_then(Value::as_str), z.get("name").and_then(Value::as_str)) else { continue };
            let Ok(zone) = DnsName::parse(name) else {
                inv.gaps.push(self.gap(sub, parts::PRIVATE_DNS, format!("private DNS zone `{}` is not a name", dangle_model::excerpt(name)), Hides::only(hides)));
                continue;
            };
            let listed = self.arm.list(&format!("{id}/virtualNetworkLinks"), api::PRIVATE_DNS).await;
            let Some(links) = self.or_gap(listed, sub, &parts::PRIVATE_DNS, format_args!("list virtual network links of {zone}"), hides, inv) else { continue };
            let vnets: Vec<&str> = links
                .iter()
                .filter_map(|l| l.pointer("/properties/virtualNetwork/id").and_then(Value::as_str))
                .map(|v| v.rsplit('/').next().unwrap_or(v))
                .collect();
            let seen_from = if vnets.is_empty() { "no virtual network linked".to_string() } else { vnets.join(", ") };
            let sets = RecordSets { sub, account, zone: &zone, private: true, service: parts::PRIVATE_DNS, hides };
            let seen = |r: &mut dangle_model::DnsRecord| r.location = r.location.take().map(|l| dangle_model::Location::Place(Arc::from(format!("{l} (private: {seen_from})"))));
            self.record_sets(&sets, &format!("{id}/ALL"), api::PRIVATE_DNS, format!("list record sets of private zone {zone}"), seen, inv).await;
        }
    }

    /// A zone's record sets, decoded page by page as they arrive (`adjust` finishes each record) and
    /// kept only once the whole list was read: a list that fails half way is a gap, and none of its
    /// records count. A set that does not decode is a gap of its own.
    async fn record_sets(&self, z: &RecordSets<'_>, path: &str, api: &str, what: String, adjust: impl Fn(&mut dangle_model::DnsRecord), inv: &mut Inventory) {
        let (mut records, mut bad) = (Vec::new(), Vec::new());
        let listed = self
            .arm
            .each(path, api, |s| match dns::record(&s, &self.name, z.account, z.zone, z.private) {
                Ok(Some(mut r)) => {
                    adjust(&mut r);
                    records.push(r);
                }
                Ok(None) => {}
                Err(e) => bad.push(e),
            })
            .await;
        if self.or_gap(listed, z.sub, &z.service, what, z.hides, inv).is_none() {
            return;
        }
        inv.records.extend(records);
        let kind = if z.private { "private zone" } else { "zone" };
        for e in bad {
            inv.gaps.push(self.gap(z.sub, z.service.clone(), format!("{kind} {}: {e}", z.zone), Hides::only(z.hides)));
        }
    }

    /// The resources of one type (and their children), as assets: each page decoded as it arrives,
    /// kept only once the whole list was read (a list that fails half way is a gap, none of it counts).
    async fn resources(&self, sub: &str, account: &Arc<str>, t: &resources::Type, inv: &mut Inventory) {
        let (mut assets, mut parents) = (Vec::new(), Vec::new());
        let listed = self
            .arm
            .each(&format!("/subscriptions/{sub}/{}", t.path), t.api, |r| {
                let Some(id) = r.get("id").and_then(Value::as_str) else { return };
                let mut held = resources::Held::default();
                (t.read)(&r, &mut held);
                assets.extend(self.asset(account, &r, id, t.kind.clone(), held));
                if !t.children.is_empty() {
                    parents.push(id.to_string());
                }
            })
            .await;
        if self.or_gap(listed, sub, &t.service, format_args!("list {}", t.what), t.hides, inv).is_none() {
            return;
        }
        inv.assets.extend(assets);
        // The children's lists (a site's slots, a profile's endpoints): one request per parent, so a
        // few in flight at once; results in parent order.
        let reads: Vec<_> = parents.iter().flat_map(|id| t.children.iter().map(move |(child, api)| self.children(account, t, id, child, api))).collect();
        let lists: Vec<_> = futures_util::stream::iter(reads).buffered(CHILD_LISTS_PER * self.concurrency).collect().await;
        for (id, child, listed) in lists {
            if let Some(kids) = self.or_gap(listed, sub, &t.service, format_args!("list {child} of {id}"), t.hides, inv) {
                inv.assets.extend(kids);
            }
        }
    }

    /// One parent's children of one kind, as assets.
    async fn children<'p>(
        &self,
        account: &Arc<str>,
        t: &resources::Type,
        id: &'p str,
        child: &'static str,
        api: &'static str,
    ) -> (&'p str, &'static str, Result<Vec<Asset>, ArmError>) {
        let mut kids = Vec::new();
        let listed = self
            .arm
            .each(&format!("{id}/{child}"), api, |k| {
                let Some(kid) = k.get("id").and_then(Value::as_str) else { return };
                let mut held = resources::Held::default();
                resources::read_child(t, child, &k, &mut held);
                kids.extend(self.asset(account, &k, kid, resources::child_kind(t, child), held));
            })
            .await;
        (id, child, listed.map(|()| kids))
    }

    /// An asset for resource `r`, unless it holds nothing (a CDN profile holds its endpoints' names,
    /// not its own); a storage account always, its id naming its key.
    fn asset(&self, account: &Arc<str>, r: &Value, id: &str, kind: AssetKind, held: resources::Held) -> Option<Asset> {
        if held.ips.is_empty() && held.hosts.is_empty() && kind != dangle_model::cloud::kinds::azure::STORAGE_ACCOUNT {
            return None;
        }
        Some(Asset {
            source: self.name.clone(),
            account: account.clone(),
            region: r.get("location").and_then(Value::as_str).filter(|l| !l.eq_ignore_ascii_case("global")).map(Arc::from),
            kind,
            id: id.into(),
            ips: held.ips.into_iter().collect(),
            hosts: held.hosts,
        })
    }

    /// The subscription as this provider names it (configured or listed), matched without case:
    /// Activity Log writes ids in either case.
    async fn own_subscription(&self, id: &str) -> Result<Option<String>, ProviderError> {
        Ok(self.subscriptions().await?.into_iter().find(|s| s.eq_ignore_ascii_case(id)))
    }

    /// Only the lists a change event touched, in one subscription ([`scoped::plan`]).
    async fn scoped(&self, scope: &dangle_model::Scope) -> Result<Option<(Inventory, dangle_model::Replaces)>, ProviderError> {
        let Some(sub) = self.own_subscription(&scope.account).await? else { return Ok(None) };
        let plan = scoped::plan(&scope.services);
        let account: Arc<str> = Arc::from(sub.as_str());
        let mut services: Vec<Part> = Vec::new();
        let mut kinds: Vec<AssetKind> = Vec::new();
        let inv = if plan.whole {
            services.push(parts::SUBSCRIPTION);
            self.subscription(&sub).await
        } else {
            let mut inv = Inventory::default();
            inv.covered.push(Coverage { source: self.name.clone(), account: account.clone(), region: None });
            if plan.dns {
                self.dns(&sub, &account, &mut inv).await;
                self.private_dns(&sub, &account, &mut inv).await;
            }
            for t in &plan.types {
                self.resources(&sub, &account, t, &mut inv).await;
            }
            inv
        };
        if plan.dns {
            services.extend([parts::DNS, parts::PRIVATE_DNS]);
            kinds.push(dangle_model::cloud::kinds::azure::DNS_ZONE);
        }
        for t in &plan.types {
            if !services.contains(&t.service) {
                services.push(t.service.clone());
            }
            for k in scoped::kinds_of(t) {
                if !kinds.contains(&k) {
                    kinds.push(k);
                }
            }
        }
        let replaces = dangle_model::Replaces { account, region: None, records: plan.dns, kinds, services };
        Ok(Some((inv, replaces)))
    }

    async fn run(&self) -> Result<Inventory, ProviderError> {
        // One token first: no credential at all stops the run with what was tried, instead of a gap
        // per subscription.
        self.credential.get_token(&[self.arm.scope()], None).await.map_err(|e| ProviderError::Config {
            provider: self.name.to_string(),
            message: e.to_string(),
        })?;
        let subs = self.subscriptions().await?;
        let reads: Vec<_> = subs.iter().enumerate().map(|(i, s)| self.numbered(i, s)).collect();
        let mut parts: Vec<(usize, Inventory)> = futures_util::stream::iter(reads).buffer_unordered(self.concurrency).collect().await;
        // In subscription order, however the reads interleaved.
        parts.sort_by_key(|(i, _)| *i);
        let mut inv = Inventory::default();
        for (_, p) in parts {
            inv.records.extend(p.records);
            inv.assets.extend(p.assets);
            inv.covered.extend(p.covered);
            inv.gaps.extend(p.gaps);
        }
        Ok(inv)
    }
}

impl Provider for AzureSource {
    fn name(&self) -> &str {
        &self.name
    }
    fn describe(&self) -> Description {
        description()
    }
    fn enumerate(&self) -> BoxFuture<'_, Result<Inventory, ProviderError>> {
        Box::pin(self.run())
    }
    /// The subscription an Activity Log event names, only the lists holding the resource type it
    /// names (a type no list holds: the whole subscription).
    fn enumerate_scope<'a>(&'a self, scope: &'a dangle_model::Scope) -> Option<dangle_model::Scoped<'a>> {
        Some(Box::pin(self.scoped(scope)))
    }
    /// App Service, storage, Traffic Manager and CDN names, through their checkNameAvailability
    /// under the first subscription read (`claims`).
    fn check_names<'a>(&'a self, queries: &'a [dangle_model::ClaimQuery]) -> BoxFuture<'a, Vec<Option<dangle_model::ClaimAnswer>>> {
        Box::pin(async move {
            let Some(sub) = self.subscriptions().await.ok().and_then(|s| s.into_iter().next()) else {
                return vec![None; queries.len()];
            };
            use futures_util::StreamExt as _;
            // A few at a time (ARM's retry policy handles a 429), answers in query order.
            let sub = &sub;
            let checks: Vec<_> = queries.iter().map(|q| claims::check(&self.arm, sub, q)).collect();
            futures_util::stream::iter(checks).buffered(self.concurrency.max(1)).collect::<Vec<_>>().await
        })
    }
}

//! The toy provider: an inventory held in memory, with failures injected per account, region and
//! namespace. It is the smallest provider that passes the suite (and, given a lying gap, the proof
//! that the suite fails one), and a config reaches it through the registry like any other:
//! `[[providers]] type = "memory"`, `estate = "NAME"` of an estate published to its factory.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use dangle_model::registry::{settings, Configured, Context, Factory, SettingsError};
use dangle_model::{Asset, BoxFuture, Coverage, CoverageGap, Description, DnsName, DnsRecord, Hides, Inventory, Namespace, Provider, ProviderError};
use serde::Deserialize;

use super::Seed;

/// An estate in memory.
#[derive(Debug, Clone)]
pub struct Memory {
    name: Arc<str>,
    description: Description,
    records: Vec<DnsRecord>,
    /// Each asset with the namespace a failure of it hides.
    assets: Vec<(Namespace, Asset)>,
    covered: Vec<Coverage>,
    failure: Option<MemoryFailure>,
}

/// What fails: the assets of the matching account, region and namespaces go missing, and each covered
/// account that matches reports one gap declaring `declares`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryFailure {
    /// `None`: every account.
    pub account: Option<String>,
    /// `None`: every region.
    pub region: Option<String>,
    /// `None`: every namespace.
    pub namespaces: Option<Vec<Namespace>>,
    /// What the gap says it may hide (an honest provider: what went missing).
    pub declares: Hides,
}

impl Memory {
    pub fn new(name: &str, description: Description) -> Self {
        Self { name: Arc::from(name), description, records: Vec::new(), assets: Vec::new(), covered: Vec::new(), failure: None }
    }

    pub fn name(&self) -> &Arc<str> {
        &self.name
    }

    pub fn add_record(&mut self, r: DnsRecord) {
        self.records.push(r);
    }

    /// Adds an asset; a failure of `namespace` in its account and region hides it.
    pub fn add_asset(&mut self, namespace: Namespace, a: Asset) {
        self.assets.push((namespace, a));
    }

    /// Declares an (account, region) enumerated: what the judge looks up.
    pub fn cover(&mut self, account: &str, region: Option<&str>) {
        self.covered.push(Coverage { source: self.name.clone(), account: Arc::from(account), region: region.map(Arc::from) });
    }

    /// The same estate, failing.
    pub fn failing(&self, f: MemoryFailure) -> Self {
        Self { failure: Some(f), ..self.clone() }
    }

    fn inventory(&self) -> Inventory {
        let Some(f) = &self.failure else {
            return Inventory {
                records: self.records.clone(),
                assets: self.assets.iter().map(|(_, a)| a.clone()).collect(),
                covered: self.covered.clone(),
                gaps: Vec::new(),
            };
        };
        let account_hit = |a: &str| f.account.as_deref().is_none_or(|x| x == a);
        let region_hit = |r: Option<&str>| f.region.is_none() || f.region.as_deref() == r;
        let lost = |ns: &Namespace, a: &Asset| {
            account_hit(&a.account) && region_hit(a.region.as_deref()) && f.namespaces.as_ref().is_none_or(|n| n.contains(ns))
        };
        let assets = self.assets.iter().filter(|(ns, a)| !lost(ns, a)).map(|(_, a)| a.clone()).collect();
        let mut accounts: Vec<&Arc<str>> = self.covered.iter().map(|c| &c.account).filter(|a| account_hit(a)).collect();
        accounts.dedup();
        let gaps = accounts
            .into_iter()
            .map(|a| CoverageGap {
                source: self.name.clone(),
                account: a.clone(),
                region: f.region.as_deref().map(Arc::from),
                service: "memory".into(),
                error: "injected failure".into(),
                hides: f.declares.clone(),
            })
            .collect();
        Inventory { records: self.records.clone(), assets, covered: self.covered.clone(), gaps }
    }
}

impl Provider for Memory {
    fn name(&self) -> &str {
        &self.name
    }
    fn describe(&self) -> Description {
        self.description.clone()
    }
    fn enumerate(&self) -> BoxFuture<'_, Result<Inventory, ProviderError>> {
        Box::pin(async move { Ok(self.inventory()) })
    }
}

/// The record sets of `seeds` as one provider would return them.
pub(super) fn records_of(source: &str, zone: &DnsName, seeds: &[Seed]) -> Vec<DnsRecord> {
    let source: Arc<str> = Arc::from(source);
    let account: Arc<str> = Arc::from("memory");
    seeds
        .iter()
        .map(|s| DnsRecord {
            source: source.clone(),
            account: account.clone(),
            zone: zone.clone(),
            zone_private: false,
            name: s.name.clone(),
            rtype: s.rtype.clone(),
            ttl: 300,
            set_id: None,
            targets: vec![s.target.clone()].into(),
            location: None,
            spec: None,
        })
        .collect()
}

/// The toy's factory: config type `memory`, one key, `estate`, naming an estate published here.
#[derive(Debug, Default)]
pub struct MemoryFactory {
    estates: Mutex<BTreeMap<String, Memory>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemorySettings {
    estate: String,
}

#[derive(Debug)]
struct Configured_(Memory);

impl MemoryFactory {
    /// Makes `estate` the estate a config's `estate = "NAME"` reads (replacing any of that name).
    pub fn publish(&self, estate: &str, m: Memory) {
        self.estates.lock().unwrap_or_else(|p| p.into_inner()).insert(estate.to_string(), m);
    }
}

impl Factory for MemoryFactory {
    fn kind(&self) -> &'static str {
        "memory"
    }
    fn configure(&self, name: &str, table: toml::Table, _cx: &mut Context) -> Result<Box<dyn Configured>, SettingsError> {
        let s: MemorySettings = settings(table)?;
        let estates = self.estates.lock().unwrap_or_else(|p| p.into_inner());
        let Some(m) = estates.get(&s.estate) else {
            return Err(SettingsError::key("estate", format!("no estate `{}` was published", s.estate)));
        };
        // The config's name is the provider's name, as for every type.
        let mut m = m.clone();
        m.name = Arc::from(name);
        for c in &mut m.covered {
            c.source = m.name.clone();
        }
        for (_, a) in &mut m.assets {
            a.source = m.name.clone();
        }
        for r in &mut m.records {
            r.source = m.name.clone();
        }
        Ok(Box::new(Configured_(m)))
    }
}

impl Configured for Configured_ {
    fn build(&self) -> BoxFuture<'_, Result<Box<dyn Provider>, ProviderError>> {
        Box::pin(async move { Ok(Box::new(self.0.clone()) as Box<dyn Provider>) })
    }
}

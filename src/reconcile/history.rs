//! What earlier runs held: the index behind "released since run N", keyed like the current inventory.

use std::sync::Arc;

use dangle_model::{AssetKind, Cloud, DnsName, Service};
use ipnet::IpNet;
use rustc_hash::FxHashMap;

use super::index::PrefixIndex;

/// A keyed namespace (S3 buckets, Azure storage accounts): the cloud and what its keys are called.
/// Services whose names share keys (blob and static-website endpoints of one storage account) share it.
pub type KeySpace = (Cloud, &'static str);

pub(super) fn key_space(s: Service) -> Option<KeySpace> {
    s.key_noun.map(|n| (s.cloud, n))
}

/// The namespace key an asset of `kind` with `id` holds, if its kind holds one.
pub(super) fn asset_key<'i>(kind: &AssetKind, id: &'i str) -> Option<(KeySpace, &'i str)> {
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
    pub(super) ips: PrefixIndex<u32>,
    pub(super) hosts: FxHashMap<DnsName, u32>,
    pub(super) buckets: FxHashMap<(KeySpace, Box<str>), u32>,
    /// Lower-case ids, built on the first resource alias.
    pub(super) ids: std::sync::OnceLock<FxHashMap<String, u32>>,
    pub(super) formers: Vec<Former>,
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

    pub(super) fn id(&self, lower: &str) -> Option<u32> {
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

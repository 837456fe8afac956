//! Judged address space: the embedded snapshot of published cloud ranges, plus `[[ranges]]` the user
//! declares (BYOIP pools, on-prem blocks, an emulator's pool). Declared ranges win over published ones.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use dangle_model::Cloud;
use ipnet::IpNet;

use super::index::PrefixIndex;
use super::Claimable;

const SNAPSHOT: &str = include_str!("data/cloud_ranges.txt");

/// One range group: who publishes it and what runs there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeInfo {
    /// A cloud id of the snapshot, or for a declared range the config's `provider` (a cloud id, a
    /// provider type or a provider's name).
    pub provider: Arc<str>,
    /// The cloud whose space this is, when `provider` names one.
    pub cloud: Option<Cloud>,
    pub region: Option<Arc<str>>,
    pub service: Option<Arc<str>>,
    pub claimable: Claimable,
    /// Declared in `[[ranges]]` rather than published.
    pub declared: Option<IpNet>,
}

impl RangeInfo {
    /// "AWS (us-east-1, EC2)".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(r) = self.region.as_deref().filter(|r| !r.is_empty()) {
            parts.push(r);
        }
        if let Some(s) = self.service.as_deref().filter(|s| !s.is_empty()) {
            parts.push(s);
        }
        let who = provider_display(&self.provider);
        let base = match &self.declared {
            Some(net) => format!("declared range {net} of {who}"),
            None => format!("{who} space"),
        };
        if parts.is_empty() {
            base
        } else {
            format!("{base} ({})", parts.join(", "))
        }
    }
}

/// The human name of a provider key: a cloud's name, or the key itself.
pub fn provider_display(key: &str) -> String {
    match Cloud::parse(key) {
        Some(c) => c.display().to_string(),
        None => format!("`{key}`"),
    }
}

/// A handle on a range group of [`Ranges`], four bytes (a judgement carries one per row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RangeRef(std::num::NonZeroU32);

const DECLARED: u32 = 1 << 31;

impl RangeRef {
    fn published(i: u32) -> Self {
        Self(std::num::NonZeroU32::new((i + 1) & !DECLARED).expect("fewer than 2G range groups"))
    }
    fn declared(i: u32) -> Self {
        Self(std::num::NonZeroU32::new((i + 1) | DECLARED).expect("nonzero"))
    }
    fn index(self) -> (bool, usize) {
        let v = self.0.get();
        (v & DECLARED != 0, ((v & !DECLARED) - 1) as usize)
    }
}

/// A declared range, as the config gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredRange {
    pub cidr: IpNet,
    pub provider: String,
    pub region: Option<String>,
    pub service: Option<String>,
    pub claimable: Option<Claimable>,
}

#[derive(Debug, Clone)]
pub struct Ranges {
    published: &'static Published,
    declared: PrefixIndex<u32>,
    declared_info: Vec<RangeInfo>,
}

#[derive(Debug)]
struct Published {
    index: PrefixIndex<u32>,
    groups: Vec<RangeInfo>,
    snapshot: String,
}

fn published() -> &'static Published {
    static P: OnceLock<Published> = OnceLock::new();
    P.get_or_init(|| parse_snapshot(SNAPSHOT))
}

fn parse_snapshot(text: &str) -> Published {
    let mut index = PrefixIndex::default();
    let mut groups = Vec::new();
    let mut snapshot = String::from("unknown");
    for line in text.lines() {
        if let Some(s) = line.strip_prefix("#snapshot\t") {
            snapshot = s.to_string();
            continue;
        }
        let mut f = line.splitn(4, '\t');
        let (Some(p), Some(r), Some(s), Some(cidrs)) = (f.next(), f.next(), f.next(), f.next()) else { continue };
        let id = u32::try_from(groups.len()).expect("fewer than 4G range groups");
        // A cloud the tables do not know judges nothing (a test keeps the two in step).
        let Some(cloud) = Cloud::parse(p) else { continue };
        groups.push(RangeInfo {
            provider: Arc::from(p),
            cloud: Some(cloud),
            region: Some(r).filter(|r| !r.is_empty()).map(Arc::from),
            service: Some(s).filter(|s| !s.is_empty()).map(Arc::from),
            claimable: cloud.table().range_claimable(s),
            declared: None,
        });
        for c in cidrs.split(' ') {
            if let Ok(net) = c.parse::<IpNet>() {
                index.insert(net, id);
            }
        }
    }
    Published { index, groups, snapshot }
}

impl Ranges {
    /// The embedded published snapshot plus the declared ranges.
    pub fn new(declared: &[DeclaredRange]) -> Self {
        let mut index = PrefixIndex::default();
        let mut info = Vec::new();
        for d in declared {
            let id = u32::try_from(info.len()).expect("fewer than 4G declared ranges");
            info.push(RangeInfo {
                provider: Arc::from(d.provider.as_str()),
                cloud: Cloud::parse(&d.provider),
                region: d.region.as_deref().map(Arc::from),
                service: d.service.as_deref().map(Arc::from),
                claimable: d.claimable.unwrap_or(Claimable::Unknown),
                declared: Some(d.cidr),
            });
            index.insert(d.cidr, id);
        }
        Self { published: published(), declared: index, declared_info: info }
    }

    /// The range holding `ip`: a declared one first, else the most specific published one.
    pub fn lookup(&self, ip: IpAddr) -> Option<&RangeInfo> {
        self.lookup_ref(ip).map(|r| self.get(r))
    }

    /// Like [`Ranges::lookup`], as a small handle for [`Ranges::get`].
    pub fn lookup_ref(&self, ip: IpAddr) -> Option<RangeRef> {
        if let Some(i) = self.declared.lookup(ip) {
            return Some(RangeRef::declared(*i));
        }
        self.published.index.lookup(ip).map(|i| RangeRef::published(*i))
    }

    pub fn get(&self, r: RangeRef) -> &RangeInfo {
        match r.index() {
            (true, i) => &self.declared_info[i],
            (false, i) => &self.published.groups[i],
        }
    }

    /// Which snapshot the published ranges come from (shown in every report).
    pub fn snapshot(&self) -> &str {
        &self.published.snapshot
    }

    pub fn published_prefixes(&self) -> usize {
        self.published.index.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_snapshot_knows_the_big_clouds() {
        let r = Ranges::new(&[]);
        assert!(r.published_prefixes() > 10_000, "{}", r.published_prefixes());
        assert!(r.snapshot().contains("aws=2025-07-24"), "{}", r.snapshot());
        // 3.5.140.0/22 is listed in the AWS snapshot for ap-northeast-2.
        let aws = r.lookup("3.5.140.7".parse().unwrap()).unwrap();
        assert_eq!(aws.cloud, Some(Cloud::AWS));
        assert_eq!(aws.region.as_deref(), Some("ap-northeast-2"));
        let cf = r.lookup("173.245.48.1".parse().unwrap()).unwrap();
        assert_eq!(&*cf.provider, "cloudflare");
        assert_eq!(cf.claimable, Claimable::No);
        assert!(r.lookup("192.0.2.1".parse().unwrap()).is_none());
    }

    #[test]
    fn the_snapshot_and_the_cloud_tables_name_the_same_clouds() {
        let in_snapshot: std::collections::BTreeSet<&str> =
            SNAPSHOT.lines().filter(|l| !l.starts_with('#')).filter_map(|l| l.split('\t').next()).collect();
        for id in &in_snapshot {
            assert!(Cloud::parse(id).is_some(), "the snapshot lists `{id}`, which no cloud table declares");
        }
        for c in Cloud::ALL {
            assert!(in_snapshot.contains(c.as_str()), "{c} has a table but no ranges in the snapshot");
        }
    }

    #[test]
    fn declared_ranges_win() {
        let r = Ranges::new(&[DeclaredRange {
            cidr: "3.5.140.0/24".parse().unwrap(),
            provider: "onprem".into(),
            region: None,
            service: None,
            claimable: Some(Claimable::No),
        }]);
        assert_eq!(&*r.lookup("3.5.140.7".parse().unwrap()).unwrap().provider, "onprem");
        assert_eq!(r.lookup("3.5.141.7".parse().unwrap()).unwrap().cloud, Some(Cloud::AWS));
    }
}

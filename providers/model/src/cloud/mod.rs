//! What dangle knows about each cloud, declared as data: its id (the key of the cloud range snapshot),
//! its services' hostname suffixes and whether a third party can claim such a name, the kinds of asset
//! it holds, its name servers, the wildcard certificates it shares among tenants, and the claimability
//! of its published ranges. One table per cloud ([`CloudTable`]); the engine reads the tables through
//! a [`Clouds`] catalog and never names a cloud.
//!
//! The clouds of the range snapshot are built in ([`Cloud::ALL`]); a provider of another cloud
//! declares its own table and hands it over in its [`crate::Description`] (and its factory's
//! [`crate::registry::Factory::cloud`]), and nothing here changes.

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

use crate::{AssetKind, Claimable, DnsName};

mod aws;
mod azure;
mod others;

pub use aws::{CLOUDFRONT, EC2, ELB, ROUTE53, S3};
pub use azure::{API_MANAGEMENT, APP_SERVICE, AZURE_DNS, BLOB, CDN, CONTAINER_APPS, CONTAINER_INSTANCES, FRONT_DOOR, PUBLIC_IP_LABEL, STATIC_WEBSITE, TRAFFIC_MANAGER};

/// The kinds of asset each built-in cloud's providers make (`aws::ELASTIC_IP`, `azure::APP_SERVICE`).
pub mod kinds {
    pub use super::aws::kinds as aws;
    pub use super::azure::kinds as azure;
}

/// A cloud's identity: its id (the key of the cloud range snapshot), how people write it, and where
/// its table is (a function, so that the table can name the cloud's services, which name the cloud).
#[derive(Debug)]
pub struct CloudId {
    pub id: &'static str,
    pub display: &'static str,
    pub table: fn() -> &'static CloudTable,
}

static AWS: CloudId = CloudId { id: "aws", display: "AWS", table: || &aws::TABLE };
static AZURE: CloudId = CloudId { id: "azure", display: "Azure", table: || &azure::TABLE };
static GCP: CloudId = CloudId { id: "gcp", display: "Google Cloud", table: || &others::GCP };
static ORACLE: CloudId = CloudId { id: "oracle", display: "Oracle Cloud", table: || &others::ORACLE };
static CLOUDFLARE: CloudId = CloudId { id: "cloudflare", display: "Cloudflare", table: || &others::CLOUDFLARE };
static DIGITALOCEAN: CloudId = CloudId { id: "digitalocean", display: "DigitalOcean", table: || &others::DIGITALOCEAN };

/// A cloud whose address space and service names dangle knows: a handle to its identity and table.
/// Compared by its id ([`Cloud::as_str`]), the key of the cloud range snapshot (a test holds the two
/// together).
#[derive(Clone, Copy)]
pub struct Cloud(&'static CloudId);

impl Cloud {
    pub const AWS: Cloud = Cloud(&AWS);
    pub const AZURE: Cloud = Cloud(&AZURE);
    pub const GCP: Cloud = Cloud(&GCP);
    pub const ORACLE: Cloud = Cloud(&ORACLE);
    pub const CLOUDFLARE: Cloud = Cloud(&CLOUDFLARE);
    pub const DIGITALOCEAN: Cloud = Cloud(&DIGITALOCEAN);
    /// The built-in clouds: every cloud of the range snapshot.
    pub const ALL: [Cloud; 6] = [Self::AWS, Self::AZURE, Self::GCP, Self::ORACLE, Self::CLOUDFLARE, Self::DIGITALOCEAN];

    /// The cloud of an identity (a provider's own cloud).
    pub const fn of(id: &'static CloudId) -> Self {
        Self(id)
    }

    /// The id: `aws`, `azure`, `gcp`, `oracle`, `cloudflare`, `digitalocean`.
    pub fn as_str(self) -> &'static str {
        self.0.id
    }

    /// The built-in cloud of an id; `None` for anything else (`google` is not `gcp`). A provider's own
    /// cloud is found through a [`Clouds`] catalog that holds it.
    pub fn parse(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == id)
    }

    /// How people write it: "AWS", "Google Cloud".
    pub fn display(self) -> &'static str {
        self.0.display
    }

    pub fn table(self) -> &'static CloudTable {
        (self.0.table)()
    }
}

impl PartialEq for Cloud {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Cloud {}

impl std::hash::Hash for Cloud {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.as_str().hash(h);
    }
}

impl PartialOrd for Cloud {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Cloud {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl fmt::Debug for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Cloud {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// A service of a cloud whose names dangle recognises (`S3`, `App Service`). Compared by value; each
/// cloud's file declares its services as constants, which providers name in what they cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Service {
    pub cloud: Cloud,
    /// As people write it (`Elastic Load Balancing`).
    pub name: &'static str,
    /// For a service whose names are keys of a global namespace, what a key is called (`S3 bucket`).
    pub key_noun: Option<&'static str>,
}

impl Service {
    /// The service of `cloud` called `name` ([`Service::name`]): one its table names. How a stored
    /// description finds its services again.
    pub fn find(cloud: Cloud, name: &str) -> Option<Service> {
        cloud.table().all_services().find(|s| s.name == name)
    }

    pub const fn new(cloud: Cloud, name: &'static str) -> Self {
        Self { cloud, name, key_noun: None }
    }
    /// A service whose names carry a key anyone may register (a bucket, a storage account).
    pub const fn keyed(cloud: Cloud, name: &'static str, key_noun: &'static str) -> Self {
        Self { cloud, name, key_noun: Some(key_noun) }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// Where a service name's region sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionAt {
    None,
    /// The label right before the suffix (`vm.eastus.cloudapp.azure.com`).
    LabelBefore,
    /// The label right before the suffix, when it looks like a region (`app.us-east-1.elasticbeanstalk.com`).
    RegionLikeLabelBefore,
}

/// One hostname suffix of a service.
#[derive(Debug, Clone, Copy)]
pub struct SuffixRule {
    pub suffix: &'static str,
    pub service: Service,
    /// Can a third party register a name of this service that nobody holds?
    pub claimable: Claimable,
    /// A dangle provider of this cloud enumerates the service's assets (an unheld name can be judged).
    pub enumerated: bool,
    pub region: RegionAt,
    /// Names of the service are keys of a global namespace (a storage account: `NAME.blob.core.windows.net`):
    /// the first label is the key.
    pub keyed: bool,
}

/// The key a service name carries into its namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    None,
    /// A bucket or account name (`media` of `media.s3.us-west-2.amazonaws.com`).
    Name(String),
    /// A website endpoint without a key (`s3-website-us-east-1.amazonaws.com`), the target of an alias
    /// whose record's own name is the key.
    RecordName,
}

/// What a service hostname is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceMatch {
    pub service: Service,
    pub claimable: Claimable,
    pub enumerated: bool,
    pub key: Key,
    pub region: Option<String>,
    /// A name that encodes an address (`ec2-54-1-2-3.compute-1.amazonaws.com`) is judged as that address.
    pub implied_ip: Option<IpAddr>,
}

/// The keyed service and key a resource id names, if it names one.
pub type ResourceKey = fn(&str) -> Option<(Service, &str)>;

/// Whether a host is one of a cloud's DNS name servers.
pub type NameServerTest = fn(&DnsName) -> bool;

/// Everything dangle knows of one cloud.
#[derive(Debug)]
pub struct CloudTable {
    /// The services its providers cover that no suffix rule names (those whose names sit inside a
    /// longer name, like `amazonaws.com`'s).
    pub services: &'static [Service],
    /// The kinds of asset its providers make.
    pub kinds: &'static [AssetKind],
    /// Longest suffix first where they nest.
    pub suffixes: &'static [SuffixRule],
    /// Names the suffix table cannot describe (AWS's `amazonaws.com`, where the service sits inside
    /// the name), tried before the suffixes.
    pub classify: Option<fn(&str) -> Option<ServiceMatch>>,
    /// The cloud's hosted DNS: its name servers, and the service a delegation to them is judged under.
    pub dns: Option<(Service, NameServerTest)>,
    /// The account a resource id of this cloud lies in (an Azure alias record's target), if it is one.
    pub resource_account: Option<fn(&str) -> Option<&str>>,
    /// The keyed service and key a resource id of this cloud names (an S3 bucket's ARN), if it names one.
    pub resource_key: Option<ResourceKey>,
    /// Certificate names every tenant of a service shares: a server presenting one proves nothing.
    pub shared_wildcards: &'static [&'static str],
    /// Services that bind a custom domain only after a TXT record at `PREFIX.<the domain>` proves the
    /// tenant (App Service's `asuid`): with it in our zone, another tenant cannot take the name over.
    pub verification: &'static [(Service, &'static str)],
    /// Claimability of a released address by the snapshot's service group; `range_default` otherwise.
    pub ranges: &'static [(&'static str, Claimable)],
    pub range_default: Claimable,
}

impl CloudTable {
    /// Every service the table names: covered services, suffix rules, its DNS, its verification.
    pub fn all_services(&self) -> impl Iterator<Item = Service> + '_ {
        self.services
            .iter()
            .copied()
            .chain(self.suffixes.iter().map(|r| r.service))
            .chain(self.dns.iter().map(|d| d.0))
            .chain(self.verification.iter().map(|v| v.0))
    }

    /// Whether a third party can obtain an address of one of this cloud's published range groups.
    pub fn range_claimable(&self, service: &str) -> Claimable {
        self.ranges.iter().find(|(s, _)| *s == service).map(|(_, c)| *c).unwrap_or(self.range_default)
    }
}

/// `name` is `suffix` or lies under it, label-wise (`a.b.example.com` ends with `example.com`, `xexample.com` does not).
pub fn ends_with_label(name: &str, suffix: &str) -> bool {
    name == suffix || (name.len() > suffix.len() && name.ends_with(suffix) && name.as_bytes()[name.len() - suffix.len() - 1] == b'.')
}

pub(crate) fn looks_like_region(label: &str) -> bool {
    label.contains('-') && label.bytes().last().is_some_and(|b| b.is_ascii_digit())
}

/// The clouds a judgement or a command knows: the built-in ones and those providers bring. Every
/// question about names, servers and ids asks each table in order (built-in first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clouds(Vec<Cloud>);

impl Default for Clouds {
    fn default() -> Self {
        Self::builtin()
    }
}

impl Clouds {
    /// The built-in clouds ([`Cloud::ALL`]).
    pub fn builtin() -> Self {
        Self(Cloud::ALL.to_vec())
    }

    /// [`Clouds::builtin`], made once: what the free functions of this module ask.
    pub fn builtin_ref() -> &'static Self {
        static BUILTIN: std::sync::LazyLock<Clouds> = std::sync::LazyLock::new(Clouds::builtin);
        &BUILTIN
    }

    /// These clouds and `more` (a cloud already held is not added twice).
    pub fn with(mut self, more: impl IntoIterator<Item = Cloud>) -> Self {
        for c in more {
            if !self.0.contains(&c) {
                self.0.push(c);
            }
        }
        self
    }

    pub fn iter(&self) -> impl Iterator<Item = Cloud> + '_ {
        self.0.iter().copied()
    }

    /// The cloud of an id.
    pub fn parse(&self, id: &str) -> Option<Cloud> {
        self.iter().find(|c| c.as_str() == id)
    }

    /// The kind of asset called `name` in some table, else a kind kept by name.
    pub fn kind(&self, name: &str) -> AssetKind {
        let low = name.trim().to_ascii_lowercase().replace('-', "_");
        const BUILT_IN: &[AssetKind] = &[AssetKind::STATIC];
        let known = self.iter().flat_map(|c| c.table().kinds).chain(BUILT_IN).find(|k| k.as_str() == low);
        known.cloned().unwrap_or_else(|| AssetKind::Other(low.into()))
    }

    /// Classifies a hostname by every cloud's table; `None` when it is no known cloud service name.
    pub fn classify(&self, name: &DnsName) -> Option<ServiceMatch> {
        let n = name.as_str();
        if let Some(m) = self.iter().find_map(|c| c.table().classify.and_then(|f| f(n))) {
            return Some(m);
        }
        self.iter().find_map(|c| c.table().suffixes.iter().find_map(|r| by_suffix(n, r)))
    }

    /// The hosted DNS service whose name server this is, if any.
    pub fn nameserver(&self, name: &DnsName) -> Option<Service> {
        self.iter().find_map(|c| c.table().dns.filter(|(_, is)| is(name)).map(|(s, _)| s))
    }

    /// The cloud and account of a resource id (`/subscriptions/SUB/…` is Azure's, in subscription SUB).
    pub fn resource_account<'i>(&self, id: &'i str) -> Option<(Cloud, &'i str)> {
        self.iter().find_map(|c| c.table().resource_account.and_then(|f| f(id)).map(|a| (c, a)))
    }

    /// The keyed service and key a resource id names (`arn:aws:s3:::media` is S3 bucket `media`).
    pub fn resource_key<'i>(&self, id: &'i str) -> Option<(Service, &'i str)> {
        self.iter().find_map(|c| c.table().resource_key.and_then(|f| f(id)))
    }

    /// Every cloud's verification TXT prefixes.
    pub fn verification_prefixes(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.iter().flat_map(|c| c.table().verification.iter().map(|(_, p)| *p))
    }

    /// Whether a certificate name is a wildcard that every tenant of some cloud service shares.
    pub fn is_shared_wildcard(&self, san: &str) -> bool {
        self.iter().any(|c| c.table().shared_wildcards.contains(&san)) || others::SAAS_SHARED_WILDCARDS.contains(&san)
    }
}

/// What `n` is by one suffix rule, if it lies under its suffix.
fn by_suffix(n: &str, r: &SuffixRule) -> Option<ServiceMatch> {
    if !(ends_with_label(n, r.suffix) && n.len() > r.suffix.len()) {
        return None;
    }
    let head = &n[..n.len() - r.suffix.len() - 1];
    let region = match r.region {
        RegionAt::None => None,
        RegionAt::LabelBefore => head.rsplit_once('.').map(|(_, l)| l.to_string()),
        RegionAt::RegionLikeLabelBefore => head.rsplit_once('.').map(|(_, l)| l).filter(|l| looks_like_region(l)).map(str::to_string),
    };
    // A keyed name's key is its first label (`acct` of `acct.z13.web.core.windows.net`).
    let key = if r.keyed { Key::Name(head.split('.').next().unwrap_or(head).to_string()) } else { Key::None };
    Some(ServiceMatch { service: r.service, claimable: r.claimable, enumerated: r.enumerated, key, region, implied_ip: None })
}

/// [`Clouds::classify`] by the built-in clouds.
pub fn classify(name: &DnsName) -> Option<ServiceMatch> {
    Clouds::builtin_ref().classify(name)
}

/// [`Clouds::nameserver`] by the built-in clouds.
pub fn nameserver(name: &DnsName) -> Option<Service> {
    Clouds::builtin_ref().nameserver(name)
}

/// [`Clouds::resource_account`] by the built-in clouds.
pub fn resource_account(id: &str) -> Option<(Cloud, &str)> {
    Clouds::builtin_ref().resource_account(id)
}

/// [`Clouds::resource_key`] by the built-in clouds.
pub fn resource_key(id: &str) -> Option<(Service, &str)> {
    Clouds::builtin_ref().resource_key(id)
}

/// The TXT prefix with which `service` verifies a custom domain, if it does.
pub fn verification_prefix(service: Service) -> Option<&'static str> {
    service.cloud.table().verification.iter().find(|(s, _)| *s == service).map(|(_, p)| *p)
}

/// [`Clouds::is_shared_wildcard`] by the built-in clouds.
pub fn is_shared_wildcard(san: &str) -> bool {
    Clouds::builtin_ref().is_shared_wildcard(san)
}

#[cfg(test)]
mod tests;

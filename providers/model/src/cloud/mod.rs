//! What dangle knows about each cloud, declared as data: its id (the key of the cloud range snapshot),
//! its services' hostname suffixes and whether a third party can claim such a name, its name servers,
//! the wildcard certificates it shares among tenants, and the claimability of its published ranges.
//! One table per cloud ([`Cloud::table`]); the engine reads the tables and never names a cloud.
//!
//! Adding a cloud: a variant here, a file with its [`CloudTable`], and a line in the range snapshot.

use std::fmt;
use std::net::IpAddr;

use serde::Serialize;

use crate::{Claimable, DnsName};

mod aws;
mod azure;
mod others;

pub use aws::{CLOUDFRONT, EC2, ELB, ROUTE53, S3};
pub use azure::{API_MANAGEMENT, APP_SERVICE, AZURE_DNS, BLOB, CDN, CONTAINER_APPS, CONTAINER_INSTANCES, FRONT_DOOR, PUBLIC_IP_LABEL, STATIC_WEBSITE, TRAFFIC_MANAGER};

/// A cloud whose address space and service names dangle knows. Its id ([`Cloud::as_str`]) is the
/// key of the cloud range snapshot; a test holds the two together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Cloud {
    Aws,
    Azure,
    Gcp,
    Oracle,
    Cloudflare,
    DigitalOcean,
}

impl Cloud {
    pub const ALL: [Cloud; 6] = [Self::Aws, Self::Azure, Self::Gcp, Self::Oracle, Self::Cloudflare, Self::DigitalOcean];

    /// The id: `aws`, `azure`, `gcp`, `oracle`, `cloudflare`, `digitalocean`.
    pub fn as_str(self) -> &'static str {
        self.table().id
    }

    /// The cloud of an id; `None` for anything else (`google` is not `gcp`).
    pub fn parse(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == id)
    }

    /// How people write it: "AWS", "Google Cloud".
    pub fn display(self) -> &'static str {
        self.table().display
    }

    pub fn table(self) -> &'static CloudTable {
        match self {
            Self::Aws => &aws::TABLE,
            Self::Azure => &azure::TABLE,
            Self::Gcp => &others::GCP,
            Self::Oracle => &others::ORACLE,
            Self::Cloudflare => &others::CLOUDFLARE,
            Self::DigitalOcean => &others::DIGITALOCEAN,
        }
    }
}

impl fmt::Display for Cloud {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
    /// The service of `cloud` called `name` ([`Service::name`]): one a provider may cover, or one the
    /// cloud's table names. How a stored description finds its services again.
    pub fn find(cloud: Cloud, name: &str) -> Option<Service> {
        const COVERED: &[Service] = &[
            aws::ELB,
            aws::EC2,
            aws::S3,
            aws::CLOUDFRONT,
            aws::ROUTE53,
            azure::APP_SERVICE,
            azure::PUBLIC_IP_LABEL,
            azure::TRAFFIC_MANAGER,
            azure::BLOB,
            azure::STATIC_WEBSITE,
            azure::CDN,
            azure::FRONT_DOOR,
            azure::AZURE_DNS,
            azure::API_MANAGEMENT,
            azure::CONTAINER_INSTANCES,
            azure::CONTAINER_APPS,
        ];
        let t = cloud.table();
        COVERED
            .iter()
            .copied()
            .chain(t.suffixes.iter().map(|r| r.service))
            .chain(t.dns.iter().map(|d| d.0))
            .chain(t.verification.iter().map(|v| v.0))
            .find(|s| s.cloud == cloud && s.name == name)
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
    pub cloud: Cloud,
    pub id: &'static str,
    pub display: &'static str,
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

/// Classifies a hostname by every cloud's table; `None` when it is no known cloud service name.
pub fn classify(name: &DnsName) -> Option<ServiceMatch> {
    let n = name.as_str();
    for c in Cloud::ALL {
        if let Some(m) = c.table().classify.and_then(|f| f(n)) {
            return Some(m);
        }
    }
    for c in Cloud::ALL {
        for r in c.table().suffixes {
            if ends_with_label(n, r.suffix) && n.len() > r.suffix.len() {
                let head = &n[..n.len() - r.suffix.len() - 1];
                let region = match r.region {
                    RegionAt::None => None,
                    RegionAt::LabelBefore => head.rsplit_once('.').map(|(_, l)| l.to_string()),
                    RegionAt::RegionLikeLabelBefore => head.rsplit_once('.').map(|(_, l)| l).filter(|l| looks_like_region(l)).map(str::to_string),
                };
                // A keyed name's key is its first label (`acct` of `acct.z13.web.core.windows.net`).
                let key = if r.keyed { Key::Name(head.split('.').next().unwrap_or(head).to_string()) } else { Key::None };
                return Some(ServiceMatch { service: r.service, claimable: r.claimable, enumerated: r.enumerated, key, region, implied_ip: None });
            }
        }
    }
    None
}

/// The hosted DNS service whose name server this is, if any.
pub fn nameserver(name: &DnsName) -> Option<Service> {
    Cloud::ALL.into_iter().find_map(|c| c.table().dns.filter(|(_, is)| is(name)).map(|(s, _)| s))
}

/// The cloud and account of a resource id (`/subscriptions/SUB/…` is Azure's, in subscription SUB).
pub fn resource_account(id: &str) -> Option<(Cloud, &str)> {
    Cloud::ALL.into_iter().find_map(|c| c.table().resource_account.and_then(|f| f(id)).map(|a| (c, a)))
}

/// The keyed service and key a resource id names (`arn:aws:s3:::media` is S3 bucket `media`).
pub fn resource_key(id: &str) -> Option<(Service, &str)> {
    Cloud::ALL.into_iter().find_map(|c| c.table().resource_key.and_then(|f| f(id)))
}

/// The TXT prefix with which `service` verifies a custom domain, if it does.
pub fn verification_prefix(service: Service) -> Option<&'static str> {
    service.cloud.table().verification.iter().find(|(s, _)| *s == service).map(|(_, p)| *p)
}

/// Every cloud's verification TXT prefixes.
pub fn verification_prefixes() -> impl Iterator<Item = &'static str> {
    Cloud::ALL.into_iter().flat_map(|c| c.table().verification.iter().map(|(_, p)| *p))
}

/// Whether a certificate name is a wildcard that every tenant of some cloud service shares.
pub fn is_shared_wildcard(san: &str) -> bool {
    Cloud::ALL.into_iter().any(|c| c.table().shared_wildcards.contains(&san)) || others::SAAS_SHARED_WILDCARDS.contains(&san)
}

#[cfg(test)]
mod tests;

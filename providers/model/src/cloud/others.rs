//! Clouds dangle judges by their published ranges and a few service names, with no provider yet.

use super::{ends_with_label, Cloud, CloudTable, RegionAt, Service, SuffixRule};
use crate::Claimable::{No, Unknown, Yes};
use crate::DnsName;

/// Wildcards of SaaS platforms shared by every customer (no cloud of the range snapshot).
pub(super) const SAAS_SHARED_WILDCARDS: &[&str] = &["*.herokuapp.com", "*.github.io"];

pub(super) static GCP: CloudTable = CloudTable {
    services: &[],
    kinds: &[],
    suffixes: &[
        SuffixRule { suffix: "storage.googleapis.com", service: Service::new(Cloud::GCP, "Cloud Storage"), claimable: Unknown, enumerated: false, region: RegionAt::None, keyed: false },
        SuffixRule { suffix: "appspot.com", service: Service::new(Cloud::GCP, "App Engine"), claimable: No, enumerated: false, region: RegionAt::None, keyed: false },
    ],
    classify: None,
    dns: Some((Service::new(Cloud::GCP, "Cloud DNS"), |n: &DnsName| {
        ends_with_label(n.as_str(), "googledomains.com") && n.labels().next().is_some_and(|l| l.starts_with("ns-cloud"))
    })),
    resource_account: None,
    resource_key: None,
    verification: &[],
    shared_wildcards: &[],
    ranges: &[],
    range_default: Yes,
};

pub(super) static ORACLE: CloudTable = CloudTable {
    services: &[],
    kinds: &[],
    suffixes: &[],
    classify: None,
    dns: None,
    resource_account: None,
    resource_key: None,
    verification: &[],
    shared_wildcards: &[],
    ranges: &[],
    range_default: Yes,
};

pub(super) static CLOUDFLARE: CloudTable = CloudTable {
    services: &[],
    kinds: &[],
    suffixes: &[],
    classify: None,
    dns: Some((Service::new(Cloud::CLOUDFLARE, "Cloudflare DNS"), |n: &DnsName| ends_with_label(n.as_str(), "ns.cloudflare.com"))),
    resource_account: None,
    resource_key: None,
    verification: &[],
    shared_wildcards: &[],
    ranges: &[],
    range_default: No,
};

pub(super) static DIGITALOCEAN: CloudTable = CloudTable {
    services: &[],
    kinds: &[],
    suffixes: &[SuffixRule {
        suffix: "ondigitalocean.app",
        service: Service::new(Cloud::DIGITALOCEAN, "App Platform"),
        claimable: No,
        enumerated: false,
        region: RegionAt::None,
        keyed: false,
    }],
    classify: None,
    dns: Some((Service::new(Cloud::DIGITALOCEAN, "DigitalOcean DNS"), |n: &DnsName| {
        matches!(n.as_str(), "ns1.digitalocean.com" | "ns2.digitalocean.com" | "ns3.digitalocean.com")
    })),
    resource_account: None,
    resource_key: None,
    verification: &[],
    shared_wildcards: &[],
    ranges: &[],
    range_default: Yes,
};

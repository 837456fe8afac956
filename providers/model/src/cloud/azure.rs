//! Azure: every service name is a suffix; storage account names are one global namespace.

use super::{Cloud, CloudTable, RegionAt, Service, ServiceMatch, SuffixRule};
use crate::Claimable::{self, No, Unknown, Yes};
use crate::DnsName;

pub const APP_SERVICE: Service = Service::new(Cloud::AZURE, "App Service");
pub const PUBLIC_IP_LABEL: Service = Service::new(Cloud::AZURE, "public IP DNS label");
pub const TRAFFIC_MANAGER: Service = Service::new(Cloud::AZURE, "Traffic Manager");
pub const BLOB: Service = Service::keyed(Cloud::AZURE, "Storage (blob)", "storage account");
pub const STATIC_WEBSITE: Service = Service::keyed(Cloud::AZURE, "Storage (static website)", "storage account");
pub const CDN: Service = Service::new(Cloud::AZURE, "CDN");
pub const FRONT_DOOR: Service = Service::new(Cloud::AZURE, "Front Door");
pub const AZURE_DNS: Service = Service::new(Cloud::AZURE, "Azure DNS");
pub const API_MANAGEMENT: Service = Service::new(Cloud::AZURE, "API Management");
pub const CONTAINER_INSTANCES: Service = Service::new(Cloud::AZURE, "Container Instances");
pub const CONTAINER_APPS: Service = Service::new(Cloud::AZURE, "Container Apps");

const fn known(suffix: &'static str, service: Service, claimable: Claimable) -> SuffixRule {
    SuffixRule { suffix, service, claimable, enumerated: true, region: RegionAt::None, keyed: service.key_noun.is_some() }
}

const fn other(suffix: &'static str, name: &'static str, claimable: Claimable) -> SuffixRule {
    SuffixRule { suffix, service: Service::new(Cloud::AZURE, name), claimable, enumerated: false, region: RegionAt::None, keyed: false }
}

/// The kinds of asset Azure providers make.
pub mod kinds {
    use super::BLOB;
    use crate::Claimable::{No, Unknown, Yes};
    use crate::{AssetKind, KindSpec};

    pub const PUBLIC_IP: AssetKind = AssetKind::of(&KindSpec::new("azure_public_ip", Yes, Yes));
    pub const APP_SERVICE: AssetKind = AssetKind::of(&KindSpec::new("app_service", Unknown, Yes));
    pub const FRONT_DOOR: AssetKind = AssetKind::of(&KindSpec::new("front_door", Unknown, Yes));
    pub const TRAFFIC_MANAGER: AssetKind = AssetKind::of(&KindSpec::new("traffic_manager", Unknown, Yes));
    pub const CDN_ENDPOINT: AssetKind = AssetKind::of(&KindSpec::new("cdn_endpoint", Unknown, Yes));
    pub const STORAGE_ACCOUNT: AssetKind = AssetKind::of(&KindSpec::keyed("storage_account", BLOB));
    pub const DNS_ZONE: AssetKind = AssetKind::of(&KindSpec::zone("azure_dns_zone"));
    pub const PUBLIC_IP_PREFIX: AssetKind = AssetKind::of(&KindSpec::new("azure_public_ip_prefix", Yes, Unknown));
    pub const CONTAINER_GROUP: AssetKind = AssetKind::of(&KindSpec::new("container_group", Yes, Yes));
    pub const API_MANAGEMENT: AssetKind = AssetKind::of(&KindSpec::new("api_management", Yes, Yes));
    /// The environment's random label is part of every app's name.
    pub const CONTAINER_APP: AssetKind = AssetKind::of(&KindSpec::new("container_app", Yes, No));
    pub(super) const ALL: &[AssetKind] =
        &[PUBLIC_IP, APP_SERVICE, FRONT_DOOR, TRAFFIC_MANAGER, CDN_ENDPOINT, STORAGE_ACCOUNT, DNS_ZONE, PUBLIC_IP_PREFIX, CONTAINER_GROUP, API_MANAGEMENT, CONTAINER_APP];
}

pub(super) static TABLE: CloudTable = CloudTable {
    services: &[APP_SERVICE, PUBLIC_IP_LABEL, TRAFFIC_MANAGER, BLOB, STATIC_WEBSITE, CDN, FRONT_DOOR, AZURE_DNS, API_MANAGEMENT, CONTAINER_INSTANCES, CONTAINER_APPS],
    kinds: kinds::ALL,
    suffixes: &[
        known("azurewebsites.net", APP_SERVICE, Yes),
        SuffixRule { suffix: "cloudapp.azure.com", service: PUBLIC_IP_LABEL, claimable: Yes, enumerated: true, region: RegionAt::LabelBefore, keyed: false },
        other("cloudapp.net", "Cloud Services (classic)", Yes),
        known("trafficmanager.net", TRAFFIC_MANAGER, Yes),
        known("blob.core.windows.net", BLOB, Yes),
        known("web.core.windows.net", STATIC_WEBSITE, Yes),
        known("azureedge.net", CDN, Yes),
        known("azurefd.net", FRONT_DOOR, Yes),
        known("azure-api.net", API_MANAGEMENT, Yes),
        known("azurecontainer.io", CONTAINER_INSTANCES, Yes),
        // `app.<environment's random name>.<region>.azurecontainerapps.io`: nobody can pick the
        // environment's part.
        known("azurecontainerapps.io", CONTAINER_APPS, No),
        other("azurestaticapps.net", "Static Web Apps", No),
        other("database.windows.net", "SQL Database", Yes),
        other("redis.cache.windows.net", "Cache for Redis", Yes),
        other("search.windows.net", "Cognitive Search", Yes),
        other("servicebus.windows.net", "Service Bus", Yes),
        other("azurehdinsight.net", "HDInsight", Yes),
        other("azurecr.io", "Container Registry", Yes),
    ],
    classify: Some(classify),
    dns: Some((AZURE_DNS, is_azure_dns_server)),
    resource_account: Some(subscription_of),
    resource_key: None,
    verification: &[(APP_SERVICE, "asuid")],
    shared_wildcards: &["*.azurewebsites.net", "*.blob.core.windows.net", "*.azureedge.net", "*.azurefd.net", "*.trafficmanager.net"],
    ranges: &[("AzureCloud", Yes)],
    range_default: Unknown,
};

/// Names Azure makes unique with a hash nobody picks, so nobody can claim them once gone: Front Door
/// Standard/Premium endpoints (`NAME-HASH.z01.azurefd.net`) and App Service's unique default host
/// names (`NAME-HASH.REGION-01.azurewebsites.net`).
fn classify(name: &str) -> Option<ServiceMatch> {
    let hashed = |label: &str| {
        label.rsplit_once('-').is_some_and(|(n, h)| !n.is_empty() && h.len() >= 12 && h.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
    };
    let shard = |label: &str, head: &[u8]| {
        let b = label.as_bytes();
        b.len() == 3 && head.contains(&b[0]) && b[1..].iter().all(u8::is_ascii_digit)
    };
    let labels: Vec<&str> = name.split('.').collect();
    let n = labels.len();
    let (service, ok) = if name.ends_with(".azurefd.net") && n == 4 {
        (FRONT_DOOR, shard(labels[1], b"za") && hashed(labels[0]))
    } else if name.ends_with(".azurewebsites.net") && n == 4 {
        let region = labels[1];
        let regional = region.rsplit_once('-').is_some_and(|(r, d)| !r.is_empty() && d.len() == 2 && d.bytes().all(|b| b.is_ascii_digit()));
        (APP_SERVICE, regional && hashed(labels[0]))
    } else {
        return None;
    };
    ok.then_some(ServiceMatch { service, claimable: No, enumerated: true, key: super::Key::None, region: None, implied_ip: None })
}

fn is_azure_dns_server(name: &DnsName) -> bool {
    let labels: Vec<&str> = name.labels().collect();
    labels.len() >= 3 && labels[1] == "azure-dns"
}

/// `/subscriptions/SUB/resourceGroups/…` → `SUB`.
fn subscription_of(id: &str) -> Option<&str> {
    let mut parts = id.split('/').filter(|p| !p.is_empty());
    parts.next().filter(|p| p.eq_ignore_ascii_case("subscriptions"))?;
    parts.next()
}

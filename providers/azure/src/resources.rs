//! The Azure resources that hold addresses or names, as assets: what each resource type answers at,
//! read from the JSON of its list operation (api-versions pinned in [`crate::api`]). Each type is one
//! [`Type`]: where it is listed, what a failed list hides, and how to read one resource; a few have
//! children (a site's slots, a CDN profile's endpoints and custom domains) listed under each parent.

use dangle_model::Part;
use dangle_model::cloud::{API_MANAGEMENT, APP_SERVICE, BLOB, CDN, CONTAINER_APPS, CONTAINER_INSTANCES, FRONT_DOOR, PUBLIC_IP_LABEL, STATIC_WEBSITE, TRAFFIC_MANAGER};
use dangle_model::{AssetKind, DnsName, Namespace};
use ipnet::IpNet;
use serde_json::Value;

/// What one resource answers at.
#[derive(Debug, Default)]
pub struct Held {
    pub ips: Vec<IpNet>,
    pub hosts: Vec<DnsName>,
}

impl Held {
    fn ip(&mut self, v: Option<&Value>) {
        if let Some(ip) = v.and_then(Value::as_str).and_then(|s| s.parse::<std::net::IpAddr>().ok()) {
            self.ips.push(dangle_model::host_net(ip));
        }
    }

    fn net(&mut self, v: Option<&Value>) {
        if let Some(n) = v.and_then(Value::as_str).and_then(|s| s.parse::<IpNet>().ok()) {
            self.ips.push(n.trunc());
        }
    }

    fn host(&mut self, v: Option<&Value>) {
        if let Some(h) = v.and_then(Value::as_str).and_then(host_part) {
            if let Ok(n) = DnsName::parse(h) {
                if !self.hosts.contains(&n) {
                    self.hosts.push(n);
                }
            }
        }
    }

    fn hosts(&mut self, v: Option<&Value>) {
        for h in v.and_then(Value::as_array).into_iter().flatten() {
            self.host(Some(h));
        }
    }
}

/// `https://acct.blob.core.windows.net/` → `acct.blob.core.windows.net`; a bare name as it is.
fn host_part(s: &str) -> Option<&str> {
    let rest = s.split_once("://").map_or(s, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next()?;
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = match host.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    (!host.is_empty()).then_some(host)
}

/// One resource type.
pub struct Type {
    /// For gaps and logs: `network`, `web`, `cdn`, ….
    pub service: Part,
    pub what: &'static str,
    /// The list under `/subscriptions/{id}`.
    pub path: &'static str,
    pub api: &'static str,
    pub kind: AssetKind,
    /// What a failed list of this type can hide.
    pub hides: &'static [Namespace],
    pub read: fn(&Value, &mut Held),
    /// Lists under each resource (`{id}/slots`), read with the same `read`, each child an asset.
    pub children: &'static [(&'static str, &'static str)],
}

fn props(v: &Value) -> &Value {
    v.get("properties").unwrap_or(&Value::Null)
}

fn public_ip(v: &Value, h: &mut Held) {
    let p = props(v);
    h.ip(p.get("ipAddress"));
    h.host(p.pointer("/dnsSettings/fqdn"));
}

fn public_ip_prefix(v: &Value, h: &mut Held) {
    h.net(props(v).get("ipPrefix"));
}

fn site(v: &Value, h: &mut Held) {
    let p = props(v);
    h.host(p.get("defaultHostName"));
    h.hosts(p.get("enabledHostNames"));
    h.hosts(p.get("hostNames"));
}

fn traffic_manager(v: &Value, h: &mut Held) {
    h.host(props(v).pointer("/dnsConfig/fqdn"));
}

fn cdn_endpoint(v: &Value, h: &mut Held) {
    h.host(props(v).get("hostName"));
    for d in props(v).get("customDomains").and_then(Value::as_array).into_iter().flatten() {
        h.host(props(d).get("hostName"));
    }
}

fn front_door(v: &Value, h: &mut Held) {
    let p = props(v);
    h.host(p.get("cname"));
    for f in p.get("frontendEndpoints").and_then(Value::as_array).into_iter().flatten() {
        h.host(props(f).get("hostName"));
    }
}

fn storage(v: &Value, h: &mut Held) {
    let p = props(v);
    for ep in ["primaryEndpoints", "secondaryEndpoints"] {
        if let Some(map) = p.get(ep).and_then(Value::as_object) {
            for (k, url) in map {
                // internetEndpoints / microsoftEndpoints are nested maps of the same hosts.
                if k != "internetEndpoints" && k != "microsoftEndpoints" {
                    h.host(Some(url));
                }
            }
        }
    }
}

fn container_group(v: &Value, h: &mut Held) {
    let p = props(v);
    h.ip(p.pointer("/ipAddress/ip"));
    h.host(p.pointer("/ipAddress/fqdn"));
}

fn api_management(v: &Value, h: &mut Held) {
    let p = props(v);
    for key in ["gatewayUrl", "gatewayRegionalUrl", "portalUrl", "developerPortalUrl", "managementApiUrl", "scmUrl"] {
        h.host(p.get(key));
    }
    for c in p.get("hostnameConfigurations").and_then(Value::as_array).into_iter().flatten() {
        h.host(c.get("hostName"));
    }
    for ip in p.get("publicIPAddresses").and_then(Value::as_array).into_iter().flatten() {
        h.ip(Some(ip));
    }
}

fn container_app(v: &Value, h: &mut Held) {
    let p = props(v);
    h.host(p.pointer("/configuration/ingress/fqdn"));
    for d in p.pointer("/configuration/ingress/customDomains").and_then(Value::as_array).into_iter().flatten() {
        h.host(d.get("name"));
    }
}

fn managed_environment(v: &Value, h: &mut Held) {
    let p = props(v);
    h.ip(p.get("staticIp"));
    h.host(p.get("defaultDomain"));
}

use Namespace::{Addresses, Names, Resources};

/// Every resource type read, in the order they are listed.
pub const TYPES: &[Type] = &[
    Type {
        service: Part::new("network"),
        what: "public IP addresses",
        path: "providers/Microsoft.Network/publicIPAddresses",
        api: crate::api::NETWORK,
        kind: dangle_model::cloud::kinds::azure::PUBLIC_IP,
        // Alias record sets point at public IPs, Traffic Manager profiles and CDN / Front Door
        // endpoints by id: a failed list of any of them hides those ids.
        hides: &[Addresses, Names(PUBLIC_IP_LABEL), Resources],
        read: public_ip,
        children: &[],
    },
    Type {
        service: Part::new("network"),
        what: "public IP prefixes",
        path: "providers/Microsoft.Network/publicIPPrefixes",
        api: crate::api::NETWORK,
        kind: dangle_model::cloud::kinds::azure::PUBLIC_IP_PREFIX,
        hides: &[Addresses],
        read: public_ip_prefix,
        children: &[],
    },
    Type {
        service: Part::new("web"),
        what: "App Service sites",
        path: "providers/Microsoft.Web/sites",
        api: crate::api::WEB,
        kind: dangle_model::cloud::kinds::azure::APP_SERVICE,
        hides: &[Names(APP_SERVICE)],
        read: site,
        children: &[("slots", crate::api::WEB)],
    },
    Type {
        service: Part::new("trafficmanager"),
        what: "Traffic Manager profiles",
        path: "providers/Microsoft.Network/trafficmanagerprofiles",
        api: crate::api::TRAFFIC_MANAGER,
        kind: dangle_model::cloud::kinds::azure::TRAFFIC_MANAGER,
        hides: &[Names(TRAFFIC_MANAGER), Resources],
        read: traffic_manager,
        children: &[],
    },
    Type {
        service: Part::new("cdn"),
        what: "CDN and Front Door profiles",
        path: "providers/Microsoft.Cdn/profiles",
        api: crate::api::CDN,
        kind: dangle_model::cloud::kinds::azure::CDN_ENDPOINT,
        hides: &[Names(CDN), Names(FRONT_DOOR), Resources],
        // The profile holds no name itself; its endpoints (classic CDN) and AFD endpoints and custom
        // domains (Front Door Standard/Premium) do.
        read: |_, _| {},
        children: &[("endpoints", crate::api::CDN), ("afdEndpoints", crate::api::CDN), ("customDomains", crate::api::CDN)],
    },
    Type {
        service: Part::new("frontdoor"),
        what: "Front Door (classic) profiles",
        path: "providers/Microsoft.Network/frontDoors",
        api: crate::api::FRONT_DOOR,
        kind: dangle_model::cloud::kinds::azure::FRONT_DOOR,
        hides: &[Names(FRONT_DOOR)],
        read: front_door,
        children: &[],
    },
    Type {
        service: Part::new("storage"),
        what: "storage accounts",
        path: "providers/Microsoft.Storage/storageAccounts",
        api: crate::api::STORAGE,
        kind: dangle_model::cloud::kinds::azure::STORAGE_ACCOUNT,
        hides: &[Names(BLOB), Names(STATIC_WEBSITE)],
        read: storage,
        children: &[],
    },
    Type {
        service: Part::new("containerinstance"),
        what: "container groups",
        path: "providers/Microsoft.ContainerInstance/containerGroups",
        api: crate::api::CONTAINER_INSTANCE,
        kind: dangle_model::cloud::kinds::azure::CONTAINER_GROUP,
        hides: &[Addresses, Names(CONTAINER_INSTANCES)],
        read: container_group,
        children: &[],
    },
    Type {
        service: Part::new("apimanagement"),
        what: "API Management services",
        path: "providers/Microsoft.ApiManagement/service",
        api: crate::api::API_MANAGEMENT,
        kind: dangle_model::cloud::kinds::azure::API_MANAGEMENT,
        hides: &[Addresses, Names(API_MANAGEMENT)],
        read: api_management,
        children: &[],
    },
    Type {
        service: Part::new("containerapps"),
        what: "container apps",
        path: "providers/Microsoft.App/containerApps",
        api: crate::api::CONTAINER_APPS,
        kind: dangle_model::cloud::kinds::azure::CONTAINER_APP,
        hides: &[Names(CONTAINER_APPS)],
        read: container_app,
        children: &[],
    },
    Type {
        service: Part::new("containerapps"),
        what: "container app environments",
        path: "providers/Microsoft.App/managedEnvironments",
        api: crate::api::CONTAINER_APPS,
        kind: dangle_model::cloud::kinds::azure::CONTAINER_APP,
        hides: &[Addresses, Names(CONTAINER_APPS)],
        read: managed_environment,
        children: &[],
    },
];

/// How a child of a `parent` type is read: CDN endpoints carry `hostName`, sites' slots are sites.
pub fn read_child(parent: &Type, child: &str, v: &Value, h: &mut Held) {
    match (parent.service.as_str(), child) {
        ("cdn", _) => cdn_endpoint(v, h),
        _ => (parent.read)(v, h),
    }
}

/// The kind of a child asset: a Standard/Premium profile's AFD endpoints and custom domains are Front
/// Door's; everything else is its parent's kind.
pub fn child_kind(parent: &Type, child: &str) -> AssetKind {
    match (parent.service.as_str(), child) {
        ("cdn", "afdEndpoints" | "customDomains") => dangle_model::cloud::kinds::azure::FRONT_DOOR,
        _ => parent.kind.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_come_out_of_urls() {
        for (s, want) in [
            ("https://acct.blob.core.windows.net/", Some("acct.blob.core.windows.net")),
            ("https://apim.azure-api.net", Some("apim.azure-api.net")),
            ("site.azurewebsites.net", Some("site.azurewebsites.net")),
            ("https://u:p@h.example:8443/x?y", Some("h.example")),
            ("https://", None),
        ] {
            assert_eq!(host_part(s), want, "{s}");
        }
    }

    #[test]
    fn storage_reads_every_primary_endpoint_once() {
        let v = serde_json::json!({"properties": {"primaryEndpoints": {
            "blob": "https://acct.blob.core.windows.net/", "web": "https://acct.z6.web.core.windows.net/",
            "dfs": "https://acct.dfs.core.windows.net/", "file": "https://acct.file.core.windows.net/",
            "queue": "https://acct.queue.core.windows.net/", "table": "https://acct.table.core.windows.net/",
            "internetEndpoints": {"blob": "https://acct-internetrouting.blob.core.windows.net/"}
        }}});
        let mut h = Held::default();
        storage(&v, &mut h);
        let hosts: Vec<&str> = h.hosts.iter().map(DnsName::as_str).collect();
        assert_eq!(hosts.len(), 6, "{hosts:?}");
        assert!(hosts.contains(&"acct.z6.web.core.windows.net"));
    }
}

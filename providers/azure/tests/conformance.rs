//! The behavioural conformance suite (`dangle::conformance`) on the Azure provider against the local
//! ARM server: two subscriptions, a public IP in the AzureCloud range, an App Service site, a storage
//! account and a Traffic Manager profile in each, the suite's record sets in an Azure DNS zone, and the
//! failures a subscription or a resource provider can have.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use dangle::conformance::{assert_fixture, Failure, Fixture, Pair, Seed, Slot};
use dangle_azure::AzureSource;
use dangle_model::cloud::{APP_SERVICE, BLOB, PUBLIC_IP_LABEL, STATIC_WEBSITE, TRAFFIC_MANAGER};
use dangle_model::{BoxFuture, DnsName, Hides, Namespace, Provider, Target};
use serde_json::{json, Value};
use dangle_azure::testing::{ArmServer, FixedToken, Route};

const SUBS: [&str; 2] = ["aaaaaaaa-0000-0000-0000-000000000001", "aaaaaaaa-0000-0000-0000-000000000002"];
/// The provider reads every list this many items a page: the suite seeds one page more.
const PAGE: usize = 10;


struct Azure {
    arm: ArmServer,
    healthy: HashMap<String, Route>,
}

fn host(s: &str) -> Target {
    Target::Host(DnsName::parse(s).unwrap())
}

fn pair(ns: Namespace, held: Target, free: Target) -> Pair {
    Pair { held: Slot { namespace: ns, region: None, target: held }, free: Slot { namespace: ns, region: None, target: free } }
}

fn rg(sub: &str) -> String {
    format!("/subscriptions/{sub}/resourceGroups/conf/providers")
}

impl Azure {
    fn list(&self, sub: &str, path: &str, items: Vec<Value>) {
        self.arm.route(&format!("/subscriptions/{sub}/{path}"), Route::List(items));
    }
}

impl Fixture for Azure {
    fn kind(&self) -> &str {
        "azure"
    }
    fn page_size(&self) -> Option<usize> {
        Some(PAGE)
    }
    fn seed_assets(&mut self) -> BoxFuture<'_, Result<Vec<Pair>, String>> {
        Box::pin(async move {
            let mut pairs = Vec::new();
            for (i, sub) in SUBS.iter().enumerate() {
                self.arm.empty_subscription(sub);
                let rg = rg(sub);
                let ip = |s: String| Target::Ip(s.parse().unwrap());
                self.list(sub, "providers/Microsoft.Network/publicIPAddresses", vec![json!({
                    "id": format!("{rg}/Microsoft.Network/publicIPAddresses/ip-{i}"), "location": "westeurope",
                    "properties": {"ipAddress": format!("4.144.1.{}", 10 + i), "dnsSettings": {"fqdn": format!("conf-{i}.westeurope.cloudapp.azure.com")}},
                })]);
                pairs.push(pair(Namespace::Addresses, ip(format!("4.144.1.{}", 10 + i)), ip(format!("4.144.1.{}", 100 + i))));
                self.list(sub, "providers/Microsoft.Web/sites", vec![json!({
                    "id": format!("{rg}/Microsoft.Web/sites/conf-app-{i}"), "location": "westeurope",
                    "properties": {"defaultHostName": format!("conf-app-{i}.azurewebsites.net"), "enabledHostNames": [format!("conf-app-{i}.azurewebsites.net")]},
                })]);
                self.arm.route(&format!("{rg}/Microsoft.Web/sites/conf-app-{i}/slots"), Route::List(vec![]));
                pairs.push(pair(Namespace::Names(APP_SERVICE), host(&format!("conf-app-{i}.azurewebsites.net")), host(&format!("gone-app-{i}.azurewebsites.net"))));
                self.list(sub, "providers/Microsoft.Storage/storageAccounts", vec![json!({
                    "id": format!("{rg}/Microsoft.Storage/storageAccounts/confacct{i}"), "location": "westeurope",
                    "properties": {"primaryEndpoints": {"blob": format!("https://confacct{i}.blob.core.windows.net/")}},
                })]);
                pairs.push(pair(Namespace::Names(BLOB), host(&format!("confacct{i}.blob.core.windows.net")), host(&format!("goneacct{i}.blob.core.windows.net"))));
                self.list(sub, "providers/Microsoft.Network/trafficmanagerprofiles", vec![json!({
                    "id": format!("{rg}/Microsoft.Network/trafficmanagerprofiles/conf-tm-{i}"), "location": "global",
                    "properties": {"dnsConfig": {"relativeName": format!("conf-tm-{i}"), "fqdn": format!("conf-tm-{i}.trafficmanager.net")}},
                })]);
                pairs.push(pair(Namespace::Names(TRAFFIC_MANAGER), host(&format!("conf-tm-{i}.trafficmanager.net")), host(&format!("gone-tm-{i}.trafficmanager.net"))));
            }
            self.healthy = self.arm.routes();
            Ok(pairs)
        })
    }
    fn seed_records<'a>(&'a mut self, zone: &'a DnsName, sets: &'a [Seed]) -> BoxFuture<'a, Result<bool, String>> {
        Box::pin(async move {
            let sub = SUBS[0];
            let zone_id = format!("{}/Microsoft.Network/dnsZones/{}", rg(sub), zone.as_str());
            self.list(sub, "providers/Microsoft.Network/dnszones", vec![json!({
                "id": zone_id, "name": zone.as_str(), "location": "global",
                "properties": {"nameServers": ["ns1-01.azure-dns.com."]},
            })]);
            let mut items = Vec::new();
            for s in sets {
                let relative = s.name.as_str().strip_suffix(&format!(".{}", zone.as_str())).unwrap_or("@").to_string();
                let (rtype, props) = match &s.target {
                    Target::Ip(ip) if ip.is_ipv4() => ("A", json!({"ARecords": [{"ipv4Address": ip.to_string()}]})),
                    Target::Ip(ip) => ("AAAA", json!({"AAAARecords": [{"ipv6Address": ip.to_string()}]})),
                    Target::Host(h) => ("CNAME", json!({"CNAMERecord": {"cname": h.as_fqdn()}})),
                    t => return Err(format!("no record set for target {t}")),
                };
                let mut p = props;
                p["TTL"] = json!(300);
                p["fqdn"] = json!(s.name.as_fqdn());
                items.push(json!({"id": format!("{zone_id}/{rtype}/{relative}"), "name": relative, "type": format!("Microsoft.Network/dnszones/{rtype}"), "properties": p}));
            }
            self.arm.route(&format!("{zone_id}/recordsets"), Route::List(items));
            self.healthy = self.arm.routes();
            Ok(true)
        })
    }
    fn failures(&self) -> Vec<Failure> {
        use Namespace::*;
        vec![
            Failure { label: format!("subscription {} (403)", SUBS[1]), region: None, hides: Hides::Account },
            Failure { label: "Microsoft.Web refused".into(), region: None, hides: Hides::only(&[Names(APP_SERVICE)]) },
            Failure { label: "Microsoft.Network public IPs refused".into(), region: None, hides: Hides::only(&[Addresses, Names(PUBLIC_IP_LABEL), Resources]) },
            Failure { label: "Microsoft.Storage refused".into(), region: None, hides: Hides::only(&[Names(BLOB), Names(STATIC_WEBSITE)]) },
        ]
    }
    fn provider<'a>(&'a self, failure: Option<&'a Failure>) -> BoxFuture<'a, Result<Box<dyn Provider>, String>> {
        Box::pin(async move {
            let mut routes = self.healthy.clone();
            let forbid = |routes: &mut HashMap<String, Route>, path: String| {
                routes.insert(
                    path.to_ascii_lowercase(),
                    Route::fail(403, "AuthorizationFailed"),
                );
            };
            match failure.map(|f| f.label.as_str()) {
                None => {}
                Some(l) if l.starts_with("subscription") => forbid(&mut routes, format!("/subscriptions/{}", SUBS[1])),
                Some(l) => {
                    let path = if l.contains("Web") {
                        "providers/Microsoft.Web/sites"
                    } else if l.contains("Network") {
                        "providers/Microsoft.Network/publicIPAddresses"
                    } else {
                        "providers/Microsoft.Storage/storageAccounts"
                    };
                    for sub in SUBS {
                        forbid(&mut routes, format!("/subscriptions/{sub}/{path}"));
                    }
                }
            }
            self.arm.set_routes(routes);
            let src = AzureSource::new("azure", &self.arm.url, Arc::new(FixedToken("conformance")), Some(self.arm.ca_pem.as_bytes()), Duration::from_secs(20))
                .map_err(|e| e.to_string())?
                .with_subscriptions(SUBS.iter().map(|s| s.to_string()).collect());
            Ok(Box::new(src) as Box<dyn Provider>)
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azure_passes_the_conformance_suite_against_the_local_arm_server() {
    let arm = ArmServer::start(PAGE).await;
    assert_fixture(&mut Azure { arm, healthy: HashMap::new() }).await;
}

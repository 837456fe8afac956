//! The Azure provider against a local ARM server over TLS: subscriptions, DNS zones and their record
//! sets across pages, public IP addresses, a subscription that answers 403, retries on 429, and what
//! the provider refuses (plain http, a nextLink to another host).

use std::sync::Arc;
use std::time::Duration;

use dangle_azure::AzureSource;
use dangle_model::{AssetKind, Hides, Provider, RecordType, Target};
use serde_json::{json, Value};
use dangle_azure::testing::{ArmServer, FixedToken, Route};

const SUB_A: &str = "11111111-1111-1111-1111-111111111111";
const SUB_B: &str = "22222222-2222-2222-2222-222222222222";


/// A record set as ARM's reference examples shape it (2018-05-01).
fn set(zone: &str, rtype: &str, name: &str, props: Value) -> Value {
    let mut p = json!({ "TTL": 300, "fqdn": format!("{name}.{zone}.") });
    if name == "@" {
        p["fqdn"] = Value::String(format!("{zone}."));
    }
    for (k, v) in props.as_object().unwrap() {
        p[k] = v.clone();
    }
    json!({
        "id": format!("/subscriptions/{SUB_A}/resourceGroups/rg1/providers/Microsoft.Network/dnsZones/{zone}/{rtype}/{name}"),
        "name": name,
        "type": format!("Microsoft.Network/dnsZones/{rtype}"),
        "etag": "00000000-0000-0000-0000-000000000000",
        "properties": p,
    })
}

fn zone_id(zone: &str) -> String {
    format!("/subscriptions/{SUB_A}/resourceGroups/rg1/providers/Microsoft.Network/dnsZones/{zone}")
}

async fn estate() -> ArmServer {
    let arm = ArmServer::start(2).await;
    arm.route(
        "/subscriptions",
        Route::List(vec![
            json!({"id": format!("/subscriptions/{SUB_A}"), "subscriptionId": SUB_A, "displayName": "prod", "state": "Enabled"}),
            json!({"id": format!("/subscriptions/{SUB_B}"), "subscriptionId": SUB_B, "displayName": "locked", "state": "Enabled"}),
        ]),
    );
    arm.empty_subscription(SUB_A);
    arm.route(
        &format!("/subscriptions/{SUB_B}"),
        Route::fail(403, "AuthorizationFailed"),
    );
    arm.route(
        &format!("/subscriptions/{SUB_A}/providers/Microsoft.Network/dnszones"),
        Route::List(vec![json!({
            "id": zone_id("example.com"),
            "name": "example.com",
            "type": "Microsoft.Network/dnszones",
            "location": "global",
            "properties": {"maxNumberOfRecordSets": 5000, "nameServers": ["ns1-01.azure-dns.com.", "ns2-01.azure-dns.net."], "numberOfRecordSets": 5, "zoneType": "Public"},
        })]),
    );
    // Five record sets, two to a page; the path as ARM writes it (dnsZones), matched in any case.
    arm.route(
        &format!("{}/recordsets", zone_id("example.com")),
        Route::List(vec![
            set("example.com", "NS", "@", json!({"NSRecords": [{"nsdname": "ns1-01.azure-dns.com."}]})),
            set("example.com", "A", "api", json!({"ARecords": [{"ipv4Address": "20.1.2.3"}, {"ipv4Address": "20.1.2.4"}]})),
            set("example.com", "CNAME", "shop", json!({"CNAMERecord": {"cname": "gone-shop.azurewebsites.net"}})),
            set("example.com", "A", "edge", json!({"targetResource": {"id": format!("/subscriptions/{SUB_A}/resourceGroups/rg1/providers/Microsoft.Network/publicIPAddresses/old-ip")}})),
            set("example.com", "TXT", "asuid.shop", json!({"TXTRecords": [{"value": ["abc"]}]})),
        ]),
    );
    let rg = format!("/subscriptions/{SUB_A}/resourceGroups/rg1/providers");
    arm.route(
        &format!("/subscriptions/{SUB_A}/providers/Microsoft.Web/sites"),
        Route::List(vec![json!({
            "id": format!("{rg}/Microsoft.Web/sites/shop-live"), "name": "shop-live", "location": "West Europe",
            "properties": {"defaultHostName": "shop-live.azurewebsites.net",
                "enabledHostNames": ["shop-live.azurewebsites.net", "shop-live.scm.azurewebsites.net", "www.example.com"],
                "hostNames": ["shop-live.azurewebsites.net", "www.example.com"]},
        })]),
    );
    arm.route(
        &format!("{rg}/Microsoft.Web/sites/shop-live/slots"),
        Route::List(vec![json!({
            "id": format!("{rg}/Microsoft.Web/sites/shop-live/slots/staging"), "name": "shop-live/staging",
            "properties": {"defaultHostName": "shop-live-staging.azurewebsites.net", "enabledHostNames": ["shop-live-staging.azurewebsites.net"]},
        })]),
    );
    arm.route(
        &format!("/subscriptions/{SUB_A}/providers/Microsoft.Storage/storageAccounts"),
        Route::List(vec![json!({
            "id": format!("{rg}/Microsoft.Storage/storageAccounts/assetsacct"), "name": "assetsacct", "location": "westeurope",
            "properties": {"primaryEndpoints": {"blob": "https://assetsacct.blob.core.windows.net/", "web": "https://assetsacct.z6.web.core.windows.net/",
                "dfs": "https://assetsacct.dfs.core.windows.net/", "file": "https://assetsacct.file.core.windows.net/",
                "queue": "https://assetsacct.queue.core.windows.net/", "table": "https://assetsacct.table.core.windows.net/"}},
        })]),
    );
    arm.route(
        &format!("/subscriptions/{SUB_A}/providers/Microsoft.Cdn/profiles"),
        Route::List(vec![json!({"id": format!("{rg}/Microsoft.Cdn/profiles/edge"), "name": "edge", "location": "Global", "sku": {"name": "Standard_AzureFrontDoor"}})]),
    );
    arm.route(&format!("{rg}/Microsoft.Cdn/profiles/edge/endpoints"), Route::List(vec![]));
    arm.route(
        &format!("{rg}/Microsoft.Cdn/profiles/edge/afdEndpoints"),
        Route::List(vec![json!({"id": format!("{rg}/Microsoft.Cdn/profiles/edge/afdEndpoints/ep"), "name": "ep", "properties": {"hostName": "ep-c2dxbbh7hxe3hyfd.z01.azurefd.net"}})]),
    );
    arm.route(
        &format!("{rg}/Microsoft.Cdn/profiles/edge/customDomains"),
        Route::List(vec![json!({"id": format!("{rg}/Microsoft.Cdn/profiles/edge/customDomains/cdn-example-com"), "name": "cdn-example-com", "properties": {"hostName": "cdn.example.com"}})]),
    );
    // The public IP list answers 429 twice with Retry-After, then the list: azure_core's retry policy.
    arm.route(
        &format!("/subscriptions/{SUB_A}/providers/Microsoft.Network/publicIPAddresses"),
        Route::Fail {
            status: 429,
            code: "TooManyRequests".into(),
            retry_after: Some(1),
            times: Some(2),
            then: Box::new(Route::List(vec![json!({
                "name": "web-ip",
                "id": format!("/subscriptions/{SUB_A}/resourceGroups/rg1/providers/Microsoft.Network/publicIPAddresses/web-ip"),
                "location": "westeurope",
                "properties": {"ipAddress": "20.1.2.3", "publicIPAddressVersion": "IPv4", "dnsSettings": {"domainNameLabel": "web", "fqdn": "web.westeurope.cloudapp.azure.com"}},
            })])),
        },
    );
    arm
}

fn source(arm: &ArmServer) -> AzureSource {
    AzureSource::new("azure", &arm.url, Arc::new(FixedToken("test-token")), Some(arm.ca_pem.as_bytes()), Duration::from_secs(20)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_every_page_of_every_subscription_and_a_forbidden_one_is_a_gap() {
    let arm = estate().await;
    let inv = source(&arm).enumerate().await.unwrap();

    // Every record set, across three pages.
    let names: Vec<(String, RecordType)> = inv.records.iter().map(|r| (r.name.as_str().to_string(), r.rtype.clone())).collect();
    assert_eq!(names.len(), 5, "{names:?}");
    let api = inv.records.iter().find(|r| r.name.as_str() == "api.example.com").unwrap();
    assert_eq!(api.targets.len(), 2);
    assert_eq!(&*api.account, SUB_A);
    assert!(api.location.as_ref().unwrap().to_string().ends_with("/dnsZones/example.com/A/api"), "{:?}", api.location);
    let shop = inv.records.iter().find(|r| r.name.as_str() == "shop.example.com").unwrap();
    assert!(matches!(&shop.targets[0], Target::Host(h) if h.as_str() == "gone-shop.azurewebsites.net"), "{:?}", shop.targets);
    let edge = inv.records.iter().find(|r| r.name.as_str() == "edge.example.com").unwrap();
    assert!(matches!(&edge.targets[0], Target::Resource { id } if id.ends_with("/publicIPAddresses/old-ip")), "{:?}", edge.targets);

    // The zone is an asset with its name servers; the public IP holds its address and its label.
    let zone = inv.assets.iter().find(|a| a.kind == dangle_model::cloud::kinds::azure::DNS_ZONE).unwrap();
    assert!(zone.hosts.iter().any(|h| h.as_str() == "ns1-01.azure-dns.com"), "{:?}", zone.hosts);
    let ip = inv.assets.iter().find(|a| a.kind == dangle_model::cloud::kinds::azure::PUBLIC_IP).unwrap();
    assert_eq!(ip.ips.iter().map(|n| n.addr().to_string()).collect::<Vec<_>>(), ["20.1.2.3"]);
    assert_eq!(ip.hosts[0].as_str(), "web.westeurope.cloudapp.azure.com");
    assert_eq!(ip.region.as_deref(), Some("westeurope"));

    // A site and its slot, each with every name it answers at; every endpoint of a storage account; a
    // Front Door Standard endpoint and custom domain under a CDN profile (which holds nothing itself).
    let hosts_of = |kind: AssetKind| -> Vec<String> {
        inv.assets.iter().filter(|a| a.kind == kind).flat_map(|a| a.hosts.iter().map(|h| h.as_str().to_string())).collect()
    };
    assert_eq!(
        hosts_of(dangle_model::cloud::kinds::azure::APP_SERVICE),
        ["shop-live.azurewebsites.net", "shop-live.scm.azurewebsites.net", "www.example.com", "shop-live-staging.azurewebsites.net"]
    );
    assert_eq!(hosts_of(dangle_model::cloud::kinds::azure::STORAGE_ACCOUNT).len(), 6);
    assert_eq!(hosts_of(dangle_model::cloud::kinds::azure::FRONT_DOOR), ["ep-c2dxbbh7hxe3hyfd.z01.azurefd.net", "cdn.example.com"]);
    assert!(inv.assets.iter().all(|a| !a.id.ends_with("/profiles/edge")), "the profile itself holds nothing");

    // Subscription B: one gap that hides all of it, and no coverage.
    assert_eq!(inv.covered.iter().map(|c| &*c.account).collect::<Vec<_>>(), [SUB_A]);
    assert_eq!(inv.gaps.len(), 1, "{:?}", inv.gaps);
    let g = &inv.gaps[0];
    assert_eq!((&*g.account, &g.hides), (SUB_B, &Hides::Account));
    assert!(g.error.contains("403") && g.error.contains("AuthorizationFailed"), "{}", g.error);

    // Read-only, authorised, and the 429s retried.
    let reqs = arm.requests();
    assert!(reqs.iter().all(|r| r.method == "GET"), "{reqs:?}");
    assert!(reqs.iter().all(|r| r.bearer.as_deref() == Some("test-token")), "{reqs:?}");
    let ip_calls = reqs.iter().filter(|r| r.path.to_ascii_lowercase().contains("/publicipaddresses")).count();
    assert_eq!(ip_calls, 3, "two 429s, then the list: {reqs:?}");
    assert!(reqs.iter().all(|r| r.path.contains("api-version=")), "{reqs:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_that_keeps_failing_is_a_gap_of_what_it_hides() {
    let arm = estate().await;
    arm.route(
        &format!("/subscriptions/{SUB_A}/providers/Microsoft.Network/dnszones"),
        Route::fail(404, "MissingSubscriptionRegistration"),
    );
    let inv = source(&arm).with_subscriptions(vec![SUB_A.to_string()]).enumerate().await.unwrap();
    assert!(inv.records.is_empty());
    assert_eq!(inv.gaps.len(), 1, "{:?}", inv.gaps);
    assert_eq!(inv.gaps[0].hides, Hides::only(&[dangle_model::Namespace::Zones, dangle_model::Namespace::NameServers]));
    assert!(inv.gaps[0].error.contains("MissingSubscriptionRegistration"), "{}", inv.gaps[0].error);
    // The public IPs of the same subscription are still read.
    assert!(inv.assets.iter().any(|a| a.kind == dangle_model::cloud::kinds::azure::PUBLIC_IP));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_and_a_next_link_elsewhere_are_refused() {
    let e = AzureSource::new("azure", "http://127.0.0.1:1", Arc::new(FixedToken("t")), None, Duration::from_secs(5)).unwrap_err().to_string();
    assert!(e.contains("not https") && e.contains("TLS only"), "{e}");

    let arm = estate().await;
    arm.route(
        &format!("/subscriptions/{SUB_A}/providers/Microsoft.Network/dnszones"),
        Route::Doc(json!({"value": [], "nextLink": "https://127.0.0.2:1/steal?api-version=1"})),
    );
    let inv = source(&arm).with_subscriptions(vec![SUB_A.to_string()]).enumerate().await.unwrap();
    let g = inv.gaps.iter().find(|g| g.service == "dns").expect("a dns gap");
    assert!(g.error.contains("nextLink leaves the endpoint"), "{}", g.error);
    assert!(arm.requests().iter().all(|r| !r.path.contains("steal")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_outside_the_trust_anchors_is_refused() {
    let arm = estate().await;
    let src = AzureSource::new("azure", &arm.url, Arc::new(FixedToken("t")), None, Duration::from_secs(5)).unwrap();
    let e = src.with_subscriptions(vec![SUB_A.to_string()]).enumerate().await.unwrap();
    // Without the test CA every request fails in TLS: the subscription is a gap, nothing is read.
    assert!(e.records.is_empty() && e.assets.is_empty());
    assert_eq!(e.gaps.len(), 1, "{:?}", e.gaps);
    assert!(arm.requests().is_empty(), "nothing reached the server past the handshake");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_error_is_retried_and_one_that_persists_is_a_gap() {
    let arm = estate().await;
    let sites = format!("/subscriptions/{SUB_A}/providers/Microsoft.Web/sites");
    let then = Box::new(Route::List(vec![]));
    arm.route(&sites, Route::Fail { status: 500, code: "InternalServerError".into(), retry_after: None, times: Some(1), then });
    let inv = source(&arm).with_subscriptions(vec![SUB_A.into()]).enumerate().await.unwrap();
    assert!(inv.gaps.is_empty(), "one 500, then an answer: retried: {:?}", inv.gaps);
    arm.route(&sites, Route::fail(500, "InternalServerError"));
    let inv = source(&arm).with_subscriptions(vec![SUB_A.into()]).enumerate().await.unwrap();
    assert_eq!(inv.gaps.len(), 1, "{:?}", inv.gaps);
    assert!(inv.gaps[0].error.contains("HTTP 500"), "{}", inv.gaps[0].error);
    assert_eq!(inv.gaps[0].hides, Hides::only(&[dangle_model::Namespace::Names(dangle_model::cloud::APP_SERVICE)]));
}

/// The lists a scoped read asked for, without api-version, lower case.
fn lists(arm: &ArmServer) -> Vec<String> {
    let mut v: Vec<String> = arm.requests().iter().map(|r| r.path.split('?').next().unwrap().to_ascii_lowercase()).collect();
    v.sort();
    v.dedup();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_event_reads_only_the_lists_of_the_type_it_names() {
    let arm = estate().await;
    let src = source(&arm).with_subscriptions(vec![SUB_A.to_string()]);
    // Activity Log writes the subscription in upper case: the provider's own spelling comes back.
    let scope = |kind: &str| dangle_model::Scope { account: SUB_A.to_ascii_uppercase(), region: None, services: vec![kind.into()] };
    let (inv, replaces) = src.enumerate_scope(&scope("microsoft.network/publicipaddresses")).unwrap().await.unwrap().unwrap();
    let sub = format!("/subscriptions/{SUB_A}/providers/microsoft.network");
    assert_eq!(lists(&arm), [format!("{sub}/publicipaddresses"), format!("{sub}/publicipprefixes")]);
    assert_eq!(inv.assets.iter().map(|a| a.kind.clone()).collect::<Vec<_>>(), [dangle_model::cloud::kinds::azure::PUBLIC_IP]);
    assert!(inv.records.is_empty() && inv.gaps.is_empty());
    assert_eq!((&*replaces.account, replaces.region.as_deref(), replaces.records), (SUB_A, None, false));
    assert_eq!(replaces.kinds, [dangle_model::cloud::kinds::azure::PUBLIC_IP, dangle_model::cloud::kinds::azure::PUBLIC_IP_PREFIX]);
    assert_eq!(replaces.services, ["network"]);

    // A record set written: the zones and their record sets, public and private; no resource list.
    arm.log.lock().unwrap().clear();
    let (inv, replaces) = src.enumerate_scope(&scope("microsoft.network/dnszones/cname")).unwrap().await.unwrap().unwrap();
    assert!(lists(&arm).iter().all(|p| p.contains("dnszones")), "{:?}", lists(&arm));
    assert_eq!(inv.records.len(), 5);
    assert!(replaces.records && replaces.kinds == [dangle_model::cloud::kinds::azure::DNS_ZONE] && replaces.services == ["dns", "privatedns"]);

    // A resource group deleted: everything in the subscription again, standing in for all of it there.
    arm.log.lock().unwrap().clear();
    let (inv, replaces) = src.enumerate_scope(&scope("microsoft.resources/subscriptions/resourcegroups")).unwrap().await.unwrap().unwrap();
    assert!(lists(&arm).len() > 10, "{:?}", lists(&arm));
    assert_eq!(inv.records.len(), 5);
    assert!(replaces.records && replaces.services.contains(&"subscription".into()) && replaces.kinds.contains(&dangle_model::cloud::kinds::azure::STORAGE_ACCOUNT));

    // A subscription the provider does not read is not its to answer for, and costs no request.
    arm.log.lock().unwrap().clear();
    let other = dangle_model::Scope { account: SUB_B.into(), region: None, services: vec!["microsoft.web/sites".into()] };
    assert!(src.enumerate_scope(&other).unwrap().await.unwrap().is_none());
    assert!(arm.requests().is_empty());
}

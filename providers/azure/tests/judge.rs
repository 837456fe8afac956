//! The Azure provider's inventory judged by the engine (`dangle::reconcile`): the estate of issue 9 on
//! the local ARM server — a deleted App Service behind a CNAME, a released public IP behind an A
//! record, a Traffic Manager profile that is gone, an alias to a deleted public IP, an alias to
//! another record set, a storage account that exists and one that does not, a Front Door Standard
//! endpoint that exists and a hashed one that is gone, a deleted App Service whose asuid TXT we still
//! publish — once with a second subscription that answers
//! 403 (nothing Azure may be called dangling then) and once with the readable subscription alone.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use dangle::reconcile::ranges::Ranges;
use dangle::reconcile::{reconcile, Claimable, History, Inputs, ProviderInfo, Status};
use dangle_azure::AzureSource;
use dangle_model::Provider;
use serde_json::{json, Value};
use dangle_azure::testing::{ArmServer, FixedToken, Route};

const SUB_A: &str = "11111111-1111-1111-1111-111111111111";
const SUB_B: &str = "22222222-2222-2222-2222-222222222222";


fn rg() -> String {
    format!("/subscriptions/{SUB_A}/resourceGroups/rg1/providers")
}

fn set(rtype: &str, name: &str, props: Value) -> Value {
    let mut p = props;
    p["TTL"] = json!(300);
    p["fqdn"] = json!(if name == "@" { "example.com.".to_string() } else { format!("{name}.example.com.") });
    json!({
        "id": format!("{}/Microsoft.Network/dnsZones/example.com/{rtype}/{name}", rg()),
        "name": name, "type": format!("Microsoft.Network/dnsZones/{rtype}"), "properties": p,
    })
}

async fn estate() -> ArmServer {
    let arm = ArmServer::start(50).await;
    let rg = rg();
    arm.route("/subscriptions", Route::List(vec![json!({"subscriptionId": SUB_A}), json!({"subscriptionId": SUB_B})]));
    arm.empty_subscription(SUB_A);
    arm.route(
        &format!("/subscriptions/{SUB_B}"),
        Route::fail(403, "AuthorizationFailed"),
    );
    let zone = format!("{rg}/Microsoft.Network/dnsZones/example.com");
    arm.route(
        &format!("/subscriptions/{SUB_A}/providers/Microsoft.Network/dnszones"),
        Route::List(vec![json!({"id": zone, "name": "example.com", "properties": {"nameServers": ["ns1-01.azure-dns.com."]}})]),
    );
    arm.route(
        &format!("{zone}/recordsets"),
        Route::List(vec![
            set("CNAME", "shop", json!({"CNAMERecord": {"cname": "gone-shop.azurewebsites.net"}})),
            set("CNAME", "www", json!({"CNAMERecord": {"cname": "shop-live.azurewebsites.net"}})),
            set("A", "api", json!({"ARecords": [{"ipv4Address": "4.144.1.50"}]})),
            set("A", "web", json!({"ARecords": [{"ipv4Address": "4.144.1.10"}]})),
            set("CNAME", "tm", json!({"CNAMERecord": {"cname": "gone-tm.trafficmanager.net"}})),
            set("A", "edge", json!({"targetResource": {"id": format!("{rg}/Microsoft.Network/publicIPAddresses/old-ip")}})),
            set("A", "@", json!({"targetResource": {"id": format!("{zone}/A/web")}})),
            set("CNAME", "assets", json!({"CNAMERecord": {"cname": "assetsacct.blob.core.windows.net"}})),
            set("CNAME", "files", json!({"CNAMERecord": {"cname": "goneacct.blob.core.windows.net"}})),
            set("CNAME", "cdn", json!({"CNAMERecord": {"cname": "ep-c2dxbbh7hxe3hyfd.z01.azurefd.net"}})),
            set("CNAME", "old-cdn", json!({"CNAMERecord": {"cname": "old-ep-b3ezcc8aaz9q4gaz.z01.azurefd.net"}})),
            // A deleted App Service whose custom domain we verified: the asuid TXT is still ours.
            set("CNAME", "legacy", json!({"CNAMERecord": {"cname": "gone-legacy.azurewebsites.net"}})),
            set("TXT", "asuid.legacy", json!({"TXTRecords": [{"value": ["2D1A8F6C7E0B4A1F9C3D5E7F"]}]})),
        ]),
    );
    // A private zone of the same name, linked to one virtual network: its `shop` is a live site.
    let private = format!("{rg}/Microsoft.Network/privateDnsZones/example.com");
    arm.route(
        &format!("/subscriptions/{SUB_A}/providers/Microsoft.Network/privateDnsZones"),
        Route::List(vec![json!({"id": private, "name": "example.com", "location": "global", "properties": {"numberOfRecordSets": 2}})]),
    );
    arm.route(
        &format!("{private}/virtualNetworkLinks"),
        Route::List(vec![json!({"id": format!("{private}/virtualNetworkLinks/hub"), "properties": {"virtualNetwork": {"id": format!("{rg}/Microsoft.Network/virtualNetworks/hub-vnet")}, "registrationEnabled": false}})]),
    );
    arm.route(
        &format!("{private}/ALL"),
        Route::List(vec![
            json!({"id": format!("{private}/CNAME/shop"), "name": "shop", "type": "Microsoft.Network/privateDnsZones/CNAME",
                "properties": {"ttl": 60, "fqdn": "shop.example.com.", "cnameRecord": {"cname": "shop-live.azurewebsites.net"}}}),
            json!({"id": format!("{private}/A/db"), "name": "db", "type": "Microsoft.Network/privateDnsZones/A",
                "properties": {"ttl": 60, "fqdn": "db.example.com.", "aRecords": [{"ipv4Address": "10.20.0.5"}]}}),
        ]),
    );
    arm.route(
        &format!("/subscriptions/{SUB_A}/providers/Microsoft.Network/publicIPAddresses"),
        Route::List(vec![json!({"id": format!("{rg}/Microsoft.Network/publicIPAddresses/web-ip"), "properties": {"ipAddress": "4.144.1.10"}})]),
    );
    arm.route(
        &format!("/subscriptions/{SUB_A}/providers/Microsoft.Web/sites"),
        Route::List(vec![json!({"id": format!("{rg}/Microsoft.Web/sites/shop-live"), "properties": {"defaultHostName": "shop-live.azurewebsites.net"}})]),
    );
    arm.route(&format!("{rg}/Microsoft.Web/sites/shop-live/slots"), Route::List(vec![]));
    arm.route(
        &format!("/subscriptions/{SUB_A}/providers/Microsoft.Storage/storageAccounts"),
        Route::List(vec![json!({"id": format!("{rg}/Microsoft.Storage/storageAccounts/assetsacct"), "properties": {"primaryEndpoints": {"blob": "https://assetsacct.blob.core.windows.net/"}}})]),
    );
    arm.route(
        &format!("/subscriptions/{SUB_A}/providers/Microsoft.Cdn/profiles"),
        Route::List(vec![json!({"id": format!("{rg}/Microsoft.Cdn/profiles/edge"), "sku": {"name": "Standard_AzureFrontDoor"}})]),
    );
    arm.route(&format!("{rg}/Microsoft.Cdn/profiles/edge/endpoints"), Route::List(vec![]));
    arm.route(&format!("{rg}/Microsoft.Cdn/profiles/edge/customDomains"), Route::List(vec![]));
    arm.route(
        &format!("{rg}/Microsoft.Cdn/profiles/edge/afdEndpoints"),
        Route::List(vec![json!({"id": format!("{rg}/Microsoft.Cdn/profiles/edge/afdEndpoints/ep"), "properties": {"hostName": "ep-c2dxbbh7hxe3hyfd.z01.azurefd.net"}})]),
    );
    arm
}

/// Each public record's (status, claimable, reason) by its name, as the engine judges the inventory;
/// a private zone's records under `private:NAME`.
async fn judge(src: AzureSource) -> HashMap<String, (Status, Claimable, String)> {
    let inv = src.enumerate().await.unwrap();
    let providers = vec![ProviderInfo { name: Arc::from("azure"), kind: Arc::from("azure"), description: src.describe() }];
    let (ranges, history) = (Ranges::new(&[]), History::default());
    let inputs =
        Inputs { records: &inv.records, assets: &inv.assets, gaps: &inv.gaps, covered: &inv.covered, providers: &providers, ranges: &ranges, history: &history };
    let explain = inputs.explainer();
    reconcile(&inputs)
        .iter()
        .map(|j| {
            let r = &inv.records[j.record as usize];
            let name = if r.zone_private { format!("private:{}", r.name.as_str()) } else { r.name.as_str().to_string() };
            (name, (j.status, j.claimable, explain.render(&j.reason)))
        })
        .collect()
}

fn source(arm: &ArmServer) -> AzureSource {
    AzureSource::new("azure", &arm.url, Arc::new(FixedToken("t")), Some(arm.ca_pem.as_bytes()), Duration::from_secs(20)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_issue_estate_is_judged_right_with_and_without_a_forbidden_subscription() {
    let arm = estate().await;

    // Subscription B answers 403: it could hold any Azure name or address, so nothing Azure is
    // dangling; what we hold is still owned.
    let j = judge(source(&arm)).await;
    for name in ["shop", "api", "tm", "files", "old-cdn"] {
        let (status, _, reason) = &j[&format!("{name}.example.com")];
        assert_eq!(*status, Status::Unverified, "{name}: {reason}");
        assert!(reason.contains(SUB_B), "{name}: the reason names the gap: {reason}");
    }
    for name in ["www", "web", "assets", "cdn"] {
        assert_eq!(j[&format!("{name}.example.com")].0, Status::Owned, "{name}: {:?}", j[&format!("{name}.example.com")]);
    }

    // Subscription A alone, every list answered: the gone names are dangling, claimable as Azure lets
    // them be.
    let j = judge(source(&arm).with_subscriptions(vec![SUB_A.into()])).await;
    let want = [
        ("shop", Status::Dangling, Claimable::Yes),
        ("www", Status::Owned, Claimable::No),
        ("api", Status::Dangling, Claimable::Yes),
        ("web", Status::Owned, Claimable::No),
        ("tm", Status::Dangling, Claimable::Yes),
        ("edge", Status::Dangling, Claimable::No),
        ("assets", Status::Owned, Claimable::No),
        ("files", Status::Dangling, Claimable::Yes),
        ("cdn", Status::Owned, Claimable::No),
        ("old-cdn", Status::Dangling, Claimable::No),
        ("legacy", Status::Dangling, Claimable::No),
    ];
    for (name, status, claimable) in want {
        let (s, c, reason) = &j[&format!("{name}.example.com")];
        assert_eq!(*s, status, "{name}: {reason}");
        if status == Status::Dangling {
            assert_eq!(*c, claimable, "{name}: {reason}");
        }
    }
    assert!(j["edge.example.com"].2.contains("no longer exists in subscription"), "{}", j["edge.example.com"].2);
    let legacy = &j["legacy.example.com"].2;
    assert!(legacy.contains("App Service name gone-legacy.azurewebsites.net") && legacy.contains("our zone publishes asuid.legacy.example.com"), "{legacy}");
    // `shop` has no asuid record of its own: still claimable.
    assert_eq!(j["shop.example.com"].1, Claimable::Yes);
    // The apex alias to the `web` record set answers what `web` answers: our public IP.
    assert_eq!(j["example.com"].0, Status::Owned, "{:?}", j["example.com"]);
    // Split horizon: inside the linked network `shop` is the live site, outside it dangles.
    assert_eq!(j["private:shop.example.com"].0, Status::Owned, "{:?}", j["private:shop.example.com"]);
    assert_eq!(j["private:db.example.com"].0, Status::External, "{:?}", j["private:db.example.com"]);
}

/// The RBAC action an ARM GET needs: `Namespace/type[/subtype…]/read` from its path (resource
/// groups and names dropped); a subscription is `Microsoft.Resources/subscriptions/read`.
fn action(path: &str) -> String {
    let path = path.split('?').next().unwrap_or_default();
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let Some(at) = parts.iter().position(|p| p.eq_ignore_ascii_case("providers")) else {
        return "microsoft.resources/subscriptions/read".into();
    };
    let rest = &parts[at + 1..];
    let mut a = vec![rest[0]];
    a.extend(rest[1..].iter().step_by(2));
    format!("{}/read", a.join("/")).to_ascii_lowercase()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_is_a_get_and_the_role_file_grants_exactly_the_reads_made() {
    let arm = estate().await;
    source(&arm).enumerate().await.unwrap();
    let reqs = arm.requests();
    assert!(reqs.iter().all(|r| r.method == "GET"), "{reqs:?}");
    let used: std::collections::BTreeSet<String> = reqs.iter().map(|r| action(&r.path)).collect();
    let role: Value = serde_json::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/azure-role.json")).unwrap()).unwrap();
    let mut granted: std::collections::BTreeSet<String> =
        role["Actions"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_ascii_lowercase()).collect();
    // Besides the reads: the named availability checks (tests/claims.rs proves the role grants each).
    for c in dangle_azure::claims::CHECKS {
        granted.remove(&c.action.to_ascii_lowercase());
    }
    assert!(granted.iter().all(|a| a.ends_with("/read")), "read actions only: {granted:?}");
    assert_eq!(used, granted, "examples/azure-role.json must grant exactly the reads the provider makes");
    assert_eq!(action("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Web/sites/a/slots?api-version=1"), "microsoft.web/sites/slots/read");
}

/// The scan's claim checks on the issue's estate: the gone names a dangling record points at are
/// asked of their services; one someone else registered is critical, the free ones say anyone can
/// create them now; with a forbidden subscription nothing is dangling, so nothing is asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_checks_on_the_issue_estate() {
    use dangle::reconcile::Severity;
    let arm = estate().await;
    for c in dangle_azure::claims::CHECKS {
        arm.route(&format!("/subscriptions/{SUB_A}/{}", c.path), Route::Check { taken: vec!["gone-shop".into()] });
    }
    let run = |src: AzureSource| async move {
        let inv = src.enumerate().await.unwrap();
        let providers = vec![ProviderInfo { name: Arc::from("azure"), kind: Arc::from("azure"), description: src.describe() }];
        let (ranges, history) = (Ranges::new(&[]), History::default());
        let inputs =
            Inputs { records: &inv.records, assets: &inv.assets, gaps: &inv.gaps, covered: &inv.covered, providers: &providers, ranges: &ranges, history: &history };
        let mut js = reconcile(&inputs);
        let sources: Vec<Box<dyn Provider>> = vec![Box::new(src)];
        let claims = dangle::signals::claims::check(&sources, &inv.records, &mut js, Duration::from_secs(30), 20).await;
        let by_name: HashMap<String, (Severity, String)> = js
            .iter()
            .enumerate()
            .filter(|(_, j)| !inv.records[j.record as usize].zone_private)
            .map(|(i, j)| (inv.records[j.record as usize].name.as_str().to_string(), (j.severity, claims.get(i).map(|c| c.reason.clone()).unwrap_or_default())))
            .collect();
        (by_name, claims.len())
    };
    let (_, checked) = run(source(&arm)).await;
    assert_eq!(checked, 0, "a gap leaves everything unverified: nothing to check");
    let (j, checked) = run(source(&arm).with_subscriptions(vec![SUB_A.into()])).await;
    let (sev, why) = &j["shop.example.com"];
    assert_eq!(*sev, Severity::Critical, "{why}");
    assert!(why.contains("`gone-shop` exists") && why.ends_with("someone else holds it"), "{why}");
    for name in ["tm", "files"] {
        let (sev, why) = &j[&format!("{name}.example.com")];
        assert_eq!(*sev, Severity::High, "{name}: {why}");
        assert!(why.ends_with("anyone can create it now"), "{name}: {why}");
    }
    // A hashed Front Door name cannot be registered by anyone: not asked; the verified App Service
    // name is not claimable: not asked either.
    assert!(j["old-cdn.example.com"].1.is_empty() && j["legacy.example.com"].1.is_empty());
    assert_eq!(checked, 3);
}

/// Claim checks are bounded in time: a service that answers slower than the bound leaves its names
/// unchecked, as the inventory judged them, and the scan goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_claim_checks_leave_names_unchecked() {
    let arm = estate().await;
    for c in dangle_azure::claims::CHECKS {
        arm.route(&format!("/subscriptions/{SUB_A}/{}", c.path), Route::Check { taken: vec![] });
    }
    let src = source(&arm).with_subscriptions(vec![SUB_A.into()]);
    let inv = src.enumerate().await.unwrap();
    let providers = vec![ProviderInfo { name: Arc::from("azure"), kind: Arc::from("azure"), description: src.describe() }];
    let (ranges, history) = (Ranges::new(&[]), History::default());
    let inputs = Inputs { records: &inv.records, assets: &inv.assets, gaps: &inv.gaps, covered: &inv.covered, providers: &providers, ranges: &ranges, history: &history };
    let mut js = reconcile(&inputs);
    let before: Vec<_> = js.iter().map(|j| j.severity).collect();
    // Every answer now takes 2 s; the bound is 1 s.
    let arm = arm.with_delay(Duration::from_secs(2));
    let sources: Vec<Box<dyn Provider>> = vec![Box::new(source(&arm).with_subscriptions(vec![SUB_A.into()]))];
    let t = std::time::Instant::now();
    let claims = dangle::signals::claims::check(&sources, &inv.records, &mut js, Duration::from_secs(1), 20).await;
    assert!(claims.is_empty(), "nothing answered in time, so nothing is claimed");
    assert!(t.elapsed() < Duration::from_secs(10), "the bound holds: {:?}", t.elapsed());
    assert_eq!(js.iter().map(|j| j.severity).collect::<Vec<_>>(), before);
}

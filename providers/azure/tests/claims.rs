//! Claim checks against the local ARM server: each service's checkNameAvailability, POSTed under the
//! first subscription with the bearer; a free name is available, an existing one taken, a name the
//! service calls invalid (and a service without a check) says nothing. Only these POSTs are made, and
//! the custom role grants exactly their actions.

use std::sync::Arc;
use std::time::Duration;

use dangle_azure::testing::{ArmServer, FixedToken, Route};
use dangle_azure::AzureSource;
use dangle_model::cloud::{APP_SERVICE, BLOB, CDN, FRONT_DOOR, TRAFFIC_MANAGER};
use dangle_model::{Claim, ClaimQuery, Provider};
use serde_json::{json, Value};

const SUB: &str = "44444444-4444-4444-4444-444444444444";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_service_is_asked_with_its_own_check_and_answers_map_to_claims() {
    let arm = ArmServer::start(10).await;
    arm.route("/subscriptions", Route::List(vec![json!({"id": format!("/subscriptions/{SUB}"), "subscriptionId": SUB, "state": "Enabled"})]));
    for c in dangle_azure::claims::CHECKS {
        arm.route(&format!("/subscriptions/{SUB}/{}", c.path), Route::Check { taken: vec!["held-app".into(), "heldstore".into(), "held-tm".into(), "held-fd".into()] });
    }
    let src = AzureSource::new("azure", &arm.url, Arc::new(FixedToken("test-token")), Some(arm.ca_pem.as_bytes()), Duration::from_secs(20)).unwrap();
    let q = |service: dangle_model::Service, key: &str| {
        let suffix = if service == FRONT_DOOR { "azurefd.net" } else { "example.net" };
        ClaimQuery { service, key: key.into(), region: None, host: dangle_model::DnsName::parse(&format!("{key}.{suffix}")).unwrap_or_else(|_| dangle_model::DnsName::root()) }
    };
    let queries = [
        q(APP_SERVICE, "gone-app"),
        q(APP_SERVICE, "held-app"),
        q(BLOB, "heldstore"),
        q(TRAFFIC_MANAGER, "held-tm"),
        q(CDN, "free-cdn"),
        q(APP_SERVICE, "Not_Valid"),
        q(FRONT_DOOR, "gone-fd"),
        q(FRONT_DOOR, "held-fd"),
    ];
    let answers = src.check_names(&queries).await;
    let claims: Vec<Option<Claim>> = answers.iter().map(|a| a.as_ref().map(|a| a.claim)).collect();
    assert_eq!(
        claims,
        [Some(Claim::Available), Some(Claim::Taken), Some(Claim::Taken), Some(Claim::Taken), Some(Claim::Available), Some(Claim::Unknown), Some(Claim::Available), Some(Claim::Taken)],
        "{answers:#?}"
    );
    // What was asked: POSTs to the checks only, each with the token, the name and the resource type.
    let posts: Vec<_> = arm.requests().into_iter().filter(|r| r.method == "POST").collect();
    assert_eq!(posts.len(), 8);
    for p in &posts {
        assert!(dangle_azure::claims::CHECKS.iter().any(|c| p.path.to_ascii_lowercase().contains(&c.path.to_ascii_lowercase())), "{p:?}");
        assert_eq!(p.bearer.as_deref(), Some("test-token"));
        let body: Value = serde_json::from_str(&p.body).unwrap();
        assert!(body["name"].is_string() && body["type"].as_str().unwrap().starts_with("Microsoft."), "{body}");
    }
    let storage = posts.iter().find(|p| p.path.contains("Microsoft.Storage")).unwrap();
    assert!(storage.body.contains("\"Microsoft.Storage/storageAccounts\""), "{}", storage.body);
    assert!(arm.requests().iter().all(|r| r.method == "GET" || r.method == "POST"));
    // The custom role grants each check's action.
    let role: Value = serde_json::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/azure-role.json")).unwrap()).unwrap();
    let granted: Vec<String> = role["Actions"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_ascii_lowercase()).collect();
    for c in dangle_azure::claims::CHECKS {
        assert!(granted.contains(&c.action.to_ascii_lowercase()), "the role lacks {}", c.action);
    }
}

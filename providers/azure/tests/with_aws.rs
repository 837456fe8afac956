//! One run across two clouds: a Route53 zone (in moto) whose CNAMEs lead into Azure (the local ARM
//! server), both inventories judged together by the engine — the Azure names a Route53 record points
//! at are judged by what the Azure provider enumerated.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_route53::types::RrType;
use dangle::reconcile::ranges::Ranges;
use dangle::reconcile::{reconcile, Claimable, History, Inputs, ProviderInfo, Status};
use dangle_aws::testing::{rrs, upsert, zone, Moto};
use dangle_aws::AwsSource;
use dangle_azure::testing::{ArmServer, FixedToken, Route};
use dangle_azure::AzureSource;
use dangle_model::{Inventory, Provider};
use serde_json::json;

const SUB: &str = "44444444-4444-4444-4444-444444444444";
const ACCOUNT: &str = "100000000301";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route53_cname_into_azure_is_judged_by_the_azure_inventory() {
    let moto = Moto::start();
    let cfg = moto.account(ACCOUNT, "us-east-1").await;
    let z = zone(&cfg, "example.org").await;
    upsert(
        &cfg,
        &z,
        vec![
            rrs("app.example.org.", RrType::Cname, &["contoso-live.azurewebsites.net."]),
            rrs("old.example.org.", RrType::Cname, &["contoso-old.azurewebsites.net."]),
        ],
    )
    .await;

    let arm = ArmServer::start(100).await;
    arm.empty_subscription(SUB);
    let site = format!("/subscriptions/{SUB}/resourceGroups/web/providers/Microsoft.Web/sites/contoso-live");
    arm.route(
        &format!("/subscriptions/{SUB}/providers/Microsoft.Web/sites"),
        Route::List(vec![json!({"id": site, "properties": {"defaultHostName": "contoso-live.azurewebsites.net"}})]),
    );
    arm.route(&format!("{site}/slots"), Route::List(vec![]));

    let aws = AwsSource::builder("aws")
        .with_endpoint_url(&moto.endpoint)
        .with_credentials(Moto::credentials())
        .with_assume_roles([dangle_aws::testing::role(ACCOUNT)])
        .with_regions(["us-east-1"])
        .build()
        .await
        .unwrap();
    let azure = AzureSource::new("azure", &arm.url, Arc::new(FixedToken("t")), Some(arm.ca_pem.as_bytes()), Duration::from_secs(20))
        .unwrap()
        .with_subscriptions(vec![SUB.into()]);
    let (a, b) = (aws.enumerate().await.unwrap(), azure.enumerate().await.unwrap());
    assert!(a.gaps.is_empty() && b.gaps.is_empty(), "{:?} {:?}", a.gaps, b.gaps);
    let providers = vec![
        ProviderInfo { name: Arc::from("aws"), kind: Arc::from("aws"), description: aws.describe() },
        ProviderInfo { name: Arc::from("azure"), kind: Arc::from("azure"), description: azure.describe() },
    ];
    let mut inv = Inventory::default();
    for p in [a, b] {
        inv.records.extend(p.records);
        inv.assets.extend(p.assets);
        inv.covered.extend(p.covered);
        inv.gaps.extend(p.gaps);
    }
    let (ranges, history) = (Ranges::new(&[]), History::default());
    let inputs = Inputs { records: &inv.records, assets: &inv.assets, gaps: &inv.gaps, covered: &inv.covered, providers: &providers, ranges: &ranges, history: &history };
    let judged: Vec<(String, Status, Claimable)> =
        reconcile(&inputs).iter().map(|j| (inv.records[j.record as usize].name.as_str().to_string(), j.status, j.claimable)).collect();
    let of = |name: &str| judged.iter().find(|(n, ..)| n == name).map(|(_, s, c)| (*s, *c)).unwrap_or_else(|| panic!("{name} not judged: {judged:?}"));
    assert_eq!(of("app.example.org").0, Status::Owned);
    assert_eq!(of("old.example.org"), (Status::Dangling, Claimable::Yes));
}

//! The engine on an AWS estate in moto: two accounts, three regions, seeded through the SDK, scanned
//! through `scan` exactly as the binary does (config, store, judgement), then read back from the store.

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use aws_sdk_route53::types::{AliasTarget, ResourceRecordSet, RrType};
use dangle::config::Config;
use dangle::store::{ReportRow, Store};
use dangle_aws::testing::{role, rrs, upsert, zone, Moto};

fn moto() -> &'static Moto {
    static M: OnceLock<Moto> = OnceLock::new();
    M.get_or_init(|| {
        // The default credential chain of the scan finds moto's credentials here; no instance metadata.
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        Moto::start()
    })
}

const A: &str = "200000000001";
const B: &str = "200000000002";

async fn eip(account: &str, region: &str) -> (String, String) {
    let cfg = moto().account(account, region).await;
    let out = aws_sdk_ec2::Client::new(&cfg).allocate_address().send().await.unwrap();
    (out.public_ip().unwrap().to_string(), out.allocation_id().unwrap().to_string())
}

async fn alb(account: &str, region: &str, name: &str) -> (String, String) {
    let cfg = moto().account(account, region).await;
    let ec2 = aws_sdk_ec2::Client::new(&cfg);
    let subnets: Vec<String> = ec2.describe_subnets().send().await.unwrap().subnets().iter().filter_map(|s| s.subnet_id().map(String::from)).take(2).collect();
    let out = aws_sdk_elasticloadbalancingv2::Client::new(&cfg).create_load_balancer().name(name).set_subnets(Some(subnets)).send().await.unwrap();
    let lb = &out.load_balancers()[0];
    (lb.dns_name().unwrap().to_string(), lb.load_balancer_arn().unwrap().to_string())
}

/// Scans like the binary does: `scan_into` runs its own runtime, so call it off this one.
async fn scan(dir: &Path, config: &str) -> (Store, i64) {
    std::fs::write(dir.join("dangle.toml"), config).unwrap();
    let path = dir.join("dangle.toml");
    tokio::task::spawn_blocking(move || {
        let cfg = Config::load(&path).unwrap();
        let mut store = Store::open(&cfg.db).unwrap();
        let run = dangle::commands::scan::scan_into(&cfg, &mut store, false, std::time::Duration::from_secs(60)).unwrap();
        (store, run)
    })
    .await
    .unwrap()
}

fn by_name(rows: &[ReportRow]) -> HashMap<(String, String), &ReportRow> {
    rows.iter().map(|r| ((r.record_name.clone(), if r.set_id.is_empty() { r.record_type.clone() } else { r.set_id.clone() }), r)).collect()
}

#[track_caller]
fn expect(rows: &HashMap<(String, String), &ReportRow>, name: &str, kind: &str, status: &str, severity: &str, reason: &str) {
    let r = rows.get(&(name.to_string(), kind.to_string())).unwrap_or_else(|| panic!("no row {name} {kind} in {:#?}", rows.keys()));
    assert_eq!((r.status.as_str(), r.severity.as_str()), (status, severity), "{r:#?}");
    assert!(r.reason.contains(reason), "{name}: `{}` lacks `{reason}`", r.reason);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_accounts_three_regions() {
    let m = moto();
    let a = m.account(A, "us-east-1").await;
    let b = m.account(B, "us-east-1").await;
    let (here, _) = eip(A, "us-east-1").await;
    let (west, _) = eip(A, "eu-west-1").await;
    let (other, _) = eip(B, "ap-southeast-2").await;
    let (released, alloc) = eip(A, "us-east-1").await;
    aws_sdk_ec2::Client::new(&a).release_address().allocation_id(&alloc).send().await.unwrap();
    let (web, _) = alb(A, "us-east-1", "web").await;
    let (gone, gone_arn) = alb(A, "eu-west-1", "gone").await;
    let west_cfg = m.account(A, "eu-west-1").await;
    aws_sdk_elasticloadbalancingv2::Client::new(&west_cfg).delete_load_balancer().load_balancer_arn(&gone_arn).send().await.unwrap();
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&b).force_path_style(true).build());
    s3.create_bucket().bucket("b-assets").send().await.unwrap();
    // The delegated zone lives in account B; its name servers make the delegation owned.
    let sub = zone(&b, "sub.corp.test").await;
    let sub_ns: Vec<String> = aws_sdk_route53::Client::new(&b)
        .get_hosted_zone()
        .id(&sub)
        .send()
        .await
        .unwrap()
        .delegation_set()
        .unwrap()
        .name_servers()
        .iter()
        .map(|n| format!("{n}."))
        .collect();
    let z = zone(&a, "corp.test").await;
    let weighted = |id: &str, w: i64, ip: &str| {
        let mut s = rrs("api.corp.test.", RrType::A, &[ip]);
        s.set_identifier = Some(id.to_string());
        s.weight = Some(w);
        s
    };
    let apex = ResourceRecordSet::builder()
        .name("corp.test.")
        .r#type(RrType::A)
        .alias_target(AliasTarget::builder().dns_name(format!("dualstack.{web}.")).hosted_zone_id("Z35SXDOTRQ7X7K").evaluate_target_health(false).build().unwrap())
        .build()
        .unwrap();
    upsert(
        &a,
        &z,
        vec![
            rrs("here.corp.test.", RrType::A, &[&here]),
            rrs("west.corp.test.", RrType::A, &[&west]),
            rrs("other.corp.test.", RrType::A, &[&other]),
            rrs("released.corp.test.", RrType::A, &[&released]),
            rrs("web.corp.test.", RrType::Cname, &[&format!("{web}.")]),
            rrs("old-lb.corp.test.", RrType::Cname, &[&format!("{gone}.")]),
            rrs("far-lb.corp.test.", RrType::Cname, &["x-1.sa-east-1.elb.amazonaws.com."]),
            rrs("site.corp.test.", RrType::Cname, &["missing-bucket.s3-website-us-east-1.amazonaws.com."]),
            rrs("assets.corp.test.", RrType::Cname, &["b-assets.s3.amazonaws.com."]),
            rrs("cdn.corp.test.", RrType::Cname, &["d1234abcdef8.cloudfront.net."]),
            rrs("sub.corp.test.", RrType::Ns, &sub_ns.iter().map(String::as_str).collect::<Vec<_>>()),
            rrs("orphan.corp.test.", RrType::Ns, &["ns-999.awsdns-99.org."]),
            weighted("blue", 10, &here),
            weighted("green", 90, &released),
            apex,
        ],
    )
    .await;

    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"
[[providers]]
type = "aws"
name = "org"
regions = ["us-east-1", "eu-west-1", "ap-southeast-2"]
assume_roles = ["{}", "{}"]
endpoint_url = "{}"

# moto hands out Elastic IPs from 127.0.0.0/8: judge that pool as AWS's.
[[ranges]]
cidr = "127.0.0.0/8"
provider = "aws"
claimable = true
"#,
        role(A),
        role(B),
        m.endpoint
    );
    let (store, run) = scan(dir.path(), &config).await;
    assert!(store.gaps(run).unwrap().is_empty(), "{:?}", store.gaps(run).unwrap());
    let all = store.rows(run).unwrap();
    let rows = by_name(&all);
    expect(&rows, "here.corp.test", "A", "owned", "info", "elastic_ip");
    expect(&rows, "west.corp.test", "A", "owned", "info", "eu-west-1");
    expect(&rows, "other.corp.test", "A", "owned", "info", B);
    expect(&rows, "released.corp.test", "A", "dangling", "high", "declared range 127.0.0.0/8 of AWS");
    expect(&rows, "web.corp.test", "CNAME", "owned", "info", "load_balancer");
    expect(&rows, "corp.test", "A", "owned", "info", "load_balancer");
    expect(&rows, "old-lb.corp.test", "CNAME", "dangling", "medium", "Elastic Load Balancing");
    expect(&rows, "far-lb.corp.test", "CNAME", "unverified", "info", "region sa-east-1, which was not enumerated");
    expect(&rows, "site.corp.test", "CNAME", "dangling", "high", "bucket `missing-bucket`");
    expect(&rows, "assets.corp.test", "CNAME", "owned", "info", "arn:aws:s3:::b-assets");
    expect(&rows, "cdn.corp.test", "CNAME", "dangling", "medium", "CloudFront");
    expect(&rows, "sub.corp.test", "NS", "owned", "info", "delegates to a zone we hold");
    expect(&rows, "orphan.corp.test", "NS", "dangling", "high", "no enumerated account holds a zone orphan.corp.test");
    expect(&rows, "api.corp.test", "blue", "owned", "info", "elastic_ip");
    expect(&rows, "api.corp.test", "green", "dangling", "high", "127.0.0.0/8");
    // Every NS row of the owned delegation is owned, not only the first.
    let subs: Vec<_> = all.iter().filter(|r| r.record_name == "sub.corp.test" && r.zone == "corp.test").collect();
    assert!(subs.len() == 4 && subs.iter().all(|r| r.status == "owned"), "{subs:#?}");
    let apex_ns: Vec<_> = all.iter().filter(|r| r.record_type == "NS" && r.record_name == r.zone).collect();
    assert!(apex_ns.iter().all(|r| r.status == "owned"), "{apex_ns:#?}");

    // The EIP in the other account is released: the next run says since when.
    let bcfg = m.account(B, "ap-southeast-2").await;
    let ec2 = aws_sdk_ec2::Client::new(&bcfg);
    let addrs = ec2.describe_addresses().send().await.unwrap();
    let alloc = addrs.addresses().iter().find(|x| x.public_ip() == Some(other.as_str())).unwrap().allocation_id().unwrap().to_string();
    ec2.release_address().allocation_id(alloc).send().await.unwrap();
    let (store, run2) = scan(dir.path(), &config).await;
    let all = store.rows(run2).unwrap();
    let rows = by_name(&all);
    expect(&rows, "other.corp.test", "A", "dangling", "high", &format!("released since run {run}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_fails_makes_a_gap_and_unverified_never_dangling() {
    let m = moto();
    let a = m.account("200000000003", "us-east-1").await;
    let z = zone(&a, "gappy.test").await;
    upsert(&a, &z, vec![rrs("x.gappy.test.", RrType::Cname, &["lost-bucket.s3.amazonaws.com."])]).await;
    let port = dangle_aws::testing::closed_port();
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"
[[providers]]
type = "aws"
name = "good"
regions = ["us-east-1"]
assume_roles = ["{}"]
endpoint_url = "{}"

[[providers]]
type = "aws"
name = "down"
regions = ["us-east-1"]
assume_roles = ["{}"]
endpoint_url = "http://127.0.0.1:{port}"
"#,
        role("200000000003"),
        m.endpoint,
        role("200000000004")
    );
    let (store, run) = scan(dir.path(), &config).await;
    let gaps = store.gaps(run).unwrap();
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!((gaps[0].source.as_str(), gaps[0].account.as_str(), gaps[0].service.as_str()), ("down", "200000000004", "sts"));
    let rows = store.rows(run).unwrap();
    let x = rows.iter().find(|r| r.record_name == "x.gappy.test").unwrap();
    assert_eq!(x.status, "unverified", "{x:#?}");
    assert!(x.reason.contains("down 200000000004 sts"), "{}", x.reason);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dangling_record_on_the_last_page_of_a_big_zone_is_found() {
    let m = moto();
    let acct = "200000000005";
    let a = m.account(acct, "us-east-1").await;
    let z = zone(&a, "big.test").await;
    let mut sets: Vec<ResourceRecordSet> = (0..1000).map(|i| rrs(&format!("h{i:04}.big.test."), RrType::Cname, &["h0000.big.test."])).collect();
    sets[0] = rrs("h0000.big.test.", RrType::A, &["10.0.0.1"]);
    sets.push(rrs("zzz-last.big.test.", RrType::Cname, &["gone.big.test."]));
    upsert(&a, &z, sets).await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!("[[providers]]\ntype = \"aws\"\nregions = [\"us-east-1\"]\nassume_roles = [\"{}\"]\nendpoint_url = \"{}\"\n", role(acct), m.endpoint);
    let (store, run) = scan(dir.path(), &config).await;
    let all = store.rows(run).unwrap();
    assert!(all.iter().filter(|r| r.zone == "big.test").count() >= 1001, "every page read");
    let rows = by_name(&all);
    expect(&rows, "zzz-last.big.test", "CNAME", "dangling", "medium", "gone.big.test does not exist in our zone big.test");
    expect(&rows, "h0999.big.test", "CNAME", "external", "info", "10.0.0.1 is outside every judged range");
}

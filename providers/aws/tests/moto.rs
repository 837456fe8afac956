//! dangle-aws against a moto server: the official SDK over HTTP to a real emulator, state seeded through
//! the same SDK. Each test uses its own account id, so the tests share one server safely.

use std::sync::OnceLock;

use aws_sdk_route53::types::{AliasTarget, ResourceRecord, ResourceRecordSet, RrType};
use dangle_aws::testing::{role, rrs, upsert, zone, Moto};
use dangle_aws::AwsSource;
use dangle_model::{conformance, Provider, RecordType, Target};

fn moto() -> &'static Moto {
    static M: OnceLock<Moto> = OnceLock::new();
    M.get_or_init(Moto::start)
}

async fn source(accounts: &[&str], regions: &[&str]) -> AwsSource {
    AwsSource::builder("prod")
        .with_endpoint_url(&moto().endpoint)
        .with_credentials(Moto::credentials())
        .with_assume_roles(accounts.iter().map(|a| role(a)))
        .with_regions(regions.iter().copied())
        .with_route53_rate(50)
        .build()
        .await
        .expect("build")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_against_moto() {
    let acct = "100000000001";
    let cfg = moto().account(acct, "us-east-1").await;
    let z = zone(&cfg, "conformance.example").await;
    upsert(&cfg, &z, vec![rrs("www.conformance.example.", RrType::Cname, &["web.conformance.example."]), rrs("web.conformance.example.", RrType::A, &["192.0.2.1"])]).await;
    aws_sdk_ec2::Client::new(&cfg).allocate_address().send().await.unwrap();
    let src = source(&[acct], &["us-east-1"]).await;
    conformance::assert_provider(&src).await;
    let assets = src.enumerate().await.unwrap();
    assert!(assets.gaps.is_empty(), "{:?}", assets.gaps);
    assert!(assets.assets.iter().any(|a| a.kind == dangle_model::cloud::kinds::aws::ELASTIC_IP), "{:#?}", assets.assets);
    assert!(assets.assets.iter().any(|a| a.kind == dangle_model::cloud::kinds::aws::HOSTED_ZONE && a.hosts.len() > 1), "hosted zone with its name servers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_records_are_all_read_and_sets_stay_apart() {
    let acct = "100000000002";
    let cfg = moto().account(acct, "us-east-1").await;
    let z = zone(&cfg, "big.example").await;
    let mut sets: Vec<ResourceRecordSet> = (0..1000).map(|i| rrs(&format!("h{i:04}.big.example."), RrType::A, &["192.0.2.10"])).collect();
    // The last name in Route53's order, pointing somewhere else.
    sets.push(rrs("zzz-last.big.example.", RrType::Cname, &["gone.big.example."]));
    sets.push(rrs("\\052.big.example.", RrType::A, &["192.0.2.11"]));
    for (id, ip, w) in [("blue", "192.0.2.20", 10), ("green", "192.0.2.21", 90)] {
        sets.push(
            ResourceRecordSet::builder()
                .name("api.big.example.")
                .r#type(RrType::A)
                .ttl(60)
                .set_identifier(id)
                .weight(w)
                .resource_records(ResourceRecord::builder().value(ip).build().unwrap())
                .build()
                .unwrap(),
        );
    }
    sets.push(
        ResourceRecordSet::builder()
            .name("big.example.")
            .r#type(RrType::A)
            .alias_target(
                AliasTarget::builder()
                    .dns_name("dualstack.web-1.us-east-1.elb.amazonaws.com.")
                    .hosted_zone_id("Z35SXDOTRQ7X7K")
                    .evaluate_target_health(false)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap(),
    );
    upsert(&cfg, &z, sets).await;
    let src = source(&[acct], &["us-east-1"]).await;
    let e = src.enumerate().await.unwrap();
    assert!(e.gaps.is_empty(), "{:?}", e.gaps);
    let in_zone: Vec<_> = e.records.iter().filter(|r| r.zone.as_str() == "big.example").collect();
    let hosts = in_zone.iter().filter(|r| r.name.as_str().starts_with('h') && r.rtype == RecordType::A).count();
    assert_eq!(hosts, 1000, "every page read");
    let last = in_zone.iter().find(|r| r.name.as_str() == "zzz-last.big.example").expect("the record on the last page");
    assert_eq!(last.targets.as_slice(), [Target::Host("gone.big.example".parse().unwrap())]);
    assert!(in_zone.iter().any(|r| r.name.as_str() == "*.big.example"), "\\052 is a wildcard");
    let api: Vec<_> = in_zone.iter().filter(|r| r.name.as_str() == "api.big.example").collect();
    assert_eq!(api.len(), 2, "weighted sets kept apart: {api:#?}");
    assert!(api.iter().all(|r| r.set_id.is_some()));
    let apex = in_zone.iter().find(|r| r.name.as_str() == "big.example" && r.rtype == RecordType::A).expect("apex alias");
    assert!(matches!(&apex.targets[0], Target::Alias { dns_name, .. } if dns_name.as_str() == "dualstack.web-1.us-east-1.elb.amazonaws.com"));
    assert_eq!(&*apex.account, acct);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_zones_record_their_vpcs() {
    let acct = "100000000003";
    let cfg = moto().account(acct, "us-east-1").await;
    let vpc = aws_sdk_ec2::Client::new(&cfg).describe_vpcs().send().await.unwrap().vpcs()[0].vpc_id().unwrap().to_string();
    let out = aws_sdk_route53::Client::new(&cfg)
        .create_hosted_zone()
        .name("internal.example")
        .caller_reference("private")
        .hosted_zone_config(aws_sdk_route53::types::HostedZoneConfig::builder().private_zone(true).build())
        .vpc(aws_sdk_route53::types::Vpc::builder().vpc_id(&vpc).vpc_region(aws_sdk_route53::types::VpcRegion::UsEast1).build())
        .send()
        .await
        .unwrap();
    let id = out.hosted_zone().unwrap().id().rsplit('/').next().unwrap().to_string();
    upsert(&cfg, &id, vec![rrs("db.internal.example.", RrType::A, &["10.0.0.5"])]).await;
    let src = source(&[acct], &["us-east-1"]).await;
    let e = src.enumerate().await.unwrap();
    let db = e.records.iter().find(|r| r.name.as_str() == "db.internal.example").unwrap();
    assert!(db.zone_private);
    assert!(db.location.as_ref().unwrap().to_string().contains(&vpc), "{:?}", db.location);
    // Private zones are no delegation targets: not an asset.
    let assets = src.enumerate().await.unwrap();
    assert!(!assets.assets.iter().any(|a| a.kind == dangle_model::cloud::kinds::aws::HOSTED_ZONE && a.id.contains(&id)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_is_down_is_a_gap_not_an_error() {
    let src = AwsSource::builder("down")
        .with_endpoint_url(dangle_aws::testing::closed_endpoint())
        .with_credentials(Moto::credentials())
        .with_assume_roles([role("100000000004")])
        .with_regions(["us-east-1"])
        .with_timeout(std::time::Duration::from_secs(2))
        .build()
        .await
        .unwrap();
    let e = src.enumerate().await.unwrap();
    assert!(e.assets.is_empty());
    assert_eq!(e.gaps.len(), 1, "{:?}", e.gaps);
    assert_eq!((e.gaps[0].service.as_str(), &*e.gaps[0].account), ("sts", "100000000004"));
    assert!(e.gaps[0].error.contains("cannot assume"), "{}", e.gaps[0].error);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credentials_at_all_is_an_error() {
    let e = AwsSource::builder("nocreds")
        .with_endpoint_url(&moto().endpoint)
        .with_profile("a-profile-that-does-not-exist")
        .with_regions(["us-east-1"])
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("provider `nocreds`") && e.contains("no AWS credentials"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn organization_accounts_are_discovered_and_scanned() {
    use aws_config::{BehaviorVersion, Region};
    let base = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&moto().endpoint)
        .credentials_provider(Moto::credentials())
        .load()
        .await;
    let org = aws_sdk_organizations::Client::new(&base);
    // The moto server is shared: another run of this test may have made the organization already.
    let _ = org.create_organization().feature_set(aws_sdk_organizations::types::OrganizationFeatureSet::All).send().await;
    let created = org.create_account().email("member@example.com").account_name("member").send().await.unwrap();
    let member = created.create_account_status().and_then(|s| s.account_id()).expect("member account id").to_string();
    let cfg = moto().account(&member, "us-east-1").await;
    let eip = aws_sdk_ec2::Client::new(&cfg).allocate_address().send().await.unwrap().public_ip().unwrap().to_string();
    let src = AwsSource::builder("org")
        .with_endpoint_url(&moto().endpoint)
        .with_credentials(Moto::credentials())
        .with_organization_role("dangle-readonly")
        .with_regions(["us-east-1"])
        .build()
        .await
        .unwrap();
    let e = src.enumerate().await.unwrap();
    assert!(e.gaps.is_empty(), "{:?}", e.gaps);
    let accounts: std::collections::BTreeSet<&str> = e.covered.iter().map(|c| &*c.account).collect();
    assert!(accounts.contains(member.as_str()) && accounts.contains("123456789012"), "{accounts:?}");
    assert!(
        e.assets.iter().any(|a| *a.account == *member && a.ips.iter().any(|n| n.addr().to_string() == eip)),
        "the member account's Elastic IP is owned"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_interfaces_and_classic_load_balancers_are_assets() {
    let acct = "100000000006";
    let cfg = moto().account(acct, "us-east-1").await;
    let ec2 = aws_sdk_ec2::Client::new(&cfg);
    let image = ec2.describe_images().owners("amazon").send().await.unwrap().images()[0].image_id().unwrap().to_string();
    let run = ec2
        .run_instances()
        .image_id(image)
        .min_count(1)
        .max_count(1)
        .instance_type(aws_sdk_ec2::types::InstanceType::T3Micro)
        .send()
        .await
        .unwrap();
    let iid = run.instances()[0].instance_id().unwrap().to_string();
    dangle_aws::testing::classic_elb(&cfg, "old").await;
    let src = source(&[acct], &["us-east-1"]).await;
    let e = src.enumerate().await.unwrap();
    assert!(e.gaps.is_empty(), "{:?}", e.gaps);
    let inst = e.assets.iter().find(|a| a.kind == dangle_model::cloud::kinds::aws::INSTANCE_PUBLIC_IP && a.id.ends_with(iid.as_str())).expect("the instance");
    assert!(!inst.ips.is_empty(), "{inst:#?}");
    assert!(inst.hosts.iter().any(|h| h.as_str().starts_with("ec2-")), "its public DNS name: {inst:#?}");
    assert!(inst.id.starts_with(&format!("arn:aws:ec2:us-east-1:{acct}:instance/")), "{}", inst.id);
    let eni = e.assets.iter().find(|a| a.kind == dangle_model::cloud::kinds::aws::NETWORK_INTERFACE).expect("the instance's interface");
    assert_eq!(eni.ips, inst.ips, "the interface holds the same public address");
    let clb = e.assets.iter().find(|a| a.kind == dangle_model::cloud::kinds::aws::CLASSIC_LOAD_BALANCER).expect("the classic ELB");
    assert!(clb.hosts.iter().any(|h| h.as_str().starts_with("old") && h.as_str().ends_with("elb.amazonaws.com")), "{clb:#?}");
}

/// dangle-aws in the behavioural conformance suite: two accounts and two regions in moto, an Elastic
/// IP, a load balancer and a bucket in each, faults played by a proxy in front of moto (one account's
/// AssumeRole refused, EC2 refused in one region, load balancers and S3 refused everywhere).
mod conformance_suite {
    use super::*;
    use dangle::conformance::{assert_fixture, Failure, Fixture, Pair, Seed, Slot};
    use dangle_aws::testing::faults::{Fault, FaultProxy, Scope};
    use dangle_model::cloud::{ELB, S3};
    use dangle_model::{BoxFuture, DnsName, Hides, Namespace};

    const ACCOUNTS: [&str; 2] = ["100000000101", "100000000102"];
    /// Each region and a /24 of one of its published EC2 ranges: moto hands out any address asked for.
    const REGIONS: [(&str, &str); 2] = [("us-east-1", "3.80.1"), ("eu-west-1", "18.200.1")];

    struct Aws {
        proxy: FaultProxy,
    }

    fn host(s: &str) -> Target {
        Target::Host(DnsName::parse(s).unwrap())
    }

    fn slot(namespace: Namespace, region: Option<&str>, target: Target) -> Slot {
        Slot { namespace, region: region.map(str::to_string), target }
    }

    fn rule(service: &str, region: Option<&str>, body: Option<&str>, f: Fault) -> (Scope, Fault) {
        (Scope { service: service.into(), region: region.map(str::to_string), body: body.map(str::to_string) }, f)
    }

    impl Fixture for Aws {
        fn kind(&self) -> &str {
            "aws"
        }
        fn page_size(&self) -> Option<usize> {
            // ListResourceRecordSets answers at most 300 record sets a page.
            Some(300)
        }
        fn seed_assets(&mut self) -> BoxFuture<'_, Result<Vec<Pair>, String>> {
            Box::pin(async move {
                let mut pairs = Vec::new();
                for (ai, acct) in ACCOUNTS.iter().enumerate() {
                    for (region, net) in REGIONS {
                        let cfg = moto().account(acct, region).await;
                        let ec2 = aws_sdk_ec2::Client::new(&cfg);
                        let (held, free) = (format!("{net}.{}", 10 + ai), format!("{net}.{}", 100 + ai));
                        ec2.allocate_address().address(&held).send().await.map_err(|e| e.to_string())?;
                        let ip = |s: &str| Target::Ip(s.parse().unwrap());
                        pairs.push(Pair { held: slot(Namespace::Addresses, Some(region), ip(&held)), free: slot(Namespace::Addresses, Some(region), ip(&free)) });
                        let subnets: Vec<String> =
                            ec2.describe_subnets().send().await.map_err(|e| e.to_string())?.subnets().iter().filter_map(|s| s.subnet_id().map(String::from)).take(2).collect();
                        let out = aws_sdk_elasticloadbalancingv2::Client::new(&cfg)
                            .create_load_balancer()
                            .name(format!("conf-{ai}"))
                            .set_subnets(Some(subnets))
                            .send()
                            .await
                            .map_err(|e| e.to_string())?;
                        let dns = out.load_balancers()[0].dns_name().unwrap_or_default().to_string();
                        pairs.push(Pair {
                            held: slot(Namespace::Names(ELB), Some(region), host(&dns)),
                            free: slot(Namespace::Names(ELB), Some(region), host(&format!("gone-{ai}-1234567890.{region}.elb.amazonaws.com"))),
                        });
                    }
                    let cfg = moto().account(acct, "us-east-1").await;
                    let bucket = format!("conformance-bucket-{ai}");
                    aws_sdk_s3::Client::new(&cfg).create_bucket().bucket(&bucket).send().await.map_err(|e| e.to_string())?;
                    pairs.push(Pair {
                        held: slot(Namespace::Names(S3), None, host(&format!("{bucket}.s3.amazonaws.com"))),
                        free: slot(Namespace::Names(S3), None, host(&format!("gone-{bucket}.s3.amazonaws.com"))),
                    });
                }
                Ok(pairs)
            })
        }
        fn seed_records<'a>(&'a mut self, zone_name: &'a DnsName, sets: &'a [Seed]) -> BoxFuture<'a, Result<bool, String>> {
            Box::pin(async move {
                let cfg = moto().account(ACCOUNTS[0], "us-east-1").await;
                let z = zone(&cfg, zone_name.as_str()).await;
                let rr = |s: &Seed| {
                    let (t, v) = match &s.target {
                        Target::Ip(ip) if ip.is_ipv4() => (RrType::A, ip.to_string()),
                        Target::Ip(ip) => (RrType::Aaaa, ip.to_string()),
                        Target::Host(h) => (RrType::Cname, h.as_fqdn().to_string()),
                        t => return Err(format!("no record set for target {t}")),
                    };
                    Ok(rrs(s.name.as_fqdn(), t, &[&v]))
                };
                upsert(&cfg, &z, sets.iter().map(rr).collect::<Result<_, _>>()?).await;
                Ok(true)
            })
        }
        fn failures(&self) -> Vec<Failure> {
            use Namespace::*;
            vec![
                Failure { label: format!("account {} (AssumeRole refused)", ACCOUNTS[1]), region: None, hides: Hides::Account },
                Failure { label: "ec2 refused in eu-west-1".into(), region: Some("eu-west-1".into()), hides: Hides::only(&[Addresses, Names(dangle_model::cloud::EC2)]) },
                Failure { label: "elasticloadbalancing refused".into(), region: None, hides: Hides::only(&[Addresses, Names(ELB)]) },
                Failure { label: "s3 refused".into(), region: None, hides: Hides::only(&[Names(S3)]) },
            ]
        }
        fn provider<'a>(&'a self, failure: Option<&'a Failure>) -> BoxFuture<'a, Result<Box<dyn Provider>, String>> {
            Box::pin(async move {
                let rules = match failure.map(|f| f.label.as_str()) {
                    None => vec![],
                    Some(l) if l.starts_with("account") => vec![rule("sts", None, Some(ACCOUNTS[1]), Fault::AccessDenied)],
                    Some(l) if l.starts_with("ec2") => vec![rule("ec2", Some("eu-west-1"), None, Fault::AccessDenied)],
                    Some(l) if l.starts_with("elastic") => vec![rule("elasticloadbalancing", None, None, Fault::AccessDenied)],
                    Some(_) => vec![rule("s3", None, None, Fault::AccessDenied)],
                };
                self.proxy.set(rules);
                let src = AwsSource::builder("prod")
                    .with_endpoint_url(&self.proxy.endpoint)
                    .with_credentials(Moto::credentials())
                    .with_assume_roles(ACCOUNTS.iter().map(|a| role(a)))
                    .with_regions(REGIONS.iter().map(|(r, _)| *r))
                    .with_route53_rate(50)
                    .build()
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(Box::new(src) as Box<dyn Provider>)
            })
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn aws_passes_the_conformance_suite_against_moto() {
        assert_fixture(&mut Aws { proxy: FaultProxy::start(&moto().endpoint) }).await;
    }
}

/// Accounts are read side by side, each within its own bound ([`dangle_aws::PER_ACCOUNT`]), all within
/// the run's (`concurrency`): a proxy holding every request 300 ms counts what is in flight at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_are_read_side_by_side_within_their_bound_and_the_runs() {
    use dangle_aws::testing::faults::FaultProxy;
    let accounts = ["100000000031", "100000000032", "100000000033"];
    let read = |concurrency: usize| async move {
        let proxy = FaultProxy::start(&moto().endpoint);
        proxy.set_delay(std::time::Duration::from_millis(300));
        let src = AwsSource::builder("prod")
            .with_endpoint_url(&proxy.endpoint)
            .with_credentials(Moto::credentials())
            .with_assume_roles(accounts.iter().map(|a| role(a)))
            .with_regions(["us-east-1", "eu-west-1", "us-west-2"])
            .with_route53_rate(50)
            .with_concurrency(concurrency)
            .build()
            .await
            .expect("build");
        let inv = src.enumerate().await.unwrap();
        assert!(inv.gaps.is_empty(), "{:?}", inv.gaps);
        assert_eq!(inv.covered.len(), 9, "3 accounts x 3 regions");
        proxy.most_in_flight()
    };
    // Each account has 12 reads to make (3 regions x 3 services, S3, CloudFront, Route53).
    let wide = read(64).await;
    assert_eq!(wide.per_key.len(), 3, "one session per account: {wide:?}");
    assert_eq!(wide.per_key.values().max(), Some(&dangle_aws::PER_ACCOUNT), "each account up to its bound, never past it: {wide:?}");
    assert!(wide.all > dangle_aws::PER_ACCOUNT, "accounts side by side: {wide:?}");
    let narrow = read(4).await;
    assert!(narrow.all <= 4 && narrow.all >= 2, "the run's bound: {narrow:?}");
}

/// Each account's role is assumed once per run, however many accounts: past 64 of them the SDK's
/// shared credential cache used to drop sessions and assume them again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_is_assumed_once_however_many_accounts() {
    use dangle_aws::testing::faults::FaultProxy;
    let accounts: Vec<String> = (0..80).map(|i| format!("1000000005{i:02}")).collect();
    let proxy = FaultProxy::start(&moto().endpoint);
    let src = AwsSource::builder("prod")
        .with_endpoint_url(&proxy.endpoint)
        .with_credentials(Moto::credentials())
        .with_assume_roles(accounts.iter().map(|a| role(a)))
        .with_regions(["us-east-1", "eu-west-1"])
        .with_route53_rate(50)
        .build()
        .await
        .expect("build");
    let inv = src.enumerate().await.unwrap();
    assert!(inv.gaps.is_empty(), "{:?}", inv.gaps);
    assert_eq!(inv.covered.len(), 160);
    assert_eq!(proxy.relayed("sts", "AssumeRole"), 80, "one session per account");
    assert_eq!(proxy.relayed("ec2", "DescribeAddresses"), 160, "each account and region read once");
}

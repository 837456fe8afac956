//! Read-only, proven: a full enumeration (assume-role, Organizations, every region, every service,
//! pagination) goes through a recording proxy in front of moto. Every request must be one of
//! [`dangle_aws::OPERATIONS`], each a List / Describe / Get, REST calls only GET (and HEAD, the claim
//! check's HeadBucket); and
//! examples/iam-policy.json must grant exactly those actions.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use dangle_aws::testing::{role, rrs, upsert, zone, Moto};
use dangle_aws::{AwsSource, OPERATIONS};
use dangle_model::Provider;

/// One request as the proxy saw it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Seen {
    method: String,
    path: String,
    /// Query-protocol `Action=`, or the JSON protocol's `X-Amz-Target`.
    action: Option<String>,
}

fn read_request(s: &mut TcpStream) -> Option<(Vec<u8>, Seen)> {
    let (buf, head) = dangle_aws::testing::faults::read_request(s)?;
    let mut first = head.lines().next().unwrap_or("").split_whitespace();
    let (method, path) = (first.next().unwrap_or("").to_string(), first.next().unwrap_or("").to_string());
    let body = String::from_utf8_lossy(&buf[head.len()..]).to_string();
    let action = body
        .split('&')
        .find_map(|kv| kv.strip_prefix("Action=").map(str::to_string))
        .or_else(|| head.lines().find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("x-amz-target")).map(|(_, v)| v.trim().to_string())));
    Some((buf, Seen { method, path, action }))
}

/// Relays each connection's requests to `upstream`, one at a time, recording them.
fn proxy(upstream: String, seen: Arc<Mutex<Vec<Seen>>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { continue };
            let (upstream, seen) = (upstream.clone(), seen.clone());
            std::thread::spawn(move || {
                // One request per client connection: the upstream answers `Connection: close`, so does this side.
                if let Some((raw, s)) = read_request(&mut client) {
                    seen.lock().unwrap().push(s);
                    // One request per upstream connection: ask for close, relay until EOF.
                    let text = String::from_utf8_lossy(&raw).replacen("\r\n", "\r\nConnection: close\r\n", 1);
                    let Ok(mut up) = TcpStream::connect(&upstream) else { return };
                    if up.write_all(text.as_bytes()).is_err() {
                        return;
                    }
                    let mut resp = Vec::new();
                    let _ = up.read_to_end(&mut resp);
                    let _ = client.write_all(&resp);
                }
            });
        }
    });
    format!("http://{addr}")
}

fn iam_action(s: &Seen) -> String {
    if let Some(a) = &s.action {
        // Query protocol (ec2, sts, elasticloadbalancing) or JSON target (`AWSOrganizationsV20161128.ListAccounts`).
        let op = a.rsplit('.').next().unwrap();
        return op.to_string();
    }
    // REST: Route53, S3, CloudFront.
    let p = s.path.split('?').next().unwrap();
    let op = if p.ends_with("/rrset") {
        "ListResourceRecordSets"
    } else if p.contains("/hostedzone/") {
        "GetHostedZone"
    } else if p.ends_with("/hostedzone") {
        "ListHostedZones"
    } else if p.ends_with("/distribution") {
        "ListDistributions"
    } else if p == "/" {
        "ListAllMyBuckets"
    } else if s.method == "HEAD" && p.trim_end_matches('/').matches('/').count() == 1 {
        // HeadBucket (path-style): its IAM action is s3:ListBucket.
        "ListBucket"
    } else {
        "UNKNOWN"
    };
    format!("{} {op}", s.method)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_enumeration_only_reads() {
    let moto = Moto::start();
    let acct = "300000000001";
    let cfg = moto.account(acct, "us-east-1").await;
    let z = zone(&cfg, "ro.example").await;
    upsert(&cfg, &z, (0..350).map(|i| rrs(&format!("h{i}.ro.example."), aws_sdk_route53::types::RrType::A, &["192.0.2.1"])).collect()).await;
    aws_sdk_ec2::Client::new(&cfg).allocate_address().send().await.unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let endpoint = proxy(moto.endpoint.trim_start_matches("http://").to_string(), seen.clone());
    let src = AwsSource::builder("ro")
        .with_endpoint_url(endpoint)
        .with_credentials(Moto::credentials())
        .with_assume_roles([role(acct)])
        .with_organization_role("dangle-readonly")
        .with_route53_rate(50)
        .build()
        .await
        .unwrap();
    let e = src.enumerate().await.unwrap();
    assert!(e.assets.iter().any(|a| a.kind == dangle_model::cloud::kinds::aws::ELASTIC_IP));
    // The claim checks read too: HeadBucket of a name a dangling record could point at.
    let q = [dangle_model::ClaimQuery { service: dangle_model::cloud::S3, key: "ro-no-such-bucket".into(), region: None, host: dangle_model::DnsName::parse("ro-no-such-bucket.s3.amazonaws.com").unwrap() }];
    let answers = src.check_names(&q).await;
    assert_eq!(answers[0].as_ref().map(|a| a.claim), Some(dangle_model::Claim::Available), "{answers:?}");
    let seen = seen.lock().unwrap().clone();
    let actions: BTreeSet<String> = seen.iter().map(iam_action).collect();
    // Every region (no `regions` given), every service, and a second Route53 page were exercised.
    for want in ["DescribeRegions", "DescribeAddresses", "DescribeInstances", "DescribeNetworkInterfaces", "DescribeLoadBalancers", "ListAccounts", "AssumeRole", "GetCallerIdentity", "GET ListResourceRecordSets", "GET GetHostedZone", "GET ListHostedZones", "GET ListAllMyBuckets", "GET ListDistributions", "HEAD ListBucket"] {
        assert!(actions.contains(want), "{want} was never called: {actions:?}");
    }
    let rrset_pages = seen.iter().filter(|s| s.path.contains("/rrset")).count();
    assert!(rrset_pages >= 2, "pagination was not exercised ({rrset_pages} pages)");
    let allowed: BTreeSet<&str> = OPERATIONS.iter().map(|o| o.split(':').nth(1).unwrap()).collect();
    for s in &seen {
        let a = iam_action(s);
        let (method, op) = a.split_once(' ').map(|(m, o)| (Some(m), o)).unwrap_or((None, a.as_str()));
        assert!(op.starts_with("List") || op.starts_with("Describe") || op.starts_with("Get") || op == "AssumeRole", "a write: {s:?}");
        assert!(allowed.contains(op), "{op} is not in OPERATIONS: {s:?}");
        if let Some(m) = method {
            assert!(m == "GET" || m == "HEAD", "a REST call that is neither GET nor HEAD: {s:?}");
        }
    }
}

#[test]
fn the_iam_policy_grants_exactly_the_operations() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/iam-policy.json")).unwrap();
    let mut granted: BTreeSet<String> = BTreeSet::new();
    let mut in_action = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("\"Action\"") {
            in_action = true;
        }
        if in_action {
            for part in t.split('"').skip(1).step_by(2) {
                if part.contains(':') {
                    granted.insert(part.to_string());
                }
            }
            if t.contains(']') {
                in_action = false;
            }
        }
    }
    let ops: BTreeSet<String> = OPERATIONS.iter().map(|s| s.to_string()).collect();
    assert_eq!(granted, ops, "examples/iam-policy.json and dangle_aws::OPERATIONS differ");
    for op in &ops {
        let name = op.split(':').nth(1).unwrap();
        assert!(name.starts_with("List") || name.starts_with("Describe") || name.starts_with("Get") || name == "AssumeRole", "{op}");
    }
}

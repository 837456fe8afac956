//! The engine on an AWS estate in moto: two accounts, three regions, seeded through the SDK, scanned
//! through `scan` exactly as the binary does (config, store, judgement), then read back from the store.

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;

use aws_sdk_route53::types::{AliasTarget, ResourceRecordSet, RrType};
use dangle::config::Config;
use dangle::store::Store;
use dangle::rows::ReportRow;
use dangle::reconcile::Status;
use dangle_aws::testing::{classic_elb, name_servers, role, rrs, upsert, zone, Moto};

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
    scan_out(dir, config, None).await
}

/// [`scan`], writing every report file into `out` too.
async fn scan_out(dir: &Path, config: &str, out: Option<std::path::PathBuf>) -> (Store, i64) {
    std::fs::write(dir.join("dangle.toml"), config).unwrap();
    let path = dir.join("dangle.toml");
    tokio::task::spawn_blocking(move || {
        let cfg = Config::load(&path).unwrap();
        let mut store = Store::open(&cfg.db).unwrap();
        let outputs = dangle::pipeline::Outputs { dir: out.as_deref(), ..Default::default() };
        let run = dangle::pipeline::scan_into(&cfg, &mut store, false, std::time::Duration::from_secs(60), outputs).unwrap().run;
        (store, run)
    })
    .await
    .unwrap()
}

fn by_name(rows: &[ReportRow]) -> HashMap<(String, String), &ReportRow> {
    rows.iter().map(|r| ((r.record_name.clone(), if r.set_id.is_empty() { r.record_type.to_string() } else { r.set_id.clone() }), r)).collect()
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
    let sub_ns: Vec<String> = name_servers(&b, &sub).await.iter().map(|n| format!("{n}.")).collect();
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
    assert!(subs.len() == 4 && subs.iter().all(|r| r.status == Status::Owned), "{subs:#?}");
    let apex_ns: Vec<_> = all.iter().filter(|r| r.record_type == "NS" && r.record_name == r.zone).collect();
    assert!(apex_ns.iter().all(|r| r.status == Status::Owned), "{apex_ns:#?}");

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
    let down = dangle_aws::testing::closed_endpoint();
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
endpoint_url = "{down}"
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
    assert_eq!(x.status, Status::Unverified, "{x:#?}");
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

/// The fault matrix: for every AWS service dangle calls, and every way a call can fail (refused,
/// throttled past retries, timed out, cut off, answered with garbage or half an answer, a region not
/// enabled), one scan of the whole binary through a fault-injecting proxy in front of moto. Each
/// must name the failed scope as a gap, turn exactly the records that scope could hide `unverified`
/// — never `dangling` — and exit 3. docs/hardening.md's table is generated from what this test saw
/// (`DANGLE_BLESS=1` rewrites it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_matrix_every_service_and_fault_is_a_gap_never_dangling() {
    use dangle_aws::testing::faults::{Fault, FaultProxy, Scope};
    let m = moto();
    let acct = "200000000009";
    let east = m.account(acct, "us-east-1").await;
    let (eip_east, _) = eip(acct, "us-east-1").await;
    let (eip_west, _) = eip(acct, "eu-west-1").await;
    let (alb_dns, _) = alb(acct, "us-east-1", "matrix").await;
    let clb_dns = classic_elb(&east, "classic").await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&east).force_path_style(true).build());
    s3.create_bucket().bucket("matrix-assets").send().await.unwrap();
    use aws_sdk_cloudfront::types::{DefaultCacheBehavior, DistributionConfig, Origin, Origins, ViewerProtocolPolicy};
    let dist = aws_sdk_cloudfront::Client::new(&east)
        .create_distribution()
        .distribution_config(
            DistributionConfig::builder()
                .caller_reference("matrix")
                .comment("")
                .enabled(true)
                .origins(Origins::builder().quantity(1).items(Origin::builder().id("o").domain_name("matrix-assets.s3.amazonaws.com").build().unwrap()).build().unwrap())
                .default_cache_behavior(DefaultCacheBehavior::builder().target_origin_id("o").viewer_protocol_policy(ViewerProtocolPolicy::AllowAll).build().unwrap())
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let cdn = dist.distribution().unwrap().domain_name().to_string();
    let sub = zone(&east, "sub.faults.test").await;
    let sub_ns: Vec<String> = name_servers(&east, &sub).await.iter().map(|n| format!("sub NS {n}.\n")).collect();

    // The judged records live in a zone file, so a failing Route53 cannot hide them.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("faults.test.zone"),
        format!(
            "$ORIGIN faults.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 1h 15m 1w 300\n@ NS ns1\nns1 A 10.0.0.53\n\
             eip-east A {eip_east}\neip-west A {eip_west}\nalb CNAME {alb_dns}.\nclb CNAME {clb_dns}.\n\
             bucket CNAME matrix-assets.s3.amazonaws.com.\ncdn CNAME {cdn}.\n{}",
            sub_ns.concat()
        ),
    )
    .unwrap();
    let config = |endpoint: &str| {
        format!(
            "[[providers]]\ntype = \"zonefile\"\nname = \"zones\"\npath = \"faults.test.zone\"\n\n\
             [[providers]]\ntype = \"aws\"\nname = \"aws\"\nregions = [\"us-east-1\", \"eu-west-1\"]\nassume_roles = [\"{}\"]\n\
             endpoint_url = \"{endpoint}\"\ntimeout_secs = 1\n\n[[ranges]]\ncidr = \"127.0.0.0/8\"\nprovider = \"aws\"\nclaimable = true\n\n[probe]\nenabled = false\n",
            role(acct)
        )
    };
    // What each service's failure may hide (the records that must turn unverified), and the gap services it names.
    let services: [(&str, &[&str], &[&str]); 6] = [
        ("sts", &["alb", "bucket", "cdn", "clb", "eip-east", "eip-west", "sub"], &["sts"]),
        ("route53", &["sub"], &["route53"]),
        ("ec2", &["eip-east", "eip-west"], &["ec2"]),
        ("elasticloadbalancing", &["alb", "clb"], &["elb", "elbv2"]),
        ("s3", &["bucket"], &["s3"]),
        ("cloudfront", &["cdn"], &["cloudfront"]),
    ];
    let regional = ["ec2", "elasticloadbalancing"];
    let bin = env!("CARGO_BIN_EXE_dangle");
    let run = |dir: &Path, endpoint: &str, name: &str| -> (i32, String, String) {
        let d = dir.join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::copy(dir.join("faults.test.zone"), d.join("faults.test.zone")).unwrap();
        std::fs::write(d.join("dangle.toml"), config(endpoint)).unwrap();
        let o = std::process::Command::new(bin)
            .args(["scan", "--format", "csv", "--out", "out"])
            .current_dir(&d)
            .env("HOME", &d)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .unwrap();
        let gaps = std::fs::read_to_string(d.join("out/gaps.csv")).unwrap_or_default();
        (o.status.code().unwrap_or(-1), std::fs::read_to_string(d.join("out/records.csv")).unwrap_or_default(), gaps + &String::from_utf8_lossy(&o.stderr))
    };
    let status_of = |csv: &str| -> std::collections::BTreeMap<String, String> {
        csv.lines()
            .skip(1)
            .filter_map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                let name = f[0].strip_suffix(".faults.test")?;
                Some((name.to_string(), f[7].to_string()))
            })
            .fold(std::collections::BTreeMap::new(), |mut m, (n, s)| {
                // A record's status is the worst of its rows.
                let rank = |s: &str| ["owned", "external", "unverified", "dangling"].iter().position(|x| *x == s).unwrap_or(0);
                let e = m.entry(n).or_insert_with(|| s.clone());
                if rank(&s) > rank(e) {
                    *e = s;
                }
                m
            })
    };
    // Without a fault: everything owned, exit 0.
    let clean = FaultProxy::start(&m.endpoint);
    let (rc, rows, err) = run(dir.path(), &clean.endpoint, "clean");
    assert_eq!(rc, 0, "{err}\n{rows}");
    let base = status_of(&rows);
    assert!(["alb", "bucket", "cdn", "clb", "eip-east", "eip-west", "sub"].iter().all(|n| base.get(*n).map(String::as_str) == Some("owned")), "{base:#?}");

    // Every cell at once: most of a cell's time is the SDK's back-off between retries.
    let mut cases = Vec::new();
    for f in Fault::ALL {
        for (svc, hidden, gap_services) in services {
            if f == Fault::RegionNotEnabled && !regional.contains(&svc) {
                continue;
            }
            cases.push((f, svc, hidden, gap_services));
        }
    }
    let results: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = cases
            .iter()
            .map(|&(f, svc, hidden, gap_services)| {
                let (dir, run) = (dir.path(), &run);
                scope.spawn(move || {
                    let region = (f == Fault::RegionNotEnabled).then(|| "eu-west-1".to_string());
                    let proxy = FaultProxy::start_with(&m.endpoint, vec![(Scope { service: svc.to_string(), region, body: None }, f)]);
                    let (rc, rows, gaps) = run(dir, &proxy.endpoint, &format!("{svc}-{f:?}"));
                    (f, svc, hidden, gap_services, rc, rows, gaps, proxy.hits().len())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut cells: std::collections::BTreeMap<(Fault, &str), String> = std::collections::BTreeMap::new();
    for (f, svc, hidden, gap_services, rc, rows, gaps, hits) in results {
        let at = format!("{svc} × {}", f.name());
        assert!(hits > 0, "{at}: the proxy never saw a request to fail");
        assert_eq!(rc, 3, "{at}: exit code\n{gaps}\n{rows}");
        let st = status_of(&rows);
        let mut want_hidden: Vec<&str> = hidden.to_vec();
        if f == Fault::RegionNotEnabled {
            // Only eu-west-1 fails, and the only asset there is eip-west: what us-east-1 holds stays owned.
            want_hidden.retain(|n| *n == "eip-west");
        }
        let unverified: Vec<&str> = st.iter().filter(|(_, s)| *s == "unverified").map(|(n, _)| n.as_str()).collect();
        let dangling: Vec<&str> = st.iter().filter(|(_, s)| *s == "dangling").map(|(n, _)| n.as_str()).collect();
        assert!(dangling.is_empty(), "{at}: a failure made {dangling:?} dangling\n{gaps}");
        assert_eq!(unverified, want_hidden, "{at}: unverified\n{gaps}");
        for (n, s) in &st {
            if !want_hidden.contains(&n.as_str()) {
                assert_eq!(Some(s), base.get(n), "{at}: {n} moved although the failure cannot hide it");
            }
        }
        let gap_lines: Vec<&str> = gaps.lines().skip(1).take_while(|l| l.starts_with("aws,")).collect();
        for l in &gap_lines {
            // A person reads these: no `Debug` dump of an SDK type.
            assert!(!l.contains(" { ") && !l.contains("Some(") && !l.contains("\"\""), "{at}: {l}");
        }
        let named: std::collections::BTreeSet<&str> = gap_lines.iter().filter_map(|l| l.split(',').nth(3)).collect();
        assert_eq!(named, gap_services.iter().copied().collect(), "{at}: gap services\n{gaps}");
        let regions: std::collections::BTreeSet<&str> = gap_lines.iter().filter_map(|l| l.split(',').nth(2)).filter(|r| !r.is_empty()).collect();
        if f == Fault::RegionNotEnabled {
            assert_eq!(regions, ["eu-west-1"].into_iter().collect(), "{at}: only the region that failed\n{gaps}");
        }
        let gap_text = gap_services.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(" + ");
        let regions_text = if regions.is_empty() { String::new() } else { format!(" ({})", regions.into_iter().collect::<Vec<_>>().join(", ")) };
        cells.insert((f, svc), format!("{gap_text}{regions_text} → {} unverified", want_hidden.len()));
    }
    // docs/hardening.md's table.
    let mut table = String::from("| fault | ");
    table.push_str(&services.iter().map(|(s, _, _)| format!("`{s}`")).collect::<Vec<_>>().join(" | "));
    table.push_str(" |\n| --- |");
    table.push_str(&" --- |".repeat(services.len()));
    table.push('\n');
    for f in Fault::ALL {
        table.push_str(&format!("| {} |", f.name()));
        for (svc, _, _) in services {
            table.push_str(&format!(" {} |", cells.get(&(f, svc)).map(String::as_str).unwrap_or("—")));
        }
        table.push('\n');
    }
    let readme_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/hardening.md");
    let readme = std::fs::read_to_string(&readme_path).unwrap();
    let (start, end) = ("<!-- fault-matrix:start -->\n", "<!-- fault-matrix:end -->");
    let (Some(a), Some(b)) = (readme.find(start), readme.find(end)) else { panic!("docs/hardening.md lacks the fault-matrix markers") };
    let current = &readme[a + start.len()..b];
    if current != table {
        if std::env::var_os("DANGLE_BLESS").is_some() {
            std::fs::write(&readme_path, format!("{}{table}{}", &readme[..a + start.len()], &readme[b..])).unwrap();
        } else {
            panic!("docs/hardening.md's fault matrix is not what this test saw; run it with DANGLE_BLESS=1 to rewrite it. Saw:\n{table}");
        }
    }
}

const C: &str = "200000000003";

/// Applies a `change-resource-record-sets` batch as the AWS CLI would: boto3 (moto's own dependency,
/// in the same virtualenv) validates it against Route53's API model and sends it to moto.
fn apply_batch(account: &str, zone_id: &str, batch: &serde_json::Value) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("batch.json");
    std::fs::write(&path, serde_json::to_vec_pretty(batch).unwrap()).unwrap();
    let script = r#"
import boto3, json, sys
ep, role, zone, path = sys.argv[1:]
kw = dict(endpoint_url=ep, region_name="us-east-1")
c = boto3.client("sts", aws_access_key_id="testing", aws_secret_access_key="testing", **kw).assume_role(RoleArn=role, RoleSessionName="apply")["Credentials"]
r53 = boto3.client("route53", aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"], **kw)
r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch=json.load(open(path)))
"#;
    let out = std::process::Command::new(dangle_aws::testing::venv().join("bin/python"))
        .args(["-c", script, &moto().endpoint, &role(account), zone_id])
        .arg(&path)
        .output()
        .expect("run the virtualenv's python (scripts/setup)");
    assert!(out.status.success(), "the batch did not apply:\n{}\n{}", String::from_utf8_lossy(&out.stderr), serde_json::to_string_pretty(batch).unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checklist_writes_route53_batches_that_apply_as_they_are() {
    let m = moto();
    let c = m.account(C, "us-east-1").await;
    let (going, _) = eip(C, "us-east-1").await;
    let (staying, _) = eip(C, "us-east-1").await;
    let (lb, lb_arn) = alb(C, "us-east-1", "decom").await;
    let z = zone(&c, "decom.test").await;
    let mut weighted = rrs("w.decom.test.", RrType::A, &[&going]);
    weighted.set_identifier = Some("blue".into());
    weighted.weight = Some(10);
    let apex = ResourceRecordSet::builder()
        .name("decom.test.")
        .r#type(RrType::A)
        .alias_target(AliasTarget::builder().dns_name(format!("dualstack.{lb}.")).hosted_zone_id("Z35SXDOTRQ7X7K").evaluate_target_health(true).build().unwrap())
        .build()
        .unwrap();
    upsert(
        &c,
        &z,
        vec![
            rrs("only.decom.test.", RrType::A, &[&going]),
            rrs("two.decom.test.", RrType::A, &[&going, &staying]),
            weighted,
            apex,
            rrs("follow.decom.test.", RrType::Cname, &["only.decom.test."]),
            rrs("keep.decom.test.", RrType::A, &[&staying]),
        ],
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[[providers]]\ntype = \"aws\"\nname = \"org\"\nregions = [\"us-east-1\"]\nassume_roles = [\"{}\"]\nendpoint_url = \"{}\"\n",
        role(C),
        m.endpoint
    );
    let targets = [going.clone(), lb_arn.clone()];
    let (store, run) = scan(dir.path(), &config).await;
    let (rows, assets) = (store.rows(run).unwrap(), store.assets(run).unwrap());
    let hits = dangle::commands::checklist::checklist(&rows, &assets, &targets).unwrap();
    let names: Vec<&str> = hits.iter().map(|h| h.record_name.as_str()).collect();
    assert!(names.contains(&"follow.decom.test") && !names.contains(&"keep.decom.test"), "{names:?}");
    let changes = dangle::commands::checklist::changes(&store, run, &rows, &hits, &targets, &dangle::providers::registry()).unwrap();
    assert_eq!(changes.of("route53").len(), 1, "one batch for the one hosted zone");
    let dangle_model::change::Change::Batch(b) = &changes.of("route53")[0] else { panic!("a Route53 change is a batch") };
    assert_eq!(b.hosted_zone_id, z);
    assert!(b.command.starts_with(&format!("aws route53 change-resource-record-sets --hosted-zone-id {z} ")), "{}", b.command);
    let by_name: HashMap<&str, &serde_json::Value> =
        b.batch["Changes"].as_array().unwrap().iter().map(|c| (c["ResourceRecordSet"]["Name"].as_str().unwrap(), c)).collect();
    assert_eq!(by_name.len(), 4, "only the records that point at the targets themselves: {:#}", b.batch);
    assert_eq!(by_name["only.decom.test."]["Action"], "DELETE");
    // One of two values goes: the set is rewritten with the other.
    let two = by_name["two.decom.test."];
    assert_eq!(two["Action"], "UPSERT");
    assert_eq!(two["ResourceRecordSet"]["ResourceRecords"], serde_json::json!([{ "Value": staying }]));
    // A weighted set and an alias are named with every field Route53 matches a DELETE on.
    let w = &by_name["w.decom.test."]["ResourceRecordSet"];
    assert_eq!((w["SetIdentifier"].as_str(), w["Weight"].as_i64(), w["TTL"].as_i64()), (Some("blue"), Some(10), Some(300)));
    let alias = &by_name["decom.test."]["ResourceRecordSet"]["AliasTarget"];
    assert_eq!((alias["HostedZoneId"].as_str(), alias["EvaluateTargetHealth"].as_bool()), (Some("Z35SXDOTRQ7X7K"), Some(true)));

    apply_batch(C, &z, &b.batch);
    // Scanned again: nothing reaches the targets directly; the set that kept a value still has it.
    let (store, run) = scan(dir.path(), &config).await;
    let rows = store.rows(run).unwrap();
    let hits = dangle::commands::checklist::checklist(&rows, &store.assets(run).unwrap(), &targets).unwrap();
    assert!(hits.iter().all(|h| !h.via.is_empty() || h.record_name == "follow.decom.test"), "{hits:#?}");
    let two: Vec<String> = rows.iter().filter(|r| r.record_name == "two.decom.test").map(|r| r.target_text()).collect();
    assert_eq!(two, [staying.as_str()]);
    assert!(!rows.iter().any(|r| r.record_name == "only.decom.test" || r.record_name == "w.decom.test"));
}

const D: &str = "200000000004";
const E: &str = "200000000005";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_checks_say_whether_a_dangling_bucket_name_is_free_or_held() {
    let m = moto();
    let d = m.account(D, "us-east-1").await;
    // Someone else's account holds one of the names our records point at.
    let e = m.account(E, "us-east-1").await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&e).force_path_style(true).build());
    s3.create_bucket().bucket("claim-held-by-another").send().await.unwrap();
    let z = zone(&d, "claim.test").await;
    upsert(
        &d,
        &z,
        vec![
            rrs("free.claim.test.", RrType::Cname, &["claim-free-nobody-has.s3.amazonaws.com."]),
            rrs("held.claim.test.", RrType::Cname, &["claim-held-by-another.s3.amazonaws.com."]),
        ],
    )
    .await;
    let config = |signals: &str| {
        format!("[[providers]]\ntype = \"aws\"\nname = \"org\"\nregions = [\"us-east-1\"]\nassume_roles = [\"{}\"]\nendpoint_url = \"{}\"\n{signals}", role(D), m.endpoint)
    };
    let dir = tempfile::tempdir().unwrap();
    let (store, run) = scan_out(dir.path(), &config(""), Some(dir.path().join("scan-out"))).await;
    // The files the scan wrote from memory are the files `report --run` writes from the store, claim
    // checks and all.
    let report = dangle::report::Report::load(&store, run).unwrap();
    report.write_dir(&dangle::report::Stored { store: &store, run }, &dir.path().join("report-out")).unwrap();
    for f in ["records.csv", "findings.csv", "report.md", "report.json", "report.sarif", "report.html"] {
        let (a, b) = (std::fs::read(dir.path().join("scan-out").join(f)).unwrap(), std::fs::read(dir.path().join("report-out").join(f)).unwrap());
        assert!(a == b, "{f} differs between the scan and report --run");
    }
    let all = store.rows(run).unwrap();
    let rows = by_name(&all);
    let free = rows[&("free.claim.test".to_string(), "CNAME".to_string())];
    assert_eq!((free.status, free.severity.as_str(), free.confidence.as_str()), (Status::Dangling, "high", "confirmed"), "{free:#?}");
    assert!(free.reason.contains("checked now: no S3 bucket `claim-free-nobody-has` exists") && free.reason.ends_with("anyone can create it now"), "{}", free.reason);
    let held = rows[&("held.claim.test".to_string(), "CNAME".to_string())];
    assert_eq!((held.severity.as_str(), held.kind.as_str(), held.confidence.as_str()), ("critical", "takeover-suspected", "confirmed"), "{held:#?}");
    assert!(held.reason.contains("someone else holds it"), "{}", held.reason);
    // Off in the config: the same rows, judged by the inventory alone.
    let (store, run) = scan(dir.path(), &config("[signals]\nclaim_checks = false\n")).await;
    let all = store.rows(run).unwrap();
    let held = by_name(&all)[&("held.claim.test".to_string(), "CNAME".to_string())].clone();
    assert_eq!((held.severity.as_str(), held.confidence.as_str()), ("high", "tentative"));
    assert!(!held.reason.contains("checked now"), "{}", held.reason);
}

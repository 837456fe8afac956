//! Table tests for every judgement rule, named after the case they guard.

use super::ranges::DeclaredRange;
use super::*;
use dangle_model::cloud::{ELB, EC2, S3};
use dangle_model::Namespace::{Addresses, Names, Zones};
use dangle_model::{AssetKind, Cloud, Hides};

/// The kinds of provider these tests configure: a cloud's (as its crate describes itself) or a
/// static list.
#[derive(Clone, Copy)]
enum Kind {
    Cloud(Cloud),
    Static,
}
const AWS: Kind = Kind::Cloud(Cloud::AWS);
const STATIC: Kind = Kind::Static;

impl Kind {
    fn info(self, name: &str) -> ProviderInfo {
        let (kind, description) = match self {
            Kind::Cloud(c) if c == Cloud::AWS => (Cloud::AWS.as_str(), dangle_aws::description()),
            Kind::Cloud(c) => (
                c.as_str(),
                Description { cloud: Some(c), covers: vec![Addresses, Namespace::Resources, Namespace::NameServers, Zones] },
            ),
            Kind::Static => ("static", Description { cloud: None, covers: vec![Addresses] }),
        };
        ProviderInfo { name: name.into(), kind: kind.into(), description }
    }
}

fn gap(source: &str, account: &str, region: Option<&str>, service: &str, error: &str, hides: Hides) -> CoverageGap {
    CoverageGap { source: source.into(), account: account.into(), region: region.map(Arc::from), service: service.into(), error: error.into(), hides }
}

fn n(s: &str) -> DnsName {
    DnsName::parse(s).unwrap()
}

fn target(s: &str) -> Target {
    if let Ok(ip) = s.parse() {
        Target::Ip(ip)
    } else if let Some(a) = s.strip_prefix("alias:") {
        Target::Alias { dns_name: n(a), zone_id: "Z1".into() }
    } else if let Some(id) = s.strip_prefix("res:") {
        Target::Resource { id: id.into() }
    } else {
        Target::Host(n(s))
    }
}

#[derive(Default)]
struct World {
    records: Vec<DnsRecord>,
    assets: Vec<Asset>,
    gaps: Vec<CoverageGap>,
    covered: Vec<Coverage>,
    providers: Vec<ProviderInfo>,
    declared: Vec<DeclaredRange>,
    history: History,
}

impl World {
    fn rec(&mut self, zone: &str, name: &str, rtype: &str, targets: &[&str]) -> &mut Self {
        self.rec_set(zone, name, rtype, None, targets)
    }
    fn rec_set(&mut self, zone: &str, name: &str, rtype: &str, set: Option<&str>, targets: &[&str]) -> &mut Self {
        self.records.push(DnsRecord {
            source: "zones".into(),
            account: "zones/x.zone".into(),
            zone: n(zone),
            zone_private: false,
            name: n(name),
            rtype: rtype.parse().unwrap(),
            ttl: 300,
            set_id: set.map(Arc::from),
            targets: targets.iter().map(|t| target(t)).collect(),
            location: None,
            spec: None,
        });
        self
    }
    fn asset(&mut self, source: &str, kind: AssetKind, id: &str, region: Option<&str>, ips: &[&str], hosts: &[&str]) -> &mut Self {
        self.assets.push(Asset {
            source: source.into(),
            account: "111111111111".into(),
            region: region.map(Arc::from),
            kind,
            id: id.into(),
            ips: ips.iter().map(|i| dangle_model::parse_ip_or_cidr(i).unwrap()).collect(),
            hosts: hosts.iter().map(|h| n(h)).collect(),
        });
        self
    }
    /// A provider `name` of `kind`, covering `regions` (None: all).
    fn provider(&mut self, name: &str, kind: Kind, regions: Option<&[&str]>) -> &mut Self {
        self.providers.push(kind.info(name));
        let cov = |region: Option<&str>| Coverage { source: name.into(), account: "111111111111".into(), region: region.map(Arc::from) };
        match regions {
            None => self.covered.push(cov(None)),
            Some(rs) => self.covered.extend(rs.iter().map(|r| cov(Some(r)))),
        }
        self
    }
    fn gap(&mut self, source: &str, region: Option<&str>) -> &mut Self {
        self.gaps.push(gap(source, "222222222222", region, "ec2", "AccessDenied", Hides::only(&[Addresses, Names(EC2)])));
        self
    }
    fn declare(&mut self, cidr: &str, provider: &str, claimable: Option<Claimable>) -> &mut Self {
        self.declared.push(DeclaredRange { cidr: cidr.parse().unwrap(), provider: provider.into(), region: None, service: None, claimable });
        self
    }
    fn judge(&self) -> Vec<Row> {
        let ranges = Ranges::new(&self.declared);
        let inputs = Inputs {
            records: &self.records,
            assets: &self.assets,
            gaps: &self.gaps,
            covered: &self.covered,
            providers: &self.providers,
            ranges: &ranges,
            history: &self.history,
        };
        let first = reconcile(&inputs);
        assert_eq!(first, reconcile(&inputs), "reconcile is not deterministic");
        let explain = inputs.explainer();
        first
            .into_iter()
            .map(|j| {
                let r = &self.records[j.record as usize];
                Row {
                    name: r.name.to_string(),
                    rtype: r.rtype.to_string(),
                    set: r.set_id.as_deref().map(str::to_string),
                    target: j.target(&self.records).map(|t| t.to_string()).unwrap_or_default(),
                    status: j.status,
                    claimable: j.claimable,
                    severity: j.severity,
                    reason: explain.render(&j.reason),
                }
            })
            .collect()
    }
}

#[derive(Debug)]
#[allow(dead_code)]
struct Row {
    name: String,
    rtype: String,
    set: Option<String>,
    target: String,
    status: Status,
    claimable: Claimable,
    severity: Severity,
    reason: String,
}

fn row<'a>(rows: &'a [Row], name: &str, target: &str) -> &'a Row {
    rows.iter().find(|r| r.name == name && r.target == target).unwrap_or_else(|| panic!("no row {name} -> {target} in {rows:#?}"))
}

#[track_caller]
fn expect(rows: &[Row], name: &str, target: &str, status: Status, claimable: Claimable, severity: Severity, reason_has: &str) {
    let r = row(rows, name, target);
    assert_eq!((r.status, r.claimable, r.severity), (status, claimable, severity), "{r:#?}");
    assert!(r.reason.contains(reason_has), "reason of {name} -> {target} lacks `{reason_has}`: {}", r.reason);
}

use Claimable::{No, Unknown, Yes};
use Severity::{High, Info, Low, Medium};
use Status::{Dangling, External, NoTarget, Owned, Unverified};

#[test]
fn severity_table() {
    assert_eq!(severity(Dangling, Yes, true), Severity::Critical);
    assert_eq!(severity(Dangling, No, true), Severity::Critical);
    assert_eq!(severity(Dangling, Yes, false), High);
    assert_eq!(severity(Dangling, Unknown, false), Medium);
    assert_eq!(severity(Dangling, No, false), Medium);
    assert_eq!(severity(External, Yes, false), Low);
    assert_eq!(severity(Unverified, Yes, false), Low);
    assert_eq!(severity(Unverified, Unknown, false), Info);
    assert_eq!(severity(External, No, false), Info);
    assert_eq!(severity(Owned, Yes, false), Info);
}

#[test]
fn ip_rules_owned_dangling_unverified_external() {
    let mut w = World::default();
    w.provider("onprem", STATIC, None)
        .declare("198.51.100.0/24", "static", Some(Yes))
        .asset("onprem", AssetKind::STATIC, "web", None, &["198.51.100.10"], &[])
        .rec("example.com", "web.example.com", "A", &["198.51.100.10"])
        .rec("example.com", "old.example.com", "A", &["198.51.100.99"])
        .rec("example.com", "lan.example.com", "A", &["10.1.2.3"])
        .rec("example.com", "aws.example.com", "A", &["3.5.140.7"])
        .rec("example.com", "txt.example.com", "TXT", &[]);
    let rows = w.judge();
    expect(&rows, "web.example.com", "198.51.100.10", Owned, No, Info, "held by static web");
    expect(&rows, "old.example.com", "198.51.100.99", Dangling, Yes, High, "declared range 198.51.100.0/24");
    expect(&rows, "lan.example.com", "10.1.2.3", External, Unknown, Info, "outside every judged range");
    expect(&rows, "aws.example.com", "3.5.140.7", External, Unknown, Info, "AWS is not enumerated");
    expect(&rows, "txt.example.com", "", NoTarget, No, Info, "nothing to judge");
}

#[test]
fn gap_makes_unverified_never_dangling() {
    let mut w = World::default();
    w.provider("prod", AWS, None).gap("prod", Some("ap-northeast-2")).rec("example.com", "a.example.com", "A", &["3.5.140.7"]);
    let rows = w.judge();
    expect(&rows, "a.example.com", "3.5.140.7", Unverified, Yes, Low, "coverage gap");
    // A gap in another region leaves this one judged.
    let mut w = World::default();
    w.provider("prod", AWS, None).gap("prod", Some("eu-west-1")).rec("example.com", "a.example.com", "A", &["3.5.140.7"]);
    expect(&w.judge(), "a.example.com", "3.5.140.7", Dangling, Yes, High, "AWS space (ap-northeast-2, EC2)");
}

#[test]
fn region_not_enumerated_is_unverified() {
    let mut w = World::default();
    w.provider("prod", AWS, Some(&["us-east-1"]))
        .rec("example.com", "a.example.com", "A", &["3.5.140.7"])
        .rec("example.com", "lb.example.com", "CNAME", &["my-alb-123.ap-south-1.elb.amazonaws.com"]);
    let rows = w.judge();
    expect(&rows, "a.example.com", "3.5.140.7", Unverified, Yes, Low, "region ap-northeast-2 was not enumerated");
    expect(&rows, "lb.example.com", "my-alb-123.ap-south-1.elb.amazonaws.com", Unverified, No, Info, "region ap-south-1");
}

#[test]
fn declared_range_vs_published_range() {
    let mut w = World::default();
    w.provider("dc", STATIC, None)
        .declare("3.5.140.0/24", "dc", Some(No))
        .rec("example.com", "a.example.com", "A", &["3.5.140.7"])
        .rec("example.com", "b.example.com", "A", &["3.5.141.7"]);
    let rows = w.judge();
    expect(&rows, "a.example.com", "3.5.140.7", Dangling, No, Medium, "declared range 3.5.140.0/24 of `dc`");
    expect(&rows, "b.example.com", "3.5.141.7", External, Unknown, Info, "AWS");
}

#[test]
fn v6_cidr_ownership() {
    let mut w = World::default();
    w.provider("dc", STATIC, None)
        .declare("2001:db8::/32", "static", None)
        .asset("dc", AssetKind::STATIC, "v6-block", None, &["2001:db8:100::/48"], &[])
        .rec("example.com", "v6.example.com", "AAAA", &["2001:db8:100::5"])
        .rec("example.com", "gone6.example.com", "AAAA", &["2001:db8:200::1"]);
    let rows = w.judge();
    expect(&rows, "v6.example.com", "2001:db8:100::5", Owned, No, Info, "v6-block");
    expect(&rows, "gone6.example.com", "2001:db8:200::1", Dangling, Unknown, Medium, "2001:db8::/32");
}

#[test]
fn cname_chain_across_zones_and_apex() {
    let mut w = World::default();
    w.provider("dc", STATIC, None)
        .asset("dc", AssetKind::STATIC, "web", None, &["192.0.2.10"], &[])
        .rec("a.test", "www.a.test", "CNAME", &["app.b.test"])
        .rec("b.test", "app.b.test", "CNAME", &["b.test"])
        .rec("b.test", "b.test", "A", &["192.0.2.10"]);
    let rows = w.judge();
    expect(&rows, "www.a.test", "app.b.test", Owned, No, Info, "via app.b.test: via b.test: held by static web");
    expect(&rows, "b.test", "192.0.2.10", Owned, No, Info, "held by");
}

#[test]
fn cname_loop_is_dangling_not_a_hang() {
    let mut w = World::default();
    w.rec("example.com", "a.example.com", "CNAME", &["b.example.com"]).rec("example.com", "b.example.com", "CNAME", &["a.example.com"]);
    let rows = w.judge();
    expect(&rows, "a.example.com", "b.example.com", Dangling, No, Medium, "CNAME loop: b.example.com → a.example.com → b.example.com");
}

#[test]
fn chain_longer_than_the_limit_is_unverified() {
    let mut w = World::default();
    for i in 0..20 {
        w.rec("example.com", &format!("c{i}.example.com"), "CNAME", &[&format!("c{}.example.com", i + 1)]);
    }
    w.rec("example.com", "c20.example.com", "A", &["192.0.2.1"]);
    let rows = w.judge();
    expect(&rows, "c0.example.com", "c1.example.com", Unverified, Unknown, Info, "longer than 16");
    expect(&rows, "c10.example.com", "c11.example.com", External, Unknown, Info, "outside every judged range");
}

#[test]
fn name_missing_from_our_zone_is_dangling() {
    let mut w = World::default();
    w.rec("example.com", "www.example.com", "CNAME", &["gone.example.com"])
        .rec("example.com", "example.com", "MX", &["mail.example.com"])
        .rec("example.com", "txtonly.example.com", "TXT", &[])
        .rec("example.com", "t.example.com", "CNAME", &["txtonly.example.com"]);
    let rows = w.judge();
    expect(&rows, "www.example.com", "gone.example.com", Dangling, No, Medium, "does not exist in our zone example.com");
    expect(&rows, "example.com", "mail.example.com", Dangling, No, Medium, "does not exist");
    expect(&rows, "t.example.com", "txtonly.example.com", Dangling, No, Medium, "has no A, AAAA or CNAME");
}

#[test]
fn missing_name_in_a_zone_with_a_gap_is_unverified() {
    let mut w = World::default();
    w.rec("example.com", "www.example.com", "CNAME", &["gone.example.com"]);
    w.gaps.push(gap("zones", "zones/x.zone", None, "zone transfer", "page 3 failed", Hides::only(&[Zones])));
    expect(&w.judge(), "www.example.com", "gone.example.com", Unverified, No, Info, "page 3 failed");
}

#[test]
fn wildcard_covers_missing_names_but_not_empty_non_terminals() {
    let mut w = World::default();
    w.provider("dc", STATIC, None)
        .asset("dc", AssetKind::STATIC, "lb", None, &["192.0.2.20"], &[])
        .rec("example.com", "*.example.com", "A", &["192.0.2.20"])
        .rec("example.com", "x.deep.example.com", "A", &["192.0.2.20"])
        .rec("example.com", "a.example.com", "CNAME", &["anything.example.com"])
        .rec("example.com", "b.example.com", "CNAME", &["y.deep.example.com"]);
    let rows = w.judge();
    expect(&rows, "a.example.com", "anything.example.com", Owned, No, Info, "via *.example.com");
    // deep.example.com exists (empty non-terminal), so *.example.com does not cover y.deep.example.com.
    expect(&rows, "b.example.com", "y.deep.example.com", Dangling, No, Medium, "does not exist");
}

#[test]
fn idn_names_compare_normalised() {
    let mut w = World::default();
    w.provider("dc", STATIC, None)
        .asset("dc", AssetKind::STATIC, "shop", None, &[], &["shop.xn--bcher-kva.example"])
        .rec("bücher.example", "www.bücher.example", "CNAME", &["Shop.Bücher.example"]);
    let rows = w.judge();
    expect(&rows, "www.xn--bcher-kva.example", "shop.xn--bcher-kva.example", Owned, No, Info, "held by static shop");
}

#[test]
fn weighted_sets_are_judged_one_by_one() {
    let mut w = World::default();
    w.provider("dc", STATIC, None)
        .declare("198.51.100.0/24", "static", Some(Yes))
        .asset("dc", AssetKind::STATIC, "blue", None, &["198.51.100.1"], &[])
        .rec_set("example.com", "api.example.com", "A", Some("blue"), &["198.51.100.1"])
        .rec_set("example.com", "api.example.com", "A", Some("green"), &["198.51.100.2"]);
    let rows = w.judge();
    let blue = rows.iter().find(|r| r.set.as_deref() == Some("blue")).unwrap();
    let green = rows.iter().find(|r| r.set.as_deref() == Some("green")).unwrap();
    assert_eq!((blue.status, green.status), (Owned, Dangling));
}

#[test]
fn history_release_is_dangling_whatever_the_range() {
    let mut w = World::default();
    w.history.add(
        Former {
            run: 3,
            date: "2026-11-01".into(),
            kind: dangle_model::cloud::kinds::aws::ELASTIC_IP,
            id: "eipalloc-1".into(),
            source: "prod".into(),
            region: Some("us-east-1".into()),
        },
        &["192.0.2.77/32".parse().unwrap()],
        &[n("old-lb-1.us-east-1.elb.amazonaws.com")],
    );
    w.rec("example.com", "gone.example.com", "A", &["192.0.2.77"]).rec("example.com", "lb.example.com", "CNAME", &["old-lb-1.us-east-1.elb.amazonaws.com"]);
    let rows = w.judge();
    // A released Elastic IP went back to the pool: claimable, whatever range it lies in (192.0.2.0/24 is
    // in no published range).
    expect(&rows, "gone.example.com", "192.0.2.77", Dangling, Yes, High, "released since run 3 (2026-11-01): was elastic_ip eipalloc-1");
    expect(&rows, "lb.example.com", "old-lb-1.us-east-1.elb.amazonaws.com", Dangling, No, Medium, "released since run 3");
    // ... unless the scope that held it failed this run.
    w.provider("prod", AWS, None).gap("prod", Some("us-east-1"));
    expect(&w.judge(), "gone.example.com", "192.0.2.77", Unverified, Yes, Low, "coverage gap");
}

#[test]
fn ns_delegations() {
    let mut w = World::default();
    w.provider("prod", AWS, None)
        .asset("prod", dangle_model::cloud::kinds::aws::HOSTED_ZONE, "Z1", None, &[], &["held.example.com", "ns-1.awsdns-01.org"])
        .rec("example.com", "held.example.com", "NS", &["ns-1.awsdns-01.org"])
        .rec("example.com", "orphan.example.com", "NS", &["ns-2.awsdns-02.net"])
        .rec("example.com", "mine.example.com", "NS", &["ns1.mine.example.com"])
        .rec("mine.example.com", "mine.example.com", "NS", &["ns1.mine.example.com"])
        .rec("mine.example.com", "ns1.mine.example.com", "A", &["192.0.2.1"])
        .rec("example.com", "gcp.example.com", "NS", &["ns-cloud-a1.googledomains.com"])
        .rec("example.com", "other.example.com", "NS", &["ns1.example.net"])
        .rec("example.com", "www.example.com", "CNAME", &["x.orphan.example.com"]);
    let rows = w.judge();
    expect(&rows, "held.example.com", "ns-1.awsdns-01.org", Owned, No, Info, "delegates to a zone we hold");
    expect(&rows, "orphan.example.com", "ns-2.awsdns-02.net", Dangling, Yes, High, "no enumerated account holds a zone orphan.example.com");
    expect(&rows, "mine.example.com", "ns1.mine.example.com", Owned, No, Info, "which we hold");
    expect(&rows, "gcp.example.com", "ns-cloud-a1.googledomains.com", External, Yes, Low, "Google Cloud is not enumerated");
    expect(&rows, "other.example.com", "ns1.example.net", External, Unknown, Info, "outside");
    expect(&rows, "www.example.com", "x.orphan.example.com", Dangling, Yes, High, "in zone orphan.example.com, delegated from example.com");
}

#[test]
fn s3_buckets_and_aliases() {
    let mut w = World::default();
    w.provider("prod", AWS, None)
        .asset("prod", dangle_model::cloud::kinds::aws::S3_BUCKET, "arn:aws:s3:::assets", Some("us-east-1"), &[], &["assets.s3.amazonaws.com"])
        .rec("example.com", "a.example.com", "CNAME", &["assets.s3-website-us-east-1.amazonaws.com"])
        .rec("example.com", "b.example.com", "CNAME", &["missing.s3.amazonaws.com"])
        .rec("example.com", "example.com", "A", &["alias:s3-website-us-east-1.amazonaws.com"]);
    let rows = w.judge();
    expect(&rows, "a.example.com", "assets.s3-website-us-east-1.amazonaws.com", Owned, No, Info, "arn:aws:s3:::assets");
    expect(&rows, "b.example.com", "missing.s3.amazonaws.com", Dangling, Yes, High, "bucket `missing`");
    expect(&rows, "example.com", "alias:s3-website-us-east-1.amazonaws.com", Dangling, Yes, High, "bucket `example.com`");
}

#[test]
fn service_names_and_takeover_list() {
    let mut w = World::default();
    w.provider("prod", AWS, None)
        .asset("prod", dangle_model::cloud::kinds::aws::LOAD_BALANCER, "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/web/1", Some("us-east-1"), &[], &["web-1.us-east-1.elb.amazonaws.com"])
        .rec("example.com", "web.example.com", "CNAME", &["web-1.us-east-1.elb.amazonaws.com"])
        .rec("example.com", "api.example.com", "A", &["alias:dualstack.web-1.us-east-1.elb.amazonaws.com"])
        .rec("example.com", "old.example.com", "CNAME", &["old-2.us-east-1.elb.amazonaws.com"])
        .rec("example.com", "cdn.example.com", "CNAME", &["d111111abcdef8.cloudfront.net"])
        .rec("example.com", "eb.example.com", "CNAME", &["myapp.us-east-1.elasticbeanstalk.com"])
        .rec("example.com", "az.example.com", "CNAME", &["myapp.azurewebsites.net"])
        .rec("example.com", "docs.example.com", "CNAME", &["example.readme.io"]);
    let rows = w.judge();
    expect(&rows, "web.example.com", "web-1.us-east-1.elb.amazonaws.com", Owned, No, Info, "load_balancer");
    expect(&rows, "api.example.com", "alias:dualstack.web-1.us-east-1.elb.amazonaws.com", Owned, No, Info, "load_balancer");
    expect(&rows, "old.example.com", "old-2.us-east-1.elb.amazonaws.com", Dangling, No, Medium, "Elastic Load Balancing");
    expect(&rows, "cdn.example.com", "d111111abcdef8.cloudfront.net", Dangling, Unknown, Medium, "CloudFront");
    expect(&rows, "eb.example.com", "myapp.us-east-1.elasticbeanstalk.com", External, Yes, Low, "does not enumerate");
    expect(&rows, "az.example.com", "myapp.azurewebsites.net", External, Yes, Low, "Azure is not enumerated");
    expect(&rows, "docs.example.com", "example.readme.io", External, Yes, Low, "can-i-take-over-xyz");
}

#[test]
fn azure_resource_aliases() {
    let id = "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/pip1";
    let mut w = World::default();
    w.providers.push(Kind::Cloud(Cloud::AZURE).info("az"));
    w.covered.push(Coverage { source: "az".into(), account: "0000".into(), region: None });
    w.asset("az", dangle_model::cloud::kinds::azure::PUBLIC_IP, &id.to_uppercase(), Some("eastus"), &["20.1.2.3"], &[])
        .rec("example.com", "a.example.com", "A", &[&format!("res:{id}")])
        .rec("example.com", "b.example.com", "A", &["res:/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/gone"])
        .rec("example.com", "c.example.com", "A", &["res:/subscriptions/9999/resourceGroups/rg/providers/x/y/z"]);
    let rows = w.judge();
    expect(&rows, "a.example.com", id, Owned, No, Info, "azure_public_ip");
    expect(&rows, "b.example.com", "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/gone", Dangling, No, Medium, "no longer exists");
    expect(&rows, "c.example.com", "/subscriptions/9999/resourceGroups/rg/providers/x/y/z", External, No, Info, "not enumerated");
}

#[test]
fn ec2_public_dns_is_judged_as_its_address() {
    let mut w = World::default();
    w.provider("prod", AWS, None).rec("example.com", "h.example.com", "CNAME", &["ec2-3-5-140-7.ap-northeast-2.compute.amazonaws.com"]);
    expect(&w.judge(), "h.example.com", "ec2-3-5-140-7.ap-northeast-2.compute.amazonaws.com", Dangling, Yes, High, "3.5.140.7 is in AWS space");
}

#[test]
fn record_status_is_the_worst_row() {
    let mut w = World::default();
    w.provider("dc", STATIC, None)
        .declare("198.51.100.0/24", "static", None)
        .asset("dc", AssetKind::STATIC, "a", None, &["198.51.100.1"], &[])
        .rec("example.com", "multi.example.com", "A", &["198.51.100.1", "198.51.100.2", "10.0.0.1"]);
    let ranges = Ranges::new(&w.declared);
    let inputs = Inputs { records: &w.records, assets: &w.assets, gaps: &w.gaps, covered: &w.covered, providers: &w.providers, ranges: &ranges, history: &w.history };
    let rows = reconcile(&inputs);
    assert_eq!(rows.iter().map(|r| r.status).collect::<Vec<_>>(), [Owned, Dangling, External]);
    assert_eq!(record_status(&rows), Dangling);
}

#[test]
fn a_gap_taints_only_what_it_could_hide() {
    let mut w = World::default();
    w.provider("prod", AWS, None)
        .rec("example.com", "a.example.com", "A", &["3.5.140.7"])
        .rec("example.com", "b.example.com", "CNAME", &["missing.s3.amazonaws.com"])
        .rec("example.com", "c.example.com", "CNAME", &["old-1.ap-northeast-2.elb.amazonaws.com"]);
    // S3 failed: buckets are unverified, addresses and load balancers are still judged.
    w.gaps.push(gap("prod", "1", None, "s3", "AccessDenied", Hides::only(&[Names(S3)])));
    let rows = w.judge();
    expect(&rows, "b.example.com", "missing.s3.amazonaws.com", Unverified, Yes, Low, "s3: AccessDenied");
    expect(&rows, "a.example.com", "3.5.140.7", Dangling, Yes, High, "no enumerated account holds it");
    expect(&rows, "c.example.com", "old-1.ap-northeast-2.elb.amazonaws.com", Dangling, No, Medium, "Elastic Load Balancing");
    // EC2 failed in that region: the address and the load balancer there are unverified, the bucket is not.
    w.gaps[0] = gap("prod", "1", Some("ap-northeast-2"), "ec2", "Throttling", Hides::only(&[Addresses, Names(EC2)]));
    w.gaps.push(gap("prod", "1", Some("ap-northeast-2"), "load balancers", "Throttling", Hides::only(&[Addresses, Names(ELB)])));
    let rows = w.judge();
    expect(&rows, "a.example.com", "3.5.140.7", Unverified, Yes, Low, "ec2 ap-northeast-2: Throttling");
    expect(&rows, "c.example.com", "old-1.ap-northeast-2.elb.amazonaws.com", Unverified, No, Info, "load balancers ap-northeast-2");
    expect(&rows, "b.example.com", "missing.s3.amazonaws.com", Dangling, Yes, High, "bucket `missing`");
    // The account itself failed (assume-role): everything is unverified.
    w.gaps = vec![gap("prod", "2", None, "sts", "AccessDenied", Hides::Account)];
    let rows = w.judge();
    for (name, target) in [("a.example.com", "3.5.140.7"), ("b.example.com", "missing.s3.amazonaws.com"), ("c.example.com", "old-1.ap-northeast-2.elb.amazonaws.com")] {
        assert_eq!(row(&rows, name, target).status, Unverified, "{name}");
    }
}

#[test]
fn split_horizon_public_records_see_only_public_zones() {
    let mut w = World::default();
    w.provider("dc", STATIC, None)
        .asset("dc", AssetKind::STATIC, "db", None, &["10.0.0.5"], &[])
        .rec("example.com", "www.example.com", "CNAME", &["internal.example.com"])
        .rec("example.com", "example.com", "SOA", &[]);
    // The same zone name, private: only resolvers inside the VPC see internal.example.com.
    w.rec("example.com", "internal.example.com", "A", &["10.0.0.5"]).rec("example.com", "app.example.com", "CNAME", &["internal.example.com"]);
    let n = w.records.len();
    for r in &mut w.records[n - 2..] {
        r.zone_private = true;
    }
    let rows = w.judge();
    expect(&rows, "www.example.com", "internal.example.com", Dangling, No, Medium, "does not exist in our zone example.com");
    expect(&rows, "app.example.com", "internal.example.com", Owned, No, Info, "via internal.example.com: held by static db");
}

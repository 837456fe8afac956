//! The suite's own tests: the in-memory toy provider, registered in one line, passes it; toys that
//! break the contract in the ways real providers have (a gap that under-declares, a gap wider than its
//! failure, coverage under the wrong region key, a listing that stops at a page) fail it.

use std::path::Path;
use std::sync::{Arc, LazyLock};

use dangle_model::cloud::{ELB, S3};
use dangle_model::{Asset, AssetKind, BoxFuture, Cloud, Description, DnsName, Hides, Namespace, Provider, Target};

use super::*;
use crate::providers::Entry;

/// The toy's factory, which the tests publish estates to.
static TOY: LazyLock<MemoryFactory> = LazyLock::new(MemoryFactory::default);

/// How a toy lies.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Lie {
    None,
    /// Its gaps declare bucket names when addresses went missing.
    UnderDeclares,
    /// A regional failure reported as the whole account.
    WholeAccount,
    /// Coverage recorded under a region id the ranges do not use.
    RegionKey,
    /// Only the first 100 record sets are returned.
    OnePage,
}

struct Toy {
    lie: Lie,
    estate: Memory,
}

const ACCOUNTS: [&str; 2] = ["111111111111", "222222222222"];
/// Each region and the first address of one of its published EC2 ranges.
const REGIONS: [(&str, [u8; 3]); 2] = [("us-east-1", [3, 80, 0]), ("eu-west-1", [18, 200, 0])];

impl Toy {
    fn new(lie: Lie) -> Self {
        use Namespace::*;
        Self { lie, estate: Memory::new("toy", Description { cloud: Some(Cloud::AWS), covers: vec![Addresses, Names(ELB), Names(S3)] }) }
    }

    fn asset(&self, account: &str, region: Option<&str>, kind: AssetKind, id: String, ips: Vec<IpAddr>, hosts: Vec<DnsName>) -> Asset {
        Asset {
            source: self.estate.name().clone(),
            account: Arc::from(account),
            region: region.map(Arc::from),
            kind,
            id: id.into(),
            ips: ips.into_iter().map(ipnet::IpNet::from).collect(),
            hosts,
        }
    }
}

fn name(s: &str) -> DnsName {
    DnsName::parse(s).unwrap()
}

fn slot(namespace: Namespace, region: Option<&str>, target: Target) -> Slot {
    Slot { namespace, region: region.map(str::to_string), target }
}

impl Fixture for Toy {
    fn kind(&self) -> &str {
        "memory"
    }
    fn page_size(&self) -> Option<usize> {
        Some(100)
    }
    fn seed_assets(&mut self) -> BoxFuture<'_, Result<Vec<Pair>, String>> {
        Box::pin(async move {
            let mut pairs = Vec::new();
            for (ai, account) in ACCOUNTS.iter().enumerate() {
                for (region, [a, b, c]) in REGIONS {
                    let region_key = if self.lie == Lie::RegionKey { region.to_uppercase() } else { region.to_string() };
                    self.estate.cover(account, Some(&region_key));
                    let held = IpAddr::V4(Ipv4Addr::new(a, b, c, 10 + ai as u8));
                    let free = IpAddr::V4(Ipv4Addr::new(a, b, c, 100 + ai as u8));
                    let eip = self.asset(account, Some(region), dangle_model::cloud::kinds::aws::ELASTIC_IP, format!("eipalloc-{ai}-{region}"), vec![held], vec![]);
                    self.estate.add_asset(Namespace::Addresses, eip);
                    pairs.push(Pair {
                        held: slot(Namespace::Addresses, Some(region), Target::Ip(held)),
                        free: slot(Namespace::Addresses, Some(region), Target::Ip(free)),
                    });
                    let lb = name(&format!("toy-{ai}-123.{region}.elb.amazonaws.com"));
                    let gone = name(&format!("gone-{ai}-456.{region}.elb.amazonaws.com"));
                    let alb = self.asset(account, Some(region), dangle_model::cloud::kinds::aws::LOAD_BALANCER, format!("alb-{ai}-{region}"), vec![], vec![lb.clone()]);
                    self.estate.add_asset(Namespace::Names(ELB), alb);
                    pairs.push(Pair {
                        held: slot(Namespace::Names(ELB), Some(region), Target::Host(lb)),
                        free: slot(Namespace::Names(ELB), Some(region), Target::Host(gone)),
                    });
                }
                let bucket = format!("toy-bucket-{ai}");
                let host = name(&format!("{bucket}.s3.amazonaws.com"));
                let b = self.asset(account, None, dangle_model::cloud::kinds::aws::S3_BUCKET, format!("arn:aws:s3:::{bucket}"), vec![], vec![host.clone()]);
                self.estate.add_asset(Namespace::Names(S3), b);
                pairs.push(Pair {
                    held: slot(Namespace::Names(S3), None, Target::Host(host)),
                    free: slot(Namespace::Names(S3), None, Target::Host(name(&format!("gone-bucket-{ai}.s3.amazonaws.com")))),
                });
            }
            Ok(pairs)
        })
    }
    fn seed_records<'a>(&'a mut self, zone: &'a DnsName, sets: &'a [Seed]) -> BoxFuture<'a, Result<bool, String>> {
        Box::pin(async move {
            let sets = if self.lie == Lie::OnePage { &sets[..100] } else { sets };
            for r in memory::records_of("toy", zone, sets) {
                self.estate.add_record(r);
            }
            Ok(true)
        })
    }
    fn failures(&self) -> Vec<Failure> {
        use Namespace::*;
        vec![
            Failure { label: format!("account {}", ACCOUNTS[1]), region: None, hides: Hides::Account },
            Failure { label: "eu-west-1".into(), region: Some("eu-west-1".into()), hides: Hides::only(&[Addresses, Names(ELB)]) },
            Failure { label: "load balancers".into(), region: None, hides: Hides::only(&[Names(ELB)]) },
            Failure { label: "buckets".into(), region: None, hides: Hides::only(&[Names(S3)]) },
        ]
    }
    fn provider<'a>(&'a self, failure: Option<&'a Failure>) -> BoxFuture<'a, Result<Box<dyn Provider>, String>> {
        Box::pin(async move {
            use Namespace::*;
            let estate = match failure.map(|f| f.label.as_str()) {
                None => self.estate.clone(),
                Some(label) => {
                    let mut f = match label {
                        "eu-west-1" => MemoryFailure {
                            account: None,
                            region: Some("eu-west-1".into()),
                            namespaces: Some(vec![Addresses, Names(ELB)]),
                            declares: Hides::only(&[Addresses, Names(ELB)]),
                        },
                        "load balancers" => {
                            MemoryFailure { account: None, region: None, namespaces: Some(vec![Names(ELB)]), declares: Hides::only(&[Names(ELB)]) }
                        }
                        "buckets" => MemoryFailure { account: None, region: None, namespaces: Some(vec![Names(S3)]), declares: Hides::only(&[Names(S3)]) },
                        _ => MemoryFailure { account: Some(ACCOUNTS[1].into()), region: None, namespaces: None, declares: Hides::Account },
                    };
                    match self.lie {
                        Lie::UnderDeclares if label == "eu-west-1" => f.declares = Hides::only(&[Names(S3)]),
                        Lie::WholeAccount if label == "eu-west-1" => f.declares = Hides::Account,
                        _ => {}
                    }
                    self.estate.failing(f)
                }
            };
            // Through the registry, as a config names it: the toy is one line in it.
            // Each lie its own estate: the tests run side by side.
            let estate_name = format!("{:?}", self.lie);
            TOY.publish(&estate_name, estate);
            let registry = crate::providers::with(Entry::Built(&*TOY));
            let cfg = crate::config::Config::parse_with(
                Path::new("dangle.toml"),
                &format!("[[providers]]\ntype = \"memory\"\nname = \"toy\"\nestate = \"{estate_name}\"\n"),
                &registry,
            )
            .map_err(|e| e.to_string())?;
            cfg.providers[0].settings.build().await.map_err(|e| e.to_string())
        })
    }
}

fn run(lie: Lie) -> Vec<String> {
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    rt.block_on(check_fixture(&mut Toy::new(lie)))
}

#[test]
fn the_in_memory_toy_provider_passes_the_suite_through_the_registry() {
    let v = run(Lie::None);
    assert!(v.is_empty(), "{}", v.join("\n"));
}

#[test]
fn a_gap_that_hides_less_than_its_failure_lost_is_caught() {
    let v = run(Lie::UnderDeclares).join("\n");
    // The lost eu-west-1 address is judged dangling though its listing failed.
    assert!(v.contains("eu-west-1: held-") && v.contains("is dangling, expected owned, as when healthy (no gap declares addresses)"), "{v}");
    assert!(v.contains("wider than the failure"), "{v}");
}

#[test]
fn a_regional_failure_reported_as_the_whole_account_is_caught() {
    let v = run(Lie::WholeAccount).join("\n");
    assert!(v.contains("eu-west-1: gap `memory injected failure` hides the whole account, wider than the failure (addresses, Elastic Load Balancing names)"), "{v}");
}

#[test]
fn coverage_under_a_key_the_judge_does_not_use_is_caught() {
    let v = run(Lie::RegionKey).join("\n");
    assert!(v.contains("coverage keys: free-0.conformance.test → 3.80.0.100 (addresses, region us-east-1) is unverified, not dangling"), "{v}");
}

#[test]
fn a_listing_that_stops_at_a_page_is_caught() {
    let v = run(Lie::OnePage).join("\n");
    assert!(v.contains("pagination: 1 of 101 record sets seeded in one zone were not read (first: p0100.conformance.test.)"), "{v}");
}

#[test]
fn the_toy_type_is_unknown_to_the_shipped_registry_and_its_settings_are_checked() {
    let cfg = "[[providers]]\ntype = \"memory\"\nestate = \"conformance\"\n";
    let e = crate::config::Config::parse(Path::new("dangle.toml"), cfg).unwrap_err().to_string();
    assert!(e.contains("unknown provider type `memory`"), "{e}");
    let registry = crate::providers::with(Entry::Built(&*TOY));
    let e = crate::config::Config::parse_with(Path::new("dangle.toml"), "[[providers]]\ntype = \"memory\"\nestate = \"x\"\nzone = 1\n", &registry)
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 4: providers[0]: unknown field `zone`"), "{e}");
}

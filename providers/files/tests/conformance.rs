//! dangle-files against the behavioural conformance suite: zone files and static lists on disk, read
//! through the registry as a config names them, judged by the engine.

use std::fmt::Write as _;
use std::net::IpAddr;

use dangle::config::Config;
use dangle::conformance::{assert_fixture, Failure, Fixture, Pair, Seed, Slot};
use dangle::reconcile::ranges::DeclaredRange;
use dangle_model::{BoxFuture, DnsName, Namespace, Provider, Target};

/// Writes `dangle.toml` (and the files it names) into a temp dir and builds its one provider.
struct OnDisk {
    dir: tempfile::TempDir,
    config: String,
}

impl OnDisk {
    fn new(config: &str) -> Self {
        Self { dir: tempfile::tempdir().unwrap(), config: config.to_string() }
    }
    fn write(&self, file: &str, text: &str) {
        std::fs::write(self.dir.path().join(file), text).unwrap();
    }
    fn load(&self) -> Result<Config, String> {
        let path = self.dir.path().join("dangle.toml");
        std::fs::write(&path, &self.config).unwrap();
        Config::load(&path).map_err(|e| e.to_string())
    }
    async fn provider(&self) -> Result<Box<dyn Provider>, String> {
        let cfg = self.load()?;
        cfg.providers[0].settings.build().await.map_err(|e| e.to_string())
    }
}

struct ZoneFile(OnDisk);

impl Fixture for ZoneFile {
    fn kind(&self) -> &str {
        "zonefile"
    }
    fn seed_assets(&mut self) -> BoxFuture<'_, Result<Vec<Pair>, String>> {
        // A zone file holds records, no assets: it covers no namespace a target could dangle in.
        Box::pin(async { Ok(Vec::new()) })
    }
    fn seed_records<'a>(&'a mut self, zone: &'a DnsName, sets: &'a [Seed]) -> BoxFuture<'a, Result<bool, String>> {
        Box::pin(async move {
            let mut text = format!("$ORIGIN {}\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 900 604800 300\n@ NS ns1\nns1 A 192.0.2.53\n", zone.as_fqdn());
            for s in sets {
                let value = match &s.target {
                    Target::Host(h) => h.as_fqdn().to_string(),
                    t => t.to_string(),
                };
                writeln!(text, "{} {} {value}", s.name.as_fqdn(), s.rtype).unwrap();
            }
            self.0.write("conformance.test.zone", &text);
            Ok(true)
        })
    }
    fn failures(&self) -> Vec<Failure> {
        // A zone file is read whole or not at all (an unreadable file stops the run): no partial failure.
        Vec::new()
    }
    fn provider<'a>(&'a self, _failure: Option<&'a Failure>) -> BoxFuture<'a, Result<Box<dyn Provider>, String>> {
        Box::pin(self.0.provider())
    }
}

struct StaticList(OnDisk);

impl Fixture for StaticList {
    fn kind(&self) -> &str {
        "static"
    }
    fn seed_assets(&mut self) -> BoxFuture<'_, Result<Vec<Pair>, String>> {
        Box::pin(async move {
            let mut csv = String::from("id,kind,account,region,ips,hosts\n");
            let mut pairs = Vec::new();
            for (i, (held, free)) in [("10.20.0.10", "10.20.0.99"), ("2001:db8:20::10", "2001:db8:20::99"), ("10.20.1.10", "10.20.1.99")].iter().enumerate() {
                writeln!(csv, "host-{i},static,dc1,,{held},").unwrap();
                let ip = |s: &str| Target::Ip(s.parse::<IpAddr>().unwrap());
                pairs.push(Pair {
                    held: Slot { namespace: Namespace::Addresses, region: None, target: ip(held) },
                    free: Slot { namespace: Namespace::Addresses, region: None, target: ip(free) },
                });
            }
            // A block: every address in it is held.
            writeln!(csv, "lab,static,dc1,,10.20.2.0/24,").unwrap();
            let ip = |s: &str| Target::Ip(s.parse::<IpAddr>().unwrap());
            pairs.push(Pair {
                held: Slot { namespace: Namespace::Addresses, region: None, target: ip("10.20.2.7") },
                free: Slot { namespace: Namespace::Addresses, region: None, target: ip("10.20.3.7") },
            });
            self.0.write("assets.csv", &csv);
            Ok(pairs)
        })
    }
    fn seed_records<'a>(&'a mut self, _zone: &'a DnsName, _sets: &'a [Seed]) -> BoxFuture<'a, Result<bool, String>> {
        Box::pin(async { Ok(false) })
    }
    fn failures(&self) -> Vec<Failure> {
        Vec::new()
    }
    fn provider<'a>(&'a self, _failure: Option<&'a Failure>) -> BoxFuture<'a, Result<Box<dyn Provider>, String>> {
        Box::pin(self.0.provider())
    }
    fn ranges(&self) -> Vec<DeclaredRange> {
        self.0.load().map(|c| c.ranges).unwrap_or_default()
    }
}

#[tokio::test]
async fn zone_files_pass_the_conformance_suite() {
    let on_disk = OnDisk::new("[[providers]]\ntype = \"zonefile\"\nname = \"zones\"\npath = \"conformance.test.zone\"\n");
    assert_fixture(&mut ZoneFile(on_disk)).await;
}

#[tokio::test]
async fn static_lists_pass_the_conformance_suite() {
    let on_disk = OnDisk::new(
        "[[providers]]\ntype = \"static\"\nname = \"dc\"\npath = \"assets.csv\"\n\n\
         [[ranges]]\ncidr = \"10.20.0.0/16\"\nprovider = \"dc\"\n\n[[ranges]]\ncidr = \"2001:db8:20::/48\"\nprovider = \"static\"\n",
    );
    assert_fixture(&mut StaticList(on_disk)).await;
}

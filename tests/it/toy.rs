//! A fifth provider, in memory and in this file only: a toy cloud with a table of its own (its asset
//! kinds, a service whose deleted names anyone can claim), its own change events and its own
//! checklist changes. One line registers it (`providers::with`); it then scans, is judged from a shard,
//! reacts to one of its events by reading only what the event names, and writes the change that
//! removes a record — with no edit to the engine, the model or any other provider: the structure
//! carries a new cloud.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use clap::Parser;
use dangle::providers::Entry;
use dangle::reconcile::Status;
use dangle_model::change::{Change, ChangeSet, Form, SetChange, SetEdit};
use dangle_model::cloud::{CloudId, CloudTable, RegionAt, SuffixRule};
use dangle_model::events::{self, Seen};
use dangle_model::registry::{self, Configured, Context, Factory, SettingsError};
use dangle_model::{
    Asset, AssetKind, BoxFuture, Claimable, Cloud, Coverage, Description, DnsName, DnsRecord, Inventory, KindSpec, Location, Namespace, Part, Provider,
    ProviderError, RecordType, Replaces, Scope, Service, Target,
};

static TOY: CloudId = CloudId { id: "toycloud", display: "Toy Cloud", table: || &TABLE };
const CLOUD: Cloud = Cloud::of(&TOY);
const APPS: Service = Service::new(CLOUD, "Toy Apps");
const VM: AssetKind = AssetKind::of(&KindSpec::new("toy_vm", Claimable::Yes, Claimable::Yes));
const APP: AssetKind = AssetKind::of(&KindSpec::new("toy_app", Claimable::Unknown, Claimable::Yes));
/// The part of an account an event reads again.
const VMS: Part = Part::new("vms");
const ACCOUNT: &str = "toy-acct-1";

static TABLE: CloudTable = CloudTable {
    services: &[],
    kinds: &[VM, APP],
    suffixes: &[SuffixRule { suffix: "toyapps.example", service: APPS, claimable: Claimable::Yes, enumerated: true, region: RegionAt::None, keyed: false }],
    classify: None,
    dns: None,
    resource_account: None,
    resource_key: None,
    shared_wildcards: &[],
    verification: &[],
    ranges: &[],
    range_default: Claimable::Yes,
};

/// The toy cloud's estate, by name: record sets (name, type, target), VMs (id, address), apps (id, host).
#[derive(Debug, Clone, Default)]
struct Estate {
    records: Vec<(&'static str, RecordType, &'static str)>,
    vms: Vec<(&'static str, &'static str)>,
    apps: Vec<(&'static str, &'static str)>,
}

static ESTATES: Mutex<BTreeMap<String, Estate>> = Mutex::new(BTreeMap::new());
/// Whole reads and scoped reads, to see what an event read again.
static WHOLE: AtomicUsize = AtomicUsize::new(0);
static SCOPED: AtomicUsize = AtomicUsize::new(0);

struct Toy {
    name: Arc<str>,
    estate: String,
}

impl Toy {
    fn estate(&self) -> Estate {
        ESTATES.lock().unwrap().get(&self.estate).cloned().unwrap_or_default()
    }

    fn vms(&self, e: &Estate) -> Vec<Asset> {
        let ips = |ip: &str| std::iter::once(dangle_model::host_net(ip.parse().unwrap())).collect();
        e.vms.iter().map(|(id, ip)| self.asset(VM, id, ips(ip), vec![])).collect()
    }

    fn asset(&self, kind: AssetKind, id: &str, ips: dangle_model::Ips, hosts: Vec<DnsName>) -> Asset {
        Asset { source: self.name.clone(), account: ACCOUNT.into(), region: None, kind, id: format!("toy:{id}").into(), ips, hosts }
    }

    fn covered(&self) -> Vec<Coverage> {
        vec![Coverage { source: self.name.clone(), account: ACCOUNT.into(), region: None }]
    }
}

impl Provider for Toy {
    fn name(&self) -> &str {
        &self.name
    }

    fn describe(&self) -> Description {
        Description { cloud: Some(CLOUD), covers: vec![Namespace::Addresses, Namespace::Names(APPS), Namespace::Zones] }
    }

    fn enumerate(&self) -> BoxFuture<'_, Result<Inventory, ProviderError>> {
        WHOLE.fetch_add(1, Ordering::SeqCst);
        let e = self.estate();
        let zone = DnsName::parse("toy.test").unwrap();
        let records = e.records.iter().enumerate().map(|(i, (name, rtype, target))| DnsRecord {
            source: self.name.clone(),
            account: ACCOUNT.into(),
            zone: zone.clone(),
            zone_private: false,
            name: DnsName::parse(&format!("{name}.toy.test")).unwrap(),
            rtype: rtype.clone(),
            ttl: 60,
            set_id: None,
            targets: std::iter::once(match target.parse() {
                Ok(ip) => Target::Ip(ip),
                Err(_) => Target::Host(DnsName::parse(target).unwrap()),
            })
            .collect(),
            location: Some(Location::Place(format!("toy zone toy.test, record {i}").into())),
            spec: Some(format!("rec-{i}").into()),
        });
        let mut assets = self.vms(&e);
        assets.extend(e.apps.iter().map(|(id, host)| self.asset(APP, id, Default::default(), vec![DnsName::parse(host).unwrap()])));
        let inv = Inventory { records: records.collect(), assets, covered: self.covered(), gaps: vec![] };
        Box::pin(async move { Ok(inv) })
    }

    fn enumerate_scope<'a>(&'a self, scope: &'a Scope) -> Option<dangle_model::Scoped<'a>> {
        Some(Box::pin(async move {
            if scope.account != ACCOUNT || scope.services != [VMS] {
                return Ok(None);
            }
            SCOPED.fetch_add(1, Ordering::SeqCst);
            let inv = Inventory { assets: self.vms(&self.estate()), covered: self.covered(), ..Default::default() };
            let replaces = Replaces { account: ACCOUNT.into(), region: None, records: false, kinds: vec![VM], services: vec![VMS] };
            Ok(Some((inv, replaces)))
        }))
    }
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    estate: String,
}

#[derive(Debug)]
struct ToyConfig {
    name: String,
    estate: String,
}

impl Configured for ToyConfig {
    fn build(&self) -> BoxFuture<'_, Result<Box<dyn Provider>, ProviderError>> {
        let p: Box<dyn Provider> = Box::new(Toy { name: self.name.as_str().into(), estate: self.estate.clone() });
        Box::pin(async move { Ok(p) })
    }
}

struct ToyFactory;

impl Factory for ToyFactory {
    fn kind(&self) -> &'static str {
        "toycloud"
    }

    fn configure(&self, name: &str, settings: toml::Table, _cx: &mut Context) -> Result<Box<dyn Configured>, SettingsError> {
        let s: Settings = registry::settings(settings)?;
        Ok(Box::new(ToyConfig { name: name.to_string(), estate: s.estate }))
    }

    /// `{"toy": {"account": …, "deleted": VM}}`: a VM deleted in an account.
    fn read_event(&self, event: &serde_json::Value) -> Option<Result<Vec<Seen>, String>> {
        let toy = event.get("toy")?;
        let account = events::text(toy, "account").unwrap_or_default().to_string();
        let what = format!("toy VM {} deleted in {account}", events::text(toy, "deleted").unwrap_or("?"));
        Some(Ok(vec![Seen::Change(events::Change { scope: Scope { account, region: None, services: vec![VMS] }, what })]))
    }

    fn event_shapes(&self) -> Option<&'static str> {
        Some("a Toy Cloud event (`toy`)")
    }

    /// One `toyctl` command per record set, by the spec the provider gave it.
    fn changes(&self, sets: &[SetEdit<'_>], _what: &str) -> Option<ChangeSet> {
        let mut out = ChangeSet::new("toycloud", Form::Edit, "Toy Cloud DNS");
        for (i, set) in sets.iter().enumerate() {
            match set.spec {
                Some(spec) => out.items.push(Change::Edit(SetChange { record_set: set.label(), edit: "delete the record set".into(), command: format!("toyctl record delete {spec}") })),
                None => out.by_hand.push(i),
            }
        }
        Some(out)
    }

    fn cloud(&self) -> Option<Cloud> {
        Some(CLOUD)
    }
}

/// Runs a `dangle` command line in this process, with the toy registered.
fn dangle(args: &[&str], registry: &[Entry]) -> u8 {
    let cli = dangle::cli::Cli::try_parse_from(std::iter::once("dangle").chain(args.iter().copied())).unwrap();
    dangle::commands::run(cli.command, registry).unwrap().exit_code()
}

#[test]
fn a_fifth_provider_registers_scans_reacts_and_writes_its_changes() {
    let registry = dangle::providers::with(Entry::Built(&ToyFactory));
    let estate = Estate {
        records: vec![
            ("web", RecordType::A, "10.99.0.1"),
            ("old", RecordType::A, "10.99.0.2"),
            ("shop", RecordType::Cname, "shop.toyapps.example"),
            ("gone", RecordType::Cname, "closed.toyapps.example"),
        ],
        vms: vec![("vm-1", "10.99.0.1")],
        apps: vec![("app-1", "shop.toyapps.example")],
    };
    ESTATES.lock().unwrap().insert("e1".into(), estate);
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("dangle.toml");
    let config = "db = \"toy.sqlite\"\n[probe]\nenabled = false\n[[providers]]\ntype = \"toycloud\"\nname = \"toy\"\nestate = \"e1\"\n[[ranges]]\ncidr = \"10.99.0.0/16\"\nprovider = \"toycloud\"\n";
    std::fs::write(&cfg, config).unwrap();
    let c = cfg.to_str().unwrap();
    assert_eq!(dangle(&["scan", "-c", c, "--shard", "toy", "--enumerate-only"], &registry), 0);
    assert_eq!(dangle(&["judge", "-c", c, "--format", "csv"], &registry), 1, "the deleted app's name is claimable: high");
    let store = dangle::store::Store::open_existing(&dir.path().join("toy.sqlite")).unwrap();
    let status = |run: i64| -> BTreeMap<String, (Status, String)> {
        store.rows(run).unwrap().into_iter().map(|r| (r.record_name.clone(), (r.status, r.reason.clone()))).collect()
    };
    let judged = status(1);
    assert_eq!(judged["web.toy.test"].0, Status::Owned);
    assert_eq!(judged["shop.toy.test"].0, Status::Owned, "its app holds the service name");
    assert_eq!(judged["old.toy.test"].0, Status::Dangling, "an unheld address of the toy cloud's declared range");
    let gone = &judged["gone.toy.test"];
    assert_eq!(gone.0, Status::Dangling, "the toy cloud's table makes its service names judged: {}", gone.1);
    assert!(gone.1.contains("Toy Apps"), "{}", gone.1);

    // vm-1 goes; its event reads the VMs of that account again, nothing else.
    ESTATES.lock().unwrap().get_mut("e1").unwrap().vms.clear();
    let event = dir.path().join("event.json");
    std::fs::write(&event, r#"{"toy": {"account": "toy-acct-1", "deleted": "vm-1"}}"#).unwrap();
    let (whole, scoped) = (WHOLE.load(Ordering::SeqCst), SCOPED.load(Ordering::SeqCst));
    assert_eq!(dangle(&["react", "-c", c, "--event", event.to_str().unwrap(), "--format", "csv"], &registry), 1);
    assert_eq!((WHOLE.load(Ordering::SeqCst) - whole, SCOPED.load(Ordering::SeqCst) - scoped), (0, 1), "the event reads one part of one account");
    let reacted = status(2);
    assert_eq!(reacted["web.toy.test"].0, Status::Dangling, "{}", reacted["web.toy.test"].1);
    assert!(reacted["web.toy.test"].1.contains("released since run 1"), "{}", reacted["web.toy.test"].1);

    // The record that still points at the VM's address: the toy's own change removes it.
    let rows = store.rows(2).unwrap();
    let targets = ["10.99.0.1".to_string()];
    let hits = dangle::commands::checklist::checklist(&rows, &store.assets(2).unwrap(), &targets).unwrap();
    assert_eq!(hits.iter().map(|h| h.record_name.as_str()).collect::<Vec<_>>(), ["web.toy.test"]);
    let changes = dangle::commands::checklist::changes(&store, 2, &rows, &hits, &targets, &registry).unwrap();
    let [Change::Edit(e)] = changes.of("toycloud") else { panic!("one toy change: {changes:?}") };
    assert_eq!((e.record_set.as_str(), e.command.as_str()), ("web.toy.test A", "toyctl record delete rec-0"));
    assert!(changes.by_hand.is_empty(), "{:?}", changes.by_hand);
}

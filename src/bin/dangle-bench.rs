//! The engine benchmark behind `scripts/bench`: generates an estate of N record sets and M assets,
//! reconciles it, writes the run to a fresh store in one transaction, and prints timings and peak RSS.
//! Not a test: it asserts nothing, it reports numbers.
//!
//! Records come zone by zone, names in order, as providers list them. Estate shape (per 10 record sets): 5 A records into a declared range (4 held by an Elastic-IP-like
//! asset, 1 not), 3 CNAMEs to names in our own zones (a chain ending in an A record), 1 CNAME to a
//! load-balancer name (held), 1 CNAME to an S3 website endpoint (bucket missing).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Instant;

use dangle::reconcile::ranges::{DeclaredRange, Ranges};
use dangle::reconcile::{reconcile, Claimable, History, Inputs, ProviderInfo};
use dangle::store::{RunInput, Store};
use dangle_model::{smallvec, Asset, Coverage, DnsName, DnsRecord, RecordType, Target};

fn peak_rss_mb() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn ip(i: usize) -> IpAddr {
    // 10.0.0.0/8 holds 16M addresses: enough for every size we run.
    IpAddr::V4(Ipv4Addr::from(0x0a00_0000u32 + i as u32))
}

fn main() {
    let mut args = std::env::args().skip(1);
    let records: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let assets: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(records);
    let db = args.next();

    let t0 = Instant::now();
    let source: Arc<str> = Arc::from("bench");
    let account: Arc<str> = Arc::from("111111111111");
    let (recs, owned) = estate(&source, &account, records, assets);
    let generated = t0.elapsed();
    let rss_inventory = peak_rss_mb();

    let ranges = Ranges::new(&[DeclaredRange { cidr: "10.0.0.0/8".parse().unwrap(), provider: "aws".into(), region: None, service: None, claimable: Some(Claimable::Yes) }]);
    let description = dangle_model::Description { cloud: Some(dangle_model::Cloud::AWS), covers: vec![dangle_model::Namespace::Addresses] };
    let providers = [ProviderInfo { name: source.clone(), kind: Arc::from("aws"), description }];
    let covered = [Coverage { source: source.clone(), account: account.clone(), region: None }];
    let history = History::default();
    let inputs = Inputs { records: &recs, assets: &owned, gaps: &[], covered: &covered, providers: &providers, ranges: &ranges, history: &history };
    let t1 = Instant::now();
    let judgements = reconcile(&inputs);
    let reconciled = t1.elapsed();
    let rss_reconcile = peak_rss_mb();
    let dangling = judgements.iter().filter(|j| j.status == dangle::reconcile::Status::Dangling).count();

    let dir = tempfile_dir();
    let path = db.map(std::path::PathBuf::from).unwrap_or_else(|| dir.join("bench.sqlite"));
    let _ = std::fs::remove_file(&path);
    let mut store = Store::open(&path).expect("open store");
    let t2 = Instant::now();
    write_run(&mut store, &inputs, &judgements, "2026-01-01T00:00:00Z");
    let stored = t2.elapsed();
    let t3 = Instant::now();
    store.checkpoint().expect("checkpoint");
    let checkpointed = t3.elapsed();
    // The steady state: the next scheduled run, into a store that already holds this estate. A real
    // scan holds one run at a time: drop this one first.
    drop(judgements);
    let history = store.history(&Default::default()).expect("history");
    let inputs2 = Inputs { history: &history, ..inputs };
    let judgements2 = reconcile(&inputs2);
    let t4 = Instant::now();
    write_run(&mut store, &inputs2, &judgements2, "2026-01-02T00:00:00Z");
    store.checkpoint().expect("checkpoint");
    let second = t4.elapsed();
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "records={records} assets={assets} generate_s={:.2} reconcile_s={:.3} records_per_s={:.0} dangling={dangling} \
         store_write_s={:.2} checkpoint_s={:.2} second_run_write_and_checkpoint_s={:.2} store_mb={:.0} peak_rss_inventory_mb={rss_inventory:.0} peak_rss_reconcile_mb={rss_reconcile:.0} peak_rss_mb={:.0}",
        generated.as_secs_f64(),
        reconciled.as_secs_f64(),
        records as f64 / reconciled.as_secs_f64(),
        stored.as_secs_f64(),
        checkpointed.as_secs_f64(),
        second.as_secs_f64(),
        size as f64 / 1e6,
        peak_rss_mb()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The estate: `records` record sets over zones of 1,000 (half A records into 10.0.0.0/8, most of
/// them held; CNAMEs to names of the zone, to load balancers held, and to S3 website endpoints) and
/// `assets` Elastic IPs and load balancers.
fn estate(source: &Arc<str>, account: &Arc<str>, records: usize, assets: usize) -> (Vec<DnsRecord>, Vec<Asset>) {
    let zones: Vec<DnsName> = (0..(records / 1000).max(1)).map(|z| DnsName::parse(&format!("zone{z}.example.com")).unwrap()).collect();
    let mut recs = Vec::with_capacity(records);
    // Providers list zone by zone, names in order (zone files sorted, Route53 by name): so does this.
    let per_zone = records.div_ceil(zones.len());
    for i in 0..records {
        let zone = zones[i / per_zone].clone();
        let name = DnsName::parse(&format!("r{i:07}.{}", zone.as_str())).unwrap();
        let (rtype, target) = match i % 10 {
            0..=4 => (RecordType::A, Target::Ip(ip(if i % 10 == 4 { assets + i } else { i % assets.max(1) }))),
            5..=7 => (RecordType::Cname, Target::Host(DnsName::parse(&format!("r{:07}.{}", i - i % 10, zone.as_str())).unwrap())),
            8 => (RecordType::Cname, Target::Host(DnsName::parse(&format!("lb{}-1.us-east-1.elb.amazonaws.com", i % assets.max(1))).unwrap())),
            _ => (RecordType::Cname, Target::Host(DnsName::parse(&format!("b{i}.s3-website-us-east-1.amazonaws.com")).unwrap())),
        };
        let (source, account, targets) = (source.clone(), account.clone(), smallvec::smallvec![target]);
        recs.push(DnsRecord { source, account, zone, zone_private: false, name, rtype, ttl: 300, set_id: None, targets, location: None, spec: None });
    }
    let mut owned = Vec::with_capacity(assets);
    for i in 0..assets {
        let (kind, hosts) = if i % 10 == 8 {
            (dangle_model::cloud::kinds::aws::LOAD_BALANCER, vec![DnsName::parse(&format!("lb{i}-1.us-east-1.elb.amazonaws.com")).unwrap()])
        } else {
            (dangle_model::cloud::kinds::aws::ELASTIC_IP, Vec::new())
        };
        let (source, account, region) = (source.clone(), account.clone(), Some(Arc::from("us-east-1")));
        owned.push(Asset { source, account, region, kind, id: format!("eipalloc-{i:017x}").into(), ips: smallvec::smallvec![ip(i).into()], hosts });
    }
    (recs, owned)
}

/// Writes one run of `judgements` (nothing probed, checked or found about names), as a scan would,
/// its finding kinds made within the timed write as a scan makes them before it.
fn write_run(store: &mut Store, inputs: &Inputs<'_>, judgements: &[dangle::reconcile::Judgement], started: &str) {
    let kinds = dangle::store::kinds(judgements, &Default::default(), &Default::default());
    store
        .write_run(&RunInput {
            explain: &inputs.explainer(),
            started_at: started.into(),
            config: "bench".into(),
            snapshot: inputs.ranges.snapshot().into(),
            records: inputs.records,
            judgements,
            kinds: &kinds,
            providers: &[],
            assets: inputs.assets,
            gaps: &[],
            probed: &Default::default(),
            stale_days: 90,
            probing: false,
            claims: &Default::default(),
            name_findings: &[],
            baselines: &[],
            ct_answers: &[],
        })
        .expect("write run");
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("dangle-bench-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

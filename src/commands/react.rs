//! `dangle react --event FILE|-`: a cloud's change event (a released address, a deleted load balancer,
//! bucket, distribution or app, a record set changed) re-enumerates only what it touched — one
//! account, one region, the services the event names — with the config's providers, folds that into
//! the shard that holds the account, and judges every shard again: the run, reports and alerts of a
//! `judge`, with only the findings that changed probed.

mod event;

use std::collections::BTreeSet;
use std::io::Read as _;

use anyhow::{bail, Context};
use dangle_model::{Asset, Replaces};

use super::Outcome;
use crate::cli::ReactArgs;
use crate::config::Config;
use crate::pipeline::{phase, Inventory, Pass, Scanned};
use crate::reconcile::ProviderInfo;
use crate::store::{ShardInput, ShardInventory};

pub use event::{parse, Change, Seen};

/// The largest event read (CloudTrail log files hold many records; a single event is a few KiB).
const MAX_EVENT: u64 = 64 * 1024 * 1024;

pub fn run(args: &ReactArgs, registry: &[crate::providers::Entry]) -> anyhow::Result<Outcome> {
    let a = &args.run;
    let (from, text) = read_event(&args.event)?;
    let (kind, seen) = parse(&text, registry).map_err(|e| anyhow::anyhow!("{from}: {e}"))?;
    let changes: Vec<Change> = seen
        .into_iter()
        .filter_map(|s| match s {
            Seen::Change(c) => Some(c),
            Seen::Ignored(why) => {
                tracing::info!(target: crate::commands::NOTE, "{from}: {why}");
                None
            }
        })
        .collect();
    if changes.is_empty() {
        return Ok(Outcome::default());
    }
    let cfg = super::scan::config(a, registry)?;
    let (mut store, lock_timeout) = super::scan::open_for_run(&cfg, a)?;
    let _lock = store.take_run_lock(lock_timeout)?;
    let shards = store.shards()?;
    if shards.is_empty() {
        bail!("store {}: no shard to fold the change into: react works on the inventory runners write (`dangle scan --shard NAME --enumerate-only`)", store.path().display());
    }
    let mut pass = Pass::start(&cfg, cfg.probe.enabled && !a.no_probe)?;
    pass.only_changed = true;
    let t = std::time::Instant::now();
    let mut held: Vec<(String, ShardInventory)> = Vec::with_capacity(shards.len());
    for s in &shards {
        held.push((s.name.clone(), store.load_shards(&[s.snapshot], &cfg.clouds)?));
    }
    let touched = reread(&cfg, &pass, kind, &changes, &mut held, &from)?;
    for &at in &touched {
        let (name, inventory) = &held[at];
        store.write_shard(name, &ShardInput { started_at: pass.started.clone(), config: cfg.path.display().to_string(), inventory })?;
    }
    phase("read", t);
    if touched.is_empty() {
        return Ok(Outcome::default());
    }
    let mut inv = Inventory::default();
    for (_, s) in held {
        inv.providers.extend(s.providers);
        inv.records.extend(s.records);
        inv.assets.extend(s.assets);
        inv.covered.extend(s.covered);
        inv.gaps.extend(s.gaps);
    }
    inv.providers.dedup_by(|a, b| a.name == b.name && a.kind == b.kind);
    let Scanned { report, .. } = pass.judge_into(&cfg, &mut store, &inv, &[], super::scan::outputs(a))?;
    Ok(super::scan::outcome(a, &report))
}

/// Reads each change again with every provider of the config of the type that read the event (built
/// once), folds what it found into the shards `held`, and says which shards it changed.
fn reread(cfg: &Config, pass: &Pass, kind: &str, changes: &[Change], held: &mut Vec<(String, ShardInventory)>, from: &str) -> anyhow::Result<BTreeSet<usize>> {
    let mut built = Vec::new();
    for p in cfg.providers.iter().filter(|p| p.kind == kind) {
        built.push((p, pass.rt.block_on(p.settings.build())?));
    }
    if built.is_empty() {
        bail!("{}: no [[providers]] of type {kind} to enumerate the change with", cfg.path.display());
    }
    let mut touched = BTreeSet::new();
    for c in changes {
        let mut done = false;
        for (p, provider) in &built {
            let (found, whole) = match provider.enumerate_scope(&c.scope) {
                Some(f) => (pass.rt.block_on(f)?, false),
                // A provider that cannot narrow: all of it again, standing in for all it held.
                None => {
                    let inv = pass.rt.block_on(provider.enumerate())?;
                    let replaces = Replaces { account: c.scope.account.as_str().into(), region: None, records: true, kinds: Vec::new(), services: Vec::new() };
                    (Some((inv, replaces)), true)
                }
            };
            let Some((fresh, replaces)) = found else { continue };
            let info = ProviderInfo { name: p.name.as_str().into(), kind: p.kind.into(), description: provider.describe() };
            let at = fold(held, &info, fresh, &replaces, whole);
            tracing::info!(target: crate::commands::NOTE, "{from}: {}: {} re-read into shard {}", c.what, p.name, held[at].0);
            touched.insert(at);
            done = true;
        }
        if !done {
            tracing::warn!("{from}: {}: no provider of the config reads account {}; nothing re-read", c.what, c.scope.account);
        }
    }
    Ok(touched)
}

/// The event's text and how errors name it.
fn read_event(path: &std::path::Path) -> anyhow::Result<(String, String)> {
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin().lock().take(MAX_EVENT + 1).read_to_end(&mut buf).context("cannot read the event from standard input")?;
        if buf.len() as u64 > MAX_EVENT {
            bail!("the event on standard input is larger than {} MiB", MAX_EVENT >> 20);
        }
        return Ok(("event (stdin)".into(), String::from_utf8(buf).map_err(|_| anyhow::anyhow!("the event on standard input is not UTF-8"))?));
    }
    let bytes = dangle_model::input::read_file(path, MAX_EVENT).map_err(|e| anyhow::anyhow!("event {}: {e}", path.display()))?;
    let text = String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("event {}: not UTF-8", path.display()))?;
    Ok((format!("event {}", path.display()), text))
}

/// Folds a provider's fresh inventory into the shard that holds its account (the first shard with a
/// record, asset or coverage of that provider there; else the first with the provider; else a shard
/// of its own, `SOURCE:ACCOUNT`), dropping what it replaces. Returns the shard's index.
fn fold(held: &mut Vec<(String, ShardInventory)>, info: &ProviderInfo, fresh: dangle_model::Inventory, r: &Replaces, whole: bool) -> usize {
    let (source, account) = (&*info.name, &*r.account);
    let holds = |s: &ShardInventory| {
        s.covered.iter().any(|c| &*c.source == source && &*c.account == account)
            || s.records.iter().any(|x| &*x.source == source && &*x.account == account)
            || s.assets.iter().any(|x| &*x.source == source && &*x.account == account)
    };
    let at = match held.iter().position(|(_, s)| holds(s)).or_else(|| held.iter().position(|(_, s)| s.providers.iter().any(|p| p.name == info.name))) {
        Some(at) => at,
        None => {
            held.push((format!("{source}:{account}"), ShardInventory::default()));
            held.len() - 1
        }
    };
    let s = &mut held[at].1;
    let in_scope_region = |region: &Option<std::sync::Arc<str>>| r.region.is_none() || region.as_deref() == r.region.as_deref();
    if whole {
        // The provider was read whole: all of it is replaced.
        s.records.retain(|x| &*x.source != source);
        s.assets.retain(|x| &*x.source != source);
        s.gaps.retain(|x| &*x.source != source);
        s.covered.retain(|x| &*x.source != source);
    } else {
        if r.records {
            s.records.retain(|x| !(&*x.source == source && &*x.account == account));
        }
        let gone = |a: &Asset| &*a.source == source && &*a.account == account && r.kinds.contains(&a.kind) && in_scope_region(&a.region);
        s.assets.retain(|a| !gone(a));
        s.gaps.retain(|g| !(&*g.source == source && &*g.account == account && r.services.contains(&g.service) && in_scope_region(&g.region)));
    }
    s.records.extend(fresh.records);
    s.assets.extend(fresh.assets);
    s.gaps.extend(fresh.gaps);
    for c in fresh.covered {
        if !s.covered.contains(&c) {
            s.covered.push(c);
        }
    }
    if !s.providers.iter().any(|p| p.name == info.name) {
        s.providers.push(info.clone());
    }
    at
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use dangle_model::{AssetKind, CoverageGap, Description, Hides};

    use super::*;
    use dangle_model::Inventory;

    fn asset(account: &str, region: &str, kind: AssetKind, id: &str) -> Asset {
        Asset { source: "aws".into(), account: account.into(), region: Some(region.into()), kind, id: id.into(), ips: Default::default(), hosts: vec![] }
    }

    fn ids(s: &ShardInventory) -> Vec<&str> {
        let mut v: Vec<&str> = s.assets.iter().map(|a| &*a.id).collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn a_scoped_read_replaces_only_its_account_region_and_kinds() {
        let info = ProviderInfo { name: "aws".into(), kind: "aws".into(), description: Description { cloud: None, covers: vec![] } };
        let gap = CoverageGap { source: "aws".into(), account: "111111111111".into(), region: Some("us-east-1".into()), service: "ec2".into(), error: "throttled".into(), hides: Hides::Account };
        let shard = ShardInventory {
            providers: vec![info.clone()],
            assets: vec![
                asset("111111111111", "us-east-1", dangle_model::cloud::kinds::aws::ELASTIC_IP, "eip-old"),
                asset("111111111111", "eu-west-1", dangle_model::cloud::kinds::aws::ELASTIC_IP, "eip-eu"),
                asset("111111111111", "us-east-1", dangle_model::cloud::kinds::aws::LOAD_BALANCER, "alb"),
                asset("222222222222", "us-east-1", dangle_model::cloud::kinds::aws::ELASTIC_IP, "eip-other-account"),
            ],
            gaps: vec![gap],
            ..Default::default()
        };
        let mut held = vec![("00-other".to_string(), ShardInventory::default()), ("01-aws".to_string(), shard)];
        let fresh = Inventory { assets: vec![asset("111111111111", "us-east-1", dangle_model::cloud::kinds::aws::ELASTIC_IP, "eip-new")], ..Default::default() };
        let r = Replaces {
            account: Arc::from("111111111111"),
            region: Some(Arc::from("us-east-1")),
            records: false,
            kinds: vec![dangle_model::cloud::kinds::aws::ELASTIC_IP, dangle_model::cloud::kinds::aws::INSTANCE_PUBLIC_IP, dangle_model::cloud::kinds::aws::NETWORK_INTERFACE],
            services: vec!["ec2".into()],
        };
        let at = fold(&mut held, &info, fresh.clone(), &r, false);
        assert_eq!(held[at].0, "01-aws", "the shard that holds the account");
        assert_eq!(ids(&held[at].1), ["alb", "eip-eu", "eip-new", "eip-other-account"]);
        assert!(held[at].1.gaps.is_empty(), "the gap of the service read again is gone");
        // A provider read whole stands in for all it held.
        let at = fold(&mut held, &info, fresh, &r, true);
        assert_eq!(ids(&held[at].1), ["eip-new"]);
        // An account no shard holds gets a shard of its own.
        let other = ProviderInfo { name: "azure".into(), ..info };
        let at = fold(&mut held, &other, Inventory::default(), &Replaces { account: Arc::from("sub"), ..r }, true);
        assert_eq!(held[at].0, "azure:sub");
    }
}

//! `dangle judge`: the latest inventory of every shard (`scan --shard NAME --enumerate-only`) judged as
//! one estate, so ownership stays organisation-wide: a record in one account pointing at an address
//! another account holds is owned. The run, its reports and alerts are a scan's.

use anyhow::bail;

use crate::pipeline::{phase, Inventory, Pass, Scanned};
use super::Outcome;
use crate::cli::JudgeArgs;
use crate::store::{ShardMeta, Store};

pub fn run(args: &JudgeArgs, registry: &[crate::providers::Entry]) -> anyhow::Result<Outcome> {
    let a = &args.run;
    let cfg = super::scan::config(a, registry)?;
    let (mut store, lock_timeout) = super::scan::open_for_run(&cfg, a)?;
    let _lock = store.take_run_lock(lock_timeout)?;
    let pass = Pass::start(&cfg, cfg.probe.enabled && !a.no_probe)?;
    let shards = store.shards()?;
    if shards.is_empty() {
        bail!("store {}: no shard yet: runners write them with `dangle scan --shard NAME --enumerate-only`", store.path().display());
    }
    let stale = stale(&shards, args.max_age, &pass.started);
    if args.refuse_stale && !stale.is_empty() {
        let names: Vec<String> = stale.iter().map(|s| format!("{} (enumerated {})", s.name, s.started_at)).collect();
        bail!("{} shard(s) older than --max-age: {}", names.len(), names.join(", "));
    }
    let t = std::time::Instant::now();
    let ids: Vec<i64> = shards.iter().map(|s| s.snapshot).collect();
    let mut inv: Inventory = store.load_shards(&ids, &cfg.clouds)?;
    mark_stale(&mut inv, &stale, &store, args.max_age.unwrap_or_default())?;
    tracing::info!(shards = shards.len(), stale = stale.len(), records = inv.records.len(), assets = inv.assets.len(), "shards read");
    phase("read", t);
    // Claim checks need a provider's client: none here (the runners hold the credentials).
    let Scanned { report, .. } = pass.judge_into(&cfg, &mut store, &inv, &[], super::scan::outputs(a))?;
    Ok(super::scan::outcome(a, &report))
}

/// The shards enumerated more than `max_age` seconds before `now` (none without a bound).
fn stale<'a>(shards: &'a [ShardMeta], max_age: Option<u64>, now: &str) -> Vec<&'a ShardMeta> {
    let Some(max) = max_age else { return Vec::new() };
    let Some(now) = crate::time::unix_of(now) else { return Vec::new() };
    let max = i64::try_from(max).unwrap_or(i64::MAX);
    shards.iter().filter(|s| crate::time::unix_of(&s.started_at).is_none_or(|t| now.saturating_sub(t) > max)).collect()
}

/// What a stale shard covered becomes a gap: its records and assets still count (they are what it
/// last saw), but nothing in its accounts is judged missing on old news.
fn mark_stale(inv: &mut Inventory, stale: &[&ShardMeta], store: &Store, max_age: u64) -> anyhow::Result<()> {
    for s in stale {
        tracing::warn!("shard {} was enumerated {} (older than --max-age {max_age} s): what it covers is judged as a coverage gap", s.name, s.started_at);
        for c in store.shard_coverage(s.snapshot)? {
            inv.covered.retain(|x| x != &c);
            inv.gaps.push(dangle_model::CoverageGap {
                source: c.source,
                account: c.account,
                region: c.region,
                service: dangle_model::Part::named(format!("shard {}", s.name)),
                error: format!("its inventory is from {}, older than --max-age ({max_age} s)", s.started_at),
                hides: dangle_model::Hides::Account,
            });
        }
    }
    Ok(())
}

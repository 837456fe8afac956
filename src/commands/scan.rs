//! `dangle scan`: one pass over the estate ([`crate::pipeline`]), or (`--shard NAME --enumerate-only`)
//! a runner's inventory stored for `judge`.

use anyhow::{bail, Context};

use super::Outcome;
use crate::cli::ScanArgs;
use crate::config::Config;
use crate::pipeline::{enumerate, phase, scan_into, Outputs, Scanned};
use crate::providers::Entry;
use crate::report::Report;
use crate::store::{now_rfc3339, Store};

pub fn run(args: &ScanArgs, registry: &[Entry]) -> anyhow::Result<Outcome> {
    let a = &args.run;
    let cfg = config(a, registry)?;
    if let Some(shard) = &args.shard {
        return enumerate_only(&cfg, a, shard);
    }
    let (mut store, lock_timeout) = open_for_run(&cfg, a)?;
    let Scanned { report, .. } = scan_into(&cfg, &mut store, cfg.probe.enabled && !a.no_probe, lock_timeout, outputs(a))?;
    Ok(outcome(a, &report))
}

/// The config of a run (`scan`, `judge`, `react`), with `--stale-days` applied.
pub(crate) fn config(a: &crate::cli::RunArgs, registry: &[Entry]) -> anyhow::Result<Config> {
    let mut cfg = Config::load_with(&a.store.config, registry)?;
    if let Some(n) = a.stale_days {
        cfg.stale_days = n;
    }
    Ok(cfg)
}

/// The store a run writes, its run lock taken (waiting up to `--lock-timeout`), and that timeout.
pub(crate) fn open_for_run(cfg: &Config, a: &crate::cli::RunArgs) -> anyhow::Result<(Store, std::time::Duration)> {
    let lock_timeout = std::time::Duration::from_secs(a.lock_timeout);
    Ok((Store::open_for_run(cfg.store(a.store.db.as_deref()), lock_timeout)?, lock_timeout))
}

/// Where a run's report goes: `--out`, standard output in `--format`, the alerts.
pub(crate) fn outputs(a: &crate::cli::RunArgs) -> Outputs<'_> {
    let print = crate::pipeline::Print { format: a.format.into(), threshold: a.fail_on.into(), width: crate::cli::table_width() };
    Outputs { dir: a.out.as_deref(), print: Some(print), alerts: true }
}

/// A run's exit: its gaps named on stderr, its findings counted against `--fail-on` and `--min-confidence`.
pub(crate) fn outcome(a: &crate::cli::RunArgs, report: &Report) -> Outcome {
    warn_gaps(report);
    Outcome { findings: report.count_failing(a.fail_on.into(), a.min_confidence.into()), gaps: report.gaps.len() }
}

/// `scan --shard NAME --enumerate-only`: the config's providers enumerated and their inventory stored
/// as shard NAME, replacing its previous one (no run lock: runners of other shards write side by
/// side). Exit 3 when a provider had gaps, as a scan would.
fn enumerate_only(cfg: &Config, a: &crate::cli::RunArgs, shard: &str) -> anyhow::Result<Outcome> {
    if cfg.providers.is_empty() {
        bail!("{}: no [[providers]]: shard `{shard}` would hold nothing, and a judgement of it would look clean", cfg.path.display());
    }
    let mut store = Store::open(cfg.store(a.store.db.as_deref()))?;
    let started = now_rfc3339();
    let t = std::time::Instant::now();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().context("cannot start the async runtime")?;
    let (inv, _) = rt.block_on(enumerate(cfg))?;
    phase("read", t);
    let t = std::time::Instant::now();
    let id = store.write_shard(shard, &crate::store::ShardInput { started_at: started, config: cfg.path.display().to_string(), inventory: &inv })?;
    phase("store", t);
    println!("shard {shard}: {} record sets, {} assets, {} gaps stored (snapshot {id})", inv.records.len(), inv.assets.len(), inv.gaps.len());
    for g in &inv.gaps {
        warn_gap(&g.source, &g.account, g.region.as_deref().unwrap_or_default(), g.service.as_str(), &g.error);
    }
    Ok(Outcome { findings: 0, gaps: inv.gaps.len() })
}

/// Names every gap on stderr: a scheduled run must not look clean when a provider failed.
pub fn warn_gaps(report: &Report) {
    for g in &report.gaps {
        warn_gap(&g.source, &g.account, &g.region, &g.service, &g.error);
    }
}

/// One gap, as one log event with its parts as fields (for a log shipper to count and route), each
/// made printable: a provider's error text may carry anything.
fn warn_gap(source: &str, account: &str, region: &str, service: &str, error: &str) {
    use dangle_model::input::printable;
    tracing::warn!(
        source = %printable(source),
        account = %printable(account),
        region = %printable(region),
        service = %printable(service),
        error = %printable(error),
        "coverage gap: records it could affect are unverified"
    );
}

//! What a run needs of the runs before it, read from the store once, before judging: what earlier
//! runs held (the history), and what the signals compare with — the Certificate Transparency answers
//! still fresh in the cache, each name's dangling streak, the certificate baselines, the names seen in
//! zones that have a wildcard, and (after a change event) the latest run's findings. Nothing after
//! this reads the store until the run is written.

use std::collections::HashMap;

use super::Inventory;
use crate::config::Config;
use crate::reconcile::{History, Status};
use crate::rows::Which;
use crate::store::{Baseline, Store};
use dangle_model::Verdict;

/// The latest run's findings ([`Prior::before`]): by [`finding_key`], the status and what the probes
/// said.
pub struct Before {
    pub run: i64,
    pub rows: HashMap<String, (Status, Verdict, String)>,
}

/// A row's identity across runs ([`crate::rows::ReportRow::key`]) in one string.
pub fn finding_key(source: &str, account: &str, zone: &str, name: &str, rtype: &str, set_id: &str, target: &str) -> String {
    [source, account, zone, name, rtype, set_id, target].join("\t")
}

/// What the store supplies a run.
#[derive(Default)]
pub struct Prior {
    pub history: History,
    /// Certificate Transparency answers cached and still fresh, by key (a name, or `cert:ID`).
    pub ct_cache: HashMap<String, String>,
    /// Per record name (lower case, no final dot), the start of its current dangling streak.
    pub dangling_since: HashMap<String, String>,
    /// Certificate baselines of owned names, by name.
    pub baselines: HashMap<String, Baseline>,
    /// Per zone with a wildcard in this run, the names the store has seen in it and the last run
    /// that saw each.
    pub zone_names: HashMap<String, Vec<(String, i64)>>,
    /// The latest run's findings, when only what changed since is probed (`react`).
    pub before: Option<Before>,
}

impl Prior {
    /// Reads what a run with `cfg` of `inv` needs (`probing`: it probes; `before`: it probes only what
    /// changed since the latest run).
    pub fn read(store: &Store, cfg: &Config, inv: &Inventory, probing: bool, before: bool) -> anyhow::Result<Self> {
        let mut p = Prior { history: store.history(&cfg.clouds)?, ..Prior::default() };
        if let Some(ct) = &cfg.signals.ct {
            if let Some(since) = crate::signals::ct::fresh_since(ct, crate::time::unix_now()) {
                p.ct_cache = store.ct_fresh(since)?;
            }
            p.dangling_since = store.dangling_since_by_name()?;
        }
        if cfg.probe.baseline && probing {
            p.baselines = store.baselines()?;
        }
        for zone in crate::signals::names::wildcard_zones(&inv.records) {
            let names = store.names_in_zone(&zone)?;
            p.zone_names.insert(zone, names);
        }
        if before {
            p.before = store.latest_run()?.map(|run| latest_findings(store, run)).transpose()?;
        }
        Ok(p)
    }
}

/// Run `run`'s findings by key.
fn latest_findings(store: &Store, run: i64) -> anyhow::Result<Before> {
    let mut rows = HashMap::new();
    store.each_row(run, Which::Findings, |r| {
        let key = finding_key(&r.source, &r.account, &r.zone, &r.record_name, r.record_type.as_str(), &r.set_id, &r.target_text());
        rows.insert(key, (r.status, r.probe_verdict, r.probe_detail));
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(Before { run, rows })
}

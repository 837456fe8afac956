//! One pass over an estate, shared by `scan`, `judge` and `react`: enumerate (or take a stored
//! inventory), read what the store must supply once ([`Prior`]), judge, ask the second opinions
//! ([`crate::signals`]), probe, compare certificate baselines, then store and report. Each step hands
//! the next typed values; only the first and the last touch the store.
//!
//! ```text
//! inventory ─> Prior ─> reconcile ─> signals (evidence) ─> probes ─> baselines ─> store + reports
//! ```

pub mod output;
pub mod prior;
pub mod probe;
pub mod view;

use std::sync::Arc;

use anyhow::{bail, Context};

use crate::config::Config;
use crate::probe::{Prober, Verdict};
use crate::reconcile::ranges::Ranges;
use crate::reconcile::{evidence, reconcile, Claims, Inputs, Judgement, ProviderInfo};
use crate::signals::{self, Found, Signal};
use crate::store::{NameFinding, Probes, RunInput, Store};

pub use output::{Outputs, Print, Scanned};
pub use prior::{finding_key, Before, Prior};

/// Both inventories, as every provider returned them, and what each provider said it covers (what a
/// shard stores, too).
pub use crate::store::ShardInventory as Inventory;

/// Builds every configured provider, in config order (a bad setting stops the run before anything
/// is read), then enumerates them side by side and merges what they return in config order, so the
/// inventory is the same however the enumerations interleave.
pub async fn enumerate(cfg: &Config) -> anyhow::Result<(Inventory, Vec<Box<dyn dangle_model::Provider>>)> {
    let mut built = Vec::with_capacity(cfg.providers.len());
    for p in &cfg.providers {
        built.push(p.settings.build().await?);
    }
    let progress = crate::progress::Progress::new();
    let results = futures_util::future::try_join_all(built.iter().zip(&cfg.providers).map(|(provider, p)| {
        let bar = progress.provider(&p.name, p.kind);
        async move {
            let e = provider.enumerate().await;
            match &e {
                Ok(e) => bar.finish_with_message(format!(
                    "{}{} records, {} assets, {} gaps",
                    crate::progress::Progress::counted(&p.name),
                    e.records.len(),
                    e.assets.len(),
                    e.gaps.len()
                )),
                Err(_) => bar.abandon_with_message("failed"),
            }
            e
        }
    }))
    .await?;
    let mut inv = Inventory::default();
    for ((p, provider), e) in cfg.providers.iter().zip(&built).zip(results) {
        tracing::info!(provider = %p.name, kind = p.kind, records = e.records.len(), assets = e.assets.len(), gaps = e.gaps.len(), "enumerated");
        inv.providers.push(ProviderInfo { name: Arc::from(p.name.as_str()), kind: Arc::from(p.kind), description: provider.describe() });
        // The first provider's vectors are taken whole: extending an empty one would copy a million
        // records into a second allocation of the same size.
        append(&mut inv.records, e.records);
        append(&mut inv.assets, e.assets);
        inv.gaps.extend(e.gaps);
        inv.covered.extend(e.covered);
    }
    Ok((inv, built))
}

fn append<T>(to: &mut Vec<T>, more: Vec<T>) {
    if to.is_empty() {
        *to = more;
    } else {
        to.extend(more);
    }
}

/// How long `checklist` (which scans when the store holds no run) waits for a running scan.
pub const CHECKLIST_LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// Scans with `cfg` into `store` and returns the new run's id and report; the report goes to `outputs`
/// too, once the run is committed. With `probe`, rows judged dangling or unverified are probed over
/// TLS (`[probe]`). Holds the store's run lock throughout (waiting up to `lock_timeout` for another
/// scan).
pub fn scan_into(cfg: &Config, store: &mut Store, probe: bool, lock_timeout: std::time::Duration, outputs: Outputs<'_>) -> anyhow::Result<Scanned> {
    if cfg.providers.is_empty() {
        bail!("{}: no [[providers]]: there is nothing to scan, and a run of nothing would look clean", cfg.path.display());
    }
    let _lock = store.take_run_lock(lock_timeout)?;
    let pass = Pass::start(cfg, probe)?;
    let t = std::time::Instant::now();
    let (inv, sources) = pass.rt.block_on(enumerate(cfg))?;
    phase("read", t);
    pass.judge_into(cfg, store, &inv, &sources, outputs)
}

/// One run's pass, made before the inventory is read: a bad PEM file stops the run before a long
/// enumeration.
pub struct Pass {
    prober: Option<Prober>,
    pub started: String,
    pub rt: tokio::runtime::Runtime,
    probe: bool,
    /// Probe only the findings that are not the same finding as in the latest run (`react`: what
    /// changed); the others keep what that run's probes said.
    pub only_changed: bool,
}

/// What the run found besides its judgements: the claim answers, the findings about names, the
/// certificate baselines after it, the CT answers it fetched.
#[derive(Default)]
struct Findings {
    claims: Claims,
    names: Vec<NameFinding>,
    baselines: Vec<crate::store::Baseline>,
    ct_answers: Vec<(String, String)>,
}

impl Pass {
    pub fn start(cfg: &Config, probe: bool) -> anyhow::Result<Self> {
        let prober = match probe {
            true => Some(crate::probe::load::prober(&cfg.probe).with_context(|| format!("in {}", cfg.path.display()))?),
            false => None,
        };
        let started = crate::time::now_rfc3339();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().context("cannot start the async runtime")?;
        Ok(Self { prober, started, rt, probe, only_changed: false })
    }

    /// Judges `inv` (with `sources`, the providers that answer claim checks) into a run of `store`:
    /// the second opinions, the probes, the store, the reports, the alerts. The caller holds the run lock.
    pub fn judge_into(mut self, cfg: &Config, store: &mut Store, inv: &Inventory, sources: &[Box<dyn dangle_model::Provider>], outputs: Outputs<'_>) -> anyhow::Result<Scanned> {
        let prior = Prior::read(store, cfg, inv, self.probe, self.only_changed)?;
        let t = std::time::Instant::now();
        let ranges = Ranges::new(&cfg.ranges);
        warn_stale_ranges(ranges.snapshot());
        let inputs = Inputs { records: &inv.records, assets: &inv.assets, gaps: &inv.gaps, covered: &inv.covered, providers: &inv.providers, ranges: &ranges, history: &prior.history };
        let mut judgements = reconcile(&inputs);
        phase("judge", t);
        let clouds = inputs.clouds();
        let mut found = Findings::default();
        self.ask_offline(cfg, inv, sources, &clouds, &prior, &mut judgements, &mut found);
        let probed = match self.prober.take() {
            Some(p) => self.ask_online(cfg, inv, p, &clouds, &prior, &mut judgements, &mut found)?,
            None => Probes::default(),
        };
        found.names.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.name.cmp(&b.name)).then_with(|| a.kind.cmp(&b.kind)));
        for (verdict, n) in probed.counts() {
            tracing::info!(%verdict, rows = n, "probed");
        }
        let t = std::time::Instant::now();
        let kinds = crate::store::kinds(&judgements, &probed, &found.claims);
        let input = RunInput {
            explain: &inputs.explainer(),
            started_at: self.started,
            config: cfg.path.display().to_string(),
            snapshot: ranges.snapshot().to_string(),
            records: &inv.records,
            judgements: &judgements,
            kinds: &kinds,
            assets: &inv.assets,
            gaps: &inv.gaps,
            providers: &inv.providers,
            probed: &probed,
            stale_days: i64::from(cfg.stale_days),
            probing: self.probe,
            claims: &found.claims,
            name_findings: &found.names,
            baselines: &found.baselines,
            ct_answers: &found.ct_answers,
        };
        output::store_and_report(cfg, store, &input, outputs, &self.rt, t)
    }

    /// The second opinions that need no prober: claim checks, Certificate Transparency, and the
    /// resolution path's findings from zone data (after them: a wildcard's severity is its row's).
    #[allow(clippy::too_many_arguments)]
    fn ask_offline(&self, cfg: &Config, inv: &Inventory, sources: &[Box<dyn dangle_model::Provider>], clouds: &dangle_model::Clouds, prior: &Prior, judgements: &mut [Judgement], found: &mut Findings) {
        if cfg.signals.claim_checks {
            let checks = signals::claims::ClaimChecks { providers: sources, clouds, timeout: cfg.signals.claim_timeout, per_second: cfg.signals.requests_per_second };
            self.consult(&checks, &inv.records, judgements, found);
        }
        if let Some(ct) = &cfg.signals.ct {
            let search = signals::ct::CtSearch { cfg: ct, cached: &prior.ct_cache, since: &prior.dangling_since, started: &self.started, fetched: Default::default() };
            self.consult(&search, &inv.records, judgements, found);
            found.ct_answers.extend(search.fetched.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner));
        }
        found.names.extend(signals::names::split_horizon(&inv.records));
        found.names.extend(signals::names::wildcard_shadows(&inv.records, judgements, &prior.zone_names));
    }

    /// The second opinions that reach the targets (fingerprints, delegations, chains), the TLS probes
    /// and the certificate baselines; returns the probes' results.
    #[allow(clippy::too_many_arguments)]
    fn ask_online(&self, cfg: &Config, inv: &Inventory, prober: Prober, clouds: &dangle_model::Clouds, prior: &Prior, judgements: &mut [Judgement], found: &mut Findings) -> anyhow::Result<Probes> {
        if prober.settings().trust.is_empty() {
            tracing::warn!("[probe] has no trust_anchors or spki_pins: no server can prove it is ours, so every TLS answer is foreign or shared");
        }
        let p = Arc::new(prober.with_zone_records(&inv.records));
        let limits = signals::Limits { timeout: cfg.signals.fingerprint_timeout, per_second: cfg.signals.requests_per_second };
        // What the flagged cloud and SaaS names and delegations answer, before the TLS probes (the same dialer).
        if cfg.signals.fingerprints {
            self.consult(&signals::fingerprint::Fingerprints { prober: p.clone(), limits }, &inv.records, judgements, found);
        }
        if cfg.signals.delegations || cfg.signals.chains {
            let asker = match &cfg.signals.dns_nameservers {
                Some(ns) => Arc::new(crate::probe::load::prober(&cfg.probe)?.with_nameservers(Some(ns.clone())).with_zone_records(&inv.records)),
                None => p.clone(),
            };
            if cfg.signals.delegations {
                self.consult(&signals::delegation::Delegations { prober: asker.clone(), limits, clouds: clouds.clone() }, &inv.records, judgements, found);
                self.consult(&signals::names::ZoneDelegations { prober: asker.clone(), limits }, &inv.records, judgements, found);
            }
            if cfg.signals.chains {
                self.consult(&signals::chain::Chains { prober: asker, limits }, &inv.records, judgements, found);
            }
        }
        let (carried, only) = match &prior.before {
            Some(before) => changed_since(before, &inv.records, judgements),
            None => (Vec::new(), None),
        };
        let known = cfg.probe.baseline.then(|| signals::baseline::known(&prior.baselines));
        let progress = crate::progress::Progress::new();
        let (mut probed, observed) = self.rt.block_on(probe::probe_rows(&p, &inv.records, judgements, &cfg.probe.targets, &progress, known.as_ref(), only.as_ref()));
        probe::carry(&mut probed, judgements, carried);
        if cfg.probe.baseline {
            self.compare_baselines(cfg, prior, &observed, found);
        }
        Ok(probed)
    }

    /// Asks `signal` about the run so far and applies what it found.
    fn consult(&self, signal: &dyn Signal, records: &[dangle_model::DnsRecord], judgements: &mut [Judgement], found: &mut Findings) {
        let Found { evidence, names } = self.rt.block_on(signal.ask(&signals::Run { records, judgements, claims: &found.claims }));
        for e in &evidence {
            evidence::apply(judgements, &mut found.claims, e);
        }
        found.names.extend(names);
    }

    /// What owned names answered against their baselines; with `[signals.ct]`, certificates logged for
    /// them on keys none of our endpoints has shown.
    fn compare_baselines(&self, cfg: &Config, prior: &Prior, observed: &[signals::baseline::Observed], found: &mut Findings) {
        let (names, now) = signals::baseline::check(&prior.baselines, observed, &self.started, cfg.probe.expiry_warn_days);
        found.names.extend(names);
        let Some(ct) = &cfg.signals.ct else {
            found.baselines = now;
            return;
        };
        let known: std::collections::HashSet<String> =
            prior.baselines.values().map(|b| b.spki.clone()).chain(observed.iter().map(|o| o.leaf.spki_sha256.clone())).collect();
        let since = now.iter().map(|b| (b.name.clone(), b.first_started.clone().unwrap_or_else(|| self.started.clone()))).collect();
        // What the cache held, and what this run fetched already.
        let mut cached = prior.ct_cache.clone();
        cached.extend(found.ct_answers.iter().cloned());
        let (fetched, names) = self.rt.block_on(signals::ct::unknown_keys(ct, &cached, &since, &known, &crate::time::now_rfc3339()));
        found.ct_answers.extend(fetched);
        found.names.extend(names);
        found.baselines = now;
    }
}

/// After an event: the findings that are the same finding as in the latest run keep what its probes
/// said (carried: row, verdict, detail); the others are probed (`only`).
#[allow(clippy::type_complexity)]
fn changed_since(before: &Before, records: &[dangle_model::DnsRecord], judgements: &[Judgement]) -> (Vec<(u32, Verdict, String)>, Option<rustc_hash::FxHashSet<u32>>) {
    use std::fmt::Write as _;
    let mut carried = Vec::new();
    let mut target = String::new();
    let mut only = rustc_hash::FxHashSet::default();
    for (i, j) in judgements.iter().enumerate().filter(|(_, j)| j.status.is_finding()) {
        let r = &records[j.record as usize];
        target.clear();
        if let Some(t) = j.target(records) {
            let _ = write!(target, "{t}");
        }
        let key = finding_key(&r.source, &r.account, r.zone.as_str(), r.name.as_str(), r.rtype.as_str(), r.set_id.as_deref().unwrap_or(""), &target);
        match before.rows.get(&key) {
            Some((status, verdict, detail)) if *status == j.status => {
                if *verdict != Verdict::NotProbed {
                    carried.push((i as u32, *verdict, probe::as_probed_in(detail, before.run)));
                }
            }
            _ => {
                only.insert(i as u32);
            }
        }
    }
    (carried, Some(only))
}

/// Logs how long a phase of the scan took and the peak RSS so far (`DANGLE_LOG=dangle=info`;
/// `scripts/bench-cli` reads it).
pub fn phase(name: &'static str, since: std::time::Instant) {
    if !tracing::enabled!(tracing::Level::INFO) {
        return;
    }
    let seconds = format!("{:.3}", since.elapsed().as_secs_f64());
    // Linux's high-water mark of resident memory; elsewhere the field is left out.
    let peak_kib = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("VmHWM:")?.trim().trim_end_matches("kB").trim().parse::<u64>().ok()));
    match peak_kib {
        Some(kb) => tracing::info!(phase = %name, seconds = %seconds, peak_mib = kb / 1024, "phase done"),
        None => tracing::info!(phase = %name, seconds = %seconds, "phase done"),
    }
}

/// Published cloud ranges change every week: a snapshot older than this is named in a warning.
const STALE_RANGES_DAYS: i64 = 90;

/// Warns when the embedded cloud range snapshot is older than [`STALE_RANGES_DAYS`]: an address a
/// cloud took on since would be judged `external`, not against that cloud's inventory.
fn warn_stale_ranges(snapshot: &str) {
    if let Some((date, days)) = crate::time::earliest_date(snapshot) {
        let age = crate::time::today() - days;
        if age > STALE_RANGES_DAYS {
            tracing::warn!(
                "the embedded cloud range snapshot is from {date} ({age} days old): addresses the clouds took on since are judged external; refresh it with `scripts/refresh-ranges --fetch` and rebuild"
            );
        }
    }
}

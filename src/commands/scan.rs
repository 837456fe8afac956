//! `dangle scan`: enumerate, judge, probe, store, report.

mod baseline;
pub mod chain;
pub mod claims;
pub mod ct;
pub mod delegation;
pub mod fingerprint;
mod names;
mod plan;
mod view;

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context};

use super::Outcome;
use crate::cli::{FormatArg, ScanArgs};
use crate::config::Config;
use crate::reconcile::ranges::Ranges;
use crate::reconcile::{reconcile, Inputs, ProviderInfo, Severity};
use crate::report::{self, Report, Source};
use crate::store::{now_rfc3339, RunInput, Store};

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
    let progress = super::progress::Progress::new();
    let results = futures_util::future::try_join_all(built.iter().zip(&cfg.providers).map(|(provider, p)| {
        let bar = progress.provider(&p.name, p.kind);
        async move {
            let e = provider.enumerate().await;
            match &e {
                Ok(e) => bar.finish_with_message(format!(
                    "{}{} records, {} assets, {} gaps",
                    super::progress::Progress::counted(&p.name),
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

/// What a scan leaves besides the stored run: its id and its report.
pub struct Scanned {
    pub run: i64,
    pub report: Report,
}

/// Scans with `cfg` into `store` and returns the new run's id and report; the report goes to `outputs`
/// too, once the run is committed. With `probe`, rows judged dangling or unverified are probed over
/// TLS (`[probe]`). Holds the store's run lock throughout (waiting up to
/// `lock_timeout` for another scan).
pub fn scan_into(cfg: &Config, store: &mut Store, probe: bool, lock_timeout: std::time::Duration, outputs: Outputs<'_>) -> anyhow::Result<Scanned> {
    if cfg.providers.is_empty() {
        bail!("{}: no [[providers]]: there is nothing to scan, and a run of nothing would look clean", cfg.path.display());
    }
    let _lock = store.take_run_lock(lock_timeout)?;
    let j = Judging::start(cfg, store, probe)?;
    let t = std::time::Instant::now();
    let (inv, sources) = j.rt.block_on(enumerate(cfg))?;
    phase("read", t);
    judge_into(cfg, store, j, &inv, &sources, outputs)
}

/// What a judgement needs besides the inventory, made before the inventory is read (a bad PEM file
/// stops the run before a long enumeration; the history is the store's before this run).
pub(crate) struct Judging {
    prober: Option<crate::probe::Prober>,
    history: crate::reconcile::History,
    pub(crate) started: String,
    pub(crate) rt: tokio::runtime::Runtime,
    probe: bool,
    /// Probe only the findings that are not the same finding in this run as in an earlier one
    /// (`react`: what changed); the others keep what that run's probes said.
    pub(crate) changed_since: Option<Before>,
}

/// An earlier run's findings ([`Judging::changed_since`]): by [`finding_key`], the status and what
/// the probes said.
pub(crate) struct Before {
    pub run: i64,
    pub rows: std::collections::HashMap<String, (crate::reconcile::Status, crate::probe::Verdict, String)>,
}

/// A row's identity across runs ([`crate::rows::ReportRow::key`]) in one string.
pub(crate) fn finding_key(source: &str, account: &str, zone: &str, name: &str, rtype: &str, set_id: &str, target: &str) -> String {
    [source, account, zone, name, rtype, set_id, target].join("\t")
}

impl Judging {
    pub(crate) fn start(cfg: &Config, store: &Store, probe: bool) -> anyhow::Result<Self> {
        let prober = match probe {
            true => Some(crate::probe::load::prober(&cfg.probe).with_context(|| format!("in {}", cfg.path.display()))?),
            false => None,
        };
        let history = store.history(&cfg.clouds)?;
        let started = now_rfc3339();
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().context("cannot start the async runtime")?;
        Ok(Self { prober, history, started, rt, probe, changed_since: None })
    }
}

/// Judges `inv` (with `sources`, the providers that answer claim checks) into a run of `store`: the
/// second opinions, the probes, the store, the reports, the alerts. The caller holds the run lock.
pub(crate) fn judge_into(
    cfg: &Config,
    store: &mut Store,
    j: Judging,
    inv: &Inventory,
    sources: &[Box<dyn dangle_model::Provider>],
    outputs: Outputs<'_>,
) -> anyhow::Result<Scanned> {
    let Judging { prober, history, started, rt, probe, changed_since } = j;
    let t = std::time::Instant::now();
    let ranges = Ranges::new(&cfg.ranges);
    warn_stale_ranges(ranges.snapshot());
    let inputs = Inputs {
        records: &inv.records,
        assets: &inv.assets,
        gaps: &inv.gaps,
        covered: &inv.covered,
        providers: &inv.providers,
        ranges: &ranges,
        history: &history,
    };
    let mut judgements = reconcile(&inputs);
    phase("judge", t);
    // After an event: probe the findings that changed; the rest keep what the earlier run's probes said.
    let mut carried: Vec<(u32, crate::probe::Verdict, String)> = Vec::new();
    let probe_only: Option<rustc_hash::FxHashSet<u32>> = changed_since.map(|before| {
        use std::fmt::Write as _;
        let mut target = String::new();
        let mut only = rustc_hash::FxHashSet::default();
        for (i, j) in judgements.iter().enumerate() {
            if !j.status.is_finding() {
                continue;
            }
            let r = &inv.records[j.record as usize];
            target.clear();
            if let Some(t) = j.target(&inv.records) {
                let _ = write!(target, "{t}");
            }
            let key = finding_key(&r.source, &r.account, r.zone.as_str(), r.name.as_str(), &r.rtype.to_string(), r.set_id.as_deref().unwrap_or(""), &target);
            match before.rows.get(&key) {
                Some((status, verdict, detail)) if *status == j.status => {
                    if *verdict != crate::probe::Verdict::NotProbed {
                        carried.push((i as u32, *verdict, plan::as_probed_in(detail, before.run)));
                    }
                }
                _ => {
                    only.insert(i as u32);
                }
            }
        }
        only
    });
    // Second opinions on what dangles: can the name be registered right now?
    let mut claims = match cfg.signals.claim_checks {
        true => rt.block_on(claims::check(sources, &inv.records, &mut judgements, cfg.signals.claim_timeout, cfg.signals.requests_per_second)),
        false => crate::store::Claims::default(),
    };
    // Certificates logged for dangling names since they dangle (opt-in; a third party's search).
    if let Some(ct_cfg) = &cfg.signals.ct {
        let names = ct::names(&inv.records, &judgements);
        if !names.is_empty() {
            let now = crate::time::unix_now();
            let cached = match ct::fresh_since(ct_cfg, now) {
                Some(cutoff) => store.ct_cached(&names, cutoff)?,
                None => Default::default(),
            };
            let since = store.dangling_since_by_name()?;
            let (fetched, _) = rt.block_on(ct::check(ct_cfg, &cached, &since, &started, &inv.records, &mut judgements, &mut claims));
            store.ct_save(&fetched, now)?;
        }
    }
    // Certificate baselines of owned endpoints ([probe] baseline): what the store holds before the run.
    let before = match cfg.probe.baseline && prober.is_some() {
        true => store.baselines()?,
        false => Default::default(),
    };
    // The resolution path's findings that need no query: split horizon, wildcards answering for
    // deleted names (the store's history).
    let mut name_findings = names::split_horizon(&inv.records);
    if names::has_wildcards(&inv.records) {
        let mut known = |zone: &str| Ok(store.names_in_zone(zone)?);
        name_findings.extend(names::wildcard_shadows(&inv.records, &judgements, &mut known)?);
    }
    let mut baselines = Vec::new();
    let probed = match prober {
        Some(p) => {
            if p.settings().trust.is_empty() {
                tracing::warn!("[probe] has no trust_anchors or spki_pins: no server can prove it is ours, so every TLS answer is foreign or shared");
            }
            let p = Arc::new(p.with_zone_records(&inv.records));
            // What the flagged cloud and SaaS names and delegations answer, before the TLS probes
            // (the same dialer).
            let limits = fingerprint::Limits { timeout: cfg.signals.fingerprint_timeout, per_second: cfg.signals.requests_per_second };
            if cfg.signals.fingerprints {
                rt.block_on(fingerprint::check(&p, &inv.records, &mut judgements, &mut claims, limits));
            }
            if cfg.signals.delegations || cfg.signals.chains {
                let asker = match &cfg.signals.dns_nameservers {
                    Some(ns) => Arc::new(crate::probe::load::prober(&cfg.probe)?.with_nameservers(Some(ns.clone())).with_zone_records(&inv.records)),
                    None => p.clone(),
                };
                if cfg.signals.delegations {
                    rt.block_on(delegation::check(&asker, &inv.records, &mut judgements, &mut claims, limits));
                    name_findings.extend(rt.block_on(names::zone_delegations(&asker, &inv.records, limits)));
                }
                if cfg.signals.chains {
                    rt.block_on(chain::check(&asker, &inv.records, &mut judgements, &mut claims, limits));
                }
            }
            let baseline = cfg.probe.baseline.then(|| baseline::known(&before));
            let (mut probed, observed) =
                rt.block_on(plan::probe_rows(&p, &inv.records, &mut judgements, &cfg.probe.targets, &super::progress::Progress::new(), baseline.as_ref(), probe_only.as_ref()));
            plan::carry(&mut probed, &mut judgements, carried);
            if cfg.probe.baseline {
                let (found, now) = baseline::check(&before, &observed, &started, cfg.probe.expiry_warn_days);
                name_findings.extend(found);
                baselines = now;
                // Certificates for our owned names on keys none of our endpoints has shown (CT).
                if let Some(ct_cfg) = &cfg.signals.ct {
                    let known: std::collections::HashSet<String> =
                        before.values().map(|b| b.spki.clone()).chain(observed.iter().map(|o| o.leaf.spki_sha256.clone())).collect();
                    let mut since = std::collections::BTreeMap::new();
                    for b in &baselines {
                        let from = match b.first_run {
                            Some(r) => store.run_meta(r)?.started_at,
                            None => started.clone(),
                        };
                        since.insert(b.name.clone(), from);
                    }
                    let now = crate::time::unix_now();
                    let cutoff = ct::fresh_since(ct_cfg, now);
                    let cached = |k: &str| store.ct_cached(&[k.to_string()], cutoff?).ok().and_then(|mut m| m.remove(k));
                    let (fetched, found) = rt.block_on(ct::unknown_keys(ct_cfg, &cached, &since, &known, &crate::time::now_rfc3339()));
                    store.ct_save(&fetched, now)?;
                    name_findings.extend(found);
                }
            }
            probed
        }
        None => crate::store::Probes::default(),
    };
    name_findings.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.name.cmp(&b.name)).then_with(|| a.kind.cmp(&b.kind)));
    for (verdict, n) in probed.counts() {
        tracing::info!(%verdict, rows = n, "probed");
    }
    let t = std::time::Instant::now();
    let kinds = crate::store::kinds(&judgements, &probed, &claims);
    let input = RunInput {
        explain: &inputs.explainer(),
        started_at: started,
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
        probing: probe,
        claims: &claims,
        name_findings: &name_findings,
        baselines: &baselines,
    };
    let (run, report) = store_and_report(store, &input, outputs, t)?;
    if outputs.alerts {
        // Still under the run lock: two scans never send (or re-send) one alert twice. The run is
        // stored whatever happens here: an alert that cannot be sent is a warning, never the exit code.
        if let Err(e) = super::alert::send(&cfg.alerts, store, &report.run, &rt) {
            tracing::warn!("alerts not sent for run {}: {}", report.run.id, crate::errors::render(&e));
        }
    }
    Ok(Scanned { run, report })
}

/// Where a scan's report goes besides the store.
#[derive(Debug, Clone, Copy, Default)]
pub struct Outputs<'a> {
    /// Every report file (`--out`).
    pub dir: Option<&'a Path>,
    /// Standard output, in this format, with this `--fail-on` threshold.
    pub print: Option<(FormatArg, Severity)>,
    /// Post what is new or worse to the config's `[[alerts]]` once the run is stored.
    pub alerts: bool,
}

/// Writes the run into `store` and, side by side on a second thread, makes its report from memory and
/// stages its files in `outputs.dir`. The reports start once the records are matched against the
/// stored ones (the rows need their first sightings) and wait for the assets' at the assets; the store
/// meanwhile writes the records, assets and rows. Once the run is committed the files
/// are published and the report printed; a failed store write fails the scan and leaves the folder
/// as it was.
fn store_and_report(store: &mut Store, input: &RunInput<'_>, outputs: Outputs<'_>, t: std::time::Instant) -> anyhow::Result<(i64, Report)> {
    // The runs before this one, for the HTML report's chart of findings per run.
    let mut history = store.finding_history(None, report::HISTORY_RUNS.saturating_sub(1))?;
    let mut w = store.begin_run(input)?;
    let meta = w.meta();
    let records = w.records()?;
    let (send, recv) = std::sync::mpsc::sync_channel(1);
    let view = view::RunView::new(input, records, recv);
    let (run, report, staged) = std::thread::scope(|s| {
        let reports = std::thread::Builder::new()
            .name("reports".into())
            .spawn_scoped(s, || -> anyhow::Result<(Report, Option<report::Staged>)> {
                let mut report = view.report(meta);
                history.push(report.point());
                report.history = history;
                let staged = match outputs.dir {
                    Some(dir) => Some(report.stage(&view, dir).with_context(|| format!("cannot write reports into {}", dir.display()))?),
                    None => None,
                };
                phase("reports", t);
                Ok((report, staged))
            })
            .context("cannot start the report writer")?;
        let stored = (move || {
            let first = w.assets()?;
            // The report thread may have failed already and stopped listening: the run is stored anyway.
            let _ = send.send(first);
            w.finish()
        })();
        let reported = reports.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        let run = stored?;
        let (report, staged) = reported?;
        anyhow::Ok((run, report, staged))
    })?;
    store.checkpoint()?;
    phase("store", t);
    if let (Some(staged), Some(dir)) = (staged, outputs.dir) {
        staged.publish().with_context(|| format!("cannot write reports into {}", dir.display()))?;
    }
    if let Some((format, threshold)) = outputs.print {
        let t = std::time::Instant::now();
        // What the folder now holds is what standard output shows: copied, not made a second time.
        let written = match format {
            FormatArg::Csv => Some("findings.csv"),
            FormatArg::Json => Some("report.json"),
            FormatArg::Markdown => Some("report.md"),
            FormatArg::Sarif => Some("report.sarif"),
            FormatArg::Html => Some("report.html"),
            FormatArg::Table => None,
        };
        match outputs.dir.zip(written) {
            Some((dir, name)) => {
                let path = dir.join(name);
                let mut file = std::fs::File::open(&path).with_context(|| format!("cannot read back {}", path.display()))?;
                let stdout = std::io::stdout();
                let mut out = stdout.lock();
                std::io::copy(&mut file, &mut out)?;
                out.flush()?;
            }
            None => print_report(&view, &report, format, threshold)?,
        }
        phase("print", t);
    }
    Ok((run, report))
}

/// Logs how long a phase of the scan took and the peak RSS so far (`DANGLE_LOG=dangle=info`;
/// `scripts/bench-cli` reads it).
pub(crate) fn phase(name: &'static str, since: std::time::Instant) {
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

pub fn run(args: &ScanArgs, registry: &[crate::providers::Entry]) -> anyhow::Result<Outcome> {
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
pub(crate) fn config(a: &crate::cli::RunArgs, registry: &[crate::providers::Entry]) -> anyhow::Result<Config> {
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
    Outputs { dir: a.out.as_deref(), print: Some((a.format, a.fail_on.into())), alerts: true }
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
        let region = g.region.as_deref().map(|r| format!(" {r}")).unwrap_or_default();
        eprintln!("{}", dangle_model::input::printable(&format!("warning: coverage gap: {} {} {}{region}: {}", g.source, g.account, g.service, g.error)));
    }
    Ok(Outcome { findings: 0, gaps: inv.gaps.len() })
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

/// Names every gap on stderr: a scheduled run must not look clean when a provider failed.
pub fn warn_gaps(report: &Report) {
    if report.gaps.is_empty() {
        return;
    }
    if crate::cli::LogFormat::current() == crate::cli::LogFormat::Json {
        // One log object per gap, its parts as fields, for a log shipper to count and route.
        for g in &report.gaps {
            tracing::warn!(source = %g.source, account = %g.account, region = %g.region, service = %g.service, error = %g.error, "coverage gap: records it could affect are unverified");
        }
        return;
    }
    eprintln!("warning: {} coverage gap(s); records they could affect are `unverified`:", report.gaps.len());
    for g in &report.gaps {
        let region = if g.region.is_empty() { String::new() } else { format!(" {}", g.region) };
        let line = format!("  {} {} {}{}: {}", g.source, g.account, g.service, region, g.error);
        eprintln!("{}", dangle_model::input::printable(&line));
    }
}

pub fn print_report(src: &dyn Source, report: &Report, format: FormatArg, threshold: Severity) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        FormatArg::Csv => report.write_findings_csv(src, std::io::BufWriter::new(&mut out))?,
        FormatArg::Json => {
            report.write_json(src, std::io::BufWriter::new(&mut out))?;
        }
        FormatArg::Markdown => {
            let mut w = std::io::BufWriter::new(&mut out);
            report.write_markdown(src, &mut w)?;
            w.flush()?;
        }
        FormatArg::Sarif => report.write_sarif(src, std::io::BufWriter::new(&mut out))?,
        FormatArg::Html => report.write_html(src, std::io::BufWriter::new(&mut out))?,
        FormatArg::Table => {
            let s = report.summary();
            let m = &report.run;
            let width = crate::cli::table_width();
            let summary = format!(
                "run {}: {} record sets ({} rows, one per target), {} assets, {} gaps — rows: {} dangling, {} unverified, {} external, {} owned, {} without target",
                m.id, m.records, m.rows, m.assets, m.gaps, s.dangling, s.unverified, s.external, s.owned, s.no_target
            );
            write!(out, "{}", report::fit_line(&summary, width))?;
            write!(out, "{}", report::fit_line(&format!("cloud ranges snapshot: {}", m.snapshot), width))?;
            if report.finding_count() == 0 {
                writeln!(out, "no findings")?;
            } else {
                let probed = report.probed();
                let mut rows: Vec<Vec<String>> = Vec::with_capacity(report.finding_count());
                report.each_finding(src, &mut |r| {
                        let mut row = vec![
                            r.severity.to_string(),
                            r.status.to_string(),
                            if r.set_id.is_empty() { r.record_name.clone() } else { format!("{} ({})", r.record_name, r.set_id) },
                            r.record_type.to_string(),
                            r.target_text(),
                        ];
                        if probed {
                            row.push(r.probe_verdict.to_string());
                        }
                        row.push(match (r.age_days, r.stale) {
                            (Some(d), true) => format!("{d}d stale"),
                            (Some(d), false) => format!("{d}d"),
                            (None, _) => String::new(),
                        });
                        // Where the run probed, a row it did not probe says why.
                        if probed && r.probe_verdict == dangle_model::Verdict::NotProbed && !r.probe_detail.is_empty() {
                            row.push(format!("{} ({})", r.reason, r.probe_detail));
                        } else {
                            row.push(r.reason.clone());
                        }
                        rows.push(row);
                        Ok(())
                    })?;
                let head: &[&str] = if probed {
                    &["SEVERITY", "STATUS", "RECORD", "TYPE", "TARGET", "PROBE", "AGE", "REASON"]
                } else {
                    &["SEVERITY", "STATUS", "RECORD", "TYPE", "TARGET", "AGE", "REASON"]
                };
                write!(out, "{}", report::table(head, &rows, crate::cli::table_width()))?;
            }
            if !report.name_findings.is_empty() {
                let rows: Vec<Vec<String>> = report
                    .name_findings
                    .iter()
                    .map(|c| vec![c.severity.to_string(), c.name.clone(), c.address.clone(), c.kind.as_str().to_string(), c.detail.clone()])
                    .collect();
                writeln!(out, "live checks of our names (certificates, resolution path):")?;
                write!(out, "{}", report::table(&["SEVERITY", "NAME", "AT", "KIND", "DETAIL"], &rows, crate::cli::table_width()))?;
            }
            if !report.named_probes.is_empty() {
                let rows: Vec<Vec<String>> =
                    report.named_probes.iter().map(|n| vec![n.target.clone(), n.sni.clone(), n.verdict.to_string(), n.detail.clone()]).collect();
                writeln!(out, "named targets ([[probe.targets]]):")?;
                write!(out, "{}", report::table(&["TARGET", "SNI", "PROBE", "DETAIL"], &rows, crate::cli::table_width()))?;
            }
            let n = report.count_at_or_above(threshold) + report.name_findings.iter().filter(|c| c.severity >= threshold).count();
            if n > 0 || report.finding_count() > 0 {
                writeln!(out, "{n} finding(s) at or above {threshold}")?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

//! `dangle scan`: enumerate, judge, store, report.

use std::io::Write;
use std::sync::Arc;

use anyhow::{bail, Context};
use dangle_files::{StaticListSource, ZoneFileSource};
use dangle_model::{Asset, AssetSource, Coverage, CoverageGap, DnsRecord, RecordSource};

use super::Outcome;
use crate::cli::{FormatArg, ScanArgs};
use crate::config::{Config, ProviderConfig};
use crate::reconcile::ranges::Ranges;
use crate::reconcile::{reconcile, Inputs, ProviderInfo, Severity};
use crate::report::{self, Report};
use crate::store::{now_rfc3339, RunInput, Store};

/// Both inventories, as every provider returned them.
#[derive(Debug, Default)]
pub struct Inventory {
    pub records: Vec<DnsRecord>,
    pub assets: Vec<Asset>,
    pub gaps: Vec<CoverageGap>,
    pub covered: Vec<Coverage>,
}

/// Runs every configured provider.
pub async fn enumerate(cfg: &Config) -> anyhow::Result<Inventory> {
    let mut inv = Inventory::default();
    for p in &cfg.providers {
        match p {
            ProviderConfig::ZoneFile { name, path, disk_path, origin, include_dirs } => {
                let src = ZoneFileSource::new(name, path, disk_path, origin.clone()).with_include_dirs(include_dirs)?;
                let e = src.records().await?;
                tracing::info!(provider = %name, records = e.items.len(), "zone file read");
                inv.records.extend(e.items);
                inv.gaps.extend(e.gaps);
            }
            ProviderConfig::Static { name, path, disk_path } => {
                let src = StaticListSource::new(name, path, disk_path);
                let e = src.assets().await?;
                tracing::info!(provider = %name, assets = e.items.len(), "static list read");
                inv.assets.extend(e.items);
                inv.gaps.extend(e.gaps);
                inv.covered.extend(e.covered);
            }
            #[cfg(feature = "aws")]
            ProviderConfig::Aws(a) => {
                let mut b = dangle_aws::AwsSource::builder(&a.name).with_assume_roles(a.assume_roles.iter().cloned());
                if let Some(r) = &a.regions {
                    b = b.with_regions(r.iter().cloned());
                }
                if let Some(p) = &a.profile {
                    b = b.with_profile(p);
                }
                if let Some(u) = &a.endpoint_url {
                    b = b.with_endpoint_url(u);
                }
                if let Some(r) = &a.organization_role {
                    b = b.with_organization_role(r);
                }
                if let Some(x) = &a.external_id {
                    b = b.with_external_id(x);
                }
                if let Some(t) = a.timeout_secs {
                    b = b.with_timeout(std::time::Duration::from_secs(t));
                }
                let src = b.build().await?;
                let records = src.records().await?;
                let assets = src.assets().await?;
                tracing::info!(provider = %a.name, records = records.items.len(), assets = assets.items.len(), gaps = assets.gaps.len(), "AWS enumerated");
                inv.records.extend(records.items);
                inv.assets.extend(assets.items);
                // Both sides come from one enumeration: take its gaps and coverage once.
                inv.gaps.extend(assets.gaps);
                inv.covered.extend(assets.covered);
            }
            #[cfg(not(feature = "aws"))]
            ProviderConfig::Aws(a) => {
                bail!("provider `{}` (type aws): this dangle was built without the `aws` feature; remove it from {} or use a build with it", a.name, cfg.path.display())
            }
            ProviderConfig::Azure(a) => {
                bail!("provider `{}` (type azure): the Azure provider is not part of this build yet; remove it from {} or use a build with it", a.name, cfg.path.display())
            }
        }
    }
    Ok(inv)
}

/// How long `checklist` (which scans when the store holds no run) waits for a running scan.
pub const CHECKLIST_LOCK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// Scans with `cfg` into `store` and returns the new run's id. With `probe`, rows judged dangling or
/// unverified are probed over TLS (`[probe]`). Holds the store's run lock throughout (waiting up to
/// `lock_timeout` for another scan).
pub fn scan_into(cfg: &Config, store: &mut Store, probe: bool, lock_timeout: std::time::Duration) -> anyhow::Result<i64> {
    if cfg.providers.is_empty() {
        bail!("{}: no [[providers]]: there is nothing to scan, and a run of nothing would look clean", cfg.path.display());
    }
    let _lock = store.take_run_lock(lock_timeout)?;
    // Build the prober first: a bad PEM file should stop the run before a long enumeration.
    let prober = match probe {
        true => Some(crate::probe::load::prober(&cfg.probe).with_context(|| format!("in {}", cfg.path.display()))?),
        false => None,
    };
    let history = store.history()?;
    let started = now_rfc3339();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().context("cannot start the async runtime")?;
    let inv = rt.block_on(enumerate(cfg))?;
    let ranges = Ranges::new(&cfg.ranges);
    let providers: Vec<ProviderInfo> =
        cfg.providers.iter().map(|p| ProviderInfo { name: Arc::from(p.name()), cloud: Arc::from(p.cloud()) }).collect();
    let inputs = Inputs {
        records: &inv.records,
        assets: &inv.assets,
        gaps: &inv.gaps,
        covered: &inv.covered,
        providers: &providers,
        ranges: &ranges,
        history: &history,
    };
    let mut judgements = reconcile(&inputs);
    let probed = match prober {
        Some(p) => {
            if p.settings().trust.is_empty() {
                tracing::warn!("[probe] has no trust_anchors or spki_pins: no server can prove it is ours, so every TLS answer is foreign or shared");
            }
            let p = Arc::new(p.with_zone_records(&inv.records));
            rt.block_on(crate::probe::probe_rows(&p, &inv.records, &mut judgements, &cfg.probe.targets))
        }
        None => crate::probe::Probed::default(),
    };
    for (verdict, n) in probed.counts() {
        tracing::info!(%verdict, rows = n, "probed");
    }
    let run = store.write_run(&RunInput {
        explain: &inputs.explainer(),
        started_at: started,
        config: cfg.path.display().to_string(),
        snapshot: ranges.snapshot().to_string(),
        records: &inv.records,
        judgements: &judgements,
        assets: &inv.assets,
        gaps: &inv.gaps,
        probed: &probed,
    })?;
    store.checkpoint()?;
    Ok(run)
}

pub fn run(args: &ScanArgs) -> anyhow::Result<Outcome> {
    let cfg = Config::load(&args.store.config)?;
    let db = args.store.db.clone().unwrap_or_else(|| cfg.db.clone());
    let lock_timeout = std::time::Duration::from_secs(args.lock_timeout);
    let mut store = Store::open_for_run(&db, lock_timeout)?;
    let run = scan_into(&cfg, &mut store, cfg.probe.enabled && !args.no_probe, lock_timeout)?;
    let report = Report::load(&store, run)?;
    if let Some(dir) = &args.out {
        report.write_dir(dir).with_context(|| format!("cannot write reports into {}", dir.display()))?;
    }
    let threshold: Severity = args.fail_on.into();
    print_report(&report, args.format, threshold)?;
    warn_gaps(&report);
    Ok(Outcome { findings: report.count_at_or_above(threshold), gaps: report.gaps.len() })
}

/// Names every gap on stderr: a scheduled run must not look clean when a provider failed.
pub fn warn_gaps(report: &Report) {
    if report.gaps.is_empty() {
        return;
    }
    eprintln!("warning: {} coverage gap(s); records they could affect are `unverified`:", report.gaps.len());
    for g in &report.gaps {
        let region = if g.region.is_empty() { String::new() } else { format!(" {}", g.region) };
        let line = format!("  {} {} {}{}: {}", g.source, g.account, g.service, region, g.error);
        eprintln!("{}", dangle_model::input::printable(&line));
    }
}

pub fn print_report(report: &Report, format: FormatArg, threshold: Severity) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        FormatArg::Csv => report::write_rows_csv(&mut out, report.findings().into_iter())?,
        FormatArg::Json => {
            serde_json::to_writer_pretty(&mut out, report)?;
            writeln!(out)?;
        }
        FormatArg::Markdown => write!(out, "{}", report.markdown())?,
        FormatArg::Table => {
            let s = report.summary();
            let m = &report.run;
            writeln!(
                out,
                "run {}: {} record sets, {} assets, {} gaps — {} dangling, {} unverified, {} external, {} owned",
                m.id, m.records, m.assets, m.gaps, s.dangling, s.unverified, s.external, s.owned
            )?;
            writeln!(out, "cloud ranges snapshot: {}", m.snapshot)?;
            let findings = report.findings();
            if findings.is_empty() {
                writeln!(out, "no findings")?;
            } else {
                let probed = report.probed();
                let rows: Vec<Vec<String>> = findings
                    .iter()
                    .map(|r| {
                        let mut row = vec![
                            r.severity.clone(),
                            r.status.clone(),
                            if r.set_id.is_empty() { r.record_name.clone() } else { format!("{} ({})", r.record_name, r.set_id) },
                            r.record_type.clone(),
                            r.target.clone(),
                        ];
                        if probed {
                            row.push(r.probe_verdict.clone());
                        }
                        row.push(r.reason.clone());
                        row
                    })
                    .collect();
                let head: &[&str] = if probed {
                    &["SEVERITY", "STATUS", "RECORD", "TYPE", "TARGET", "PROBE", "REASON"]
                } else {
                    &["SEVERITY", "STATUS", "RECORD", "TYPE", "TARGET", "REASON"]
                };
                write!(out, "{}", report::table(head, &rows))?;
            }
            if !report.named_probes.is_empty() {
                let rows: Vec<Vec<String>> =
                    report.named_probes.iter().map(|n| vec![n.target.clone(), n.sni.clone(), n.verdict.clone(), n.detail.clone()]).collect();
                writeln!(out, "named targets ([[probe.targets]]):")?;
                write!(out, "{}", report::table(&["TARGET", "SNI", "PROBE", "DETAIL"], &rows))?;
            }
            let n = report.count_at_or_above(threshold);
            if n > 0 || !findings.is_empty() {
                writeln!(out, "{n} finding(s) at or above {threshold}")?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

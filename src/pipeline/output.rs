//! The last step of a pass: the run written into the store while its reports are made from memory
//! on the second core, the report files published once the run is committed, the report printed, the
//! alerts posted.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use super::view;
use crate::config::Config;
use crate::reconcile::Severity;
use crate::report::{self, Format, Report};
use crate::store::{RunInput, Store};

/// What a run leaves besides the stored run: its id and its report.
pub struct Scanned {
    pub run: i64,
    pub report: Report,
}

/// Stores `input`, makes and writes its reports, then (still under the run lock, so two runs never
/// send one alert twice) posts the alerts: the run is stored whatever happens there, and an alert that
/// cannot be sent is a warning, never the exit code.
pub(super) fn store_and_report(cfg: &Config, store: &mut Store, input: &RunInput<'_>, outputs: Outputs<'_>, rt: &tokio::runtime::Runtime, t: std::time::Instant) -> anyhow::Result<Scanned> {
    let (run, report) = write(store, input, outputs, t)?;
    if outputs.alerts {
        if let Err(e) = crate::alert::send(&cfg.alerts, store, &report.run, rt) {
            tracing::warn!("alerts not sent for run {}: {}", report.run.id, crate::errors::render(&e));
        }
    }
    Ok(Scanned { run, report })
}

/// A report printed on standard output: its format, the `--fail-on` threshold a table counts findings
/// against, and the width of the terminal.
#[derive(Debug, Clone, Copy)]
pub struct Print {
    pub format: Format,
    pub threshold: Severity,
    pub width: Option<usize>,
}

/// Where a scan's report goes besides the store.
#[derive(Debug, Clone, Copy, Default)]
pub struct Outputs<'a> {
    /// Every report file (`--out`).
    pub dir: Option<&'a Path>,
    /// Standard output.
    pub print: Option<Print>,
    /// Post what is new or worse to the config's `[[alerts]]` once the run is stored.
    pub alerts: bool,
}

/// Writes the run into `store` and, side by side on a second thread, makes its report from memory and
/// stages its files in `outputs.dir`. The reports start once the records are matched against the
/// stored ones (the rows need their first sightings) and wait for the assets' at the assets; the store
/// meanwhile writes the records, assets and rows. Once the run is committed the files
/// are published and the report printed; a failed store write fails the scan and leaves the folder
/// as it was.
fn write(store: &mut Store, input: &RunInput<'_>, outputs: Outputs<'_>, t: std::time::Instant) -> anyhow::Result<(i64, Report)> {
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
                super::phase("reports", t);
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
    super::phase("store", t);
    if let (Some(staged), Some(dir)) = (staged, outputs.dir) {
        staged.publish().with_context(|| format!("cannot write reports into {}", dir.display()))?;
    }
    if let Some(print) = outputs.print {
        let t = std::time::Instant::now();
        // What the folder now holds is what standard output shows: copied, not made a second time.
        let written = match print.format {
            Format::Csv => Some("findings.csv"),
            Format::Json => Some("report.json"),
            Format::Markdown => Some("report.md"),
            Format::Sarif => Some("report.sarif"),
            Format::Html => Some("report.html"),
            Format::Table => None,
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
            None => report::print(&view, &report, print.format, print.threshold, print.width)?,
        }
        super::phase("print", t);
    }
    Ok((run, report))
}

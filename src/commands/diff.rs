//! `dangle diff`: a later run against an earlier one (default: the latest against the one before).

use std::io::Write;

use serde::Serialize;

use super::Outcome;
use crate::cli::{DiffArgs, ListFormatArg};
use crate::report::diff::{count, failing, Change, Comparer, Entry};
use crate::reconcile::Severity;
use crate::report::{self, cell};

#[derive(Serialize)]
struct DiffReport<'a> {
    run: i64,
    previous_run: Option<i64>,
    entries: &'a [Entry],
}

pub fn run(args: &DiffArgs, registry: &[crate::providers::Entry]) -> anyhow::Result<Outcome> {
    let store = super::open_existing(&args.store, registry)?;
    let latest = match args.to {
        Some(to) => {
            store.require_rows(to)?;
            to
        }
        None => store.require_latest()?,
    };
    let previous = match args.from {
        Some(from) if from >= latest => anyhow::bail!("--from {from} is not earlier than run {latest}: diff compares an earlier run with a later one"),
        Some(from) => {
            store.require_rows(from)?;
            Some(from)
        }
        None => store.previous_run(latest)?,
    };
    let mut comparer = Comparer::default();
    store.merge_rows(previous, latest, |o, n| {
        comparer.add(o, n);
        Ok::<_, crate::store::StoreError>(())
    })?;
    let entries = comparer.finish();
    let threshold: Severity = args.fail_on.into();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    write_entries(&mut out, args.format, latest, previous, &entries)?;
    out.flush()?;
    Ok(Outcome { findings: failing(&entries, threshold), gaps: 0 })
}

/// The entries in `format`.
fn write_entries(out: &mut impl Write, format: ListFormatArg, latest: i64, previous: Option<i64>, entries: &[Entry]) -> anyhow::Result<()> {
    let title = match previous {
        Some(p) => format!("run {latest} against run {p}"),
        None => format!("run {latest} (no earlier run: every finding is new)"),
    };
    match format {
        ListFormatArg::Json => {
            serde_json::to_writer_pretty(&mut *out, &DiffReport { run: latest, previous_run: previous, entries })?;
            writeln!(out)?;
        }
        ListFormatArg::Csv => {
            let mut c = csv::Writer::from_writer(&mut *out);
            for e in entries {
                c.serialize(e.printable())?;
            }
            c.flush()?;
        }
        ListFormatArg::Markdown => {
            writeln!(out, "# dangle diff — {title}\n")?;
            writeln!(out, "| change | severity | status | record | type | target | reason |\n| --- | --- | --- | --- | --- | --- | --- |")?;
            for e in entries {
                writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    e.change.as_str(),
                    e.severity(),
                    e.status_move(),
                    cell(&e.record_name),
                    e.record_type,
                    cell(&e.target_move()),
                    cell(&e.reason)
                )?;
            }
        }
        ListFormatArg::Table => {
            writeln!(out, "{title}: {} new, {} changed, {} fixed", count(entries, Change::New), count(entries, Change::Changed), count(entries, Change::Fixed))?;
            let rows: Vec<Vec<String>> = entries
                .iter()
                .map(|e| {
                    vec![
                        e.change.as_str().to_string(),
                        e.severity().to_string(),
                        e.status_move(),
                        e.record_name.clone(),
                        e.record_type.clone(),
                        e.target_move(),
                        e.reason.clone(),
                    ]
                })
                .collect();
            if !rows.is_empty() {
                write!(out, "{}", report::table(&["CHANGE", "SEVERITY", "STATUS", "RECORD", "TYPE", "TARGET", "REASON"], &rows, crate::cli::table_width()))?;
            }
        }
    }
    Ok(())
}

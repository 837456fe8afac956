//! `dangle report`: re-render a stored run.

use anyhow::Context;

use super::Outcome;
use crate::cli::{FormatArg, ReportArgs};
use crate::reconcile::Severity;
use crate::report::{self, Report};

pub fn run(args: &ReportArgs) -> anyhow::Result<Outcome> {
    let store = super::open_existing(&args.store)?;
    let id = match args.run {
        Some(id) => id,
        None => store.require_latest()?,
    };
    let report = Report::load(&store, id)?;
    if let Some(dir) = &args.out {
        report.write_dir(dir).with_context(|| format!("cannot write reports into {}", dir.display()))?;
    }
    match args.format {
        FormatArg::Csv => {
            let stdout = std::io::stdout();
            report::write_rows_csv(stdout.lock(), report.rows.iter())?;
        }
        f => super::scan::print_report(&report, f, Severity::High)?,
    }
    Ok(Outcome::default())
}

//! `dangle report`: re-render a stored run.

use anyhow::Context;

use super::Outcome;
use crate::cli::{FormatArg, ReportArgs};
use crate::reconcile::Severity;
use crate::report::{Report, Stored};

pub fn run(args: &ReportArgs, registry: &[crate::providers::Entry]) -> anyhow::Result<Outcome> {
    let store = super::open_existing(&args.store, registry)?;
    let id = match args.run {
        Some(id) => id,
        None => store.require_latest()?,
    };
    let report = Report::load(&store, id)?;
    let src = Stored { store: &store, run: id };
    if let Some(dir) = &args.out {
        report.write_dir(&src, dir).with_context(|| format!("cannot write reports into {}", dir.display()))?;
    }
    match args.format {
        FormatArg::Csv => {
            let stdout = std::io::stdout();
            report.write_records_csv(&src, std::io::BufWriter::new(stdout.lock()))?;
        }
        f => crate::report::print(&src, &report, f.into(), Severity::High, crate::cli::table_width())?,
    }
    Ok(Outcome::default())
}

//! `dangle prune --keep N [--older-than DAYS]`: drop old runs' rows ([`Store::prune`]).

use super::Outcome;
use crate::cli::PruneArgs;
use crate::store::Store;

pub fn run(args: &PruneArgs, registry: &[crate::providers::Entry]) -> anyhow::Result<Outcome> {
    let at = super::store_location(&args.store, registry)?;
    if let crate::store::Location::Sqlite(path) = &at {
        if !path.exists() {
            return Err(crate::store::StoreError::Missing { path: path.clone() }.into());
        }
    }
    if args.older_than.is_some_and(|d| d < 0) {
        anyhow::bail!("--older-than {}: a number of days, 0 or more", args.older_than.unwrap_or_default());
    }
    // A prune writes: it waits for a running scan like another scan would.
    let mut store = Store::open_for_run(&at, std::time::Duration::from_secs(args.lock_timeout))?;
    let latest = store.require_latest()?;
    let p = store.prune(args.keep, args.older_than)?;
    match (p.runs.first(), p.runs.last()) {
        (Some(first), Some(last)) => println!(
            "pruned {} run(s) ({first}…{last}): {} rows dropped; run {latest} and the runs after the pruned ones keep theirs, and every record's first seen and asset's last sighting stay",
            p.runs.len(),
            p.rows
        ),
        _ => println!("nothing to prune: every run is within --keep / --older-than (the latest, run {latest}, is always kept)"),
    }
    Ok(Outcome::default())
}

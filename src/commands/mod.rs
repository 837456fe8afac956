//! One file per subcommand. Each returns an [`Outcome`] that `main` maps to the contract's exit code.

use anyhow::Context;

use crate::cli::{Command, StoreArgs};
use crate::config::Config;
use crate::store::{Location, Store};

pub mod alert;
pub mod checklist;
pub mod diff;
pub mod judge;
pub mod probe;
pub mod progress;
pub mod prune;
pub mod react;
pub mod report;
pub mod scan;

/// What a command found, for the exit code.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// Findings at or above the `--fail-on` threshold.
    pub findings: usize,
    /// Coverage gaps in the run.
    pub gaps: usize,
}

impl Outcome {
    /// 1: findings at or above the threshold; 3: gaps and no such finding; 0: clean.
    pub fn exit_code(self) -> u8 {
        if self.findings > 0 {
            1
        } else if self.gaps > 0 {
            3
        } else {
            0
        }
    }
}

pub fn run(command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::Scan(a) => scan::run(&a),
        Command::Checklist(a) => checklist::run(&a),
        Command::Report(a) => report::run(&a),
        Command::Diff(a) => diff::run(&a),
        Command::Probe(a) => probe::run(&a),
        Command::Prune(a) => prune::run(&a),
        Command::Judge(a) => judge::run(&a),
        Command::React(a) => react::run(&a),
    }
}

/// The store a command uses: `--db`, else the config's `db` (with the config's `db_password_file`,
/// when the config loads).
pub(crate) fn store_location(args: &StoreArgs) -> anyhow::Result<Location> {
    if let Some(db) = &args.db {
        let password_file = match Location::new(db, None) {
            Location::Postgres { .. } => Config::load(&args.config).ok().and_then(|c| c.db_password_file),
            Location::Sqlite(_) => None,
        };
        return Ok(Location::new(db, password_file.as_deref()));
    }
    let cfg = Config::load(&args.config).context("no --db given, so the store is found through the config")?;
    Ok(cfg.store(None))
}

pub(crate) fn open_existing(args: &StoreArgs) -> anyhow::Result<Store> {
    Ok(Store::open_existing(store_location(args)?)?)
}

#[cfg(test)]
mod tests {
    use super::Outcome;

    #[test]
    fn exit_codes_follow_the_contract() {
        assert_eq!(Outcome { findings: 0, gaps: 0 }.exit_code(), 0);
        assert_eq!(Outcome { findings: 2, gaps: 0 }.exit_code(), 1);
        assert_eq!(Outcome { findings: 2, gaps: 1 }.exit_code(), 1);
        assert_eq!(Outcome { findings: 0, gaps: 1 }.exit_code(), 3);
    }
}

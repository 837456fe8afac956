//! One file per subcommand. Each returns an [`Outcome`] that `main` maps to the contract's exit code.

use anyhow::Context;

use crate::cli::{Command, StoreArgs};
use crate::config::Config;
use crate::providers::Entry;
use crate::store::{Location, Store};

pub mod checklist;
pub mod diff;
pub mod judge;
pub mod probe;
pub mod prune;
pub mod react;
pub mod report;
pub mod scan;

/// The `tracing` target of notes a person reads at every log level (what `react` read again, what it
/// ignored): shown at `info` even when the log level is `warn` (`main`'s default filter).
pub const NOTE: &str = "dangle_note";

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

/// Runs `command` with the provider types of `registry` (this build's: [`crate::providers::registry`];
/// a test or an embedding program adds its own with [`crate::providers::with`]).
pub fn run(command: Command, registry: &[Entry]) -> anyhow::Result<Outcome> {
    match command {
        Command::Scan(a) => scan::run(&a, registry),
        Command::Checklist(a) => checklist::run(&a, registry),
        Command::Report(a) => report::run(&a, registry),
        Command::Diff(a) => diff::run(&a, registry),
        Command::Probe(a) => probe::run(&a, registry),
        Command::Prune(a) => prune::run(&a, registry),
        Command::Judge(a) => judge::run(&a, registry),
        Command::React(a) => react::run(&a, registry),
    }
}

/// The store a command uses: `--db`, else the config's `db` (with the config's `db_password_file`,
/// when the config loads).
pub(crate) fn store_location(args: &StoreArgs, registry: &[Entry]) -> anyhow::Result<Location> {
    if let Some(db) = &args.db {
        let password_file = match Location::new(db, None) {
            Location::Postgres { .. } => Config::load_with(&args.config, registry).ok().and_then(|c| c.db_password_file),
            Location::Sqlite(_) => None,
        };
        return Ok(Location::new(db, password_file.as_deref()));
    }
    let cfg = Config::load_with(&args.config, registry).context("no --db given, so the store is found through the config")?;
    Ok(cfg.store(None))
}

pub(crate) fn open_existing(args: &StoreArgs, registry: &[Entry]) -> anyhow::Result<Store> {
    Ok(Store::open_existing(store_location(args, registry)?)?)
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

//! The `dangle` binary: parse, run, map the outcome to the contract's exit code.

use std::process::ExitCode;

use clap::Parser;
use dangle::cli::Cli;

/// The log filter (tracing `EnvFilter` syntax), e.g. `DANGLE_LOG=debug`.
const DANGLE_LOG: &str = "DANGLE_LOG";

fn main() -> ExitCode {
    let cli = Cli::parse();
    let default = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env(DANGLE_LOG).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
    match dangle::commands::run(cli.command) {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        // A closed stdout (`dangle report | head`) is the reader's choice, not a failure.
        Err(e) if e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)) => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", dangle::errors::render(&e));
            ExitCode::from(2)
        }
    }
}

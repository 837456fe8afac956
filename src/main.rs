//! The `dangle` binary: parse, run, map the outcome to the contract's exit code.

use std::process::ExitCode;

use clap::Parser;
use dangle::cli::Cli;

/// The log filter (tracing `EnvFilter` syntax), e.g. `DANGLE_LOG=debug`.
const DANGLE_LOG: &str = "DANGLE_LOG";

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Notes (`commands::NOTE`) are shown whatever the level: they say what a command did.
    let default = match cli.verbose {
        0 => "warn,dangle_note=info",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env(DANGLE_LOG).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    // Trace level is for dangle's own code only: the SDKs' trace events print the `Debug` form of their
    // configuration (an assume-role `external_id` among it), whatever `DANGLE_LOG` asks for.
    let no_foreign_trace = tracing_subscriber::filter::filter_fn(|m| *m.level() <= tracing::Level::DEBUG || m.target().starts_with("dangle"));
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::Layer;
    // Colour codes only for a person at a terminal: cron mail and log files get plain text.
    // NO_COLOR (no-color.org): set to anything, no colour even at a terminal.
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr()) && !no_color;
    cli.log_format.set();
    dangle::cli::set_wide(cli.wide);
    let json = cli.log_format == dangle::cli::LogFormat::Json;
    let fmt = tracing_subscriber::fmt::layer().with_writer(dangle::progress::Stderr).with_target(false);
    let fmt = if json { fmt.json().flatten_event(true).boxed() } else { fmt.with_ansi(ansi).boxed() };
    // The providers' progress events feed the progress display (a terminal only), whatever the log level.
    // (`Targets`: decided per call site once, and no level below info reaches the layer.)
    let progress = dangle::progress::ProgressLayer.with_filter(tracing_subscriber::filter::Targets::new().with_target(dangle_model::PROGRESS, tracing::Level::INFO));
    tracing_subscriber::registry().with(fmt.with_filter(filter).with_filter(no_foreign_trace)).with(progress).init();
    match dangle::commands::run(cli.command, &dangle::providers::registry()) {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        // A closed stdout (`dangle report | head`) is the reader's choice, not a failure.
        Err(e) if e.chain().any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)) => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            let message = dangle::errors::render(&e);
            if json {
                // One JSON object, as the log lines before it.
                eprintln!("{}", serde_json::json!({"timestamp": dangle::time::now_rfc3339(), "level": "ERROR", "message": message}));
            } else {
                eprintln!("error: {message}");
            }
            ExitCode::from(2)
        }
    }
}

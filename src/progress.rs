//! Progress for a person at a terminal: the providers being read (and, inside a cloud provider, the
//! accounts / subscriptions and regions done: the providers' [`dangle_model::PROGRESS`] events, through
//! [`ProgressLayer`]) and the probes done, on stderr, only when stderr is a terminal and the logs are
//! text (cron, CI and log shippers see nothing of it). No colour in the bars (NO_COLOR or not).

use std::collections::HashMap;
use std::io::IsTerminal as _;
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A provider's spinner, with the accounts and regions its events counted.
type Counted = (ProgressBar, usize, usize);

/// Each provider's spinner by its name.
static BARS: LazyLock<Mutex<HashMap<String, Counted>>> = LazyLock::new(Default::default);

/// Feeds the providers' progress events ([`dangle_model::PROGRESS`]) to their spinners.
pub struct ProgressLayer;

#[derive(Default)]
struct Fields {
    source: String,
    regions: usize,
}

impl tracing::field::Visit for Fields {
    /// The providers record `source` as text and `regions` as a number; nothing else counts.
    fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "source" {
            self.source = value.to_string();
        }
    }
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        if field.name() == "regions" {
            self.regions = value as usize;
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ProgressLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != dangle_model::PROGRESS {
            return;
        }
        let mut f = Fields::default();
        event.record(&mut f);
        let mut bars = BARS.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((bar, accounts, regions)) = bars.get_mut(&f.source) {
            *accounts += 1;
            *regions += f.regions;
            let r = if *regions > 0 { format!(" ({regions} regions)") } else { String::new() };
            bar.set_message(format!("reading: {accounts} account(s){r} done"));
        }
    }
}

/// The scan's progress display (hidden unless stderr is a terminal).
#[derive(Clone)]
pub struct Progress {
    multi: MultiProgress,
}

/// The one display of the process: log lines written through [`Stderr`] print above its bars.
static MULTI: std::sync::OnceLock<MultiProgress> = std::sync::OnceLock::new();

impl Progress {
    pub fn new() -> Self {
        let multi = MULTI.get_or_init(|| {
            let shown = std::io::stderr().is_terminal() && crate::cli::LogFormat::current() == crate::cli::LogFormat::Text;
            MultiProgress::with_draw_target(if shown { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() })
        });
        Self { multi: multi.clone() }
    }

    /// A spinner for one provider being read; [`ProgressBar::finish_with_message`] when done.
    pub fn provider(&self, name: &str, kind: &str) -> ProgressBar {
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(ProgressStyle::with_template("{spinner} {prefix} {msg} ({elapsed})").unwrap_or_else(|_| ProgressStyle::default_spinner()));
        bar.set_prefix(format!("{kind} `{name}`"));
        bar.set_message("reading");
        bar.enable_steady_tick(Duration::from_millis(120));
        BARS.lock().unwrap_or_else(PoisonError::into_inner).insert(name.to_string(), (bar.clone(), 0, 0));
        bar
    }

    /// What the provider's events counted, for its finished line: `2 account(s) (4 regions), ` or nothing.
    pub fn counted(name: &str) -> String {
        match BARS.lock().unwrap_or_else(PoisonError::into_inner).remove(name) {
            Some((_, a, r)) if a > 0 => format!("{a} account(s){}, ", if r > 0 { format!(" ({r} regions)") } else { String::new() }),
            _ => String::new(),
        }
    }

    /// A bar over `n` probes.
    pub fn probes(&self, n: u64) -> ProgressBar {
        let bar = self.multi.add(ProgressBar::new(n));
        bar.set_style(ProgressStyle::with_template("probing {bar:30} {pos}/{len} targets ({elapsed}, {eta} left)").unwrap_or_else(|_| ProgressStyle::default_bar()));
        bar
    }

    /// Writes `line` above the bars (or plainly when they are hidden).
    pub fn println(&self, line: &str) {
        if self.multi.is_hidden() {
            return;
        }
        let _ = self.multi.println(line);
    }
}

impl Default for Progress {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use tracing_subscriber::layer::SubscriberExt as _;

    #[test]
    fn provider_events_count_accounts_and_regions_on_their_spinner() {
        let p = super::Progress::new();
        let bar = p.provider("prod-test", "aws");
        let subscriber = tracing_subscriber::registry().with(super::ProgressLayer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(target: dangle_model::PROGRESS, source = "prod-test", account = "1", regions = 2usize, "account read");
            tracing::info!(target: dangle_model::PROGRESS, source = "prod-test", account = "2", regions = 3usize, "account read");
            tracing::info!(target: dangle_model::PROGRESS, source = "other", account = "3", regions = 1usize, "account read");
            tracing::info!(source = "prod-test", regions = 9usize, "not a progress event");
        });
        assert_eq!(bar.message(), "reading: 2 account(s) (5 regions) done");
        assert_eq!(super::Progress::counted("prod-test"), "2 account(s) (5 regions), ");
    }
}

/// Standard error for the log lines: with bars on screen, each write clears them, prints, and draws
/// them again below (a log line never lands in the middle of a spinner).
#[derive(Clone, Copy, Default)]
pub struct Stderr;

impl std::io::Write for Stderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match MULTI.get().filter(|m| !m.is_hidden()) {
            Some(m) => m.suspend(|| std::io::stderr().write(buf)),
            None => std::io::stderr().write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Stderr {
    type Writer = Stderr;
    fn make_writer(&'a self) -> Self::Writer {
        Stderr
    }
}

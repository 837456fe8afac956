//! Progress for a person at a terminal: the providers being read and the probes done, on stderr, only
//! when stderr is a terminal and the logs are text (cron, CI and log shippers see nothing of it). No
//! colour in the bars (NO_COLOR or not); log lines print above them.

use std::io::IsTerminal as _;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The scan's progress display (hidden unless stderr is a terminal).
#[derive(Clone)]
pub struct Progress {
    multi: MultiProgress,
}

impl Progress {
    pub fn new() -> Self {
        let shown = std::io::stderr().is_terminal() && crate::cli::LogFormat::current() == crate::cli::LogFormat::Text;
        let target = if shown { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
        Self { multi: MultiProgress::with_draw_target(target) }
    }

    /// A spinner for one provider being read; [`ProgressBar::finish_with_message`] when done.
    pub fn provider(&self, name: &str, kind: &str) -> ProgressBar {
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(ProgressStyle::with_template("{spinner} {prefix} {msg} ({elapsed})").unwrap_or_else(|_| ProgressStyle::default_spinner()));
        bar.set_prefix(format!("{kind} `{name}`"));
        bar.set_message("reading");
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
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

//! Command-line definitions (clap). Behaviour lives in `commands/`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const AFTER_HELP: &str = "\
Examples:
  dangle scan --out report/                 judge every record in ./dangle.toml's providers
  dangle scan -c prod.toml --fail-on medium  exit 1 on any medium-or-worse finding (for CI)
  dangle checklist 52.1.2.3 my-alb-123.us-east-1.elb.amazonaws.com
                                            what still points at these before you delete them?
  dangle diff --fail-on high                 exit 1 if the latest run added a high finding
  dangle report --run 12 --format markdown   re-render any earlier run from the store
  dangle probe 52.1.2.3 --sni api.example.com --trust-anchor org-ca.pem
                                            who answers there, and can it prove it is ours?

Exit codes: 0 no finding at or above --fail-on; 1 findings at or above it; 2 the run could not be done
(bad config, unreadable input, unwritable store); 3 the run finished with coverage gaps and no finding
at or above the threshold.";

#[derive(Debug, Parser)]
#[command(name = "dangle", version, about = "Find dangling DNS records before attackers do.", long_about = "\
Find dangling DNS records before attackers do.

dangle reads every DNS record in your zones (Route53, Azure DNS, zone files) and every asset you own
(cloud IPs, load balancers, buckets, CDNs, apps, on-prem blocks), judges each record owned, dangling,
unverified or external, and keeps every run in SQLite so it can report age, changes and what to fix.",
after_help = AFTER_HELP)]
pub struct Cli {
    /// More log output on stderr (-v info, -vv debug); DANGLE_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// How stderr's log lines (and the final error) are written: text for people, json (one object
    /// a line) for cron mail filters and log shippers.
    #[arg(long, value_enum, default_value = "text", global = true)]
    pub log_format: LogFormat,
    /// Tables show every cell whole instead of fitting the terminal (wrapping the reason, cutting
    /// long names short).
    #[arg(long, global = true)]
    pub wide: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

static JSON_LOGS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

impl LogFormat {
    /// Makes this the format of everything the commands say on stderr (set once, at start).
    pub fn set(self) {
        JSON_LOGS.store(self == LogFormat::Json, std::sync::atomic::Ordering::Relaxed);
    }

    /// The format set at start.
    pub fn current() -> Self {
        if JSON_LOGS.load(std::sync::atomic::Ordering::Relaxed) {
            LogFormat::Json
        } else {
            LogFormat::Text
        }
    }
}

static WIDE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes tables whole (`--wide`; set once, at start).
pub fn set_wide(wide: bool) {
    WIDE.store(wide, std::sync::atomic::Ordering::Relaxed);
}

/// The width tables fit: the terminal's when standard output is one (or `COLUMNS` when set), none
/// with `--wide` or when the output goes to a file or a pipe.
pub fn table_width() -> Option<usize> {
    use std::io::IsTerminal as _;
    if WIDE.load(std::sync::atomic::Ordering::Relaxed) {
        return None;
    }
    if let Some(n) = std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse::<usize>().ok()).filter(|n| *n > 0) {
        return Some(n);
    }
    if !std::io::stdout().is_terminal() {
        return None;
    }
    terminal_size::terminal_size_of(std::io::stdout()).map(|(w, _)| usize::from(w.0))
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Enumerate every provider, judge every record, store the run, write reports.
    #[command(after_help = "Examples:\n  dangle scan\n  dangle scan -c dangle.toml --out out/ --fail-on medium\n  dangle scan --format json > run.json")]
    Scan(ScanArgs),
    /// List every record that reaches an IP, CIDR, hostname or resource id, directly or through chains.
    #[command(after_help = "Examples:\n  dangle checklist 203.0.113.10\n  dangle checklist 10.20.0.0/16 --format csv\n  dangle checklist arn:aws:elasticloadbalancing:us-east-1:111111111111:loadbalancer/app/web/0123\n  dangle checklist web-123.us-east-1.elb.amazonaws.com --fresh")]
    Checklist(ChecklistArgs),
    /// Re-render a stored run (the latest by default).
    #[command(after_help = "Examples:\n  dangle report\n  dangle report --run 3 --format csv > run3.csv\n  dangle report --db dangle.sqlite --out out/")]
    Report(ReportArgs),
    /// Compare the latest run with the one before: new, fixed and changed findings.
    #[command(after_help = "Examples:\n  dangle diff\n  dangle diff --fail-on medium --format json")]
    Diff(DiffArgs),
    /// Probe one target over TLS: the verdict (ours / foreign / shared / unknown_listener / no_answer) and
    /// its evidence. Exit 1 when a foreign server answers.
    #[command(after_help = "Examples:
  dangle probe api.example.com --trust-anchor org-ca.pem
  dangle probe 52.1.2.3:8443 --sni api.example.com --spki-pin 4bd9...e1
  dangle probe api.example.com --connect-to api.example.com=127.0.0.1:8443 --json
  dangle probe mtls.example.com -c dangle.toml      # [probe] trust, client certificate, connect_to")]
    Probe(ProbeArgs),
    /// Drop old runs' rows to keep the store small; every record's first seen and every asset's
    /// last sighting stay, so ages and "released since run N" stay right.
    #[command(after_help = "Examples:\n  dangle prune --keep 720              keep the latest 720 runs (a month of hourly runs)\n  dangle prune --older-than 90         drop runs older than 90 days\n  dangle prune --keep 48 --older-than 7  drop runs that are both beyond the latest 48 and older than a week")]
    Prune(PruneArgs),
    /// Judge the latest inventory of every shard as one estate (runners write them with
    /// `scan --shard NAME --enumerate-only`): store the run, write reports, alert, as `scan` does.
    #[command(after_help = "Examples:\n  dangle scan --shard aws-111111111111 --enumerate-only -c runner.toml --db postgres://dangle@db/dangle\n  dangle judge --db postgres://dangle@db/dangle --max-age 2h --out out/")]
    Judge(JudgeArgs),
    /// React to a cloud's change event (EventBridge / CloudTrail, Azure Activity Log): re-enumerate only
    /// the account, region and services it touched, fold that into the shards and judge them again.
    #[command(after_help = "Examples:\n  dangle react --event event.json --db postgres://dangle@db/dangle\n  aws events … | dangle react --event - -c react.toml")]
    React(ReactArgs),
}

#[derive(Debug, Args, Clone)]
pub struct StoreArgs {
    /// The config file.
    #[arg(short, long, default_value = "dangle.toml", value_name = "FILE")]
    pub config: PathBuf,
    /// The store: an SQLite file or a `postgres://` URL (default: the config's `db`, else
    /// dangle.sqlite beside the config).
    #[arg(long, value_name = "PATH|URL")]
    pub db: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SeverityArg {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl From<SeverityArg> for crate::reconcile::Severity {
    fn from(s: SeverityArg) -> Self {
        use crate::reconcile::Severity as S;
        match s {
            SeverityArg::Info => S::Info,
            SeverityArg::Low => S::Low,
            SeverityArg::Medium => S::Medium,
            SeverityArg::High => S::High,
            SeverityArg::Critical => S::Critical,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Table,
    Csv,
    Json,
    Markdown,
    /// SARIF 2.1.0, for GitHub code scanning.
    Sarif,
    /// One self-contained HTML page.
    Html,
}

/// The formats of a list (`checklist`, `diff`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormatArg {
    Table,
    Csv,
    Json,
    Markdown,
}

impl From<FormatArg> for crate::report::Format {
    fn from(f: FormatArg) -> Self {
        use crate::report::Format as F;
        match f {
            FormatArg::Table => F::Table,
            FormatArg::Csv => F::Csv,
            FormatArg::Json => F::Json,
            FormatArg::Markdown => F::Markdown,
            FormatArg::Sarif => F::Sarif,
            FormatArg::Html => F::Html,
        }
    }
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Write this runner's inventory into the store as shard NAME (with --enumerate-only): one
    /// provider / account / region set, for `dangle judge` to judge with every other shard.
    #[arg(long, value_name = "NAME", requires = "enumerate_only", value_parser = shard_name)]
    pub shard: Option<String>,
    /// Enumerate and store the inventory only (with --shard): no judgement, no probes, no reports.
    #[arg(long, requires = "shard")]
    pub enumerate_only: bool,
}

/// What `scan` and `judge` share: where the run goes, how it is probed and what fails it.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Write records.csv, findings.csv, assets.csv, gaps.csv, report.md, report.json, report.sarif
    /// and report.html here.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Judge only; do not probe dangling targets over TLS.
    #[arg(long)]
    pub no_probe: bool,
    /// Exit 1 when a finding is at or above this severity.
    #[arg(long, value_enum, default_value = "high", value_name = "SEVERITY")]
    pub fail_on: SeverityArg,
    /// What to print on stdout: a findings table, findings.csv, the JSON, Markdown, SARIF or HTML report.
    #[arg(long, value_enum, default_value = "table")]
    pub format: FormatArg,
    /// How long to wait for another scan of the same store to finish (runs never interleave: the
    /// second waits, then judges with the first one's run in its history). 0: fail at once.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub lock_timeout: u64,
    /// Flag findings (targets not owned) whose rows have not changed for this many days as stale
    /// (default: the config's `stale_days`, else 90).
    #[arg(long, value_name = "N")]
    pub stale_days: Option<u32>,
    /// Count only findings at least this sure for the exit code (with --fail-on): tentative (all),
    /// firm (the prober agrees or nothing contradicts), confirmed (a foreign server answers).
    #[arg(long, value_enum, default_value = "tentative", value_name = "LEVEL")]
    pub min_confidence: ConfidenceArg,
}

#[derive(Debug, Args)]
pub struct JudgeArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// A shard enumerated longer ago than this (`90s`, `30m`, `6h`, `2d`) still counts, but what it
    /// covered becomes a coverage gap: records that could point into it are `unverified`, never judged
    /// dangling on old news. Default: every shard counts as it is.
    #[arg(long, value_name = "DURATION", value_parser = duration_secs)]
    pub max_age: Option<u64>,
    /// Refuse to judge (exit 2) when a shard is older than --max-age, instead of marking it.
    #[arg(long, requires = "max_age")]
    pub refuse_stale: bool,
}

#[derive(Debug, Args)]
pub struct ReactArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// The event: a file, or `-` for standard input (an EventBridge event, a CloudTrail record or log
    /// file, an Azure Activity Log event or export).
    #[arg(long, value_name = "FILE|-")]
    pub event: PathBuf,
}

/// A shard's name: letters, digits, `-`, `_`, `.`, `/`, `:` (an account and region read as one).
fn shard_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty() && s.len() <= 200 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./:@".contains(&b));
    if ok {
        Ok(s.to_string())
    } else {
        Err("a shard name is 1 to 200 of letters, digits and - _ . / : @".into())
    }
}

/// `90s`, `30m`, `6h`, `2d` or a number of seconds, as seconds.
pub fn duration_secs(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (n, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: u64 = n.parse().map_err(|_| format!("`{s}` is not a duration: a number and s, m, h or d (`30m`, `6h`)"))?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{s}` is not a duration: a number and s, m, h or d (`30m`, `6h`)")),
    };
    n.checked_mul(unit).ok_or_else(|| format!("`{s}` is too long a duration"))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConfidenceArg {
    Tentative,
    Firm,
    Confirmed,
}

impl From<ConfidenceArg> for crate::reconcile::Confidence {
    fn from(c: ConfidenceArg) -> Self {
        use crate::reconcile::Confidence as C;
        match c {
            ConfidenceArg::Tentative => C::Tentative,
            ConfidenceArg::Firm => C::Firm,
            ConfidenceArg::Confirmed => C::Confirmed,
        }
    }
}

#[derive(Debug, Args)]
pub struct ChecklistArgs {
    /// IP, CIDR, hostname (load balancer, bucket endpoint, CDN name) or resource id / ARN.
    #[arg(required = true, value_name = "TARGET")]
    pub targets: Vec<String>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Scan first (needs the config) instead of using the latest stored run.
    #[arg(long)]
    pub fresh: bool,
    /// Markdown (the records, then the exact changes: a Route53 batch per hosted zone, zone file
    /// lines, Azure record sets); exit 1 while any record reaches a target.
    #[arg(long, value_enum, default_value = "markdown")]
    pub format: ListFormatArg,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The run to render (default: the latest).
    #[arg(long, value_name = "ID")]
    pub run: Option<i64>,
    /// csv prints records.csv; table prints the findings.
    #[arg(long, value_enum, default_value = "markdown")]
    pub format: FormatArg,
    /// Also write every report file into this folder, as `scan --out` does.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The earlier run (default: the one before `--to`).
    #[arg(long, value_name = "RUN")]
    pub from: Option<i64>,
    /// The later run (default: the latest).
    #[arg(long, value_name = "RUN")]
    pub to: Option<i64>,
    /// Exit 1 when a new or worsened finding is at or above this severity.
    #[arg(long, value_enum, default_value = "high", value_name = "SEVERITY")]
    pub fail_on: SeverityArg,
    #[arg(long, value_enum, default_value = "table")]
    pub format: ListFormatArg,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("which").required(true).multiple(true).args(["keep", "older_than"])))]
pub struct PruneArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Keep the latest N runs (the latest is always kept).
    #[arg(long, value_name = "N")]
    pub keep: Option<usize>,
    /// Prune only runs older than this many days.
    #[arg(long, value_name = "DAYS")]
    pub older_than: Option<i64>,
    /// How long to wait for a scan of the same store to finish.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub lock_timeout: u64,
}

#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// HOST[:PORT]: an address or a host name ([V6]:PORT for IPv6 with a port). Without a port, the
    /// config's `[probe] ports` (default 443).
    #[arg(value_name = "HOST[:PORT]")]
    pub target: String,
    /// The SNI to send (default: HOST when it is a name; none for an address).
    #[arg(long, value_name = "NAME")]
    pub sni: Option<String>,
    /// Take `[probe]` (trust anchors, pins, client certificate, connect_to, timeouts) from this config;
    /// the flags below add to it.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A PEM file of CA certificates that make a server ours (repeatable).
    #[arg(long = "trust-anchor", value_name = "PEM")]
    pub trust_anchors: Vec<PathBuf>,
    /// SHA-256 of a SubjectPublicKeyInfo that makes a server ours, hex or base64 (repeatable).
    #[arg(long = "spki-pin", value_name = "PIN")]
    pub spki_pins: Vec<String>,
    /// Client certificate (PEM) for authenticate mode: presented only over TLS 1.3 to a server that
    /// proved to be ours and asks for one of our CAs.
    #[arg(long, value_name = "PEM", requires = "client_key")]
    pub client_cert: Option<PathBuf>,
    #[arg(long, value_name = "PEM", requires = "client_cert")]
    pub client_key: Option<PathBuf>,
    /// Dial TO instead of FROM, keeping the SNI, like curl --connect-to (repeatable).
    #[arg(long = "connect-to", value_name = "FROM=TO")]
    pub connect_to: Vec<String>,
    /// Resolve host names through this name server (ADDR or ADDR:PORT, repeatable).
    #[arg(long = "nameserver", value_name = "ADDR")]
    pub nameservers: Vec<String>,
    #[arg(long, value_name = "MS")]
    pub connect_timeout_ms: Option<u64>,
    #[arg(long, value_name = "MS")]
    pub handshake_timeout_ms: Option<u64>,
    /// Print the evidence as JSON.
    #[arg(long)]
    pub json: bool,
}

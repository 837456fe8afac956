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
    #[command(subcommand)]
    pub command: Command,
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
}

#[derive(Debug, Args, Clone)]
pub struct StoreArgs {
    /// The config file.
    #[arg(short, long, default_value = "dangle.toml", value_name = "FILE")]
    pub config: PathBuf,
    /// The SQLite store (default: the config's `db`, else dangle.sqlite beside the config).
    #[arg(long, value_name = "PATH")]
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
}

impl From<FormatArg> for crate::report::Format {
    fn from(f: FormatArg) -> Self {
        use crate::report::Format as F;
        match f {
            FormatArg::Table => F::Table,
            FormatArg::Csv => F::Csv,
            FormatArg::Json => F::Json,
            FormatArg::Markdown => F::Markdown,
        }
    }
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Write records.csv, findings.csv, assets.csv, gaps.csv, report.md and report.json here.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Judge only; do not probe dangling targets over TLS.
    #[arg(long)]
    pub no_probe: bool,
    /// Exit 1 when a finding is at or above this severity.
    #[arg(long, value_enum, default_value = "high", value_name = "SEVERITY")]
    pub fail_on: SeverityArg,
    /// What to print on stdout: a findings table, findings.csv, the JSON report, or the Markdown report.
    #[arg(long, value_enum, default_value = "table")]
    pub format: FormatArg,
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
    #[arg(long, value_enum, default_value = "table")]
    pub format: FormatArg,
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
    /// Exit 1 when a new or worsened finding is at or above this severity.
    #[arg(long, value_enum, default_value = "high", value_name = "SEVERITY")]
    pub fail_on: SeverityArg,
    #[arg(long, value_enum, default_value = "table")]
    pub format: FormatArg,
}

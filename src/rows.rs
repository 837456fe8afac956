//! The rows reports read: one (record, target) row as every format shows it, a run's assets, gaps,
//! named probes, counts and metadata. The scan builds them from memory and the store reads them back;
//! the two are the same rows, byte for byte.

use serde::Serialize;

use crate::reconcile::{Claimable, Confidence, Kind, Severity, Status};
use dangle_model::Verdict;

/// A run's metadata.
#[derive(Debug, Clone, Serialize)]
pub struct RunMeta {
    pub id: i64,
    pub started_at: String,
    pub finished_at: String,
    pub config: String,
    pub snapshot: String,
    pub tool_version: String,
    pub records: i64,
    pub rows: i64,
    pub assets: i64,
    pub gaps: i64,
    /// `--stale-days` of the run: findings unchanged this long are flagged stale (none before schema 4).
    pub stale_days: Option<i64>,
    /// Whether the run probed (none before schema 4).
    pub probing: Option<bool>,
}

/// One (record, target) row as reports show it: the records.csv columns plus where to edit. Nothing in
/// it may change after its run: `report --run N` renders the same bytes whenever it runs (so no
/// `last_seen`, which the next run moves; the store keeps it in `records.last_run`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportRow {
    pub record_name: String,
    pub record_type: String,
    pub set_id: String,
    pub target: String,
    pub zone: String,
    pub source: String,
    pub account: String,
    pub status: Status,
    pub severity: Severity,
    pub claimable: Claimable,
    pub reason: String,
    pub probe_verdict: Verdict,
    pub probe_detail: String,
    pub first_seen: String,
    pub location: String,
    /// How much evidence stands behind the status ([`Confidence::of`]).
    pub confidence: Confidence,
    /// When the record was first judged dangling in its current streak (its exposure window); empty
    /// when it is not dangling (or the run predates schema 4).
    pub dangling_since: String,
    /// The start of the run in which the record's rows (targets, statuses, severities, claimability,
    /// probe verdicts) last changed.
    pub last_changed: String,
    /// Whole days from first_seen to this run.
    pub age_days: Option<i64>,
    /// A finding unchanged for the run's `--stale-days` or longer.
    pub stale: bool,
    /// What kind of finding it is (`ok` for none): its remediation and OWASP entries go by it.
    pub kind: Kind,
    pub ttl: u32,
    pub owner: String,
    /// The evidence of every probe behind `probe_verdict` (JSON report only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<serde_json::Value>,
}

impl ReportRow {
    /// A row with every field empty (the lowest status, severity and confidence), to fill in.
    pub fn empty() -> Self {
        Self {
            record_name: String::new(),
            record_type: String::new(),
            set_id: String::new(),
            target: String::new(),
            zone: String::new(),
            source: String::new(),
            account: String::new(),
            status: Status::NoTarget,
            severity: Severity::Info,
            claimable: Claimable::No,
            reason: String::new(),
            probe_verdict: Verdict::NotProbed,
            probe_detail: String::new(),
            first_seen: String::new(),
            location: String::new(),
            confidence: Confidence::Tentative,
            dangling_since: String::new(),
            last_changed: String::new(),
            age_days: None,
            stale: false,
            kind: Kind::Ok,
            ttl: 0,
            owner: String::new(),
            probes: Vec::new(),
        }
    }

    /// Where a person edits the record: its file and line or console location, else source / account.
    pub fn place(&self) -> String {
        if self.location.is_empty() {
            format!("{} / {}", self.source, self.account)
        } else {
            self.location.clone()
        }
    }

    /// [`ReportRow::key`] without copying it.
    pub fn key_ref(&self) -> (&str, &str, &str, &str, &str, &str, &str) {
        (&self.source, &self.account, &self.zone, &self.record_name, &self.record_type, &self.set_id, &self.target)
    }

    /// Identifies a row across runs.
    pub fn key(&self) -> (String, String, String, String, String, String, String) {
        (
            self.source.clone(),
            self.account.clone(),
            self.zone.clone(),
            self.record_name.clone(),
            self.record_type.clone(),
            self.set_id.clone(),
            self.target.clone(),
        )
    }
}

/// Which rows [`Store::each_row`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    All,
    /// Rows whose status is a finding (external, unverified, dangling).
    Findings,
}

/// Counts over a run's rows ([`Store::row_counts`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowCounts {
    /// Indexed by [`Status`] as a number.
    pub by_status: [usize; 5],
    /// Findings only, indexed by [`Severity`] as a number.
    pub by_severity: [usize; 5],
    /// Findings only, by severity and then [`Confidence`] as numbers (for `--min-confidence`).
    pub by_confidence: [[usize; 3]; 5],
    /// Some row carries a probe verdict.
    pub probed: bool,
}

/// A named target's probe result, as reports show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NamedProbeRow {
    pub target: String,
    pub sni: String,
    pub verdict: Verdict,
    pub detail: String,
    pub probes: Vec<serde_json::Value>,
}

/// An asset of a run, as assets.csv shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssetRow {
    pub kind: String,
    pub id: String,
    pub source: String,
    pub account: String,
    pub region: String,
    pub ips: String,
    pub hosts: String,
    pub first_seen: String,
}

/// A coverage gap of a run, as gaps.csv shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GapRow {
    pub source: String,
    pub account: String,
    pub region: String,
    pub service: String,
    pub error: String,
}

/// One run's findings by severity, for a chart of the store's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunPoint {
    pub run: i64,
    pub started_at: String,
    /// Indexed by [`Severity`] as a number.
    pub by_severity: [usize; 5],
}

/// A row's age as reports show it, from dates the store (or the run in memory) holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ages {
    pub age_days: Option<i64>,
    pub stale: bool,
}

impl Ages {
    /// A row of `status` in the run started at `run_started`, its record first seen at `first_seen` and
    /// last changed at `last_changed` (empty: unknown); `stale_days` is the run's `--stale-days`.
    /// A finding (a target not owned) is stale when it has not changed for `stale_days` days.
    pub fn of(status: Status, run_started: &str, first_seen: &str, last_changed: &str, stale_days: Option<i64>) -> Self {
        let age_days = crate::time::days_between(first_seen, run_started);
        let unchanged = crate::time::days_between(last_changed, run_started);
        let stale = status.is_finding() && matches!((unchanged, stale_days), (Some(d), Some(n)) if d >= n);
        Self { age_days, stale }
    }
}

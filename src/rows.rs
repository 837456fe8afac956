//! The rows reports read: one (record, target) row as every format shows it, a run's assets, gaps,
//! named probes, counts and metadata. The scan builds them from memory and the store reads them back;
//! the two are the same rows, byte for byte.

use serde::Serialize;

use crate::reconcile::{carries_https, ClaimEvidence, Claimable, Confidence, Kind, Severity, Status};
use dangle_model::{DnsName, Location, RecordType, Target, Verdict};

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

/// A moment as the store keeps it: RFC 3339 in UTC (`2026-12-07T22:33:43Z`), or empty when it is not
/// known (a run stored before dangle kept it). Reads as the text it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Timestamp(String);

impl Timestamp {
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// This timestamp set to `text`, in the buffer it already has.
    pub fn set(&mut self, text: &str) {
        self.0.clear();
        self.0.push_str(text);
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The date (`YYYY-MM-DD`), or all of it when shorter.
    pub fn day(&self) -> &str {
        self.0.get(..10).unwrap_or(&self.0)
    }
}

impl PartialEq<&str> for Timestamp {
    fn eq(&self, text: &&str) -> bool {
        self.0 == *text
    }
}

impl From<&str> for Timestamp {
    fn from(text: &str) -> Self {
        Self(text.to_string())
    }
}

impl std::ops::Deref for Timestamp {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One (record, target) row as reports show it: the records.csv columns plus where to edit. Nothing in
/// it may change after its run: `report --run N` renders the same bytes whenever it runs (so no
/// `last_seen`, which the next run moves; the store keeps it in `records.last_run`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportRow {
    pub record_name: String,
    pub record_type: RecordType,
    pub set_id: String,
    /// `None` for a record without targets (shown empty).
    #[serde(serialize_with = "shown_or_empty")]
    pub target: Option<Target>,
    pub zone: String,
    pub source: String,
    pub account: String,
    pub status: Status,
    pub severity: Severity,
    pub claimable: Claimable,
    pub reason: String,
    pub probe_verdict: Verdict,
    pub probe_detail: String,
    pub first_seen: Timestamp,
    #[serde(serialize_with = "shown_or_empty")]
    pub location: Option<Location>,
    /// How much evidence stands behind the status ([`Confidence::of`]).
    pub confidence: Confidence,
    /// When the record was first judged dangling in its current streak (its exposure window); empty
    /// when it is not dangling (or the run predates schema 4).
    pub dangling_since: Timestamp,
    /// The start of the run in which the record's rows (targets, statuses, severities, claimability,
    /// probe verdicts) last changed.
    pub last_changed: Timestamp,
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

/// A value as reports show it; nothing as empty text.
fn shown_or_empty<T: std::fmt::Display, S: serde::Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_str(""),
    }
}

/// What a row's derived columns follow from besides the row itself: its run and its evidence.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    /// When the row's run started (RFC 3339).
    pub run_started: &'a str,
    /// The run's `--stale-days` and whether it probed (unknown for runs stored before schema 4).
    pub stale_days: Option<i64>,
    pub probing: Option<bool>,
    /// What a claim check, fingerprint or live lookup found for the row.
    pub claim: Option<ClaimEvidence>,
    /// Certificates were logged for the name since it dangles.
    pub issued_since: bool,
}

impl ReportRow {
    /// A row with every field empty (the lowest status, severity and confidence), to fill in.
    pub fn empty() -> Self {
        Self {
            record_name: String::new(),
            record_type: RecordType::A,
            set_id: String::new(),
            target: None,
            zone: String::new(),
            source: String::new(),
            account: String::new(),
            status: Status::NoTarget,
            severity: Severity::Info,
            claimable: Claimable::No,
            reason: String::new(),
            probe_verdict: Verdict::NotProbed,
            probe_detail: String::new(),
            first_seen: Timestamp::default(),
            location: None,
            confidence: Confidence::Tentative,
            dangling_since: Timestamp::default(),
            last_changed: Timestamp::default(),
            age_days: None,
            stale: false,
            kind: Kind::Ok,
            ttl: 0,
            owner: String::new(),
            probes: Vec::new(),
        }
    }

    /// Fills the columns that follow from the others and from `facts`, the same for a row made in memory
    /// and one read from the store: why a row was not probed (when it was not, and says nothing itself),
    /// its age, whether it is stale, its confidence.
    pub fn derive(&mut self, facts: &Facts<'_>) {
        if self.probe_verdict == Verdict::NotProbed && self.probe_detail.is_empty() {
            let why = why_not_probed(self.status, &self.record_type, self.target.as_ref(), facts.probing);
            self.probe_detail.push_str(why);
        }
        let ages = Ages::of(self.status, facts.run_started, &self.first_seen, &self.last_changed, facts.stale_days);
        self.age_days = ages.age_days;
        self.stale = ages.stale;
        self.confidence = Confidence::of(self.status, self.probe_verdict, facts.claim, facts.issued_since);
    }

    /// The target as reports show it (empty for none).
    pub fn target_text(&self) -> String {
        self.target.as_ref().map(ToString::to_string).unwrap_or_default()
    }

    /// Where a person edits the record: its file and line or console location, else source / account.
    pub fn place(&self) -> String {
        match &self.location {
            Some(l) => l.to_string(),
            None => format!("{} / {}", self.source, self.account),
        }
    }

    /// [`ReportRow::key`] against another row's, without copying what is text already.
    pub fn key_cmp(&self, other: &Self) -> std::cmp::Ordering {
        fn text(r: &ReportRow) -> (&str, &str, &str, &str, &str, &str) {
            (&r.source, &r.account, &r.zone, &r.record_name, r.record_type.as_str(), &r.set_id)
        }
        text(self).cmp(&text(other)).then_with(|| self.target_text().cmp(&other.target_text()))
    }

    /// Identifies a row across runs, in the order the store sorts them (text, byte by byte).
    pub fn key(&self) -> (String, String, String, String, String, String, String) {
        (
            self.source.clone(),
            self.account.clone(),
            self.zone.clone(),
            self.record_name.clone(),
            self.record_type.as_str().to_string(),
            self.set_id.clone(),
            self.target_text(),
        )
    }
}

/// Why a row the scan did not probe was not probed, in words (empty when nothing explains it: the
/// scan should have probed it).
pub fn why_not_probed(status: Status, rtype: &RecordType, target: Option<&Target>, probing: Option<bool>) -> &'static str {
    if !status.is_finding() {
        ""
    } else if probing == Some(false) {
        "not probed: probing was off for this run"
    } else if !matches!(status, Status::Dangling | Status::Unverified) {
        "not probed: only dangling and unverified rows are"
    } else if !carries_https(rtype) {
        "not probed: no HTTPS endpoint behind this record type"
    } else if matches!(target, None | Some(Target::Resource { .. })) {
        "not probed: no address or name to dial"
    } else {
        ""
    }
}

/// A row's target as reports show it ([`Target`]'s `Display`), read back: an address, `alias:NAME`, a
/// resource id (`/…`), else a name. `None` for empty text (a record without targets); text that is
/// none of these (a damaged store) is `None` too.
pub fn target_of(text: &str) -> Option<Target> {
    if text.is_empty() {
        return None;
    }
    if let Ok(ip) = text.parse() {
        return Some(Target::Ip(ip));
    }
    if let Some(alias) = text.strip_prefix("alias:") {
        return DnsName::parse(alias).ok().map(|dns_name| Target::Alias { dns_name, zone_id: String::new() });
    }
    if text.starts_with('/') {
        return Some(Target::Resource { id: text.to_string() });
    }
    DnsName::parse(text).ok().map(Target::Host)
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

impl RowCounts {
    /// Counts `n` rows of `status` and `severity` whose probe said `verdict`, with what a claim check
    /// found for them and whether certificates were issued since they dangle.
    pub fn add(&mut self, status: Status, severity: Severity, verdict: Verdict, claim: Option<ClaimEvidence>, issued_since: bool, n: usize) {
        self.by_status[status as usize] += n;
        if status.is_finding() {
            self.by_severity[severity as usize] += n;
            self.by_confidence[severity as usize][Confidence::of(status, verdict, claim, issued_since) as usize] += n;
        }
    }
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

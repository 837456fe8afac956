//! What changed between two runs, row by row: new findings, findings that changed or got worse, and
//! fixes (a record whose target moved is one change, not a fix and a new finding). `dangle diff` shows
//! it; the alerts post what is new or worse.

use std::collections::BTreeMap;

use serde::Serialize;

use dangle_model::Verdict;
use crate::reconcile::{Severity, Status};
use crate::rows::ReportRow;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    New,
    Changed,
    Fixed,
}

impl Change {
    /// The one name every format uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Changed => "changed",
            Self::Fixed => "fixed",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub change: Change,
    pub record_name: String,
    pub record_type: String,
    pub set_id: String,
    pub target: String,
    /// The target before, when the record now points elsewhere (`changed`); empty otherwise.
    pub old_target: String,
    pub zone: String,
    pub source: String,
    pub account: String,
    /// `absent` when there is no row on that side.
    #[serde(serialize_with = "or_absent")]
    pub old_status: Option<Status>,
    #[serde(serialize_with = "or_absent")]
    pub new_status: Option<Status>,
    /// Empty when there is no row on that side.
    #[serde(serialize_with = "or_empty")]
    pub old_severity: Option<Severity>,
    #[serde(serialize_with = "or_empty")]
    pub new_severity: Option<Severity>,
    pub reason: String,
    #[serde(serialize_with = "or_empty")]
    pub old_probe_verdict: Option<Verdict>,
    #[serde(serialize_with = "or_empty")]
    pub new_probe_verdict: Option<Verdict>,
}

/// Text appears at the edge only: a missing side is `absent` (status) or empty (the rest).
fn or_absent<S: serde::Serializer>(v: &Option<Status>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(v.map_or(ABSENT, Status::as_str))
}

fn or_empty<T: std::fmt::Display, S: serde::Serializer>(v: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(t) => s.collect_str(t),
        None => s.serialize_str(""),
    }
}

fn is_finding(r: &ReportRow) -> bool {
    r.status.is_finding()
}

/// New: a finding now that was absent or fine before. Fixed: a finding before that is absent or fine now.
/// Changed: a finding in both whose status, severity or probe verdict moved, or a record that was a
/// finding and still is but points at another target (an A record whose address changed).
///
/// Rows arrive key by key ([`crate::store::Store::merge_rows`]); only what changed is kept, so two runs
/// of a million rows each are compared in memory bounded by the changes.
#[derive(Default)]
pub struct Comparer {
    /// Entries of keys the new run has, in key order.
    present: Vec<Pending>,
    /// Findings whose row is gone, in key order.
    gone: Vec<Pending>,
}

/// An entry, with the row it came from where a moved target may pair it with another.
struct Pending {
    entry: Entry,
    row: Option<ReportRow>,
}

impl Comparer {
    /// The row of one key in the old run and in the new one.
    pub fn add(&mut self, o: Option<ReportRow>, n: Option<ReportRow>) {
        match (o, n) {
            (o, Some(n)) => {
                let change = match (&o, is_finding(&n)) {
                    (None, true) => Some(Change::New),
                    (Some(o), true) if !is_finding(o) => Some(Change::New),
                    (Some(o), true) if o.status != n.status || o.severity != n.severity || probe_moved(o, &n) => Some(Change::Changed),
                    (Some(o), false) if is_finding(o) => Some(Change::Fixed),
                    _ => None,
                };
                if let Some(c) = change {
                    let entry = entry(c, o.as_ref(), Some(&n));
                    // A new row with no row before may be the other half of a moved target.
                    let row = (c == Change::New && o.is_none()).then_some(n);
                    self.present.push(Pending { entry, row });
                }
            }
            (Some(o), None) if is_finding(&o) => self.gone.push(Pending { entry: entry(Change::Fixed, Some(&o), None), row: Some(o) }),
            _ => {}
        }
    }

    /// The entries, moved targets paired, in report order.
    pub fn finish(self) -> Vec<Entry> {
        let mut out = self.present;
        out.extend(self.gone);
        pair_moved_targets(&mut out);
        let mut out: Vec<Entry> = out.into_iter().map(|p| p.entry).collect();
        out.sort_by(|a, b| {
            a.change
                .cmp(&b.change)
                .then_with(|| b.new_severity.cmp(&a.new_severity))
                .then_with(|| (&a.record_name, &a.record_type, &a.set_id, &a.target).cmp(&(&b.record_name, &b.record_type, &b.set_id, &b.target)))
        });
        out
    }
}

/// [`Comparer`] over two runs' rows in memory.
pub fn compare(old: &[ReportRow], new: &[ReportRow]) -> Vec<Entry> {
    let before: BTreeMap<_, &ReportRow> = old.iter().map(|r| (r.key(), r)).collect();
    let after: BTreeMap<_, &ReportRow> = new.iter().map(|r| (r.key(), r)).collect();
    let mut keys: Vec<_> = before.keys().chain(after.keys()).cloned().collect();
    keys.sort_unstable();
    keys.dedup();
    let mut c = Comparer::default();
    for k in keys {
        c.add(before.get(&k).map(|r| (*r).clone()), after.get(&k).map(|r| (*r).clone()));
    }
    c.finish()
}

/// A record whose old target left (fixed, the row gone) and whose new target arrived (new, no row
/// before) is one change of that record, not a fix and a new finding.
fn pair_moved_targets(out: &mut Vec<Pending>) {
    type Record = (String, String, String, String, String, String);
    let record = |e: &Entry| -> Record {
        (e.source.clone(), e.account.clone(), e.zone.clone(), e.record_name.clone(), e.record_type.clone(), e.set_id.clone())
    };
    let mut gone: BTreeMap<Record, Vec<usize>> = BTreeMap::new();
    for (i, p) in out.iter().enumerate() {
        if p.entry.change == Change::Fixed && p.entry.new_status.is_none() {
            gone.entry(record(&p.entry)).or_default().push(i);
        }
    }
    let mut drop = Vec::new();
    for i in 0..out.len() {
        if out[i].entry.change != Change::New || out[i].entry.old_status.is_some() {
            continue;
        }
        let Some(j) = gone.get_mut(&record(&out[i].entry)).and_then(|v| if v.is_empty() { None } else { Some(v.remove(0)) }) else { continue };
        let (Some(o), Some(n)) = (out[j].row.as_ref(), out[i].row.as_ref()) else { continue };
        let mut e = entry(Change::Changed, Some(o), Some(n));
        e.old_target = o.target_text();
        out[i].entry = e;
        drop.push(j);
    }
    drop.sort_unstable();
    for j in drop.into_iter().rev() {
        out.remove(j);
    }
}

const ABSENT: &str = "absent";

fn entry(change: Change, o: Option<&ReportRow>, n: Option<&ReportRow>) -> Entry {
    let base = n.or(o).expect("one side exists");
    let reason = match (change, n) {
        // What holds now, not the old advice to remove the record.
        (Change::Fixed, Some(n)) => format!("now {}: {}", n.status, n.reason),
        (Change::Fixed, None) => "the record (or this target of it) is gone".to_string(),
        _ => base.reason.clone(),
    };
    Entry {
        change,
        record_name: base.record_name.clone(),
        record_type: base.record_type.to_string(),
        set_id: base.set_id.clone(),
        target: base.target_text(),
        old_target: String::new(),
        zone: base.zone.clone(),
        source: base.source.clone(),
        account: base.account.clone(),
        old_status: o.map(|r| r.status),
        new_status: n.map(|r| r.status),
        old_severity: o.map(|r| r.severity),
        new_severity: n.map(|r| r.severity),
        reason,
        old_probe_verdict: o.map(|r| r.probe_verdict),
        new_probe_verdict: n.map(|r| r.probe_verdict),
    }
}

/// The probe says something new: both runs probed and the verdicts differ, or a foreign server now
/// answers. (A run with `--no-probe` between two probing runs is not a change.)
fn probe_moved(o: &ReportRow, n: &ReportRow) -> bool {
    const NOT: Verdict = Verdict::NotProbed;
    o.probe_verdict != n.probe_verdict && ((o.probe_verdict != NOT && n.probe_verdict != NOT) || n.probe_verdict == Verdict::Foreign)
}

/// A new finding, or a changed one that got worse (in severity, or a foreign server answering now),
/// at or above `threshold`.
pub fn worsens(e: &Entry, threshold: Severity) -> bool {
    match e.change {
        Change::New => e.new_severity >= Some(threshold),
        Change::Changed => {
            let foreign_now = e.new_probe_verdict == Some(Verdict::Foreign) && e.old_probe_verdict != Some(Verdict::Foreign);
            e.new_severity >= Some(threshold) && (e.new_severity > e.old_severity || foreign_now)
        }
        Change::Fixed => false,
    }
}

/// Entries that fail the run: new findings, or changed ones that got worse, at or above `threshold`.
pub fn failing(entries: &[Entry], threshold: Severity) -> usize {
    entries.iter().filter(|e| worsens(e, threshold)).count()
}

impl Entry {
    /// The severity a reader sorts by: the new one, or the old one for a fix.
    pub fn severity(&self) -> &'static str {
        self.new_severity.or(self.old_severity).map_or("", Severity::as_str)
    }

    /// A copy fit for CSV: no raw control characters in any field.
    pub fn printable(&self) -> Entry {
        let f = |s: &String| super::field(s).into_owned();
        Entry {
            record_name: f(&self.record_name),
            set_id: f(&self.set_id),
            target: f(&self.target),
            old_target: f(&self.old_target),
            zone: f(&self.zone),
            source: f(&self.source),
            account: f(&self.account),
            reason: f(&self.reason),
            ..self.clone()
        }
    }

    pub fn status_move(&self) -> String {
        let s = |v: Option<Status>| v.map_or(ABSENT, Status::as_str);
        format!("{} → {}", s(self.old_status), s(self.new_status))
    }

    pub fn target_move(&self) -> String {
        if self.old_target.is_empty() {
            self.target.clone()
        } else {
            format!("{} → {}", self.old_target, self.target)
        }
    }
}

pub fn count(entries: &[Entry], c: Change) -> usize {
    entries.iter().filter(|e| e.change == c).count()
}

#[cfg(test)]
mod tests {
    use super::{compare, Change};
    use dangle_model::Verdict;
    use crate::reconcile::{Claimable, Severity, Status};
    use crate::rows::ReportRow;

    fn row(severity: &str, probe: &str) -> ReportRow {
        ReportRow {
            record_name: "app.example.com".into(),
            record_type: "A".into(),
            set_id: String::new(),
            target: crate::rows::target_of("198.51.100.7"),
            zone: "example.com".into(),
            source: "zones".into(),
            account: String::new(),
            status: Status::Dangling,
            severity: Severity::parse(severity).unwrap(),
            claimable: Claimable::Yes,
            reason: "r".into(),
            probe_verdict: Verdict::parse(probe).unwrap(),
            probe_detail: String::new(),
            first_seen: "2026-11-29T00:00:00Z".into(),
            location: None,
            ttl: 300,
            owner: String::new(),
            probes: vec![],
            ..ReportRow::empty()
        }
    }

    fn at(target: &str, status: &str, severity: &str, reason: &str) -> ReportRow {
        ReportRow { target: crate::rows::target_of(target), status: Status::parse(status).unwrap(), reason: reason.into(), ..row(severity, "not_probed") }
    }

    #[test]
    fn an_address_that_changed_is_changed_not_new() {
        let old = [at("198.51.100.7", "dangling", "high", "released")];
        let new = [at("198.51.100.8", "dangling", "high", "released")];
        let e = compare(&old, &new);
        assert_eq!(e.len(), 1, "{e:#?}");
        assert_eq!(e[0].change, Change::Changed);
        assert_eq!((e[0].old_target.as_str(), e[0].target.as_str()), ("198.51.100.7", "198.51.100.8"));
        // Repointed at something owned: the finding is fixed, and nothing is new.
        let e = compare(&old, &[at("198.51.100.9", "owned", "info", "static web")]);
        assert_eq!(e.iter().map(|e| e.change).collect::<Vec<_>>(), [Change::Fixed]);
    }

    #[test]
    fn a_fixed_row_says_what_holds_now_not_remove_the_record() {
        let old = [at("198.51.100.7", "dangling", "high", "nothing owns it: remove the record")];
        let e = compare(&old, &[at("198.51.100.7", "owned", "info", "held by static web")]);
        assert_eq!(e[0].change, Change::Fixed);
        assert_eq!(e[0].reason, "now owned: held by static web");
        let e = compare(&old, &[]);
        assert!(!e[0].reason.contains("remove"), "{}", e[0].reason);
    }

    #[test]
    fn a_new_probe_verdict_is_a_change_and_a_skipped_probe_is_not() {
        let changed = |o: ReportRow, n: ReportRow| compare(&[o], &[n]).iter().any(|e| e.change == Change::Changed);
        assert!(changed(row("high", "no_answer"), row("high", "unknown_listener")));
        assert!(changed(row("high", "not_probed"), row("critical", "foreign")));
        assert!(changed(row("high", "not_probed"), row("high", "foreign")), "a foreign answer is news even after --no-probe");
        assert!(!changed(row("high", "no_answer"), row("high", "not_probed")), "a run with --no-probe changes nothing");
        assert!(!changed(row("high", "not_probed"), row("high", "no_answer")));
        let e = &compare(&[row("high", "no_answer")], &[row("critical", "foreign")])[0];
        assert_eq!((e.old_probe_verdict, e.new_probe_verdict), (Some(Verdict::NoAnswer), Some(Verdict::Foreign)));
    }
}

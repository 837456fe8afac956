//! The run a scan is writing, as a report [`Source`]: its rows and assets made from the judgements in
//! memory, exactly as the store will hand them back, so the reports are written while the store writes
//! the run (on the second core) instead of being read back from it afterwards. What only the store
//! knows, when each record and asset was first seen, comes from the [`RunWriter`] steps: the records'
//! before the reports start, the assets' when the store has written them.
//!
//! `tests/it/cli.rs` (`report_regenerates_a_run_byte_for_byte`) holds the two sources together: the
//! files `scan --out` writes from here are the files `report --run N --out` writes from the store.
//!
//! [`RunWriter`]: crate::store::RunWriter

use std::sync::mpsc::Receiver;
use std::sync::{Mutex, OnceLock, PoisonError};

use anyhow::anyhow;

use crate::report::{Report, Source};
use crate::store::{evidence_value, push_hosts, push_nets, FirstSeen, RecordDates, RunInput};
use crate::rows::{AssetRow, Facts, GapRow, NamedProbeRow, ReportRow, RowCounts, RunMeta, Which};
use dangle_model::Verdict;

pub struct RunView<'a> {
    run: &'a RunInput<'a>,
    records: RecordDates,
    /// The assets' first sightings, once the store has written the assets.
    assets_first: OnceLock<FirstSeen>,
    pending: Mutex<Option<Receiver<FirstSeen>>>,
}

impl<'a> RunView<'a> {
    /// `assets_first` delivers the assets' first sightings; a sender dropped unsent (the store write
    /// failed) makes the assets an error.
    pub fn new(run: &'a RunInput<'a>, records: RecordDates, assets_first: Receiver<FirstSeen>) -> Self {
        Self { run, records, assets_first: OnceLock::new(), pending: Mutex::new(Some(assets_first)) }
    }

    /// The run's report, as [`Report::load`] would read it once the run is stored; its findings are
    /// positions in this view (or in the stored run: the same positions).
    pub fn report(&self, meta: RunMeta) -> Report {
        let run = self.run;
        let mut at: Vec<u32> = (0..run.judgements.len() as u32).filter(|seq| run.judgements[*seq as usize].status.is_finding()).collect();
        // Report order ([`Report::new`]): severity (worst first), name, type, set, target; ties in
        // judgement order (a stable sort, as the store's rows arrive in that order).
        let key = |seq: &u32| {
            let j = &run.judgements[*seq as usize];
            let r = &run.records[j.record as usize];
            (std::cmp::Reverse(j.severity), r.name.as_str(), r.rtype.as_str(), r.set_id.as_deref().unwrap_or_default())
        };
        let target = |seq: &u32| run.judgements[*seq as usize].target(run.records).map(|t| t.to_string()).unwrap_or_default();
        at.sort_by(|a, b| key(a).cmp(&key(b)).then_with(|| target(a).cmp(&target(b))));
        let mut report = Report::of_positions(meta, at, self.counts(), self.gaps(), self.named_probes());
        report.name_findings = self.run.name_findings.to_vec();
        report
    }

    fn counts(&self) -> RowCounts {
        let mut c = RowCounts::default();
        for (seq, j) in self.run.judgements.iter().enumerate() {
            let claim = self.run.claims.get(seq).map(crate::store::RowClaim::evidence);
            c.add(j.status, j.severity, self.run.verdict(seq), claim, self.run.claims.issued_since(seq), 1);
            c.probed |= self.run.verdict(seq) != Verdict::NotProbed;
        }
        c
    }

    fn gaps(&self) -> Vec<GapRow> {
        let gap = |g: &dangle_model::CoverageGap| GapRow {
            source: g.source.to_string(),
            account: g.account.to_string(),
            region: g.region.as_deref().unwrap_or_default().to_string(),
            service: g.service.to_string(),
            error: g.error.clone(),
        };
        self.run.gaps.iter().map(gap).collect()
    }

    fn named_probes(&self) -> Vec<NamedProbeRow> {
        let p = self.run.probed;
        let named = |n: &crate::store::NamedProbe| NamedProbeRow {
            target: n.target.clone(),
            sni: n.sni.clone(),
            verdict: n.verdict,
            detail: n.detail.clone(),
            probes: n.evidence.iter().map(|id| evidence_value(p.evidence[*id as usize].json.clone())).collect(),
        };
        p.named.iter().map(named).collect()
    }

    /// Row `seq` into `row`, reusing its buffers: a million rows cost no allocation each.
    fn fill(&self, seq: usize, row: &mut ReportRow) {
        use std::fmt::Write as _;
        let run = self.run;
        let j = &run.judgements[seq];
        let r = &run.records[j.record as usize];
        let (probe, claim) = (run.probe(seq), run.claims.get(seq));
        run.reason_into(seq, &mut row.reason);
        set(&mut row.record_name, r.name.as_str());
        row.record_type.clone_from(&r.rtype);
        set(&mut row.set_id, r.set_id.as_deref().unwrap_or_default());
        row.target = j.target(run.records).cloned();
        set(&mut row.zone, r.zone.as_str());
        set(&mut row.source, &r.source);
        set(&mut row.account, &r.account);
        row.status = j.status;
        row.severity = j.severity;
        row.claimable = j.claimable;
        row.probe_verdict = probe.map_or(Verdict::NotProbed, |p| p.verdict);
        row.probe_detail.clear();
        if let Some(p) = probe {
            row.probe_detail.push_str(&p.detail);
        }
        let dates = &self.records;
        row.first_seen.set(dates.first_seen.of(j.record as usize));
        row.last_changed.set(dates.last_changed.of(j.record as usize));
        row.dangling_since.set(dates.dangling_since.of(j.record as usize));
        row.kind = run.kinds[seq];
        row.location.clone_from(&r.location);
        row.ttl = r.ttl;
        row.owner.clear();
        if let Some(a) = j.owner().map(|o| &run.assets[o as usize]) {
            let _ = write!(row.owner, "{} {}", a.kind.as_str(), a.id);
        }
        row.probes.clear();
        if let Some(p) = probe {
            let mut ids = p.evidence.clone();
            ids.sort_unstable();
            ids.dedup();
            row.probes.extend(ids.iter().map(|id| evidence_value(run.probed.evidence[*id as usize].json.clone())));
        }
        let facts = Facts {
            run_started: &run.started_at,
            stale_days: Some(run.stale_days),
            probing: Some(run.probing),
            claim: claim.map(crate::store::RowClaim::evidence),
            issued_since: run.claims.issued_since(seq),
        };
        row.derive(&facts);
    }

    fn assets_first(&self) -> anyhow::Result<&FirstSeen> {
        if let Some(f) = self.assets_first.get() {
            return Ok(f);
        }
        let pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner).take();
        let first = pending.and_then(|rx| rx.recv().ok()).ok_or_else(|| anyhow!("the run's assets were not stored"))?;
        Ok(self.assets_first.get_or_init(|| first))
    }
}

impl Source for RunView<'_> {
    fn each_row(&self, which: Which, f: &mut dyn FnMut(&ReportRow) -> anyhow::Result<()>) -> anyhow::Result<()> {
        let mut row = blank();
        for (seq, j) in self.run.judgements.iter().enumerate() {
            if which == Which::Findings && !j.status.is_finding() {
                continue;
            }
            self.fill(seq, &mut row);
            f(&row)?;
        }
        Ok(())
    }

    fn each_at(&self, seqs: &[u32], f: &mut dyn FnMut(&ReportRow) -> anyhow::Result<()>) -> anyhow::Result<()> {
        let mut row = blank();
        for &seq in seqs {
            if seq as usize >= self.run.judgements.len() {
                return Err(anyhow!("the run holds {} rows: there is no row {seq}", self.run.judgements.len()));
            }
            self.fill(seq as usize, &mut row);
            f(&row)?;
        }
        Ok(())
    }

    fn each_asset(&self, f: &mut dyn FnMut(&AssetRow) -> anyhow::Result<()>) -> anyhow::Result<()> {
        let first = self.assets_first()?;
        let assets = self.run.assets;
        // The store's order (kind, id, source, account), one row per identity: the first listed.
        let mut order: Vec<usize> = (0..assets.len()).collect();
        let key = |i: &usize| {
            let a = &assets[*i];
            (a.kind.as_str(), &*a.id, &*a.source, &*a.account)
        };
        order.sort_by(|a, b| key(a).cmp(&key(b)));
        order.dedup_by(|a, b| key(a) == key(b));
        let mut row = AssetRow {
            kind: String::new(),
            id: String::new(),
            source: String::new(),
            account: String::new(),
            region: String::new(),
            ips: String::new(),
            hosts: String::new(),
            first_seen: String::new(),
        };
        for i in order {
            let a = &assets[i];
            set(&mut row.kind, a.kind.as_str());
            set(&mut row.id, &a.id);
            set(&mut row.source, &a.source);
            set(&mut row.account, &a.account);
            set(&mut row.region, a.region.as_deref().unwrap_or_default());
            row.ips.clear();
            push_nets(&mut row.ips, &a.ips);
            row.hosts.clear();
            push_hosts(&mut row.hosts, &a.hosts);
            set(&mut row.first_seen, first.of(i));
            f(&row)?;
        }
        Ok(())
    }
}

/// `to` holding `from`, in the buffer it already has.
fn set(to: &mut String, from: &str) {
    to.clear();
    to.push_str(from);
}

/// A row to fill ([`RunView::fill`] sets every field).
fn blank() -> ReportRow {
    ReportRow::empty()
}

//! Writing a run: one transaction, and no per-row upsert. Records and assets are matched to the rows
//! already stored by a merge join over the identity index (both sides sorted the same way), so a run of
//! a million records costs one ordered index scan plus appends, not a million random look-ups.

use std::collections::HashMap;

use super::db::{self, vals, DbError, Engine, Load};
use super::encode::codes::{claimable_code, severity_code, status_code};
use super::encode::join;
use super::sightings::{insert_records, match_records, write_assets, Prior, RecordsMatched};
use super::{now_rfc3339, Baseline, Claims, NameFinding, Probes, RowProbe, Store, StoreError};
use crate::reconcile::{Explainer, Judgement, Kind, ProviderInfo};
use crate::rows::RunMeta;
use dangle_model::{Asset, CoverageGap, DnsRecord, Verdict};

/// What one scan hands to the store.
pub struct RunInput<'a> {
    /// Renders the judgements' reasons.
    pub explain: &'a Explainer<'a>,
    pub started_at: String,
    pub config: String,
    pub snapshot: String,
    pub records: &'a [DnsRecord],
    pub judgements: &'a [Judgement],
    /// Each judgement's finding kind ([`Kind::of`]), made once for the store and the reports.
    pub kinds: &'a [Kind],
    pub assets: &'a [Asset],
    pub gaps: &'a [CoverageGap],
    /// The providers the records and assets came from (by name and config type).
    pub providers: &'a [ProviderInfo],
    /// Probe results by judgement (empty when nothing was probed).
    pub probed: &'a Probes,
    /// `--stale-days`: a finding unchanged this many days is flagged stale.
    pub stale_days: i64,
    /// Whether the scan probed (rows it did not probe say why).
    pub probing: bool,
    /// Claim checks by judgement (empty when none ran).
    pub claims: &'a Claims,
    /// The run's certificate baseline findings, and the baselines as they stand after it (both empty
    /// without `[probe] baseline`).
    pub name_findings: &'a [NameFinding],
    pub baselines: &'a [Baseline],
    /// Certificate Transparency answers fetched during the run (key, JSON), cached with it.
    pub ct_answers: &'a [(String, String)],
}

/// Each judgement's finding kind, from what the reconciler, the probes and the claim checks found.
pub fn kinds(judgements: &[Judgement], probed: &Probes, claims: &Claims) -> Vec<Kind> {
    let verdict = |seq: usize| if probed.is_empty() { None } else { probed.get(seq) }.map_or(Verdict::NotProbed, |p| p.verdict);
    judgements
        .iter()
        .enumerate()
        .map(|(seq, j)| Kind::of(j.status, j.claimable, &j.reason, verdict(seq), claims.get(seq).map(super::RowClaim::evidence), claims.issued_since(seq)))
        .collect()
}

impl RunInput<'_> {
    /// The probe result of judgement `seq`, if the run probed it.
    pub fn probe(&self, seq: usize) -> Option<&RowProbe> {
        if self.probed.is_empty() {
            None
        } else {
            self.probed.get(seq)
        }
    }

    /// The probe verdict of judgement `seq` (`not_probed` when none).
    pub fn verdict(&self, seq: usize) -> Verdict {
        self.probe(seq).map_or(Verdict::NotProbed, |p| p.verdict)
    }

    /// Judgement `seq`'s reason as every report shows it, into `out` (cleared first): the
    /// reconciler's sentence, then what the claim check and the prober added.
    pub fn reason_into(&self, seq: usize, out: &mut String) {
        out.clear();
        self.explain.render_into(&self.judgements[seq].reason, out);
        if let Some(c) = self.claims.get(seq) {
            out.push_str(&c.reason);
        }
        if let Some(c) = self.claims.ct(seq) {
            out.push_str(&c.reason);
        }
        if let Some(extra) = self.probe(seq).and_then(|p| p.reason.as_deref()) {
            out.push_str(extra);
        }
    }
}

impl Store {
    /// Writes a whole run in one transaction and returns its id.
    pub fn write_run(&mut self, run: &RunInput<'_>) -> Result<i64, StoreError> {
        self.begin_run(run)?.finish()
    }

    /// Starts writing `run` in one transaction, in steps ([`RunWriter`]): nothing is visible to a
    /// reader until [`RunWriter::finish`] commits, and a writer dropped before that leaves no trace.
    pub fn begin_run<'s, 'a>(&'s mut self, run: &'a RunInput<'a>) -> Result<RunWriter<'s, 'a>, StoreError> {
        let path = self.path.clone();
        let mut by_severity = [0usize; 5];
        for j in run.judgements.iter().filter(|j| j.status.is_finding()) {
            by_severity[j.severity as usize] += 1;
        }
        let db = &*self.db;
        db.begin_write().map_err(|e| StoreError::Db { path: path.clone(), message: e.message })?;
        let mut w = RunWriter { db, run, path, id: 0, finished_at: now_rfc3339(), matched: None, record_ids: None, record_ages: Vec::new(), asset_ids: None, open: true };
        let findings = super::findings_text(&by_severity);
        let id = w
            .db
            .one(
                "INSERT INTO runs (started_at, finished_at, config, snapshot, tool_version, n_records, n_rows, n_assets, n_gaps, stale_days, probing, findings)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) RETURNING id",
                vals![
                    &run.started_at,
                    &w.finished_at,
                    &run.config,
                    &run.snapshot,
                    env!("CARGO_PKG_VERSION"),
                    run.records.len() as i64,
                    run.judgements.len() as i64,
                    run.assets.len() as i64,
                    run.gaps.len() as i64,
                    run.stale_days,
                    run.probing,
                    &findings
                ],
                |r| r.i64(0),
            )
            .map_err(w.err())?;
        w.id = id.ok_or_else(|| StoreError::Db { path: w.path.clone(), message: "the new run got no id".into() })?;
        let run_id = w.id;
        w.db
            .load("run_providers", &["run_id", "seq", "name", "kind"], Load::Insert, &mut |sink| {
                for (seq, p) in run.providers.iter().enumerate() {
                    sink.row(vals![run_id, seq as i64, &*p.name, &*p.kind])?;
                }
                Ok(())
            })
            .map_err(w.err())?;
        Ok(w)
    }
}

/// A date (`runs.started_at`) per record or asset of a run being written: of the run that first saw
/// it, or (records) in which its rows last changed, or that began its dangling streak (none when it
/// is not dangling).
#[derive(Debug, Clone, Default)]
pub struct FirstSeen {
    dates: Vec<String>,
    of: Vec<u32>,
}

impl FirstSeen {
    const NONE: u32 = u32::MAX;

    /// Item `i`'s (a record's or an asset's index in the [`RunInput`]); empty when it has none.
    pub fn of(&self, i: usize) -> &str {
        match self.of[i] {
            Self::NONE => "",
            at => &self.dates[at as usize],
        }
    }
}

/// What a scan's reports need from the store about each record of the run: when it was first seen,
/// when its rows last changed, and since when it has been dangling.
#[derive(Debug, Clone, Default)]
pub struct RecordDates {
    pub first_seen: FirstSeen,
    pub last_changed: FirstSeen,
    pub dangling_since: FirstSeen,
}

/// A run being written ([`Store::begin_run`]): the records, then the assets (each step tells when
/// every item was first seen, which is all a report needs from the store), then [`RunWriter::finish`]
/// writes the rows, probes and gaps and commits. A step not taken is taken by the next.
pub struct RunWriter<'s, 'a> {
    db: &'s dyn Engine,
    /// The transaction is open (rolled back when the writer is dropped unfinished).
    open: bool,
    run: &'a RunInput<'a>,
    path: std::path::PathBuf,
    id: i64,
    finished_at: String,
    matched: Option<RecordsMatched>,
    record_ids: Option<Vec<i64>>,
    /// Each record's age columns of this run, as the rows store them.
    record_ages: Vec<Prior>,
    asset_ids: Option<Vec<i64>>,
}

impl Drop for RunWriter<'_, '_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.db.rollback();
        }
    }
}

impl RunWriter<'_, '_> {
    fn err(&self) -> impl Fn(DbError) -> StoreError + 'static {
        let path = self.path.clone();
        move |e| StoreError::Db { path: path.clone(), message: e.message }
    }

    /// The run's metadata as the store will hold it.
    pub fn meta(&self) -> RunMeta {
        let r = self.run;
        RunMeta {
            id: self.id,
            started_at: r.started_at.clone(),
            finished_at: self.finished_at.clone(),
            config: r.config.clone(),
            snapshot: r.snapshot.clone(),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            records: r.records.len() as i64,
            rows: r.judgements.len() as i64,
            assets: r.assets.len() as i64,
            gaps: r.gaps.len() as i64,
            stale_days: Some(r.stale_days),
            probing: Some(r.probing),
        }
    }

    /// Matches the records against the stored ones; returns when each was first seen, last changed
    /// and began dangling. (They are written by the next step.)
    pub fn records(&mut self) -> Result<RecordDates, StoreError> {
        let matched = match_records(self.db, self.run, self.id).map_err(self.err())?;
        let dates = RecordDates {
            first_seen: self.first_seen(&matched.m.first)?,
            last_changed: self.first_seen(&matched.next.iter().map(|p| p.changed_run).collect::<Vec<_>>())?,
            dangling_since: self.first_seen(&matched.next.iter().map(|p| p.dangling_run).collect::<Vec<_>>())?,
        };
        self.matched = Some(matched);
        Ok(dates)
    }

    /// Writes the records, then the assets; returns when each asset was first seen.
    pub fn assets(&mut self) -> Result<FirstSeen, StoreError> {
        if self.matched.is_none() {
            self.records()?;
        }
        if let Some(matched) = self.matched.take() {
            let (ids, ages) = insert_records(self.db, self.run, self.id, matched).map_err(self.err())?;
            self.record_ids = Some(ids);
            self.record_ages = ages;
        }
        let m = write_assets(self.db, self.run, self.id).map_err(self.err())?;
        let first = self.first_seen(&m.first)?;
        self.asset_ids = Some(m.ids);
        Ok(first)
    }

    /// Writes the rows, probes and gaps, commits, and returns the run's id.
    pub fn finish(mut self) -> Result<i64, StoreError> {
        if self.asset_ids.is_none() {
            self.assets()?;
        }
        let e = self.err();
        let (records, assets) = (self.record_ids.take().unwrap_or_default(), self.asset_ids.take().unwrap_or_default());
        write_rows(self.db, self.run, self.id, &records, &self.record_ages, &assets).map_err(&e)?;
        write_probes_and_gaps(self.db, self.run, self.id).map_err(&e)?;
        if !self.run.ct_answers.is_empty() {
            super::history::save_ct(self.db, self.run.ct_answers, crate::time::unix_now()).map_err(&e)?;
        }
        self.db.commit().map_err(&e)?;
        self.open = false;
        Ok(self.id)
    }

    /// The dates of `runs` (a first run per item), each distinct run looked up once.
    fn first_seen(&self, runs: &[i64]) -> Result<FirstSeen, StoreError> {
        let mut index: HashMap<i64, u32> = HashMap::new();
        let mut out = FirstSeen { dates: Vec::new(), of: Vec::with_capacity(runs.len()) };
        for &run in runs {
            if run == 0 {
                out.of.push(FirstSeen::NONE);
                continue;
            }
            let at = match index.get(&run) {
                Some(at) => *at,
                None => {
                    let date = self.db.one("SELECT started_at FROM runs WHERE id = ?1", vals![run], |r| r.string(0)).map_err(self.err())?.unwrap_or_default();
                    out.dates.push(date);
                    let at = (out.dates.len() - 1) as u32;
                    index.insert(run, at);
                    at
                }
            };
            out.of.push(at);
        }
        Ok(out)
    }
}

/// The run's rows (one per judgement, the reason rendered here, once) and their links to probe evidence.
fn write_rows(db: &dyn Engine, run: &RunInput<'_>, run_id: i64, record_ids: &[i64], ages: &[Prior], asset_ids: &[i64]) -> db::Result<()> {
    const COLUMNS: &[&str] = &[
        "run_id", "seq", "record_id", "ttl", "target", "status", "severity", "claimable", "reason", "owner", "probe_verdict", "probe_detail", "changed_run",
        "dangling_run", "kind", "claim", "ct",
    ];
    let none = |run: i64| (run > 0).then_some(run);
    db.load("rows", COLUMNS, Load::Insert, &mut |sink| {
        // One buffer for every reason and target.
        let (mut reason, mut target) = (String::new(), String::new());
        for (seq, j) in run.judgements.iter().enumerate() {
            use std::fmt::Write as _;
            let r = &run.records[j.record as usize];
            let (probe, verdict, claim) = (run.probe(seq), run.verdict(seq), run.claims.get(seq));
            run.reason_into(seq, &mut reason);
            target.clear();
            if let Some(t) = j.target(run.records) {
                let _ = write!(target, "{t}");
            }
            let age = ages.get(j.record as usize);
            sink.row(vals![
                run_id,
                seq as i64,
                record_ids[j.record as usize],
                r.ttl,
                target.as_str(),
                status_code(j.status),
                severity_code(j.severity),
                claimable_code(j.claimable),
                reason.as_str(),
                j.owner().map(|o| asset_ids[o as usize]),
                verdict.as_str(),
                probe.map_or("", |p| p.detail.as_str()),
                age.and_then(|a| none(a.changed_run)),
                age.and_then(|a| none(a.dangling_run)),
                run.kinds[seq].code(),
                claim.map(|c| super::claims::claim_code(c.evidence())),
                run.claims.ct(seq).map(|c| i64::from(c.issued_since))
            ])?;
        }
        Ok(())
    })?;
    if run.probed.is_empty() {
        return Ok(());
    }
    db.load("row_probes", &["run_id", "seq", "probe_id"], Load::Insert, &mut |sink| {
        for seq in 0..run.judgements.len() {
            for id in run.probe(seq).map(|p| p.evidence.as_slice()).unwrap_or_default() {
                sink.row(vals![run_id, seq as i64, i64::from(*id)])?;
            }
        }
        Ok(())
    })?;
    Ok(())
}

/// The named targets' results, the probe evidence and the gaps.
fn write_probes_and_gaps(db: &dyn Engine, run: &RunInput<'_>, run_id: i64) -> db::Result<()> {
    db.load("named_probes", &["run_id", "seq", "target", "sni", "verdict", "detail", "probe_ids"], Load::Insert, &mut |sink| {
        for (seq, n) in run.probed.named.iter().enumerate() {
            sink.row(vals![run_id, seq as i64, &n.target, &n.sni, n.verdict.as_str(), &n.detail, &join(n.evidence.iter())])?;
        }
        Ok(())
    })?;
    db.load("probes", &["run_id", "id", "verdict", "evidence"], Load::Insert, &mut |sink| {
        for (id, ev) in run.probed.evidence.iter().enumerate() {
            sink.row(vals![run_id, id as i64, ev.verdict.as_str(), &ev.json])?;
        }
        Ok(())
    })?;
    db.load("gaps", &["run_id", "seq", "source", "account", "region", "service", "error"], Load::Insert, &mut |sink| {
        for (seq, g) in run.gaps.iter().enumerate() {
            sink.row(vals![run_id, seq as i64, &*g.source, &*g.account, g.region.as_deref(), g.service.as_str(), &g.error])?;
        }
        Ok(())
    })?;
    // Certificate baselines: the run's findings, and each name's baseline as it stands now.
    db.load("name_findings", &["run_id", "seq", "name", "address", "kind", "severity", "detail"], Load::Insert, &mut |sink| {
        for (seq, c) in run.name_findings.iter().enumerate() {
            sink.row(vals![run_id, seq as i64, &c.name, &c.address, c.kind.as_str(), severity_code(c.severity), &c.detail])?;
        }
        Ok(())
    })?;
    db.load(
        "baselines",
        &["name", "spki", "issuer", "ca_names", "alpn", "not_after", "first_run", "changed_run", "last_run"],
        Load::Upsert { key: &["name"] },
        &mut |sink| {
            // One row per name (the last counts): PostgreSQL refuses to upsert one key twice at once.
            let mut seen = std::collections::HashSet::new();
            for b in run.baselines.iter().rev().filter(|b| seen.insert(b.name.as_str())) {
                sink.row(vals![&b.name, &b.spki, &b.issuer, &b.ca_names, &b.alpn, &b.not_after, b.first_run.unwrap_or(run_id), b.changed_run.unwrap_or(run_id), run_id])?;
            }
            Ok(())
        },
    )?;
    Ok(())
}

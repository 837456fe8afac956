//! Writing a run: one transaction, and no per-row upsert. Records and assets are matched to the rows
//! already stored by a merge join over the identity index (both sides sorted the same way), so a run of
//! a million records costs one ordered index scan plus appends, not a million random look-ups.

use std::collections::HashMap;

use super::codes::{claimable_code, severity_code, status_code};
use super::db::{self, vals, DbError, Engine, Load, Row};
use super::{join, now_rfc3339, RunInput, RunMeta, Store, StoreError};
use dangle_model::Verdict;

/// Item indexes `0..n` in the order of their identity key.
fn key_order<K: Ord>(n: usize, key: impl Fn(usize) -> K) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_unstable_by_key(|i| key(*i));
    order
}

/// An identity: a leading integer (the zone id for records, 0 for assets) and four text columns.
type Key<'a> = (i64, &'a str, &'a str, &'a str, &'a str);

/// The outcome of matching a run's items against the stored ones.
struct Matched {
    /// Stored id per item; 0 until assigned.
    ids: Vec<i64>,
    /// Items not stored yet, in key order.
    new: Vec<usize>,
    /// Stored ids seen again (with the first item that has each), in key order.
    seen: Vec<(i64, usize)>,
    /// (id, item, stored location) whose `location` changed (records only).
    moved: Vec<(i64, usize, Option<String>)>,
    /// The run that first saw each item (its stored `first_run`); 0 until assigned.
    first: Vec<i64>,
    /// What the store knew of each item seen before (records only; empty for assets).
    prior: Vec<Prior>,
    /// Whether the store's latest run saw each item (its stored `seen_latest`; false for new ones).
    latest: Vec<bool>,
    /// Stored ids the latest run saw that this run does not: they stop being seen.
    gone: Vec<i64>,
}

/// A stored record's age columns (0 for NULL: run ids start at 1, and [`RowState`] is never 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Prior {
    state: i64,
    changed_run: i64,
    dangling_run: i64,
}

/// A record's rows folded into one fingerprint (their targets and judgements, in any order), and the
/// worst status among them. The same fold over the same rows gives the same value in every build
/// ([`super::stable_hash`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct RowState {
    sum: u64,
    dangling: bool,
}

impl RowState {
    /// Adds one row (the store's codes and verdict name). Of the probe verdict only a foreign answer
    /// counts, as in `diff`: a run without probes, or a timeout where there was no answer before, is
    /// not a change of the record; a foreign server answering (or no longer) is.
    pub(super) fn add(&mut self, target: &str, status: i64, severity: i64, claimable: i64, verdict: &str) {
        let verdict = if verdict == Verdict::Foreign.as_str() { verdict } else { "" };
        let h = super::stable_hash([target.as_bytes(), &[0xff, status as u8, severity as u8, claimable as u8, 0xff], verdict.as_bytes()]);
        // splitmix64's finalizer, so that summing rows does not cancel their bits.
        let mut z = h.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        self.sum = self.sum.wrapping_add(z ^ (z >> 31));
        self.dangling |= status == status_code(crate::reconcile::Status::Dangling);
    }

    /// The fingerprint as stored (never 0, which stands for NULL).
    fn value(self) -> i64 {
        match self.sum as i64 {
            0 => 1,
            v => v,
        }
    }

    /// This run's age columns for a record whose rows fold into `self`, given what the store knew
    /// (`prior`, default for a new record) and when the record was first seen.
    fn next(self, prior: Prior, first_run: i64, run_id: i64) -> Prior {
        let state = self.value();
        let changed_run = if prior.state == state {
            // Unchanged; a record stored before ages were kept counts from its first run.
            if prior.changed_run > 0 { prior.changed_run } else { first_run }
        } else if prior.state == 0 && prior.changed_run > 0 {
            prior.changed_run
        } else {
            run_id
        };
        // A streak goes on from the record's last sighting (a run in which its provider failed
        // breaks nothing: the name stayed exposed).
        let dangling_run = match (self.dangling, prior.dangling_run) {
            (true, 0) => run_id,
            (true, since) => since,
            (false, _) => 0,
        };
        Prior { state, changed_run, dangling_run }
    }
}

/// Merge-joins `order` (item indexes sorted by `key`) against `sql`, which must select
/// `id, k0, k1, k2, k3, k4, extra, first_run, seen_latest` ordered by the same key, then (when
/// `ages`) the record's `state, changed_run, dangling_run`. The stored rows stream past once, all of
/// them: a stored row the latest run saw and this one does not is [`Matched::gone`].
fn merge<'a>(
    db: &dyn Engine,
    sql: &str,
    n: usize,
    order: &[usize],
    key: impl Fn(usize) -> Key<'a>,
    extra: impl Fn(usize) -> Option<&'a str>,
    ages: bool,
) -> db::Result<Matched> {
    let prior = if ages { vec![Prior::default(); n] } else { Vec::new() };
    let mut m = Matched { ids: vec![0; n], new: Vec::new(), seen: Vec::new(), moved: Vec::new(), first: vec![0; n], prior, latest: vec![false; n], gone: Vec::new() };
    let mut pos = 0;
    db.each(sql, &[], &mut |r: &dyn Row| {
        let stored: Key<'_> = (r.i64(1)?, r.str(2)?, r.str(3)?, r.str(4)?, r.str(5)?);
        // Items before the stored one are not stored (an identity twice in one run is new twice:
        // `insert_records` gives both one id).
        while pos < order.len() && key(order[pos]) < stored {
            m.new.push(order[pos]);
            pos += 1;
        }
        let mut first = true;
        let latest = r.i64(8)? == 1;
        while pos < order.len() && key(order[pos]) == stored {
            let i = order[pos];
            m.ids[i] = r.i64(0)?;
            m.first[i] = r.i64(7)?;
            m.latest[i] = latest;
            if ages {
                let get = |c| r.opt_i64(c).map(Option::unwrap_or_default);
                m.prior[i] = Prior { state: get(9)?, changed_run: get(10)?, dangling_run: get(11)? };
            }
            // The same identity twice in one run (two providers reading one file): one stored row.
            if first {
                m.seen.push((m.ids[i], i));
                let location = r.text(6)?;
                if location != extra(i) {
                    m.moved.push((m.ids[i], i, location.map(str::to_string)));
                }
                first = false;
            }
            pos += 1;
        }
        if first && latest {
            m.gone.push(r.i64(0)?);
        }
        Ok(())
    })?;
    m.new.extend_from_slice(&order[pos..]);
    Ok(m)
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
                crate::reconcile::Kind::of(j.status, j.claimable, &j.reason, verdict, claim.map(super::RowClaim::evidence), run.claims.issued_since(seq)).code(),
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
            sink.row(vals![run_id, seq as i64, &*g.source, &*g.account, g.region.as_deref(), &g.service, &g.error])?;
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

/// A run's records matched against the stored ones ([`match_records`]), not yet written.
struct RecordsMatched {
    m: Matched,
    /// The zone id of each record.
    zone_of: Vec<i64>,
    /// Each record's age columns as of this run.
    next: Vec<Prior>,
}

/// Each record's rows of this run folded into a [`RowState`] (the same fold [`backfill_ages`] makes
/// over stored rows).
fn record_states(run: &RunInput<'_>) -> Vec<RowState> {
    use std::fmt::Write as _;
    let mut states = vec![RowState::default(); run.records.len()];
    let mut target = String::new();
    for (seq, j) in run.judgements.iter().enumerate() {
        target.clear();
        if let Some(t) = j.target(run.records) {
            let _ = write!(target, "{t}");
        }
        if let Some(s) = states.get_mut(j.record as usize) {
            s.add(&target, status_code(j.status), severity_code(j.severity), claimable_code(j.claimable), run.verdict(seq).as_str());
        }
    }
    states
}

/// Matches the run's records against the stored ones (adding the zones not stored yet): which are
/// new, and when each was first seen.
fn match_records(db: &dyn Engine, run: &RunInput<'_>, run_id: i64) -> db::Result<RecordsMatched> {
    // Zones: few, so a map.
    let mut zone_ids: HashMap<(&str, &str, &str, bool), i64> = HashMap::new();
    let mut zone_of = Vec::with_capacity(run.records.len());
    for r in run.records {
        let k = (&*r.source, &*r.account, r.zone.as_str(), r.zone_private);
        let id = match zone_ids.get(&k) {
            Some(id) => *id,
            None => {
                let found = db.int("SELECT id FROM zones WHERE source = ?1 AND account = ?2 AND zone = ?3 AND private = ?4", vals![k.0, k.1, k.2, k.3])?;
                let id = match found {
                    Some(id) => id,
                    None => db
                        .int("INSERT INTO zones (source, account, zone, private) VALUES (?1, ?2, ?3, ?4) RETURNING id", vals![k.0, k.1, k.2, k.3])?
                        .ok_or_else(|| DbError::new("a new zone got no id"))?,
                };
                zone_ids.insert(k, id);
                id
            }
        };
        zone_of.push(id);
    }
    let key = |i: usize| {
        let r = &run.records[i];
        (zone_of[i], r.name.as_str(), r.rtype.as_str(), r.set_id.as_deref().unwrap_or(""), "")
    };
    let order = key_order(run.records.len(), key);
    let mut m = merge(
        db,
        "SELECT id, zone_id, name, rtype, set_id, '', location, first_run, seen_latest, state, changed_run, dangling_run FROM records
         ORDER BY zone_id, name, rtype, set_id",
        run.records.len(),
        &order,
        key,
        |i| run.records[i].location.as_deref(),
        true,
    )?;
    for &i in &m.new {
        m.first[i] = run_id;
    }
    // Two items of one identity (two providers reading one file) are one record: their rows fold
    // together, as the store will hold them under one id.
    let mut states = record_states(run);
    let mut k = 0;
    while k < order.len() {
        let mut end = k + 1;
        while end < order.len() && key(order[end]) == key(order[k]) {
            end += 1;
        }
        if end - k > 1 {
            let mut all = RowState::default();
            for &i in &order[k..end] {
                all.sum = all.sum.wrapping_add(states[i].sum);
                all.dangling |= states[i].dangling;
            }
            for &i in &order[k..end] {
                states[i] = all;
            }
        }
        k = end;
    }
    let next = (0..run.records.len()).map(|i| states[i].next(m.prior[i], m.first[i], run_id)).collect();
    Ok(RecordsMatched { m, zone_of, next })
}

/// Writes the matched records (new ones added, seen ones marked, moved ones located); returns the
/// stored id of each.
fn insert_records(db: &dyn Engine, run: &RunInput<'_>, run_id: i64, matched: RecordsMatched) -> db::Result<(Vec<i64>, Vec<Prior>)> {
    let RecordsMatched { mut m, zone_of, next } = matched;
    let none = |run: i64| (run > 0).then_some(run);
    let key = |i: usize| {
        let r = &run.records[i];
        (zone_of[i], r.name.as_str(), r.rtype.as_str(), r.set_id.as_deref().unwrap_or(""), "")
    };
    // New records get the ids after the greatest stored (the writer holds the write lock).
    let mut next_id = db.int("SELECT MAX(id) FROM records", &[])?.unwrap_or(0);
    let mut last: Option<usize> = None;
    for &i in &m.new {
        // `new` is in key order: a duplicate identity follows its first and shares its id.
        if let Some(l) = last.filter(|l| key(*l) == key(i)) {
            m.ids[i] = m.ids[l];
            continue;
        }
        next_id += 1;
        m.ids[i] = next_id;
        last = Some(i);
    }
    db.load(
        "records",
        &["id", "zone_id", "name", "rtype", "set_id", "location", "first_run", "last_run", "seen_latest", "state", "changed_run", "dangling_run"],
        Load::Insert,
        &mut |sink| {
            let mut last: Option<usize> = None;
            for &i in &m.new {
                if last.is_some_and(|l| m.ids[l] == m.ids[i]) {
                    continue;
                }
                last = Some(i);
                let r = &run.records[i];
                let a = next[i];
                sink.row(vals![
                    m.ids[i],
                    zone_of[i],
                    r.name.as_str(),
                    r.rtype.as_str(),
                    r.set_id.as_deref().unwrap_or(""),
                    r.location.as_deref(),
                    run_id,
                    run_id,
                    1i64,
                    a.state,
                    a.changed_run,
                    none(a.dangling_run)
                ])?;
            }
            Ok(())
        },
    )?;
    // A record seen again is written only when its ages moved or the latest run did not see it: in a
    // steady state, a run rewrites none of them.
    m.seen.sort_unstable();
    m.seen.retain(|&(_, i)| !m.latest[i] || next[i] != m.prior[i]);
    db.load("records", &["last_run", "seen_latest", "state", "changed_run", "dangling_run", "id"], Load::Update { key: "id" }, &mut |sink| {
        for &(id, i) in &m.seen {
            let a = next[i];
            sink.row(vals![run_id, 1i64, a.state, a.changed_run, none(a.dangling_run), id])?;
        }
        Ok(())
    })?;
    unsee(db, "records", run_id, &mut m.gone)?;
    // Where a record was as of each run that moved it, so `report --run N` shows the line numbers
    // run N saw: a record that never moved is where `records.location` says (no entry per record
    // and run: a million new records cost no second table). The first move also keeps where the
    // record was from its first run on. An entry holds '' for "no location", never NULL, so the
    // row query's fallback to `records.location` means "no entry" only.
    if !m.moved.is_empty() {
        let cols = &["record_id", "run_id", "location"];
        db.load("record_locations", cols, Load::Ignore { key: &["record_id", "run_id"] }, &mut |sink| {
            for (id, i, before) in &m.moved {
                sink.row(vals![*id, m.first[*i], before.as_deref().unwrap_or("")])?;
            }
            Ok(())
        })?;
        db.load("records", &["location", "id"], Load::Update { key: "id" }, &mut |sink| {
            for (id, i, _) in &m.moved {
                sink.row(vals![run.records[*i].location.as_deref(), *id])?;
            }
            Ok(())
        })?;
        db.load("record_locations", cols, Load::Upsert { key: &["record_id", "run_id"] }, &mut |sink| {
            for (id, i, _) in &m.moved {
                sink.row(vals![*id, run_id, run.records[*i].location.as_deref().unwrap_or("")])?;
            }
            Ok(())
        })?;
    }
    // The change specs, for the records that have one (a Route53 record set), as of this sighting.
    // One row per stored record (two items of one identity share it): the last counts.
    let mut specs: Vec<(i64, &str)> = run.records.iter().enumerate().filter_map(|(i, r)| Some((m.ids[i], &**r.spec.as_ref()?))).collect();
    if !specs.is_empty() {
        specs.reverse();
        specs.sort_by_key(|(id, _)| *id);
        specs.dedup_by_key(|(id, _)| *id);
        db.load("record_specs", &["record_id", "spec"], Load::Upsert { key: &["record_id"] }, &mut |sink| {
            for (id, spec) in &specs {
                sink.row(vals![*id, *spec])?;
            }
            Ok(())
        })?;
    }
    Ok((m.ids, next))
}

fn write_assets(db: &dyn Engine, run: &RunInput<'_>, run_id: i64) -> db::Result<Matched> {
    let key = |i: usize| {
        let a = &run.assets[i];
        (0i64, &*a.source, &*a.account, a.kind.as_str(), &*a.id)
    };
    let order = key_order(run.assets.len(), key);
    let mut m = merge(
        db,
        "SELECT id, 0, source, account, kind, asset_id, NULL, first_run, seen_latest FROM assets ORDER BY source, account, kind, asset_id",
        run.assets.len(),
        &order,
        key,
        |_| None,
        false,
    )?;
    let mut next_id = db.int("SELECT MAX(id) FROM assets", &[])?.unwrap_or(0);
    let mut last: Option<usize> = None;
    let mut added = Vec::with_capacity(m.new.len());
    for &i in &m.new {
        m.first[i] = run_id;
        if let Some(l) = last.filter(|l| key(*l) == key(i)) {
            m.ids[i] = m.ids[l];
            continue;
        }
        next_id += 1;
        m.ids[i] = next_id;
        added.push(i);
        last = Some(i);
    }
    db.load("assets", &["id", "source", "account", "kind", "asset_id", "first_run", "last_run", "seen_latest"], Load::Insert, &mut |sink| {
        for &i in &added {
            let a = &run.assets[i];
            sink.row(vals![m.ids[i], &*a.source, &*a.account, a.kind.as_str(), &*a.id, run_id, run_id, 1i64])?;
        }
        Ok(())
    })?;
    // Only the assets the latest run did not see are written (seen again after a gap).
    let mut back: Vec<i64> = m.seen.iter().filter(|&&(_, i)| !m.latest[i]).map(|&(id, _)| id).collect();
    back.sort_unstable();
    db.load("assets", &["last_run", "seen_latest", "id"], Load::Update { key: "id" }, &mut |sink| {
        for id in &back {
            sink.row(vals![run_id, 1i64, *id])?;
        }
        Ok(())
    })?;
    unsee(db, "assets", run_id, &mut m.gone)?;
    // run_assets is keyed by (run, asset ref): insert in ref order, once per ref (the first of
    // an identity listed twice, as a report of the run in memory shows it).
    let mut by_ref: Vec<usize> = (0..run.assets.len()).collect();
    by_ref.sort_by_key(|i| m.ids[*i]);
    by_ref.dedup_by_key(|i| m.ids[*i]);
    db.load("run_assets", &["run_id", "asset_ref", "region", "ips", "hosts"], Load::Insert, &mut |sink| {
        let (mut ips, mut hosts) = (String::new(), String::new());
        for &i in &by_ref {
            let a = &run.assets[i];
            ips.clear();
            super::push_nets(&mut ips, &a.ips);
            hosts.clear();
            super::push_hosts(&mut hosts, &a.hosts);
            sink.row(vals![run_id, m.ids[i], a.region.as_deref(), ips.as_str(), hosts.as_str()])?;
        }
        Ok(())
    })?;
    Ok(m)
}

/// Marks `gone` (ids of `table` the latest run saw, this run `run_id` does not) as last seen in that
/// latest run.
fn unsee(db: &dyn Engine, table: &str, run_id: i64, gone: &mut [i64]) -> db::Result<()> {
    if gone.is_empty() {
        return Ok(());
    }
    let latest = db.int("SELECT MAX(id) FROM runs WHERE id < ?1", vals![run_id])?.ok_or_else(|| DbError::new(format!("{table} seen by a run the store does not hold")))?;
    gone.sort_unstable();
    db.load(table, &["last_run", "seen_latest", "id"], Load::Update { key: "id" }, &mut |sink| {
        for id in gone.iter() {
            sink.row(vals![latest, 0i64, *id])?;
        }
        Ok(())
    })?;
    Ok(())
}

/// Fills the records' age columns from the history a store already holds (the migration to schema 4):
/// every run's rows, in run order, folded per record as a scan folds them. One pass over the rows.
pub(super) fn backfill_ages(db: &dyn Engine) -> db::Result<()> {
    let mut first: HashMap<i64, i64> = HashMap::new();
    db.each("SELECT id, first_run FROM records", &[], &mut |r| {
        first.insert(r.i64(0)?, r.i64(1)?);
        Ok(())
    })?;
    let mut ages: HashMap<i64, Prior> = HashMap::with_capacity(first.len());
    let mut run: Option<i64> = None;
    let mut this: HashMap<i64, RowState> = HashMap::new();
    // Each run's findings by severity (status codes from `external` up are findings).
    let mut findings: Vec<(i64, [usize; 5])> = Vec::new();
    let mut fold = |run_id: i64, this: &mut HashMap<i64, RowState>| {
        for (record, state) in this.drain() {
            let prior = ages.get(&record).copied().unwrap_or_default();
            let first_run = first.get(&record).copied().unwrap_or(run_id);
            ages.insert(record, state.next(prior, first_run, run_id));
        }
    };
    db.each("SELECT run_id, record_id, target, status, severity, claimable, probe_verdict FROM rows ORDER BY run_id, seq", &[], &mut |r| {
        let run_id = r.i64(0)?;
        if run.is_some_and(|x| x != run_id) {
            fold(run.unwrap_or_default(), &mut this);
        }
        run = Some(run_id);
        let (status, severity) = (r.i64(3)?, r.i64(4)?);
        let counts = match findings.last_mut() {
            Some((at, c)) if *at == run_id => c,
            _ => {
                findings.push((run_id, [0; 5]));
                &mut findings.last_mut().expect("just pushed").1
            }
        };
        if status >= status_code(crate::reconcile::Status::External) {
            if let Some(c) = usize::try_from(severity).ok().and_then(|s| counts.get_mut(s)) {
                *c += 1;
            }
        }
        this.entry(r.i64(1)?).or_default().add(r.str(2)?, status, severity, r.i64(5)?, r.str(6)?);
        Ok(())
    })?;
    if let Some(run_id) = run {
        fold(run_id, &mut this);
    }
    for (run, by_severity) in &findings {
        db.execute("UPDATE runs SET findings = ?1 WHERE id = ?2", vals![&super::findings_text(by_severity), *run])?;
    }
    let mut ids: Vec<i64> = ages.keys().copied().collect();
    ids.sort_unstable();
    db.load("records", &["state", "changed_run", "dangling_run", "id"], Load::Update { key: "id" }, &mut |sink| {
        for &id in &ids {
            let a = ages[&id];
            sink.row(vals![a.state, a.changed_run, (a.dangling_run > 0).then_some(a.dangling_run), id])?;
        }
        Ok(())
    })?;
    Ok(())
}

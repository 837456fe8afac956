//! Matching a run's records and assets against the stored ones: one merge join over the identity
//! index (both sides sorted the same way), so a run of a million records costs one ordered index scan
//! plus appends. What a record's rows were at its last sighting ([`RowState`]) decides when it last
//! changed and since when it dangles.

use std::collections::HashMap;

use super::db::{self, vals, DbError, Engine, Load, Row};
use super::encode::codes::{claimable_code, severity_code, status_code};
use super::RunInput;
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
pub(super) struct Matched {
    /// Stored id per item; 0 until assigned.
    pub(super) ids: Vec<i64>,
    /// Items not stored yet, in key order.
    pub(super) new: Vec<usize>,
    /// Stored ids seen again (with the first item that has each), in key order.
    pub(super) seen: Vec<(i64, usize)>,
    /// (id, item, stored location) whose `location` changed (records only).
    pub(super) moved: Vec<(i64, usize, Option<String>)>,
    /// The run that first saw each item (its stored `first_run`); 0 until assigned.
    pub(super) first: Vec<i64>,
    /// What the store knew of each item seen before (records only; empty for assets).
    pub(super) prior: Vec<Prior>,
    /// Whether the store's latest run saw each item (its stored `seen_latest`; false for new ones).
    pub(super) latest: Vec<bool>,
    /// Stored ids the latest run saw that this run does not: they stop being seen.
    pub(super) gone: Vec<i64>,
}

/// A stored record's age columns (0 for NULL: run ids start at 1, and [`RowState`] is never 0).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Prior {
    pub(super) state: i64,
    pub(super) changed_run: i64,
    pub(super) dangling_run: i64,
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


/// A run's records matched against the stored ones ([`match_records`]), not yet written.
pub(super) struct RecordsMatched {
    pub(super) m: Matched,
    /// The zone id of each record.
    pub(super) zone_of: Vec<i64>,
    /// Each record's age columns as of this run.
    pub(super) next: Vec<Prior>,
    /// Each record's location as stored.
    pub(super) locations: Vec<Option<String>>,
}

/// Each record's rows of this run folded into a [`RowState`] (the same fold [`backfill_ages`] makes
/// over stored rows).
pub(super) fn record_states(run: &RunInput<'_>) -> Vec<RowState> {
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
pub(super) fn match_records(db: &dyn Engine, run: &RunInput<'_>, run_id: i64) -> db::Result<RecordsMatched> {
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
    // Each record's location as the store keeps it (text; a line of a file is flagged apart).
    let locations: Vec<Option<String>> = run.records.iter().map(|r| r.location.as_ref().map(ToString::to_string)).collect();
    let mut m = merge(
        db,
        "SELECT id, zone_id, name, rtype, set_id, '', location, first_run, seen_latest, state, changed_run, dangling_run FROM records
         ORDER BY zone_id, name, rtype, set_id",
        run.records.len(),
        &order,
        key,
        |i| locations[i].as_deref(),
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
    Ok(RecordsMatched { m, zone_of, next, locations })
}

/// Writes the matched records (new ones added, seen ones marked, moved ones located); returns the
/// stored id of each.
pub(super) fn insert_records(db: &dyn Engine, run: &RunInput<'_>, run_id: i64, matched: RecordsMatched) -> db::Result<(Vec<i64>, Vec<Prior>)> {
    let RecordsMatched { mut m, zone_of, next, locations } = matched;
    let none = |run: i64| (run > 0).then_some(run);
    number_new(db, run, &zone_of, &mut m)?;
    db.load(
        "records",
        &["id", "zone_id", "name", "rtype", "set_id", "location", "line_location", "first_run", "last_run", "seen_latest", "state", "changed_run", "dangling_run"],
        Load::Insert,
        &mut |sink| {
            let mut last: Option<usize> = None;
            for &i in &m.new {
                if last.is_some_and(|l| m.ids[l] == m.ids[i]) {
                    continue;
                }
                last = Some(i);
                let (r, a) = (&run.records[i], next[i]);
                let line = i64::from(r.location.as_ref().is_some_and(dangle_model::Location::is_line));
                let (name, rtype, set_id) = (r.name.as_str(), r.rtype.as_str(), r.set_id.as_deref().unwrap_or(""));
                sink.row(vals![m.ids[i], zone_of[i], name, rtype, set_id, locations[i].as_deref(), line, run_id, run_id, 1i64, a.state, a.changed_run, none(a.dangling_run)])?;
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
    write_moves(db, run_id, &m, &locations)?;
    write_specs(db, run, &m.ids)?;
    Ok((m.ids, next))
}

/// Gives the new records the ids after the greatest stored (the writer holds the write lock); `new`
/// is in key order, so a duplicate identity follows its first and shares its id.
fn number_new(db: &dyn Engine, run: &RunInput<'_>, zone_of: &[i64], m: &mut Matched) -> db::Result<()> {
    let key = |i: usize| {
        let r = &run.records[i];
        (zone_of[i], r.name.as_str(), r.rtype.as_str(), r.set_id.as_deref().unwrap_or(""))
    };
    let mut next_id = db.int("SELECT MAX(id) FROM records", &[])?.unwrap_or(0);
    let mut last: Option<usize> = None;
    for &i in &m.new {
        if let Some(l) = last.filter(|l| key(*l) == key(i)) {
            m.ids[i] = m.ids[l];
            continue;
        }
        next_id += 1;
        m.ids[i] = next_id;
        last = Some(i);
    }
    Ok(())
}

/// Where a record was as of each run that moved it, so `report --run N` shows the line numbers run N
/// saw: a record that never moved is where `records.location` says (no entry per record and run: a
/// million new records cost no second table). The first move also keeps where the record was from
/// its first run on. An entry holds '' for "no location", never NULL, so the row query's fallback to
/// `records.location` means "no entry" only.
fn write_moves(db: &dyn Engine, run_id: i64, m: &Matched, locations: &[Option<String>]) -> db::Result<()> {
    if m.moved.is_empty() {
        return Ok(());
    }
    let cols = &["record_id", "run_id", "location"];
    db.load("record_locations", cols, Load::Ignore { key: &["record_id", "run_id"] }, &mut |sink| {
        for (id, i, before) in &m.moved {
            sink.row(vals![*id, m.first[*i], before.as_deref().unwrap_or("")])?;
        }
        Ok(())
    })?;
    db.load("records", &["location", "id"], Load::Update { key: "id" }, &mut |sink| {
        for (id, i, _) in &m.moved {
            sink.row(vals![locations[*i].as_deref(), *id])?;
        }
        Ok(())
    })?;
    db.load("record_locations", cols, Load::Upsert { key: &["record_id", "run_id"] }, &mut |sink| {
        for (id, i, _) in &m.moved {
            sink.row(vals![*id, run_id, locations[*i].as_deref().unwrap_or("")])?;
        }
        Ok(())
    })?;
    Ok(())
}

/// The change specs, for the records that have one (a Route53 record set), as of this sighting. One
/// row per stored record (two items of one identity share it): the last counts.
fn write_specs(db: &dyn Engine, run: &RunInput<'_>, ids: &[i64]) -> db::Result<()> {
    let mut specs: Vec<(i64, &str)> = run.records.iter().enumerate().filter_map(|(i, r)| Some((ids[i], &**r.spec.as_ref()?))).collect();
    if specs.is_empty() {
        return Ok(());
    }
    specs.reverse();
    specs.sort_by_key(|(id, _)| *id);
    specs.dedup_by_key(|(id, _)| *id);
    db.load("record_specs", &["record_id", "spec"], Load::Upsert { key: &["record_id"] }, &mut |sink| {
        for (id, spec) in &specs {
            sink.row(vals![*id, *spec])?;
        }
        Ok(())
    })?;
    Ok(())
}

pub(super) fn write_assets(db: &dyn Engine, run: &RunInput<'_>, run_id: i64) -> db::Result<Matched> {
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
pub(super) fn unsee(db: &dyn Engine, table: &str, run_id: i64, gone: &mut [i64]) -> db::Result<()> {
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

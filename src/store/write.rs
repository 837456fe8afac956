//! Writing a run: one transaction, and no per-row upsert. Records and assets are matched to the rows
//! already stored by a merge join over the identity index (both sides sorted the same way), so a run of
//! a million records costs one ordered index scan plus appends, not a million random look-ups.

use std::collections::HashMap;

use rusqlite::{params, Transaction};

use super::codes::{claimable_code, severity_code, status_code};
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
    /// Stored ids seen again, in key order.
    seen: Vec<i64>,
    /// (id, item, stored location) whose `location` changed (records only).
    moved: Vec<(i64, usize, Option<String>)>,
    /// The run that first saw each item (its stored `first_run`); 0 until assigned.
    first: Vec<i64>,
}

/// Merge-joins `order` (item indexes sorted by `key`) against `sql`, which must select
/// `id, k0, k1, k2, k3, k4, extra, first_run` ordered by the same key.
fn merge<'a>(
    tx: &Transaction<'_>,
    sql: &str,
    n: usize,
    order: &[usize],
    key: impl Fn(usize) -> Key<'a>,
    extra: impl Fn(usize) -> Option<&'a str>,
) -> rusqlite::Result<Matched> {
    let mut m = Matched { ids: vec![0; n], new: Vec::new(), seen: Vec::new(), moved: Vec::new(), first: vec![0; n] };
    let mut stmt = tx.prepare(sql)?;
    let mut rows = stmt.query([])?;
    /// id, the four key columns (after a leading integer), the extra column and the first run.
    type Stored = (i64, i64, String, String, String, String, Option<String>, i64);
    let read = |rows: &mut rusqlite::Rows<'_>| -> rusqlite::Result<Option<Stored>> {
        Ok(match rows.next()? {
            Some(r) => Some((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?)),
            None => None,
        })
    };
    let mut cur = read(&mut rows)?;
    let mut prev: Option<(Key<'a>, usize)> = None;
    for &i in order {
        let k = key(i);
        // The same identity twice in one run (two providers reading one file): one stored row.
        if let Some((pk, pi)) = prev {
            if pk == k {
                if m.ids[pi] != 0 {
                    m.ids[i] = m.ids[pi];
                    m.first[i] = m.first[pi];
                } else {
                    m.new.push(i);
                }
                continue;
            }
        }
        prev = Some((k, i));
        while let Some(c) = &cur {
            if (c.1, c.2.as_str(), c.3.as_str(), c.4.as_str(), c.5.as_str()) < k {
                cur = read(&mut rows)?;
            } else {
                break;
            }
        }
        match &cur {
            Some(c) if (c.1, c.2.as_str(), c.3.as_str(), c.4.as_str(), c.5.as_str()) == k => {
                m.ids[i] = c.0;
                m.first[i] = c.7;
                m.seen.push(c.0);
                if c.6.as_deref() != extra(i) {
                    m.moved.push((c.0, i, c.6.clone()));
                }
            }
            _ => m.new.push(i),
        }
    }
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
        let tx = self.conn.transaction().map_err(|error| StoreError::Sqlite { path: path.clone(), error })?;
        let mut w = RunWriter { tx, run, path, id: 0, finished_at: now_rfc3339(), matched: None, record_ids: None, asset_ids: None };
        w.tx.execute(
            "INSERT INTO runs (started_at, finished_at, config, snapshot, tool_version, n_records, n_rows, n_assets, n_gaps)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                run.started_at,
                w.finished_at,
                run.config,
                run.snapshot,
                env!("CARGO_PKG_VERSION"),
                run.records.len() as i64,
                run.judgements.len() as i64,
                run.assets.len() as i64,
                run.gaps.len() as i64
            ],
        )
        .map_err(w.err())?;
        w.id = w.tx.last_insert_rowid();
        Ok(w)
    }
}

/// The date (`runs.started_at`) of the run that first saw each record or asset of a run being written.
#[derive(Debug, Clone, Default)]
pub struct FirstSeen {
    dates: Vec<String>,
    of: Vec<u32>,
}

impl FirstSeen {
    /// Item `i`'s (a record's or an asset's index in the [`RunInput`]).
    pub fn of(&self, i: usize) -> &str {
        &self.dates[self.of[i] as usize]
    }
}

/// A run being written ([`Store::begin_run`]): the records, then the assets (each step tells when
/// every item was first seen, which is all a report needs from the store), then [`RunWriter::finish`]
/// writes the rows, probes and gaps and commits. A step not taken is taken by the next.
pub struct RunWriter<'s, 'a> {
    tx: Transaction<'s>,
    run: &'a RunInput<'a>,
    path: std::path::PathBuf,
    id: i64,
    finished_at: String,
    matched: Option<RecordsMatched>,
    record_ids: Option<Vec<i64>>,
    asset_ids: Option<Vec<i64>>,
}

impl RunWriter<'_, '_> {
    fn err(&self) -> impl Fn(rusqlite::Error) -> StoreError + 'static {
        let path = self.path.clone();
        move |error| StoreError::Sqlite { path: path.clone(), error }
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
        }
    }

    /// Matches the records against the stored ones; returns when each was first seen. (They are
    /// written by the next step.)
    pub fn records(&mut self) -> Result<FirstSeen, StoreError> {
        let matched = match_records(&self.tx, self.run, self.id).map_err(self.err())?;
        let first = self.first_seen(&matched.m.first)?;
        self.matched = Some(matched);
        Ok(first)
    }

    /// Writes the records, then the assets; returns when each asset was first seen.
    pub fn assets(&mut self) -> Result<FirstSeen, StoreError> {
        if self.matched.is_none() {
            self.records()?;
        }
        if let Some(matched) = self.matched.take() {
            self.record_ids = Some(insert_records(&self.tx, self.run, self.id, matched).map_err(self.err())?);
        }
        let m = write_assets(&self.tx, self.run, self.id).map_err(self.err())?;
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
        write_rows(&self.tx, self.run, self.id, &records, &assets).map_err(&e)?;
        write_probes_and_gaps(&self.tx, self.run, self.id).map_err(&e)?;
        self.tx.commit().map_err(&e)?;
        Ok(self.id)
    }

    /// The dates of `runs` (a first run per item), each distinct run looked up once.
    fn first_seen(&self, runs: &[i64]) -> Result<FirstSeen, StoreError> {
        let mut index: HashMap<i64, u32> = HashMap::new();
        let mut out = FirstSeen { dates: Vec::new(), of: Vec::with_capacity(runs.len()) };
        let mut find = self.tx.prepare("SELECT started_at FROM runs WHERE id = ?1").map_err(self.err())?;
        for &run in runs {
            let at = match index.get(&run) {
                Some(at) => *at,
                None => {
                    let date: String = find.query_row([run], |r| r.get(0)).map_err(self.err())?;
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
fn write_rows(tx: &Transaction<'_>, run: &RunInput<'_>, run_id: i64, record_ids: &[i64], asset_ids: &[i64]) -> rusqlite::Result<()> {
        let mut ins = tx
            .prepare(
                "INSERT INTO rows (run_id, seq, record_id, ttl, target, status, severity, claimable, reason, owner, probe_verdict, probe_detail)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )
            ?;
        let mut link = tx.prepare("INSERT INTO row_probes (run_id, seq, probe_id) VALUES (?1, ?2, ?3)")?;
        // One buffer for every reason and target.
        let (mut reason, mut target) = (String::new(), String::new());
        for (seq, j) in run.judgements.iter().enumerate() {
            use std::fmt::Write as _;
            let r = &run.records[j.record as usize];
            let probe = if run.probed.is_empty() { None } else { run.probed.get(seq) };
            reason.clear();
            run.explain.render_into(&j.reason, &mut reason);
            if let Some(extra) = probe.and_then(|p| p.reason.as_deref()) {
                reason.push_str(extra);
            }
            target.clear();
            if let Some(t) = j.target(run.records) {
                let _ = write!(target, "{t}");
            }
            ins.execute(params![
                run_id,
                seq as i64,
                record_ids[j.record as usize],
                r.ttl,
                target,
                status_code(j.status),
                severity_code(j.severity),
                claimable_code(j.claimable),
                reason,
                j.owner().map(|o| asset_ids[o as usize]),
                probe.map_or(Verdict::NotProbed, |p| p.verdict).as_str(),
                probe.map_or("", |p| p.detail.as_str())
            ])
            ?;
            for id in probe.map(|p| p.evidence.as_slice()).unwrap_or_default() {
                link.execute(params![run_id, seq as i64, id])?;
            }
        }
    Ok(())
}

/// The named targets' results, the probe evidence and the gaps.
fn write_probes_and_gaps(tx: &Transaction<'_>, run: &RunInput<'_>, run_id: i64) -> rusqlite::Result<()> {
        let mut nins = tx
            .prepare("INSERT INTO named_probes (run_id, seq, target, sni, verdict, detail, probe_ids) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")
            ?;
        for (seq, n) in run.probed.named.iter().enumerate() {
            nins.execute(params![run_id, seq as i64, n.target, n.sni, n.verdict.as_str(), n.detail, join(n.evidence.iter())])?;
        }
        let mut pins = tx.prepare("INSERT INTO probes (run_id, id, verdict, evidence) VALUES (?1, ?2, ?3, ?4)")?;
        for (id, ev) in run.probed.evidence.iter().enumerate() {
            pins.execute(params![run_id, id as i64, ev.verdict.as_str(), ev.json])?;
        }
        let mut gins = tx
            .prepare("INSERT INTO gaps (run_id, source, account, region, service, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")
            ?;
        for g in run.gaps {
            gins.execute(params![run_id, &*g.source, &*g.account, g.region.as_deref(), g.service, g.error])?;
        }
        Ok(())
}

/// A run's records matched against the stored ones ([`match_records`]), not yet written.
struct RecordsMatched {
    m: Matched,
    /// The zone id of each record.
    zone_of: Vec<i64>,
}

/// Matches the run's records against the stored ones (adding the zones not stored yet): which are
/// new, and when each was first seen.
fn match_records(tx: &Transaction<'_>, run: &RunInput<'_>, run_id: i64) -> rusqlite::Result<RecordsMatched> {
    // Zones: few, so a map.
    let mut zone_ids: HashMap<(&str, &str, &str, bool), i64> = HashMap::new();
    let mut zone_of = Vec::with_capacity(run.records.len());
    {
        let mut find = tx.prepare("SELECT id FROM zones WHERE source = ?1 AND account = ?2 AND zone = ?3 AND private = ?4")?;
        let mut add = tx.prepare("INSERT INTO zones (source, account, zone, private) VALUES (?1, ?2, ?3, ?4)")?;
        for r in run.records {
            let k = (&*r.source, &*r.account, r.zone.as_str(), r.zone_private);
            let id = match zone_ids.get(&k) {
                Some(id) => *id,
                None => {
                    let id = match find.query_row(params![k.0, k.1, k.2, k.3], |row| row.get(0)) {
                        Ok(id) => id,
                        Err(rusqlite::Error::QueryReturnedNoRows) => {
                            add.execute(params![k.0, k.1, k.2, k.3])?;
                            tx.last_insert_rowid()
                        }
                        Err(err) => return Err(err),
                    };
                    zone_ids.insert(k, id);
                    id
                }
            };
            zone_of.push(id);
        }
    }
    let key = |i: usize| {
        let r = &run.records[i];
        (zone_of[i], r.name.as_str(), r.rtype.as_str(), r.set_id.as_deref().unwrap_or(""), "")
    };
    let order = key_order(run.records.len(), key);
    let mut m = merge(
        tx,
        "SELECT id, zone_id, name, rtype, set_id, '', location, first_run FROM records ORDER BY zone_id, name, rtype, set_id",
        run.records.len(),
        &order,
        key,
        |i| run.records[i].location.as_deref(),
    )?;
    for &i in &m.new {
        m.first[i] = run_id;
    }
    Ok(RecordsMatched { m, zone_of })
}

/// Writes the matched records (new ones added, seen ones marked, moved ones located); returns the
/// stored id of each.
fn insert_records(tx: &Transaction<'_>, run: &RunInput<'_>, run_id: i64, matched: RecordsMatched) -> rusqlite::Result<Vec<i64>> {
    let RecordsMatched { mut m, zone_of } = matched;
    let key = |i: usize| {
        let r = &run.records[i];
        (zone_of[i], r.name.as_str(), r.rtype.as_str(), r.set_id.as_deref().unwrap_or(""), "")
    };
    {
        let mut add = tx.prepare(
            "INSERT INTO records (zone_id, name, rtype, set_id, location, first_run, last_run) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        )?;
        let mut last: Option<usize> = None;
        for &i in &m.new {
            // `new` is in key order: a duplicate identity follows its first and shares its id.
            if let Some(l) = last.filter(|l| key(*l) == key(i)) {
                m.ids[i] = m.ids[l];
                continue;
            }
            let r = &run.records[i];
            add.execute(params![zone_of[i], r.name.as_str(), r.rtype.as_str(), r.set_id.as_deref().unwrap_or(""), r.location.as_deref(), run_id])?;
            m.ids[i] = tx.last_insert_rowid();
            last = Some(i);
        }
        let mut seen = tx.prepare("UPDATE records SET last_run = ?1 WHERE id = ?2")?;
        m.seen.sort_unstable();
        for id in &m.seen {
            seen.execute(params![run_id, id])?;
        }
        // Where a record was as of each run that moved it, so `report --run N` shows the line numbers
        // run N saw: a record that never moved is where `records.location` says (no entry per record
        // and run: a million new records cost no second table). The first move also keeps where the
        // record was from its first run on. An entry holds '' for "no location", never NULL, so the
        // row query's fallback to `records.location` means "no entry" only.
        let mut moved = tx.prepare("UPDATE records SET location = ?1 WHERE id = ?2")?;
        let mut located = tx.prepare("INSERT OR REPLACE INTO record_locations (record_id, run_id, location) VALUES (?1, ?2, ?3)")?;
        let mut was = tx.prepare("INSERT OR IGNORE INTO record_locations (record_id, run_id, location) VALUES (?1, ?2, ?3)")?;
        for (id, i, before) in &m.moved {
            was.execute(params![id, m.first[*i], before.as_deref().unwrap_or("")])?;
            moved.execute(params![run.records[*i].location.as_deref(), id])?;
            located.execute(params![id, run_id, run.records[*i].location.as_deref().unwrap_or("")])?;
        }
    }
    Ok(m.ids)
}

fn write_assets(tx: &Transaction<'_>, run: &RunInput<'_>, run_id: i64) -> rusqlite::Result<Matched> {
    let key = |i: usize| {
        let a = &run.assets[i];
        (0i64, &*a.source, &*a.account, a.kind.as_str(), &*a.id)
    };
    let order = key_order(run.assets.len(), key);
    let mut m = merge(
        tx,
        "SELECT id, 0, source, account, kind, asset_id, NULL, first_run FROM assets ORDER BY source, account, kind, asset_id",
        run.assets.len(),
        &order,
        key,
        |_| None,
    )?;
    {
        let mut add =
            tx.prepare("INSERT INTO assets (source, account, kind, asset_id, first_run, last_run) VALUES (?1, ?2, ?3, ?4, ?5, ?5)")?;
        let mut last: Option<usize> = None;
        for &i in &m.new {
            m.first[i] = run_id;
            if let Some(l) = last.filter(|l| key(*l) == key(i)) {
                m.ids[i] = m.ids[l];
                continue;
            }
            let a = &run.assets[i];
            add.execute(params![&*a.source, &*a.account, a.kind.as_str(), a.id, run_id])?;
            m.ids[i] = tx.last_insert_rowid();
            last = Some(i);
        }
        let mut seen = tx.prepare("UPDATE assets SET last_run = ?1 WHERE id = ?2")?;
        m.seen.sort_unstable();
        for id in &m.seen {
            seen.execute(params![run_id, id])?;
        }
        // run_assets is keyed by (run, asset ref): insert in ref order, once per ref (the first of
        // an identity listed twice, as a report of the run in memory shows it).
        let mut by_ref: Vec<usize> = (0..run.assets.len()).collect();
        by_ref.sort_by_key(|i| m.ids[*i]);
        by_ref.dedup_by_key(|i| m.ids[*i]);
        let mut ra = tx.prepare("INSERT INTO run_assets (run_id, asset_ref, region, ips, hosts) VALUES (?1, ?2, ?3, ?4, ?5)")?;
        let (mut ips, mut hosts) = (String::new(), String::new());
        for i in by_ref {
            let a = &run.assets[i];
            ips.clear();
            super::push_nets(&mut ips, &a.ips);
            hosts.clear();
            super::push_hosts(&mut hosts, &a.hosts);
            ra.execute(params![run_id, m.ids[i], a.region.as_deref(), ips, hosts])?;
        }
    }
    Ok(m)
}

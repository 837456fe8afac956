//! Writing a run: one transaction, and no per-row upsert. Records and assets are matched to the rows
//! already stored by a merge join over the identity index (both sides sorted the same way), so a run of
//! a million records costs one ordered index scan plus appends, not a million random look-ups.

use std::collections::HashMap;

use rusqlite::{params, Transaction};

use super::codes::{claimable_code, severity_code, status_code};
use super::{fmt_net, join, now_rfc3339, RunInput, Store, StoreError};
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
    /// (id, item) whose `location` changed (records only).
    moved: Vec<(i64, usize)>,
}

/// Merge-joins `order` (item indexes sorted by `key`) against `sql`, which must select
/// `id, k1, k2, k3, k4, extra` ordered by the same key.
fn merge<'a>(
    tx: &Transaction<'_>,
    sql: &str,
    n: usize,
    order: &[usize],
    key: impl Fn(usize) -> Key<'a>,
    extra: impl Fn(usize) -> Option<&'a str>,
) -> rusqlite::Result<Matched> {
    let mut m = Matched { ids: vec![0; n], new: Vec::new(), seen: Vec::new(), moved: Vec::new() };
    let mut stmt = tx.prepare(sql)?;
    let mut rows = stmt.query([])?;
    /// id, the four key columns (after a leading integer), and the extra column.
    type Stored = (i64, i64, String, String, String, String, Option<String>);
    let read = |rows: &mut rusqlite::Rows<'_>| -> rusqlite::Result<Option<Stored>> {
        Ok(match rows.next()? {
            Some(r) => Some((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
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
                m.seen.push(c.0);
                if c.6.as_deref() != extra(i) {
                    m.moved.push((c.0, i));
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
        let path = self.path.clone();
        let e = move |error| StoreError::Sqlite { path: path.clone(), error };
        let tx = self.conn.transaction().map_err(&e)?;
        tx.execute(
            "INSERT INTO runs (started_at, finished_at, config, snapshot, tool_version, n_records, n_rows, n_assets, n_gaps)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                run.started_at,
                now_rfc3339(),
                run.config,
                run.snapshot,
                env!("CARGO_PKG_VERSION"),
                run.records.len() as i64,
                run.judgements.len() as i64,
                run.assets.len() as i64,
                run.gaps.len() as i64
            ],
        )
        .map_err(&e)?;
        let run_id = tx.last_insert_rowid();
        let record_ids = write_records(&tx, run, run_id).map_err(&e)?;
        let asset_ids = write_assets(&tx, run, run_id).map_err(&e)?;
        write_rows(&tx, run, run_id, &record_ids, &asset_ids).map_err(&e)?;
        write_probes_and_gaps(&tx, run, run_id).map_err(&e)?;
        tx.commit().map_err(&e)?;
        Ok(run_id)
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
        for (seq, j) in run.judgements.iter().enumerate() {
            let r = &run.records[j.record as usize];
            let probe = if run.probed.is_empty() { None } else { run.probed.get(seq) };
            let mut reason = run.explain.render(&j.reason);
            if let Some(extra) = probe.and_then(|p| p.reason.as_deref()) {
                reason.push_str(extra);
            }
            ins.execute(params![
                run_id,
                seq as i64,
                record_ids[j.record as usize],
                r.ttl,
                j.target(run.records).map(|t| t.to_string()).unwrap_or_default(),
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

fn write_records(tx: &Transaction<'_>, run: &RunInput<'_>, run_id: i64) -> rusqlite::Result<Vec<i64>> {
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
        "SELECT id, zone_id, name, rtype, set_id, '', location FROM records ORDER BY zone_id, name, rtype, set_id",
        run.records.len(),
        &order,
        key,
        |i| run.records[i].location.as_deref(),
    )?;
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
        // A record's location as of each run that moved it (or first saw it), so `report --run N`
        // shows the line numbers run N saw.
        let mut moved = tx.prepare("UPDATE records SET location = ?1 WHERE id = ?2")?;
        let mut located = tx.prepare("INSERT OR REPLACE INTO record_locations (record_id, run_id, location) VALUES (?1, ?2, ?3)")?;
        for (id, i) in &m.moved {
            moved.execute(params![run.records[*i].location.as_deref(), id])?;
            located.execute(params![id, run_id, run.records[*i].location.as_deref()])?;
        }
        let mut last: Option<usize> = None;
        for &i in &m.new {
            if last.is_some_and(|l| m.ids[l] == m.ids[i]) {
                continue;
            }
            if let Some(loc) = run.records[i].location.as_deref() {
                located.execute(params![m.ids[i], run_id, loc])?;
            }
            last = Some(i);
        }
    }
    Ok(m.ids)
}

fn write_assets(tx: &Transaction<'_>, run: &RunInput<'_>, run_id: i64) -> rusqlite::Result<Vec<i64>> {
    let key = |i: usize| {
        let a = &run.assets[i];
        (0i64, &*a.source, &*a.account, a.kind.as_str(), &*a.id)
    };
    let order = key_order(run.assets.len(), key);
    let mut m = merge(
        tx,
        "SELECT id, 0, source, account, kind, asset_id, NULL FROM assets ORDER BY source, account, kind, asset_id",
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
        // run_assets is keyed by (run, asset ref): insert in ref order, once per ref.
        let mut by_ref: Vec<usize> = (0..run.assets.len()).collect();
        by_ref.sort_unstable_by_key(|i| m.ids[*i]);
        by_ref.dedup_by_key(|i| m.ids[*i]);
        let mut ra = tx.prepare("INSERT INTO run_assets (run_id, asset_ref, region, ips, hosts) VALUES (?1, ?2, ?3, ?4, ?5)")?;
        for i in by_ref {
            let a = &run.assets[i];
            ra.execute(params![run_id, m.ids[i], a.region.as_deref(), join(a.ips.iter().map(fmt_net)), join(a.hosts.iter())])?;
        }
    }
    Ok(m.ids)
}

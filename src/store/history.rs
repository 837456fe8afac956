//! What a new run reads of the runs before it: each asset's last sighting ("released since run N"),
//! each name's dangling streak and last sighting, the certificate baselines, and the Certificate
//! Transparency answers cached between runs.

use std::collections::HashMap;

use dangle_model::DnsName;

use super::db::{self, vals, Engine, Load};
use super::encode::Interner;
use super::{Baseline, Store, StoreError};
use crate::reconcile::{Former, History};

impl Store {
    /// The last run that saw each row of `alias` (`records` / `assets` under that name), as SQL: the
    /// store's latest run for a row it saw ([`SEEN_LATEST`]), else `last_run`.
    pub(crate) fn last_sighting(&self, alias: &str) -> Result<String, StoreError> {
        if !self.schema.seen_latest {
            return Ok(format!("{alias}.last_run"));
        }
        let latest = self.db.int("SELECT MAX(id) FROM runs", &[]).map_err(self.err())?.unwrap_or(0);
        Ok(format!("(CASE WHEN {alias}.seen_latest = 1 THEN {latest} ELSE {alias}.last_run END)"))
    }

    /// What earlier runs held: each asset's last sighting, most recent first.
    pub fn history(&self, clouds: &dangle_model::Clouds) -> Result<History, StoreError> {
        let last = self.last_sighting("a")?;
        let mut h = History::default();
        // Sources, regions and dates repeat across thousands of assets: share them.
        let mut shared = Interner::default();
        let mut intern = |s: &str| shared.get(s);
        self.db
            .each(
                &format!(
                    "SELECT r.id, r.started_at, a.kind, a.asset_id, a.source, ra.region, ra.ips, ra.hosts
                     FROM assets a JOIN run_assets ra ON ra.run_id = {last} AND ra.asset_ref = a.id
                     JOIN runs r ON r.id = ra.run_id ORDER BY r.id DESC, a.id"
                ),
                &[],
                &mut |row| {
                    let started = row.str(1)?;
                    let former = Former {
                        run: row.i64(0)?,
                        date: intern(started.get(..10).unwrap_or(started)),
                        kind: clouds.kind(row.str(2)?),
                        id: row.str(3)?.into(),
                        source: intern(row.str(4)?),
                        region: row.text(5)?.map(&mut intern),
                    };
                    let ips: Vec<ipnet::IpNet> = row.str(6)?.split_whitespace().filter_map(|s| dangle_model::parse_ip_or_cidr(s).ok()).collect();
                    let hosts: Vec<DnsName> = row.str(7)?.split_whitespace().filter_map(|s| DnsName::parse(s).ok()).collect();
                    h.add(former, &ips, &hosts);
                    Ok(())
                },
            )
            .map_err(self.err())?;
        Ok(h)
    }

    /// Per record name (lower case, no final dot), the start of the earliest current dangling
    /// streak among its records as of their last sighting (RFC 3339).
    pub fn dangling_since_by_name(&self) -> Result<HashMap<String, String>, StoreError> {
        let mut out: HashMap<String, String> = HashMap::new();
        if !self.schema.ages {
            return Ok(out);
        }
        let rows = self
            .db
            .all(
                "SELECT c.name, MIN(r.started_at) FROM records c JOIN runs r ON r.id = c.dangling_run WHERE c.dangling_run IS NOT NULL GROUP BY c.name",
                &[],
                |r| Ok((r.string(0)?, r.string(1)?)),
            )
            .map_err(self.err())?;
        for (name, since) in rows {
            let key = name.trim_end_matches('.').to_ascii_lowercase();
            match out.get_mut(&key) {
                Some(s) if *s <= since => {}
                _ => {
                    out.insert(key, since);
                }
            }
        }
        Ok(out)
    }

    /// Every record name the store has seen in `zone`, with the last run that saw each (what a scan
    /// compares its inventory with to find deleted names a wildcard answers for). One pass over the
    /// zone's records, by the (zone, name, type, set) index.
    pub fn names_in_zone(&self, zone: &str) -> Result<Vec<(String, i64)>, StoreError> {
        let last = self.last_sighting("c")?;
        self.db
            .all(
                &format!("SELECT c.name, MAX({last}) FROM records c JOIN zones z ON z.id = c.zone_id WHERE z.zone = ?1 GROUP BY c.name"),
                vals![zone],
                |r| Ok((r.string(0)?, r.i64(1)?)),
            )
            .map_err(self.err())
    }

    /// Every certificate baseline, by name.
    pub fn baselines(&self) -> Result<HashMap<String, Baseline>, StoreError> {
        let mut out = HashMap::new();
        if !self.schema.baselines {
            return Ok(out);
        }
        let rows = self
            .db
            .all("SELECT b.name, b.spki, b.issuer, b.ca_names, b.alpn, b.not_after, b.first_run, b.changed_run, r.started_at FROM baselines b LEFT JOIN runs r ON r.id = b.first_run", &[], |r| {
                Ok(Baseline {
                    name: r.string(0)?,
                    spki: r.string(1)?,
                    issuer: r.string(2)?,
                    ca_names: r.string(3)?,
                    alpn: r.string(4)?,
                    not_after: r.string(5)?,
                    first_run: Some(r.i64(6)?),
                    changed_run: Some(r.i64(7)?),
                    first_started: r.opt_string(8)?,
                })
            })
            .map_err(self.err())?;
        for b in rows {
            out.insert(b.name.clone(), b);
        }
        Ok(out)
    }

    /// Every Certificate Transparency answer cached at or after `since` (Unix seconds), by key (a
    /// name searched, or `cert:ID`): what a run reads before it searches.
    pub fn ct_fresh(&self, since: i64) -> Result<HashMap<String, String>, StoreError> {
        if !self.schema.ct_cache {
            return Ok(HashMap::new());
        }
        let rows = self.db.all("SELECT name, body FROM ct_cache WHERE fetched_at >= ?1", vals![since], |r| Ok((r.string(0)?, r.string(1)?))).map_err(self.err())?;
        Ok(rows.into_iter().collect())
    }

    /// Caches Certificate Transparency answers (name, JSON) fetched at `at` (Unix seconds), in one
    /// transaction.
    pub fn ct_save(&mut self, entries: &[(String, String)], at: i64) -> Result<(), StoreError> {
        if entries.is_empty() || !self.schema.ct_cache {
            return Ok(());
        }
        self.in_transaction(|db| save_ct(db, entries, at))
    }
}

/// Caches Certificate Transparency answers (key, JSON) fetched at `at` (Unix seconds), in the
/// caller's transaction (a run's own, or one of its own).
pub(super) fn save_ct(db: &dyn Engine, entries: &[(String, String)], at: i64) -> db::Result<()> {
    // One row per key (the last answer counts): PostgreSQL refuses to upsert one key twice at once.
    let mut last: HashMap<&str, &str> = HashMap::new();
    for (n, b) in entries {
        last.insert(n, b);
    }
    db.load("ct_cache", &["name", "fetched_at", "body"], Load::Upsert { key: &["name"] }, &mut |sink| {
        for (n, b) in &last {
            sink.row(vals![*n, at, *b])?;
        }
        Ok(())
    })
    .map(|_| ())
}

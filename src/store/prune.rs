//! `dangle prune`: drop the bulk of old runs (their rows, probes, gaps, assets' addresses) and keep
//! what history needs. A pruned run stays in `runs` with its date and counts, so every record's
//! first_seen, last_changed and dangling-since dates still name it, and the HTML report's chart still
//! draws it; every asset keeps the addresses of its last sighting, so a released address is still
//! judged "released since run N" after the run that last saw it is pruned. The latest run is never
//! pruned. One transaction: a prune killed half way prunes nothing.

use super::db::vals;
use super::{now_rfc3339, Store, StoreError};

/// What a prune did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pruned {
    /// The runs pruned now, oldest first.
    pub runs: Vec<i64>,
    /// Rows deleted with them.
    pub rows: u64,
}

impl Store {
    /// Prunes every run that is neither among the latest `keep` nor younger than `older_than_days`
    /// days (each bound applies when given; at least one must be), never the latest run.
    pub fn prune(&mut self, keep: Option<usize>, older_than_days: Option<i64>) -> Result<Pruned, StoreError> {
        let runs: Vec<(i64, String)> =
            self.db.all("SELECT id, started_at FROM runs WHERE pruned_at IS NULL ORDER BY id DESC", &[], |r| Ok((r.i64(0)?, r.string(1)?))).map_err(self.err())?;
        let today = crate::time::today();
        let doomed: Vec<i64> = runs
            .iter()
            .enumerate()
            .filter(|(i, (_, started))| {
                let beyond_keep = keep.is_none_or(|k| *i >= k.max(1));
                let old = older_than_days.is_none_or(|d| crate::time::days_of(started).is_some_and(|day| today - day > d));
                *i > 0 && beyond_keep && old
            })
            .map(|(_, (id, _))| *id)
            .rev()
            .collect();
        let mut out = Pruned { runs: doomed.clone(), rows: 0 };
        if doomed.is_empty() {
            return Ok(out);
        }
        let at = now_rfc3339();
        out.rows = self.in_transaction(|db| {
            let mut rows = 0;
            for run in &doomed {
                rows += db.execute("DELETE FROM rows WHERE run_id = ?1", vals![*run])?;
                for sql in [
                    "DELETE FROM row_probes WHERE run_id = ?1",
                    "DELETE FROM probes WHERE run_id = ?1",
                    "DELETE FROM named_probes WHERE run_id = ?1",
                    "DELETE FROM gaps WHERE run_id = ?1",
                    // An asset's last sighting keeps its addresses: history judges released addresses by them.
                    // (One the latest run saw was last seen then, and the latest run is never pruned.)
                    "DELETE FROM run_assets WHERE run_id = ?1 AND asset_ref NOT IN (SELECT id FROM assets WHERE seen_latest = 0 AND last_run = ?1)",
                ] {
                    db.execute(sql, vals![*run])?;
                }
                db.execute("UPDATE runs SET pruned_at = ?2 WHERE id = ?1", vals![*run, &at])?;
            }
            Ok(rows)
        })?;
        // Give the space back: the pages the rows held (PostgreSQL: for the store's next rows).
        self.db.batch("VACUUM").map_err(self.err())?;
        Ok(out)
    }

    /// When run `run` was pruned, if it was.
    pub fn pruned_at(&self, run: i64) -> Result<Option<String>, StoreError> {
        if !self.schema.ages {
            return Ok(None);
        }
        let at = self.db.one("SELECT pruned_at FROM runs WHERE id = ?1", vals![run], |r| r.opt_string(0)).map_err(self.err())?;
        Ok(at.flatten())
    }

    /// An error unless run `run` holds its rows (exists, and was not pruned).
    pub fn require_rows(&self, run: i64) -> Result<(), StoreError> {
        self.run_meta(run)?;
        match self.pruned_at(run)? {
            Some(at) => Err(StoreError::PrunedRun { path: self.path.clone(), run, at }),
            None => Ok(()),
        }
    }
}

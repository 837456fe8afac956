//! `verify`: the engine's own integrity check and every reference between the store's tables.

use super::db::Dialect;
use super::{Store, StoreError};

impl Store {
    /// The engine's own integrity check (SQLite's `integrity_check` and `foreign_key_check`), every
    /// reference between the store's tables, and every run holding exactly the rows it says it has.
    pub fn verify(&self) -> Result<Vec<String>, StoreError> {
        let mut problems = Vec::new();
        if self.db.dialect() == Dialect::Sqlite {
            let ok = self.db.one("PRAGMA integrity_check", &[], |r| r.string(0)).map_err(self.err())?.unwrap_or_default();
            if ok != "ok" {
                problems.push(format!("integrity_check: {ok}"));
            }
            let broken = self
                .db
                .all("PRAGMA foreign_key_check", &[], |r| {
                    let row = r.opt_i64(1)?.map_or("without rowid".to_string(), |id| id.to_string());
                    Ok(format!("{} row {row} -> {}", r.string(0)?, r.string(2)?))
                })
                .map_err(self.err())?;
            problems.extend(broken.into_iter().map(|b| format!("foreign key: {b}")));
        }
        for (sql, what) in [
            ("SELECT COUNT(*) FROM rows w LEFT JOIN records c ON c.id = w.record_id WHERE c.id IS NULL", "rows without their record"),
            ("SELECT COUNT(*) FROM rows w LEFT JOIN assets a ON a.id = w.owner WHERE w.owner IS NOT NULL AND a.id IS NULL", "rows whose owner is missing"),
            ("SELECT COUNT(*) FROM run_assets ra LEFT JOIN assets a ON a.id = ra.asset_ref WHERE a.id IS NULL", "run assets without their asset"),
            ("SELECT COUNT(*) FROM records c LEFT JOIN zones z ON z.id = c.zone_id WHERE z.id IS NULL", "records without their zone"),
            (
                "SELECT COUNT(*) FROM row_probes rp LEFT JOIN probes p ON p.run_id = rp.run_id AND p.id = rp.probe_id WHERE p.id IS NULL",
                "row probes without their evidence",
            ),
            (
                "SELECT COUNT(*) FROM row_probes rp LEFT JOIN rows w ON w.run_id = rp.run_id AND w.seq = rp.seq WHERE w.seq IS NULL",
                "row probes without their row",
            ),
        ] {
            let n = self.db.int(sql, &[]).map_err(self.err())?.unwrap_or(0);
            if n > 0 {
                problems.push(format!("{n} {what}"));
            }
        }
        let runs = self
            .db
            .all(
                &format!(
                    "SELECT r.id, r.n_rows, (SELECT COUNT(*) FROM rows w WHERE w.run_id = r.id) FROM runs r WHERE {}",
                    self.schema.kept
                ),
                &[],
                |r| Ok((r.i64(0)?, r.i64(1)?, r.i64(2)?)),
            )
            .map_err(self.err())?;
        for (id, want, have) in runs {
            if want != have {
                problems.push(format!("run {id} says {want} rows, holds {have}"));
            }
        }
        Ok(problems)
    }

}

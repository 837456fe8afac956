//! Reading runs back: a run's metadata, its rows one at a time (with their probe evidence), two runs'
//! rows side by side in key order (`diff`), its assets, gaps, named probes and name findings, and the
//! counts reports show without listing every row.

use super::db::{self, vals, DbError, Row};
use super::encode::{codes, evidence_value, parse_findings};
use super::schema::Schema;
use super::{claims, NameFinding, Store, StoreError};
use crate::reconcile::Kind;
use crate::rows::{target_of, AssetRow, Facts, GapRow, NamedProbeRow, ReportRow, RowCounts, RunMeta, RunPoint, Timestamp, Which};
use dangle_model::{Location, RecordType};

impl Store {
    /// The provider's change spec of the record a row of the latest sighting belongs to
    /// ([`dangle_model::DnsRecord::spec`]), if it has one.
    pub fn record_spec(&self, r: &ReportRow) -> Result<Option<String>, StoreError> {
        if !self.schema.ages {
            return Ok(None);
        }
        self.db
            .one(
                "SELECT s.spec FROM record_specs s JOIN records c ON c.id = s.record_id JOIN zones z ON z.id = c.zone_id
                 WHERE z.source = ?1 AND z.account = ?2 AND z.zone = ?3 AND c.name = ?4 AND c.rtype = ?5 AND c.set_id = ?6",
                vals![&r.source, &r.account, &r.zone, &r.record_name, r.record_type.as_str(), &r.set_id],
                |row| row.string(0),
            )
            .map_err(self.err())
    }

    /// Every run up to `until` (all when none) with its findings by severity, oldest first: at most
    /// the `limit` latest. Runs stored before dangle kept counts are counted from their rows.
    pub fn finding_history(&self, until: Option<i64>, limit: usize) -> Result<Vec<RunPoint>, StoreError> {
        let sql = format!("SELECT id, started_at, {} FROM runs WHERE id <= ?1 ORDER BY id DESC LIMIT ?2", self.schema.run_findings);
        let rows = self
            .db
            .all(&sql, vals![until.unwrap_or(i64::MAX), limit as i64], |r| Ok((r.i64(0)?, r.string(1)?, r.opt_string(2)?)))
            .map_err(self.err())?;
        let mut out = Vec::with_capacity(rows.len());
        for (run, started_at, text) in rows.into_iter().rev() {
            let by_severity = match text.as_deref().and_then(parse_findings) {
                Some(c) => c,
                None => self.row_counts(run)?.by_severity,
            };
            out.push(RunPoint { run, started_at, by_severity });
        }
        Ok(out)
    }

    /// The providers of a run, as (name, config type), in config order (none for a run stored before
    /// dangle kept them).
    pub fn run_providers(&self, run: i64) -> Result<Vec<(String, String)>, StoreError> {
        if !self.schema.run_providers {
            return Ok(Vec::new());
        }
        self.per_run("SELECT name, kind FROM run_providers WHERE run_id = ?1 ORDER BY seq", run, |r| Ok((r.string(0)?, r.string(1)?)))
    }

    pub fn latest_run(&self) -> Result<Option<i64>, StoreError> {
        self.db.int("SELECT MAX(id) FROM runs", &[]).map_err(self.err())
    }

    /// The latest run, or an error that says to scan first.
    pub fn require_latest(&self) -> Result<i64, StoreError> {
        self.latest_run()?.ok_or_else(|| StoreError::Empty { path: self.path.clone() })
    }

    /// The run before `run` that still holds its rows (pruned runs are skipped).
    pub fn previous_run(&self, run: i64) -> Result<Option<i64>, StoreError> {
        self.db.int(&format!("SELECT MAX(id) FROM runs WHERE id < ?1 AND {}", self.schema.kept), vals![run]).map_err(self.err())
    }

    pub fn run_meta(&self, run: i64) -> Result<RunMeta, StoreError> {
        self.db
            .one(
                &format!(
                    "SELECT id, started_at, finished_at, config, snapshot, tool_version, n_records, n_rows, n_assets, n_gaps, {} FROM runs WHERE id = ?1",
                    self.schema.run_ages
                ),
                vals![run],
                |r| {
                    Ok(RunMeta {
                        id: r.i64(0)?,
                        started_at: r.string(1)?,
                        finished_at: r.string(2)?,
                        config: r.string(3)?,
                        snapshot: r.string(4)?,
                        tool_version: r.string(5)?,
                        records: r.i64(6)?,
                        rows: r.i64(7)?,
                        assets: r.i64(8)?,
                        gaps: r.i64(9)?,
                        stale_days: r.opt_i64(10)?,
                        probing: r.bool(11)?,
                    })
                },
            )
            .map_err(self.err())?
            .ok_or_else(|| StoreError::NoSuchRun { path: self.path.clone(), run })
    }

    /// Runs `sql` with the run id as its one parameter and maps every row.
    fn per_run<T>(&self, sql: &str, run: i64, map: impl FnMut(&dyn Row) -> db::Result<T>) -> Result<Vec<T>, StoreError> {
        self.db.all(sql, vals![run], map).map_err(self.err())
    }

    /// A run's rows, in the order they were judged, with their probe evidence.
    pub fn rows(&self, run: i64) -> Result<Vec<ReportRow>, StoreError> {
        let mut rows = Vec::new();
        self.each_row(run, Which::All, |r| {
            rows.push(r);
            Ok::<_, StoreError>(())
        })?;
        Ok(rows)
    }

    /// Hands `f` a run's rows one at a time, in the order they were judged, each with its probe
    /// evidence: a report of a million rows never holds them all.
    pub fn each_row<E: From<StoreError>>(&self, run: i64, which: Which, f: impl FnMut(ReportRow) -> Result<(), E>) -> Result<(), E> {
        self.rows_in(run, which, None, f)
    }

    /// The row at position `seq` of a run.
    pub fn row_at(&self, run: i64, seq: u32) -> Result<ReportRow, StoreError> {
        let mut found = None;
        self.rows_in(run, Which::All, Some(seq), |r| {
            found = Some(r);
            Ok::<_, StoreError>(())
        })?;
        found.ok_or_else(|| StoreError::NoSuchRow { path: self.path.clone(), run, seq })
    }

    /// [`Store::each_row`], of the one row at `at` if given.
    fn rows_in<E: From<StoreError>>(&self, run: i64, which: Which, at: Option<u32>, mut f: impl FnMut(ReportRow) -> Result<(), E>) -> Result<(), E> {
        let only = at.map(|seq| format!("AND w.seq = {seq}")).unwrap_or_default();
        let rows_sql = self.row_query(which, &only, "w.seq");
        // The evidence, in the same order: merged with the rows as both cursors advance.
        let only = at.map(|seq| format!("AND rp.seq = {seq}")).unwrap_or_default();
        let ev_sql = format!(
            "SELECT rp.seq, p.evidence FROM row_probes rp JOIN probes p ON p.run_id = rp.run_id AND p.id = rp.probe_id
             WHERE rp.run_id = ?1 {only} ORDER BY rp.seq, rp.probe_id"
        );
        let mut stopped: Option<E> = None;
        let done = self.db.two((&rows_sql, vals![run]), (&ev_sql, vals![run]), &mut |rows, evidence| {
            let mut next: Option<(i64, String)> = None;
            let mut evidence_done = false;
            while let Some(r) = rows.next()? {
                let (seq, mut row) = Self::report_row(r)?;
                loop {
                    if next.is_none() && !evidence_done {
                        match evidence.next()? {
                            Some(e) => next = Some((e.i64(0)?, e.string(1)?)),
                            None => evidence_done = true,
                        }
                    }
                    match next.take() {
                        Some((s, _)) if s < seq => {}
                        Some((s, json)) if s == seq => row.probes.push(evidence_value(json)),
                        other => {
                            next = other;
                            break;
                        }
                    }
                }
                if let Err(e) = f(row) {
                    stopped = Some(e);
                    return Err(DbError::stop());
                }
            }
            Ok(())
        });
        self.ended(stopped, done)
    }

    /// The rows query of one run (`?1`), narrowed by `only` (more `AND` terms), in `order`.
    fn row_query(&self, which: Which, only: &str, order: &str) -> String {
        // Status codes are the enum's order: 2 and up (external, unverified, dangling) are findings.
        let filter = match which {
            Which::All => "",
            Which::Findings => "AND w.status >= 2",
        };
        let Schema { row_location: location, row_claim: claim, row_ct: ct, row_ages: ages, age_joins, line_location, .. } = self.schema;
        format!(
            "SELECT c.name, c.rtype, c.set_id, w.target, z.zone, z.source, z.account, w.status, w.severity, w.claimable, w.reason,
                    w.probe_verdict, w.probe_detail, f.started_at, {location}, w.ttl, a.kind, a.asset_id, w.seq,
                    rr.started_at, {ages}, {claim}, {ct}, {line_location}
             FROM rows w JOIN records c ON c.id = w.record_id JOIN zones z ON z.id = c.zone_id
             JOIN runs f ON f.id = c.first_run JOIN runs rr ON rr.id = w.run_id {age_joins}
             LEFT JOIN assets a ON a.id = w.owner
             WHERE w.run_id = ?1 {filter} {only} ORDER BY {order}"
        )
    }

    /// Walks the rows of two runs together in key order ([`ReportRow::key`]), handing `f` each key's
    /// row in `old` (a run, or none) and in `new`. Memory stays bounded by one row per side: `diff`
    /// of two million-row runs holds only what changed. Of rows sharing a key, the last judged counts.
    /// (Probe evidence is not read: a diff shows verdicts.)
    pub fn merge_rows<E: From<StoreError>>(
        &self,
        old: Option<i64>,
        new: i64,
        mut f: impl FnMut(Option<ReportRow>, Option<ReportRow>) -> Result<(), E>,
    ) -> Result<(), E> {
        // Both engines compare text byte by byte (SQLite's BINARY collation, PostgreSQL's "C"), as
        // Rust compares the key's strings.
        let sql = self.row_query(Which::All, "", "z.source, z.account, z.zone, c.name, c.rtype, c.set_id, w.target, w.seq");
        let mut stopped: Option<E> = None;
        let mut call = |o: Option<ReportRow>, n: Option<ReportRow>| match f(o, n) {
            Ok(()) => Ok(()),
            Err(e) => {
                stopped = Some(e);
                Err(DbError::stop())
            }
        };
        // A run id no run has reads as empty.
        let done = self.db.two((&sql, vals![old.unwrap_or(-1)]), (&sql, vals![new]), &mut |a, b| merge(a, b, &mut call));
        self.ended(stopped, done)
    }

    /// One row of the query in [`Store::each_row`], with its `seq`.
    fn report_row(r: &dyn Row) -> db::Result<(i64, ReportRow)> {
        let status = codes::status(r.i64(7)?).map_err(|e| e.at(7))?;
        let probe_verdict = codes::verdict(r.str(11)?).map_err(|e| e.at(11))?;
        let claimable = codes::claimable(r.i64(9)?).map_err(|e| e.at(9))?;
        let record_type: RecordType = r.str(1)?.parse().unwrap_or_else(|e| match e {});
        let kind = match r.opt_i64(24)? {
            Some(c) => codes::kind(c).map_err(|e| e.at(24))?,
            None => Kind::guess(status, claimable, probe_verdict, &record_type, r.str(10)?),
        };
        let line = r.i64(27)? != 0;
        let mut row = ReportRow {
            record_name: r.string(0)?,
            record_type,
            set_id: r.string(2)?,
            target: target_of(r.str(3)?),
            zone: r.string(4)?,
            source: r.string(5)?,
            account: r.string(6)?,
            status,
            severity: codes::severity(r.i64(8)?).map_err(|e| e.at(8))?,
            claimable,
            reason: r.string(10)?,
            probe_verdict,
            probe_detail: r.string(12)?,
            first_seen: Timestamp::new(r.string(13)?),
            location: r.text(14)?.filter(|l| !l.is_empty()).map(|l| Location::decode(l, line)),
            dangling_since: Timestamp::new(r.opt_string(21)?.unwrap_or_default()),
            last_changed: Timestamp::new(r.opt_string(20)?.unwrap_or_default()),
            kind,
            ttl: u32::try_from(r.i64(15)?).unwrap_or(u32::MAX),
            owner: match (r.text(16)?, r.text(17)?) {
                (Some(k), Some(i)) => format!("{k} {i}"),
                _ => String::new(),
            },
            ..ReportRow::empty()
        };
        let facts = Facts {
            run_started: r.str(19)?,
            stale_days: r.opt_i64(22)?,
            probing: r.bool(23)?,
            claim: claims::claim_of(r.opt_i64(25)?),
            issued_since: r.opt_i64(26)?.is_some_and(|n| n > 0),
        };
        row.derive(&facts);
        Ok((r.i64(18)?, row))
    }

    /// How many rows of a run have each status, and each severity among findings; whether any row
    /// was probed. One pass in SQL, for reports that do not list every row.
    pub fn row_counts(&self, run: i64) -> Result<RowCounts, StoreError> {
        let mut c = RowCounts::default();
        let groups = self.per_run(
            &format!(
                "SELECT status, severity, probe_verdict, {claim}, {ct}, COUNT(*) FROM rows WHERE run_id = ?1 GROUP BY status, severity, probe_verdict, {claim}, {ct}",
                claim = self.schema.claim,
                ct = self.schema.ct_issued
            ),
            run,
            |r| {
                let status = codes::status(r.i64(0)?).map_err(|e| e.at(0))?;
                let severity = codes::severity(r.i64(1)?).map_err(|e| e.at(1))?;
                let verdict = codes::verdict(r.str(2)?).map_err(|e| e.at(2))?;
                let ct = r.bool(4)?.unwrap_or(false);
                Ok((status, severity, verdict, claims::claim_of(r.opt_i64(3)?), ct, r.i64(5)? as usize))
            },
        )?;
        for (status, severity, verdict, claim, ct, n) in groups {
            c.add(status, severity, verdict, claim, ct, n);
        }
        c.probed = self
            .db
            .one("SELECT EXISTS (SELECT 1 FROM rows WHERE run_id = ?1 AND probe_verdict != 'not_probed')", vals![run], |r| r.bool(0))
            .map_err(self.err())?
            .flatten()
            .unwrap_or(false);
        Ok(c)
    }

    /// The certificate baseline findings of a run, worst first.
    pub fn name_findings(&self, run: i64) -> Result<Vec<NameFinding>, StoreError> {
        if !self.schema.baselines {
            return Ok(Vec::new());
        }
        let mut out = self.per_run("SELECT name, address, kind, severity, detail FROM name_findings WHERE run_id = ?1 ORDER BY seq", run, |r| {
            let kind = codes::name_kind(r.str(2)?).map_err(|e| e.at(2))?;
            Ok(NameFinding { name: r.string(0)?, address: r.string(1)?, kind, severity: codes::severity(r.i64(3)?).map_err(|e| e.at(3))?, detail: r.string(4)? })
        })?;
        out.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.name.cmp(&b.name)).then_with(|| a.kind.cmp(&b.kind)));
        Ok(out)
    }

    /// The named targets' results of a run, in config order.
    pub fn named_probes(&self, run: i64) -> Result<Vec<NamedProbeRow>, StoreError> {
        let named = self.per_run("SELECT target, sni, verdict, detail, probe_ids FROM named_probes WHERE run_id = ?1 ORDER BY seq", run, |r| {
            let verdict = codes::verdict(r.str(2)?).map_err(|e| e.at(2))?;
            Ok((r.string(0)?, r.string(1)?, verdict, r.string(3)?, r.string(4)?))
        })?;
        let mut out = Vec::with_capacity(named.len());
        for (target, sni, verdict, detail, ids) in named {
            let mut probes = Vec::new();
            for id in ids.split_whitespace().filter_map(|i| i.parse::<i64>().ok()) {
                let json = self.db.one("SELECT evidence FROM probes WHERE run_id = ?1 AND id = ?2", vals![run, id], |r| r.string(0)).map_err(self.err())?;
                probes.push(evidence_value(json.unwrap_or_default()));
            }
            out.push(NamedProbeRow { target, sni, verdict, detail, probes });
        }
        Ok(out)
    }

    pub fn assets(&self, run: i64) -> Result<Vec<AssetRow>, StoreError> {
        let mut out = Vec::new();
        self.each_asset(run, |a| {
            out.push(a);
            Ok::<_, StoreError>(())
        })?;
        Ok(out)
    }

    /// Hands `f` a run's assets one at a time, in assets.csv order.
    pub fn each_asset<E: From<StoreError>>(&self, run: i64, mut f: impl FnMut(AssetRow) -> Result<(), E>) -> Result<(), E> {
        let mut stopped: Option<E> = None;
        let done = self.db.each(
            "SELECT a.kind, a.asset_id, a.source, a.account, ra.region, ra.ips, ra.hosts, f.started_at
             FROM run_assets ra JOIN assets a ON a.id = ra.asset_ref JOIN runs f ON f.id = a.first_run
             WHERE ra.run_id = ?1 ORDER BY a.kind, a.asset_id, a.source, a.account",
            vals![run],
            &mut |r| {
                let a = AssetRow {
                    kind: r.string(0)?,
                    id: r.string(1)?,
                    source: r.string(2)?,
                    account: r.string(3)?,
                    region: r.opt_string(4)?.unwrap_or_default(),
                    ips: r.string(5)?,
                    hosts: r.string(6)?,
                    first_seen: r.string(7)?,
                };
                f(a).map_err(|e| {
                    stopped = Some(e);
                    DbError::stop()
                })
            },
        );
        self.ended(stopped, done)
    }

    pub fn gaps(&self, run: i64) -> Result<Vec<GapRow>, StoreError> {
        let order = self.schema.gap_order;
        self.per_run(&format!("SELECT source, account, region, service, error FROM gaps WHERE run_id = ?1 ORDER BY {order}"), run, |r| {
            Ok(GapRow { source: r.string(0)?, account: r.string(1)?, region: r.opt_string(2)?.unwrap_or_default(), service: r.string(3)?, error: r.string(4)? })
        })
    }
}

/// One side of [`Store::merge_rows`]: the row read ahead, and whether the cursor is done.
#[derive(Default)]
struct Side {
    ahead: Option<ReportRow>,
    done: bool,
}
impl Side {
    /// The next key's row (the last of the rows sharing it).
    fn next_key(&mut self, c: &mut dyn db::Cursor) -> db::Result<Option<ReportRow>> {
        let mut row = match self.ahead.take() {
            Some(r) => r,
            None => match self.read(c)? {
                Some(r) => r,
                None => return Ok(None),
            },
        };
        while let Some(n) = self.read(c)? {
            if n.key_cmp(&row).is_ne() {
                self.ahead = Some(n);
                break;
            }
            row = n;
        }
        Ok(Some(row))
    }

    fn read(&mut self, c: &mut dyn db::Cursor) -> db::Result<Option<ReportRow>> {
        if self.done {
            return Ok(None);
        }
        match c.next()? {
            Some(r) => Ok(Some(Store::report_row(r)?.1)),
            None => {
                self.done = true;
                Ok(None)
            }
        }
    }
}

/// Walks two cursors of rows in key order, handing `call` each key's row on either side.
fn merge(a: &mut dyn db::Cursor, b: &mut dyn db::Cursor, call: &mut dyn FnMut(Option<ReportRow>, Option<ReportRow>) -> db::Result<()>) -> db::Result<()> {
    let (mut sa, mut sb) = (Side::default(), Side::default());
    let (mut x, mut y) = (sa.next_key(a)?, sb.next_key(b)?);
    loop {
        match (x.take(), y.take()) {
            (None, None) => return Ok(()),
            (Some(o), None) => {
                call(Some(o), None)?;
                x = sa.next_key(a)?;
            }
            (None, Some(n)) => {
                call(None, Some(n))?;
                y = sb.next_key(b)?;
            }
            (Some(o), Some(n)) => match o.key_cmp(&n) {
                std::cmp::Ordering::Less => {
                    call(Some(o), None)?;
                    (x, y) = (sa.next_key(a)?, Some(n));
                }
                std::cmp::Ordering::Greater => {
                    call(None, Some(n))?;
                    (x, y) = (Some(o), sb.next_key(b)?);
                }
                std::cmp::Ordering::Equal => {
                    call(Some(o), Some(n))?;
                    (x, y) = (sa.next_key(a)?, sb.next_key(b)?);
                }
            },
        }
    }
}

//! Report writers: the contract CSVs (records, findings, assets, gaps), JSON with everything, and a
//! Markdown summary a person reads first. All of them render a [`Report`] loaded from the store, so a
//! fresh scan and `dangle report --run N` produce the same bytes. A [`Report`] holds the findings and
//! the counts; every row and every asset (records.csv, assets.csv, report.json) stream from the store
//! to disk, so a run of a million rows is never held in memory.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::reconcile::{Severity, Status};
use dangle_model::Verdict;
use crate::store::{AssetRow, GapRow, NamedProbeRow, ReportRow, RowCounts, RunMeta, Store, StoreError, Which};

/// records.csv / findings.csv columns (contract: add, never rename).
pub const RECORD_COLUMNS: &[&str] = &[
    "record_name",
    "record_type",
    "set_id",
    "target",
    "zone",
    "source",
    "account",
    "status",
    "severity",
    "claimable",
    "reason",
    "probe_verdict",
    "probe_detail",
    "first_seen",
];
pub const ASSET_COLUMNS: &[&str] = &["kind", "id", "source", "account", "region", "ips", "hosts"];
pub const GAP_COLUMNS: &[&str] = &["source", "account", "region", "service", "error"];

/// One run: its findings and counts; the full rows and assets stay in the store until written.
#[derive(Debug, Clone)]
pub struct Report {
    pub run: RunMeta,
    /// Rows whose status is a finding, by severity (worst first), then name, type, set, target.
    findings: Vec<ReportRow>,
    counts: RowCounts,
    pub gaps: Vec<GapRow>,
    /// `[[probe.targets]]`: what answers at the targets the user named.
    pub named_probes: Vec<NamedProbeRow>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Json,
    Markdown,
}

impl Report {
    pub fn load(store: &Store, run: i64) -> Result<Self, StoreError> {
        let mut findings = Vec::new();
        store.each_row(run, Which::Findings, |r| {
            findings.push(r);
            Ok::<_, StoreError>(())
        })?;
        // Sorted once, here: every format lists findings in this order.
        findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.record_name.cmp(&b.record_name))
                .then_with(|| a.record_type.cmp(&b.record_type))
                .then_with(|| a.set_id.cmp(&b.set_id))
                .then_with(|| a.target.cmp(&b.target))
        });
        Ok(Self {
            run: store.run_meta(run)?,
            findings,
            counts: store.row_counts(run)?,
            gaps: store.gaps(run)?,
            named_probes: store.named_probes(run)?,
        })
    }

    /// Rows whose status is a finding, by severity (worst first), then name, type, set, target.
    pub fn findings(&self) -> &[ReportRow] {
        &self.findings
    }

    /// The worst severity among findings.
    pub fn worst(&self) -> Option<Severity> {
        self.findings().first().map(|r| r.severity)
    }

    /// Findings at or above `threshold`. A foreign server at a named target counts as a critical
    /// finding: naming a target says nothing foreign should answer there.
    pub fn count_at_or_above(&self, threshold: Severity) -> usize {
        self.findings().iter().filter(|r| r.severity >= threshold).count() + self.named_foreign().len()
    }

    /// Named targets where a foreign server answers.
    pub fn named_foreign(&self) -> Vec<&NamedProbeRow> {
        self.named_probes.iter().filter(|n| n.verdict == Verdict::Foreign).collect()
    }

    /// Writes records.csv, findings.csv, assets.csv, gaps.csv, report.md and report.json into `dir`,
    /// the rows and assets streamed from `store` (one pass over each feeds both its CSV and the JSON).
    /// Each goes to a temporary name first and all are renamed into place only when every one was
    /// written whole: a full disk leaves the previous reports as they were, never an empty records.csv.
    pub fn write_dir(&self, store: &Store, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut done: Vec<(std::path::PathBuf, std::path::PathBuf)> = Vec::new();
        let result = self.write_temps(store, dir, &mut done);
        if result.is_err() {
            for (tmp, _) in &done {
                let _ = std::fs::remove_file(tmp);
            }
            return result;
        }
        for (tmp, dest) in &done {
            std::fs::rename(tmp, dest)?;
        }
        Ok(())
    }

    fn write_temps(&self, store: &Store, dir: &Path, done: &mut Vec<(std::path::PathBuf, std::path::PathBuf)>) -> anyhow::Result<()> {
        type Out = std::io::BufWriter<std::fs::File>;
        let mut open = |name: &str| -> std::io::Result<Out> {
            let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
            done.push((tmp.clone(), dir.join(name)));
            Ok(std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?))
        };
        let finish = |mut w: Out| -> std::io::Result<()> {
            w.flush()?;
            w.get_ref().sync_all()
        };
        let mut records = csv::Writer::from_writer(open("records.csv")?);
        records.write_record(RECORD_COLUMNS)?;
        let mut assets = csv::Writer::from_writer(open("assets.csv")?);
        assets.write_record(ASSET_COLUMNS)?;
        let json = self.stream_json(
            store,
            open("report.json")?,
            |r| Ok(write_row(&mut records, r)?),
            |a| Ok(write_fields(&mut assets, [&a.kind, &a.id, &a.source, &a.account, &a.region, &a.ips, &a.hosts])?),
        )?;
        finish(json)?;
        finish(records.into_inner().map_err(|e| e.into_error())?)?;
        finish(assets.into_inner().map_err(|e| e.into_error())?)?;
        let mut w = open("findings.csv")?;
        write_rows_csv(&mut w, self.findings.iter())?;
        finish(w)?;
        let mut w = open("gaps.csv")?;
        self.write_gaps_csv(&mut w)?;
        finish(w)?;
        let mut w = open("report.md")?;
        w.write_all(self.markdown().as_bytes())?;
        finish(w)?;
        Ok(())
    }

    /// report.json to `w`: the run, every row and asset (streamed from `store`), the gaps and the named
    /// targets, in serde_json's pretty layout.
    pub fn write_json(&self, store: &Store, w: impl Write) -> anyhow::Result<()> {
        self.stream_json(store, w, |_| Ok(()), |_| Ok(()))?.flush()?;
        Ok(())
    }

    /// [`Report::write_json`], handing each row and asset to `row` / `asset` as it streams past (one
    /// pass over the store also feeds records.csv and assets.csv); returns the writer.
    fn stream_json<W: Write>(
        &self,
        store: &Store,
        w: W,
        mut row: impl FnMut(&ReportRow) -> anyhow::Result<()>,
        mut asset: impl FnMut(&AssetRow) -> anyhow::Result<()>,
    ) -> anyhow::Result<W> {
        let mut json = Json::start(w, &self.run)?;
        json.array("rows")?;
        store.each_row(self.run.id, Which::All, |r| {
            row(&r)?;
            Ok::<_, anyhow::Error>(json.item(&r)?)
        })?;
        json.array("assets")?;
        store.each_asset(self.run.id, |a| {
            asset(&a)?;
            Ok::<_, anyhow::Error>(json.item(&a)?)
        })?;
        json.field("gaps", &self.gaps)?;
        if !self.named_probes.is_empty() {
            json.field("named_probes", &self.named_probes)?;
        }
        Ok(json.end()?)
    }

    /// Every row of the run as records.csv, streamed from `store`.
    pub fn write_records_csv(&self, store: &Store, w: impl Write) -> anyhow::Result<()> {
        let mut c = csv::Writer::from_writer(w);
        c.write_record(RECORD_COLUMNS)?;
        store.each_row(self.run.id, Which::All, |r| write_row(&mut c, &r).map_err(anyhow::Error::from))?;
        c.flush()?;
        Ok(())
    }

    pub fn write_gaps_csv(&self, w: impl Write) -> std::io::Result<()> {
        let mut c = csv::Writer::from_writer(w);
        c.write_record(GAP_COLUMNS)?;
        for g in &self.gaps {
            write_fields(&mut c, [&g.source, &g.account, &g.region, &g.service, &g.error])?;
        }
        c.flush()
    }

    /// Did this run probe anything?
    pub fn probed(&self) -> bool {
        self.counts.probed
    }

    /// The counts by status and by severity of findings.
    pub fn summary(&self) -> Summary {
        let (st, sev) = (&self.counts.by_status, &self.counts.by_severity);
        Summary {
            owned: st[Status::Owned as usize],
            dangling: st[Status::Dangling as usize],
            unverified: st[Status::Unverified as usize],
            external: st[Status::External as usize],
            no_target: st[Status::NoTarget as usize],
            critical: sev[Severity::Critical as usize],
            high: sev[Severity::High as usize],
            medium: sev[Severity::Medium as usize],
            low: sev[Severity::Low as usize],
            info: sev[Severity::Info as usize],
        }
    }

    pub fn markdown(&self) -> String {
        use std::fmt::Write as _;
        let m = &self.run;
        let s = self.summary();
        let mut o = String::new();
        let _ = writeln!(o, "# dangle report — run {}\n", m.id);
        let _ = writeln!(o, "- started: {}, finished: {}", m.started_at, m.finished_at);
        let _ = writeln!(o, "- config: `{}`", cell(&m.config));
        let _ = writeln!(o, "- cloud range snapshot: {}", m.snapshot);
        let _ = writeln!(o, "- {} record sets, {} rows, {} assets, {} coverage gaps", m.records, m.rows, m.assets, m.gaps);
        let _ = writeln!(
            o,
            "- status: {} dangling, {} unverified, {} external, {} owned, {} without target",
            s.dangling, s.unverified, s.external, s.owned, s.no_target
        );
        let _ = writeln!(
            o,
            "- findings by severity: {} critical, {} high, {} medium, {} low, {} info\n",
            s.critical, s.high, s.medium, s.low, s.info
        );
        if !self.gaps.is_empty() {
            let _ = writeln!(o, "## Coverage gaps\n\nRecords these could affect are `unverified`, never `dangling`.\n");
            let _ = writeln!(o, "| source | account | region | service | error |\n| --- | --- | --- | --- | --- |");
            for g in &self.gaps {
                let _ = writeln!(o, "| {} | {} | {} | {} | {} |", cell(&g.source), cell(&g.account), cell(&g.region), cell(&g.service), cell(&g.error));
            }
            o.push('\n');
        }
        if !self.named_probes.is_empty() {
            let _ = writeln!(o, "## Named targets\n\nProbed on every scan (`[[probe.targets]]`); a foreign answer here counts as a critical finding.\n");
            let _ = writeln!(o, "| target | SNI | probe | detail |\n| --- | --- | --- | --- |");
            for n in &self.named_probes {
                let _ = writeln!(o, "| {} | {} | {} | {} |", cell(&n.target), cell(&n.sni), n.verdict, cell(&n.detail));
            }
            o.push('\n');
        }
        let findings = self.findings();
        let _ = writeln!(o, "## Findings ({})\n", findings.len());
        if findings.is_empty() {
            o.push_str("No record is dangling, unverified or external.\n");
        } else {
            // The probe column appears when the run probed something (a run without probes reads as before).
            let probed = self.probed();
            let (ph, pr) = if probed { (" probe |", " --- |") } else { ("", "") };
            let _ = writeln!(
                o,
                "| severity | status | record | type | target | claimable |{ph} reason | where | first seen |\n| --- | --- | --- | --- | --- | --- |{pr} --- | --- | --- |"
            );
            for r in findings {
                let name = if r.set_id.is_empty() { r.record_name.clone() } else { format!("{} ({})", r.record_name, r.set_id) };
                let place = r.place();
                let probe = if probed { format!(" {} |", r.probe_verdict) } else { String::new() };
                let _ = writeln!(
                    o,
                    "| {} | {} | {} | {} | {} | {} |{probe} {} | {} | {} |",
                    r.severity,
                    r.status,
                    cell(&name),
                    r.record_type,
                    cell(&r.target),
                    r.claimable,
                    cell(&r.reason),
                    cell(&place),
                    r.first_seen.get(..10).unwrap_or(&r.first_seen)
                );
            }
        }
        o
    }
}

#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Summary {
    pub owned: usize,
    pub dangling: usize,
    pub unverified: usize,
    pub external: usize,
    pub no_target: usize,
    pub critical: usize,
    pub high: usize,
    pub medium: usize,
    pub low: usize,
    pub info: usize,
}

/// Escapes a Markdown table cell (and any control character in it).
pub fn cell(s: &str) -> String {
    dangle_model::input::printable(&s.replace('|', "\\|").replace('\n', " ")).into_owned()
}

/// A CSV field free of raw control characters (a name or a certificate subject from a hostile server
/// must not reach a terminal through `cat findings.csv`).
pub fn field(s: &str) -> std::borrow::Cow<'_, str> {
    dangle_model::input::printable(s)
}

/// Writes one CSV record, every field through [`field`] (copied only when it holds something to escape:
/// records.csv may have a million rows).
pub fn write_fields<W: Write, S: AsRef<str>>(c: &mut csv::Writer<W>, fields: impl IntoIterator<Item = S>) -> csv::Result<()> {
    for f in fields {
        c.write_field(field(f.as_ref()).as_bytes())?;
    }
    c.write_record(std::iter::empty::<&[u8]>())
}

/// Writes rows with the records.csv columns.
pub fn write_rows_csv<'a>(w: impl Write, rows: impl Iterator<Item = &'a ReportRow>) -> std::io::Result<()> {
    let mut c = csv::Writer::from_writer(w);
    c.write_record(RECORD_COLUMNS)?;
    for r in rows {
        write_row(&mut c, r)?;
    }
    c.flush()
}

/// One row with the records.csv columns.
fn write_row<W: Write>(c: &mut csv::Writer<W>, r: &ReportRow) -> csv::Result<()> {
    {
        write_fields(c, [
            &r.record_name,
            &r.record_type,
            &r.set_id,
            &r.target,
            &r.zone,
            &r.source,
            &r.account,
            r.status.as_str(),
            r.severity.as_str(),
            r.claimable.as_str(),
            &r.reason,
            r.probe_verdict.as_str(),
            &r.probe_detail,
            &r.first_seen,
        ])
    }
}

/// report.json in serde_json's pretty layout, written as it streams: `{ "run": …, "rows": [ … ], … }`.
struct Json<W: Write> {
    w: W,
    /// Inside an array: how many items it holds so far.
    open: Option<usize>,
}

impl<W: Write> Json<W> {
    fn start(mut w: W, run: &RunMeta) -> std::io::Result<Self> {
        w.write_all(b"{\n  \"run\": ")?;
        indented(&mut w, run, b"\n  ")?;
        Ok(Self { w, open: None })
    }

    fn close_array(&mut self) -> std::io::Result<()> {
        match self.open.take() {
            Some(0) => self.w.write_all(b"[]"),
            Some(_) => self.w.write_all(b"\n  ]"),
            None => Ok(()),
        }
    }

    /// Starts the top-level array `name`.
    fn array(&mut self, name: &str) -> std::io::Result<()> {
        self.close_array()?;
        write!(self.w, ",\n  \"{name}\": ")?;
        self.open = Some(0);
        Ok(())
    }

    fn item(&mut self, v: &impl Serialize) -> std::io::Result<()> {
        let n = self.open.as_mut().expect("an array is open");
        self.w.write_all(if *n == 0 { b"[\n    " } else { b",\n    " })?;
        *n += 1;
        indented(&mut self.w, v, b"\n    ")
    }

    /// A top-level field written whole.
    fn field(&mut self, name: &str, v: &impl Serialize) -> std::io::Result<()> {
        self.close_array()?;
        write!(self.w, ",\n  \"{name}\": ")?;
        indented(&mut self.w, v, b"\n  ")
    }

    fn end(mut self) -> std::io::Result<W> {
        self.close_array()?;
        self.w.write_all(b"\n}\n")?;
        Ok(self.w)
    }
}

/// `v` in serde_json's pretty layout, each line after the first starting with `newline` (a newline
/// and the indentation of the depth it sits at). JSON strings hold no raw newline, so every newline
/// of the output is layout.
fn indented(w: &mut impl Write, v: &impl Serialize, newline: &[u8]) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(v)?;
    let mut rest = &text[..];
    while let Some(i) = rest.iter().position(|b| *b == b'\n') {
        w.write_all(&rest[..i])?;
        w.write_all(newline)?;
        rest = &rest[i + 1..];
    }
    w.write_all(rest)
}

/// A plain-text table with aligned columns, for terminals; control characters in cells are escaped.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let rows: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(|c| dangle_model::input::printable(c).into_owned()).collect()).collect();
    let rows = rows.as_slice();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < widths.len() {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(headers.to_vec());
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

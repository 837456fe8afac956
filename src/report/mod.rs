//! Report writers: the contract CSVs (records, findings, assets, gaps), JSON with everything, and a
//! Markdown summary a person reads first. All of them render a [`Report`] loaded from the store, so a
//! fresh scan and `dangle report --run N` produce the same bytes.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::reconcile::{Severity, Status};
use dangle_model::Verdict;
use crate::store::{AssetRow, GapRow, NamedProbeRow, ReportRow, RunMeta, Store, StoreError};

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

/// One run, everything a report shows.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub run: RunMeta,
    pub rows: Vec<ReportRow>,
    pub assets: Vec<AssetRow>,
    pub gaps: Vec<GapRow>,
    /// `[[probe.targets]]`: what answers at the targets the user named.
    #[serde(skip_serializing_if = "Vec::is_empty")]
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
        Ok(Self {
            run: store.run_meta(run)?,
            rows: store.rows(run)?,
            assets: store.assets(run)?,
            gaps: store.gaps(run)?,
            named_probes: store.named_probes(run)?,
        })
    }

    /// Rows whose status is a finding, by severity (worst first), then name, type, target.
    pub fn findings(&self) -> Vec<&ReportRow> {
        let mut f: Vec<&ReportRow> = self.rows.iter().filter(|r| r.status.is_finding()).collect();
        f.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.record_name.cmp(&b.record_name))
                .then_with(|| a.record_type.cmp(&b.record_type))
                .then_with(|| a.set_id.cmp(&b.set_id))
                .then_with(|| a.target.cmp(&b.target))
        });
        f
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

    /// Writes records.csv, findings.csv, assets.csv, gaps.csv, report.md and report.json into `dir`.
    /// Each goes to a temporary name first and all are renamed into place only when every one was
    /// written whole: a full disk leaves the previous reports as they were, never an empty records.csv.
    pub fn write_dir(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(dir)?;
        let mut done: Vec<(std::path::PathBuf, std::path::PathBuf)> = Vec::new();
        let result = self.write_temps(dir, &mut done);
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

    fn write_temps(&self, dir: &Path, done: &mut Vec<(std::path::PathBuf, std::path::PathBuf)>) -> std::io::Result<()> {
        type Writer<'a> = Box<dyn Fn(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()> + 'a>;
        let files: [(&str, Writer<'_>); 6] = [
            ("records.csv", Box::new(|w| write_rows_csv(w, self.rows.iter()))),
            ("findings.csv", Box::new(|w| write_rows_csv(w, self.findings().into_iter()))),
            ("assets.csv", Box::new(|w| self.write_assets_csv(w))),
            ("gaps.csv", Box::new(|w| self.write_gaps_csv(w))),
            ("report.md", Box::new(|w| w.write_all(self.markdown().as_bytes()))),
            (
                "report.json",
                Box::new(|w| {
                    serde_json::to_writer_pretty(&mut *w, self)?;
                    w.write_all(b"\n")
                }),
            ),
        ];
        for (name, write) in files {
            let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
            done.push((tmp.clone(), dir.join(name)));
            let mut w = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
            write(&mut w)?;
            w.flush()?;
            w.get_ref().sync_all()?;
        }
        Ok(())
    }

    pub fn write_assets_csv(&self, w: impl Write) -> std::io::Result<()> {
        let mut c = csv::Writer::from_writer(w);
        c.write_record(ASSET_COLUMNS)?;
        for a in &self.assets {
            write_fields(&mut c, [&a.kind, &a.id, &a.source, &a.account, &a.region, &a.ips, &a.hosts])?;
        }
        c.flush()
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
        self.rows.iter().any(|r| r.probe_verdict != Verdict::NotProbed)
    }

    /// The counts by status and by severity of findings.
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for r in &self.rows {
            match r.status {
                Status::Owned => s.owned += 1,
                Status::Dangling => s.dangling += 1,
                Status::Unverified => s.unverified += 1,
                Status::External => s.external += 1,
                Status::NoTarget => s.no_target += 1,
            }
        }
        for r in self.findings() {
            match r.severity {
                Severity::Critical => s.critical += 1,
                Severity::High => s.high += 1,
                Severity::Medium => s.medium += 1,
                Severity::Low => s.low += 1,
                Severity::Info => s.info += 1,
            }
        }
        s
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
        write_fields(&mut c, [
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
        ])?;
    }
    c.flush()
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

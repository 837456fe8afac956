//! Report writers: the contract CSVs (records, findings, assets, gaps), JSON with everything (its schema
//! in schemas/), a Markdown summary a person reads first, SARIF for code scanning ([`sarif`]) and one
//! self-contained HTML page ([`html`]). A [`Report`] holds the findings and the counts; every row and
//! every asset (records.csv, assets.csv, report.json) stream from a [`Source`] to disk, so a run of a
//! million rows is never held in memory twice. The source is a stored run ([`Stored`]: `dangle report
//! --run N`) or the run a scan is writing (its rows in memory, written while the store writes them);
//! both hand over the same rows, so a fresh scan and `dangle report --run N` produce the same bytes.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::reconcile::{Kind, Severity, Status};
use dangle_model::Verdict;
use crate::store::{Store, StoreError};
use crate::rows::{AssetRow, GapRow, NamedProbeRow, ReportRow, RowCounts, RunMeta, RunPoint, Which};

pub mod diff;
mod html;
mod print;
mod sarif;
pub use html::{HISTORY_RUNS, HTML_FINDINGS};
pub use print::print;

/// Where a report's rows and assets come from, in the order the store keeps them: rows in the order
/// they were judged, assets by kind, id, source and account (one per identity).
pub trait Source {
    fn each_row(&self, which: Which, f: &mut dyn FnMut(&ReportRow) -> anyhow::Result<()>) -> anyhow::Result<()>;
    /// The rows at positions `seqs` (judgement order), in the order given.
    fn each_at(&self, seqs: &[u32], f: &mut dyn FnMut(&ReportRow) -> anyhow::Result<()>) -> anyhow::Result<()>;
    fn each_asset(&self, f: &mut dyn FnMut(&AssetRow) -> anyhow::Result<()>) -> anyhow::Result<()>;
}

/// A run in the store.
pub struct Stored<'a> {
    pub store: &'a Store,
    pub run: i64,
}

impl Source for Stored<'_> {
    fn each_row(&self, which: Which, f: &mut dyn FnMut(&ReportRow) -> anyhow::Result<()>) -> anyhow::Result<()> {
        self.store.each_row(self.run, which, |r| f(&r))
    }
    fn each_at(&self, seqs: &[u32], f: &mut dyn FnMut(&ReportRow) -> anyhow::Result<()>) -> anyhow::Result<()> {
        seqs.iter().try_for_each(|seq| f(&self.store.row_at(self.run, *seq)?))
    }
    fn each_asset(&self, f: &mut dyn FnMut(&AssetRow) -> anyhow::Result<()>) -> anyhow::Result<()> {
        self.store.each_asset(self.run, |a| f(&a))
    }
}

/// Report files written under temporary names ([`Report::stage`]), renamed into place by
/// [`Staged::publish`]; dropped unpublished, they are removed and the previous reports stay.
#[must_use = "staged reports are removed unless published"]
pub struct Staged {
    /// (temporary, final) paths.
    files: Vec<(std::path::PathBuf, std::path::PathBuf)>,
}

impl Staged {
    pub fn publish(mut self) -> std::io::Result<()> {
        for (tmp, dest) in std::mem::take(&mut self.files) {
            std::fs::rename(tmp, dest)?;
        }
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        for (tmp, _) in &self.files {
            let _ = std::fs::remove_file(tmp);
        }
    }
}

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
    "confidence",
    "dangling_since",
    "last_changed",
    "age_days",
    "location",
    "stale",
    "kind",
];
pub const ASSET_COLUMNS: &[&str] = &["kind", "id", "source", "account", "region", "ips", "hosts"];
pub const GAP_COLUMNS: &[&str] = &["source", "account", "region", "service", "error"];

/// One run: its findings and counts; the full rows and assets stay in their [`Source`] until written.
#[derive(Debug, Clone)]
pub struct Report {
    pub run: RunMeta,
    /// Rows whose status is a finding, by severity (worst first), then name, type, set, target.
    findings: Findings,
    counts: RowCounts,
    pub gaps: Vec<GapRow>,
    /// `[[probe.targets]]`: what answers at the targets the user named.
    pub named_probes: Vec<NamedProbeRow>,
    /// Findings per run up to this one (the HTML report's chart), oldest first.
    pub history: Vec<RunPoint>,
    /// Live checks of our names, worst first: owned endpoints' certificates against their baselines
    /// (`[probe] baseline`), and the resolution path's findings about names and zones.
    pub name_findings: Vec<crate::store::NameFinding>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Json,
    Markdown,
    Sarif,
    Html,
}

/// A report's findings, in report order.
#[derive(Debug, Clone)]
enum Findings {
    /// The rows themselves (read from the store).
    Rows(Vec<ReportRow>),
    /// Where the rows sit in the run (`seq`): a scan's findings stay in its judgements until written
    /// (400,000 findings are 300 MB as rows).
    At(Vec<u32>),
}

impl Report {
    pub fn load(store: &Store, run: i64) -> Result<Self, StoreError> {
        store.require_rows(run)?;
        let mut findings = Vec::new();
        store.each_row(run, Which::Findings, |r| {
            findings.push(r);
            Ok::<_, StoreError>(())
        })?;
        let mut report = Self::new(store.run_meta(run)?, findings, store.row_counts(run)?, store.gaps(run)?, store.named_probes(run)?);
        report.history = store.finding_history(Some(run), HISTORY_RUNS)?;
        report.name_findings = store.name_findings(run)?;
        Ok(report)
    }

    /// A report of `run` from its parts: `findings` in any order.
    pub fn new(run: RunMeta, mut findings: Vec<ReportRow>, counts: RowCounts, gaps: Vec<GapRow>, named_probes: Vec<NamedProbeRow>) -> Self {
        // Sorted once, here: every format lists findings in this order.
        findings.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then_with(|| a.record_name.cmp(&b.record_name))
                .then_with(|| a.record_type.as_str().cmp(b.record_type.as_str()))
                .then_with(|| a.set_id.cmp(&b.set_id))
                .then_with(|| a.target_text().cmp(&b.target_text()))
        });
        Self { run, findings: Findings::Rows(findings), counts, gaps, named_probes, history: Vec::new(), name_findings: Vec::new() }
    }

    /// A report of `run` whose findings are the rows at positions `at` of its source, already in
    /// report order (a [`Source`] that holds them: the scan's run in memory, or the stored run).
    pub fn of_positions(run: RunMeta, at: Vec<u32>, counts: RowCounts, gaps: Vec<GapRow>, named_probes: Vec<NamedProbeRow>) -> Self {
        Self { run, findings: Findings::At(at), counts, gaps, named_probes, history: Vec::new(), name_findings: Vec::new() }
    }

    /// This run's findings by severity, as a point of the history chart.
    pub fn point(&self) -> RunPoint {
        RunPoint { run: self.run.id, started_at: self.run.started_at.clone(), by_severity: self.counts.by_severity }
    }

    /// How many findings the run has.
    pub fn finding_count(&self) -> usize {
        match &self.findings {
            Findings::Rows(r) => r.len(),
            Findings::At(a) => a.len(),
        }
    }

    /// Hands `f` every finding in report order; `src` is the source the report was made from.
    pub fn each_finding(&self, src: &dyn Source, f: &mut dyn FnMut(&ReportRow) -> anyhow::Result<()>) -> anyhow::Result<()> {
        self.first_findings(src, usize::MAX, f)
    }

    /// [`Report::each_finding`] of the first `n` findings only (the worst).
    pub fn first_findings(&self, src: &dyn Source, n: usize, f: &mut dyn FnMut(&ReportRow) -> anyhow::Result<()>) -> anyhow::Result<()> {
        match &self.findings {
            Findings::Rows(rows) => rows.iter().take(n).try_for_each(f),
            Findings::At(at) => src.each_at(&at[..n.min(at.len())], f),
        }
    }

    /// findings.csv (the records.csv columns, findings only, in report order).
    pub fn write_findings_csv(&self, src: &dyn Source, w: impl Write) -> anyhow::Result<()> {
        let mut c = RowsCsv::new(w)?;
        self.each_finding(src, &mut |r| Ok(c.row(r)?))?;
        c.into_inner()?.flush()?;
        Ok(())
    }

    /// The worst severity among findings.
    pub fn worst(&self) -> Option<Severity> {
        Severity::ALL.into_iter().rev().find(|s| self.counts.by_severity[*s as usize] > 0)
    }

    /// Findings at or above `threshold`. A foreign server at a named target counts as a critical
    /// finding: naming a target says nothing foreign should answer there.
    pub fn count_at_or_above(&self, threshold: Severity) -> usize {
        self.count_failing(threshold, crate::reconcile::Confidence::Tentative)
    }

    /// [`Report::count_at_or_above`] of the findings whose confidence is at least `min` too
    /// (`--min-confidence`; a foreign named target is `confirmed`).
    pub fn count_failing(&self, threshold: Severity, min: crate::reconcile::Confidence) -> usize {
        let findings: usize = Severity::ALL
            .into_iter()
            .filter(|s| *s >= threshold)
            .map(|s| crate::reconcile::Confidence::ALL.into_iter().filter(|c| *c >= min).map(|c| self.counts.by_confidence[s as usize][c as usize]).sum::<usize>())
            .sum();
        // Certificate findings are what the wire showed: `confirmed`.
        let certs = self.name_findings.iter().filter(|c| c.severity >= threshold).count();
        findings + self.named_foreign().len() + certs
    }

    /// Named targets where a foreign server answers.
    pub fn named_foreign(&self) -> Vec<&NamedProbeRow> {
        self.named_probes.iter().filter(|n| n.verdict == Verdict::Foreign).collect()
    }

    /// Writes records.csv, findings.csv, assets.csv, gaps.csv, report.md and report.json into `dir`,
    /// the rows and assets streamed from `src` (one pass over each feeds both its CSV and the JSON).
    /// Each goes to a temporary name first and all are renamed into place only when every one was
    /// written whole: a full disk leaves the previous reports as they were, never an empty records.csv.
    pub fn write_dir(&self, src: &dyn Source, dir: &Path) -> anyhow::Result<()> {
        Ok(self.stage(src, dir)?.publish()?)
    }

    /// [`Report::write_dir`] up to the renames, which [`Staged::publish`] makes: a scan publishes its
    /// reports only once its run is committed.
    pub fn stage(&self, src: &dyn Source, dir: &Path) -> anyhow::Result<Staged> {
        std::fs::create_dir_all(dir)?;
        let mut staged = Staged { files: Vec::new() };
        self.write_temps(src, dir, &mut staged.files)?;
        Ok(staged)
    }

    fn write_temps(&self, src: &dyn Source, dir: &Path, done: &mut Vec<(std::path::PathBuf, std::path::PathBuf)>) -> anyhow::Result<()> {
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
        let mut records = RowsCsv::new(open("records.csv")?)?;
        let mut assets = csv::Writer::from_writer(open("assets.csv")?);
        assets.write_record(ASSET_COLUMNS)?;
        let json = self.stream_json(
            src,
            open("report.json")?,
            &mut |r| Ok(records.row(r)?),
            &mut |a| Ok(write_fields(&mut assets, [&a.kind, &a.id, &a.source, &a.account, &a.region, &a.ips, &a.hosts])?),
        )?;
        finish(json)?;
        finish(records.into_inner()?)?;
        finish(assets.into_inner().map_err(|e| e.into_error())?)?;
        let mut w = open("gaps.csv")?;
        self.write_gaps_csv(&mut w)?;
        finish(w)?;
        // findings.csv and report.md's table: one pass over the findings feeds both.
        let mut findings = RowsCsv::new(open("findings.csv")?)?;
        let mut md = open("report.md")?;
        self.markdown_head(&mut md)?;
        let mut kinds = Kinds::default();
        self.each_finding(src, &mut |r| {
            findings.row(r)?;
            kinds.add(r.kind);
            Ok(self.markdown_row(&mut md, r)?)
        })?;
        kinds.markdown(&mut md)?;
        finish(findings.into_inner()?)?;
        finish(md)?;
        let mut w = open("report.sarif")?;
        self.write_sarif(src, &mut w)?;
        finish(w)?;
        let mut w = open("report.html")?;
        self.write_html(src, &mut w)?;
        finish(w)?;
        Ok(())
    }

    /// report.json to `w`: the run, every row and asset (streamed from `src`), the gaps and the named
    /// targets, in serde_json's pretty layout.
    pub fn write_json(&self, src: &dyn Source, w: impl Write) -> anyhow::Result<()> {
        self.stream_json(src, w, &mut |_| Ok(()), &mut |_| Ok(()))?.flush()?;
        Ok(())
    }

    /// [`Report::write_json`], handing each row and asset to `row` / `asset` as it streams past (one
    /// pass over the source also feeds records.csv and assets.csv); returns the writer.
    fn stream_json<W: Write>(
        &self,
        src: &dyn Source,
        w: W,
        row: &mut dyn FnMut(&ReportRow) -> anyhow::Result<()>,
        asset: &mut dyn FnMut(&AssetRow) -> anyhow::Result<()>,
    ) -> anyhow::Result<W> {
        let mut json = Json::start(w, &self.run)?;
        json.array("rows")?;
        src.each_row(Which::All, &mut |r| {
            row(r)?;
            Ok(json.item(r)?)
        })?;
        json.array("assets")?;
        src.each_asset(&mut |a| {
            asset(a)?;
            Ok(json.item(a)?)
        })?;
        json.field("gaps", &self.gaps)?;
        json.field("kinds", &kinds_doc())?;
        if !self.named_probes.is_empty() {
            json.field("named_probes", &self.named_probes)?;
        }
        if !self.name_findings.is_empty() {
            json.field("name_findings", &self.name_findings)?;
        }
        Ok(json.end()?)
    }

    /// Every row of the run as records.csv, streamed from `src`.
    pub fn write_records_csv(&self, src: &dyn Source, w: impl Write) -> anyhow::Result<()> {
        let mut c = RowsCsv::new(w)?;
        src.each_row(Which::All, &mut |r| Ok(c.row(r)?))?;
        c.into_inner()?.flush()?;
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

    /// report.md, written as it is made (the findings of a million-row run are 100 MB of Markdown).
    pub fn write_markdown(&self, src: &dyn Source, o: &mut dyn Write) -> anyhow::Result<()> {
        self.markdown_head(o)?;
        let mut kinds = Kinds::default();
        self.each_finding(src, &mut |r| {
            kinds.add(r.kind);
            Ok(self.markdown_row(o, r)?)
        })?;
        Ok(kinds.markdown(o)?)
    }

    /// report.md up to its findings' rows: the summary, the gaps, the named targets, the table head.
    fn markdown_head(&self, o: &mut dyn Write) -> std::io::Result<()> {
        let m = &self.run;
        let s = self.summary();
        writeln!(o, "# dangle report — run {}\n", m.id)?;
        writeln!(o, "- started: {}, finished: {}", m.started_at, m.finished_at)?;
        writeln!(o, "- config: `{}`", cell(&m.config))?;
        writeln!(o, "- cloud range snapshot: {}", m.snapshot)?;
        writeln!(o, "- {} record sets, {} rows, {} assets, {} coverage gaps", m.records, m.rows, m.assets, m.gaps)?;
        writeln!(
            o,
            "- status: {} dangling, {} unverified, {} external, {} owned, {} without target",
            s.dangling, s.unverified, s.external, s.owned, s.no_target
        )?;
        writeln!(
            o,
            "- findings by severity: {} critical, {} high, {} medium, {} low, {} info\n",
            s.critical, s.high, s.medium, s.low, s.info
        )?;
        if !self.gaps.is_empty() {
            writeln!(o, "## Coverage gaps\n\nRecords these could affect are `unverified`, never `dangling`.\n")?;
            writeln!(o, "| source | account | region | service | error |\n| --- | --- | --- | --- | --- |")?;
            for g in &self.gaps {
                writeln!(o, "| {} | {} | {} | {} | {} |", cell(&g.source), cell(&g.account), cell(&g.region), cell(&g.service), cell(&g.error))?;
            }
            writeln!(o)?;
        }
        if !self.named_probes.is_empty() {
            writeln!(o, "## Named targets\n\nProbed on every scan (`[[probe.targets]]`); a foreign answer here counts as a critical finding.\n")?;
            writeln!(o, "| target | SNI | probe | detail |\n| --- | --- | --- | --- |")?;
            for n in &self.named_probes {
                writeln!(o, "| {} | {} | {} | {} |", cell(&n.target), cell(&n.sni), n.verdict, cell(&n.detail))?;
            }
            writeln!(o)?;
        }
        if !self.name_findings.is_empty() {
            writeln!(o, "## Live checks of our names\n\nOwned endpoints' certificates against the baselines dangle keeps of them (`[probe] baseline`), and what the resolution path shows about our names and zones.\n")?;
            writeln!(o, "| severity | name | at | kind | detail |\n| --- | --- | --- | --- | --- |")?;
            for c in &self.name_findings {
                writeln!(o, "| {} | {} | {} | {} | {} |", c.severity, cell(&c.name), cell(&c.address), c.kind.as_str(), cell(&c.detail))?;
            }
            writeln!(o)?;
        }
        let findings = self.finding_count();
        writeln!(o, "## Findings ({findings})\n")?;
        if findings == 0 {
            o.write_all(b"No record is dangling, unverified or external.\n")?;
        } else {
            // The probe column appears when the run probed something (a run without probes reads as before).
            let (ph, pr) = if self.probed() { (" probe |", " --- |") } else { ("", "") };
            writeln!(
                o,
                "| severity | confidence | status | record | type | target | claimable |{ph} reason | where | first seen | dangling since | last changed |\n| --- | --- | --- | --- | --- | --- | --- |{pr} --- | --- | --- | --- | --- |"
            )?;
        }
        Ok(())
    }

    /// One finding's row of report.md's table.
    fn markdown_row(&self, o: &mut dyn Write, r: &ReportRow) -> std::io::Result<()> {
        let name = if r.set_id.is_empty() { cell(&r.record_name) } else { cell(&format!("{} ({})", r.record_name, r.set_id)) };
        let probe = if self.probed() { format!(" {} |", r.probe_verdict) } else { String::new() };
        let age = r.age_days.map(|d| format!(" ({d} d)")).unwrap_or_default();
        let stale = if r.stale { " — stale" } else { "" };
        writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} |{probe} {} | {} | {}{age} | {} | {}{stale} |",
            r.severity,
            r.confidence,
            r.status,
            name,
            r.record_type,
            cell(&r.target_text()),
            r.claimable,
            cell(&r.reason),
            cell(&r.place()),
            r.first_seen.day(),
            r.dangling_since.day(),
            r.last_changed.day(),
        )
    }
}

/// The finding kinds a report listed, for its "What to do" section.
#[derive(Debug, Default)]
struct Kinds {
    seen: [usize; Kind::ALL.len()],
}

impl Kinds {
    fn add(&mut self, k: Kind) {
        self.seen[k.code() as usize] += 1;
    }

    /// report.md's last section: each kind listed, what to do about it and its OWASP entries.
    fn markdown(&self, o: &mut dyn Write) -> std::io::Result<()> {
        let listed: Vec<(Kind, usize)> = Kind::findings().map(|k| (k, self.seen[k.code() as usize])).filter(|(_, n)| *n > 0).collect();
        if listed.is_empty() {
            return Ok(());
        }
        writeln!(o, "\n## What to do\n")?;
        for (k, n) in listed {
            writeln!(o, "### {} ({n}): {}\n\n{}\n\nOWASP API Security Top 10: {}.\n", k, k.title(), k.remediation(), k.owasp().join("; "))?;
        }
        Ok(())
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

/// records.csv / findings.csv: the header, then one line per row (its text fields formatted into
/// buffers kept between rows: a million rows cost no allocation each).
struct RowsCsv<W: Write> {
    c: csv::Writer<W>,
    target: String,
    location: String,
    age: String,
}

impl<W: Write> RowsCsv<W> {
    fn new(w: W) -> csv::Result<Self> {
        let mut c = csv::Writer::from_writer(w);
        c.write_record(RECORD_COLUMNS)?;
        Ok(Self { c, target: String::new(), location: String::new(), age: String::new() })
    }

    fn row(&mut self, r: &ReportRow) -> csv::Result<()> {
        use std::fmt::Write as _;
        let shown = |to: &mut String, v: Option<&dyn std::fmt::Display>| {
            to.clear();
            if let Some(v) = v {
                let _ = write!(to, "{v}");
            }
        };
        shown(&mut self.target, r.target.as_ref().map(|t| t as &dyn std::fmt::Display));
        shown(&mut self.location, r.location.as_ref().map(|l| l as &dyn std::fmt::Display));
        shown(&mut self.age, r.age_days.as_ref().map(|d| d as &dyn std::fmt::Display));
        let stale = if r.stale { "true" } else { "false" };
        write_fields::<_, &str>(&mut self.c, [
            &r.record_name,
            r.record_type.as_str(),
            &r.set_id,
            &self.target,
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
            r.confidence.as_str(),
            &r.dangling_since,
            &r.last_changed,
            &self.age,
            &self.location,
            stale,
            r.kind.as_str(),
        ])
    }

    fn into_inner(self) -> std::io::Result<W> {
        self.c.into_inner().map_err(|e| e.into_error())
    }
}

/// report.json's schema (`schemas/report.schema.json`): its `schema_version`, raised when a field
/// changes meaning or goes away (fields are added without a new version).
pub const JSON_SCHEMA_VERSION: u32 = 1;

/// Every finding kind with its title, remediation and OWASP entries (report.json's `kinds`).
fn kinds_doc() -> Vec<serde_json::Value> {
    Kind::findings()
        .map(|k| serde_json::json!({ "id": k.as_str(), "title": k.title(), "remediation": k.remediation(), "owasp": k.owasp() }))
        .collect()
}

/// report.json in serde_json's pretty layout, written as it streams: `{ "run": …, "rows": [ … ], … }`.
struct Json<W: Write> {
    w: W,
    /// Inside an array: how many items it holds so far.
    open: Option<usize>,
}

impl<W: Write> Json<W> {
    fn start(mut w: W, run: &RunMeta) -> std::io::Result<Self> {
        write!(w, "{{\n  \"schema_version\": {JSON_SCHEMA_VERSION},\n  \"run\": ")?;
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

    /// One item of the open array, on a line of its own (compact: a million rows pretty-printed
    /// would be a third bigger, all of it indentation).
    fn item(&mut self, v: &impl Serialize) -> std::io::Result<()> {
        let n = self.open.as_mut().expect("an array is open");
        self.w.write_all(if *n == 0 { b"[\n    " } else { b",\n    " })?;
        *n += 1;
        serde_json::to_writer(&mut self.w, v).map_err(std::io::Error::from)
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
/// and the indentation of the depth it sits at), serialized straight into `w`.
fn indented(w: &mut impl Write, v: &impl Serialize, newline: &[u8]) -> std::io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(w, Nested { newline, depth: 0, has_value: false });
    v.serialize(&mut ser).map_err(std::io::Error::from)
}

/// serde_json's `PrettyFormatter` (two spaces a level) for a value nested in a document: every new
/// line starts with `newline`, then the value's own indentation.
struct Nested<'a> {
    newline: &'a [u8],
    depth: usize,
    has_value: bool,
}

impl Nested<'_> {
    fn line<W: ?Sized + Write>(&self, w: &mut W) -> std::io::Result<()> {
        w.write_all(self.newline)?;
        for _ in 0..self.depth {
            w.write_all(b"  ")?;
        }
        Ok(())
    }

    fn open<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> std::io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(bracket)
    }

    fn close<W: ?Sized + Write>(&mut self, w: &mut W, bracket: &[u8]) -> std::io::Result<()> {
        self.depth -= 1;
        if self.has_value {
            self.line(w)?;
        }
        w.write_all(bracket)
    }

    fn item<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        self.line(w)
    }
}

impl serde_json::ser::Formatter for Nested<'_> {
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"[")
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"]")
    }
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        self.item(w, first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"{")
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"}")
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        self.item(w, first)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// A plain-text table with aligned columns, for terminals; control characters in cells are escaped.
/// With a `width` (the terminal's), the table fits it: the last column (a reason, a detail) wraps
/// under itself while that leaves it [`MIN_LAST`] characters; past that it goes on indented lines of
/// its own below each row, and the columns before it are cut short with `…`, widest first, if they
/// alone are wider than the terminal. Without a width (`--wide`, or output to a file or a pipe),
/// every cell is whole.
pub fn table(headers: &[&str], rows: &[Vec<String>], width: Option<usize>) -> String {
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
    let last = lay_out(headers, &mut widths, width);
    let indent = " ".repeat(before(&widths));
    let mut out = String::new();
    let mut line = |cells: Vec<&str>, header: bool| {
        let mut s = String::new();
        let mut below = Vec::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 < cells.len() {
                let cut = elide(c, widths[i]);
                s.push_str(&format!("{cut:<w$}  ", w = widths[i]));
                continue;
            }
            match last {
                Last::Whole => s.push_str(c),
                Last::Beside(room) => {
                    for (k, part) in wrap(c, room).iter().enumerate() {
                        if k > 0 {
                            out.push_str(s.trim_end());
                            out.push('\n');
                            s = indent.clone();
                        }
                        s.push_str(part);
                    }
                }
                // The header names the column at the end of its line, where that fits.
                Last::Below(_) if header => {
                    if width.is_some_and(|w| s.chars().count() + c.chars().count() <= w) {
                        s.push_str(c);
                    }
                }
                Last::Below(room) => below = wrap(c, room),
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
        for part in below.iter().filter(|p| !p.is_empty()) {
            out.push_str(BELOW_INDENT);
            out.push_str(part);
            out.push('\n');
        }
    };
    line(headers.to_vec(), true);
    for r in rows {
        line(r.iter().map(String::as_str).collect(), false);
    }
    out
}

/// How a table's last column is laid out: whole, wrapped in place, or wrapped on lines below the row.
#[derive(Clone, Copy)]
enum Last {
    Whole,
    Beside(usize),
    Below(usize),
}

/// The width of the columns before the last, with the two spaces after each.
fn before(widths: &[usize]) -> usize {
    widths[..widths.len().saturating_sub(1)].iter().map(|w| w + 2).sum()
}

/// How [`table`] lays out its last column in `width`, cutting the columns before it (widest first,
/// to the headers' widths at least) when even they do not fit.
fn lay_out(headers: &[&str], widths: &mut [usize], width: Option<usize>) -> Last {
    let n = headers.len();
    match width {
        Some(width) if n > 1 && before(widths) + widths[n - 1] > width => {
            if width.saturating_sub(before(widths)) >= MIN_LAST {
                Last::Beside(width - before(widths))
            } else {
                // The other columns keep the row's line (cut, widest first, if even they do not fit).
                let floor: Vec<usize> = headers.iter().map(|h| h.chars().count().max(MIN_CUT)).collect();
                while before(widths) > width + 2 {
                    let Some(i) = (0..n - 1).filter(|i| widths[*i] > floor[*i]).max_by_key(|i| widths[*i]) else { break };
                    widths[i] -= 1;
                }
                Last::Below(width.saturating_sub(BELOW_INDENT.len()).max(MIN_CUT))
            }
        }
        _ => Last::Whole,
    }
}

/// `s` wrapped at spaces to `width` (if any), each line after the first indented by two spaces.
pub fn fit_line(s: &str, width: Option<usize>) -> String {
    match width {
        Some(w) if s.chars().count() > w => wrap(s, w.saturating_sub(2).max(MIN_CUT)).join("\n  ") + "\n",
        _ => format!("{s}\n"),
    }
}

/// How far [`table`] indents a last column it puts below its row.
const BELOW_INDENT: &str = "    ";

/// The fewest characters [`table`] leaves the last column beside the others.
pub const MIN_LAST: usize = 40;
/// The fewest characters [`table`] cuts an earlier column to.
const MIN_CUT: usize = 8;

/// `s` in at most `w` characters: whole, or cut with `…`.
fn elide(s: &str, w: usize) -> std::borrow::Cow<'_, str> {
    if s.chars().count() <= w {
        return s.into();
    }
    let mut cut: String = s.chars().take(w.saturating_sub(1)).collect();
    cut.push('…');
    cut.into()
}

/// `s` in lines of at most `w` characters, broken at spaces where there are any.
fn wrap(s: &str, w: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in s.split(' ') {
        let mut word = word.to_string();
        loop {
            let (have, len) = (cur.chars().count(), word.chars().count());
            if have > 0 && have + 1 + len <= w {
                cur.push(' ');
                cur.push_str(&word);
                break;
            } else if have == 0 && len <= w {
                cur = word;
                break;
            } else if have > 0 {
                lines.push(std::mem::take(&mut cur));
            } else {
                // A word longer than a line: split it.
                let head: String = word.chars().take(w).collect();
                word = word.chars().skip(w).collect();
                lines.push(head);
            }
        }
    }
    lines.push(cur);
    lines
}

#[cfg(test)]
mod table_tests {
    use super::table;

    #[test]
    fn a_table_fits_the_width_it_is_given_and_is_whole_without_one() {
        let reason = "198.51.100.77 is in declared range 198.51.100.0/24 of `datacentre` (colo) and no enumerated account holds it";
        let rows = vec![vec!["high".to_string(), "a-very-long-record-name.preview.example.com".to_string(), reason.to_string()]];
        let wide = table(&["SEVERITY", "RECORD", "REASON"], &rows, None);
        assert_eq!(wide.lines().count(), 2);
        assert!(wide.contains(reason));
        let fit = table(&["SEVERITY", "RECORD", "REASON"], &rows, Some(100));
        assert!(fit.lines().all(|l| l.chars().count() <= 100), "{fit}");
        assert!(fit.lines().count() > 2, "the reason wraps: {fit}");
        // Every word of the reason is still there, in order, under its column.
        let head = fit.lines().next().unwrap();
        let col = head[..head.find("REASON").unwrap()].chars().count();
        let text: Vec<String> = fit.lines().skip(1).map(|l| l.chars().skip(col).collect::<String>().trim().to_string()).collect();
        assert_eq!(text.join(" "), reason);
        // Too narrow for the reason beside the name: it goes below, indented, and the name stays whole.
        let narrow = table(&["SEVERITY", "RECORD", "REASON"], &rows, Some(72));
        assert!(narrow.lines().all(|l| l.chars().count() <= 72), "{narrow}");
        assert!(narrow.lines().nth(1).unwrap().trim_end().ends_with("a-very-long-record-name.preview.example.com"), "{narrow}");
        let below: Vec<&str> = narrow.lines().skip(2).map(str::trim).collect();
        assert_eq!(below.join(" "), reason);
        // Narrower than the name itself: the name is cut short, never the line overlong.
        let tiny = table(&["SEVERITY", "RECORD", "REASON"], &rows, Some(40));
        assert!(tiny.contains('…') && tiny.lines().all(|l| l.chars().count() <= 40), "{tiny}");
    }
}

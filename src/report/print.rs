//! A report on standard output: the formats as files hold them, or a table for a person at a
//! terminal (the findings, the live checks of our names, the named probe targets, the count against
//! `--fail-on`).

use std::io::Write;

use super::{fit_line, table, Format, Report, Source};
use crate::reconcile::Severity;

/// `report` of `src` on standard output in `format` (a table as wide as `width`, `None`: unbounded,
/// counts the findings at or above `threshold`).
pub fn print(src: &dyn Source, report: &Report, format: Format, threshold: Severity, width: Option<usize>) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        Format::Csv => report.write_findings_csv(src, std::io::BufWriter::new(&mut out))?,
        Format::Json => {
            report.write_json(src, std::io::BufWriter::new(&mut out))?;
        }
        Format::Markdown => {
            let mut w = std::io::BufWriter::new(&mut out);
            report.write_markdown(src, &mut w)?;
            w.flush()?;
        }
        Format::Sarif => report.write_sarif(src, std::io::BufWriter::new(&mut out))?,
        Format::Html => report.write_html(src, std::io::BufWriter::new(&mut out))?,
        Format::Table => print_table(&mut out, src, report, threshold, width)?,
    }
    out.flush()?;
    Ok(())
}

/// The table form: the summary, the findings, the live checks of our names, the named targets, and
/// how many findings are at or above `threshold`.
fn print_table(out: &mut impl Write, src: &dyn Source, report: &Report, threshold: Severity, width: Option<usize>) -> anyhow::Result<()> {
    let s = report.summary();
    let m = &report.run;
    let summary = format!(
        "run {}: {} record sets ({} rows, one per target), {} assets, {} gaps — rows: {} dangling, {} unverified, {} external, {} owned, {} without target",
        m.id, m.records, m.rows, m.assets, m.gaps, s.dangling, s.unverified, s.external, s.owned, s.no_target
    );
    write!(out, "{}", fit_line(&summary, width))?;
    write!(out, "{}", fit_line(&format!("cloud ranges snapshot: {}", m.snapshot), width))?;
    if report.finding_count() == 0 {
        writeln!(out, "no findings")?;
    } else {
        let probed = report.probed();
        let mut rows: Vec<Vec<String>> = Vec::with_capacity(report.finding_count());
        report.each_finding(src, &mut |r| {
            rows.push(finding_cells(r, probed));
            Ok(())
        })?;
        let head: &[&str] = if probed {
            &["SEVERITY", "STATUS", "RECORD", "TYPE", "TARGET", "PROBE", "AGE", "REASON"]
        } else {
            &["SEVERITY", "STATUS", "RECORD", "TYPE", "TARGET", "AGE", "REASON"]
        };
        write!(out, "{}", table(head, &rows, width))?;
    }
    if !report.name_findings.is_empty() {
        let rows: Vec<Vec<String>> = report
            .name_findings
            .iter()
            .map(|c| vec![c.severity.to_string(), c.name.clone(), c.address.clone(), c.kind.as_str().to_string(), c.detail.clone()])
            .collect();
        writeln!(out, "live checks of our names (certificates, resolution path):")?;
        write!(out, "{}", table(&["SEVERITY", "NAME", "AT", "KIND", "DETAIL"], &rows, width))?;
    }
    if !report.named_probes.is_empty() {
        let rows: Vec<Vec<String>> = report.named_probes.iter().map(|n| vec![n.target.clone(), n.sni.clone(), n.verdict.to_string(), n.detail.clone()]).collect();
        writeln!(out, "named targets ([[probe.targets]]):")?;
        write!(out, "{}", table(&["TARGET", "SNI", "PROBE", "DETAIL"], &rows, width))?;
    }
    let n = report.count_at_or_above(threshold) + report.name_findings.iter().filter(|c| c.severity >= threshold).count();
    if n > 0 || report.finding_count() > 0 {
        writeln!(out, "{n} finding(s) at or above {threshold}")?;
    }
    Ok(())
}

/// One finding's cells (the probe's only where the run probed).
fn finding_cells(r: &crate::rows::ReportRow, probed: bool) -> Vec<String> {
    let mut row = vec![
        r.severity.to_string(),
        r.status.to_string(),
        if r.set_id.is_empty() { r.record_name.clone() } else { format!("{} ({})", r.record_name, r.set_id) },
        r.record_type.to_string(),
        r.target_text(),
    ];
    if probed {
        row.push(r.probe_verdict.to_string());
    }
    row.push(match (r.age_days, r.stale) {
        (Some(d), true) => format!("{d}d stale"),
        (Some(d), false) => format!("{d}d"),
        (None, _) => String::new(),
    });
    // Where the run probed, a row it did not probe says why.
    if probed && r.probe_verdict == dangle_model::Verdict::NotProbed && !r.probe_detail.is_empty() {
        row.push(format!("{} ({})", r.reason, r.probe_detail));
    } else {
        row.push(r.reason.clone());
    }
    row
}

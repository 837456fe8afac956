//! The HTML report (`report.html`, `--format html`): one self-contained file a person opens from a
//! mail or a CI artifact. No network: styles and the few lines of script are inline and a Content
//! Security Policy forbids anything else. Findings in a table sortable by any column (severity
//! first), each with its evidence (where, why, the probe's answer, what to do, OWASP entries) in a
//! fold, and a chart of findings per run over the store's history, drawn as inline SVG. Checked by
//! rendering it in headless Chromium (tests/it/formats.rs).

use std::io::Write;

use super::{Report, Source};
use crate::reconcile::Severity;
use crate::rows::ReportRow;

/// The most findings the page lists (the worst first); findings.csv and report.json hold them all.
pub const HTML_FINDINGS: usize = 2_000;
/// The most runs the chart shows (the latest).
pub const HISTORY_RUNS: usize = 120;

/// Escapes text for HTML content and attribute values.
fn esc(s: &str) -> String {
    let s = dangle_model::input::printable(s);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const COLOURS: [(&str, &str); 5] = [("info", "#8a94a6"), ("low", "#3b82c4"), ("medium", "#d9a21b"), ("high", "#e0662a"), ("critical", "#b4232a")];

const STYLE: &str = r#"
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 1.5rem 2rem; color: #1d2330; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; } h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
.meta { color: #5b6474; margin: 0; } .meta code { background: #f1f3f6; padding: 0 .25rem; }
ul.counts { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .5rem; }
ul.counts li { border: 1px solid #d7dbe2; border-radius: 4px; padding: .2rem .6rem; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: .3rem .5rem; border-bottom: 1px solid #e3e6eb; }
th, td.tag { white-space: nowrap; } td.name { overflow-wrap: anywhere; min-width: 10rem; max-width: 20rem; } td.ev { min-width: 24rem; }
th button { font: inherit; font-weight: 600; background: none; border: 0; padding: 0; cursor: pointer; }
th[aria-sort="ascending"] button::after { content: " ▲"; } th[aria-sort="descending"] button::after { content: " ▼"; }
td.sev { font-weight: 600; white-space: nowrap; }
.sev-critical td.sev { color: #b4232a; } .sev-high td.sev { color: #e0662a; } .sev-medium td.sev { color: #a77a07; }
.sev-low td.sev { color: #3b82c4; } .sev-info td.sev { color: #8a94a6; }
details summary { cursor: pointer; } dl { display: grid; grid-template-columns: max-content 1fr; gap: .15rem .75rem; margin: .5rem 0; }
dt { color: #5b6474; } dd { margin: 0; } pre { background: #f6f7f9; padding: .5rem; overflow-x: auto; max-width: 60rem; }
.stale { background: #fff3cd; border-radius: 3px; padding: 0 .3rem; } .note { color: #5b6474; }
svg text { font: 11px system-ui, sans-serif; fill: #5b6474; }
"#;

/// Sorting: a header click sorts the rows by that column's `data-*` value (numbers as numbers, text
/// by code point: the same order in every browser and locale);
/// `#sort=KEY-asc` or `#sort=KEY-desc` in the address sorts on load.
const SCRIPT: &str = r#"
(function () {
  var table = document.getElementById("findings-table");
  if (!table) return;
  var body = table.tBodies[0];
  function sortBy(key, dir) {
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.dataset[key], y = b.dataset[key];
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : (x < y ? -1 : x > y ? 1 : 0);
      if (c === 0) c = parseFloat(a.dataset.order) - parseFloat(b.dataset.order);
      return dir === "asc" ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      th.setAttribute("aria-sort", th.dataset.key === key ? (dir === "asc" ? "ascending" : "descending") : "none");
    });
  }
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
    var button = th.querySelector("button");
    if (!button) return;
    button.addEventListener("click", function () {
      var now = th.getAttribute("aria-sort");
      sortBy(th.dataset.key, now === "descending" ? "asc" : "desc");
    });
  });
  var m = /^#sort=([a-z]+)-(asc|desc)$/.exec(location.hash);
  if (m) sortBy(m[1], m[2]);
})();
"#;

impl Report {
    /// The run as one self-contained HTML page: at most [`HTML_FINDINGS`] findings (the worst),
    /// streamed from `src`, and the chart of [`Report::history`].
    pub fn write_html(&self, src: &dyn Source, mut w: impl Write) -> anyhow::Result<()> {
        let m = &self.run;
        let s = self.summary();
        write!(
            w,
            "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>dangle report — run {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
            m.id
        )?;
        writeln!(w, "<header>\n<h1>dangle report — run {}</h1>", m.id)?;
        writeln!(
            w,
            "<p class=\"meta\">started {} · finished {} · config <code>{}</code> · dangle {}</p>\n<p class=\"meta\">cloud range snapshot: {}</p>",
            esc(&m.started_at),
            esc(&m.finished_at),
            esc(&m.config),
            esc(&m.tool_version),
            esc(&m.snapshot)
        )?;
        writeln!(
            w,
            "<ul class=\"counts\" id=\"counts\"><li>{} record sets</li><li>{} rows</li><li>{} assets</li><li>{} coverage gaps</li>\
             <li>{} dangling</li><li>{} unverified</li><li>{} external</li><li>{} owned</li>\
             <li>{} critical</li><li>{} high</li><li>{} medium</li><li>{} low</li><li>{} info</li></ul>\n</header>",
            m.records, m.rows, m.assets, m.gaps, s.dangling, s.unverified, s.external, s.owned, s.critical, s.high, s.medium, s.low, s.info
        )?;
        self.html_chart(&mut w)?;
        self.html_tables(&mut w)?;
        let total = self.finding_count();
        writeln!(w, "<section id=\"findings\">\n<h2>Findings ({total})</h2>")?;
        if total == 0 {
            writeln!(w, "<p>No record is dangling, unverified or external.</p>")?;
        } else {
            if total > HTML_FINDINGS {
                writeln!(w, "<p class=\"note\" id=\"cut\">The {HTML_FINDINGS} worst of {total} findings; findings.csv and report.json hold them all.</p>")?;
            }
            let th = |key: &str, label: &str, sort: &str| format!("<th data-key=\"{key}\" aria-sort=\"{sort}\"><button type=\"button\">{label}</button></th>");
            writeln!(
                w,
                "<table id=\"findings-table\"><thead><tr>{}{}{}{}{}{}{}{}{}<th>evidence</th></tr></thead>\n<tbody>",
                th("severity", "severity", "descending"),
                th("status", "status", "none"),
                th("record", "record", "none"),
                th("type", "type", "none"),
                th("target", "target", "none"),
                th("confidence", "confidence", "none"),
                th("probe", "probe", "none"),
                th("age", "age", "none"),
                th("kind", "kind", "none"),
            )?;
            let mut order = 0usize;
            self.first_findings(src, HTML_FINDINGS, &mut |r| {
                html_row(&mut w, r, order)?;
                order += 1;
                Ok(())
            })?;
            writeln!(w, "</tbody></table>")?;
        }
        writeln!(w, "</section>\n<script>{SCRIPT}</script>\n</body>\n</html>")?;
        w.flush()?;
        Ok(())
    }

    /// The coverage gaps, the named targets and the live checks of our names, each a table when
    /// there are any.
    fn html_tables(&self, w: &mut impl Write) -> std::io::Result<()> {
        if !self.gaps.is_empty() {
            writeln!(w, "<section id=\"gaps\">\n<h2>Coverage gaps</h2>\n<p class=\"note\">Records these could affect are <em>unverified</em>, never dangling.</p>")?;
            writeln!(w, "<table><thead><tr><th>source</th><th>account</th><th>region</th><th>service</th><th>error</th></tr></thead><tbody>")?;
            for g in &self.gaps {
                writeln!(w, "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", esc(&g.source), esc(&g.account), esc(&g.region), esc(&g.service), esc(&g.error))?;
            }
            writeln!(w, "</tbody></table>\n</section>")?;
        }
        if !self.named_probes.is_empty() {
            writeln!(w, "<section id=\"named\">\n<h2>Named targets</h2>\n<table><thead><tr><th>target</th><th>SNI</th><th>probe</th><th>detail</th></tr></thead><tbody>")?;
            for n in &self.named_probes {
                writeln!(w, "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", esc(&n.target), esc(&n.sni), n.verdict, esc(&n.detail))?;
            }
            writeln!(w, "</tbody></table>\n</section>")?;
        }
        if !self.name_findings.is_empty() {
            writeln!(w, "<section id=\"names\">\n<h2>Live checks of our names</h2>\n<table><thead><tr><th>severity</th><th>name</th><th>at</th><th>kind</th><th>detail</th></tr></thead><tbody>")?;
            for c in &self.name_findings {
                writeln!(w, "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", c.severity, esc(&c.name), esc(&c.address), c.kind.as_str(), esc(&c.detail))?;
            }
            writeln!(w, "</tbody></table>\n</section>")?;
        }
        Ok(())
    }

    /// Findings per run as stacked bars (critical on top), one per run of [`Report::history`].
    fn html_chart(&self, w: &mut impl Write) -> std::io::Result<()> {
        let runs = &self.history;
        if runs.is_empty() {
            return Ok(());
        }
        let (bar, gap, height, left, bottom) = (14usize, 4usize, 160usize, 40usize, 20usize);
        let max = runs.iter().map(|p| p.by_severity.iter().sum::<usize>()).max().unwrap_or(0).max(1);
        let width = left + runs.len() * (bar + gap) + 10;
        writeln!(w, "<section id=\"history\">\n<h2>Findings per run</h2>")?;
        writeln!(
            w,
            "<svg id=\"history-chart\" role=\"img\" aria-label=\"findings per run\" width=\"{width}\" height=\"{}\" viewBox=\"0 0 {width} {}\">",
            height + bottom + 10,
            height + bottom + 10
        )?;
        writeln!(w, "<text x=\"0\" y=\"12\">{max}</text><text x=\"0\" y=\"{height}\">0</text>")?;
        for (i, p) in runs.iter().enumerate() {
            let total: usize = p.by_severity.iter().sum();
            let x = left + i * (bar + gap);
            let mut y = height;
            let date = p.started_at.get(..10).unwrap_or(&p.started_at);
            let title = format!(
                "run {} ({date}): {total} findings — {} critical, {} high, {} medium, {} low, {} info",
                p.run,
                p.by_severity[Severity::Critical as usize],
                p.by_severity[Severity::High as usize],
                p.by_severity[Severity::Medium as usize],
                p.by_severity[Severity::Low as usize],
                p.by_severity[Severity::Info as usize]
            );
            writeln!(w, "<g class=\"bar\" data-run=\"{}\" data-total=\"{total}\"><title>{}</title>", p.run, esc(&title))?;
            for (s, (name, colour)) in Severity::ALL.iter().zip(COLOURS) {
                let n = p.by_severity[*s as usize];
                if n == 0 {
                    continue;
                }
                let h = (n * height).div_ceil(max).max(1);
                y = y.saturating_sub(h);
                writeln!(w, "<rect class=\"{name}\" x=\"{x}\" y=\"{y}\" width=\"{bar}\" height=\"{h}\" fill=\"{colour}\"></rect>")?;
            }
            if runs.len() <= 40 || i % (runs.len() / 20).max(1) == 0 {
                writeln!(w, "<text x=\"{x}\" y=\"{}\">{}</text>", height + 14, p.run)?;
            }
            writeln!(w, "</g>")?;
        }
        writeln!(w, "</svg>")?;
        let legend: Vec<String> =
            COLOURS.iter().rev().map(|(name, colour)| format!("<span style=\"color:{colour}\">■</span> {name}")).collect();
        writeln!(w, "<p class=\"note\">{} · run numbers below the bars</p>\n</section>", legend.join(" "))?;
        Ok(())
    }
}

/// One finding's row: the columns, then its evidence in a fold.
fn html_row(w: &mut impl Write, r: &ReportRow, order: usize) -> std::io::Result<()> {
    let name = if r.set_id.is_empty() { r.record_name.clone() } else { format!("{} ({})", r.record_name, r.set_id) };
    let age = match (r.age_days, r.stale) {
        (Some(d), true) => format!("{d} d <span class=\"stale\">stale</span>"),
        (Some(d), false) => format!("{d} d"),
        (None, _) => String::new(),
    };
    writeln!(
        w,
        "<tr class=\"finding sev-{sev}\" data-order=\"{order}\" data-severity=\"{sevn}\" data-status=\"{st}\" data-record=\"{rec}\" data-type=\"{ty}\" data-target=\"{tg}\" data-confidence=\"{conf}\" data-probe=\"{pr}\" data-age=\"{agen}\" data-kind=\"{kind}\">\
         <td class=\"sev tag\">{sev}</td><td class=\"tag\">{st}</td><td class=\"name\">{rec}</td><td class=\"tag\">{ty}</td><td class=\"name\">{tg}</td><td class=\"tag\">{conf}</td><td class=\"tag\">{pr}</td><td class=\"tag\">{age}</td><td class=\"tag\">{kind}</td>",
        sev = r.severity,
        sevn = r.severity as u8,
        st = r.status,
        rec = esc(&name),
        ty = esc(r.record_type.as_str()),
        tg = esc(&r.target_text()),
        conf = r.confidence,
        pr = r.probe_verdict,
        agen = r.age_days.unwrap_or(-1),
        kind = r.kind,
    )?;
    write!(w, "<td class=\"ev\"><details><summary>{}</summary><dl>", esc(&r.reason))?;
    let mut item = |k: &str, v: &str| -> std::io::Result<()> {
        if v.is_empty() {
            return Ok(());
        }
        write!(w, "<dt>{k}</dt><dd>{}</dd>", esc(v))
    };
    item("where", &r.place())?;
    item("zone", &format!("{} ({} / {})", r.zone, r.source, r.account))?;
    item("claimable", r.claimable.as_str())?;
    item("held by", &r.owner)?;
    item("first seen", &r.first_seen)?;
    item("dangling since", &r.dangling_since)?;
    item("last changed", &r.last_changed)?;
    item("probe", &format!("{}{}", r.probe_verdict, if r.probe_detail.is_empty() { String::new() } else { format!(": {}", r.probe_detail) }))?;
    item("what to do", &r.kind.remediation())?;
    item("OWASP API Top 10", &r.kind.owasp().join("; "))?;
    write!(w, "</dl>")?;
    for (i, p) in r.probes.iter().enumerate() {
        let json = serde_json::to_string_pretty(p).unwrap_or_default();
        write!(w, "<details class=\"probe\"><summary>probe evidence {}</summary><pre>{}</pre></details>", i + 1, esc(&json))?;
    }
    writeln!(w, "</details></td></tr>")
}

//! Probe results as a scan hands them to the store: per judged row, per named target, and the
//! evidence (already JSON) they cite. The scan builds these from the prober's answers; the store
//! knows no prober type.

use dangle_model::Verdict;
use rustc_hash::FxHashMap;

/// What the probes said about one row.
#[derive(Debug, Clone)]
pub struct RowProbe {
    pub verdict: Verdict,
    pub detail: String,
    /// Appended to the row's reason.
    pub reason: Option<String>,
    /// Indices into [`Probes::evidence`].
    pub evidence: Vec<u32>,
}

/// What the probes said about a target the user named (`[[probe.targets]]`).
#[derive(Debug, Clone)]
pub struct NamedProbe {
    /// As written in the config.
    pub target: String,
    pub sni: String,
    pub verdict: Verdict,
    pub detail: String,
    /// Indices into [`Probes::evidence`].
    pub evidence: Vec<u32>,
}

/// One probe's evidence: its verdict and its JSON (as `report --format json` shows it).
#[derive(Debug, Clone)]
pub struct EvidenceJson {
    pub verdict: Verdict,
    pub json: String,
}

/// A scan's probe results.
#[derive(Debug, Default)]
pub struct Probes {
    by_judgement: FxHashMap<u32, u32>,
    rows: Vec<RowProbe>,
    pub named: Vec<NamedProbe>,
    pub evidence: Vec<EvidenceJson>,
}

impl Probes {
    /// Records what was said about judgement `judgement`.
    pub fn set_row(&mut self, judgement: u32, row: RowProbe) {
        self.by_judgement.insert(judgement, self.rows.len() as u32);
        self.rows.push(row);
    }

    pub fn get(&self, judgement: usize) -> Option<&RowProbe> {
        self.by_judgement.get(&(judgement as u32)).map(|&i| &self.rows[i as usize])
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.named.is_empty()
    }

    /// Probed rows by verdict, for the log.
    pub fn counts(&self) -> Vec<(Verdict, usize)> {
        let mut m: FxHashMap<Verdict, usize> = FxHashMap::default();
        for r in &self.rows {
            *m.entry(r.verdict).or_default() += 1;
        }
        let mut v: Vec<_> = m.into_iter().collect();
        v.sort_by_key(|(k, _)| std::cmp::Reverse(k.rank()));
        v
    }
}

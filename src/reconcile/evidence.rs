//! What the second opinions and the probes found, applied to the judgements: the one table of how a
//! finding raises a row's severity ([`Finding::floor`]), and the claims and Certificate Transparency
//! findings rows carry on to the store and the reports ([`Claims`]). Pure: evidence in, judgements
//! and claims changed; a finding only ever raises a severity, never lowers what the reconciler said.

use std::collections::BTreeMap;

use dangle_model::{Claim, Verdict};

use super::fingerprints::Stance;
use super::{severity, ClaimEvidence, ClaimSource, Judgement, Severity, Status};

/// What a signal found about some rows (judgement positions), and the words their reasons gain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    pub rows: Vec<u32>,
    pub finding: Finding,
    pub words: String,
}

/// One kind of finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finding {
    /// A provider's availability check of the name.
    Check(Claim),
    /// A service fingerprint matched: the service says the name is unclaimed (available) or held.
    Fingerprint { claim: Claim, stance: Stance },
    /// A delegation's server answers nothing for the zone; `hosted`: at a hosted DNS service, where
    /// anyone can create the zone.
    LameDelegation { hosted: bool },
    /// A delegation's server name does not exist: whoever registers its domain answers.
    ServerMissing,
    /// A delegation's server serves the zone although no enumerated account holds it.
    ServedElsewhere,
    /// A chain ends in a name that does not exist; `registrable`: nobody holds its domain either.
    BrokenChain { registrable: bool },
    /// Certificates logged for the name since it dangles.
    Certificates { issued_since: u32 },
}

impl Finding {
    /// The severity a row of `status` has at least with this finding (`None`: unchanged).
    pub fn floor(self, status: Status) -> Option<Severity> {
        use Severity::{Critical, High, Medium};
        match (self, status) {
            (Self::Check(Claim::Taken), _) => Some(Critical),
            (Self::Check(Claim::Available), _) => Some(High),
            (Self::Fingerprint { claim: Claim::Taken, .. }, Status::Dangling) => Some(Critical),
            (Self::Fingerprint { claim: Claim::Available, stance: Stance::Vulnerable }, _) => Some(High),
            (Self::Fingerprint { claim: Claim::Available, stance: Stance::EdgeCase }, Status::External) => Some(Medium),
            (Self::LameDelegation { hosted: true } | Self::ServerMissing, _) => Some(High),
            (Self::LameDelegation { hosted: false }, _) => Some(Medium),
            (Self::ServedElsewhere, _) => Some(Critical),
            (Self::BrokenChain { registrable: true }, _) => Some(High),
            (Self::BrokenChain { registrable: false }, _) => Some(Medium),
            (Self::Certificates { issued_since }, _) if issued_since > 0 => Some(Critical),
            _ => None,
        }
    }

    /// The claim answer it gives a row, and what gave it; `None` for a CT finding.
    fn claim(self) -> Option<ClaimEvidence> {
        let (claim, source) = match self {
            Self::Check(c) => (c, ClaimSource::Check),
            Self::Fingerprint { claim, stance } => (claim, ClaimSource::Fingerprint(stance)),
            Self::LameDelegation { .. } | Self::ServerMissing => (Claim::Available, ClaimSource::Delegation),
            Self::ServedElsewhere => (Claim::Taken, ClaimSource::Delegation),
            Self::BrokenChain { registrable: true } => (Claim::Available, ClaimSource::Resolution),
            Self::BrokenChain { registrable: false } => (Claim::Taken, ClaimSource::Resolution),
            Self::Certificates { .. } => return None,
        };
        Some(ClaimEvidence { claim, source })
    }
}

/// Applies `e` to its rows: the severity raised to the finding's floor; the claim answer recorded
/// (after the words of an earlier answer that said nothing), or the CT finding.
pub fn apply(judgements: &mut [Judgement], claims: &mut Claims, e: &Evidence) {
    for &row in &e.rows {
        let j = &mut judgements[row as usize];
        if let Some(floor) = e.finding.floor(j.status) {
            j.severity = j.severity.max(floor);
        }
        match (e.finding, e.finding.claim()) {
            (Finding::Certificates { issued_since }, _) => claims.insert_ct(row, RowCt { issued_since, reason: e.words.clone() }),
            (_, Some(c)) => {
                let before = claims.get(row as usize).map(|c| c.reason.clone()).unwrap_or_default();
                claims.insert(row, RowClaim { claim: c.claim, source: c.source, reason: before + &e.words });
            }
            (_, None) => {}
        }
    }
}

/// A probe's verdict on a row: only ever raises what the reconciler decided (a foreign answer makes a
/// dangling row critical, an unverified one low).
pub fn probed(j: &mut Judgement, verdict: Verdict) {
    j.severity = j.severity.max(severity(j.status, j.claimable, verdict == Verdict::Foreign));
}

/// One row's claim answer: what was found, by what, and the words its reason gains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowClaim {
    pub claim: Claim,
    pub source: ClaimSource,
    pub reason: String,
}

impl RowClaim {
    pub fn evidence(&self) -> ClaimEvidence {
        ClaimEvidence { claim: self.claim, source: self.source }
    }
}

/// What Certificate Transparency logs showed for one row's name: how many certificates were issued
/// for it since it dangles, and the words its reason gains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowCt {
    pub issued_since: u32,
    pub reason: String,
}

/// The claim answers and CT findings of a run, by judgement index (sparse: most rows are never
/// checked).
#[derive(Debug, Clone, Default)]
pub struct Claims {
    rows: BTreeMap<u32, RowClaim>,
    ct: BTreeMap<u32, RowCt>,
}

impl Claims {
    pub fn insert_ct(&mut self, seq: u32, c: RowCt) {
        self.ct.insert(seq, c);
    }
    pub fn ct(&self, seq: usize) -> Option<&RowCt> {
        self.ct.get(&(seq as u32))
    }
    /// Were certificates issued for row `seq`'s name since it dangles?
    pub fn issued_since(&self, seq: usize) -> bool {
        self.ct(seq).is_some_and(|c| c.issued_since > 0)
    }
    pub fn insert(&mut self, seq: u32, c: RowClaim) {
        self.rows.insert(seq, c);
    }
    pub fn get(&self, seq: usize) -> Option<&RowClaim> {
        self.rows.get(&(seq as u32))
    }
    pub fn len(&self) -> usize {
        self.rows.len()
    }
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_raise_severities_by_one_table_and_never_lower_them() {
        use Severity::*;
        assert_eq!(Finding::Check(Claim::Unknown).floor(Status::Dangling), None);
        assert_eq!(Finding::Fingerprint { claim: Claim::Taken, stance: Stance::Vulnerable }.floor(Status::External), None, "held by whom, external cannot say");
        assert_eq!(Finding::Fingerprint { claim: Claim::Available, stance: Stance::EdgeCase }.floor(Status::Dangling), None);
        assert_eq!(Finding::Fingerprint { claim: Claim::Available, stance: Stance::EdgeCase }.floor(Status::External), Some(Medium));
        assert_eq!(Finding::Certificates { issued_since: 0 }.floor(Status::Dangling), None);
        assert_eq!(Finding::LameDelegation { hosted: true }.floor(Status::External), Some(High));
        let mut claims = Claims::default();
        let r = crate::reconcile::Reason::Held(0);
        let mut js = vec![Judgement { record: 0, target: 0, owner: u32::MAX, status: Status::Dangling, claimable: dangle_model::Claimable::Yes, severity: Critical, reason: r }];
        apply(&mut js, &mut claims, &Evidence { rows: vec![0], finding: Finding::BrokenChain { registrable: false }, words: "; a".into() });
        assert_eq!(js[0].severity, Critical, "raised, never lowered");
        apply(&mut js, &mut claims, &Evidence { rows: vec![0], finding: Finding::ServerMissing, words: "; b".into() });
        assert_eq!((claims.get(0).unwrap().reason.as_str(), claims.get(0).unwrap().source), ("; a; b", ClaimSource::Delegation), "words add up, the latest answer stands");
    }
}

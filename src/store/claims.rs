//! How a row's claim answer is stored (`rows.claim`): one small integer for the answer and what gave it.

use dangle_model::Claim;

use crate::reconcile::fingerprints::Stance;
use crate::reconcile::{ClaimEvidence, ClaimSource};

/// The stored code of a claim answer (`rows.claim`; NULL: none): the answer (0 available, 1 taken,
/// 2 no answer) plus 3 × its source (0 a provider's check; a fingerprint of a service whose names
/// anyone can claim 1, of an edge case 2, of a service where nobody else can 3; a delegation's
/// name servers asked 4; an external chain resolved 5).
pub(crate) fn claim_code(c: ClaimEvidence) -> i64 {
    let answer = match c.claim {
        Claim::Available => 0,
        Claim::Taken => 1,
        Claim::Unknown => 2,
    };
    let source = match c.source {
        ClaimSource::Check => 0,
        ClaimSource::Fingerprint(Stance::Vulnerable) => 1,
        ClaimSource::Fingerprint(Stance::EdgeCase) => 2,
        ClaimSource::Fingerprint(Stance::NotVulnerable) => 3,
        ClaimSource::Delegation => 4,
        ClaimSource::Resolution => 5,
    };
    answer + 3 * source
}

pub(crate) fn claim_of(code: Option<i64>) -> Option<ClaimEvidence> {
    let code = code?;
    let claim = match code % 3 {
        0 => Claim::Available,
        1 => Claim::Taken,
        _ => Claim::Unknown,
    };
    let source = match code / 3 {
        0 => ClaimSource::Check,
        1 => ClaimSource::Fingerprint(Stance::Vulnerable),
        2 => ClaimSource::Fingerprint(Stance::EdgeCase),
        3 => ClaimSource::Fingerprint(Stance::NotVulnerable),
        4 => ClaimSource::Delegation,
        5 => ClaimSource::Resolution,
        _ => return None,
    };
    (code >= 0).then_some(ClaimEvidence { claim, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        let sources = [
            ClaimSource::Check,
            ClaimSource::Fingerprint(Stance::Vulnerable),
            ClaimSource::Fingerprint(Stance::EdgeCase),
            ClaimSource::Fingerprint(Stance::NotVulnerable),
            ClaimSource::Delegation,
            ClaimSource::Resolution,
        ];
        for source in sources {
            for claim in [Claim::Available, Claim::Taken, Claim::Unknown] {
                let e = ClaimEvidence { claim, source };
                assert_eq!(claim_of(Some(claim_code(e))), Some(e));
            }
        }
        // A store written by schema 5 held 0, 1, 2: a provider's checks.
        assert_eq!(claim_of(Some(1)), Some(ClaimEvidence { claim: Claim::Taken, source: ClaimSource::Check }));
        assert_eq!(claim_of(Some(18)), None);
        assert_eq!(claim_of(Some(-1)), None);
        assert_eq!(claim_of(None), None);
    }
}

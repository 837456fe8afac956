//! Claim checks' results per row (`scan`'s second opinion on a dangling name): what the store keeps and
//! the reports show.

use std::collections::BTreeMap;

use dangle_model::Claim;

/// One row's claim check: what was found and the words its reason gains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowClaim {
    pub claim: Claim,
    pub reason: String,
}

/// The claim checks of a run, by judgement index (sparse: most rows are never checked).
#[derive(Debug, Clone, Default)]
pub struct Claims {
    rows: BTreeMap<u32, RowClaim>,
}

impl Claims {
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


/// The stored code of a claim (NULL: not checked).
pub(crate) fn claim_code(c: Claim) -> i64 {
    match c {
        Claim::Available => 0,
        Claim::Taken => 1,
        Claim::Unknown => 2,
    }
}

pub(crate) fn claim_of(code: Option<i64>) -> Option<Claim> {
    match code? {
        0 => Some(Claim::Available),
        1 => Some(Claim::Taken),
        2 => Some(Claim::Unknown),
        _ => None,
    }
}

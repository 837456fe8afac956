//! The judgement's vocabulary: statuses and severities (contract names) and the severity rule.

use std::fmt;

use serde::Serialize;

use super::{Claimable, Judgement};

/// A judgement's status (contract names). Ordered from least to most severe, so `max` is the worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    NoTarget,
    Owned,
    External,
    Unverified,
    Dangling,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoTarget => "no_target",
            Self::Owned => "owned",
            Self::External => "external",
            Self::Unverified => "unverified",
            Self::Dangling => "dangling",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::NoTarget, Self::Owned, Self::External, Self::Unverified, Self::Dangling].into_iter().find(|x| x.as_str() == s)
    }
    /// A finding is anything that is neither owned nor without target.
    pub fn is_finding(self) -> bool {
        !matches!(self, Self::Owned | Self::NoTarget)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Severity (contract names), ordered so that `Critical` is the greatest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 5] = [Self::Info, Self::Low, Self::Medium, Self::High, Self::Critical];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s.to_ascii_lowercase())
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The severity rule of design.md. `foreign_answer`: the prober saw a foreign server at the target.
pub fn severity(status: Status, claimable: Claimable, foreign_answer: bool) -> Severity {
    match status {
        Status::Dangling if foreign_answer => Severity::Critical,
        Status::Dangling if claimable == Claimable::Yes => Severity::High,
        Status::Dangling => Severity::Medium,
        Status::External | Status::Unverified if claimable == Claimable::Yes || foreign_answer => Severity::Low,
        _ => Severity::Info,
    }
}

/// The worst status of a record's rows (dangling > unverified > external > owned).
pub fn record_status(rows: &[Judgement]) -> Status {
    rows.iter().map(|j| j.status).max().unwrap_or(Status::NoTarget)
}

/// How much evidence stands behind a row's status (contract names `confirmed` / `firm` /
/// `tentative`), ordered so that `Confirmed` is the greatest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    Tentative,
    Firm,
    Confirmed,
}

impl Confidence {
    pub const ALL: [Confidence; 3] = [Self::Tentative, Self::Firm, Self::Confirmed];
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tentative => "tentative",
            Self::Firm => "firm",
            Self::Confirmed => "confirmed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s.to_ascii_lowercase())
    }

    /// The confidence the evidence of one row gives: the inventory's judgement alone, or with what
    /// the prober saw at the target agreeing (or not).
    /// - `dangling`: a foreign server answering there is `confirmed` (someone else holds it); nothing
    ///   of ours answering (no answer, a listener without TLS, a shared certificate) is `firm`; not
    ///   probed, or a server that proved to be ours (the inventory and the wire disagree), `tentative`.
    /// - `unverified`: always `tentative` (a coverage gap stands in for the inventory).
    /// - `external`: `firm` once probed (the answer is on record), else `tentative`.
    /// - `owned`: `confirmed` when the server proved to be ours, else `firm`; `no_target`: `firm`.
    /// - A claim check's answer (`claim`) makes a dangling row `confirmed`: the service itself said the
    ///   name is free, or held by someone else. A fingerprint of a service where anyone can claim the
    ///   name does too when it says "unclaimed"; one that says "held", or one of an edge-case service,
    ///   makes it `firm`. On an `external` row an "unclaimed" fingerprint is `firm` (no inventory
    ///   backs it), of an edge-case service `tentative`. A delegation whose servers were asked is
    ///   `confirmed` when dangling (lame, or served while no account of ours holds the zone), `firm`
    ///   when external and lame.
    /// - A certificate issued for a dangling name since it dangles (`issued_since`, Certificate
    ///   Transparency) makes it `confirmed`: someone got one.
    pub fn of(status: Status, verdict: dangle_model::Verdict, claim: Option<ClaimEvidence>, issued_since: bool) -> Self {
        use crate::reconcile::fingerprints::Stance;
        use dangle_model::{Claim, Verdict as V};
        if status == Status::Dangling && issued_since {
            return Self::Confirmed;
        }
        if let Some(ClaimEvidence { claim, source }) = claim {
            match (status, source, claim) {
                (Status::Dangling, ClaimSource::Check | ClaimSource::Delegation, Claim::Available | Claim::Taken) => return Self::Confirmed,
                (Status::External, ClaimSource::Delegation, Claim::Available) => return Self::Firm,
                (Status::External, ClaimSource::Resolution, Claim::Available | Claim::Taken) => return Self::Firm,
                (Status::Dangling, ClaimSource::Fingerprint(Stance::Vulnerable), Claim::Available) => return Self::Confirmed,
                (Status::Dangling, ClaimSource::Fingerprint(_), Claim::Taken) if verdict != V::Foreign => return Self::Firm,
                (Status::Dangling, ClaimSource::Fingerprint(Stance::EdgeCase), Claim::Available) if verdict != V::Foreign => return Self::Firm,
                (Status::External, ClaimSource::Fingerprint(Stance::Vulnerable), Claim::Available) => return Self::Firm,
                (Status::External, ClaimSource::Fingerprint(Stance::EdgeCase), Claim::Available) => return Self::Tentative.max(Self::of(status, verdict, None, false)),
                _ => {}
            }
        }
        match (status, verdict) {
            (Status::Dangling, V::Foreign) => Self::Confirmed,
            (Status::Dangling, V::NoAnswer | V::UnknownListener | V::Shared) => Self::Firm,
            (Status::Dangling, _) => Self::Tentative,
            (Status::Unverified, _) => Self::Tentative,
            (Status::External, V::NotProbed) => Self::Tentative,
            (Status::External, _) => Self::Firm,
            (Status::Owned, V::Ours) => Self::Confirmed,
            (Status::Owned | Status::NoTarget, _) => Self::Firm,
        }
    }
}

/// Where a row's claim answer came from: the provider's own check (an API read), or a service
/// fingerprint of what the target answered (with the service's takeover stance).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimSource {
    Check,
    Fingerprint(crate::reconcile::fingerprints::Stance),
    /// A delegation's own name servers, asked for the zone: lame (available) or serving it (taken).
    Delegation,
    /// An external chain resolved now, ending in NXDOMAIN: under an unregistered domain (available)
    /// or under a domain someone holds (taken).
    Resolution,
}

/// A claim answer with its source: what [`Confidence::of`] and [`crate::reconcile::Kind::of`] weigh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimEvidence {
    pub claim: dangle_model::Claim,
    pub source: ClaimSource,
}

impl fmt::Display for Confidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Does a record of this type (`A`, `CNAME`, `ALIAS` …) lead to an HTTPS endpoint?
pub fn carries_https(rtype: &dangle_model::RecordType) -> bool {
    use dangle_model::RecordType as T;
    match rtype {
        T::A | T::Aaaa | T::Cname => true,
        T::Other(t) => ["ALIAS", "ANAME"].iter().any(|a| a.eq_ignore_ascii_case(t)),
        _ => false,
    }
}

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

//! Live checks of our names: certificate baselines of owned TLS endpoints (`[probe] baseline`: per
//! name, the key and issuer it answered with, kept across runs) and the findings a run makes against
//! them (a key or issuer that changed, a certificate that expires soon or has expired, one logged on a
//! key we do not know), and the findings of the resolution path that belong to a name or zone rather
//! than to one record's row (a zone delegated elsewhere, a wildcard answering for a deleted name, a
//! split-horizon difference). What the store keeps and the reports show.

use serde::Serialize;

use crate::reconcile::Severity;

/// What one owned name answered with, as the store keeps it. Runs are ids; `None` is the run being
/// written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Baseline {
    /// The SNI (the record name).
    pub name: String,
    /// SHA-256 of the leaf's SubjectPublicKeyInfo (hex).
    pub spki: String,
    pub issuer: String,
    /// The CA names the server asks a client certificate from (empty: none asked).
    pub ca_names: String,
    pub alpn: String,
    pub not_after: String,
    /// The run that first saw this name answer.
    pub first_run: Option<i64>,
    /// The run in which its key or issuer last changed (or the first).
    pub changed_run: Option<i64>,
    /// When the first run started (RFC 3339; `None` for the run being written).
    pub first_started: Option<String>,
}

/// What a baseline finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NameKind {
    /// A new key certified by our own CA (or pinned): a rotation, said for the record.
    KeyRotated,
    /// A new key, same issuer, not ours by trust anchor or pin.
    KeyChanged,
    /// A new issuer (with or without a new key), not ours by trust anchor or pin.
    IssuerChanged,
    /// Expires within `[probe] expiry_warn_days`.
    Expiring,
    Expired,
    /// Certificate Transparency lists a valid certificate for the name on a key none of our endpoints
    /// has shown.
    UnknownKey,
    /// The world's delegation of one of our zones names none of the servers that host it.
    ZoneDelegatedElsewhere,
    /// The zone is not delegated at all (its name does not exist for the world).
    ZoneNotDelegated,
    /// A record that is gone is answered by a wildcard now.
    WildcardShadowsDeleted,
    /// A private zone answers the name differently from the public one.
    SplitHorizon,
}

impl NameKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::KeyRotated => "key-rotated",
            Self::KeyChanged => "key-changed",
            Self::IssuerChanged => "issuer-changed",
            Self::Expiring => "expiring",
            Self::Expired => "expired",
            Self::UnknownKey => "unknown-key",
            Self::ZoneDelegatedElsewhere => "zone-delegated-elsewhere",
            Self::ZoneNotDelegated => "zone-not-delegated",
            Self::WildcardShadowsDeleted => "wildcard-shadows-deleted",
            Self::SplitHorizon => "split-horizon",
        }
    }
    pub const ALL: [NameKind; 10] = [
        Self::KeyRotated,
        Self::KeyChanged,
        Self::IssuerChanged,
        Self::Expiring,
        Self::Expired,
        Self::UnknownKey,
        Self::ZoneDelegatedElsewhere,
        Self::ZoneNotDelegated,
        Self::WildcardShadowsDeleted,
        Self::SplitHorizon,
    ];
    /// A certificate finding (the rest are the resolution path's).
    pub fn is_certificate(self) -> bool {
        matches!(self, Self::KeyRotated | Self::KeyChanged | Self::IssuerChanged | Self::Expiring | Self::Expired | Self::UnknownKey)
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One baseline finding of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NameFinding {
    pub name: String,
    /// Where it answered (`ADDRESS:PORT`).
    pub address: String,
    pub kind: NameKind,
    pub severity: Severity,
    pub detail: String,
}

//! What kind of finding a row is (contract names; SARIF rule ids), what to do about it, and where it
//! sits in the OWASP API Security Top 10 (2023). One kind per row, from its status, its reason's
//! leaf and what the prober saw.

use serde::Serialize;

use super::reason::{Detail, Reason};
use super::{Claimable, Status};
use dangle_model::Verdict;

/// A finding's kind. `Ok` is a row that is no finding (owned, or nothing to judge).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Ok,
    /// A dangling target where a foreign server answers with a certificate: someone holds it now.
    TakeoverSuspected,
    /// An address no enumerated account holds (released, or never ours) in space we enumerate.
    DanglingAddress,
    /// A name in our own zone that does not exist, or has no address.
    MissingName,
    /// A cloud service name, bucket or resource id whose resource is gone.
    DeletedCloudResource,
    /// A delegation to provider name servers that no enumerated zone answers for.
    DanglingDelegation,
    /// A CNAME loop or a chain too deep to follow.
    BrokenChain,
    /// A target whose scope had a coverage gap: no verdict this run.
    Unverified,
    /// Outside every inventory, at a service known to allow takeovers.
    ExternalTakeoverProne,
    /// Outside every inventory.
    External,
}

/// The OWASP API Security Top 10 (2023) entries dangle maps findings to.
pub const API9: &str = "API9:2023 Improper Inventory Management";
pub const API8: &str = "API8:2023 Security Misconfiguration";

/// What every finding that points a name at something that is not ours calls for, after its own first step.
const AFTER: &str = "During a migration, lower the record's TTL first and wait out the old one before changing the target. \
Check Certificate Transparency (crt.sh) for certificates issued for the name since it stopped pointing at something of yours; revoke any that are not yours and monitor for new ones. \
Update clients, mTLS trust stores and allow-lists that still name it.";

impl Kind {
    pub const ALL: [Kind; 10] = [
        Self::Ok,
        Self::TakeoverSuspected,
        Self::DanglingAddress,
        Self::MissingName,
        Self::DeletedCloudResource,
        Self::DanglingDelegation,
        Self::BrokenChain,
        Self::Unverified,
        Self::ExternalTakeoverProne,
        Self::External,
    ];

    /// The kind of a row: its status, claimability and reason, the probe verdict and a claim check's
    /// answer (a name someone else registered is a suspected takeover, like a foreign answer).
    /// An "unclaimed" fingerprint of a service where names can be claimed makes an external row
    /// takeover-prone whatever the suffix tables said.
    /// A certificate issued for a dangling name since it dangles (`issued_since`) is a suspected
    /// takeover too.
    pub fn of(status: Status, claimable: Claimable, reason: &Reason, verdict: Verdict, claim: Option<super::ClaimEvidence>, issued_since: bool) -> Self {
        use super::fingerprints::Stance;
        use super::ClaimSource::Fingerprint;
        let claim_is = |c: dangle_model::Claim| claim.is_some_and(|e| e.claim == c);
        let unclaimed_prone = claim.is_some_and(|e| {
            e.claim == dangle_model::Claim::Available && matches!(e.source, Fingerprint(Stance::Vulnerable | Stance::EdgeCase))
        });
        let lame = claim.is_some_and(|e| e.claim == dangle_model::Claim::Available && e.source == super::ClaimSource::Delegation);
        match status {
            Status::Owned | Status::NoTarget => Self::Ok,
            _ if verdict == Verdict::Foreign => Self::TakeoverSuspected,
            Status::External if lame => Self::DanglingDelegation,
            Status::External if claim.is_some_and(|e| e.source == super::ClaimSource::Resolution) => match claim_is(dangle_model::Claim::Available) {
                true => Self::ExternalTakeoverProne,
                false => Self::BrokenChain,
            },
            Status::Dangling if claim_is(dangle_model::Claim::Taken) || issued_since => Self::TakeoverSuspected,
            Status::Unverified => Self::Unverified,
            Status::External if claimable == Claimable::Yes || unclaimed_prone => Self::ExternalTakeoverProne,
            Status::External => Self::External,
            Status::Dangling => match leaf(reason) {
                Some(Detail::Missing { .. } | Detail::NoAddress { .. }) => Self::MissingName,
                Some(Detail::Loop { .. } | Detail::TooDeep) => Self::BrokenChain,
                Some(Detail::Ns { .. }) => Self::DanglingDelegation,
                Some(Detail::Service { .. } | Detail::Bucket { .. } | Detail::Resource { .. }) => Self::DeletedCloudResource,
                _ => Self::DanglingAddress,
            },
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::TakeoverSuspected => "takeover-suspected",
            Self::DanglingAddress => "dangling-address",
            Self::MissingName => "missing-name",
            Self::DeletedCloudResource => "deleted-cloud-resource",
            Self::DanglingDelegation => "dangling-delegation",
            Self::BrokenChain => "broken-chain",
            Self::Unverified => "unverified",
            Self::ExternalTakeoverProne => "external-takeover-prone",
            Self::External => "external",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The stored code: the position in [`Kind::ALL`].
    pub fn code(self) -> i64 {
        Self::ALL.iter().position(|k| *k == self).unwrap_or(0) as i64
    }

    pub fn from_code(c: i64) -> Option<Self> {
        usize::try_from(c).ok().and_then(|i| Self::ALL.get(i).copied())
    }

    /// The kind of a row stored before kinds were (schema 4): from what the row holds, the reason's
    /// leaf read back from its first words where it tells.
    pub fn guess(status: Status, claimable: Claimable, verdict: Verdict, rtype: &dangle_model::RecordType, reason: &str) -> Self {
        let leaf = reason.rsplit("via ").next().unwrap_or(reason).split(": ").last().unwrap_or(reason);
        match status {
            Status::Dangling if verdict != Verdict::Foreign => {
                if reason.starts_with("CNAME loop") || reason.contains("too deep") {
                    Self::BrokenChain
                } else if *rtype == dangle_model::RecordType::Ns {
                    Self::DanglingDelegation
                } else if leaf.contains("does not exist in our zone") || leaf.contains("has no address") {
                    Self::MissingName
                } else if leaf.parse::<std::net::IpAddr>().is_ok() || reason.contains("released since") || reason.contains("declared range") {
                    Self::DanglingAddress
                } else {
                    Self::DeletedCloudResource
                }
            }
            _ => Self::of(status, claimable, &Reason::Held(0), verdict, None, false),
        }
    }

    /// A one-line title (SARIF `shortDescription`).
    pub fn title(self) -> &'static str {
        match self {
            Self::Ok => "Record points at something we own",
            Self::TakeoverSuspected => "Dangling record answered by a foreign server: possible takeover in progress",
            Self::DanglingAddress => "Record points at an address no enumerated account holds",
            Self::MissingName => "Record points at a name in our zone that does not exist",
            Self::DeletedCloudResource => "Record points at a cloud resource that no longer exists",
            Self::DanglingDelegation => "Delegation to name servers that host no such zone",
            Self::BrokenChain => "CNAME chain loops or is too deep to resolve",
            Self::Unverified => "Record could not be judged: its provider scope had a coverage gap",
            Self::ExternalTakeoverProne => "Record points outside every inventory, at a takeover-prone service",
            Self::External => "Record points outside every inventory",
        }
    }

    /// What to do about it, first step first.
    pub fn remediation(self) -> String {
        let first = match self {
            Self::Ok => return "Nothing to do.".to_string(),
            Self::TakeoverSuspected => {
                "Treat as an incident: remove the record now (or point it at a resource you hold), then find out who holds the target and what it served under your name."
            }
            Self::DanglingAddress => "Remove the record, or update it to an address you hold (re-acquire the address only if the provider can give back the same one).",
            Self::MissingName => "Remove the record, or recreate the name it points at in your zone.",
            Self::DeletedCloudResource => {
                "Remove or update the record; if the name must keep working, recreate the resource under your account before anyone else claims its name."
            }
            Self::DanglingDelegation => "Remove the NS delegation, or recreate the hosted zone and update the delegation to its name servers.",
            Self::BrokenChain => "Fix or remove the records of the chain so every name resolves to an address you hold.",
            Self::Unverified => {
                return "Fix the coverage gap (credentials, permissions, region) named in the report and scan again: until then this record's target cannot be judged.".to_string()
            }
            Self::ExternalTakeoverProne => "Confirm that the account at the service is yours; if it is not, or no longer needed, remove the record.",
            Self::External => return "Confirm that the target belongs to you or a supplier you trust; add it to the inventory (a static list) or remove the record.".to_string(),
        };
        format!("{first} {AFTER}")
    }

    /// Its OWASP API Security Top 10 (2023) entries: every finding is an inventory failure (API9);
    /// records that cannot resolve as published, or a takeover, are misconfigurations too (API8).
    pub fn owasp(self) -> &'static [&'static str] {
        match self {
            Self::Ok => &[],
            Self::MissingName | Self::BrokenChain | Self::DanglingDelegation | Self::TakeoverSuspected => &[API9, API8],
            _ => &[API9],
        }
    }

    /// Every finding kind (no `Ok`).
    pub fn findings() -> impl Iterator<Item = Kind> {
        Self::ALL.into_iter().filter(|k| *k != Self::Ok)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The reason a chain ends at: through `via` hops, delegations and verification notes.
fn leaf(reason: &Reason) -> Option<&Detail> {
    let mut r = reason;
    loop {
        match r {
            Reason::Detail(d) => match &**d {
                Detail::Via { inner, .. } | Detail::Delegated { inner, .. } | Detail::Verified { inner, .. } => r = inner,
                other => return Some(other),
            },
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_finding_kind_has_remediation_and_an_owasp_entry() {
        for k in Kind::findings() {
            assert!(k.remediation().len() > 40, "{k}");
            assert!(k.owasp().contains(&API9), "{k}");
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
        // The dangling kinds say the three things the seed asks: the record, the certificates, the clients.
        let r = Kind::DanglingAddress.remediation();
        assert!(r.contains("Remove the record") && r.contains("TTL") && r.contains("revoke") && r.contains("allow-lists"), "{r}");
    }

    #[test]
    fn the_kind_follows_the_status_the_leaf_and_the_probe() {
        let missing = Reason::detail(Detail::Missing { name: dangle_model::DnsName::parse("x.example.com").unwrap(), zone: dangle_model::DnsName::parse("example.com").unwrap(), gap: None });
        let via = Reason::detail(Detail::Via { name: dangle_model::DnsName::parse("y.example.com").unwrap(), inner: missing.clone() });
        assert_eq!(Kind::of(Status::Dangling, Claimable::No, &via, Verdict::NotProbed, None, false), Kind::MissingName);
        assert_eq!(Kind::of(Status::Dangling, Claimable::No, &Reason::Released(0), Verdict::NoAnswer, None, false), Kind::DanglingAddress);
        assert_eq!(Kind::of(Status::Dangling, Claimable::No, &Reason::Released(0), Verdict::Foreign, None, false), Kind::TakeoverSuspected);
        assert_eq!(Kind::of(Status::Unverified, Claimable::No, &missing, Verdict::NotProbed, None, false), Kind::Unverified);
        assert_eq!(Kind::of(Status::External, Claimable::Yes, &missing, Verdict::NotProbed, None, false), Kind::ExternalTakeoverProne);
        assert_eq!(Kind::of(Status::Owned, Claimable::No, &Reason::Held(0), Verdict::Foreign, None, false), Kind::Ok);
    }
}

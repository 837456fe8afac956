//! Certificate baselines (`[probe] baseline = true`, opt-in): owned rows are probed too,
//! and what each owned name answers with (its leaf's key and issuer, the CA names it asks client
//! certificates from, ALPN, expiry) is kept in the store. Against that baseline a run says:
//!
//! - a new key certified by our own CA (or pinned): `info`, "key rotated since run N";
//! - a new key from the same issuer, not ours by trust anchor or pin: `medium` (a renewal at a
//!   public CA looks like this; so does someone else with a certificate from the same CA);
//! - a new issuer, not ours by trust anchor or pin: `high`, "issuer changed since run N" (a hijack
//!   the inventory cannot see);
//! - a certificate expiring within `[probe] expiry_warn_days` (default 21): `medium` with its date;
//!   one already expired: `high`.
//!
//! A change is said once: the new key becomes the baseline. The baselines also feed the probes' key
//! continuity (the run's probes): a dangling target answering with a key our endpoints have shown is
//! `ours`.

use std::collections::HashMap;

use crate::probe::Verdict;
use crate::reconcile::Severity;
use crate::store::{Baseline, NameFinding, NameKind};


/// What an owned row's endpoint answered with: the input of the certificate baselines.
#[derive(Debug, Clone)]
pub struct Observed {
    /// The SNI sent (the record name).
    pub name: String,
    /// Where it answered.
    pub address: String,
    pub verdict: Verdict,
    pub leaf: crate::probe::CertInfo,
    pub alpn: Option<String>,
    pub ca_names: Option<Vec<String>>,
}

/// Keys our own endpoints have shown (their baselines), by SPKI SHA-256: the name and the run since.
pub type Known = std::collections::HashMap<String, (String, Option<i64>)>;

/// The keys the stored baselines hold, for key continuity.
pub fn known(baselines: &HashMap<String, Baseline>) -> Known {
    baselines.values().map(|b| (b.spki.clone(), (b.name.clone(), b.first_run))).collect()
}

/// Compares what owned names answered with (`observed`) against their `prior` baselines at
/// `started` (RFC 3339); returns the run's findings and the baselines of the names that answered, as
/// they stand after the run.
pub fn check(prior: &HashMap<String, Baseline>, observed: &[Observed], started: &str, warn_days: u32) -> (Vec<NameFinding>, Vec<Baseline>) {
    let mut by_name: std::collections::BTreeMap<&str, Vec<&Observed>> = std::collections::BTreeMap::new();
    for o in observed {
        by_name.entry(o.name.as_str()).or_default().push(o);
    }
    let mut findings = Vec::new();
    let mut next = Vec::new();
    let today = crate::time::days_of(started);
    for (name, seen) in by_name {
        // The answer that keeps the baseline if any does (several addresses may answer for a name).
        let before = prior.get(name);
        let o = before.and_then(|b| seen.iter().find(|o| o.leaf.spki_sha256 == b.spki)).unwrap_or(&seen[0]);
        let now = Baseline {
            name: name.to_string(),
            spki: o.leaf.spki_sha256.clone(),
            issuer: o.leaf.issuer.clone(),
            ca_names: o.ca_names.as_ref().map(|c| c.join("; ")).unwrap_or_default(),
            alpn: o.alpn.clone().unwrap_or_default(),
            not_after: o.leaf.not_after.clone(),
            first_run: before.and_then(|b| b.first_run),
            first_started: before.and_then(|b| b.first_started.clone()),
            changed_run: before.and_then(|b| b.changed_run),
        };
        let mut finding = |kind: NameKind, severity: Severity, detail: String| findings.push(NameFinding { name: name.to_string(), address: o.address.clone(), kind, severity, detail });
        let since = |b: &Baseline| b.changed_run.or(b.first_run).map(|r| format!(" since run {r}")).unwrap_or_default();
        let mut changed = false;
        if let Some(b) = before {
            let ours = o.verdict == Verdict::Ours;
            let key = short(&b.spki);
            if b.spki != now.spki && ours {
                finding(NameKind::KeyRotated, Severity::Info, format!("key rotated{}: {} → {}, certified by our own CA ({})", since(b), key, short(&now.spki), now.issuer));
                changed = true;
            } else if b.issuer != now.issuer && !ours {
                finding(
                    NameKind::IssuerChanged,
                    Severity::High,
                    format!("issuer changed{}: was {} (key {}), now {} (key {}), not certified by our CA: someone else may answer for this name", since(b), b.issuer, key, now.issuer, short(&now.spki)),
                );
                changed = true;
            } else if b.spki != now.spki && !ours {
                finding(
                    NameKind::KeyChanged,
                    Severity::Medium,
                    format!("key changed{}: {} → {}, same issuer ({}), not certified by our CA: a renewal, or someone with a certificate from that CA", since(b), key, short(&now.spki), now.issuer),
                );
                changed = true;
            } else if b.issuer != now.issuer {
                changed = true;
            }
        }
        // Expiry, every run while it holds.
        if let (Some(t), Some(end)) = (today, crate::time::days_of(&now.not_after)) {
            let left = end - t;
            if left < 0 {
                finding(NameKind::Expired, Severity::High, format!("the certificate expired on {} ({} days ago)", &now.not_after[..10.min(now.not_after.len())], -left));
            } else if left <= i64::from(warn_days) {
                finding(NameKind::Expiring, Severity::Medium, format!("the certificate expires on {} (in {left} days)", &now.not_after[..10.min(now.not_after.len())]));
            }
        }
        next.push(Baseline { changed_run: if changed { None } else { now.changed_run }, ..now });
    }
    // Names that did not answer this run keep their baselines as they are (not written again).
    next.sort_by(|a, b| a.name.cmp(&b.name));
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.name.cmp(&b.name)).then_with(|| a.kind.cmp(&b.kind)));
    (findings, next)
}

/// A key's SHA-256 as a person compares it: its first 16 hex digits.
fn short(spki: &str) -> String {
    format!("{}…", &spki[..16.min(spki.len())])
}

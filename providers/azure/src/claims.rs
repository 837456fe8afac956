//! Claim checks (`[signals] claim_checks`): can anyone register this name right now? The services'
//! own `checkNameAvailability` calls (a POST that reads and changes nothing; the custom role grants
//! exactly these actions), under the first subscription the provider reads, only for names a dangling
//! record points at.

use dangle_model::cloud::{APP_SERVICE, BLOB, CDN, FRONT_DOOR, STATIC_WEBSITE, TRAFFIC_MANAGER};
use dangle_model::{Claim, ClaimAnswer, ClaimQuery, Service};
use serde_json::{json, Value};

use crate::arm::Arm;

/// One service's check: the path under `/subscriptions/{id}/`, its api-version, the resource type
/// it names, and the RBAC action it needs.
pub struct Check {
    pub service: Service,
    pub path: &'static str,
    pub api_version: &'static str,
    pub resource_type: &'static str,
    pub action: &'static str,
}

/// Every check the provider makes (examples/azure-role.json grants each `action`).
pub const CHECKS: &[Check] = &[
    Check { service: APP_SERVICE, path: "providers/Microsoft.Web/checknameavailability", api_version: crate::api::WEB, resource_type: "Microsoft.Web/sites", action: "Microsoft.Web/checknameavailability/read" },
    Check { service: BLOB, path: "providers/Microsoft.Storage/checkNameAvailability", api_version: crate::api::STORAGE, resource_type: "Microsoft.Storage/storageAccounts", action: "Microsoft.Storage/checknameavailability/read" },
    Check { service: STATIC_WEBSITE, path: "providers/Microsoft.Storage/checkNameAvailability", api_version: crate::api::STORAGE, resource_type: "Microsoft.Storage/storageAccounts", action: "Microsoft.Storage/checknameavailability/read" },
    Check { service: TRAFFIC_MANAGER, path: "providers/Microsoft.Network/checkTrafficManagerNameAvailabilityV2", api_version: crate::api::TRAFFIC_MANAGER, resource_type: "Microsoft.Network/trafficManagerProfiles", action: "Microsoft.Network/checkTrafficManagerNameAvailabilityV2/action" },
    Check { service: CDN, path: "providers/Microsoft.Cdn/checkNameAvailability", api_version: crate::api::CDN, resource_type: "Microsoft.Cdn/Profiles/Endpoints", action: "Microsoft.Cdn/CheckNameAvailability/action" },
    // Front Door (classic), `NAME.azurefd.net`; its answer says `nameAvailability: Available | Unavailable`.
    Check {
        service: FRONT_DOOR,
        path: "providers/Microsoft.Network/checkFrontDoorNameAvailability",
        api_version: crate::api::FRONT_DOOR,
        resource_type: "Microsoft.Network/frontDoors",
        action: "Microsoft.Network/checkFrontDoorNameAvailability/action",
    },
];

/// Asks `service` (if it has a check) whether `name` is free, under subscription `sub`.
pub(crate) async fn check(arm: &Arm, sub: &str, q: &ClaimQuery) -> Option<ClaimAnswer> {
    let c = CHECKS.iter().find(|c| c.service == q.service)?;
    // Front Door's check is for classic names (`NAME.azurefd.net`); Standard/Premium endpoint names
    // carry a hash the service picks.
    if q.service == FRONT_DOOR && q.host.label_count() != 3 {
        return None;
    }
    let name = q.key.as_str();
    let path = format!("/subscriptions/{sub}/{}", c.path);
    Some(match arm.post_check(&path, c.api_version, &json!({ "name": name, "type": c.resource_type })).await {
        // Front Door's answer names it `nameAvailability` (a word), the others `nameAvailable` (a bool).
        Ok(v) => match v.get("nameAvailable").and_then(Value::as_bool).or_else(|| v.get("nameAvailability").and_then(Value::as_str).map(|a| a.eq_ignore_ascii_case("Available"))) {
            Some(true) => ClaimAnswer { claim: Claim::Available, detail: format!("{}: available", c.path.rsplit('/').next().unwrap_or(c.path)) },
            Some(false) => {
                let why = v.get("reason").and_then(Value::as_str).unwrap_or("taken");
                // A name refused as invalid is not someone else's: say so, change nothing.
                if why.eq_ignore_ascii_case("Invalid") {
                    ClaimAnswer { claim: Claim::Unknown, detail: format!("the service calls the name invalid: {}", v.get("message").and_then(Value::as_str).unwrap_or_default()) }
                } else {
                    ClaimAnswer { claim: Claim::Taken, detail: format!("{}: {why}", c.path.rsplit('/').next().unwrap_or(c.path)) }
                }
            }
            None => ClaimAnswer { claim: Claim::Unknown, detail: "the answer has no `nameAvailable` (or `nameAvailability`)".into() },
        },
        Err(e) => ClaimAnswer { claim: Claim::Unknown, detail: format!("{}: {e}", c.path) },
    })
}

//! What changed, from Azure's own events (`dangle react`): an Activity Log event (one record, an
//! export's `{"records": [...]}`, or an Event Grid event). Pure: JSON in, the subscription and the
//! resource types to read again out.

use dangle_model::events::{text, Change, Seen};
use dangle_model::{Part, Scope};
use serde_json::Value;

/// For the error about an event no provider type reads.
pub(crate) const SHAPES: &str = "an Azure Activity Log event (`operationName`, `records`)";

/// Every change `v` holds, if it is an event of Azure's.
pub(crate) fn read(v: &Value) -> Option<Result<Vec<Seen>, String>> {
    if let Some(records) = v.get("records").and_then(Value::as_array) {
        return Some(records.iter().map(activity).collect());
    }
    if v.get("operationName").is_some() {
        return Some(activity(v).map(|s| vec![s]));
    }
    v.get("data").filter(|d| d.get("operationName").is_some()).map(|data| activity(data).map(|s| vec![s]))
}

/// An Activity Log record: a resource deleted (or a DNS record set written) in a subscription. The
/// scope's parts are the resource type (lower case, no operation), which the provider's read plan knows.
fn activity(r: &Value) -> Result<Seen, String> {
    let op = r.get("operationName").and_then(|o| o.as_str().or_else(|| text(o, "value"))).ok_or("an Activity Log event without `operationName`")?;
    let status = r.get("status").and_then(|s| s.as_str().or_else(|| text(s, "value"))).or_else(|| text(r, "resultType"));
    if let Some(s) = status.filter(|s| !s.eq_ignore_ascii_case("Succeeded") && !s.eq_ignore_ascii_case("Success")) {
        return Ok(Seen::Ignored(format!("{op} is {s}, not succeeded: nothing changed yet")));
    }
    let lower = op.to_ascii_lowercase();
    // A record set written (a CNAME pointed somewhere new) can dangle as well as a resource deleted.
    let dns_write = (lower.starts_with("microsoft.network/dnszones/") || lower.starts_with("microsoft.network/privatednszones/")) && lower.ends_with("/write");
    if !lower.ends_with("/delete") && !dns_write {
        return Ok(Seen::Ignored(format!("{op} is not a delete: dangle reacts to deletions")));
    }
    let resource = text(r, "resourceId").or_else(|| text(r, "resourceUri")).ok_or("an Activity Log event without `resourceId`")?;
    let sub = resource
        .split('/')
        .collect::<Vec<_>>()
        .windows(2)
        .find(|w| w[0].eq_ignore_ascii_case("subscriptions"))
        .map(|w| w[1].to_ascii_lowercase())
        .ok_or_else(|| format!("`{}` names no subscription", dangle_model::excerpt(resource)))?;
    let kind = lower.trim_end_matches("/delete").trim_end_matches("/write").to_string();
    Ok(Seen::Change(Change {
        what: format!("{op} in subscription {sub} ({})", dangle_model::excerpt(resource)),
        scope: Scope { account: sub, region: None, services: vec![Part::named(kind)] },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(text: &str) -> Vec<Seen> {
        read(&serde_json::from_str(text).unwrap()).expect("an Azure event").unwrap()
    }

    #[test]
    fn activity_log_deletes_name_their_subscription() {
        let ev = r#"{"operationName":{"value":"Microsoft.Network/publicIPAddresses/delete"},"status":{"value":"Succeeded"},
            "resourceId":"/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/ip1"}"#;
        let Seen::Change(c) = seen(ev).remove(0) else { panic!("a change") };
        assert_eq!(c.scope.account.as_str(), "11111111-1111-1111-1111-111111111111");
        let started = r#"{"records":[{"operationName":"MICROSOFT.WEB/SITES/DELETE","resultType":"Start","resourceId":"/subscriptions/x/resourceGroups/rg/providers/Microsoft.Web/sites/a"}]}"#;
        assert!(matches!(&seen(started)[0], Seen::Ignored(w) if w.contains("Start")));
        assert!(read(&serde_json::json!({"eventName": "x"})).is_none(), "not an Azure event: another type may read it");
    }
}

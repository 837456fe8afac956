//! The change that takes values out of Route53 record sets (`dangle checklist`): one
//! `change-resource-record-sets` batch per hosted zone, each set named exactly as Route53 matches a
//! DELETE (from the spec the provider kept of it), deleted when every value goes, else upserted with
//! the values that stay.

use std::collections::{BTreeMap, HashSet};

use dangle_model::change::{value_text, Batch, Change, ChangeSet, Form, SetEdit};
use dangle_model::Location;
use serde_json::{json, Value};

/// The batches for `sets` (record sets this provider read); `what` names the targets.
pub(crate) fn changes(sets: &[SetEdit<'_>], what: &str) -> ChangeSet {
    let mut out = ChangeSet::new("route53", Form::Batch, "Route53");
    // (account, hosted zone id) → (zone, changes)
    let mut batches: BTreeMap<(String, String), (String, Vec<Value>)> = BTreeMap::new();
    for (i, set) in sets.iter().enumerate() {
        let (Some(spec), Some(zone_id)) = (set.spec.and_then(|s| serde_json::from_str::<Value>(s).ok()), set.location.and_then(hosted_zone)) else {
            out.by_hand.push(i);
            continue;
        };
        let change = match set.whole() {
            true => json!({ "Action": "DELETE", "ResourceRecordSet": spec }),
            false => json!({ "Action": "UPSERT", "ResourceRecordSet": without(spec, set) }),
        };
        batches.entry((set.account.to_string(), zone_id)).or_insert_with(|| (set.zone.to_string(), Vec::new())).1.push(change);
    }
    for ((account, zone_id), (zone, changes)) in batches {
        let file = format!("dangle-{zone_id}.json");
        out.items.push(Change::Batch(Batch {
            service: "Route53",
            zone_noun: "hosted zone",
            command: format!("aws route53 change-resource-record-sets --hosted-zone-id {zone_id} --change-batch file://{file}"),
            batch: json!({ "Comment": format!("dangle checklist: records that reach {what}"), "Changes": changes }),
            account,
            zone,
            hosted_zone_id: zone_id,
            file,
        }));
    }
    out
}

/// The hosted zone of a record set, from the location this provider gives its records
/// (`route53 hosted zone Z… (private: …)`).
fn hosted_zone(location: &Location) -> Option<String> {
    let Location::Place(p) = location else { return None };
    p.split("hosted zone ").nth(1)?.split_whitespace().next().map(str::to_string)
}

/// A set's spec without the values that go.
fn without(mut spec: Value, set: &SetEdit<'_>) -> Value {
    let going: HashSet<String> = set.going.iter().map(|t| value_text(t)).collect();
    if let Some(rr) = spec.get_mut("ResourceRecords").and_then(|v| v.as_array_mut()) {
        // A value as Route53 writes it (`10 mail.example.com.`): the host or address is its last word.
        let value = |v: &Value| {
            let v = v["Value"].as_str().unwrap_or_default();
            v.split_whitespace().last().unwrap_or(v).trim_end_matches('.').trim_matches('"').to_ascii_lowercase()
        };
        rr.retain(|v| !going.contains(&value(v)));
    }
    spec
}

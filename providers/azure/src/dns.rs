//! Azure DNS record sets (public zones, api-version 2018-05-01, listed by `…/recordsets`) as dangle
//! records: one record per record set, its targets from the typed record arrays, an alias record set's
//! target resource as [`Target::Resource`].

use std::sync::Arc;

use dangle_model::{DnsName, DnsRecord, RecordType, Target};
use serde_json::Value;

/// The record set's type from ARM's `type` (`Microsoft.Network/dnszones/CNAME`, `…/privateDnsZones/A`).
fn rtype(v: &Value) -> Option<RecordType> {
    let t = v.get("type")?.as_str()?;
    RecordType::from_mnemonic(t.rsplit('/').next()?)
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// Host names from `props[array][*][field]`.
fn hosts(props: &Value, array: &str, field: &str, out: &mut Vec<Target>) -> Result<(), String> {
    for item in props.get(array).and_then(Value::as_array).into_iter().flatten() {
        if let Some(h) = str_at(item, field) {
            out.push(Target::Host(DnsName::parse(h).map_err(|e| format!("{array}.{field} `{}`: {e}", dangle_model::excerpt(h)))?));
        }
    }
    Ok(())
}

fn ips(props: &Value, array: &str, field: &str, out: &mut Vec<Target>) -> Result<(), String> {
    for item in props.get(array).and_then(Value::as_array).into_iter().flatten() {
        if let Some(a) = str_at(item, field) {
            out.push(Target::Ip(a.parse().map_err(|_| format!("{array}.{field} `{}` is not an IP address", dangle_model::excerpt(a)))?));
        }
    }
    Ok(())
}

/// The name a record set's resource id stands for: `…/dnszones/example.com/A/www` → `www.example.com`
/// (`@` is the apex); `None` for any other resource.
fn record_set_name(id: &str) -> Option<DnsName> {
    let parts: Vec<&str> = id.split('/').collect();
    let at = parts.iter().position(|p| p.eq_ignore_ascii_case("dnszones"))?;
    let (zone, name) = match &parts[at + 1..] {
        [zone, _rtype, name] => (*zone, *name),
        _ => return None,
    };
    let zone = DnsName::parse(zone).ok()?;
    DnsName::parse_relative(name, &zone).ok()
}

/// One record set of `zone` (its ARM id in `location`, where a person finds it in the portal).
pub fn record(v: &Value, source: &Arc<str>, subscription: &Arc<str>, zone: &DnsName, private: bool) -> Result<Option<DnsRecord>, String> {
    let Some(rtype) = rtype(v) else { return Ok(None) };
    let props = v.get("properties").cloned().unwrap_or(Value::Null);
    let relative = str_at(v, "name").unwrap_or("@");
    let name = match str_at(&props, "fqdn") {
        Some(f) => DnsName::parse(f),
        None => DnsName::parse_relative(relative, zone),
    }
    .map_err(|e| format!("record set `{}`: {e}", dangle_model::excerpt(relative)))?;
    let mut targets = Vec::new();
    if let Some(id) = props.get("targetResource").and_then(|t| str_at(t, "id")).filter(|s| !s.is_empty()) {
        // An alias to another record set of a zone answers what that name answers: follow the name.
        targets.push(match record_set_name(id) {
            Some(name) => Target::Host(name),
            None => Target::Resource { id: id.to_string() },
        });
    }
    match rtype {
        RecordType::A => ips(&props, if private { "aRecords" } else { "ARecords" }, "ipv4Address", &mut targets)?,
        RecordType::Aaaa => ips(&props, if private { "aaaaRecords" } else { "AAAARecords" }, "ipv6Address", &mut targets)?,
        RecordType::Cname => {
            let key = if private { "cnameRecord" } else { "CNAMERecord" };
            if let Some(c) = props.get(key).and_then(|c| str_at(c, "cname")) {
                targets.push(Target::Host(DnsName::parse(c).map_err(|e| format!("CNAMERecord `{}`: {e}", dangle_model::excerpt(c)))?));
            }
        }
        RecordType::Ns => hosts(&props, "NSRecords", "nsdname", &mut targets)?,
        RecordType::Mx => hosts(&props, if private { "mxRecords" } else { "MXRecords" }, "exchange", &mut targets)?,
        RecordType::Srv => hosts(&props, if private { "srvRecords" } else { "SRVRecords" }, "target", &mut targets)?,
        RecordType::Ptr => hosts(&props, if private { "ptrRecords" } else { "PTRRecords" }, "ptrdname", &mut targets)?,
        _ => {}
    }
    let ttl = props.get("TTL").or_else(|| props.get("ttl")).and_then(Value::as_u64).unwrap_or(3600).min(u64::from(u32::MAX)) as u32;
    Ok(Some(DnsRecord {
        source: source.clone(),
        account: subscription.clone(),
        zone: zone.clone(),
        zone_private: private,
        name,
        rtype,
        ttl,
        set_id: None,
        targets: targets.into_iter().collect(),
        location: str_at(v, "id").map(|id| dangle_model::Location::Place(Arc::from(id))),
        spec: None,
    }))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_record_set_id_names_its_record() {
        let n = |id: &str| super::record_set_name(id).map(|n| n.as_str().to_string());
        let z = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/dnszones/example.com";
        assert_eq!(n(&format!("{z}/A/www")).as_deref(), Some("www.example.com"));
        assert_eq!(n(&format!("{z}/CNAME/@")).as_deref(), Some("example.com"));
        assert_eq!(n("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/ip"), None);
        assert_eq!(n(&format!("{z}/A")), None);
    }
}

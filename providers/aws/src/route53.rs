//! Route53: every hosted zone of an account (public and private, with VPC associations), every record
//! set with full pagination, alias targets and set identifiers; public zones are assets too, so that
//! delegations to their name servers are owned.

use std::sync::Arc;

use aws_sdk_route53::types::{ResourceRecordSet, RrType};
use dangle_model::{Asset, DnsName, DnsRecord, RecordType, Target, Targets};

use crate::limit::Pacer;

pub mod decode;
use crate::{describe, gap, nz, Account, Snapshot};

fn zone_id(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

/// The targets of one record set's values.
fn targets(rtype: &RecordType, rrs: &ResourceRecordSet) -> Targets {
    let mut out = Targets::new();
    if let Some(a) = rrs.alias_target() {
        if let Some(n) = decode::name(a.dns_name()) {
            out.push(Target::Alias { dns_name: n, zone_id: a.hosted_zone_id().to_string() });
        }
        return out;
    }
    for v in rrs.resource_records() {
        let value = v.value().trim();
        let t = decode::value_target(rtype, value);
        match t {
            Some(t) if !out.contains(&t) => out.push(t),
            Some(_) => {}
            None if rtype.has_targets() => tracing::warn!(record = rrs.name(), value, "unparseable record value skipped"),
            None => {}
        }
    }
    out
}

/// The record set as a `change-resource-record-sets` batch names it (the AWS CLI's JSON shape): every
/// field Route53 matches a DELETE against, so `dangle checklist` can write a change that applies as is.
pub(crate) fn spec(rrs: &ResourceRecordSet) -> serde_json::Value {
    use serde_json::{json, Map, Value};
    let mut m = Map::new();
    m.insert("Name".into(), json!(rrs.name()));
    m.insert("Type".into(), json!(rrs.r#type().as_str()));
    if let Some(v) = rrs.set_identifier() {
        m.insert("SetIdentifier".into(), json!(v));
    }
    if let Some(v) = rrs.weight() {
        m.insert("Weight".into(), json!(v));
    }
    if let Some(v) = rrs.region() {
        m.insert("Region".into(), json!(v.as_str()));
    }
    if let Some(g) = rrs.geo_location() {
        let mut geo = Map::new();
        for (k, v) in [("ContinentCode", g.continent_code()), ("CountryCode", g.country_code()), ("SubdivisionCode", g.subdivision_code())] {
            if let Some(v) = v {
                geo.insert(k.into(), json!(v));
            }
        }
        m.insert("GeoLocation".into(), Value::Object(geo));
    }
    if let Some(v) = rrs.failover() {
        m.insert("Failover".into(), json!(v.as_str()));
    }
    if let Some(v) = rrs.multi_value_answer() {
        m.insert("MultiValueAnswer".into(), json!(v));
    }
    if let Some(v) = rrs.ttl() {
        m.insert("TTL".into(), json!(v));
    }
    if !rrs.resource_records().is_empty() {
        m.insert("ResourceRecords".into(), rrs.resource_records().iter().map(|r| json!({ "Value": r.value() })).collect());
    }
    if let Some(a) = rrs.alias_target() {
        m.insert(
            "AliasTarget".into(),
            json!({ "HostedZoneId": a.hosted_zone_id(), "DNSName": a.dns_name(), "EvaluateTargetHealth": a.evaluate_target_health() }),
        );
    }
    if let Some(v) = rrs.health_check_id() {
        m.insert("HealthCheckId".into(), json!(v));
    }
    if let Some(v) = rrs.traffic_policy_instance_id() {
        m.insert("TrafficPolicyInstanceId".into(), json!(v));
    }
    if let Some(c) = rrs.cidr_routing_config() {
        m.insert("CidrRoutingConfig".into(), json!({ "CollectionId": c.collection_id(), "LocationName": c.location_name() }));
    }
    if let Some(g) = rrs.geo_proximity_location() {
        let mut geo = Map::new();
        if let Some(v) = g.aws_region() {
            geo.insert("AWSRegion".into(), json!(v));
        }
        if let Some(v) = g.local_zone_group() {
            geo.insert("LocalZoneGroup".into(), json!(v));
        }
        if let Some(c) = g.coordinates() {
            geo.insert("Coordinates".into(), json!({ "Latitude": c.latitude(), "Longitude": c.longitude() }));
        }
        if let Some(b) = g.bias() {
            geo.insert("Bias".into(), json!(b));
        }
        m.insert("GeoProximityLocation".into(), Value::Object(geo));
    }
    Value::Object(m)
}

/// What one account's Route53 enumeration shares between its steps.
struct Lister<'a> {
    source: &'a Arc<str>,
    account: &'a Account,
    account_id: Arc<str>,
    client: aws_sdk_route53::Client,
    pacer: Pacer,
}

pub(crate) async fn enumerate(source: &Arc<str>, account: &Account, per_second: u32) -> Snapshot {
    let l = Lister {
        source,
        account,
        account_id: Arc::from(account.id.as_str()),
        client: aws_sdk_route53::Client::new(&account.config),
        pacer: Pacer::per_second(per_second),
    };
    let mut snap = Snapshot::default();
    let zones = match l.zones().await {
        Ok(z) => z,
        Err(message) => {
            snap.gaps.push(gap(source, account, None, crate::parts::ROUTE53, message));
            return snap;
        }
    };
    for z in zones {
        let id = zone_id(z.id()).to_string();
        let Some(zone) = decode::name(z.name()) else {
            snap.gaps.push(gap(source, account, None, crate::parts::ROUTE53, format!("zone {id}: unparseable name `{}`", z.name())));
            continue;
        };
        let private = z.config().is_some_and(|c| c.private_zone());
        let Some(location) = l.zone_detail(&id, &zone, private, &mut snap).await else { continue };
        l.record_sets(&id, &zone, private, &location, &mut snap).await;
    }
    snap
}

impl Lister<'_> {
    /// Every hosted zone of the account, or what stopped the listing.
    async fn zones(&self) -> Result<Vec<aws_sdk_route53::types::HostedZone>, String> {
        let mut zones = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            self.pacer.wait().await;
            let out = self.client.list_hosted_zones().set_marker(marker.clone()).send().await.map_err(|e| format!("ListHostedZones: {}", describe(&e)))?;
            zones.extend(out.hosted_zones().iter().cloned());
            match nz(out.next_marker()) {
                Some(m) if out.is_truncated() => marker = Some(m.to_string()),
                _ => return Ok(zones),
            }
        }
    }

    /// A zone's detail: its location as reports show it (a private zone's VPCs) and, for a public
    /// zone, its asset (the zone and its name servers). `None` after a gap.
    async fn zone_detail(&self, id: &str, zone: &DnsName, private: bool, snap: &mut Snapshot) -> Option<Arc<str>> {
        self.pacer.wait().await;
        let detail = match self.client.get_hosted_zone().id(id).send().await {
            Ok(d) => d,
            Err(e) => {
                snap.gaps.push(gap(self.source, self.account, None, crate::parts::ROUTE53, format!("GetHostedZone {zone} ({id}): {}", describe(&e))));
                return None;
            }
        };
        if private {
            let vpcs: Vec<String> = detail
                .vpcs()
                .iter()
                .map(|v| format!("{} {}", v.vpc_id().unwrap_or("?"), v.vpc_region().map(|r| r.as_str()).unwrap_or("?")))
                .collect();
            return Some(Arc::from(format!("route53 hosted zone {id} (private: {})", vpcs.join(", "))));
        }
        let mut hosts = vec![zone.clone()];
        if let Some(ds) = detail.delegation_set() {
            hosts.extend(ds.name_servers().iter().filter_map(|n| DnsName::parse(n).ok()));
        }
        snap.assets.push(Asset {
            source: self.source.clone(),
            account: self.account_id.clone(),
            region: None,
            kind: dangle_model::cloud::kinds::aws::HOSTED_ZONE,
            id: format!("arn:aws:route53:::hostedzone/{id}").into(),
            ips: Default::default(),
            hosts,
        });
        Some(Arc::from(format!("route53 hosted zone {id}")))
    }

    /// Every record set of a zone, page by page; a failed or malformed page is a gap.
    async fn record_sets(&self, id: &str, zone: &DnsName, private: bool, location: &Arc<str>, snap: &mut Snapshot) {
        let (mut name, mut rtype, mut ident): (Option<String>, Option<RrType>, Option<String>) = (None, None, None);
        loop {
            self.pacer.wait().await;
            let page = self
                .client
                .list_resource_record_sets()
                .hosted_zone_id(id)
                .set_start_record_name(name.clone())
                .set_start_record_type(rtype.clone())
                .set_start_record_identifier(ident.clone())
                .send()
                .await;
            let out = match page {
                Ok(o) => o,
                Err(e) => {
                    snap.gaps.push(gap(self.source, self.account, None, crate::parts::ROUTE53, format!("ListResourceRecordSets {zone} ({id}): {}", describe(&e))));
                    return;
                }
            };
            for rrs in out.resource_record_sets() {
                self.record_set(rrs, zone, private, location, snap);
            }
            if !out.is_truncated() {
                return;
            }
            name = nz(out.next_record_name()).map(str::to_string);
            rtype = out.next_record_type().cloned();
            ident = nz(out.next_record_identifier()).map(str::to_string);
            if name.is_none() {
                snap.gaps.push(gap(
                    self.source,
                    self.account,
                    None,
                    crate::parts::ROUTE53,
                    format!("ListResourceRecordSets {zone} ({id}): truncated page without a next record"),
                ));
                return;
            }
        }
    }

    /// One record set, merged into the set before it when Route53 splits one name and type.
    fn record_set(&self, rrs: &ResourceRecordSet, zone: &DnsName, private: bool, location: &Arc<str>, snap: &mut Snapshot) {
        let Some(rname) = decode::name(rrs.name()) else {
            tracing::warn!(zone = %zone, name = rrs.name(), "unparseable record name skipped");
            return;
        };
        if !rname.is_within(zone) {
            return;
        }
        let rt: RecordType = rrs.r#type().as_str().parse().unwrap_or_else(|e| match e {});
        let targets = targets(&rt, rrs);
        let set_id = nz(rrs.set_identifier()).map(Arc::from);
        let account_id = &self.account_id;
        // The same name and type with the same (or no) set id twice would be one set: merge.
        if let Some(prev) = snap.records.iter_mut().rev().take(8).find(|r| {
            r.zone == *zone && r.zone_private == private && r.name == rname && r.rtype == rt && r.set_id == set_id && *r.account == **account_id
        }) {
            for t in targets {
                if !prev.targets.contains(&t) {
                    prev.targets.push(t);
                }
            }
            // The change names the whole set: its values from both parts.
            if let Some(mut merged) = prev.spec.as_deref().and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok()) {
                if let (Some(have), serde_json::Value::Object(more)) = (merged.get_mut("ResourceRecords").and_then(|v| v.as_array_mut()), spec(rrs)) {
                    have.extend(more.get("ResourceRecords").and_then(|v| v.as_array()).cloned().unwrap_or_default());
                }
                prev.spec = Some(Arc::from(merged.to_string()));
            }
            return;
        }
        snap.records.push(DnsRecord {
            source: self.source.clone(),
            account: account_id.clone(),
            zone: zone.clone(),
            zone_private: private,
            name: rname,
            rtype: rt,
            ttl: rrs.ttl().map(|t| t.clamp(0, u32::MAX as i64) as u32).unwrap_or(60),
            set_id,
            targets,
            location: Some(dangle_model::Location::Place(location.clone())),
            spec: Some(Arc::from(spec(rrs).to_string())),
        });
    }
}

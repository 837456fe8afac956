//! What changed, from a cloud's own event: an EventBridge event carrying a CloudTrail record, a bare
//! CloudTrail record or log file (`{"Records": [...]}`), or an Azure Activity Log event (one record, an
//! export's `{"records": [...]}`, or an Event Grid event). Pure: text in, scopes out.

use dangle_model::{Cloud, Scope};
use serde_json::Value;

/// One change to react to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub cloud: Cloud,
    pub scope: Scope,
    /// For people: `ec2 ReleaseAddress in 111111111111 us-east-1 (eipalloc-…)`.
    pub what: String,
}

/// What an event says, or why it says nothing to react to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Change(Change),
    /// Read, and nothing to do: a failed call, an event this build does not react to.
    Ignored(String),
}

/// Every change `text` holds, in order. An error when it is not JSON or not an event of a known shape.
pub fn parse(text: &str) -> Result<Vec<Seen>, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not a JSON event ({e})"))?;
    let mut out = Vec::new();
    if let Some(records) = v.get("Records").and_then(Value::as_array) {
        for r in records {
            out.push(cloudtrail(r, None, None)?);
        }
    } else if let Some(records) = v.get("records").and_then(Value::as_array) {
        for r in records {
            out.push(activity(r)?);
        }
    } else if v.get("source").and_then(Value::as_str).is_some_and(|s| s.starts_with("aws.")) {
        let detail = v.get("detail").ok_or("an EventBridge event without `detail`")?;
        out.push(cloudtrail(detail, v.get("account").and_then(Value::as_str), v.get("region").and_then(Value::as_str))?);
    } else if v.get("eventName").is_some() {
        out.push(cloudtrail(&v, None, None)?);
    } else if v.get("operationName").is_some() {
        out.push(activity(&v)?);
    } else if let Some(data) = v.get("data").filter(|d| d.get("operationName").is_some()) {
        out.push(activity(data)?);
    } else {
        return Err("neither an EventBridge / CloudTrail event (`detail`, `eventName`, `Records`) nor an Azure Activity Log event (`operationName`, `records`)".into());
    }
    Ok(out)
}

fn text<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// A CloudTrail record: the service, account and region it changed.
fn cloudtrail(r: &Value, account: Option<&str>, region: Option<&str>) -> Result<Seen, String> {
    let name = text(r, "eventName").ok_or("a CloudTrail record without `eventName`")?;
    let source = text(r, "eventSource").ok_or("a CloudTrail record without `eventSource`")?;
    if let Some(code) = text(r, "errorCode") {
        return Ok(Seen::Ignored(format!("{name} failed ({code}): nothing changed")));
    }
    let account = text(r, "recipientAccountId").or_else(|| r.get("userIdentity").and_then(|u| text(u, "accountId"))).or(account).ok_or("a CloudTrail record without an account")?;
    if !(account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())) {
        return Err(format!("`{}` is not an AWS account id", dangle_model::excerpt(account)));
    }
    let region = text(r, "awsRegion").or(region);
    let params = r.get("requestParameters").cloned().unwrap_or(Value::Null);
    let (services, regional): (&[&str], bool) = match (source, name) {
        ("ec2.amazonaws.com", "ReleaseAddress" | "DisassociateAddress" | "AssociateAddress" | "TerminateInstances" | "DeleteNetworkInterface") => (&["ec2"], true),
        ("elasticloadbalancing.amazonaws.com", "DeleteLoadBalancer") => {
            if params.get("loadBalancerArn").is_some() {
                (&["elbv2"], true)
            } else {
                (&["elb"], true)
            }
        }
        ("s3.amazonaws.com", "DeleteBucket") => (&["s3"], false),
        ("cloudfront.amazonaws.com", "DeleteDistribution") => (&["cloudfront"], false),
        ("route53.amazonaws.com", "ChangeResourceRecordSets" | "DeleteHostedZone") => (&["route53"], false),
        _ => return Ok(Seen::Ignored(format!("{name} from {source} is not an event dangle reacts to"))),
    };
    let region = match (regional, region) {
        (true, Some(r)) => Some(r.to_string()),
        (true, None) => return Err(format!("{name} without `awsRegion`: which region changed?")),
        (false, _) => None,
    };
    // The resource, for people: the first id-like request parameter.
    let id = ["allocationId", "publicIp", "associationId", "loadBalancerArn", "loadBalancerName", "bucketName", "id", "hostedZoneId", "networkInterfaceId"]
        .iter()
        .find_map(|k| text(&params, k).map(str::to_string))
        .or_else(|| params.get("instancesSet").and_then(|s| s.get("items")).and_then(|i| i.get(0)).and_then(|i| text(i, "instanceId")).map(str::to_string));
    let place = region.as_deref().map(|r| format!(" {r}")).unwrap_or_default();
    let what = format!("{} {name} in {account}{place}{}", services[0], id.map(|i| format!(" ({})", dangle_model::excerpt(&i))).unwrap_or_default());
    Ok(Seen::Change(Change {
        cloud: Cloud::Aws,
        scope: Scope { account: account.to_string(), region, services: services.iter().map(|s| s.to_string()).collect() },
        what,
    }))
}

/// An Activity Log record: a resource deleted (or a DNS record set written) in a subscription.
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
        cloud: Cloud::Azure,
        what: format!("{op} in subscription {sub} ({})", dangle_model::excerpt(resource)),
        scope: Scope { account: sub, region: None, services: vec![kind] },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(text: &str) -> Change {
        match parse(text).unwrap().remove(0) {
            Seen::Change(c) => c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn eventbridge_and_cloudtrail_events_name_their_scope() {
        let eb = r#"{"version":"0","detail-type":"AWS API Call via CloudTrail","source":"aws.ec2","account":"111111111111","region":"eu-west-1",
            "detail":{"eventSource":"ec2.amazonaws.com","eventName":"ReleaseAddress","awsRegion":"eu-west-1","recipientAccountId":"111111111111",
            "requestParameters":{"allocationId":"eipalloc-0abc"}}}"#;
        let c = change(eb);
        assert_eq!(c.scope, Scope { account: "111111111111".into(), region: Some("eu-west-1".into()), services: vec!["ec2".into()] });
        assert_eq!(c.what, "ec2 ReleaseAddress in 111111111111 eu-west-1 (eipalloc-0abc)");
        let lb = r#"{"eventSource":"elasticloadbalancing.amazonaws.com","eventName":"DeleteLoadBalancer","awsRegion":"us-east-1","recipientAccountId":"222222222222","requestParameters":{"loadBalancerName":"old"}}"#;
        assert_eq!(change(lb).scope.services, ["elb"]);
        let r53 = r#"{"Records":[{"eventSource":"route53.amazonaws.com","eventName":"ChangeResourceRecordSets","awsRegion":"us-east-1","recipientAccountId":"222222222222"},
            {"eventSource":"s3.amazonaws.com","eventName":"DeleteBucket","awsRegion":"us-east-1","recipientAccountId":"222222222222","errorCode":"AccessDenied"}]}"#;
        let seen = parse(r53).unwrap();
        assert!(matches!(&seen[0], Seen::Change(c) if c.scope.region.is_none() && c.scope.services == ["route53"]));
        assert!(matches!(&seen[1], Seen::Ignored(w) if w.contains("failed (AccessDenied)")));
        assert!(matches!(&parse(r#"{"eventSource":"iam.amazonaws.com","eventName":"CreateUser","recipientAccountId":"222222222222"}"#).unwrap()[0], Seen::Ignored(_)));
        assert!(parse(r#"{"eventSource":"ec2.amazonaws.com","eventName":"ReleaseAddress","recipientAccountId":"222222222222"}"#).unwrap_err().contains("awsRegion"));
        assert!(parse("[1, 2").unwrap_err().starts_with("not a JSON event"));
        assert!(parse(r#"{"hello":1}"#).unwrap_err().contains("neither"));
    }

    #[test]
    fn activity_log_deletes_name_their_subscription() {
        let ev = r#"{"operationName":{"value":"Microsoft.Network/publicIPAddresses/delete"},"status":{"value":"Succeeded"},
            "resourceId":"/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/ip1"}"#;
        let c = change(ev);
        assert_eq!((c.cloud, c.scope.account.as_str()), (Cloud::Azure, "11111111-1111-1111-1111-111111111111"));
        let started = r#"{"records":[{"operationName":"MICROSOFT.WEB/SITES/DELETE","resultType":"Start","resourceId":"/subscriptions/x/resourceGroups/rg/providers/Microsoft.Web/sites/a"}]}"#;
        assert!(matches!(&parse(started).unwrap()[0], Seen::Ignored(w) if w.contains("Start")));
    }
}

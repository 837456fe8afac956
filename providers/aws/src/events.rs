//! What changed, from AWS's own events (`dangle react`): an EventBridge event carrying a CloudTrail
//! record, a bare CloudTrail record, or a CloudTrail log file (`{"Records": [...]}`). Pure: JSON in,
//! the account, region and parts of this provider to read again out.

use dangle_model::events::{text, Change, Seen};
use dangle_model::{Part, Scope};
use serde_json::Value;

use crate::parts;

/// For the error about an event no provider type reads.
pub(crate) const SHAPES: &str = "an EventBridge / CloudTrail event (`detail`, `eventName`, `Records`)";

/// Every change `v` holds, if it is an event of AWS's.
pub(crate) fn read(v: &Value) -> Option<Result<Vec<Seen>, String>> {
    if let Some(records) = v.get("Records").and_then(Value::as_array) {
        return Some(records.iter().map(|r| cloudtrail(r, None, None)).collect());
    }
    if text(v, "source").is_some_and(|s| s.starts_with("aws.")) {
        let Some(detail) = v.get("detail") else { return Some(Err("an EventBridge event without `detail`".into())) };
        return Some(cloudtrail(detail, text(v, "account"), text(v, "region")).map(|s| vec![s]));
    }
    v.get("eventName").is_some().then(|| cloudtrail(v, None, None).map(|s| vec![s]))
}

/// What a call changed: the parts to read again, and whether they are regional.
fn changed(source: &str, name: &str, params: &Value) -> Option<(Part, bool)> {
    Some(match (source, name) {
        ("ec2.amazonaws.com", "ReleaseAddress" | "DisassociateAddress" | "AssociateAddress" | "TerminateInstances" | "DeleteNetworkInterface") => (parts::EC2, true),
        ("elasticloadbalancing.amazonaws.com", "DeleteLoadBalancer") if params.get("loadBalancerArn").is_some() => (parts::ELBV2, true),
        ("elasticloadbalancing.amazonaws.com", "DeleteLoadBalancer") => (parts::ELB, true),
        ("s3.amazonaws.com", "DeleteBucket") => (parts::S3, false),
        ("cloudfront.amazonaws.com", "DeleteDistribution") => (parts::CLOUDFRONT, false),
        ("route53.amazonaws.com", "ChangeResourceRecordSets" | "DeleteHostedZone") => (parts::ROUTE53, false),
        _ => return None,
    })
}

/// A CloudTrail record: the part, account and region it changed.
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
    let Some((part, regional)) = changed(source, name, &params) else {
        return Ok(Seen::Ignored(format!("{name} from {source} is not an event dangle reacts to")));
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
    let what = format!("{part} {name} in {account}{place}{}", id.map(|i| format!(" ({})", dangle_model::excerpt(&i))).unwrap_or_default());
    Ok(Seen::Change(Change { scope: Scope { account: account.to_string(), region, services: vec![part] }, what }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(text: &str) -> Vec<Seen> {
        read(&serde_json::from_str(text).unwrap()).expect("an AWS event").unwrap()
    }

    fn change(text: &str) -> Change {
        match seen(text).remove(0) {
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
        let seen = seen(r53);
        assert!(matches!(&seen[0], Seen::Change(c) if c.scope.region.is_none() && c.scope.services == ["route53"]));
        assert!(matches!(&seen[1], Seen::Ignored(w) if w.contains("failed (AccessDenied)")));
        assert!(matches!(&self::seen(r#"{"eventSource":"iam.amazonaws.com","eventName":"CreateUser","recipientAccountId":"222222222222"}"#)[0], Seen::Ignored(_)));
        let no_region = read(&serde_json::json!({"eventSource":"ec2.amazonaws.com","eventName":"ReleaseAddress","recipientAccountId":"222222222222"})).unwrap();
        assert!(no_region.unwrap_err().contains("awsRegion"));
        assert!(read(&serde_json::json!({"hello": 1})).is_none(), "not an AWS event: another type may read it");
    }
}

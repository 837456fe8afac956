//! AWS: `amazonaws.com` carries the service inside the name (load balancers, EC2 public DNS, S3), the
//! rest are suffixes.

use std::net::{IpAddr, Ipv4Addr};

use super::{ends_with_label, looks_like_region, Cloud, CloudTable, Key, RegionAt, Service, ServiceMatch, SuffixRule};
use crate::Claimable::{self, No, Unknown, Yes};
use crate::DnsName;

pub const ELB: Service = Service::new(Cloud::AWS, "Elastic Load Balancing");
pub const EC2: Service = Service::new(Cloud::AWS, "EC2");
pub const S3: Service = Service::keyed(Cloud::AWS, "S3", "S3 bucket");
pub const CLOUDFRONT: Service = Service::new(Cloud::AWS, "CloudFront");
pub const ROUTE53: Service = Service::new(Cloud::AWS, "Route53");
const BEANSTALK: Service = Service::new(Cloud::AWS, "Elastic Beanstalk");
const OTHER: Service = Service::new(Cloud::AWS, "AWS");

const fn rule(suffix: &'static str, name: &'static str, claimable: Claimable, enumerated: bool, region: RegionAt) -> SuffixRule {
    SuffixRule { suffix, service: Service::new(Cloud::AWS, name), claimable, enumerated, region, keyed: false }
}

/// The kinds of asset AWS providers make.
pub mod kinds {
    use super::S3;
    use crate::Claimable::{No, Unknown, Yes};
    use crate::{AssetKind, KindSpec};

    pub const ELASTIC_IP: AssetKind = AssetKind::of(&KindSpec::new("elastic_ip", Yes, Yes));
    pub const INSTANCE_PUBLIC_IP: AssetKind = AssetKind::of(&KindSpec::new("instance_public_ip", Yes, Yes));
    pub const NETWORK_INTERFACE: AssetKind = AssetKind::of(&KindSpec::new("network_interface", Yes, Yes));
    pub const LOAD_BALANCER: AssetKind = AssetKind::of(&KindSpec::new("load_balancer", Yes, No));
    pub const CLASSIC_LOAD_BALANCER: AssetKind = AssetKind::of(&KindSpec::new("classic_load_balancer", Yes, No));
    pub const S3_BUCKET: AssetKind = AssetKind::of(&KindSpec::keyed("s3_bucket", S3));
    pub const CLOUDFRONT: AssetKind = AssetKind::of(&KindSpec::new("cloudfront", Unknown, No));
    pub const HOSTED_ZONE: AssetKind = AssetKind::of(&KindSpec::zone("hosted_zone"));
    pub(super) const ALL: &[AssetKind] = &[ELASTIC_IP, INSTANCE_PUBLIC_IP, NETWORK_INTERFACE, LOAD_BALANCER, CLASSIC_LOAD_BALANCER, S3_BUCKET, CLOUDFRONT, HOSTED_ZONE];
}

pub(super) static TABLE: CloudTable = CloudTable {
    services: &[ELB, EC2, S3, CLOUDFRONT, ROUTE53],
    kinds: kinds::ALL,
    suffixes: &[
        SuffixRule { suffix: "cloudfront.net", service: CLOUDFRONT, claimable: Unknown, enumerated: true, region: RegionAt::None, keyed: false },
        SuffixRule { suffix: "elasticbeanstalk.com", service: BEANSTALK, claimable: Yes, enumerated: false, region: RegionAt::RegionLikeLabelBefore, keyed: false },
        rule("awsglobalaccelerator.com", "Global Accelerator", No, false, RegionAt::None),
        rule("awsapprunner.com", "App Runner", No, false, RegionAt::None),
        rule("amplifyapp.com", "Amplify", Unknown, false, RegionAt::None),
    ],
    classify: Some(amazonaws),
    dns: Some((ROUTE53, is_route53_server)),
    resource_account: None,
    resource_key: Some(|id| id.strip_prefix("arn:aws:s3:::").map(|b| (S3, b))),
    verification: &[],
    shared_wildcards: &["*.cloudfront.net", "*.s3.amazonaws.com", "*.elb.amazonaws.com"],
    // EC2 addresses go back to a pool anyone draws from; AMAZON is every service's space at once.
    ranges: &[("EC2", Yes), ("AMAZON", Unknown)],
    range_default: No,
};

fn is_route53_server(name: &DnsName) -> bool {
    let mut labels = name.labels();
    labels.next();
    labels.next().is_some_and(|l| l.starts_with("awsdns-")) && labels.next().is_some()
}

fn amazonaws(n: &str) -> Option<ServiceMatch> {
    if !(ends_with_label(n, "amazonaws.com") || ends_with_label(n, "amazonaws.com.cn")) {
        return None;
    }
    let labels: Vec<&str> = n.split('.').collect();
    let base = |service, claimable, enumerated| ServiceMatch { service, claimable, enumerated, key: Key::None, region: None, implied_ip: None };
    // Load balancers: name-id.region.elb.amazonaws.com (ALB, classic) and name-id.elb.region.amazonaws.com (NLB).
    if let Some(i) = labels.iter().position(|l| *l == "elb") {
        let mut m = base(ELB, No, true);
        m.region = if i >= 1 && looks_like_region(labels[i - 1]) {
            Some(labels[i - 1].to_string())
        } else {
            labels.get(i + 1).filter(|l| looks_like_region(l)).map(|l| l.to_string())
        };
        return Some(m);
    }
    // EC2 public DNS: ec2-54-1-2-3.compute-1.amazonaws.com / ec2-54-1-2-3.us-west-2.compute.amazonaws.com
    if labels.len() >= 3 && labels[0].starts_with("ec2-") && labels.iter().any(|l| l.starts_with("compute")) {
        let octets: Vec<u8> = labels[0][4..].split('-').filter_map(|o| o.parse().ok()).collect();
        let mut m = base(EC2, Yes, true);
        if octets.len() == 4 {
            m.implied_ip = Some(IpAddr::V4(Ipv4Addr::new(octets[0], octets[1], octets[2], octets[3])));
        }
        m.region = labels.get(1).filter(|l| looks_like_region(l)).map(|l| l.to_string()).or_else(|| Some("us-east-1".into()));
        return Some(m);
    }
    let is_s3 = |l: &str| l == "s3" || l.starts_with("s3-");
    if let Some(i) = labels.iter().position(|l| is_s3(l)) {
        let mut m = base(S3, Yes, true);
        let l = labels[i];
        m.key = if i > 0 {
            Key::Name(labels[..i].join("."))
        } else if l.starts_with("s3-website") {
            Key::RecordName
        } else {
            Key::None
        };
        let rest = l.strip_prefix("s3-website-").or_else(|| l.strip_prefix("s3-website.")).or_else(|| l.strip_prefix("s3-"));
        m.region = match rest {
            Some(r) if looks_like_region(r) => Some(r.to_string()),
            _ => labels[i + 1..].iter().find(|l| looks_like_region(l)).map(|l| l.to_string()),
        };
        return Some(m);
    }
    let mut m = base(OTHER, Unknown, false);
    m.region = labels.iter().find(|l| looks_like_region(l)).map(|l| l.to_string());
    Some(m)
}

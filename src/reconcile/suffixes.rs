//! Service hostnames: which cloud a name belongs to, whether dangle enumerates that service (and so may
//! call an unheld name `dangling`), whether a third party can claim the name, and the key to match
//! (an S3 bucket name, an address encoded in an EC2 public DNS name).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::OnceLock;

use dangle_model::DnsName;

use super::Claimable;

/// What a service hostname is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceMatch {
    pub cloud: &'static str,
    pub service: &'static str,
    pub claimable: Claimable,
    /// dangle enumerates this service's assets when the cloud is configured.
    pub judged: bool,
    /// The S3 bucket name, when the name carries one.
    pub bucket: Option<String>,
    pub region: Option<String>,
    /// EC2 public DNS names (`ec2-54-1-2-3.compute-1.amazonaws.com`) are the address they encode.
    pub implied_ip: Option<IpAddr>,
}

struct Rule {
    suffix: &'static str,
    cloud: &'static str,
    service: &'static str,
    claimable: Claimable,
    judged: bool,
    /// The region is the label right before the suffix (`x.us-east-1.cloudapp.azure.com`).
    region_before: bool,
}

const fn rule(suffix: &'static str, cloud: &'static str, service: &'static str, claimable: Claimable, judged: bool, region_before: bool) -> Rule {
    Rule { suffix, cloud, service, claimable, judged, region_before }
}

use Claimable::{No, Unknown, Yes};

/// Longest suffix first where they nest.
const RULES: &[Rule] = &[
    rule("cloudfront.net", "aws", "CloudFront", Unknown, true, false),
    rule("elasticbeanstalk.com", "aws", "Elastic Beanstalk", Yes, false, true),
    rule("awsglobalaccelerator.com", "aws", "Global Accelerator", No, false, false),
    rule("awsapprunner.com", "aws", "App Runner", No, false, false),
    rule("amplifyapp.com", "aws", "Amplify", Unknown, false, false),
    rule("azurewebsites.net", "azure", "App Service", Yes, true, false),
    rule("cloudapp.azure.com", "azure", "public IP DNS label", Yes, true, true),
    rule("cloudapp.net", "azure", "Cloud Services (classic)", Yes, false, false),
    rule("trafficmanager.net", "azure", "Traffic Manager", Yes, true, false),
    rule("blob.core.windows.net", "azure", "Storage (blob)", Yes, true, false),
    rule("web.core.windows.net", "azure", "Storage (static website)", Yes, true, false),
    rule("azureedge.net", "azure", "CDN", Yes, true, false),
    rule("azurefd.net", "azure", "Front Door", Yes, true, false),
    rule("azure-api.net", "azure", "API Management", Yes, false, false),
    rule("azurecontainer.io", "azure", "Container Instances", Yes, false, false),
    rule("azurestaticapps.net", "azure", "Static Web Apps", No, false, false),
    rule("database.windows.net", "azure", "SQL Database", Yes, false, false),
    rule("redis.cache.windows.net", "azure", "Cache for Redis", Yes, false, false),
    rule("search.windows.net", "azure", "Cognitive Search", Yes, false, false),
    rule("servicebus.windows.net", "azure", "Service Bus", Yes, false, false),
    rule("azurehdinsight.net", "azure", "HDInsight", Yes, false, false),
    rule("azurecr.io", "azure", "Container Registry", Yes, false, false),
    rule("storage.googleapis.com", "gcp", "Cloud Storage", Unknown, false, false),
    rule("appspot.com", "gcp", "App Engine", No, false, false),
    rule("ondigitalocean.app", "digitalocean", "App Platform", No, false, false),
];

fn ends_with_label(name: &str, suffix: &str) -> bool {
    name == suffix || (name.len() > suffix.len() && name.ends_with(suffix) && name.as_bytes()[name.len() - suffix.len() - 1] == b'.')
}

fn looks_like_region(label: &str) -> bool {
    label.contains('-') && label.bytes().last().is_some_and(|b| b.is_ascii_digit())
}

/// Classifies a hostname; `None` when it is no known cloud service name.
pub fn classify(name: &DnsName) -> Option<ServiceMatch> {
    let n = name.as_str();
    if ends_with_label(n, "amazonaws.com") || ends_with_label(n, "amazonaws.com.cn") {
        return Some(classify_amazonaws(n));
    }
    for r in RULES {
        if ends_with_label(n, r.suffix) && n.len() > r.suffix.len() {
            let head = &n[..n.len() - r.suffix.len() - 1];
            let region = if r.region_before {
                head.rsplit_once('.').map(|(_, l)| l).filter(|l| r.cloud == "azure" || looks_like_region(l)).map(str::to_string)
            } else {
                None
            };
            return Some(ServiceMatch {
                cloud: r.cloud,
                service: r.service,
                claimable: r.claimable,
                judged: r.judged,
                bucket: None,
                region,
                implied_ip: None,
            });
        }
    }
    None
}

fn classify_amazonaws(n: &str) -> ServiceMatch {
    let labels: Vec<&str> = n.split('.').collect();
    let base = |service, claimable, judged| ServiceMatch {
        cloud: "aws",
        service,
        claimable,
        judged,
        bucket: None,
        region: None,
        implied_ip: None,
    };
    // Load balancers: name-id.region.elb.amazonaws.com (ALB, classic) and name-id.elb.region.amazonaws.com (NLB).
    if let Some(i) = labels.iter().position(|l| *l == "elb") {
        let mut m = base("Elastic Load Balancing", No, true);
        m.region = if i >= 1 && looks_like_region(labels[i - 1]) {
            Some(labels[i - 1].to_string())
        } else {
            labels.get(i + 1).filter(|l| looks_like_region(l)).map(|l| l.to_string())
        };
        return m;
    }
    // EC2 public DNS: ec2-54-1-2-3.compute-1.amazonaws.com / ec2-54-1-2-3.us-west-2.compute.amazonaws.com
    if labels.len() >= 3 && labels[0].starts_with("ec2-") && labels.iter().any(|l| l.starts_with("compute")) {
        let octets: Vec<u8> = labels[0][4..].split('-').filter_map(|o| o.parse().ok()).collect();
        let mut m = base("EC2", Yes, true);
        if octets.len() == 4 {
            m.implied_ip = Some(IpAddr::V4(Ipv4Addr::new(octets[0], octets[1], octets[2], octets[3])));
        }
        m.region = labels.get(1).filter(|l| looks_like_region(l)).map(|l| l.to_string()).or_else(|| Some("us-east-1".into()));
        return m;
    }
    let is_s3 = |l: &str| l == "s3" || l.starts_with("s3-");
    if let Some(i) = labels.iter().position(|l| is_s3(l)) {
        let mut m = base("S3", Yes, true);
        if i > 0 {
            m.bucket = Some(labels[..i].join("."));
        }
        let l = labels[i];
        let rest = l.strip_prefix("s3-website-").or_else(|| l.strip_prefix("s3-website.")).or_else(|| l.strip_prefix("s3-"));
        m.region = match rest {
            Some(r) if looks_like_region(r) => Some(r.to_string()),
            _ => labels[i + 1..].iter().find(|l| looks_like_region(l)).map(|l| l.to_string()),
        };
        return m;
    }
    let mut m = base("AWS", Unknown, false);
    m.region = labels.iter().find(|l| looks_like_region(l)).map(|l| l.to_string());
    m
}

/// The S3 website endpoint without a bucket (`s3-website-us-east-1.amazonaws.com`), the target of a
/// Route53 alias whose bucket is the record's own name.
pub fn is_bare_s3_website(name: &DnsName) -> bool {
    let m = classify(name);
    matches!(m, Some(ServiceMatch { service: "S3", bucket: None, .. })) && name.as_str().contains("s3-website")
}

/// Name servers of hosted DNS services: a delegation to them is owned only if a zone we hold is there.
pub fn nameserver(name: &DnsName) -> Option<(&'static str, &'static str)> {
    let labels: Vec<&str> = name.labels().collect();
    let n = name.as_str();
    if labels.len() >= 3 && labels[1].starts_with("awsdns-") {
        return Some(("aws", "Route53"));
    }
    if labels.len() >= 3 && labels[1] == "azure-dns" {
        return Some(("azure", "Azure DNS"));
    }
    if ends_with_label(n, "googledomains.com") && labels[0].starts_with("ns-cloud") {
        return Some(("gcp", "Cloud DNS"));
    }
    if ends_with_label(n, "ns.cloudflare.com") {
        return Some(("cloudflare", "Cloudflare DNS"));
    }
    if matches!(n, "ns1.digitalocean.com" | "ns2.digitalocean.com" | "ns3.digitalocean.com") {
        return Some(("digitalocean", "DigitalOcean DNS"));
    }
    None
}

/// A service listed as vulnerable to takeover by can-i-take-over-xyz (CC BY 4.0), by CNAME suffix.
pub fn known_takeover(name: &DnsName) -> Option<&'static str> {
    static LIST: OnceLock<Vec<(String, String)>> = OnceLock::new();
    let list = LIST.get_or_init(|| {
        let raw: serde_json::Value =
            serde_json::from_str(include_str!("data/can-i-take-over-xyz-fingerprints.json")).unwrap_or(serde_json::Value::Null);
        let mut out = Vec::new();
        for e in raw.as_array().into_iter().flatten() {
            if e.get("vulnerable").and_then(|v| v.as_bool()) != Some(true) {
                continue;
            }
            let service = e.get("service").and_then(|s| s.as_str()).unwrap_or("?").to_string();
            for c in e.get("cname").and_then(|c| c.as_array()).into_iter().flatten() {
                if let Some(c) = c.as_str().and_then(|c| DnsName::parse(c).ok()) {
                    if c.label_count() >= 2 && c.as_str().parse::<IpAddr>().is_err() {
                        out.push((c.as_str().to_string(), service.clone()));
                    }
                }
            }
        }
        out
    });
    let n = name.as_str();
    list.iter().find(|(s, _)| ends_with_label(n, s) && n.len() > s.len()).map(|(_, svc)| svc.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(n: &str) -> ServiceMatch {
        classify(&DnsName::parse(n).unwrap()).unwrap_or_else(|| panic!("{n} not classified"))
    }

    #[test]
    fn s3_endpoint_forms_yield_the_bucket() {
        for (name, bucket, region) in [
            ("assets.example.com.s3.amazonaws.com", Some("assets.example.com"), None),
            ("media.s3.us-west-2.amazonaws.com", Some("media"), Some("us-west-2")),
            ("media.s3-us-west-2.amazonaws.com", Some("media"), Some("us-west-2")),
            ("www.example.com.s3-website-us-east-1.amazonaws.com", Some("www.example.com"), Some("us-east-1")),
            ("site.s3-website.eu-central-1.amazonaws.com", Some("site"), Some("eu-central-1")),
            ("b.s3.dualstack.ap-south-1.amazonaws.com", Some("b"), Some("ap-south-1")),
            ("s3-website-us-east-1.amazonaws.com", None, Some("us-east-1")),
        ] {
            let m = c(name);
            assert_eq!(m.service, "S3", "{name}");
            assert_eq!(m.bucket.as_deref(), bucket, "{name}");
            assert_eq!(m.region.as_deref(), region, "{name}");
            assert_eq!(m.claimable, Claimable::Yes);
        }
        assert!(is_bare_s3_website(&DnsName::parse("s3-website-us-east-1.amazonaws.com").unwrap()));
    }

    #[test]
    fn elb_forms_and_regions() {
        let alb = c("dualstack.my-alb-1234567890.us-east-1.elb.amazonaws.com");
        assert_eq!((alb.service, alb.region.as_deref(), alb.claimable), ("Elastic Load Balancing", Some("us-east-1"), Claimable::No));
        let nlb = c("my-nlb-0123456789abcdef.elb.eu-west-1.amazonaws.com");
        assert_eq!(nlb.region.as_deref(), Some("eu-west-1"));
    }

    #[test]
    fn ec2_public_dns_implies_its_address() {
        let m = c("ec2-54-214-1-2.us-west-2.compute.amazonaws.com");
        assert_eq!(m.implied_ip, Some("54.214.1.2".parse().unwrap()));
        assert_eq!(m.region.as_deref(), Some("us-west-2"));
    }

    #[test]
    fn azure_and_others() {
        assert_eq!(c("myapp.azurewebsites.net").claimable, Claimable::Yes);
        assert_eq!(c("vm1.eastus.cloudapp.azure.com").region.as_deref(), Some("eastus"));
        assert_eq!(c("app.us-east-1.elasticbeanstalk.com").region.as_deref(), Some("us-east-1"));
        assert!(!c("app.us-east-1.elasticbeanstalk.com").judged);
        assert!(classify(&DnsName::parse("www.example.org").unwrap()).is_none());
        assert!(classify(&DnsName::parse("azurewebsites.net").unwrap()).is_none());
    }

    #[test]
    fn name_servers() {
        let ns = |n: &str| nameserver(&DnsName::parse(n).unwrap());
        assert_eq!(ns("ns-1536.awsdns-00.co.uk"), Some(("aws", "Route53")));
        assert_eq!(ns("ns1-01.azure-dns.com"), Some(("azure", "Azure DNS")));
        assert_eq!(ns("ns-cloud-a1.googledomains.com"), Some(("gcp", "Cloud DNS")));
        assert_eq!(ns("ns1.example.net"), None);
    }

    #[test]
    fn takeover_list_is_loaded() {
        assert_eq!(known_takeover(&DnsName::parse("docs.readme.io").unwrap()), Some("Readme.io"));
        assert_eq!(known_takeover(&DnsName::parse("www.example.org").unwrap()), None);
    }
}

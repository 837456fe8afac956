//! The cloud tables held to their rules: ids, services of their own cloud, suffixes that nest longest
//! first, and each service name form classified as its cloud says.

use super::*;
use crate::Claimable;

fn c(n: &str) -> ServiceMatch {
    classify(&DnsName::parse(n).unwrap()).unwrap_or_else(|| panic!("{n} not classified"))
}

#[test]
fn ids_round_trip_and_nothing_else_parses() {
    for cloud in Cloud::ALL {
        assert_eq!(Cloud::parse(cloud.as_str()), Some(cloud));
        for s in cloud.table().all_services() {
            assert_eq!(s.cloud, cloud, "{cloud}'s table names {s}, a service of another cloud");
        }
        for k in cloud.table().kinds {
            assert_eq!(Clouds::builtin().kind(k.as_str()), *k, "{cloud}'s kind {k} is found by its name");
        }
    }
    assert_eq!(Cloud::parse("google"), None);
    assert_eq!(Cloud::parse("AWS"), None);
}

#[test]
fn every_rule_belongs_to_its_table_and_suffixes_nest_longest_first() {
    for cloud in Cloud::ALL {
        let t = cloud.table();
        for (i, r) in t.suffixes.iter().enumerate() {
            assert_eq!(r.service.cloud, cloud, "{} in {cloud}'s table", r.suffix);
            assert_eq!(r.keyed, r.service.key_noun.is_some(), "{}: keyed rules name their key", r.suffix);
            for later in &t.suffixes[i + 1..] {
                assert!(!ends_with_label(later.suffix, r.suffix), "{} nests in {} but comes after it", later.suffix, r.suffix);
            }
        }
        if let Some((s, _)) = t.dns {
            assert_eq!(s.cloud, cloud);
        }
    }
}

#[test]
fn s3_endpoint_forms_yield_the_bucket() {
    for (name, key, region) in [
        ("assets.example.com.s3.amazonaws.com", Key::Name("assets.example.com".into()), None),
        ("media.s3.us-west-2.amazonaws.com", Key::Name("media".into()), Some("us-west-2")),
        ("media.s3-us-west-2.amazonaws.com", Key::Name("media".into()), Some("us-west-2")),
        ("www.example.com.s3-website-us-east-1.amazonaws.com", Key::Name("www.example.com".into()), Some("us-east-1")),
        ("site.s3-website.eu-central-1.amazonaws.com", Key::Name("site".into()), Some("eu-central-1")),
        ("b.s3.dualstack.ap-south-1.amazonaws.com", Key::Name("b".into()), Some("ap-south-1")),
        ("s3-website-us-east-1.amazonaws.com", Key::RecordName, Some("us-east-1")),
        ("s3.amazonaws.com", Key::None, None),
    ] {
        let m = c(name);
        assert_eq!(m.service, S3, "{name}");
        assert_eq!(m.key, key, "{name}");
        assert_eq!(m.region.as_deref(), region, "{name}");
        assert_eq!(m.claimable, Claimable::Yes);
    }
}

#[test]
fn elb_forms_and_regions() {
    let alb = c("dualstack.my-alb-1234567890.us-east-1.elb.amazonaws.com");
    assert_eq!((alb.service, alb.region.as_deref(), alb.claimable), (ELB, Some("us-east-1"), Claimable::No));
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
    assert!(!c("app.us-east-1.elasticbeanstalk.com").enumerated);
    assert_eq!(c("acct.z13.web.core.windows.net").key, Key::Name("acct".into()));
    assert_eq!(c("acct.blob.core.windows.net").service, BLOB);
    assert!(classify(&DnsName::parse("www.example.org").unwrap()).is_none());
    assert!(classify(&DnsName::parse("azurewebsites.net").unwrap()).is_none());
}

#[test]
fn name_servers() {
    let ns = |n: &str| nameserver(&DnsName::parse(n).unwrap()).map(|s| (s.cloud, s.name));
    assert_eq!(ns("ns-1536.awsdns-00.co.uk"), Some((Cloud::AWS, "Route53")));
    assert_eq!(ns("ns1-01.azure-dns.com"), Some((Cloud::AZURE, "Azure DNS")));
    assert_eq!(ns("ns-cloud-a1.googledomains.com"), Some((Cloud::GCP, "Cloud DNS")));
    assert_eq!(ns("ns1.example.net"), None);
}

#[test]
fn shared_wildcards_come_from_the_tables() {
    assert!(is_shared_wildcard("*.cloudfront.net"));
    assert!(is_shared_wildcard("*.azurewebsites.net"));
    assert!(is_shared_wildcard("*.github.io"));
    assert!(!is_shared_wildcard("*.example.com"));
}

#[test]
fn range_claimability() {
    assert_eq!(Cloud::AWS.table().range_claimable("EC2"), Claimable::Yes);
    assert_eq!(Cloud::AWS.table().range_claimable("S3"), Claimable::No);
    assert_eq!(Cloud::AZURE.table().range_claimable("AzureCloud"), Claimable::Yes);
    assert_eq!(Cloud::CLOUDFLARE.table().range_claimable("x"), Claimable::No);
}

#[test]
fn resource_ids_name_their_account() {
    assert_eq!(resource_account("/subscriptions/abc/resourceGroups/rg/providers/x/y"), Some((Cloud::AZURE, "abc")));
    assert_eq!(resource_account("arn:aws:s3:::b"), None);
}

#[test]
fn azure_hashed_names_cannot_be_claimed_and_plain_ones_can() {
    for (name, service, claimable) in [
        ("ep-c2dxbbh7hxe3hyfd.z01.azurefd.net", "Front Door", Claimable::No),
        ("shop-a6gkh0f4hcfgd5cb.westeurope-01.azurewebsites.net", "App Service", Claimable::No),
        ("shop.azurewebsites.net", "App Service", Claimable::Yes),
        ("shop.scm.azurewebsites.net", "App Service", Claimable::Yes),
        ("classic.azurefd.net", "Front Door", Claimable::Yes),
        ("my-front-door.azurefd.net", "Front Door", Claimable::Yes),
    ] {
        let m = c(name);
        assert_eq!((m.service.name, m.claimable), (service, claimable), "{name}");
    }
}

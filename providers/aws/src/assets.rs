//! Owned AWS assets: per region Elastic IPs, instance and network-interface addresses (IPv4 and IPv6:
//! NAT gateways, Lambda, ECS and load-balancer interfaces among them), ELBv2 and classic load
//! balancers; per account S3 buckets and CloudFront distributions.

use std::net::IpAddr;
use std::sync::Arc;

use aws_config::Region;
use dangle_model::{Asset, AssetKind, DnsName, Ips};
use ipnet::IpNet;

use crate::{describe, gap, nz, Account, Snapshot};

#[derive(Debug, Clone, Copy)]
pub(crate) enum Regional {
    Ec2,
    Elbv2,
    Elb,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Global {
    S3,
    CloudFront,
}

/// Regions enabled for the account (opted in, or not needing it).
pub(crate) async fn enabled_regions(account: &Account) -> Result<Vec<String>, String> {
    let out = aws_sdk_ec2::Client::new(&account.config).describe_regions().all_regions(true).send().await.map_err(|e| describe(&e))?;
    let mut regions: Vec<String> = out
        .regions()
        .iter()
        .filter(|r| matches!(r.opt_in_status(), None | Some("opt-in-not-required") | Some("opted-in")))
        .filter_map(|r| nz(r.region_name()).map(str::to_string))
        .collect();
    regions.sort();
    Ok(regions)
}

fn ip(s: Option<&str>) -> Option<IpNet> {
    nz(s).and_then(|s| s.parse::<IpAddr>().ok()).map(IpNet::from)
}

fn push_ip(ips: &mut Ips, n: Option<IpNet>) {
    if let Some(n) = n {
        if !ips.contains(&n) {
            ips.push(n);
        }
    }
}

fn hosts(names: &[Option<&str>]) -> Vec<DnsName> {
    let mut out: Vec<DnsName> = Vec::new();
    for n in names.iter().filter_map(|n| nz(*n)) {
        if let Ok(d) = DnsName::parse(n) {
            if !out.contains(&d) {
                out.push(d);
            }
        }
    }
    out
}

struct Ctx<'a> {
    source: &'a Arc<str>,
    account_id: Arc<str>,
    region: Option<Arc<str>>,
}

impl Ctx<'_> {
    fn asset(&self, kind: AssetKind, id: String, ips: Ips, hosts: Vec<DnsName>) -> Option<Asset> {
        if ips.is_empty() && hosts.is_empty() {
            return None;
        }
        Some(Asset {
            source: self.source.clone(),
            account: self.account_id.clone(),
            region: self.region.clone(),
            kind,
            id: id.into(),
            ips,
            hosts,
        })
    }
}

/// Drains an SDK item paginator: each item to `$item`; the first error to `$err`, which ends the
/// listing (the items read before it stay).
macro_rules! drain {
    ($pages:expr, |$x:ident| $item:block, |$e:ident| $err:block) => {{
        let mut pages = $pages;
        loop {
            match pages.next().await {
                None => break,
                Some(Ok($x)) => $item,
                Some(Err($e)) => {
                    $err;
                    break;
                }
            }
        }
    }};
}

pub(crate) async fn regional(source: &Arc<str>, account: &Account, region: &str, what: Regional) -> Snapshot {
    let mut snap = Snapshot::default();
    let cx = Ctx { source, account_id: Arc::from(account.id.as_str()), region: Some(Arc::from(region)) };
    let mut gap_of = |snap: &mut Snapshot, service: dangle_model::Part, message: String| snap.gaps.push(gap(source, account, Some(region), service, message));
    match what {
        Regional::Ec2 => ec2(&cx, account, region, &mut snap, &mut gap_of).await,
        Regional::Elbv2 => elbv2(&cx, account, region, &mut snap, &mut gap_of).await,
        Regional::Elb => elb(&cx, account, region, &mut snap, &mut gap_of).await,
    }
    snap
}

/// Records a gap of one service in this account and region.
type GapOf<'g> = dyn FnMut(&mut Snapshot, dangle_model::Part, String) + Send + 'g;

/// Elastic IPs, instances (public v4 and v6 addresses, public DNS names) and network interfaces.
async fn ec2(cx: &Ctx<'_>, account: &Account, region: &str, snap: &mut Snapshot, gap_of: &mut GapOf<'_>) {
    let acct = &account.id;
    let conf = aws_sdk_ec2::config::Builder::from(&account.config).region(Region::new(region.to_string())).build();
    let client = aws_sdk_ec2::Client::from_conf(conf);
    match client.describe_addresses().send().await {
        Ok(out) => {
            for a in out.addresses() {
                let id = nz(a.allocation_id()).or(nz(a.public_ip())).unwrap_or("?");
                let mut ips = Ips::new();
                push_ip(&mut ips, ip(a.public_ip()));
                snap.assets.extend(cx.asset(dangle_model::cloud::kinds::aws::ELASTIC_IP, format!("arn:aws:ec2:{region}:{acct}:elastic-ip/{id}"), ips, vec![]));
            }
        }
        Err(e) => gap_of(snap, crate::parts::EC2, format!("DescribeAddresses: {}", describe(&e))),
    }
    drain!(client.describe_instances().into_paginator().items().send(), |reservation| {
        for i in reservation.instances() {
            let id = nz(i.instance_id()).unwrap_or("?");
            let mut ips = Ips::new();
            push_ip(&mut ips, ip(i.public_ip_address()));
            push_ip(&mut ips, ip(i.ipv6_address()));
            for n in i.network_interfaces() {
                push_ip(&mut ips, ip(n.association().and_then(|a| a.public_ip())));
                for v6 in n.ipv6_addresses() {
                    push_ip(&mut ips, ip(v6.ipv6_address()));
                }
            }
            let names = hosts(&[i.public_dns_name()]);
            snap.assets.extend(cx.asset(dangle_model::cloud::kinds::aws::INSTANCE_PUBLIC_IP, format!("arn:aws:ec2:{region}:{acct}:instance/{id}"), ips, names));
        }
    }, |e| {
        gap_of(snap, crate::parts::EC2, format!("DescribeInstances: {}", describe(&e)))
    });
    drain!(client.describe_network_interfaces().into_paginator().items().send(), |n| {
        let id = nz(n.network_interface_id()).unwrap_or("?");
        let mut ips = Ips::new();
        push_ip(&mut ips, ip(n.association().and_then(|a| a.public_ip())));
        for v6 in n.ipv6_addresses() {
            push_ip(&mut ips, ip(v6.ipv6_address()));
        }
        let names = hosts(&[n.association().and_then(|a| a.public_dns_name())]);
        snap.assets.extend(cx.asset(dangle_model::cloud::kinds::aws::NETWORK_INTERFACE, format!("arn:aws:ec2:{region}:{acct}:network-interface/{id}"), ips, names));
    }, |e| {
        gap_of(snap, crate::parts::EC2, format!("DescribeNetworkInterfaces: {}", describe(&e)))
    });
}

/// Application and network load balancers.
async fn elbv2(cx: &Ctx<'_>, account: &Account, region: &str, snap: &mut Snapshot, gap_of: &mut GapOf<'_>) {
    let acct = &account.id;
    let conf = aws_sdk_elasticloadbalancingv2::config::Builder::from(&account.config).region(Region::new(region.to_string())).build();
    let client = aws_sdk_elasticloadbalancingv2::Client::from_conf(conf);
    drain!(client.describe_load_balancers().into_paginator().items().send(), |lb| {
        let arn = nz(lb.load_balancer_arn()).map(str::to_string).unwrap_or_else(|| format!("arn:aws:elasticloadbalancing:{region}:{acct}:loadbalancer/?"));
        snap.assets.extend(cx.asset(dangle_model::cloud::kinds::aws::LOAD_BALANCER, arn, Ips::new(), hosts(&[lb.dns_name()])));
    }, |e| {
        gap_of(snap, crate::parts::ELBV2, format!("DescribeLoadBalancers: {}", describe(&e)))
    });
}

/// Classic load balancers.
async fn elb(cx: &Ctx<'_>, account: &Account, region: &str, snap: &mut Snapshot, gap_of: &mut GapOf<'_>) {
    let acct = &account.id;
    let conf = aws_sdk_elasticloadbalancing::config::Builder::from(&account.config).region(Region::new(region.to_string())).build();
    let client = aws_sdk_elasticloadbalancing::Client::from_conf(conf);
    drain!(client.describe_load_balancers().into_paginator().items().send(), |lb| {
        let name = nz(lb.load_balancer_name()).unwrap_or("?");
        let names = hosts(&[lb.dns_name(), lb.canonical_hosted_zone_name()]);
        snap.assets.extend(cx.asset(dangle_model::cloud::kinds::aws::CLASSIC_LOAD_BALANCER, format!("arn:aws:elasticloadbalancing:{region}:{acct}:loadbalancer/{name}"), Ips::new(), names));
    }, |e| {
        gap_of(snap, crate::parts::ELB, format!("DescribeLoadBalancers (classic): {}", describe(&e)))
    });
}

pub(crate) async fn global(source: &Arc<str>, account: &Account, what: Global, path_style: bool) -> Snapshot {
    let mut snap = Snapshot::default();
    let cx = Ctx { source, account_id: Arc::from(account.id.as_str()), region: None };
    match what {
        Global::S3 => {
            let conf = aws_sdk_s3::config::Builder::from(&account.config).force_path_style(path_style).build();
            let client = aws_sdk_s3::Client::from_conf(conf);
            let mut token: Option<String> = None;
            loop {
                match client.list_buckets().set_continuation_token(token.clone()).send().await {
                    Ok(out) => {
                        for b in out.buckets() {
                            let Some(name) = nz(b.name()) else { continue };
                            // Every endpoint form resolves to the bucket name; one is enough as a host.
                            let names = hosts(&[Some(&format!("{name}.s3.amazonaws.com"))]);
                            let mut asset = cx.asset(dangle_model::cloud::kinds::aws::S3_BUCKET, format!("arn:aws:s3:::{name}"), Ips::new(), names);
                            if let Some(a) = asset.as_mut() {
                                a.region = nz(b.bucket_region()).map(Arc::from);
                            }
                            snap.assets.extend(asset);
                        }
                        match nz(out.continuation_token()) {
                            Some(t) => token = Some(t.to_string()),
                            None => break,
                        }
                    }
                    Err(e) => {
                        snap.gaps.push(gap(source, account, None, crate::parts::S3, format!("ListBuckets: {}", describe(&e))));
                        break;
                    }
                }
            }
        }
        Global::CloudFront => {
            let client = aws_sdk_cloudfront::Client::new(&account.config);
            let mut marker: Option<String> = None;
            loop {
                match client.list_distributions().set_marker(marker.clone()).send().await {
                    Ok(out) => {
                        let Some(list) = out.distribution_list() else { break };
                        for d in list.items() {
                            let mut names: Vec<Option<&str>> = vec![Some(d.domain_name())];
                            if let Some(aliases) = d.aliases() {
                                names.extend(aliases.items().iter().map(|a| Some(a.as_str())));
                            }
                            snap.assets.extend(cx.asset(dangle_model::cloud::kinds::aws::CLOUDFRONT, d.arn().to_string(), Ips::new(), hosts(&names)));
                        }
                        match nz(list.next_marker()) {
                            Some(m) if list.is_truncated() => marker = Some(m.to_string()),
                            _ => break,
                        }
                    }
                    Err(e) => {
                        snap.gaps.push(gap(source, account, None, crate::parts::CLOUDFRONT, format!("ListDistributions: {}", describe(&e))));
                        break;
                    }
                }
            }
        }
    }
    snap
}

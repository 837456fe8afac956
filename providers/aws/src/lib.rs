//! dangle's AWS provider: Route53 records and every owned AWS asset (Elastic IPs, instance and
//! interface addresses, load balancers, S3 buckets, CloudFront distributions, hosted zones) across
//! accounts and regions, read-only, on the official aws-sdk-rust.
//!
//! ```no_run
//! # async fn run() -> Result<(), dangle_model::ProviderError> {
//! use dangle_aws::AwsSource;
//! let aws = AwsSource::builder("prod")
//!     .with_regions(["us-east-1", "eu-west-1"])
//!     .with_assume_roles(["arn:aws:iam::111111111111:role/dangle-readonly"])
//!     .build()
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! Every failure of one account, region or service becomes a [`CoverageGap`] for exactly that scope;
//! the records it could affect come out `unverified`, never `dangling`. The crate only calls the
//! List / Describe / Get operations in [`OPERATIONS`] (`examples/iam-policy.json` grants exactly these).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use dangle_model::cloud::{CLOUDFRONT, EC2, ELB, S3};
use dangle_model::{Asset, BoxFuture, Part, ClaimAnswer, ClaimQuery, Cloud, Coverage, CoverageGap, Description, DnsRecord, Hides, Inventory, Namespace, Provider, ProviderError};
use tokio::sync::Semaphore;

mod accounts;
mod assets;
mod change;
mod claims;
mod events;
mod limit;
mod route53;
mod settings;
#[cfg(feature = "testing")]
pub mod testing;

pub use accounts::Account;
pub use settings::AwsFactory;

/// Entry points for the fuzzers (`tests/fuzz`) and their corpus replay in the test suite.
pub mod fuzz {
    /// A Route53 record set as text (name, type, values): see `route53::decode::fuzz`.
    pub use crate::route53::decode::fuzz as route53_record;
}

/// Every AWS API operation this crate can call, as IAM actions. All of them read.
pub const OPERATIONS: &[&str] = &[
    "sts:GetCallerIdentity",
    "sts:AssumeRole",
    "organizations:ListAccounts",
    "ec2:DescribeRegions",
    "ec2:DescribeAddresses",
    "ec2:DescribeInstances",
    "ec2:DescribeNetworkInterfaces",
    "elasticloadbalancing:DescribeLoadBalancers",
    "s3:ListAllMyBuckets",
    // HeadBucket: a claim check of a bucket name a dangling record points at.
    "s3:ListBucket",
    "cloudfront:ListDistributions",
    "route53:ListHostedZones",
    "route53:GetHostedZone",
    "route53:ListResourceRecordSets",
];

/// How many (account, region, service) enumerations run at once across all accounts, by default
/// (`concurrency`). AWS throttles per account and region, so many accounts read side by side cost
/// them nothing; the bound is this machine's (sockets, and one response page in memory each).
pub const DEFAULT_CONCURRENCY: usize = 128;

/// How many of one account's enumerations run at once: a few of its services side by side, well
/// inside what AWS allows one account (EC2's describe calls refill at 20 a second per region).
pub const PER_ACCOUNT: usize = 8;

/// Configures an [`AwsSource`]: read the environment once, set what differs, then `build()`.
#[derive(Clone, Default)]
pub struct AwsSourceBuilder {
    name: String,
    regions: Option<Vec<String>>,
    profile: Option<String>,
    assume_roles: Vec<String>,
    organization_role: Option<String>,
    external_id: Option<String>,
    endpoint_url: Option<String>,
    credentials: Option<aws_credential_types::Credentials>,
    concurrency: Option<usize>,
    route53_per_second: Option<u32>,
    timeout: Option<Duration>,
}

impl fmt::Debug for AwsSourceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsSourceBuilder")
            .field("name", &self.name)
            .field("regions", &self.regions)
            .field("profile", &self.profile)
            .field("assume_roles", &self.assume_roles)
            .field("organization_role", &self.organization_role)
            .field("external_id", &self.external_id.as_ref().map(|_| "******"))
            .field("endpoint_url", &self.endpoint_url)
            .field("credentials", &self.credentials.as_ref().map(|_| "******"))
            .finish()
    }
}

impl AwsSourceBuilder {
    /// Regions to enumerate in every account (default: every region enabled for the account).
    pub fn with_regions<I: IntoIterator<Item = S>, S: Into<String>>(mut self, regions: I) -> Self {
        self.regions = Some(regions.into_iter().map(Into::into).collect());
        self
    }
    /// A named profile (SSO, credential_process, … as aws-config supports) instead of the default chain.
    pub fn with_profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }
    /// Roles to assume, one account each. Without any, the base credentials' own account is scanned.
    pub fn with_assume_roles<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        self.assume_roles = roles.into_iter().map(Into::into).collect();
        self
    }
    /// Discover every active account of the AWS Organization and assume this role name in each.
    pub fn with_organization_role(mut self, role_name: impl Into<String>) -> Self {
        self.organization_role = Some(role_name.into());
        self
    }
    pub fn with_external_id(mut self, id: impl Into<String>) -> Self {
        self.external_id = Some(id.into());
        self
    }
    /// Send every request to this endpoint (an emulator); S3 goes path-style.
    pub fn with_endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint_url = Some(url.into());
        self
    }
    /// Static base credentials instead of the default chain (tests, emulators).
    pub fn with_credentials(mut self, creds: aws_credential_types::Credentials) -> Self {
        self.credentials = Some(creds);
        self
    }
    /// Enumerations in flight at once across all accounts (default [`DEFAULT_CONCURRENCY`]); each
    /// account has at most [`PER_ACCOUNT`] of them.
    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.concurrency = Some(n.max(1));
        self
    }
    /// Route53 allows 5 requests per second per account; lower it if other tools share the budget.
    pub fn with_route53_rate(mut self, per_second: u32) -> Self {
        self.route53_per_second = Some(per_second.max(1));
        self
    }
    /// Per-attempt timeout of every API call (default 20 s).
    pub fn with_timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }

    /// Loads the base configuration (credentials are resolved lazily, on first use).
    pub async fn build(self) -> Result<AwsSource, ProviderError> {
        if let Some(rs) = &self.regions {
            if rs.is_empty() {
                return Err(ProviderError::Config { provider: self.name.clone(), message: "`regions` is empty".into() });
            }
        }
        let home = self.regions.as_ref().and_then(|r| r.first().cloned()).unwrap_or_else(|| "us-east-1".to_string());
        let timeout = self.timeout.unwrap_or(Duration::from_secs(20));
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(home))
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(5))
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_attempt_timeout(timeout)
                    .build(),
            );
        if let Some(p) = &self.profile {
            loader = loader.profile_name(p);
        }
        if let Some(u) = &self.endpoint_url {
            loader = loader.endpoint_url(u);
        }
        if let Some(c) = &self.credentials {
            loader = loader.credentials_provider(c.clone());
        }
        let base = loader.load().await;
        // No base credentials at all means the run cannot be done (exit 2); a role that cannot be
        // assumed later is only that account's gap.
        use aws_credential_types::provider::ProvideCredentials;
        match base.credentials_provider() {
            Some(p) => {
                p.provide_credentials().await.map_err(|e| ProviderError::Config {
                    provider: self.name.clone(),
                    message: format!("no AWS credentials: {}", chain(&e)),
                })?;
            }
            None => return Err(ProviderError::Config { provider: self.name.clone(), message: "no AWS credentials provider".into() }),
        }
        Ok(AwsSource { inner: Arc::new(Inner { cfg: self, base }) })
    }
}

struct Inner {
    cfg: AwsSourceBuilder,
    base: SdkConfig,
}

/// One enumeration of everything, shared by the record and the asset side.
#[derive(Debug, Clone, Default)]
struct Snapshot {
    records: Vec<DnsRecord>,
    assets: Vec<Asset>,
    gaps: Vec<CoverageGap>,
    covered: Vec<Coverage>,
}

impl Snapshot {
    /// Adds a part enumerated by one task.
    fn absorb(&mut self, part: Snapshot) {
        self.records.extend(part.records);
        self.assets.extend(part.assets);
        self.gaps.extend(part.gaps);
        self.covered.extend(part.covered);
    }
}

/// The AWS provider: Route53 records and everything owned, in one enumeration.
#[derive(Clone)]
pub struct AwsSource {
    inner: Arc<Inner>,
}

impl fmt::Debug for AwsSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsSource").field("cfg", &self.inner.cfg).finish_non_exhaustive()
    }
}

impl AwsSource {
    pub fn builder(name: impl Into<String>) -> AwsSourceBuilder {
        AwsSourceBuilder { name: name.into(), ..AwsSourceBuilder::default() }
    }

    fn name_arc(&self) -> Arc<str> {
        Arc::from(self.inner.cfg.name.as_str())
    }

    async fn snapshot(&self) -> Snapshot {
        let cfg = &self.inner.cfg;
        let source = self.name_arc();
        let mut snap = Snapshot::default();
        let accounts = accounts::discover(&self.inner.base, cfg, &source, &mut snap.gaps, None).await;
        let permits = Arc::new(Semaphore::new(cfg.concurrency.unwrap_or(DEFAULT_CONCURRENCY)));
        let rate = cfg.route53_per_second.unwrap_or(5);
        let mut tasks = tokio::task::JoinSet::new();
        for account in accounts {
            let account = Arc::new(account);
            let (source, permits, endpoint) = (source.clone(), permits.clone(), cfg.endpoint_url.clone());
            let regions = cfg.regions.clone();
            tasks.spawn(async move { enumerate_account(source, account, regions, permits, rate, endpoint.is_some()).await });
        }
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(part) => snap.absorb(part),
                Err(e) => snap.gaps.push(CoverageGap {
                    source: source.clone(),
                    account: Arc::from("?"),
                    region: None,
                    service: parts::ACCOUNT,
                    error: format!("enumeration task failed: {e}"),
                    hides: Hides::Account,
                }),
            }
        }
        // Deterministic output, whatever order the tasks finished in.
        snap.records.sort_by(|a, b| {
            (&a.account, &a.zone, a.zone_private, &a.name, &a.rtype, &a.set_id).cmp(&(&b.account, &b.zone, b.zone_private, &b.name, &b.rtype, &b.set_id))
        });
        snap.assets.sort_by(|a, b| (&a.account, &a.region, &a.kind, &a.id).cmp(&(&b.account, &b.region, &b.kind, &b.id)));
        snap.gaps.sort();
        snap.covered.sort();
        snap.covered.dedup();
        snap
    }
}

impl AwsSource {
    /// [`Provider::enumerate_scope`]: `None` when the account is not one this provider reads.
    async fn scoped(&self, scope: &dangle_model::Scope) -> Option<(Inventory, dangle_model::Replaces)> {
        let cfg = &self.inner.cfg;
        let source = self.name_arc();
        let mut gaps = Vec::new();
        let account = accounts::discover(&self.inner.base, cfg, &source, &mut gaps, Some(&scope.account)).await.into_iter().find(|a| a.id == scope.account)?;
        let mut snap = Snapshot::default();
        let mut kinds = Vec::new();
        let mut records = false;
        let region = scope.region.clone();
        for service in &scope.services {
            let part = match (service, region.as_deref()) {
                (s, _) if *s == parts::ROUTE53 => {
                    records = true;
                    kinds.push(dangle_model::cloud::kinds::aws::HOSTED_ZONE);
                    route53::enumerate(&source, &account, cfg.route53_per_second.unwrap_or(5)).await
                }
                (s, _) if *s == parts::S3 => {
                    kinds.push(dangle_model::cloud::kinds::aws::S3_BUCKET);
                    assets::global(&source, &account, assets::Global::S3, cfg.endpoint_url.is_some()).await
                }
                (s, _) if *s == parts::CLOUDFRONT => {
                    kinds.push(dangle_model::cloud::kinds::aws::CLOUDFRONT);
                    assets::global(&source, &account, assets::Global::CloudFront, cfg.endpoint_url.is_some()).await
                }
                (s, Some(r)) if *s == parts::EC2 => {
                    kinds.extend([dangle_model::cloud::kinds::aws::ELASTIC_IP, dangle_model::cloud::kinds::aws::INSTANCE_PUBLIC_IP, dangle_model::cloud::kinds::aws::NETWORK_INTERFACE]);
                    assets::regional(&source, &account, r, assets::Regional::Ec2).await
                }
                (s, Some(r)) if *s == parts::ELBV2 => {
                    kinds.push(dangle_model::cloud::kinds::aws::LOAD_BALANCER);
                    assets::regional(&source, &account, r, assets::Regional::Elbv2).await
                }
                (s, Some(r)) if *s == parts::ELB => {
                    kinds.push(dangle_model::cloud::kinds::aws::CLASSIC_LOAD_BALANCER);
                    assets::regional(&source, &account, r, assets::Regional::Elb).await
                }
                _ => continue,
            };
            snap.absorb(part);
        }
        // Regional services answer for their region only; global ones (no region) for every asset of theirs.
        let regional = scope.services.iter().any(|s| [parts::EC2, parts::ELBV2, parts::ELB].contains(s));
        let replaces = dangle_model::Replaces {
            account: Arc::from(account.id.as_str()),
            region: region.filter(|_| regional).map(|r| Arc::from(r.as_str())),
            records,
            kinds,
            services: scope.services.clone(),
        };
        snap.gaps.extend(gaps);
        Some((Inventory { records: snap.records, assets: snap.assets, covered: snap.covered, gaps: snap.gaps }, replaces))
    }
}

/// Everything of one account: global services once, regional ones per region, all under the bound.
async fn enumerate_account(
    source: Arc<str>,
    account: Arc<Account>,
    regions: Option<Vec<String>>,
    permits: Arc<Semaphore>,
    route53_rate: u32,
    path_style: bool,
) -> Snapshot {
    let mut snap = Snapshot::default();
    let regions = match regions {
        Some(r) => r,
        None => match assets::enabled_regions(&account).await {
            Ok(r) => r,
            Err(e) => {
                snap.gaps.push(gap(&source, &account, None, parts::REGIONS, e));
                return snap;
            }
        },
    };
    let mut tasks: tokio::task::JoinSet<Snapshot> = tokio::task::JoinSet::new();
    // The account's own bound first, then the run's: a task waiting for its account holds no permit
    // another account could use.
    let mine = Arc::new(Semaphore::new(PER_ACCOUNT));
    let bound = |mine: &Arc<Semaphore>, all: &Arc<Semaphore>| {
        let (mine, all) = (mine.clone(), all.clone());
        async move {
            let a = mine.acquire_owned().await.expect("semaphore never closes");
            let b = all.acquire_owned().await.expect("semaphore never closes");
            (a, b)
        }
    };
    {
        let (s, a, permit) = (source.clone(), account.clone(), bound(&mine, &permits));
        tasks.spawn(async move {
            let _permit = permit.await;
            route53::enumerate(&s, &a, route53_rate).await
        });
    }
    for service in [assets::Global::S3, assets::Global::CloudFront] {
        let (s, a, permit) = (source.clone(), account.clone(), bound(&mine, &permits));
        tasks.spawn(async move {
            let _permit = permit.await;
            assets::global(&s, &a, service, path_style).await
        });
    }
    for region in regions {
        for service in [assets::Regional::Ec2, assets::Regional::Elbv2, assets::Regional::Elb] {
            let (s, a, r, permit) = (source.clone(), account.clone(), region.clone(), bound(&mine, &permits));
            tasks.spawn(async move {
                let _permit = permit.await;
                assets::regional(&s, &a, &r, service).await
            });
        }
        snap.covered.push(Coverage {
            source: source.clone(),
            account: Arc::from(account.id.as_str()),
            region: Some(Arc::from(region.as_str())),
        });
    }
    while let Some(done) = tasks.join_next().await {
        match done {
            Ok(part) => snap.absorb(part),
            Err(e) => snap.gaps.push(gap(&source, &account, None, parts::ACCOUNT, format!("task failed: {e}"))),
        }
    }
    let regions = snap.covered.iter().filter(|c| *c.account == *account.id).count();
    tracing::info!(target: dangle_model::PROGRESS, source = &*source, account = account.id.as_str(), regions, "account read");
    snap
}

pub(crate) fn gap(source: &Arc<str>, account: &Account, region: Option<&str>, service: Part, error: impl fmt::Display) -> CoverageGap {
    CoverageGap { source: source.clone(), account: Arc::from(account.id.as_str()), region: region.map(Arc::from), hides: hides(&service), service, error: error.to_string() }
}

/// What the failure of one of this crate's services can hide. Load balancers and instances hold
/// addresses as well as names; buckets and distributions hold names only; Route53 holds the zones and
/// the delegations to its servers; a failed account or region discovery hides everything.
pub(crate) fn hides(part: &Part) -> Hides {
    use Namespace::*;
    let only: &[Namespace] = match part {
        p if *p == parts::EC2 => &[Addresses, Names(EC2)],
        p if *p == parts::ELBV2 || *p == parts::ELB => &[Addresses, Names(ELB)],
        p if *p == parts::S3 => &[Names(S3)],
        p if *p == parts::CLOUDFRONT => &[Names(CLOUDFRONT)],
        p if *p == parts::ROUTE53 => &[Zones, NameServers],
        _ => return Hides::Account,
    };
    Hides::only(only)
}

/// The parts of an account this provider reads, each a gap of its own when it fails; a change event
/// names the ones to read again.
pub mod parts {
    use dangle_model::Part;

    pub const STS: Part = Part::new("sts");
    pub const ORGANIZATIONS: Part = Part::new("organizations");
    pub const ACCOUNT: Part = Part::new("account");
    pub const REGIONS: Part = Part::new("regions");
    pub const ROUTE53: Part = Part::new("route53");
    pub const S3: Part = Part::new("s3");
    pub const CLOUDFRONT: Part = Part::new("cloudfront");
    pub const EC2: Part = Part::new("ec2");
    pub const ELBV2: Part = Part::new("elbv2");
    pub const ELB: Part = Part::new("elb");
}

/// What the AWS provider vouches for when it enumerates without gaps.
pub fn description() -> Description {
    use Namespace::*;
    Description { cloud: Some(Cloud::AWS), covers: vec![Addresses, Names(EC2), Names(ELB), Names(S3), Names(CLOUDFRONT), NameServers, Zones] }
}

/// The message of an SDK error: its code and message when the service said something, else the
/// transport failure, without request ids or secrets.
pub(crate) fn describe<E, R>(e: &aws_smithy_runtime_api::client::result::SdkError<E, R>) -> String
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
    R: fmt::Debug + 'static,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    match e {
        SdkError::ServiceError(s) => {
            let err = s.err();
            match (err.code(), err.message()) {
                (Some(c), Some(m)) => format!("{c}: {m}"),
                (Some(c), None) => c.to_string(),
                // No code: the response was not the protocol's (malformed); its sources say how.
                _ => format!("unreadable response: {}", chain(err)),
            }
        }
        SdkError::TimeoutError(_) => "timed out".into(),
        SdkError::DispatchFailure(d) => {
            if d.is_io() {
                "endpoint unreachable (I/O error)".into()
            } else if d.is_timeout() {
                "timed out connecting".into()
            } else if let Some(cause) = credentials_cause(e) {
                format!("cannot get credentials: {cause}")
            } else {
                format!("request not sent: {}", chain(e))
            }
        }
        other => chain(other),
    }
}

/// What STS said, when a call failed because its assumed-role credentials could not be loaded: the
/// SDK's own Display of that case ends in the `Debug` form of the whole error.
fn credentials_cause(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    use aws_sdk_sts::operation::assume_role::AssumeRoleError;
    let mut cur = Some(e);
    while let Some(x) = cur {
        if let Some(sdk) = x.downcast_ref::<aws_sdk_sts::error::SdkError<AssumeRoleError>>() {
            return Some(format!("AssumeRole: {}", describe(sdk)));
        }
        cur = x.source();
    }
    None
}

/// An error and its sources as one sentence chain, each message once (the model's renderer). The
/// SDK's `DisplayErrorContext` appends the `Debug` form of the whole error, which is no message for a
/// person.
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    dangle_model::errors::chain(e)
}

/// Empty strings from emulators (and some real APIs) mean "absent".
pub(crate) fn nz(s: Option<&str>) -> Option<&str> {
    s.filter(|s| !s.trim().is_empty())
}

impl Provider for AwsSource {
    fn name(&self) -> &str {
        &self.inner.cfg.name
    }
    fn describe(&self) -> Description {
        description()
    }
    fn enumerate(&self) -> BoxFuture<'_, Result<Inventory, ProviderError>> {
        Box::pin(async move {
            let s = self.snapshot().await;
            Ok(Inventory { records: s.records, assets: s.assets, covered: s.covered, gaps: s.gaps })
        })
    }
    /// One account's services of one region (or its global ones) again: `route53`, `s3`, `cloudfront`,
    /// `ec2`, `elbv2`, `elb` (a CloudTrail event's service; see `dangle react`).
    fn enumerate_scope<'a>(&'a self, scope: &'a dangle_model::Scope) -> Option<dangle_model::Scoped<'a>> {
        Some(Box::pin(async move { Ok(self.scoped(scope).await) }))
    }
    /// S3 bucket names, with the base identity's credentials (`claims`).
    fn check_names<'a>(&'a self, queries: &'a [ClaimQuery]) -> BoxFuture<'a, Vec<Option<ClaimAnswer>>> {
        Box::pin(async move {
            let conf = aws_sdk_s3::config::Builder::from(&self.inner.base).force_path_style(self.inner.cfg.endpoint_url.is_some()).build();
            let s3 = aws_sdk_s3::Client::from_conf(conf);
            use futures_util::StreamExt as _;
            // A few at a time, answers in query order.
            let s3 = &s3;
            let checks: Vec<_> = queries
                .iter()
                .map(|q| async move {
                    match q.service == S3 {
                        true => Some(claims::bucket(s3, &q.key).await),
                        false => None,
                    }
                })
                .collect();
            futures_util::stream::iter(checks).buffered(claims::IN_FLIGHT).collect::<Vec<_>>().await
        })
    }
}

//! The contract between dangle's providers and its engine.
//!
//! Providers (Route53, Azure DNS, zone files, static lists, …) implement one trait, [`Provider`]: one
//! enumeration returns one [`Inventory`] ([`DnsRecord`]s, [`Asset`]s, what was covered and which parts
//! failed, as [`CoverageGap`]s that say what they can hide), and the provider describes itself as typed
//! data ([`Description`]: its [`Cloud`] and the [`Namespace`]s it covers). The engine never sees an SDK
//! type, a raw string name or a service string; what it knows of each cloud is in [`cloud`].
//!
//! ```
//! use dangle_model::{DnsName, Target};
//! let t = Target::Host(DnsName::parse("App.Example.COM").unwrap());
//! assert_eq!(t.to_string(), "app.example.com");
//! ```
//!
//! Every provider runs [`conformance`] against itself: the files providers on every build, the cloud
//! providers against their emulators. [`registry`] is how a provider crate offers itself to the engine.

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;

use ipnet::IpNet;
use serde::Serialize;

pub mod change;
pub mod cloud;
pub mod conformance;
pub mod errors;
pub mod events;
pub mod input;
mod name;
pub mod registry;

pub use cloud::{Cloud, Clouds, Service};

pub use input::excerpt;

pub use name::{DnsName, NameError};
/// Re-exported so providers build [`Targets`] and [`Ips`] without depending on it themselves.
pub use ::smallvec;

/// The `tracing` target of a provider's progress events: one `info` event per account (or subscription)
/// read, with fields `source` (the provider's name) and `regions` (how many it covered). A scan at a
/// terminal shows them in its progress display; elsewhere they are ordinary log events.
pub const PROGRESS: &str = "dangle_progress";

/// CNAME and alias chains longer than this are not followed: the judge calls the record `unverified`,
/// the prober stops resolving.
pub const MAX_CHAIN: usize = 16;

/// A record's targets: one inline (the common case), more on the heap.
pub type Targets = smallvec::SmallVec<[Target; 1]>;
/// An asset's addresses: one inline (the common case), more on the heap.
pub type Ips = smallvec::SmallVec<[IpNet; 1]>;

/// A DNS record type. Unknown types are kept by name (`HTTPS`, `TYPE65`), never dropped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum RecordType {
    A,
    Aaaa,
    Cname,
    Ns,
    Mx,
    Srv,
    Txt,
    Soa,
    Caa,
    Ptr,
    Dname,
    /// Any other type, upper-case as written (`HTTPS`, `DS`, `TYPE65`).
    Other(Arc<str>),
}

impl RecordType {
    pub fn as_str(&self) -> &str {
        match self {
            Self::A => "A",
            Self::Aaaa => "AAAA",
            Self::Cname => "CNAME",
            Self::Ns => "NS",
            Self::Mx => "MX",
            Self::Srv => "SRV",
            Self::Txt => "TXT",
            Self::Soa => "SOA",
            Self::Caa => "CAA",
            Self::Ptr => "PTR",
            Self::Dname => "DNAME",
            Self::Other(s) => s,
        }
    }

    /// Types whose data points somewhere dangle judges.
    pub fn has_targets(&self) -> bool {
        matches!(self, Self::A | Self::Aaaa | Self::Cname | Self::Ns | Self::Mx | Self::Srv | Self::Dname)
    }
}

impl FromStr for RecordType {
    type Err = std::convert::Infallible;
    /// Lenient, for type names an API hands over: anything unknown is kept by name. A zone file's
    /// reader uses [`RecordType::from_mnemonic`], which refuses names that are not types.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::from_mnemonic(s).unwrap_or_else(|| Self::Other(s.to_ascii_uppercase().into())))
    }
}

impl PartialEq<&str> for RecordType {
    /// Whether the type is written `text` (in any case).
    fn eq(&self, text: &&str) -> bool {
        self.as_str().eq_ignore_ascii_case(text)
    }
}

impl From<&str> for RecordType {
    /// As [`FromStr`]: lenient, anything unknown kept by name.
    fn from(s: &str) -> Self {
        s.parse().unwrap_or_else(|e| match e {})
    }
}

/// IANA's registered type mnemonics with their numbers (RFC 1035, 3597 and the DNS parameters
/// registry), so `TYPE28` reads as `AAAA` and a misspelt `CNAEM` is no type at all.
const TYPE_NUMBERS: &[(&str, u16)] = &[
    ("A", 1), ("NS", 2), ("MD", 3), ("MF", 4), ("CNAME", 5), ("SOA", 6), ("MB", 7), ("MG", 8), ("MR", 9),
    ("NULL", 10), ("WKS", 11), ("PTR", 12), ("HINFO", 13), ("MINFO", 14), ("MX", 15), ("TXT", 16), ("RP", 17),
    ("AFSDB", 18), ("X25", 19), ("ISDN", 20), ("RT", 21), ("NSAP", 22), ("NSAP-PTR", 23), ("SIG", 24), ("KEY", 25),
    ("PX", 26), ("GPOS", 27), ("AAAA", 28), ("LOC", 29), ("NXT", 30), ("EID", 31), ("NIMLOC", 32), ("SRV", 33),
    ("ATMA", 34), ("NAPTR", 35), ("KX", 36), ("CERT", 37), ("A6", 38), ("DNAME", 39), ("SINK", 40), ("OPT", 41),
    ("APL", 42), ("DS", 43), ("SSHFP", 44), ("IPSECKEY", 45), ("RRSIG", 46), ("NSEC", 47), ("DNSKEY", 48),
    ("DHCID", 49), ("NSEC3", 50), ("NSEC3PARAM", 51), ("TLSA", 52), ("SMIMEA", 53), ("HIP", 55), ("NINFO", 56),
    ("RKEY", 57), ("TALINK", 58), ("CDS", 59), ("CDNSKEY", 60), ("OPENPGPKEY", 61), ("CSYNC", 62), ("ZONEMD", 63),
    ("SVCB", 64), ("HTTPS", 65), ("DSYNC", 66), ("SPF", 99), ("UINFO", 100), ("UID", 101), ("GID", 102),
    ("UNSPEC", 103), ("NID", 104), ("L32", 105), ("L64", 106), ("LP", 107), ("EUI48", 108), ("EUI64", 109),
    ("TKEY", 249), ("TSIG", 250), ("IXFR", 251), ("AXFR", 252), ("MAILB", 253), ("MAILA", 254), ("ANY", 255),
    ("URI", 256), ("CAA", 257), ("AVC", 258), ("DOA", 259), ("AMTRELAY", 260), ("RESINFO", 261), ("WALLET", 262),
    ("TA", 32768), ("DLV", 32769),
];

impl RecordType {
    /// A type as a zone file writes it: a registered mnemonic (any case) or the RFC 3597 generic
    /// `TYPEnnn`, which names the registered type where there is one (`TYPE1` is `A`). `None` for
    /// anything else: BIND refuses an unknown mnemonic, and so does dangle.
    pub fn from_mnemonic(s: &str) -> Option<Self> {
        // No upper-case copy: a zone of a million records asks this a million times.
        let digits = s.get(..4).filter(|p| p.eq_ignore_ascii_case("TYPE")).map(|_| &s[4..]);
        if let Some(n) = digits.filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())) {
            let n: u16 = n.parse().ok()?;
            return Some(match TYPE_NUMBERS.iter().find(|(_, v)| *v == n) {
                Some((name, _)) => Self::known(name),
                None => Self::Other(format!("TYPE{n}").into()),
            });
        }
        TYPE_NUMBERS.iter().find(|(name, _)| name.eq_ignore_ascii_case(s)).map(|(name, _)| Self::known(name))
    }

    fn known(name: &str) -> Self {
        match name {
            "A" => Self::A,
            "AAAA" => Self::Aaaa,
            "CNAME" => Self::Cname,
            "NS" => Self::Ns,
            "MX" => Self::Mx,
            "SRV" => Self::Srv,
            "TXT" => Self::Txt,
            "SOA" => Self::Soa,
            "CAA" => Self::Caa,
            "PTR" => Self::Ptr,
            "DNAME" => Self::Dname,
            other => Self::Other(other.into()),
        }
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RecordType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Can a third party obtain this target?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Claimable {
    Yes,
    No,
    Unknown,
}

impl Claimable {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Yes => "yes",
            Self::No => "no",
            Self::Unknown => "unknown",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Yes, Self::No, Self::Unknown].into_iter().find(|x| x.as_str() == s)
    }
}

impl fmt::Display for Claimable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The verdict of a probe (contract names): shared vocabulary of the prober, the store and the reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    NotProbed,
    NoAnswer,
    UnknownListener,
    Ours,
    Foreign,
    Shared,
}

impl Verdict {
    pub const ALL: [Verdict; 6] = [Self::NotProbed, Self::NoAnswer, Self::UnknownListener, Self::Ours, Self::Foreign, Self::Shared];

    /// The verdict of a contract name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotProbed => "not_probed",
            Self::NoAnswer => "no_answer",
            Self::UnknownListener => "unknown_listener",
            Self::Ours => "ours",
            Self::Foreign => "foreign",
            Self::Shared => "shared",
        }
    }

    /// How much a verdict says about a target reached at several addresses and ports: the highest
    /// rank speaks for the target. Something foreign anywhere is the alarm; a non-TLS listener is more
    /// suspicious than our own certificate; silence says least.
    pub fn rank(self) -> u8 {
        match self {
            Self::NotProbed => 0,
            Self::NoAnswer => 1,
            Self::Ours => 2,
            Self::UnknownListener => 3,
            Self::Shared => 4,
            Self::Foreign => 5,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a record points.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// A / AAAA data.
    Ip(IpAddr),
    /// CNAME, NS, MX, SRV, DNAME targets.
    Host(DnsName),
    /// A Route53 alias.
    Alias { dns_name: DnsName, zone_id: String },
    /// An Azure alias record set pointing at a resource id.
    Resource { id: String },
}

impl Serialize for Target {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for Target {
    /// The form used in reports and accepted by `checklist`: an address, a name, `alias:NAME`, or the id.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ip(ip) => write!(f, "{ip}"),
            Self::Host(name) => write!(f, "{name}"),
            Self::Alias { dns_name, .. } => write!(f, "alias:{dns_name}"),
            Self::Resource { id } => f.write_str(id),
        }
    }
}

/// One record set: every value of (zone, name, type, set id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DnsRecord {
    /// The provider label from the config (`name`), e.g. `prod-route53` or `zones`.
    pub source: Arc<str>,
    /// Cloud account / subscription id, or the file the record came from.
    pub account: Arc<str>,
    pub zone: DnsName,
    pub zone_private: bool,
    pub name: DnsName,
    pub rtype: RecordType,
    pub ttl: u32,
    /// Keeps weighted / latency / geo / failover sets with the same name apart (Route53 SetIdentifier).
    pub set_id: Option<Arc<str>>,
    pub targets: Targets,
    /// Where a person edits this record: a line of a zone file, a place in a provider's console.
    pub location: Option<Location>,
    /// The record set as its provider's change API names it, for `checklist` to write the exact
    /// change (Route53: the `ResourceRecordSet` of a `change-resource-record-sets` batch, as JSON).
    #[serde(skip)]
    pub spec: Option<Arc<str>>,
}

/// Where a person edits a record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Location {
    /// A line of a file (a zone file), shown `file:line`.
    Line { file: Arc<str>, line: u32 },
    /// A place in a provider's console or API, shown as it is: an Azure record set's resource id,
    /// `route53 hosted zone Z… (private: vpc-…)`.
    Place(Arc<str>),
}

impl Location {
    /// A location as [`fmt::Display`] writes it, read back: `Line` when `line` says it is one (and the
    /// text ends in `:N`), else a place.
    pub fn decode(text: &str, line: bool) -> Self {
        let at_line = line.then(|| text.rsplit_once(':')).flatten().and_then(|(f, n)| Some((f, n.parse::<u32>().ok()?)));
        match at_line {
            Some((file, line)) => Self::Line { file: Arc::from(file), line },
            None => Self::Place(Arc::from(text)),
        }
    }

    /// Whether this is a line of a file.
    pub fn is_line(&self) -> bool {
        matches!(self, Self::Line { .. })
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Line { file, line } => write!(f, "{file}:{line}"),
            Self::Place(p) => f.write_str(p),
        }
    }
}

impl PartialEq<&str> for Location {
    /// Whether the location is shown as `text`.
    fn eq(&self, text: &&str) -> bool {
        match self {
            Self::Line { file, line } => text.rsplit_once(':').is_some_and(|(f, n)| f == &**file && n.parse() == Ok(*line)),
            Self::Place(p) => &**p == *text,
        }
    }
}

impl Serialize for Location {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// What a kind of asset is, as the cloud table of the providers that make it declares it: its name
/// (snake case, the contract), and whether a third party can obtain what an asset of it held once it
/// is gone.
#[derive(Debug, PartialEq, Eq)]
pub struct KindSpec {
    pub name: &'static str,
    /// A released address went back to the provider's pool: anyone can be handed it.
    pub address: Claimable,
    /// A released name: a bucket or an app name can be registered again; a name with a random part
    /// (`my-alb-1234567890.…elb.amazonaws.com`, `d111111abcdef8.cloudfront.net`) cannot.
    pub name_claimable: Claimable,
    /// The keyed service whose namespace the asset's id names a key of (an S3 bucket, a storage account).
    pub keyed: Option<Service>,
    /// Its `hosts` are a DNS zone we hold and its name servers (NS delegations to them are owned).
    pub zone: bool,
}

impl KindSpec {
    pub const fn new(name: &'static str, address: Claimable, name_claimable: Claimable) -> Self {
        Self { name, address, name_claimable, keyed: None, zone: false }
    }
    /// A kind whose id names a key of `service`'s global namespace.
    pub const fn keyed(name: &'static str, service: Service) -> Self {
        Self { name, address: Claimable::Unknown, name_claimable: Claimable::Yes, keyed: Some(service), zone: false }
    }
    /// A DNS zone.
    pub const fn zone(name: &'static str) -> Self {
        Self { name, address: Claimable::Unknown, name_claimable: Claimable::Yes, keyed: None, zone: true }
    }
}

/// What kind of thing an [`Asset`] is: a kind a cloud table declares ([`cloud::kinds`], or a
/// provider's own table), [`AssetKind::STATIC`], or one this build does not know, kept by name.
/// Serialised, compared and ordered by name (`elastic_ip`).
#[derive(Clone)]
pub enum AssetKind {
    Known(&'static KindSpec),
    Other(Arc<str>),
}

impl AssetKind {
    /// Declared by the user in a static list (on-prem blocks, hosts outside any cloud API).
    pub const STATIC: AssetKind = AssetKind::of(&KindSpec::new("static", Claimable::Unknown, Claimable::Unknown));

    pub const fn of(spec: &'static KindSpec) -> Self {
        Self::Known(spec)
    }

    fn spec(&self) -> Option<&'static KindSpec> {
        match self {
            Self::Known(k) => Some(k),
            Self::Other(_) => None,
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Known(k) => k.name,
            Self::Other(s) => s,
        }
    }

    /// Kinds whose `hosts` are DNS zones we hold (their name servers make NS delegations owned).
    pub fn is_zone(&self) -> bool {
        self.spec().is_some_and(|k| k.zone)
    }

    /// Can a third party obtain an address that an asset of this kind held and no longer holds?
    pub fn released_address(&self) -> Claimable {
        self.spec().map(|k| k.address).unwrap_or(Claimable::Unknown)
    }

    /// The namespace key an asset of this kind holds: (the keyed service, the key), the key being the
    /// last segment of the id (`my.bucket` of `arn:aws:s3:::my.bucket`, `acct` of
    /// `/subscriptions/…/storageAccounts/acct`). Azure's blob and static-website names share one
    /// namespace: the storage account's.
    pub fn key<'i>(&self, id: &'i str) -> Option<(Service, &'i str)> {
        let service = self.spec()?.keyed?;
        Some((service, id.rsplit([':', '/']).next().unwrap_or(id)))
    }

    /// Can a third party obtain a name that an asset of this kind held and no longer holds?
    pub fn released_name(&self) -> Claimable {
        self.spec().map(|k| k.name_claimable).unwrap_or(Claimable::Unknown)
    }
}

impl PartialEq for AssetKind {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for AssetKind {}

impl std::hash::Hash for AssetKind {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.as_str().hash(h);
    }
}

impl PartialOrd for AssetKind {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for AssetKind {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl fmt::Debug for AssetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AssetKind {
    type Err = std::convert::Infallible;
    /// A kind of the built-in clouds' tables by name (`elastic_ip`, `Elastic-IP`), else kept by name.
    /// A provider's own kinds are found through a [`cloud::Clouds`] catalog that holds its cloud.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(cloud::Clouds::builtin_ref().kind(s))
    }
}

impl fmt::Display for AssetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for AssetKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// Something the organisation holds, with every address and name by which it is reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Asset {
    pub source: Arc<str>,
    pub account: Arc<str>,
    pub region: Option<Arc<str>>,
    pub kind: AssetKind,
    /// ARN, Azure resource id, or the id from a static list.
    pub id: Box<str>,
    /// Addresses; a single address is a host prefix (`/32`, `/128`), a static list may hold blocks.
    pub ips: Ips,
    /// Names: load balancer DNS names, bucket endpoints, CDN domains, a zone and its name servers.
    pub hosts: Vec<DnsName>,
}

/// A kind of target a provider's enumeration vouches for: an unheld target of a namespace that was
/// covered without gaps is `dangling`. Which names belong to a service is in the cloud's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Namespace {
    /// Addresses: the cloud's published ranges, and `[[ranges]]` that name the provider, its type or
    /// its cloud, in the regions covered.
    Addresses,
    /// Names of one service (for a keyed service, the keys of its namespace: S3 buckets).
    Names(Service),
    /// Delegations to the cloud's name servers: a zone there is held or anyone may create it.
    NameServers,
    /// The records of the zones the provider serves: a name missing there does not exist.
    Zones,
    /// Resource ids (Azure alias records), by account.
    Resources,
}

/// What a failure can hide: the whole account (credentials, region discovery), or some namespaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hides {
    Account,
    Only(Vec<Namespace>),
}

impl Hides {
    pub fn only(namespaces: &[Namespace]) -> Self {
        Self::Only(namespaces.to_vec())
    }
    /// Whether a target of `ns` could be hidden by this failure.
    pub fn covers(&self, ns: &Namespace) -> bool {
        match self {
            Self::Account => true,
            Self::Only(v) => v.contains(ns),
        }
    }
}

/// Something that was enumerated completely: the basis for calling an unowned target `dangling`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Coverage {
    pub source: Arc<str>,
    pub account: Arc<str>,
    /// `None`: every region of the account (or a source without regions).
    pub region: Option<Arc<str>>,
}

/// A part of a provider's reading that succeeds or fails on its own: an API or resource type (`ec2`,
/// `route53`, `network`), or what the whole account rests on (`sts`, `regions`, `subscription`). Its
/// gaps, change scopes and replacements name it; each provider declares its parts as constants
/// ([`Part::new`]) and the engine only compares them. A part read back from a store is [`Part::named`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Part(std::borrow::Cow<'static, str>);

impl Part {
    pub const fn new(name: &'static str) -> Self {
        Self(std::borrow::Cow::Borrowed(name))
    }

    /// A part by a name made at run time (read from a store, a stale shard's).
    pub fn named(name: impl Into<String>) -> Self {
        Self(std::borrow::Cow::Owned(name.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&str> for Part {
    fn from(name: &str) -> Self {
        Self::named(name)
    }
}

impl PartialEq<&str> for Part {
    fn eq(&self, name: &&str) -> bool {
        self.0 == *name
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Part {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

/// A part of the estate that failed to enumerate: records it could affect are `unverified`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct CoverageGap {
    pub source: Arc<str>,
    pub account: Arc<str>,
    pub region: Option<Arc<str>>,
    /// The part that failed (`route53`, `ec2`, …): for people, and for the scoped read that replaces it.
    pub service: Part,
    pub error: String,
    /// What the failure can hide, in `account` (and `region`, where set).
    #[serde(skip)]
    pub hides: Hides,
}

/// What one enumeration returned: partial results are data, not a crash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    pub records: Vec<DnsRecord>,
    pub assets: Vec<Asset>,
    pub covered: Vec<Coverage>,
    pub gaps: Vec<CoverageGap>,
}

/// What a provider is, as data: the engine judges by this, never by the provider's type or name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description {
    /// The cloud whose address space and service names it enumerates; `None` for a provider of its
    /// own space only (zone files, a static list).
    pub cloud: Option<Cloud>,
    /// The namespaces a gap-free enumeration vouches for, in the accounts and regions of `covered`.
    pub covers: Vec<Namespace>,
}

/// A provider failure that stops the run (bad input, bad config). Partial failures are [`CoverageGap`]s.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    #[error("provider `{provider}`: cannot read {}: {source}", path.display())]
    Io { provider: String, path: PathBuf, source: std::io::Error },
    #[error("{}:{line}: {message}", path.display())]
    Parse { path: PathBuf, line: usize, message: String },
    #[error("provider `{provider}`: {operation}: {message}")]
    Api { provider: String, operation: String, message: String },
    #[error("provider `{provider}`: {message}")]
    Config { provider: String, message: String },
}

/// A boxed future, so the trait stays object safe (`Box<dyn Provider>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A name a dangling record points at, to ask its service whether anyone can register it right now
/// (a claim check): the service and the key in its namespace (an S3 bucket's name, an App Service app's),
/// and the host the record points at (a provider may ask about some of a service's name forms only).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClaimQuery {
    pub service: Service,
    pub key: String,
    pub region: Option<String>,
    pub host: DnsName,
}

/// What a claim check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Claim {
    /// Nobody holds the name: anyone can create it now.
    Available,
    /// The name exists, and no enumerated account holds it: someone else does.
    Taken,
    /// The service did not say (an error, a refusal): nothing changes.
    Unknown,
}

/// A claim check's answer, with what the service said, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimAnswer {
    pub claim: Claim,
    pub detail: String,
}

/// One source of records and assets, read-only. Implement this, register a factory
/// ([`registry::Factory`]) and pass [`conformance`]: that is a provider.
pub trait Provider: Send + Sync {
    /// The provider label (config `name`), used as `source` on everything it returns.
    fn name(&self) -> &str;
    fn describe(&self) -> Description;
    /// Enumerates everything once. Each call enumerates afresh.
    fn enumerate(&self) -> BoxFuture<'_, Result<Inventory, ProviderError>>;
    /// Asks the services it can whether each name can be registered right now, through read-only
    /// availability checks (one answer per query, `None` for a service it does not check). The default
    /// checks nothing.
    fn check_names<'a>(&'a self, queries: &'a [ClaimQuery]) -> BoxFuture<'a, Vec<Option<ClaimAnswer>>> {
        Box::pin(async move { vec![None; queries.len()] })
    }
    /// Enumerates only `scope` (after a change event): what it found and which earlier items it
    /// replaces; `Ok(None)` when the scope's account is not one of this provider's. The default cannot
    /// narrow: `dangle react` then enumerates the whole provider again.
    fn enumerate_scope<'a>(&'a self, scope: &'a Scope) -> Option<Scoped<'a>> {
        let _ = scope;
        None
    }
}

/// A scoped enumeration ([`Provider::enumerate_scope`]): what it found and what that replaces, or
/// `None` when the scope is not the provider's.
pub type Scoped<'a> = BoxFuture<'a, Result<Option<(Inventory, Replaces)>, ProviderError>>;

/// A part of a provider's estate that changed (a CloudTrail or Activity Log event): one account, one
/// region (`None`: the account's global services, or every region), some of the provider's parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub account: String,
    pub region: Option<String>,
    pub services: Vec<Part>,
}

/// Which earlier items a scoped enumeration stands in for: the provider's records in `account` (when
/// `records`), its assets there of `kinds` (in `region`, when set), its gaps there of `services`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaces {
    pub account: Arc<str>,
    pub region: Option<Arc<str>>,
    pub records: bool,
    pub kinds: Vec<AssetKind>,
    pub services: Vec<Part>,
}

/// `192.0.2.1`, `2001:db8::/32`, `198.51.100.0/24`; a block with host bits set is refused, since it is
/// almost always a typo for a different block.
pub fn parse_ip_or_cidr(text: &str) -> Result<IpNet, String> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    let net: IpNet = text.parse().map_err(|_| format!("`{}` is neither an IP address nor a CIDR block", excerpt(text)))?;
    if net.addr() != net.network() {
        return Err(format!("`{}` has host bits set; did you mean {}?", excerpt(text), net.trunc()));
    }
    Ok(net)
}

/// An IP as a host prefix (`/32` or `/128`).
pub fn host_net(ip: IpAddr) -> IpNet {
    IpNet::from(ip)
}

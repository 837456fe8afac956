//! dangle providers backed by files: RFC 1035 zone files ([`ZoneFileSource`], config `type = "zonefile"`)
//! and a static list of owned assets ([`StaticListSource`], `type = "static"`) for what no cloud API
//! reports — on-prem blocks, colo hosts, a partner's endpoint you contractually hold. Each is a
//! [`Provider`] with its [`Factory`] ([`ZoneFileFactory`], [`StaticListFactory`]).
//!
//! ```no_run
//! use dangle_files::ZoneFileSource;
//! let zones = ZoneFileSource::new("zones", "zones/example.com.zone", "zones/example.com.zone", None);
//! ```

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;

use dangle_model::registry::{self, Configured, Context, Factory, SettingsError};
use dangle_model::{
    excerpt, parse_ip_or_cidr, Asset, AssetKind, BoxFuture, Coverage, Description, DnsName, Inventory, Namespace, Provider, ProviderError,
};
use serde::Deserialize;

mod zone;

pub use zone::parse_ttl;

/// Entry points for the fuzzers (`tests/fuzz`) and their corpus replay: each parses untrusted input
/// the way a scan does, from memory, and must return (an error or records), never panic or hang.
pub mod fuzz {
    use std::path::Path;

    use dangle_model::DnsName;

    /// A zone file's text, as `example.com.zone` with origin `example.com`.
    pub fn zone(data: &[u8]) {
        let Ok(text) = std::str::from_utf8(data) else { return };
        let origin = DnsName::parse("example.com").ok();
        let r = super::zone::ZoneReader {
            source: "fuzz".into(),
            display_path: Path::new("example.com.zone"),
            disk_path: Path::new("/nonexistent/dangle-fuzz/example.com.zone"),
            origin,
            include_roots: &[],
        };
        if let Ok((_, records)) = r.parse(text, 0) {
            for rec in records {
                // What reports do with every record: its names print, and parse back to themselves.
                assert_eq!(DnsName::parse(rec.name.as_str()).ok().as_ref(), Some(&rec.name), "{}", rec.name);
                assert!(!rec.name.as_str().chars().any(char::is_control));
            }
        }
    }

    /// A static list's bytes.
    pub fn static_list(data: &[u8]) {
        let src = super::StaticListSource::new("fuzz", "owned.csv", "/nonexistent/owned.csv");
        let _ = src.parse(data);
    }
}

/// Records from one zone file. The file's path (as written in the config) is the record's `account`,
/// and `location` points at the line, so a report says exactly where to edit.
#[derive(Debug, Clone)]
pub struct ZoneFileSource {
    name: Arc<str>,
    display_path: PathBuf,
    disk_path: PathBuf,
    origin: Option<DnsName>,
    include_roots: Vec<PathBuf>,
}

impl ZoneFileSource {
    /// `display_path` is shown in reports; `disk_path` is read (the config's path resolved against the
    /// config file's folder). `origin` defaults to a leading `$ORIGIN` or the file name.
    pub fn new(name: &str, display_path: impl Into<PathBuf>, disk_path: impl Into<PathBuf>, origin: Option<DnsName>) -> Self {
        Self { name: Arc::from(name), display_path: display_path.into(), disk_path: disk_path.into(), origin, include_roots: Vec::new() }
    }

    /// Folders `$INCLUDE` may also read from (by default only the zone file's own folder and below).
    /// A folder that does not exist is an error naming it.
    pub fn with_include_dirs(mut self, dirs: &[PathBuf]) -> Result<Self, ProviderError> {
        for d in dirs {
            let real = d.canonicalize().map_err(|e| ProviderError::Io { provider: self.name.to_string(), path: d.clone(), source: e })?;
            self.include_roots.push(real);
        }
        Ok(self)
    }

    fn read(&self) -> Result<Inventory, ProviderError> {
        let reader = zone::ZoneReader {
            source: self.name.clone(),
            display_path: &self.display_path,
            disk_path: &self.disk_path,
            origin: self.origin.clone(),
            include_roots: &self.include_roots,
        };
        let (_, records) = reader.read()?;
        Ok(Inventory { records, ..Inventory::default() })
    }
}

impl Provider for ZoneFileSource {
    fn name(&self) -> &str {
        &self.name
    }
    /// A zone file is read whole or not at all: it vouches for the names of its zones.
    fn describe(&self) -> Description {
        Description { cloud: None, covers: vec![Namespace::Zones] }
    }
    fn enumerate(&self) -> BoxFuture<'_, Result<Inventory, ProviderError>> {
        let me = self.clone();
        Box::pin(off_the_runtime(&self.name, move || me.read()))
    }
}

/// Owned assets from a CSV file with the `assets.csv` columns: `id, kind, account, region, ips, hosts`
/// (`source` is accepted and ignored, so an `assets.csv` can be fed back). Only `id` and one of `ips` /
/// `hosts` are required; `ips` and `hosts` hold space-separated lists, and `ips` may hold CIDR blocks.
#[derive(Debug, Clone)]
pub struct StaticListSource {
    name: Arc<str>,
    display_path: PathBuf,
    disk_path: PathBuf,
}

const STATIC_COLUMNS: &[&str] = &["id", "kind", "account", "region", "ips", "hosts", "source"];

impl StaticListSource {
    pub fn new(name: &str, display_path: impl Into<PathBuf>, disk_path: impl Into<PathBuf>) -> Self {
        Self { name: Arc::from(name), display_path: display_path.into(), disk_path: disk_path.into() }
    }

    fn err(&self, line: usize, message: impl Into<String>) -> ProviderError {
        ProviderError::Parse { path: self.display_path.clone(), line, message: message.into() }
    }

    fn read(&self) -> Result<Inventory, ProviderError> {
        let bytes = dangle_model::input::read_file(&self.disk_path, dangle_model::input::MAX_DATA_FILE).map_err(|e| ProviderError::Io {
            provider: self.name.to_string(),
            path: self.disk_path.clone(),
            source: e,
        })?;
        self.parse(&bytes)
    }

    /// Parses the list's bytes (as read from its file).
    pub fn parse(&self, bytes: &[u8]) -> Result<Inventory, ProviderError> {
        let mut rdr = csv::ReaderBuilder::new().trim(csv::Trim::All).comment(Some(b'#')).flexible(false).from_reader(bytes);
        let headers = rdr.headers().map_err(|e| self.err(1, format!("cannot read the header: {e}")))?.clone();
        let mut col = std::collections::HashMap::new();
        for (i, h) in headers.iter().enumerate() {
            let h = h.to_ascii_lowercase();
            if !STATIC_COLUMNS.contains(&h.as_str()) {
                return Err(self.err(1, format!("unknown column `{}` (expected: id, kind, account, region, ips, hosts)", excerpt(&h))));
            }
            col.insert(h, i);
        }
        if !col.contains_key("id") || !(col.contains_key("ips") || col.contains_key("hosts")) {
            return Err(self.err(1, "the header needs an `id` column and an `ips` or `hosts` column"));
        }
        let default_account: Arc<str> = Arc::from(self.display_path.display().to_string());
        let mut items: Vec<Asset> = Vec::new();
        // Each (account, kind, id) once: by hash, each hit confirmed against the asset it names.
        let mut seen: rustc_hash::FxHashMap<u64, u32> = rustc_hash::FxHashMap::default();
        let mut accounts = std::collections::BTreeSet::new();
        let (mut account_of, mut region_of) = (Interned::default(), Interned::default());
        let mut row = csv::StringRecord::new();
        loop {
            match rdr.read_record(&mut row) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    let line = e.position().map(|p| p.line() as usize).unwrap_or(0);
                    return Err(self.err(line, csv_message(&e)));
                }
            }
            let line = row.position().map(|p| p.line() as usize).unwrap_or(0);
            let get = |c: &str| col.get(c).and_then(|i| row.get(*i)).unwrap_or("");
            let id = get("id");
            if id.is_empty() {
                return Err(self.err(line, "empty `id`"));
            }
            let kind: AssetKind = if get("kind").is_empty() { AssetKind::STATIC } else { get("kind").parse().unwrap_or_else(|e| match e {}) };
            let account: Arc<str> = if get("account").is_empty() { default_account.clone() } else { account_of.get(get("account")) };
            let region = Some(get("region")).filter(|r| !r.is_empty()).map(|r| region_of.get(r));
            let mut ips = Vec::new();
            for ip in get("ips").split_whitespace() {
                ips.push(parse_ip_or_cidr(ip).map_err(|m| self.err(line, format!("column `ips`: {m}")))?);
            }
            let mut hosts = Vec::new();
            for h in get("hosts").split_whitespace() {
                hosts.push(DnsName::parse(h).map_err(|e| self.err(line, format!("column `hosts`: {e}")))?);
            }
            let (ips, hosts) = (unique(ips), unique(hosts));
            if ips.is_empty() && hosts.is_empty() {
                return Err(self.err(line, format!("asset `{}` has neither `ips` nor `hosts`", excerpt(id))));
            }
            let key = |a: &str, k: &AssetKind, i: &str| {
                use std::hash::{Hash, Hasher};
                let mut h = rustc_hash::FxHasher::default();
                (a, k, i).hash(&mut h);
                h.finish()
            };
            let same = |x: &Asset| *x.account == *account && x.kind == kind && &*x.id == id;
            let twice = match seen.entry(key(&account, &kind, id)) {
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(items.len() as u32);
                    false
                }
                // A 64-bit collision of two different keys is all but impossible; if it happens, look.
                std::collections::hash_map::Entry::Occupied(o) => same(&items[*o.get() as usize]) || items.iter().any(same),
            };
            if twice {
                return Err(self.err(line, format!("asset `{}` ({}) is listed twice for account `{}`", excerpt(id), excerpt(kind.as_str()), excerpt(&account))));
            }
            if accounts.last() != Some(&account) {
                accounts.insert(account.clone());
            }
            items.push(Asset { source: self.name.clone(), account, region, kind, id: id.into(), ips: ips.into(), hosts });
        }
        let covered = if accounts.is_empty() { vec![default_account] } else { accounts.into_iter().collect() }
            .into_iter()
            .map(|account| Coverage { source: self.name.clone(), account, region: None })
            .collect();
        Ok(Inventory { assets: items, covered, ..Inventory::default() })
    }
}

impl Provider for StaticListSource {
    fn name(&self) -> &str {
        &self.name
    }
    /// A static list vouches for the address space declared for it (`[[ranges]]` naming the list or
    /// `static`): an address there that no row holds is ours no more.
    fn describe(&self) -> Description {
        Description { cloud: None, covers: vec![Namespace::Addresses] }
    }
    fn enumerate(&self) -> BoxFuture<'_, Result<Inventory, ProviderError>> {
        let me = self.clone();
        Box::pin(off_the_runtime(&self.name, move || me.read()))
    }
}

/// Runs `read` on the runtime's blocking pool when there is a runtime (reading a million-record file
/// is a second of CPU: it must not hold an async worker, and two files are read side by side), inline
/// otherwise.
async fn off_the_runtime(
    provider: &str,
    read: impl FnOnce() -> Result<Inventory, ProviderError> + Send + 'static,
) -> Result<Inventory, ProviderError> {
    let Ok(rt) = tokio::runtime::Handle::try_current() else {
        return read();
    };
    match rt.spawn_blocking(read).await {
        Ok(done) => done,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(ProviderError::Config { provider: provider.to_string(), message: "the read was cancelled: the runtime is shutting down".into() }),
    }
}

/// `items` without repeats, first appearance kept, in linear time (one row may list 200k addresses).
fn unique<T: Eq + std::hash::Hash + Clone>(mut items: Vec<T>) -> Vec<T> {
    // Most rows hold one or two: no set for them.
    if items.len() <= 16 {
        let mut out: Vec<T> = Vec::with_capacity(items.len());
        for i in items {
            if !out.contains(&i) {
                out.push(i);
            }
        }
        return out;
    }
    let mut seen = HashSet::with_capacity(items.len());
    items.retain(|i| seen.insert(i.clone()));
    items
}

/// The last value seen, shared: a column that repeats one value down a million rows (an account, a
/// region) costs one allocation, not a million.
#[derive(Default)]
struct Interned(Option<Arc<str>>);

impl Interned {
    fn get(&mut self, s: &str) -> Arc<str> {
        match &self.0 {
            Some(a) if &**a == s => a.clone(),
            _ => self.0.insert(Arc::from(s)).clone(),
        }
    }
}

/// A CSV error as one sentence: the csv crate's Display repeats its position, which the caller names.
fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => format!("{len} field(s) where the header has {expected_len}"),
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_string(),
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => excerpt(&e.to_string()),
    }
}

/// `type = "zonefile"`: an RFC 1035 zone file.
pub struct ZoneFileFactory;
/// `type = "static"`: a CSV list of owned assets outside any cloud API.
pub struct StaticListFactory;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ZoneFileSettings {
    path: PathBuf,
    origin: Option<String>,
    #[serde(default)]
    include_dirs: Vec<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StaticListSettings {
    path: PathBuf,
}

#[derive(Debug)]
struct ZoneFileConfig {
    name: String,
    path: PathBuf,
    disk_path: PathBuf,
    origin: Option<DnsName>,
    include_dirs: Vec<PathBuf>,
}

#[derive(Debug)]
struct StaticListConfig {
    name: String,
    path: PathBuf,
    disk_path: PathBuf,
}

/// The lines of zone files that hold the values going: every line of a set that goes whole, else the
/// lines of the values that go (each set's location is the line it starts at).
fn zone_file_changes(sets: &[dangle_model::change::SetEdit<'_>]) -> dangle_model::change::ChangeSet {
    use dangle_model::change::{same_value, Change, ChangeSet, Form, LineEdit};
    let mut out = ChangeSet::new("zone_files", Form::Line, "Zone files");
    out.then = "Then raise the zone's SOA serial and reload the name servers.";
    for (i, set) in sets.iter().enumerate() {
        let Some(dangle_model::Location::Line { file, line }) = set.location else {
            out.by_hand.push(i);
            continue;
        };
        let whole = set.whole();
        for v in set.values.iter().filter(|v| whole || set.going.iter().any(|g| same_value(v, g))) {
            let record = format!("{} {} {v}", set.name, set.rtype);
            let edit = format!("delete the line `{record}` (the set starts at line {line})");
            out.items.push(Change::Line(LineEdit { file: file.to_string(), line: u64::from(*line), record, edit }));
        }
    }
    out
}

impl Factory for ZoneFileFactory {
    fn kind(&self) -> &'static str {
        "zonefile"
    }
    /// The lines to delete.
    fn changes(&self, sets: &[dangle_model::change::SetEdit<'_>], _what: &str) -> Option<dangle_model::change::ChangeSet> {
        Some(zone_file_changes(sets))
    }
    fn configure(&self, name: &str, settings: toml::Table, cx: &mut Context) -> Result<Box<dyn Configured>, SettingsError> {
        let s: ZoneFileSettings = registry::settings(settings)?;
        let disk_path = cx.path("path", &s.path)?;
        let include_dirs = s.include_dirs.iter().map(|d| cx.path("include_dirs", d)).collect::<Result<_, _>>()?;
        let origin = s.origin.as_deref().map(DnsName::parse).transpose().map_err(|e| SettingsError::key("origin", e.to_string()))?;
        Ok(Box::new(ZoneFileConfig { name: name.to_string(), path: s.path, disk_path, origin, include_dirs }))
    }
}

impl Configured for ZoneFileConfig {
    fn build(&self) -> BoxFuture<'_, Result<Box<dyn Provider>, ProviderError>> {
        Box::pin(async move {
            let src = ZoneFileSource::new(&self.name, &self.path, &self.disk_path, self.origin.clone()).with_include_dirs(&self.include_dirs)?;
            Ok(Box::new(src) as Box<dyn Provider>)
        })
    }
}

impl Factory for StaticListFactory {
    fn kind(&self) -> &'static str {
        "static"
    }
    fn configure(&self, name: &str, settings: toml::Table, cx: &mut Context) -> Result<Box<dyn Configured>, SettingsError> {
        let s: StaticListSettings = registry::settings(settings)?;
        let disk_path = cx.path("path", &s.path)?;
        Ok(Box::new(StaticListConfig { name: name.to_string(), path: s.path, disk_path }))
    }
}

impl Configured for StaticListConfig {
    fn build(&self) -> BoxFuture<'_, Result<Box<dyn Provider>, ProviderError>> {
        Box::pin(async move { Ok(Box::new(StaticListSource::new(&self.name, &self.path, &self.disk_path)) as Box<dyn Provider>) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        (dir, p)
    }

    #[tokio::test]
    async fn zone_file_source_is_conformant() {
        let (_d, p) = write(
            "example.com.zone",
            "$TTL 300\n@ SOA ns1 host 1 1 1 1 1\n@ NS ns1\nns1 A 192.0.2.1\nwww CNAME app\napp A 192.0.2.2\n A 192.0.2.3\nv6 AAAA ::1\nmx MX 5 mail.example.net.\n",
        );
        let src = ZoneFileSource::new("zones", "example.com.zone", &p, None);
        dangle_model::conformance::assert_provider(&src).await;
        assert_eq!(src.enumerate().await.unwrap().records.len(), 7);
    }

    #[tokio::test]
    async fn static_list_source_is_conformant() {
        let (_d, p) = write(
            "owned.csv",
            "id,kind,account,region,ips,hosts\ndc1,static,onprem,,198.51.100.0/24 2001:db8::/48,\nvpn,,,,203.0.113.9,vpn.example.net\napi,,,,,api.partner.example\n",
        );
        let src = StaticListSource::new("owned", "owned.csv", &p);
        dangle_model::conformance::assert_provider(&src).await;
        let e = src.enumerate().await.unwrap();
        assert_eq!(e.assets.len(), 3);
        assert_eq!(e.assets[0].ips.len(), 2);
        assert_eq!(&*e.assets[1].account, "owned.csv");
        assert_eq!(e.covered.len(), 2);
    }

    #[tokio::test]
    async fn quadratic_dedup_of_a_static_row_with_200k_ips() {
        let mut ips: Vec<String> = (0..200_000u32).map(|i| std::net::Ipv4Addr::from(0x0a00_0000 + i).to_string()).collect();
        ips.push("10.0.0.0".into());
        let (_d, p) = write("owned.csv", &format!("id,ips\nbig,{}\n", ips.join(" ")));
        let e = StaticListSource::new("owned", "owned.csv", &p).enumerate().await.unwrap();
        assert_eq!(e.assets[0].ips.len(), 200_000);
        assert_eq!(e.assets[0].ips[1].to_string(), "10.0.0.1/32", "first appearance order is kept");
    }

    #[tokio::test]
    async fn static_list_errors_name_line_and_column() {
        for (text, needle) in [
            ("id,ips\na,10.0.0.1/8\n", "owned.csv:2: column `ips`: `10.0.0.1/8` has host bits set; did you mean 10.0.0.0/8?"),
            ("id,ips\na,nonsense\n", "owned.csv:2: column `ips`: `nonsense` is neither"),
            ("id,ips,colour\n", "owned.csv:1: unknown column `colour`"),
            ("kind,ips\n", "owned.csv:1: the header needs an `id` column"),
            ("id,ips,hosts\na,,\n", "owned.csv:2: asset `a` has neither"),
            ("id,ips\na,192.0.2.1\na,192.0.2.2\n", "owned.csv:3: asset `a` (static) is listed twice"),
            ("id,hosts\na,bad..name\n", "owned.csv:2: column `hosts`: empty label"),
            ("id,ips\na,192.0.2.1,extra\n", "owned.csv:2: 3 field(s) where the header has 2"),
        ] {
            let (_d, p) = write("owned.csv", text);
            let src = StaticListSource::new("owned", "owned.csv", &p);
            let e = src.enumerate().await.unwrap_err().to_string();
            assert!(e.contains(needle), "{text:?}: {e}");
        }
    }
}

//! Shards: one runner's inventory (its providers' records, assets, coverage and gaps, and what the
//! providers said they are), written by `scan --shard NAME --enumerate-only` and judged together with
//! every other shard's by `judge`. A snapshot replaces its shard's previous one in one transaction: a
//! runner killed mid-write leaves the previous snapshot in place. Runners writing different shards
//! run side by side (no table lock: a snapshot's id comes from the store's sequence); two writing one
//! shard take turns at its row.

use std::sync::Arc;

use dangle_model::{Asset, Clouds, Coverage, CoverageGap, Description, DnsName, DnsRecord, Hides, Namespace, Service, Target};

use super::db::{self, vals, DbError, Engine, Load, Row};
use super::{now_rfc3339, Interner, Store, StoreError};
use crate::reconcile::ProviderInfo;

/// What one runner enumerated.
pub struct ShardInput<'a> {
    pub started_at: String,
    /// The runner's config, as a run names it.
    pub config: String,
    pub inventory: &'a ShardInventory,
}

/// A shard as the store holds it: its current snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardMeta {
    pub name: String,
    pub snapshot: i64,
    /// When its enumeration started (RFC 3339).
    pub started_at: String,
    pub finished_at: String,
    pub records: i64,
    pub assets: i64,
    pub gaps: i64,
}

/// The union of some shards' inventories.
#[derive(Debug, Default)]
pub struct ShardInventory {
    pub providers: Vec<ProviderInfo>,
    pub records: Vec<DnsRecord>,
    pub assets: Vec<Asset>,
    pub covered: Vec<Coverage>,
    pub gaps: Vec<CoverageGap>,
}

/// A target in one line: a tag, a space, the value (an alias also carries its zone id).
fn push_target(out: &mut String, t: &Target) {
    use std::fmt::Write as _;
    if !out.is_empty() {
        out.push('\n');
    }
    let _ = match t {
        Target::Ip(ip) => write!(out, "i {ip}"),
        Target::Host(name) => write!(out, "h {name}"),
        Target::Alias { dns_name, zone_id } => write!(out, "a {zone_id} {dns_name}"),
        Target::Resource { id } => write!(out, "r {id}"),
    };
}

fn target(line: &str) -> Option<Target> {
    let (tag, v) = line.split_once(' ')?;
    Some(match tag {
        "i" => Target::Ip(v.parse().ok()?),
        "h" => Target::Host(DnsName::parse(v).ok()?),
        "a" => {
            let (zone, name) = v.split_once(' ')?;
            Target::Alias { dns_name: DnsName::parse(name).ok()?, zone_id: zone.to_string() }
        }
        "r" => Target::Resource { id: v.to_string() },
        _ => return None,
    })
}

/// A namespace as stored: `addresses`, `names:CLOUD:SERVICE`, `nameservers`, `zones`, `resources`.
fn namespace_text(ns: &Namespace) -> String {
    match ns {
        Namespace::Addresses => "addresses".into(),
        Namespace::Names(s) => format!("names:{}:{}", s.cloud, s.name),
        Namespace::NameServers => "nameservers".into(),
        Namespace::Zones => "zones".into(),
        Namespace::Resources => "resources".into(),
    }
}

fn namespace(s: &str, clouds: &Clouds) -> Option<Namespace> {
    Some(match s {
        "addresses" => Namespace::Addresses,
        "nameservers" => Namespace::NameServers,
        "zones" => Namespace::Zones,
        "resources" => Namespace::Resources,
        _ => {
            let (cloud, name) = s.strip_prefix("names:")?.split_once(':')?;
            Namespace::Names(Service::find(clouds.parse(cloud)?, name)?)
        }
    })
}

fn namespaces_text(v: &[Namespace]) -> String {
    v.iter().map(namespace_text).collect::<Vec<_>>().join("\n")
}

fn namespaces(s: &str, what: &str, clouds: &Clouds) -> db::Result<Vec<Namespace>> {
    s.lines().filter(|l| !l.is_empty()).map(|l| namespace(l, clouds).ok_or_else(|| unknown(what, l))).collect()
}

fn hides_text(h: &Hides) -> String {
    match h {
        Hides::Account => "account".into(),
        Hides::Only(v) => format!("only\n{}", namespaces_text(v)),
    }
}

fn unknown(what: &str, value: &str) -> DbError {
    DbError::new(format!("a shard holds {what} `{}`, which this dangle does not know (written by a newer version, or the store is damaged)", dangle_model::excerpt(value)))
}

/// A snapshot's coverage, in the order its runner found it.
const COVERAGE: &str = "SELECT source, account, region FROM shard_coverage WHERE snapshot = ?1 ORDER BY seq";

fn coverage(r: &dyn Row, names: &mut Interner) -> db::Result<Coverage> {
    Ok(Coverage { source: names.get(r.str(0)?), account: names.get(r.str(1)?), region: r.text(2)?.map(|s| names.get(s)) })
}

impl Store {
    /// Writes `shard`'s new snapshot in one transaction, replacing its previous one; returns its id.
    pub fn write_shard(&mut self, shard: &str, shard_input: &ShardInput<'_>) -> Result<i64, StoreError> {
        let finished = now_rfc3339();
        let (input, started_at, config) = (shard_input.inventory, &shard_input.started_at, &shard_input.config);
        self.in_transaction(|db| {
            let id = db
                .int(
                    "INSERT INTO shard_snapshots (shard, started_at, finished_at, tool_version, config, n_records, n_assets, n_gaps)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
                    vals![
                        shard,
                        started_at,
                        &finished,
                        env!("CARGO_PKG_VERSION"),
                        config,
                        input.records.len() as i64,
                        input.assets.len() as i64,
                        input.gaps.len() as i64
                    ],
                )?
                .ok_or_else(|| DbError::new("the new snapshot got no id"))?;
            // The shard's row first: a second writer of the same shard waits here until this one ends.
            db.execute("INSERT INTO shards (name, snapshot) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET snapshot = excluded.snapshot", vals![shard, id])?;
            for table in ["shard_providers", "shard_records", "shard_assets", "shard_coverage", "shard_gaps"] {
                db.execute(&format!("DELETE FROM {table} WHERE snapshot IN (SELECT id FROM shard_snapshots WHERE shard = ?1 AND id <> ?2)"), vals![shard, id])?;
            }
            db.execute("DELETE FROM shard_snapshots WHERE shard = ?1 AND id <> ?2", vals![shard, id])?;
            write_snapshot(db, id, input)?;
            Ok(id)
        })
    }

    /// Every shard's current snapshot, by name.
    pub fn shards(&self) -> Result<Vec<ShardMeta>, StoreError> {
        if !self.schema.shards {
            return Ok(Vec::new());
        }
        self.db
            .all(
                "SELECT h.name, s.id, s.started_at, s.finished_at, s.n_records, s.n_assets, s.n_gaps FROM shards h JOIN shard_snapshots s ON s.id = h.snapshot ORDER BY h.name",
                &[],
                |r| {
                    Ok(ShardMeta {
                        name: r.string(0)?,
                        snapshot: r.i64(1)?,
                        started_at: r.string(2)?,
                        finished_at: r.string(3)?,
                        records: r.i64(4)?,
                        assets: r.i64(5)?,
                        gaps: r.i64(6)?,
                    })
                },
            )
            .map_err(self.err())
    }

    /// What snapshot `id` covered.
    pub fn shard_coverage(&self, id: i64) -> Result<Vec<Coverage>, StoreError> {
        let mut names = Interner::default();
        self.db.all(COVERAGE, vals![id], |r| coverage(r, &mut names)).map_err(self.err())
    }

    /// The union of the snapshots `ids` hold, in their order (each snapshot's items in the order its
    /// runner found them). (`clouds`: the clouds the shards' descriptions and asset kinds may name.)
    pub fn load_shards(&self, ids: &[i64], clouds: &Clouds) -> Result<ShardInventory, StoreError> {
        let mut inv = ShardInventory::default();
        let mut names = Interner::default();
        for &id in ids {
            read_snapshot(&*self.db, id, clouds, &mut names, &mut inv).map_err(self.err())?;
        }
        Ok(inv)
    }
}

/// Writes snapshot `id`'s rows: its providers, records, assets, coverage and gaps.
fn write_snapshot(db: &dyn Engine, id: i64, input: &ShardInventory) -> db::Result<()> {
    db.load("shard_providers", &["snapshot", "seq", "name", "kind", "cloud", "covers"], Load::Insert, &mut |sink| {
        for (seq, p) in input.providers.iter().enumerate() {
            let cloud = p.description.cloud.map_or("", |c| c.as_str());
            sink.row(vals![id, seq as i64, &*p.name, &*p.kind, cloud, namespaces_text(&p.description.covers).as_str()])?;
        }
        Ok(())
    })?;
    write_records(db, id, &input.records)?;
    db.load("shard_assets", &["snapshot", "seq", "source", "account", "region", "kind", "asset_id", "ips", "hosts"], Load::Insert, &mut |sink| {
        let (mut ips, mut hosts) = (String::new(), String::new());
        for (seq, a) in input.assets.iter().enumerate() {
            ips.clear();
            super::push_nets(&mut ips, &a.ips);
            hosts.clear();
            super::push_hosts(&mut hosts, &a.hosts);
            sink.row(vals![id, seq as i64, &*a.source, &*a.account, a.region.as_deref(), a.kind.as_str(), &*a.id, ips.as_str(), hosts.as_str()])?;
        }
        Ok(())
    })?;
    db.load("shard_coverage", &["snapshot", "seq", "source", "account", "region"], Load::Insert, &mut |sink| {
        for (seq, c) in input.covered.iter().enumerate() {
            sink.row(vals![id, seq as i64, &*c.source, &*c.account, c.region.as_deref()])?;
        }
        Ok(())
    })?;
    db.load("shard_gaps", &["snapshot", "seq", "source", "account", "region", "service", "error", "hides"], Load::Insert, &mut |sink| {
        for (seq, g) in input.gaps.iter().enumerate() {
            sink.row(vals![id, seq as i64, &*g.source, &*g.account, g.region.as_deref(), g.service.as_str(), &g.error, hides_text(&g.hides).as_str()])?;
        }
        Ok(())
    })?;
    Ok(())
}

/// Writes snapshot `id`'s records, their texts made in buffers kept between records.
fn write_records(db: &dyn Engine, id: i64, records: &[DnsRecord]) -> db::Result<()> {
    let cols = ["snapshot", "seq", "source", "account", "zone", "private", "name", "rtype", "ttl", "set_id", "targets", "location", "line_location", "spec"];
    db.load("shard_records", &cols, Load::Insert, &mut |sink| {
        let (mut targets, mut rtype, mut location) = (String::new(), String::new(), String::new());
        for (seq, r) in records.iter().enumerate() {
            use std::fmt::Write as _;
            targets.clear();
            for t in &r.targets {
                push_target(&mut targets, t);
            }
            rtype.clear();
            let _ = write!(rtype, "{}", r.rtype);
            location.clear();
            if let Some(l) = &r.location {
                let _ = write!(location, "{l}");
            }
            let line = i64::from(r.location.as_ref().is_some_and(dangle_model::Location::is_line));
            let (zone, name, set_id, spec) = (r.zone.as_str(), r.name.as_str(), r.set_id.as_deref(), r.spec.as_deref());
            let location = r.location.as_ref().map(|_| location.as_str());
            sink.row(vals![id, seq as i64, &*r.source, &*r.account, zone, r.zone_private, name, rtype.as_str(), r.ttl, set_id, targets.as_str(), location, line, spec])?;
        }
        Ok(())
    })?;
    Ok(())
}

/// Reads snapshot `id` into `inv`.
fn read_snapshot(db: &dyn Engine, id: i64, clouds: &Clouds, names: &mut Interner, inv: &mut ShardInventory) -> db::Result<()> {
    let one = vals![id];
    db.each("SELECT name, kind, cloud, covers FROM shard_providers WHERE snapshot = ?1 ORDER BY seq", one, &mut |r: &dyn Row| {
        let cloud = match r.str(2)? {
            "" => None,
            c => Some(clouds.parse(c).ok_or_else(|| unknown("cloud", c))?),
        };
        let description = Description { cloud, covers: namespaces(r.str(3)?, "namespace", clouds)? };
        inv.providers.push(ProviderInfo { name: names.get(r.str(0)?), kind: names.get(r.str(1)?), description });
        Ok(())
    })?;
    let records = "SELECT source, account, zone, private, name, rtype, ttl, set_id, targets, location, spec, line_location FROM shard_records WHERE snapshot = ?1 ORDER BY seq";
    db.each(records, one, &mut |r: &dyn Row| {
        inv.records.push(record(r, names)?);
        Ok(())
    })?;
    db.each("SELECT source, account, region, kind, asset_id, ips, hosts FROM shard_assets WHERE snapshot = ?1 ORDER BY seq", one, &mut |r: &dyn Row| {
        inv.assets.push(asset(r, clouds, names)?);
        Ok(())
    })?;
    db.each(COVERAGE, one, &mut |r: &dyn Row| {
        inv.covered.push(coverage(r, names)?);
        Ok(())
    })?;
    db.each("SELECT source, account, region, service, error, hides FROM shard_gaps WHERE snapshot = ?1 ORDER BY seq", one, &mut |r: &dyn Row| {
        let hides = match r.str(5)? {
            "account" => Hides::Account,
            h => match h.strip_prefix("only") {
                Some(rest) => Hides::Only(namespaces(rest, "namespace", clouds)?),
                None => return Err(unknown("gap scope", h)),
            },
        };
        let (source, account, region) = (names.get(r.str(0)?), names.get(r.str(1)?), r.text(2)?.map(|s| names.get(s)));
        inv.gaps.push(CoverageGap { source, account, region, service: dangle_model::Part::named(r.string(3)?), error: r.string(4)?, hides });
        Ok(())
    })
}

/// One stored record of a snapshot.
fn record(r: &dyn Row, names: &mut Interner) -> db::Result<DnsRecord> {
    let name = |i: usize| -> db::Result<DnsName> {
        let s = r.str(i)?;
        DnsName::parse(s).map_err(|_| unknown("name", s))
    };
    let rtype = r.str(5)?;
    let line = r.i64(11)? != 0;
    let mut targets = dangle_model::Targets::new();
    for line in r.str(8)?.lines() {
        targets.push(target(line).ok_or_else(|| unknown("target", line))?);
    }
    Ok(DnsRecord {
        source: names.get(r.str(0)?),
        account: names.get(r.str(1)?),
        zone: name(2)?,
        zone_private: r.i64(3)? != 0,
        name: name(4)?,
        rtype: rtype.parse().map_err(|_| unknown("record type", rtype))?,
        ttl: u32::try_from(r.i64(6)?).unwrap_or(u32::MAX),
        set_id: r.text(7)?.map(Arc::from),
        targets,
        location: r.text(9)?.map(|l| dangle_model::Location::decode(l, line)),
        spec: r.text(10)?.map(Arc::from),
    })
}

/// One stored asset of a snapshot.
fn asset(r: &dyn Row, clouds: &Clouds, names: &mut Interner) -> db::Result<Asset> {
    let mut ips = dangle_model::Ips::new();
    for s in r.str(5)?.split_whitespace() {
        ips.push(dangle_model::parse_ip_or_cidr(s).map_err(|_| unknown("address", s))?);
    }
    let mut hosts = Vec::new();
    for s in r.str(6)?.split_whitespace() {
        hosts.push(DnsName::parse(s).map_err(|_| unknown("name", s))?);
    }
    Ok(Asset {
        source: names.get(r.str(0)?),
        account: names.get(r.str(1)?),
        region: r.text(2)?.map(|s| names.get(s)),
        kind: clouds.kind(r.str(3)?),
        id: r.str(4)?.into(),
        ips,
        hosts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_namespaces_read_back_as_written() {
        let targets = [
            Target::Ip("2001:db8::1".parse().unwrap()),
            Target::Host(DnsName::parse("app.example.com").unwrap()),
            Target::Alias { dns_name: DnsName::parse("lb-1.eu-west-1.elb.amazonaws.com").unwrap(), zone_id: "Z32O12XQLNTSW2".into() },
            Target::Resource { id: "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/ip 1".into() },
        ];
        let mut text = String::new();
        for t in &targets {
            push_target(&mut text, t);
        }
        let back: Vec<Target> = text.lines().map(|l| target(l).unwrap()).collect();
        assert_eq!(back, targets);
        let all = [Namespace::Addresses, Namespace::Names(dangle_model::cloud::S3), Namespace::Names(dangle_model::cloud::APP_SERVICE), Namespace::NameServers, Namespace::Zones, Namespace::Resources];
        assert_eq!(namespaces(&namespaces_text(&all), "namespace", &Clouds::builtin()).unwrap(), all);
        assert!(namespaces("names:aws:Nonesuch", "namespace", &Clouds::builtin()).unwrap_err().message.contains("namespace `names:aws:Nonesuch`"));
    }
}

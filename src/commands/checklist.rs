//! `dangle checklist TARGET…`: before a decommission, every record that still reaches the target —
//! directly or through CNAME / alias chains — with where it lives and the change to make.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::io::Write;
use std::net::IpAddr;

use anyhow::Context;
use dangle_model::cloud::{self, Key};
use dangle_model::change::{Change, ChangeSet, Form, SetEdit};
use dangle_model::{DnsName, Target};
use ipnet::IpNet;
use serde::Serialize;

use super::Outcome;
use crate::cli::{ChecklistArgs, ListFormatArg};
use crate::config::Config;
use crate::providers::Entry;
use crate::report::{self, cell};
use crate::store::Store;
use crate::rows::{AssetRow, ReportRow};
use crate::reconcile::Status;

/// What the user asked about, widened through the assets that hold it.
#[derive(Debug, Default)]
struct Wanted {
    nets: Vec<IpNet>,
    hosts: HashSet<DnsName>,
    ids: HashSet<String>,
    buckets: HashSet<String>,
}

impl Wanted {
    fn add_host(&mut self, h: DnsName) {
        if let Some(Key::Name(b)) = cloud::classify(&h).map(|m| m.key) {
            self.buckets.insert(b);
        }
        self.hosts.insert(h);
    }

    /// A TARGET as the user wrote it: an address or block, a resource id (an ARN, an Azure id, an id
    /// from a static list), else a host name.
    fn add(&mut self, text: &str) -> anyhow::Result<()> {
        let t = text.trim();
        if let Ok(ip) = t.parse::<IpAddr>() {
            self.nets.push(IpNet::from(ip));
        } else if t.contains('/') && !t.starts_with('/') && !t.starts_with("arn:") {
            self.nets.push(dangle_model::parse_ip_or_cidr(t).map_err(anyhow::Error::msg).with_context(|| format!("target `{t}`"))?);
        } else if t.starts_with("arn:") || t.starts_with('/') || !t.contains('.') {
            self.ids.insert(t.to_ascii_lowercase());
            // A keyed resource (an S3 bucket's ARN) is its key too, held or not.
            self.buckets.extend(cloud::resource_key(t).map(|(_, key)| key.to_string()));
        } else {
            let h = DnsName::parse(t.strip_prefix("dualstack.").unwrap_or(t)).with_context(|| format!("target `{t}`"))?;
            self.add_host(h);
        }
        Ok(())
    }

    /// `net` (an asset's address or block) lies inside something asked for. Never the other way
    /// round: an address widens to the asset that holds exactly it, not to a block around it, or
    /// `checklist 192.0.2.11` would list every record in an owned /24.
    fn covers(&self, net: &IpNet) -> bool {
        self.nets.iter().any(|n| n.contains(net))
    }

    /// Adds every address and name of each asset that holds something wanted.
    fn widen(&mut self, assets: &[AssetRow]) {
        for a in assets {
            let ips: Vec<IpNet> = a.ips.split_whitespace().filter_map(|s| dangle_model::parse_ip_or_cidr(s).ok()).collect();
            let hosts: Vec<DnsName> = a.hosts.split_whitespace().filter_map(|s| DnsName::parse(s).ok()).collect();
            let kind: dangle_model::AssetKind = a.kind.parse().unwrap_or_else(|e| match e {});
            let bucket = kind.key(&a.id).map(|(_, k)| k.to_string());
            let hit = self.ids.contains(&a.id.to_ascii_lowercase())
                || ips.iter().any(|n| self.covers(n))
                || hosts.iter().any(|h| self.hosts.contains(h))
                || bucket.as_ref().is_some_and(|b| self.buckets.contains(b));
            if hit {
                self.ids.insert(a.id.to_ascii_lowercase());
                for n in ips {
                    if !self.nets.contains(&n) {
                        self.nets.push(n);
                    }
                }
                for h in hosts {
                    self.add_host(h);
                }
                self.buckets.extend(bucket);
            }
        }
    }

    fn matches(&self, row: &ReportRow) -> bool {
        match &row.target {
            None => false,
            Some(Target::Ip(ip)) => self.nets.iter().any(|n| n.contains(ip)),
            Some(Target::Resource { id }) => self.ids.contains(&id.to_ascii_lowercase()),
            Some(t @ (Target::Host(_) | Target::Alias { .. })) => {
                let Some(h) = host_of(t) else { return false };
                if self.hosts.contains(&h) {
                    return true;
                }
                match cloud::classify(&h) {
                    Some(m) if matches!(&m.key, Key::Name(b) if self.buckets.contains(b)) => true,
                    Some(m) if m.implied_ip.is_some_and(|ip| self.nets.iter().any(|n| n.contains(&ip))) => true,
                    Some(m) => matches!(t, Target::Alias { .. }) && m.key == Key::RecordName && self.buckets.contains(&row.record_name),
                    None => false,
                }
            }
        }
    }
}

/// The host a target names: a name, or an alias's name without `dualstack.`.
fn host_of(t: &Target) -> Option<DnsName> {
    match t {
        Target::Host(h) => Some(h.clone()),
        Target::Alias { dns_name, .. } => match dns_name.as_str().strip_prefix("dualstack.") {
            Some(rest) => DnsName::parse(rest).ok(),
            None => Some(dns_name.clone()),
        },
        Target::Ip(_) | Target::Resource { .. } => None,
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Hit {
    pub record_name: String,
    pub record_type: String,
    pub set_id: String,
    pub target: String,
    pub zone: String,
    pub source: String,
    pub account: String,
    pub location: String,
    /// Empty for a record that points at the target itself; else the chain it follows.
    pub via: String,
    pub status: Status,
    pub change: String,
    /// The row it is.
    #[serde(skip)]
    pub row: usize,
}

impl Hit {
    fn new(r: &ReportRow, row: usize, via: String, change: String) -> Self {
        Self {
            record_name: r.record_name.clone(),
            record_type: r.record_type.to_string(),
            set_id: r.set_id.clone(),
            target: r.target_text(),
            zone: r.zone.clone(),
            source: r.source.clone(),
            account: r.account.clone(),
            location: r.place(),
            via,
            status: r.status,
            change,
            row,
        }
    }
}

/// Every row that reaches one of `targets`, directly or through chains of our own records.
pub fn checklist(rows: &[ReportRow], assets: &[AssetRow], targets: &[String]) -> anyhow::Result<Vec<Hit>> {
    let mut w = Wanted::default();
    for t in targets {
        w.add(t)?;
    }
    w.widen(assets);
    let mut by_target: BTreeMap<DnsName, Vec<usize>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        if let Some(h) = r.target.as_ref().and_then(host_of) {
            by_target.entry(h).or_default().push(i);
        }
    }
    let mut hits: Vec<Hit> = Vec::new();
    let mut seen = HashSet::new();
    let mut queue: VecDeque<(String, String)> = VecDeque::new();
    for (i, r) in rows.iter().enumerate() {
        if w.matches(r) && seen.insert(i) {
            let target = r.target_text();
            let change = format!("remove or repoint `{} {} {target}` in zone {} ({})", r.record_name, r.record_type, r.zone, r.place());
            hits.push(Hit::new(r, i, String::new(), change));
            queue.push_back((r.record_name.clone(), target));
        }
    }
    while let Some((name, path)) = queue.pop_front() {
        let Ok(n) = DnsName::parse(&name) else { continue };
        for &i in by_target.get(&n).into_iter().flatten() {
            if !seen.insert(i) {
                continue;
            }
            let r = &rows[i];
            let via = format!("{name} → {path}");
            let change = format!("follows {name}: repoint `{} {} {}` ({}) or it dangles when {name} goes", r.record_name, r.record_type, r.target_text(), r.place());
            hits.push(Hit::new(r, i, via.clone(), change));
            queue.push_back((r.record_name.clone(), via));
        }
    }
    hits.sort_by(|a, b| (!a.via.is_empty(), &a.zone, &a.record_name, &a.record_type, &a.set_id, &a.target).cmp(&(!b.via.is_empty(), &b.zone, &b.record_name, &b.record_type, &b.set_id, &b.target)));
    Ok(hits)
}

/// What to change, per provider type that read the records (in the order of their forms: batches for a
/// change API, lines of files, edits of single sets), and the record sets no change could be written
/// for (a provider type that writes none).
#[derive(Debug, Default)]
pub struct Changes {
    pub sets: Vec<ChangeSet>,
    pub by_hand: Vec<String>,
}

impl Changes {
    /// The changes a provider type wrote, by their JSON key (`route53`, `zone_files`, `azure`).
    pub fn of(&self, key: &str) -> &[Change] {
        self.sets.iter().find(|s| s.key == key).map_or(&[], |s| &s.items)
    }
}

impl Serialize for Changes {
    /// `{KEY: [changes…], …, "by_hand": […]}`, in the order of [`Changes::sets`].
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut m = s.serialize_map(Some(self.sets.len() + 1))?;
        for set in &self.sets {
            m.serialize_entry(set.key, &set.items)?;
        }
        m.serialize_entry("by_hand", &self.by_hand)?;
        m.end()
    }
}

/// A record set's identity among rows.
type SetKey<'r> = (&'r str, &'r str, &'r str, &'r str, &'r str, &'r str);

fn set_key(r: &ReportRow) -> SetKey<'_> {
    (&r.source, &r.account, &r.zone, &r.record_name, r.record_type.as_str(), &r.set_id)
}

/// The changes that take every directly hit value out of its record set, written by the provider type
/// that read the set (`kinds`: each source's type in the run; `registry`: the types this build has):
/// the set deleted when all its values go, else rewritten without them. Records that only follow a hit
/// name are listed, not changed: whether they go too is the owner's call once the name they follow is gone.
pub fn changes(store: &Store, run: i64, rows: &[ReportRow], hits: &[Hit], targets: &[String], registry: &[Entry]) -> anyhow::Result<Changes> {
    let kinds: HashMap<String, String> = store.run_providers(run)?.into_iter().collect();
    let mut values: BTreeMap<SetKey<'_>, Vec<&ReportRow>> = BTreeMap::new();
    for r in rows {
        values.entry(set_key(r)).or_default().push(r);
    }
    let mut going: BTreeMap<SetKey<'_>, Vec<&Target>> = BTreeMap::new();
    for h in hits.iter().filter(|h| h.via.is_empty()) {
        let r = &rows[h.row];
        going.entry(set_key(r)).or_default().extend(&r.target);
    }
    // The specs first: a set's edit borrows them.
    let mut specs: Vec<Option<String>> = Vec::with_capacity(going.len());
    for key in going.keys() {
        specs.push(store.record_spec(values[key][0])?);
    }
    let mut by_kind: BTreeMap<&str, Vec<SetEdit<'_>>> = BTreeMap::new();
    let mut out = Changes::default();
    for ((key, gone), spec) in going.into_iter().zip(&specs) {
        let all = &values[&key];
        let first = all[0];
        let edit = SetEdit {
            source: &first.source,
            account: &first.account,
            zone: &first.zone,
            name: &first.record_name,
            rtype: &first.record_type,
            set_id: &first.set_id,
            location: first.location.as_ref(),
            spec: spec.as_deref(),
            values: all.iter().filter_map(|r| r.target.as_ref()).collect(),
            going: gone,
        };
        match kinds.get(&first.source) {
            Some(kind) => by_kind.entry(kind.as_str()).or_default().push(edit),
            None => out.by_hand.push(edit.by_hand()),
        }
    }
    let what = targets.join(", ");
    let mut by_hand: Vec<SetEdit<'_>> = Vec::new();
    for e in registry {
        let Entry::Built(factory) = e else { continue };
        let sets = by_kind.remove(factory.kind()).unwrap_or_default();
        match factory.changes(&sets, &what) {
            Some(c) => {
                by_hand.extend(c.by_hand.iter().filter_map(|i| sets.get(*i).cloned()));
                out.sets.push(c);
            }
            None => by_hand.extend(sets),
        }
    }
    by_hand.extend(by_kind.into_values().flatten());
    out.by_hand.extend(by_hand.iter().map(SetEdit::by_hand));
    out.sets.sort_by_key(|s| s.form);
    Ok(out)
}

/// The store and the run to list from: the latest stored run, or a scan's when the store holds none
/// (or `--fresh`).
fn latest_or_scan(args: &ChecklistArgs, registry: &[Entry]) -> anyhow::Result<(Store, i64)> {
    let mut store;
    let config = || Config::load_with(&args.store.config, registry).context("checklist needs a stored run or a config to scan with");
    let lock = crate::pipeline::CHECKLIST_LOCK_TIMEOUT;
    // A store that is not there yet (no file; a database dangle never wrote) is scanned into.
    let exists = match super::store_location(&args.store, registry) {
        Ok(crate::store::Location::Sqlite(p)) => p.exists(),
        Ok(at @ crate::store::Location::Postgres { .. }) => !matches!(Store::open_existing(&at), Err(crate::store::StoreError::Empty { .. })),
        Err(_) => false,
    };
    let run = if args.fresh || !exists {
        let cfg = config()?;
        store = Store::open_for_run(cfg.store(args.store.db.as_deref()), lock)?;
        crate::pipeline::scan_into(&cfg, &mut store, false, lock, Default::default())?.run
    } else {
        store = super::open_existing(&args.store, registry)?;
        match store.latest_run()? {
            Some(r) => r,
            None => {
                // The store holds no run yet: scan into it, which needs it open for writing.
                let cfg = config().context("the store holds no run yet, so checklist scans with the config")?;
                store = Store::open_for_run(store.location(), lock)?;
                crate::pipeline::scan_into(&cfg, &mut store, false, lock, Default::default())?.run
            }
        }
    };
    Ok((store, run))
}

pub fn run(args: &ChecklistArgs, registry: &[Entry]) -> anyhow::Result<Outcome> {
    let (store, run) = latest_or_scan(args, registry)?;
    let rows = store.rows(run)?;
    let assets = store.assets(run)?;
    let hits = checklist(&rows, &assets, &args.targets)?;
    let changes = changes(&store, run, &rows, &hits, &args.targets, registry)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        ListFormatArg::Json => {
            serde_json::to_writer_pretty(&mut out, &serde_json::json!({ "run": run, "targets": args.targets, "records": hits, "changes": changes }))?;
            writeln!(out)?;
        }
        ListFormatArg::Csv => write_csv(&mut out, &hits)?,
        ListFormatArg::Markdown => write_markdown(&mut out, run, &args.targets.join(", "), &hits, &changes)?,
        ListFormatArg::Table => write_table(&mut out, run, &args.targets.join(", "), &hits, &changes)?,
    }
    out.flush()?;
    // A decommission pipeline gates on this: 1 while anything still points at the target.
    Ok(Outcome { findings: hits.len(), gaps: 0 })
}

fn write_csv(out: &mut impl Write, hits: &[Hit]) -> anyhow::Result<()> {
    let mut c = csv::Writer::from_writer(out);
    c.write_record(["record_name", "record_type", "set_id", "target", "zone", "source", "account", "location", "via", "status", "change"])?;
    for h in hits {
        report::write_fields(&mut c, [&h.record_name, &h.record_type, &h.set_id, &h.target, &h.zone, &h.source, &h.account, &h.location, &h.via, h.status.as_str(), &h.change])?;
    }
    c.flush()?;
    Ok(())
}

fn write_markdown(out: &mut impl Write, run: i64, what: &str, hits: &[Hit], changes: &Changes) -> std::io::Result<()> {
    writeln!(out, "# dangle checklist — {what} (run {run})\n")?;
    if hits.is_empty() {
        return writeln!(out, "No record reaches these targets: nothing in DNS stops the decommission.");
    }
    writeln!(out, "{} record(s) still reach {what}. Change them before the target goes, or they dangle.\n", hits.len())?;
    writeln!(out, "| record | type | zone | account | points at | via | where | change |\n| --- | --- | --- | --- | --- | --- | --- | --- |")?;
    for h in hits {
        let account = format!("{} / {}", h.source, h.account);
        let cells = [cell(&h.record_name), h.record_type.as_str().into(), cell(&h.zone), cell(&account), cell(&h.target), cell(&h.via), cell(&h.location), cell(&h.change)];
        writeln!(out, "| {} |", cells.join(" | "))?;
    }
    write_changes_markdown(out, changes)
}

fn write_table(out: &mut impl Write, run: i64, what: &str, hits: &[Hit], changes: &Changes) -> anyhow::Result<()> {
    if hits.is_empty() {
        writeln!(out, "no record in run {run} reaches {what}")?;
        return Ok(());
    }
    writeln!(out, "{} record(s) in run {run} reach {what}:", hits.len())?;
    let rows: Vec<Vec<String>> = hits
        .iter()
        .map(|h| {
            let name = if h.set_id.is_empty() { h.record_name.clone() } else { format!("{} ({})", h.record_name, h.set_id) };
            vec![name, h.record_type.clone(), h.zone.clone(), h.target.clone(), if h.via.is_empty() { "direct".into() } else { h.via.clone() }, h.location.clone()]
        })
        .collect();
    write!(out, "{}", report::table(&["RECORD", "TYPE", "ZONE", "POINTS AT", "VIA", "WHERE"], &rows, crate::cli::table_width()))?;
    for c in changes.sets.iter().flat_map(|s| &s.items) {
        if let Change::Batch(b) = c {
            writeln!(out, "{} {} ({}), save as {}, then: {}", b.service, b.zone, b.hosted_zone_id, b.file, b.command)?;
            writeln!(out, "{}", serde_json::to_string_pretty(&b.batch)?)?;
        }
    }
    Ok(())
}

/// The changes section of the Markdown checklist.
fn write_changes_markdown(out: &mut impl Write, c: &Changes) -> std::io::Result<()> {
    writeln!(out, "\n## Changes to make\n")?;
    writeln!(out, "Only the records that point at the target itself are changed here: a set is deleted when every value goes, else rewritten without them. Records that follow one of them (the `via` column) dangle once it is gone: repoint or delete them too. During a migration, lower the TTL first.\n")?;
    for set in c.sets.iter().filter(|s| !s.items.is_empty()) {
        if set.form != Form::Batch {
            writeln!(out, "### {}\n", set.heading)?;
        }
        for change in &set.items {
            match change {
                Change::Batch(b) => {
                    writeln!(out, "### {} {} ({} {}, account {})\n", b.service, b.zone, b.zone_noun, b.hosted_zone_id, b.account)?;
                    writeln!(out, "Save the batch as `{}`, then run:\n\n```sh\n{}\n```\n", b.file, b.command)?;
                    writeln!(out, "```json\n{}\n```\n", serde_json::to_string_pretty(&b.batch).unwrap_or_default())?;
                }
                Change::Line(e) => writeln!(out, "- `{}:{}`: {}", e.file, e.line, cell(&e.edit))?,
                Change::Edit(e) => writeln!(out, "- {}: {}\n\n  ```sh\n  {}\n  ```", cell(&e.record_set), e.edit, e.command)?,
            }
        }
        match (set.form, set.then) {
            (Form::Batch, _) => {}
            (_, "") => writeln!(out)?,
            (_, then) => writeln!(out, "\n{then}\n")?,
        }
    }
    for h in &c.by_hand {
        writeln!(out, "- by hand: {}", cell(h))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::checklist;
    use crate::rows::{AssetRow, ReportRow};

    fn row(name: &str, target: &str) -> ReportRow {
        ReportRow {
            record_name: name.into(),
            record_type: if target.parse::<std::net::IpAddr>().is_ok() { "A" } else { "CNAME" }.into(),
            set_id: String::new(),
            target: crate::rows::target_of(target),
            zone: "acme.example".into(),
            source: "zones".into(),
            account: "acme.zone".into(),
            status: crate::reconcile::Status::Owned,
            severity: crate::reconcile::Severity::Info,
            claimable: crate::reconcile::Claimable::No,
            reason: String::new(),
            probe_verdict: crate::probe::Verdict::NotProbed,
            probe_detail: String::new(),
            first_seen: Default::default(),
            location: Some(dangle_model::Location::Line { file: "acme.zone".into(), line: 3 }),
            ttl: 300,
            owner: String::new(),
            probes: vec![],
            ..ReportRow::empty()
        }
    }

    fn asset(id: &str, ips: &str) -> AssetRow {
        AssetRow { kind: "static".into(), id: id.into(), source: "dc".into(), account: "dc".into(), region: String::new(), ips: ips.into(), hosts: String::new(), first_seen: String::new() }
    }

    fn names(rows: &[ReportRow], assets: &[AssetRow], target: &str) -> Vec<String> {
        checklist(rows, assets, &[target.to_string()]).unwrap().into_iter().map(|h| h.record_name).collect()
    }

    #[test]
    fn checklist_ip_does_not_widen_to_the_owned_cidr_that_holds_it() {
        let rows = [row("acme.example", "192.0.2.10"), row("www.acme.example", "192.0.2.11"), row("alias.acme.example", "www.acme.example")];
        let assets = [asset("dc-block", "192.0.2.0/24"), asset("web", "192.0.2.11 198.51.100.4")];
        assert_eq!(names(&rows, &assets, "192.0.2.11"), ["www.acme.example", "alias.acme.example"]);
        // The asset that holds exactly the address brings its other addresses.
        let mut more = rows.to_vec();
        more.push(row("v4.acme.example", "198.51.100.4"));
        assert_eq!(names(&more, &assets, "192.0.2.11"), ["v4.acme.example", "www.acme.example", "alias.acme.example"]);
        // A CIDR means anything inside it.
        assert_eq!(names(&rows, &assets, "192.0.2.0/24"), ["acme.example", "www.acme.example", "alias.acme.example"]);
        more.push(row("printer.acme.example", "192.0.2.5"));
        assert_eq!(names(&more, &assets, "192.0.2.0/29"), ["printer.acme.example"]);
    }
}

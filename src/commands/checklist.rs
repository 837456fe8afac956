//! `dangle checklist TARGET…`: before a decommission, every record that still reaches the target —
//! directly or through CNAME / alias chains — with where it lives and the change to make.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::io::Write;
use std::net::IpAddr;

use anyhow::Context;
use dangle_model::cloud::{self, Key};
use dangle_model::DnsName;
use ipnet::IpNet;
use serde::Serialize;

use super::Outcome;
use crate::cli::{ChecklistArgs, ListFormatArg};
use crate::config::Config;
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

    fn add(&mut self, text: &str) -> anyhow::Result<()> {
        let t = text.trim();
        if let Ok(ip) = t.parse::<IpAddr>() {
            self.nets.push(IpNet::from(ip));
        } else if t.contains('/') && !t.starts_with('/') && !t.starts_with("arn:") {
            self.nets.push(dangle_model::parse_ip_or_cidr(t).map_err(anyhow::Error::msg).with_context(|| format!("target `{t}`"))?);
        } else if t.starts_with("arn:") || t.starts_with("/subscriptions/") || !t.contains('.') {
            self.ids.insert(t.to_ascii_lowercase());
            if let Some(b) = t.strip_prefix("arn:aws:s3:::") {
                self.buckets.insert(b.to_string());
            }
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
        let t = row.target.as_str();
        if t.is_empty() {
            return false;
        }
        if let Ok(ip) = t.parse::<IpAddr>() {
            return self.nets.iter().any(|n| n.contains(&ip));
        }
        if t.starts_with('/') || t.starts_with("arn:") {
            return self.ids.contains(&t.to_ascii_lowercase());
        }
        let Some(h) = row_host(t) else { return false };
        if self.hosts.contains(&h) {
            return true;
        }
        match cloud::classify(&h) {
            Some(m) if matches!(&m.key, Key::Name(b) if self.buckets.contains(b)) => true,
            Some(m) if m.implied_ip.is_some_and(|ip| self.nets.iter().any(|n| n.contains(&ip))) => true,
            Some(m) => t.starts_with("alias:") && m.key == Key::RecordName && self.buckets.contains(&row.record_name),
            None => false,
        }
    }
}

/// The host a row points at: a name, or an alias's name without `dualstack.`.
fn row_host(target: &str) -> Option<DnsName> {
    let t = target.strip_prefix("alias:").unwrap_or(target);
    DnsName::parse(t.strip_prefix("dualstack.").unwrap_or(t)).ok()
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
}

impl Hit {
    fn new(r: &ReportRow, via: String, change: String) -> Self {
        Self {
            record_name: r.record_name.clone(),
            record_type: r.record_type.clone(),
            set_id: r.set_id.clone(),
            target: r.target.clone(),
            zone: r.zone.clone(),
            source: r.source.clone(),
            account: r.account.clone(),
            location: r.place(),
            via,
            status: r.status,
            change,
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
        if let Some(h) = row_host(&r.target).filter(|_| r.target.parse::<IpAddr>().is_err()) {
            by_target.entry(h).or_default().push(i);
        }
    }
    let mut hits: Vec<Hit> = Vec::new();
    let mut seen = HashSet::new();
    let mut queue: VecDeque<(String, String)> = VecDeque::new();
    for (i, r) in rows.iter().enumerate() {
        if w.matches(r) && seen.insert(i) {
            let change = format!("remove or repoint `{} {} {}` in zone {} ({})", r.record_name, r.record_type, r.target, r.zone, r.place());
            hits.push(Hit::new(r, String::new(), change));
            queue.push_back((r.record_name.clone(), r.target.clone()));
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
            let change = format!("follows {name}: repoint `{} {} {}` ({}) or it dangles when {name} goes", r.record_name, r.record_type, r.target, r.place());
            hits.push(Hit::new(r, via.clone(), change));
            queue.push_back((r.record_name.clone(), via));
        }
    }
    hits.sort_by(|a, b| (!a.via.is_empty(), &a.zone, &a.record_name, &a.record_type, &a.set_id, &a.target).cmp(&(!b.via.is_empty(), &b.zone, &b.record_name, &b.record_type, &b.set_id, &b.target)));
    Ok(hits)
}

/// What to change, per place the records live: one `change-resource-record-sets` batch per Route53
/// hosted zone, the lines of zone files, the Azure record sets.
#[derive(Debug, Default, Serialize)]
pub struct Changes {
    pub route53: Vec<Route53Batch>,
    pub zone_files: Vec<FileEdit>,
    pub azure: Vec<AzureEdit>,
    /// Record sets no change could be written for (a provider without a change API dangle knows).
    pub by_hand: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Route53Batch {
    pub account: String,
    pub zone: String,
    pub hosted_zone_id: String,
    /// The AWS CLI command that applies `batch`, saved as `file`.
    pub command: String,
    pub file: String,
    pub batch: serde_json::Value,
}

#[derive(Debug, Serialize)]
pub struct FileEdit {
    pub file: String,
    pub line: u64,
    pub record: String,
    pub edit: String,
}

#[derive(Debug, Serialize)]
pub struct AzureEdit {
    pub record_set: String,
    pub edit: String,
    pub command: String,
}

/// A record set's identity among rows.
type SetKey = (String, String, String, String, String, String);

fn set_key(r: &ReportRow) -> SetKey {
    (r.source.clone(), r.account.clone(), r.zone.clone(), r.record_name.clone(), r.record_type.clone(), r.set_id.clone())
}

/// The host or address a record value names (`10 mail.example.com.` → `mail.example.com`).
fn value_target(v: &str) -> String {
    v.split_whitespace().last().unwrap_or(v).trim_end_matches('.').trim_matches('"').to_ascii_lowercase()
}

/// The changes that take every directly hit value out of its record set: the set deleted when all its
/// values go, else rewritten without them. Records that only follow a hit name are listed, not changed:
/// whether they go too is the owner's call once the name they follow is gone.
pub fn changes(store: &Store, rows: &[ReportRow], hits: &[Hit], targets: &[String]) -> anyhow::Result<Changes> {
    let mut out = Changes::default();
    let mut values: BTreeMap<SetKey, Vec<&ReportRow>> = BTreeMap::new();
    for r in rows {
        values.entry(set_key(r)).or_default().push(r);
    }
    let mut hit_sets: BTreeMap<SetKey, Vec<&Hit>> = BTreeMap::new();
    for h in hits.iter().filter(|h| h.via.is_empty()) {
        let key = (h.source.clone(), h.account.clone(), h.zone.clone(), h.record_name.clone(), h.record_type.clone(), h.set_id.clone());
        hit_sets.entry(key).or_default().push(h);
    }
    let mut batches: BTreeMap<(String, String), (String, String, Vec<serde_json::Value>)> = BTreeMap::new();
    for (key, set_hits) in &hit_sets {
        let all = values.get(key).map(Vec::as_slice).unwrap_or_default();
        let Some(first) = all.first() else { continue };
        let going: HashSet<String> = set_hits.iter().map(|h| value_target(h.target.strip_prefix("alias:").unwrap_or(&h.target))).collect();
        let whole = all.iter().all(|r| going.contains(&value_target(r.target.strip_prefix("alias:").unwrap_or(&r.target))));
        let label = format!("{} {}{}", first.record_name, first.record_type, if first.set_id.is_empty() { String::new() } else { format!(" ({})", first.set_id) });
        if let Some(spec) = store.record_spec(first)? {
            let zone_id = first.location.split("hosted zone ").nth(1).and_then(|s| s.split_whitespace().next()).unwrap_or_default().to_string();
            let mut spec: serde_json::Value = serde_json::from_str(&spec).context("a stored Route53 record set is not JSON")?;
            let change = if whole {
                serde_json::json!({ "Action": "DELETE", "ResourceRecordSet": spec })
            } else {
                if let Some(rr) = spec.get_mut("ResourceRecords").and_then(|v| v.as_array_mut()) {
                    rr.retain(|v| !going.contains(&value_target(v["Value"].as_str().unwrap_or_default())));
                }
                serde_json::json!({ "Action": "UPSERT", "ResourceRecordSet": spec })
            };
            let b = batches.entry((first.account.clone(), zone_id)).or_insert_with(|| (first.zone.clone(), first.source.clone(), Vec::new()));
            b.2.push(change);
        } else if let Some((file, line)) = first.location.rsplit_once(':').and_then(|(f, l)| Some((f, l.parse::<u64>().ok()?))) {
            for r in all.iter().filter(|r| whole || going.contains(&value_target(&r.target))) {
                out.zone_files.push(FileEdit {
                    file: file.to_string(),
                    line,
                    record: format!("{} {} {}", r.record_name, r.record_type, r.target),
                    edit: format!("delete the line `{} {} {}` (the set starts at line {line})", r.record_name, r.record_type, r.target),
                });
            }
        } else if first.location.starts_with("/subscriptions/") {
            let kind = first.record_type.to_ascii_lowercase();
            let (edit, command) = if whole {
                ("delete the record set".to_string(), format!("az network dns record-set {kind} delete --ids {} --yes", first.location))
            } else {
                let gone: Vec<&str> = set_hits.iter().map(|h| h.target.as_str()).collect();
                (format!("remove {} from the record set", gone.join(", ")), format!("az network dns record-set {kind} show --ids {}  # then remove the value(s) and update", first.location))
            };
            out.azure.push(AzureEdit { record_set: label, edit, command });
        } else {
            out.by_hand.push(format!("{label} in {} ({} / {})", first.zone, first.source, first.account));
        }
    }
    let what = targets.join(", ");
    for ((account, zone_id), (zone, _source, changes)) in batches {
        let file = format!("dangle-{zone_id}.json");
        out.route53.push(Route53Batch {
            command: format!("aws route53 change-resource-record-sets --hosted-zone-id {zone_id} --change-batch file://{file}"),
            batch: serde_json::json!({ "Comment": format!("dangle checklist: records that reach {what}"), "Changes": changes }),
            account,
            zone,
            hosted_zone_id: zone_id,
            file,
        });
    }
    Ok(out)
}

pub fn run(args: &ChecklistArgs) -> anyhow::Result<Outcome> {
    let mut store;
    let config = || Config::load(&args.store.config).context("checklist needs a stored run or a config to scan with");
    let lock = super::scan::CHECKLIST_LOCK_TIMEOUT;
    // A store that is not there yet (no file; a database dangle never wrote) is scanned into.
    let exists = match super::store_location(&args.store) {
        Ok(crate::store::Location::Sqlite(p)) => p.exists(),
        Ok(at @ crate::store::Location::Postgres { .. }) => !matches!(Store::open_existing(&at), Err(crate::store::StoreError::Empty { .. })),
        Err(_) => false,
    };
    let run = if args.fresh || !exists {
        let cfg = config()?;
        store = Store::open_for_run(cfg.store(args.store.db.as_deref()), lock)?;
        super::scan::scan_into(&cfg, &mut store, false, lock, Default::default())?.run
    } else {
        store = super::open_existing(&args.store)?;
        match store.latest_run()? {
            Some(r) => r,
            None => {
                // The store holds no run yet: scan into it, which needs it open for writing.
                let cfg = config().context("the store holds no run yet, so checklist scans with the config")?;
                store = Store::open_for_run(store.location(), lock)?;
                super::scan::scan_into(&cfg, &mut store, false, lock, Default::default())?.run
            }
        }
    };
    let rows = store.rows(run)?;
    let assets = store.assets(run)?;
    let hits = checklist(&rows, &assets, &args.targets)?;
    let changes = changes(&store, &rows, &hits, &args.targets)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let what = args.targets.join(", ");
    match args.format {
        ListFormatArg::Json => {
            serde_json::to_writer_pretty(&mut out, &serde_json::json!({ "run": run, "targets": args.targets, "records": hits, "changes": changes }))?;
            writeln!(out)?;
        }
        ListFormatArg::Csv => {
            let mut c = csv::Writer::from_writer(&mut out);
            c.write_record(["record_name", "record_type", "set_id", "target", "zone", "source", "account", "location", "via", "status", "change"])?;
            for h in &hits {
                report::write_fields(&mut c, [
                    &h.record_name, &h.record_type, &h.set_id, &h.target, &h.zone, &h.source, &h.account, &h.location, &h.via, h.status.as_str(), &h.change,
                ])?;
            }
            c.flush()?;
        }
        ListFormatArg::Markdown => {
            writeln!(out, "# dangle checklist — {what} (run {run})\n")?;
            if hits.is_empty() {
                writeln!(out, "No record reaches these targets: nothing in DNS stops the decommission.")?;
            } else {
                writeln!(out, "{} record(s) still reach {what}. Change them before the target goes, or they dangle.\n", hits.len())?;
                writeln!(out, "| record | type | zone | account | points at | via | where | change |\n| --- | --- | --- | --- | --- | --- | --- | --- |")?;
                for h in &hits {
                    writeln!(
                        out,
                        "| {} | {} | {} | {} | {} | {} | {} | {} |",
                        cell(&h.record_name),
                        h.record_type,
                        cell(&h.zone),
                        cell(&format!("{} / {}", h.source, h.account)),
                        cell(&h.target),
                        cell(&h.via),
                        cell(&h.location),
                        cell(&h.change)
                    )?;
                }
                write_changes_markdown(&mut out, &changes)?;
            }
        }
        ListFormatArg::Table => {
            if hits.is_empty() {
                writeln!(out, "no record in run {run} reaches {what}")?;
            } else {
                writeln!(out, "{} record(s) in run {run} reach {what}:", hits.len())?;
                let rows: Vec<Vec<String>> = hits
                    .iter()
                    .map(|h| {
                        let name = if h.set_id.is_empty() { h.record_name.clone() } else { format!("{} ({})", h.record_name, h.set_id) };
                        vec![name, h.record_type.clone(), h.zone.clone(), h.target.clone(), if h.via.is_empty() { "direct".into() } else { h.via.clone() }, h.location.clone()]
                    })
                    .collect();
                write!(out, "{}", report::table(&["RECORD", "TYPE", "ZONE", "POINTS AT", "VIA", "WHERE"], &rows, crate::cli::table_width()))?;
                for b in &changes.route53 {
                    writeln!(out, "Route53 {} ({}), save as {}, then: {}", b.zone, b.hosted_zone_id, b.file, b.command)?;
                    writeln!(out, "{}", serde_json::to_string_pretty(&b.batch)?)?;
                }
            }
        }
    }
    out.flush()?;
    // A decommission pipeline gates on this: 1 while anything still points at the target.
    Ok(Outcome { findings: hits.len(), gaps: 0 })
}

/// The changes section of the Markdown checklist.
fn write_changes_markdown(out: &mut impl Write, c: &Changes) -> std::io::Result<()> {
    writeln!(out, "\n## Changes to make\n")?;
    writeln!(out, "Only the records that point at the target itself are changed here: a set is deleted when every value goes, else rewritten without them. Records that follow one of them (the `via` column) dangle once it is gone: repoint or delete them too. During a migration, lower the TTL first.\n")?;
    for b in &c.route53 {
        writeln!(out, "### Route53 {} (hosted zone {}, account {})\n", b.zone, b.hosted_zone_id, b.account)?;
        writeln!(out, "Save the batch as `{}`, then run:\n\n```sh\n{}\n```\n", b.file, b.command)?;
        writeln!(out, "```json\n{}\n```\n", serde_json::to_string_pretty(&b.batch).unwrap_or_default())?;
    }
    if !c.zone_files.is_empty() {
        writeln!(out, "### Zone files\n")?;
        for e in &c.zone_files {
            writeln!(out, "- `{}:{}`: {}", e.file, e.line, cell(&e.edit))?;
        }
        writeln!(out, "\nThen raise the zone's SOA serial and reload the name servers.\n")?;
    }
    if !c.azure.is_empty() {
        writeln!(out, "### Azure DNS\n")?;
        for e in &c.azure {
            writeln!(out, "- {}: {}\n\n  ```sh\n  {}\n  ```", cell(&e.record_set), e.edit, e.command)?;
        }
        writeln!(out)?;
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
            target: target.into(),
            zone: "acme.example".into(),
            source: "zones".into(),
            account: "acme.zone".into(),
            status: crate::reconcile::Status::Owned,
            severity: crate::reconcile::Severity::Info,
            claimable: crate::reconcile::Claimable::No,
            reason: String::new(),
            probe_verdict: crate::probe::Verdict::NotProbed,
            probe_detail: String::new(),
            first_seen: String::new(),
            location: "acme.zone:3".into(),
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

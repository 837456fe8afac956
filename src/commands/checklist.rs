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
use crate::store::{AssetRow, ReportRow, Store};
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

pub fn run(args: &ChecklistArgs) -> anyhow::Result<Outcome> {
    let mut store;
    let config = || Config::load(&args.store.config).context("checklist needs a stored run or a config to scan with");
    let lock = super::scan::CHECKLIST_LOCK_TIMEOUT;
    let exists = super::store_path(&args.store).is_ok_and(|p| p.exists());
    let run = if args.fresh || !exists {
        let cfg = config()?;
        store = Store::open_for_run(args.store.db.as_deref().unwrap_or(&cfg.db), lock)?;
        super::scan::scan_into(&cfg, &mut store, false, lock, Default::default())?.run
    } else {
        store = super::open_existing(&args.store)?;
        match store.latest_run()? {
            Some(r) => r,
            None => {
                // The store holds no run yet: scan into it, which needs it open for writing.
                let cfg = config().context("the store holds no run yet, so checklist scans with the config")?;
                store = Store::open_for_run(store.path(), lock)?;
                super::scan::scan_into(&cfg, &mut store, false, lock, Default::default())?.run
            }
        }
    };
    let rows = store.rows(run)?;
    let assets = store.assets(run)?;
    let hits = checklist(&rows, &assets, &args.targets)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match args.format {
        ListFormatArg::Json => {
            serde_json::to_writer_pretty(&mut out, &serde_json::json!({ "run": run, "targets": args.targets, "records": hits }))?;
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
            writeln!(out, "# dangle checklist — {} (run {run})\n", args.targets.join(", "))?;
            if hits.is_empty() {
                writeln!(out, "No record reaches these targets.")?;
            } else {
                writeln!(out, "| record | type | zone | points at | via | where | change |\n| --- | --- | --- | --- | --- | --- | --- |")?;
                for h in &hits {
                    writeln!(
                        out,
                        "| {} | {} | {} | {} | {} | {} | {} |",
                        cell(&h.record_name),
                        h.record_type,
                        cell(&h.zone),
                        cell(&h.target),
                        cell(&h.via),
                        cell(&h.location),
                        cell(&h.change)
                    )?;
                }
            }
        }
        ListFormatArg::Table => {
            if hits.is_empty() {
                writeln!(out, "no record in run {run} reaches {}", args.targets.join(", "))?;
            } else {
                writeln!(out, "{} record(s) in run {run} reach {}:", hits.len(), args.targets.join(", "))?;
                let rows: Vec<Vec<String>> = hits
                    .iter()
                    .map(|h| {
                        let name = if h.set_id.is_empty() { h.record_name.clone() } else { format!("{} ({})", h.record_name, h.set_id) };
                        vec![name, h.record_type.clone(), h.zone.clone(), h.target.clone(), if h.via.is_empty() { "direct".into() } else { h.via.clone() }, h.location.clone()]
                    })
                    .collect();
                write!(out, "{}", report::table(&["RECORD", "TYPE", "ZONE", "POINTS AT", "VIA", "WHERE"], &rows, crate::cli::table_width()))?;
            }
        }
    }
    out.flush()?;
    Ok(Outcome::default())
}

#[cfg(test)]
mod tests {
    use super::checklist;
    use crate::store::{AssetRow, ReportRow};

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

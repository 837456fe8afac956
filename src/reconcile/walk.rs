//! The walk: one thread's judgement of records, following CNAME and alias chains through our own
//! zones (memoised), wildcards and delegations, down to what holds each target.

use dangle_model::cloud::Key;
use dangle_model::{DnsName, DnsRecord, RecordType, Target};
use rustc_hash::{FxHashMap, FxHashSet};

use super::*;

/// One thread's walk state: memo of judged names and the wildcard existence sets.
pub(super) struct Walker<'c, 'a> {
    pub(super) ctx: &'c Ctx<'a>,
    /// The view the current record resolves in: its zone's (a chain never changes view).
    pub(super) private_view: bool,
    pub(super) memo: FxHashMap<(DnsName, bool), Outcome>,
    pub(super) ents: FxHashMap<u32, FxHashSet<&'a str>>,
    pub(super) stack: Vec<DnsName>,
}

impl<'c, 'a> Walker<'c, 'a> {
    pub(super) fn new(ctx: &'c Ctx<'a>) -> Self {
        Self { ctx, private_view: false, memo: FxHashMap::default(), ents: FxHashMap::default(), stack: Vec::new() }
    }

    /// Judges `range` of the records into `out`, which holds exactly their rows.
    pub(super) fn judge_into(&mut self, range: std::ops::Range<usize>, out: &mut [Judgement]) {
        let mut k = 0;
        for i in range {
            let r = &self.ctx.inp.records[i];
            let record = i as u32;
            self.private_view = r.zone_private;
            if r.targets.is_empty() {
                out[k] = Judgement::new(record, None, Outcome::new(Status::NoTarget, Claimable::No, Reason::NoTarget(r.rtype.clone())));
                k += 1;
                continue;
            }
            for (ti, t) in r.targets.iter().enumerate() {
                let o = self.ctx.verified_binding(r, self.judge_target(r, t));
                out[k] = Judgement::new(record, Some(ti as u32), o);
                k += 1;
            }
        }
        debug_assert_eq!(k, out.len());
    }

    pub(super) fn judge_target(&mut self, r: &DnsRecord, t: &Target) -> Outcome {
        match t {
            Target::Ip(ip) => self.ctx.judge_ip(*ip),
            Target::Host(h) if r.rtype == RecordType::Ns => self.judge_ns(r, h),
            Target::Host(h) => self.judge_host(h, 0),
            Target::Alias { dns_name, .. } => self.judge_alias(r, dns_name, 0),
            Target::Resource { id } => self.ctx.judge_resource(id),
        }
    }

    pub(super) fn judge_host(&mut self, name: &DnsName, depth: usize) -> Outcome {
        if let Some(o) = self.memo.get(&(name.clone(), self.private_view)) {
            return o.clone();
        }
        if let Some(pos) = self.stack.iter().position(|n| n == name) {
            let mut chain: Vec<DnsName> = self.stack[pos..].to_vec();
            chain.push(name.clone());
            let mut o = Outcome::detail(Status::Dangling, Claimable::No, Detail::Loop { chain });
            o.partial = true;
            return o;
        }
        if depth >= MAX_CHAIN {
            let mut o = Outcome::detail(Status::Unverified, Claimable::Unknown, Detail::TooDeep);
            o.partial = true;
            return o;
        }
        let ctx = self.ctx;
        if let Some(i) = ctx.hosts.get(name) {
            return ctx.owned(*i);
        }
        // Chains through our own zones recur and cost a walk: memoise those. Everything else is a
        // single classification, cheaper to redo than to remember.
        if let Some(zone) = ctx.zone_of(name, self.private_view) {
            self.stack.push(name.clone());
            let o = self.resolve_in_zone(name, zone, depth);
            self.stack.pop();
            if !o.partial {
                self.memo.insert((name.clone(), self.private_view), o.clone());
            }
            return o;
        }
        self.judge_foreign_host(name)
    }

    /// A name outside every inventoried zone: a service name, a former asset, or someone else's.
    pub(super) fn judge_foreign_host(&mut self, name: &DnsName) -> Outcome {
        let ctx = self.ctx;
        if let Some(m) = self.ctx.clouds.classify(name) {
            if let Some(ip) = m.implied_ip {
                return ctx.judge_ip(ip).via(name);
            }
            if let Key::Name(b) = &m.key {
                return ctx.judge_bucket(m.service, b);
            }
            if let Some(f) = ctx.inp.history.hosts.get(name) {
                return ctx.released(*f, Held::Name, m.claimable);
            }
            if !ctx.judges(m.service, m.enumerated) {
                return Outcome::detail(Status::External, m.claimable, Detail::NotJudged { service: m.service });
            }
            let scope = ctx.scope(&ScopeKey::Cloud(m.service.cloud), m.region.as_deref(), Some(Namespace::Names(m.service)));
            let status = scope.status();
            return Outcome::detail(status, m.claimable, Detail::Service { name: name.clone(), service: m.service, region: m.region, scope });
        }
        if let Some(f) = ctx.inp.history.hosts.get(name) {
            return ctx.released(*f, Held::Name, Claimable::Unknown);
        }
        if let Some(service) = suffixes::known_takeover(name) {
            return Outcome::detail(Status::External, Claimable::Yes, Detail::KnownTakeover { service });
        }
        Outcome::detail(Status::External, Claimable::Unknown, Detail::ExternalHost { name: name.clone() })
    }

    pub(super) fn resolve_in_zone(&mut self, name: &DnsName, zi: u32, depth: usize) -> Outcome {
        let ctx = self.ctx;
        let info = &ctx.zones[zi as usize];
        let zone = info.name;
        if let Some(cut) = info.delegations.iter().filter(|d| name.is_within(d)).max_by_key(|d| d.label_count()) {
            let ns: Vec<(&DnsRecord, &DnsName)> = ctx
                .records_at(cut.as_fqdn(), zi)
                .filter(|r| r.rtype == RecordType::Ns)
                .flat_map(|r| r.targets.iter().filter_map(move |t| if let Target::Host(h) = t { Some((r, h)) } else { None }))
                .collect();
            let outs: Vec<Outcome> = ns.into_iter().map(|(r, h)| self.judge_ns(r, h)).collect();
            if let Some(o) = Outcome::worst(outs) {
                let reason = Reason::detail(Detail::Delegated { cut: cut.clone(), zone: zone.clone(), inner: o.reason });
                return Outcome { reason, ..o };
            }
        }
        let here: Vec<&DnsRecord> = ctx.records_at(name.as_fqdn(), zi).collect();
        if !here.is_empty() {
            return match self.addresses(&here, depth) {
                Some(o) => o.via(name),
                None => Outcome::detail(Status::Dangling, Claimable::No, Detail::NoAddress { name: name.clone(), zone: zone.clone() }),
            };
        }
        if info.has_wildcard {
            if let Some(o) = self.wildcard(name, zi, depth) {
                return o;
            }
        }
        let gap = ctx.zone_gap(info);
        let status = if gap.is_some() { Status::Unverified } else { Status::Dangling };
        Outcome::detail(status, Claimable::No, Detail::Missing { name: name.clone(), zone: zone.clone(), gap })
    }

    /// The addresses that the record sets at a name lead to; `None` if none of them carries any.
    pub(super) fn addresses(&mut self, here: &[&DnsRecord], depth: usize) -> Option<Outcome> {
        let mut outs = Vec::new();
        for r in here {
            for t in &r.targets {
                match (&r.rtype, t) {
                    (RecordType::Cname, Target::Host(h)) => outs.push(self.judge_host(h, depth + 1)),
                    (RecordType::A | RecordType::Aaaa, Target::Ip(ip)) => outs.push(self.ctx.judge_ip(*ip)),
                    (_, Target::Alias { dns_name, .. }) => outs.push(self.judge_alias(r, dns_name, depth + 1)),
                    (_, Target::Resource { id }) => outs.push(self.ctx.judge_resource(id)),
                    _ => {}
                }
            }
        }
        Outcome::worst(outs)
    }

    /// RFC 4592: the wildcard at the closest encloser, if the name does not exist as an empty non-terminal.
    pub(super) fn wildcard(&mut self, name: &DnsName, zi: u32, depth: usize) -> Option<Outcome> {
        let ctx = self.ctx;
        let zone = ctx.zones[zi as usize].name;
        let existing = self.ents.entry(zi).or_insert_with(|| {
            let mut set = FxHashSet::default();
            let private = ctx.zones[zi as usize].private;
            for r in ctx.inp.records.iter().filter(|r| &r.zone == zone && r.zone_private == private) {
                let mut s = r.name.as_fqdn();
                while s.len() >= zone.as_fqdn().len() && set.insert(s) {
                    match s.find('.') {
                        Some(d) if d + 1 < s.len() => s = &s[d + 1..],
                        _ => break,
                    }
                }
            }
            set
        });
        if existing.contains(name.as_fqdn()) {
            return None;
        }
        let encloser = name.ancestors().skip(1).take_while(|a| a.is_within(zone)).find(|a| existing.contains(a.as_fqdn()))?;
        let wild = DnsName::wildcard_of(&encloser);
        let here: Vec<&DnsRecord> = ctx.records_at(wild.as_fqdn(), zi).collect();
        if here.is_empty() {
            return None;
        }
        let o = self
            .addresses(&here, depth)
            .unwrap_or_else(|| Outcome::detail(Status::Dangling, Claimable::No, Detail::NoAddress { name: wild.clone(), zone: zone.clone() }));
        Some(o.via(&wild))
    }

    pub(super) fn judge_alias(&mut self, r: &DnsRecord, dns_name: &DnsName, depth: usize) -> Outcome {
        let name = match dns_name.as_str().strip_prefix("dualstack.") {
            Some(rest) => DnsName::parse(rest).unwrap_or_else(|_| dns_name.clone()),
            None => dns_name.clone(),
        };
        if let Some(m) = self.ctx.clouds.classify(&name).filter(|m| m.key == Key::RecordName) {
            return self.ctx.judge_bucket(m.service, r.name.as_str());
        }
        self.judge_host(&name, depth)
    }

    pub(super) fn judge_ns(&mut self, r: &DnsRecord, target: &DnsName) -> Outcome {
        let ctx = self.ctx;
        let delegated = &r.name;
        if r.name != r.zone {
            // Delegations are public: the child is the public zone of that name.
            if let Some(child) = ctx.zone_by_fqdn.get(&(delegated.as_fqdn(), false)).map(|z| &ctx.zones[*z as usize]) {
                if child.apex_ns.is_empty() || child.apex_ns.contains(target) {
                    return Outcome::detail(Status::Owned, Claimable::No, Detail::HeldZone { zone: delegated.clone() });
                }
            }
        }
        if let Some(zs) = ctx.zone_assets.get(delegated) {
            let held = zs.iter().find(|i| {
                let hosts = &ctx.inp.assets[**i as usize].hosts;
                hosts.len() <= 1 || hosts[1..].contains(target)
            });
            if let Some(i) = held {
                let mut o = Outcome::detail(Status::Owned, Claimable::No, Detail::HeldZoneAsset { asset: *i });
                o.owner = Some(*i);
                return o;
            }
        }
        if let Some(service) = self.ctx.clouds.nameserver(target) {
            let held_elsewhere = ctx.zone_assets.contains_key(delegated);
            let scope = ctx.scope(&ScopeKey::Cloud(service.cloud), None, Some(Namespace::NameServers));
            let status = scope.status();
            return Outcome::detail(
                status,
                Claimable::Yes,
                Detail::Ns { delegated: delegated.clone(), target: target.clone(), service, held_elsewhere, scope },
            );
        }
        self.judge_host(target, 0)
    }
}

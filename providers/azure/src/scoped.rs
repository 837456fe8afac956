//! What an Activity Log event asks to read again ([`dangle_model::Provider::enumerate_scope`]): the
//! event names a resource type (`microsoft.network/publicipaddresses`, `microsoft.web/sites/slots`,
//! `microsoft.network/dnszones/a`); the provider reads again the lists that hold that type — and every
//! list sharing a gap service or an asset kind with them, so that what the read replaces in the stored
//! inventory is exactly what it read. A type dangle does not read (a virtual machine, a resource group)
//! reads the whole subscription again: deleting a resource group deletes everything in it.

use dangle_model::{AssetKind, Part};

use crate::resources::{self, Type};

/// The lists to read again for some resource types.
pub struct Plan {
    /// Public and private DNS: zones and record sets (the records of the subscription).
    pub dns: bool,
    /// Resource types, in [`resources::TYPES`] order.
    pub types: Vec<&'static Type>,
    /// The whole subscription (a type no list holds).
    pub whole: bool,
}

/// `providers/Microsoft.Network/publicIPAddresses` → `microsoft.network/publicipaddresses`.
fn type_name(t: &Type) -> String {
    t.path.trim_start_matches("providers/").to_ascii_lowercase()
}

/// The asset kinds a type's list yields (its own and its children's).
pub fn kinds_of(t: &Type) -> Vec<AssetKind> {
    let mut kinds = vec![t.kind.clone()];
    for (child, _) in t.children {
        let k = resources::child_kind(t, child);
        if !kinds.contains(&k) {
            kinds.push(k);
        }
    }
    kinds
}

fn is_or_under(kind: &str, prefix: &str) -> bool {
    kind.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The plan for `kinds` (resource types as the event parser writes them: lower case, no operation).
pub fn plan(kinds: &[Part]) -> Plan {
    let mut p = Plan { dns: false, types: Vec::new(), whole: false };
    for k in kinds.iter().map(|k| k.as_str().to_ascii_lowercase()) {
        if is_or_under(&k, "microsoft.network/dnszones") || is_or_under(&k, "microsoft.network/privatednszones") {
            p.dns = true;
            continue;
        }
        let hit: Vec<&'static Type> = resources::TYPES.iter().filter(|t| is_or_under(&k, &type_name(t))).collect();
        if hit.is_empty() {
            return Plan { dns: true, types: resources::TYPES.iter().collect(), whole: true };
        }
        p.types.extend(hit);
    }
    // Close over shared gap services and asset kinds: replacing `network`'s gaps or Front Door's
    // assets means reading every list that makes them.
    loop {
        let services: Vec<&Part> = p.types.iter().map(|t| &t.service).collect();
        let kinds: Vec<AssetKind> = p.types.iter().flat_map(|t| kinds_of(t)).collect();
        let more: Vec<&'static Type> = resources::TYPES
            .iter()
            .filter(|t| !p.types.iter().any(|h| std::ptr::eq(*h, *t)))
            .filter(|t| services.contains(&&t.service) || kinds_of(t).iter().any(|k| kinds.contains(k)))
            .collect();
        if more.is_empty() {
            break;
        }
        p.types.extend(more);
    }
    p.types.sort_by_key(|t| resources::TYPES.iter().position(|x| std::ptr::eq(x, *t)));
    p.types.dedup_by(|a, b| std::ptr::eq(*a, *b));
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    fn what(p: &Plan) -> Vec<&'static str> {
        p.types.iter().map(|t| t.what).collect()
    }

    #[test]
    fn a_deleted_resource_reads_its_list_and_the_lists_sharing_its_gaps_or_kinds() {
        let p = plan(&["microsoft.network/publicipaddresses".into()]);
        assert_eq!((p.dns, p.whole), (false, false));
        assert_eq!(what(&p), ["public IP addresses", "public IP prefixes"], "one gap service: network");
        assert_eq!(what(&plan(&["microsoft.web/sites/slots".into()])), ["App Service sites"]);
        // CDN's Front Door Standard children are Front Door assets: classic Front Door is read too.
        assert_eq!(what(&plan(&["microsoft.cdn/profiles/endpoints".into()])), ["CDN and Front Door profiles", "Front Door (classic) profiles"]);
        assert_eq!(what(&plan(&["microsoft.app/containerapps".into()])), ["container apps", "container app environments"]);
        let dns = plan(&["microsoft.network/dnszones/cname".into()]);
        assert_eq!((dns.dns, dns.types.len(), dns.whole), (true, 0, false));
        assert!(plan(&["microsoft.network/privatednszones/a".into()]).dns);
        // `dnszonesx` is not a DNS zone; a VM or a resource group is no list of ours: all of it.
        for other in ["microsoft.network/dnszonesx", "microsoft.compute/virtualmachines", "microsoft.resources/resourcegroups"] {
            let p = plan(&[other.into()]);
            assert!(p.whole && p.dns && p.types.len() == resources::TYPES.len(), "{other}");
        }
    }
}

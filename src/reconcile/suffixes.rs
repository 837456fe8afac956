//! Takeover-prone SaaS names: the can-i-take-over-xyz list (CC BY 4.0), by CNAME suffix. What dangle
//! knows of the clouds themselves (service suffixes, name servers, claimability) is in
//! `dangle_model::cloud`.

use std::net::IpAddr;
use std::sync::OnceLock;

use dangle_model::cloud::ends_with_label;
use dangle_model::DnsName;

/// A service listed as vulnerable to takeover by can-i-take-over-xyz (CC BY 4.0), by CNAME suffix.
pub fn known_takeover(name: &DnsName) -> Option<&'static str> {
    static LIST: OnceLock<Vec<(String, String)>> = OnceLock::new();
    let list = LIST.get_or_init(|| {
        let raw: serde_json::Value =
            serde_json::from_str(include_str!("data/can-i-take-over-xyz-fingerprints.json")).unwrap_or(serde_json::Value::Null);
        let mut out = Vec::new();
        for e in raw.as_array().into_iter().flatten() {
            if e.get("vulnerable").and_then(|v| v.as_bool()) != Some(true) {
                continue;
            }
            let service = e.get("service").and_then(|s| s.as_str()).unwrap_or("?").to_string();
            for c in e.get("cname").and_then(|c| c.as_array()).into_iter().flatten() {
                if let Some(c) = c.as_str().and_then(|c| DnsName::parse(c).ok()) {
                    if c.label_count() >= 2 && c.as_str().parse::<IpAddr>().is_err() {
                        out.push((c.as_str().to_string(), service.clone()));
                    }
                }
            }
        }
        out
    });
    let n = name.as_str();
    list.iter().find(|(s, _)| ends_with_label(n, s) && n.len() > s.len()).map(|(_, svc)| svc.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takeover_list_is_loaded() {
        assert_eq!(known_takeover(&DnsName::parse("docs.readme.io").unwrap()), Some("Readme.io"));
        assert_eq!(known_takeover(&DnsName::parse("www.example.org").unwrap()), None);
    }
}

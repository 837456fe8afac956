//! Takeover-prone SaaS names: the can-i-take-over-xyz list (CC BY 4.0), by CNAME suffix. What dangle
//! knows of the clouds themselves (service suffixes, name servers, claimability) is in
//! `dangle_model::cloud`.

use dangle_model::DnsName;

/// A service listed as vulnerable to takeover by can-i-take-over-xyz (CC BY 4.0), by CNAME suffix.
pub fn known_takeover(name: &DnsName) -> Option<&'static str> {
    super::fingerprints::known_takeover(name)
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

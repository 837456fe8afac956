//! Longest-prefix lookup over IPv4 and IPv6 prefixes: one hash map per prefix length present, probed from
//! the longest. With the handful of lengths real inventories use, a lookup is a few hash probes.

use std::net::IpAddr;

use ipnet::IpNet;
use rustc_hash::FxHashMap;

#[derive(Debug, Clone)]
pub struct PrefixIndex<T> {
    v4: Vec<(u8, FxHashMap<u32, T>)>,
    v6: Vec<(u8, FxHashMap<u128, T>)>,
}

impl<T> Default for PrefixIndex<T> {
    fn default() -> Self {
        Self { v4: Vec::new(), v6: Vec::new() }
    }
}

fn mask4(a: u32, len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        a & (u32::MAX << (32 - u32::from(len)))
    }
}

fn mask6(a: u128, len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        a & (u128::MAX << (128 - u32::from(len)))
    }
}

impl<T> PrefixIndex<T> {
    /// Inserts `net`; the first value inserted for a prefix is kept.
    pub fn insert(&mut self, net: IpNet, value: T) {
        match net {
            IpNet::V4(n) => {
                let len = n.prefix_len();
                let key = mask4(u32::from(n.network()), len);
                slot(&mut self.v4, len).entry(key).or_insert(value);
            }
            IpNet::V6(n) => {
                let len = n.prefix_len();
                let key = mask6(u128::from(n.network()), len);
                slot(&mut self.v6, len).entry(key).or_insert(value);
            }
        }
    }

    /// Makes room for `v4` IPv4 and `v6` IPv6 host addresses (/32, /128), the bulk of an inventory, so
    /// that building the index never holds two copies of its largest table.
    pub fn reserve_hosts(&mut self, v4: usize, v6: usize) {
        slot(&mut self.v4, 32).reserve(v4);
        slot(&mut self.v6, 128).reserve(v6);
    }

    /// The value of the longest prefix holding `ip`.
    pub fn lookup(&self, ip: IpAddr) -> Option<&T> {
        match ip {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                self.v4.iter().find_map(|(len, m)| m.get(&mask4(a, *len)))
            }
            IpAddr::V6(a) => {
                if let Some(v4) = a.to_ipv4_mapped() {
                    return self.lookup(IpAddr::V4(v4));
                }
                let a = u128::from(a);
                self.v6.iter().find_map(|(len, m)| m.get(&mask6(a, *len)))
            }
        }
    }

    /// Every value whose prefix lies inside `net` or holds it (for reverse look-ups of CIDR targets).
    pub fn overlapping(&self, net: IpNet) -> Vec<&T> {
        let mut out = Vec::new();
        match net {
            IpNet::V4(n) => {
                let base = u32::from(n.network());
                for (len, m) in &self.v4 {
                    if *len <= n.prefix_len() {
                        out.extend(m.get(&mask4(base, *len)));
                    } else {
                        out.extend(m.iter().filter(|(k, _)| mask4(**k, n.prefix_len()) == base).map(|(_, v)| v));
                    }
                }
            }
            IpNet::V6(n) => {
                let base = u128::from(n.network());
                for (len, m) in &self.v6 {
                    if *len <= n.prefix_len() {
                        out.extend(m.get(&mask6(base, *len)));
                    } else {
                        out.extend(m.iter().filter(|(k, _)| mask6(**k, n.prefix_len()) == base).map(|(_, v)| v));
                    }
                }
            }
        }
        out
    }

    pub fn len(&self) -> usize {
        self.v4.iter().map(|(_, m)| m.len()).sum::<usize>() + self.v6.iter().map(|(_, m)| m.len()).sum::<usize>()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn slot<K, T>(v: &mut Vec<(u8, FxHashMap<K, T>)>, len: u8) -> &mut FxHashMap<K, T> {
    let pos = match v.iter().position(|(l, _)| *l <= len) {
        Some(i) if v[i].0 == len => i,
        Some(i) => {
            v.insert(i, (len, FxHashMap::default()));
            i
        }
        None => {
            v.push((len, FxHashMap::default()));
            v.len() - 1
        }
    };
    &mut v[pos].1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_prefix_wins_v4_and_v6() {
        let mut ix = PrefixIndex::default();
        ix.insert("10.0.0.0/8".parse().unwrap(), "eight");
        ix.insert("10.1.0.0/16".parse().unwrap(), "sixteen");
        ix.insert("10.1.2.3/32".parse().unwrap(), "host");
        ix.insert("2001:db8::/32".parse().unwrap(), "v6");
        ix.insert("2001:db8:1::/48".parse().unwrap(), "v6-48");
        assert_eq!(ix.lookup("10.1.2.3".parse().unwrap()), Some(&"host"));
        assert_eq!(ix.lookup("10.1.9.9".parse().unwrap()), Some(&"sixteen"));
        assert_eq!(ix.lookup("10.9.9.9".parse().unwrap()), Some(&"eight"));
        assert_eq!(ix.lookup("11.0.0.1".parse().unwrap()), None);
        assert_eq!(ix.lookup("2001:db8:1::5".parse().unwrap()), Some(&"v6-48"));
        assert_eq!(ix.lookup("2001:db8:2::5".parse().unwrap()), Some(&"v6"));
        assert_eq!(ix.lookup("::ffff:10.1.2.3".parse().unwrap()), Some(&"host"));
        assert_eq!(ix.len(), 5);
    }

    #[test]
    fn overlapping_finds_inner_and_outer() {
        let mut ix = PrefixIndex::default();
        ix.insert("10.0.0.0/8".parse().unwrap(), 1);
        ix.insert("10.1.2.3/32".parse().unwrap(), 2);
        ix.insert("10.2.0.1/32".parse().unwrap(), 3);
        let mut v: Vec<i32> = ix.overlapping("10.1.0.0/16".parse().unwrap()).into_iter().copied().collect();
        v.sort();
        assert_eq!(v, [1, 2]);
    }
}

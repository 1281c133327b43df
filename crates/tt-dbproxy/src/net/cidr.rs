//! [`IpNet`]: an address range written as CIDR (`10.0.0.0/8`,
//! `fd00::/8`) or a single address, the entries of `server.allow_peers`.
//!
//! Peers are matched by their canonical address, so an IPv4 client of a
//! dual-stack listener (`::ffff:10.1.2.3`) matches `10.0.0.0/8`; for the
//! same reason an IPv4-mapped range (`::ffff:10.0.0.0/104`) is read as
//! the IPv4 range it names.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An address and a prefix length; the bits past the prefix are zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

/// Why a text is not an [`IpNet`]; the message names the text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpNetError {
    /// The part before `/` is not an IPv4 or IPv6 address.
    #[error("{0:?} is not an IP address or CIDR range (such as 10.0.0.0/8, fd00::/8 or 127.0.0.1)")]
    NotAnAddress(String),
    /// The part after `/` is not a number up to 32 (IPv4) or 128 (IPv6).
    #[error("{text:?}: the prefix length must be a whole number from 0 to {max}")]
    BadPrefix {
        /// The entry as written.
        text: String,
        /// 32 or 128.
        max: u8,
    },
    /// The address has bits set past the prefix (`10.0.0.1/8`), which is
    /// most likely a typo for a single address or for the network.
    #[error(
        "{text:?} has bits set past its prefix: write the range as {network} or the address alone"
    )]
    HostBits {
        /// The entry as written.
        text: String,
        /// The range the prefix names.
        network: String,
    },
}

fn mask32(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask128(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl IpNet {
    /// The first address of the range.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// Whether `peer` (its canonical form: IPv4-mapped IPv6 as IPv4) lies
    /// in the range.
    pub fn contains(&self, peer: IpAddr) -> bool {
        match (self.addr, peer.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                (u32::from(net) ^ u32::from(ip)) & mask32(self.prefix) == 0
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                (u128::from(net) ^ u128::from(ip)) & mask128(self.prefix) == 0
            }
            _ => false,
        }
    }

    fn masked(addr: IpAddr, prefix: u8) -> IpAddr {
        match addr {
            IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask32(prefix))),
            IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask128(prefix))),
        }
    }
}

impl FromStr for IpNet {
    type Err = IpNetError;

    fn from_str(text: &str) -> Result<Self, IpNetError> {
        let s = text.trim();
        let (addr_text, prefix_text) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr_text
            .parse()
            .map_err(|_| IpNetError::NotAnAddress(s.to_string()))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix_text {
            None => max,
            Some(p) => p
                .bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| p.parse::<u8>().ok())
                .flatten()
                .filter(|n| *n <= max)
                .ok_or_else(|| IpNetError::BadPrefix {
                    text: s.to_string(),
                    max,
                })?,
        };
        let (addr, prefix) = match addr {
            IpAddr::V6(v6) if prefix >= 96 && v6.to_ipv4_mapped().is_some() => (
                IpAddr::V4(Ipv4Addr::from(u128::from(v6) as u32)),
                prefix - 96,
            ),
            other => (other, prefix),
        };
        let net = Self {
            addr: Self::masked(addr, prefix),
            prefix,
        };
        if net.addr != addr {
            return Err(IpNetError::HostBits {
                text: s.to_string(),
                network: net.to_string(),
            });
        }
        Ok(net)
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let full = if self.addr.is_ipv4() { 32 } else { 128 };
        if self.prefix == full {
            write!(f, "{}", self.addr)
        } else {
            write!(f, "{}/{}", self.addr, self.prefix)
        }
    }
}

/// Whether `peer` may connect under `allow`: an empty list allows anyone
/// (the original's behaviour), otherwise the peer must lie in an entry.
pub fn allows(allow: &[IpNet], peer: IpAddr) -> bool {
    allow.is_empty() || allow.iter().any(|net| net.contains(peer))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ipv4_ranges() {
        let n = net("10.0.0.0/8");
        assert!(n.contains(ip("10.0.0.0")));
        assert!(n.contains(ip("10.255.255.255")));
        assert!(!n.contains(ip("11.0.0.0")));
        assert!(!n.contains(ip("9.255.255.255")));
        let n = net("192.168.1.128/25");
        assert!(n.contains(ip("192.168.1.200")));
        assert!(!n.contains(ip("192.168.1.127")));
        assert_eq!(n.to_string(), "192.168.1.128/25");
    }

    #[test]
    fn edge_prefixes() {
        let any4 = net("0.0.0.0/0");
        assert!(any4.contains(ip("1.2.3.4")));
        assert!(any4.contains(ip("255.255.255.255")));
        assert!(!any4.contains(ip("::1")), "an IPv4 range never holds IPv6");
        let one = net("127.0.0.1/32");
        assert_eq!(one, net("127.0.0.1"));
        assert!(one.contains(ip("127.0.0.1")));
        assert!(!one.contains(ip("127.0.0.2")));
        assert_eq!(one.to_string(), "127.0.0.1");
        let any6 = net("::/0");
        assert!(any6.contains(ip("2001:db8::1")));
        assert!(!any6.contains(ip("10.0.0.1")));
        let one6 = net("::1/128");
        assert_eq!(one6, net("::1"));
        assert!(one6.contains(ip("::1")));
        assert!(!one6.contains(ip("::2")));
        let n = net("fd00::/8");
        assert!(n.contains(ip("fdff:ffff::1")));
        assert!(!n.contains(ip("fe00::1")));
    }

    #[test]
    fn ipv4_mapped_peers_match_as_ipv4() {
        assert!(net("10.0.0.0/8").contains(ip("::ffff:10.1.2.3")));
        assert!(!net("10.0.0.0/8").contains(ip("::ffff:11.1.2.3")));
        assert!(net("127.0.0.1").contains(ip("::ffff:127.0.0.1")));
        assert!(!net("::/0").contains(ip("::ffff:127.0.0.1")));
        // A mapped range is the IPv4 range it names.
        assert_eq!(net("::ffff:10.0.0.0/104"), net("10.0.0.0/8"));
        assert_eq!(net("::ffff:127.0.0.1"), net("127.0.0.1"));
        assert!(net("::ffff:10.0.0.0/104").contains(ip("10.9.9.9")));
        assert!(net("::ffff:10.0.0.0/104").contains(ip("::ffff:10.9.9.9")));
    }

    #[test]
    fn invalid_entries_are_refused_with_the_reason() {
        for bad in [
            "",
            "localhost",
            "10.0.0",
            "/8",
            "10.0.0.256",
            "::g",
            "10.0.0.0:80",
        ] {
            assert_eq!(
                bad.parse::<IpNet>(),
                Err(IpNetError::NotAnAddress(bad.to_string())),
                "{bad:?}"
            );
        }
        for (bad, max) in [
            ("10.0.0.0/33", 32),
            ("10.0.0.0/", 32),
            ("10.0.0.0/-1", 32),
            ("10.0.0.0/+8", 32),
            ("10.0.0.0/8/8", 32),
            ("10.0.0.0/x", 32),
            ("10.0.0.0/ 8", 32),
            ("10.0.0.0/999", 32),
            ("::/129", 128),
            ("::/", 128),
        ] {
            assert_eq!(
                bad.parse::<IpNet>(),
                Err(IpNetError::BadPrefix {
                    text: bad.to_string(),
                    max
                }),
                "{bad:?}"
            );
        }
        let e = "10.0.0.1/8".parse::<IpNet>().unwrap_err();
        assert_eq!(
            e,
            IpNetError::HostBits {
                text: "10.0.0.1/8".into(),
                network: "10.0.0.0/8".into()
            }
        );
        assert!(e.to_string().contains("10.0.0.0/8"), "{e}");
        assert!("fd00::1/8".parse::<IpNet>().is_err());
    }

    #[test]
    fn surrounding_spaces_are_ignored() {
        assert_eq!(net(" 10.0.0.0/8 "), net("10.0.0.0/8"));
    }

    #[test]
    fn an_empty_list_allows_anyone() {
        assert!(allows(&[], ip("203.0.113.9")));
        let list = [net("10.0.0.0/8"), net("::1")];
        assert!(allows(&list, ip("10.1.1.1")));
        assert!(allows(&list, ip("::1")));
        assert!(allows(&list, ip("::ffff:10.1.1.1")));
        assert!(!allows(&list, ip("127.0.0.1")));
    }
}

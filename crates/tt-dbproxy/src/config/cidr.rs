//! [`IpNet`]: an address range written as CIDR (`10.0.0.0/8`,
//! `fd00::/8`) or a single address, the entries of `server.allow_peers`.
//!
//! Peers are matched by their canonical address, so an IPv4 client of a
//! dual-stack listener (`::ffff:10.1.2.3`) matches `10.0.0.0/8`; for the
//! same reason an IPv4-mapped range (`::ffff:10.0.0.0/104`) is read as
//! the IPv4 range it names.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An address range as the `ipnet` crate holds it, with no bits set past
/// the prefix; IPv4-mapped ranges are held as IPv4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpNet(ipnet::IpNet);

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

impl IpNet {
    /// Whether `peer` (its canonical form: IPv4-mapped IPv6 as IPv4) lies
    /// in the range.
    pub fn contains(&self, peer: IpAddr) -> bool {
        self.0.contains(&peer.to_canonical())
    }
}

impl FromStr for IpNet {
    type Err = IpNetError;

    fn from_str(text: &str) -> Result<Self, IpNetError> {
        let s = text.trim();
        let (addr_text, prefix_text) = s.split_once('/').map_or((s, None), |(a, p)| (a, Some(p)));
        let addr: IpAddr = addr_text
            .parse()
            .map_err(|_| IpNetError::NotAnAddress(s.to_string()))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let bad_prefix = || IpNetError::BadPrefix {
            text: s.to_string(),
            max,
        };
        let prefix = match prefix_text {
            None => max,
            // Digits only: `u8::from_str` would also take `+8`.
            Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse().map_err(|_| bad_prefix())?
            }
            Some(_) => return Err(bad_prefix()),
        };
        let mapped = match addr {
            IpAddr::V6(v6) if prefix >= 96 => v6.to_ipv4_mapped(),
            _ => None,
        };
        let net = match mapped {
            Some(v4) => ipnet::IpNet::new(v4.into(), prefix - 96),
            None => ipnet::IpNet::new(addr, prefix),
        }
        .map_err(|_| bad_prefix())?;
        if net.trunc() != net {
            return Err(IpNetError::HostBits {
                text: s.to_string(),
                network: Self(net.trunc()).to_string(),
            });
        }
        Ok(Self(net))
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.prefix_len() == self.0.max_prefix_len() {
            self.0.addr().fmt(f)
        } else {
            self.0.fmt(f)
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

//! [`GtidPos`]: a MariaDB GTID position (`domain-server-seq`, one per
//! replication domain, comma-separated as in `@@gtid_binlog_pos`), the
//! token of read-your-writes: a read may go to a replica once the
//! replica's position covers the position of the writes it must see.

use std::collections::BTreeMap;
use std::fmt;

/// A GTID position: per replication domain, the server id and sequence
/// number of the newest transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GtidPos {
    domains: BTreeMap<u32, (u32, u64)>,
}

/// Why a text is not a GTID position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a GTID position: {0:?}")]
pub struct BadGtid(pub String);

impl GtidPos {
    /// Parses `0-1-5,1-2-7` (the empty string is the empty position).
    pub fn parse(text: &str) -> Result<Self, BadGtid> {
        let mut pos = Self::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let mut it = part.split('-');
            let (Some(d), Some(s), Some(n), None) = (it.next(), it.next(), it.next(), it.next())
            else {
                return Err(BadGtid(text.to_string()));
            };
            let (Ok(d), Ok(s), Ok(n)) = (d.parse(), s.parse(), n.parse()) else {
                return Err(BadGtid(text.to_string()));
            };
            pos.add(d, s, n);
        }
        Ok(pos)
    }

    fn add(&mut self, domain: u32, server: u32, seq: u64) {
        let e = self.domains.entry(domain).or_insert((server, seq));
        if seq > e.1 {
            *e = (server, seq);
        }
    }

    /// Whether no transaction is named.
    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
    }

    /// Whether `self` has applied everything `other` names (per domain,
    /// a sequence number at least as high; server ids do not matter, as
    /// for `MASTER_GTID_WAIT`).
    pub fn covers(&self, other: &GtidPos) -> bool {
        other
            .domains
            .iter()
            .all(|(d, (_, seq))| self.domains.get(d).is_some_and(|(_, mine)| mine >= seq))
    }

    /// The newer of the two in every domain.
    pub fn merge(&mut self, other: &GtidPos) {
        for (d, (s, n)) in &other.domains {
            self.add(*d, *s, *n);
        }
    }

    /// The `(domain, server, seq)` triples, for storing.
    pub fn parts(&self) -> impl Iterator<Item = (u32, u32, u64)> + '_ {
        self.domains.iter().map(|(d, (s, n))| (*d, *s, *n))
    }
}

impl fmt::Display for GtidPos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (d, s, n) in self.parts() {
            if !first {
                f.write_str(",")?;
            }
            first = false;
            write!(f, "{d}-{s}-{n}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::GtidPos;

    #[test]
    fn parses_compares_and_merges() {
        let a = GtidPos::parse("0-1-5").unwrap();
        let b = GtidPos::parse("0-1-7,1-2-3").unwrap();
        assert!(b.covers(&a));
        assert!(!a.covers(&b));
        assert!(a.covers(&GtidPos::default()));
        let mut m = a.clone();
        m.merge(&b);
        assert_eq!(m.to_string(), "0-1-7,1-2-3");
        assert_eq!(GtidPos::parse("").unwrap(), GtidPos::default());
        assert!(GtidPos::parse("0-1").is_err());
        assert!(GtidPos::parse("x-1-2").is_err());
        // Another server id in the same domain: only the sequence counts.
        assert!(GtidPos::parse("0-2-7").unwrap().covers(&a));
    }
}

//! Who may connect, and how often: the allow-list (`server.allow_peers`)
//! and the per-peer cap (`server.max_connections_per_peer`), checked at
//! accept against the live configuration. The table keeps each peer
//! address's open connections, so a reload that stops allowing an address
//! closes them.
//!
//! A peer is an IP address in its canonical form: an IPv4 client of a
//! dual-stack listener (`::ffff:10.1.2.3`) is the IPv4 peer `10.1.2.3`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

use super::admission::Refusal;
use super::shared::ConnShared;
use crate::config::Config;
use crate::config::cidr;
use crate::state::AppState;

/// The open connections of every peer address, by connection id.
#[derive(Default)]
pub(super) struct Peers {
    open: Mutex<HashMap<IpAddr, HashMap<u64, Arc<ConnShared>>>>,
}

/// One admitted connection's place in [`Peers`]; frees it when dropped.
pub(super) struct PeerSlot {
    peers: Arc<Peers>,
    ip: IpAddr,
    id: u64,
}

impl Peers {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, HashMap<u64, Arc<ConnShared>>>> {
        // Each update is a single insert or remove: a panic cannot leave
        // the map half-changed.
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Admits connection `id` of `peer` under the running configuration
    /// (`config` loads it), or says why not. The configuration is loaded
    /// under the table's lock, so a reload's sweep
    /// ([`Self::close_disallowed`]) sees every connection admitted under
    /// the old allow-list.
    pub(super) fn admit(
        self: &Arc<Self>,
        peer: IpAddr,
        id: u64,
        conn: &Arc<ConnShared>,
        config: impl FnOnce() -> Arc<Config>,
    ) -> Result<PeerSlot, Refusal> {
        let ip = peer.to_canonical();
        let mut open = self.lock();
        let config = config();
        let s = &config.server;
        if !cidr::allows(&s.allow_peers, ip) {
            return Err(Refusal::NotAllowed);
        }
        let conns = open.entry(ip).or_default();
        if s.max_connections_per_peer != 0 && conns.len() >= s.max_connections_per_peer {
            if conns.is_empty() {
                open.remove(&ip);
            }
            return Err(Refusal::PerPeer);
        }
        conns.insert(id, conn.clone());
        Ok(PeerSlot {
            peers: self.clone(),
            ip,
            id,
        })
    }

    /// Closes the open connections of every peer the running
    /// `server.allow_peers` does not allow; returns how many.
    pub(super) fn close_disallowed(&self, config: impl FnOnce() -> Arc<Config>) -> usize {
        let open = self.lock();
        let config = config();
        let mut closed = 0;
        for (ip, conns) in open.iter() {
            if !cidr::allows(&config.server.allow_peers, *ip) {
                for conn in conns.values() {
                    conn.kick();
                }
                closed += conns.len();
            }
        }
        closed
    }

    /// Peer addresses with open connections.
    #[cfg(test)]
    fn peers(&self) -> usize {
        self.lock().len()
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut open = self.peers.lock();
        if let Some(conns) = open.get_mut(&self.ip) {
            conns.remove(&self.id);
            if conns.is_empty() {
                open.remove(&self.ip);
            }
        }
    }
}

/// Closes the connections of peers that a reload stops allowing, until
/// `shutdown` is cancelled.
pub(super) async fn follow_allow_list(
    state: Arc<AppState>,
    peers: Arc<Peers>,
    shutdown: CancellationToken,
) {
    let mut changes = state.config_changes();
    let mut current = state.config().server.allow_peers.clone();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            changed = changes.changed() => if changed.is_err() { return },
        }
        let wanted = changes.borrow_and_update().server.allow_peers.clone();
        if wanted == current {
            continue;
        }
        current = wanted;
        let closed = peers.close_disallowed(|| Arc::clone(&state.config()));
        if closed > 0 {
            tracing::warn!(
                connections = closed,
                "closing connections of peers that server.allow_peers no longer allows"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_freed_and_empty_peers_forgotten() {
        let mut c = Config::default();
        c.server.max_connections_per_peer = 2;
        let cfg = Arc::new(c.clone());
        let peers = Arc::new(Peers::default());
        let conn = Arc::new(ConnShared::default());
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.2".parse().unwrap();
        let one = peers.admit(a, 1, &conn, || cfg.clone()).unwrap();
        let two = peers.admit(mapped, 2, &conn, || cfg.clone()).unwrap();
        assert_eq!(
            peers
                .admit(a, 3, &conn, || cfg.clone())
                .err()
                .map(Refusal::label),
            Some("per_peer"),
            "a mapped address is the same peer"
        );
        assert_eq!(peers.peers(), 1);
        drop(one);
        let three = peers.admit(a, 3, &conn, || cfg.clone()).unwrap();
        drop((two, three));
        assert_eq!(peers.peers(), 0, "an empty peer is forgotten");
        c.server.max_connections_per_peer = 0;
        let cfg = Arc::new(c.clone());
        let many: Vec<_> = (0..5)
            .map(|id| peers.admit(a, id, &conn, || cfg.clone()).unwrap())
            .collect();
        assert_eq!(many.len(), 5, "0 is no cap");
    }

    #[test]
    fn the_allow_list_is_checked_at_admission_and_sweep() {
        let mut c = Config::default();
        c.server.allow_peers = vec!["10.0.0.0/8".parse().unwrap()];
        let cfg = Arc::new(c.clone());
        let peers = Arc::new(Peers::default());
        let conn = Arc::new(ConnShared::default());
        let refused = peers.admit("11.0.0.1".parse().unwrap(), 1, &conn, || cfg.clone());
        assert_eq!(refused.err().map(Refusal::label), Some("not_allowed"));
        assert_eq!(peers.peers(), 0);
        let _kept = peers.admit("10.0.0.1".parse().unwrap(), 2, &conn, || cfg.clone());
        assert_eq!(peers.close_disallowed(|| cfg.clone()), 0);
        c.server.allow_peers = vec!["192.168.0.0/16".parse().unwrap()];
        let cfg = Arc::new(c);
        assert_eq!(peers.close_disallowed(|| cfg.clone()), 1);
    }
}

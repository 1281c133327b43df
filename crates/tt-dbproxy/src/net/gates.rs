//! [`Gates`]: what a new connection must pass before it is served — the
//! allow-list, the per-peer cap and `server.max_connections`, against the
//! live configuration — shared by `serve` and `shadow`, so a shadow in
//! front of live traffic is bounded like the server it stands in for.

use std::net::SocketAddr;
use std::sync::Arc;

use super::admission::{Admission, Admitted, Refusal};
use super::peers::{PeerSlot, Peers};
use super::shared::ConnShared;
use crate::rate_log::RateLimited;
use crate::state::AppState;

/// The gates of one listening service; cheap to clone.
#[derive(Clone, Default)]
pub struct Gates {
    /// `server.max_connections`.
    pub(super) limit: Arc<Admission>,
    /// `server.allow_peers` and `server.max_connections_per_peer`.
    pub(super) peers: Arc<Peers>,
}

/// An admitted connection's places; dropping it frees them.
pub struct Ticket {
    _permit: Admitted,
    _slot: PeerSlot,
    /// Lets a reload that stops allowing the peer close the connection.
    pub(super) conn: Arc<ConnShared>,
}

// Refusals are logged at most once a second per kind, so a flood of
// connections does not flood the log (the metric counts every one).
static REFUSED_LIMIT: RateLimited = RateLimited::new("connection refused: limit");
static REFUSED_PER_PEER: RateLimited = RateLimited::new("connection refused: per-peer cap");
static REFUSED_NOT_ALLOWED: RateLimited = RateLimited::new("connection refused: peer not allowed");

fn refused(reason: Refusal, peer: SocketAddr) {
    metrics::counter!(crate::metrics::CONNECTIONS_REFUSED, "reason" => reason.label()).increment(1);
    match reason {
        Refusal::NotAllowed => crate::warn_limited!(
            REFUSED_NOT_ALLOWED,
            %peer,
            "peer not in server.allow_peers; closing the new connection"
        ),
        Refusal::PerPeer => crate::warn_limited!(
            REFUSED_PER_PEER,
            %peer,
            "the peer has server.max_connections_per_peer open; closing the new connection"
        ),
        Refusal::Limit => crate::warn_limited!(
            REFUSED_LIMIT,
            %peer,
            "connection limit reached; closing the new connection"
        ),
    };
}

impl Gates {
    /// Admits connection `id` from `peer` under `state`'s running
    /// configuration, or counts and logs the refusal and returns `None`
    /// (the caller drops the stream, which closes it).
    pub fn admit(&self, state: &AppState, peer: SocketAddr, id: u64) -> Option<Ticket> {
        let conn = Arc::new(ConnShared::default());
        let slot = match self
            .peers
            .admit(peer.ip(), id, &conn, || Arc::clone(&state.config()))
        {
            Ok(slot) => slot,
            Err(refusal) => {
                refused(refusal, peer);
                return None;
            }
        };
        let max = state.config().server.max_connections;
        let Some(permit) = self.limit.try_admit(max) else {
            refused(Refusal::Limit, peer);
            return None;
        };
        Some(Ticket {
            _permit: permit,
            _slot: slot,
            conn,
        })
    }

    /// Connections admitted and still open.
    pub fn open(&self) -> usize {
        self.limit.open()
    }
}

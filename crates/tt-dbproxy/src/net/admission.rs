//! The connection limit: admitted connections counted against the live
//! `server.max_connections`; and [`Refusal`], why a new connection is
//! closed at accept.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Connections admitted and still open, counted against the live
/// `server.max_connections` (a reload can lower or raise it; connections
/// over a lowered limit stay until they close).
#[derive(Default)]
pub(super) struct Admission {
    open: AtomicUsize,
}

/// Why a connection is closed at accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    /// `server.max_connections` are open.
    Limit,
    /// The peer already has `server.max_connections_per_peer` open.
    PerPeer,
    /// The peer is not in `server.allow_peers`.
    NotAllowed,
}

impl Refusal {
    /// Every refusal, for registering its metric series at start-up.
    pub(super) const ALL: [Self; 3] = [Self::Limit, Self::PerPeer, Self::NotAllowed];

    /// The `reason` label of the refused-connections metric.
    pub(super) fn label(self) -> &'static str {
        match self {
            Self::Limit => "limit",
            Self::PerPeer => "per_peer",
            Self::NotAllowed => "not_allowed",
        }
    }
}

/// One admitted connection; frees its place when dropped.
pub(super) struct Admitted(Arc<Admission>);

impl Admission {
    /// A place for one more connection, if fewer than `max` are open.
    pub(super) fn try_admit(self: &Arc<Self>, max: usize) -> Option<Admitted> {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()?;
        Some(Admitted(self.clone()))
    }

    /// Connections open now.
    pub(super) fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

//! [`ServerCtx`]: what the accept loop, the connections and their request
//! tasks share.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::ordering::KeyedQueue;
use crate::handler::OrderKey;
use crate::state::AppState;

/// What connections and request tasks share.
pub(crate) struct ServerCtx {
    pub(crate) state: Arc<AppState>,
    /// Bounds requests executing at once (`server.workers`).
    pub(crate) workers: Arc<Semaphore>,
    /// Tracks connection and request tasks for the drain.
    pub(crate) tracker: TaskTracker,
    /// Serialises requests that share an ordering key.
    pub(crate) ordered: Arc<KeyedQueue<OrderKey>>,
    /// Cancelled when the drain deadline passes: everything stops.
    pub(crate) abort: CancellationToken,
    /// The next connection's id.
    pub(crate) next_conn_id: AtomicU64,
}

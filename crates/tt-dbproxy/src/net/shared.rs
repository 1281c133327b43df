//! [`ConnShared`]: the part of a connection its request tasks, the
//! allow-list and the per-peer cap can reach.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use bytes::{Bytes, BytesMut};
use tokio::sync::Notify;
use tracing::debug;

use crate::metrics as m;

/// The part of a connection that request tasks can reach.
#[derive(Default)]
pub(crate) struct ConnShared {
    outbox: Mutex<VecDeque<Bytes>>,
    /// Wakes the connection task.
    pub(super) notify: Notify,
    /// Requests of this connection still running.
    pub(super) in_flight: AtomicUsize,
    /// Set once the connection has closed: replies are dropped.
    pub(super) closed: AtomicBool,
    /// Set when the connection is to close (allow-list change).
    pub(super) kicked: AtomicBool,
}

impl ConnShared {
    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Bytes>> {
        // Only whole frames are pushed or popped; poisoning leaves it valid.
        self.outbox.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a reply frame, or drops it if the connection has closed.
    /// The caller wakes the connection task.
    pub(super) fn push_reply(&self, frame: Bytes) {
        if self.closed.load(Ordering::Acquire) {
            debug!("reply dropped: connection closed");
            return;
        }
        self.lock().push_back(frame);
        metrics::counter!(m::FRAMES_OUT).increment(1);
    }

    /// Moves queued replies into `out`, releasing the queue's memory.
    pub(super) fn take_into(&self, out: &mut BytesMut) {
        let mut q = self.lock();
        while let Some(frame) = q.pop_front() {
            out.extend_from_slice(&frame);
        }
        if q.capacity() > 0 {
            *q = VecDeque::new();
        }
    }

    pub(super) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Closes the connection because its peer is no longer allowed (a
    /// reload changed `server.allow_peers`).
    pub(super) fn kick(&self) {
        self.kicked.store(true, Ordering::Release);
        self.notify.notify_one();
    }
}

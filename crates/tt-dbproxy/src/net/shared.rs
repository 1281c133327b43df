//! [`ConnShared`]: the part of a connection its request tasks, the
//! allow-list and the per-peer cap can reach.
//!
//! A request task writes its reply to the socket itself when nothing is
//! queued before it (one non-blocking write, under the outbox's lock, so
//! frames never interleave); only what the socket does not take at once
//! is queued for the connection task, which is then woken. The connection
//! task is otherwise not woken when a request ends, unless it asked to be
//! ([`ConnShared::watch`]: reading paused at the in-flight limit, or
//! draining), so a request costs it no turn of its loop.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Buf, Bytes};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::debug;

use crate::metrics as m;

/// Frames written in one vectored write by the connection task.
const WRITE_SLICES: usize = 64;

/// Reply frames waiting for the socket, and the socket while the
/// connection is open.
#[derive(Default)]
pub(super) struct Outbox {
    /// Frames not yet written; the first may be partly written already.
    frames: VecDeque<Bytes>,
    /// Bytes in `frames`.
    bytes: usize,
    /// The socket, taken away when the connection closes (so a late reply
    /// can neither reach nor keep open a closed connection).
    stream: Option<Arc<TcpStream>>,
    /// When a request task last wrote a whole reply itself (the heartbeat
    /// counts from the last frame sent).
    last_direct: Option<Instant>,
}

impl Outbox {
    /// Bytes waiting to be written.
    pub(super) fn queued_bytes(&self) -> usize {
        self.bytes
    }

    /// Queues a frame (the connection task writes it).
    pub(super) fn push(&mut self, frame: Bytes) {
        self.bytes += frame.len();
        self.frames.push_back(frame);
    }

    /// When a request task last wrote a reply itself, cleared.
    pub(super) fn take_last_direct(&mut self) -> Option<Instant> {
        self.last_direct.take()
    }

    /// Writes what the socket takes now, without waiting: `Ok(n)` bytes
    /// written (0 when it would block). The queue's memory is released
    /// once it is empty.
    pub(super) fn write_queued(&mut self) -> std::io::Result<usize> {
        let Some(stream) = self.stream.as_ref() else {
            return Ok(0);
        };
        let slices: Vec<IoSlice<'_>> = self
            .frames
            .iter()
            .take(WRITE_SLICES)
            .map(|f| IoSlice::new(f))
            .collect();
        let mut n = match stream.try_write_vectored(&slices) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(0),
            Err(e) => return Err(e),
        };
        drop(slices);
        let written = n;
        self.bytes -= n;
        while n > 0 {
            let Some(front) = self.frames.front_mut() else {
                break;
            };
            if front.len() <= n {
                n -= front.len();
                self.frames.pop_front();
            } else {
                front.advance(n);
                n = 0;
            }
        }
        if self.frames.is_empty() && self.frames.capacity() > 0 {
            self.frames = VecDeque::new();
        }
        Ok(written)
    }
}

/// The part of a connection that request tasks can reach.
#[derive(Default)]
pub(crate) struct ConnShared {
    outbox: Mutex<Outbox>,
    /// Wakes the connection task.
    pub(super) notify: Notify,
    /// Requests of this connection still running.
    pub(super) in_flight: AtomicUsize,
    /// Set by the connection task while it must be woken when a request
    /// ends (its reading paused at the in-flight limit, or draining).
    watching: AtomicBool,
    /// Set once the connection has closed: replies are dropped.
    pub(super) closed: AtomicBool,
    /// Set when the connection is to close (allow-list change).
    pub(super) kicked: AtomicBool,
}

impl ConnShared {
    pub(super) fn lock(&self) -> MutexGuard<'_, Outbox> {
        // Only whole frames are queued, and the counts change together
        // with the queue; poisoning leaves it valid.
        self.outbox.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Gives request tasks the socket to write their replies to.
    pub(super) fn attach(&self, stream: Arc<TcpStream>) {
        self.lock().stream = Some(stream);
    }

    /// Closes the outbox: queued frames and the socket are dropped, and
    /// later replies are discarded.
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        *self.lock() = Outbox::default();
    }

    /// Sends a reply frame: written at once when nothing is queued before
    /// it and the socket takes it whole, otherwise (the rest of it) queued.
    /// Dropped if the connection has closed. Returns whether the frame was
    /// queued, so the connection task must be woken to write it.
    pub(super) fn push_reply(&self, mut frame: Bytes) -> bool {
        if self.closed.load(Ordering::Acquire) {
            debug!("reply dropped: connection closed");
            return false;
        }
        metrics::counter!(m::FRAMES_OUT).increment(1);
        let mut out = self.lock();
        if out.frames.is_empty()
            && let Some(stream) = out.stream.as_ref()
        {
            // An error leaves the frame queued: the connection task waits
            // for the socket, or meets the error and closes.
            if let Ok(n) = stream.try_write(&frame) {
                metrics::counter!(m::BYTES_OUT).increment(n as u64);
                if n == frame.len() {
                    out.last_direct = Some(Instant::now());
                    return false;
                }
                frame.advance(n);
            }
        }
        if out.stream.is_none() {
            return false;
        }
        out.push(frame);
        true
    }

    pub(super) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Asks (or stops asking) to be woken whenever a request ends. Call
    /// before reading [`Self::in_flight`]: a request ending after the read
    /// then sees the flag.
    pub(super) fn watch(&self, on: bool) {
        self.watching.store(on, Ordering::SeqCst);
    }

    /// A request ended: the count drops, and the connection task is woken
    /// if it watches or a reply was queued for it.
    pub(super) fn request_ended(&self, queued: bool) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        if queued || self.watching.load(Ordering::SeqCst) {
            self.notify.notify_one();
        }
    }

    /// Closes the connection because its peer is no longer allowed (a
    /// reload changed `server.allow_peers`).
    pub(super) fn kick(&self) {
        self.kicked.store(true, Ordering::Release);
        self.notify.notify_one();
    }
}

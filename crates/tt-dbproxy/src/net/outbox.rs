//! [`ConnShared`]: the part of a connection that request tasks reach: the
//! socket, the bytes waiting to be written, and the in-flight count.
//!
//! A finished request writes its reply itself when nothing is queued ahead
//! of it (a non-blocking write under the outbox lock, so frames never
//! interleave and stay in order); only what the socket does not take is
//! left for the connection task, which is woken just for that, or when it
//! waits for in-flight requests (back-pressure, drain). This saves a task
//! hand-off per request. An idle connection holds no buffer: the outbox
//! drops its memory whenever it empties.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use bytes::{Buf, Bytes, BytesMut};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tracing::debug;

use crate::metrics as m;

/// Bytes waiting to be written, and whether anything was written since the
/// connection task last looked (for the heartbeat timer).
#[derive(Default)]
pub(super) struct Outbox {
    buf: BytesMut,
    wrote: bool,
}

impl Outbox {
    /// Bytes still to write.
    pub(super) fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether bytes were written since the last call.
    pub(super) fn take_wrote(&mut self) -> bool {
        std::mem::take(&mut self.wrote)
    }

    /// Writes what the socket takes without waiting; frees the buffer once
    /// empty. A hard error leaves the bytes in place.
    pub(super) fn write_some(&mut self, stream: &TcpStream) -> std::io::Result<()> {
        while !self.buf.is_empty() {
            match stream.try_write(&self.buf) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    metrics::counter!(m::BYTES_OUT).increment(n as u64);
                    self.buf.advance(n);
                    self.wrote = true;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        self.buf = BytesMut::new();
        Ok(())
    }
}

/// Shared by a connection task and its request tasks.
pub(super) struct ConnShared {
    pub(super) stream: TcpStream,
    outbox: Mutex<Outbox>,
    /// Wakes the connection task.
    pub(super) notify: Notify,
    in_flight: AtomicUsize,
    closed: AtomicBool,
    /// Set while the connection task waits on the in-flight count (reading
    /// paused, or draining): every finished request wakes it then.
    wants_every_finish: AtomicBool,
}

impl ConnShared {
    pub(super) fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            outbox: Mutex::new(Outbox::default()),
            notify: Notify::new(),
            in_flight: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            wants_every_finish: AtomicBool::new(false),
        }
    }

    /// The outbox, locked. Only whole frames are appended and the buffer is
    /// valid at every step, so a poisoned lock is still usable.
    pub(super) fn outbox(&self) -> MutexGuard<'_, Outbox> {
        self.outbox.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends a frame (server-built or a reply) and writes what the socket
    /// takes now. Returns the bytes left for the connection task, or the
    /// write error (the bytes stay; the connection task meets the error
    /// too and closes).
    pub(super) fn send(&self, frame: &[u8]) -> usize {
        if self.closed.load(Ordering::Acquire) {
            debug!("frame dropped: connection closed");
            return 0;
        }
        let mut out = self.outbox();
        out.buf.extend_from_slice(frame);
        metrics::counter!(m::FRAMES_OUT).increment(1);
        // An error is seen again by the connection task's own write.
        let _ = out.write_some(&self.stream);
        out.len()
    }

    /// Requests in progress.
    /// Sequentially consistent with [`set_wants_every_finish`]
    /// (Self::set_wants_every_finish) and the decrement in `end`: a task
    /// that sets the flag and then reads the count cannot miss a finish.
    pub(super) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    /// Whether each finished request must wake the connection task. Set it
    /// before reading [`in_flight`](Self::in_flight).
    pub(super) fn set_wants_every_finish(&self, wants: bool) {
        self.wants_every_finish.store(wants, Ordering::SeqCst);
    }

    /// Marks the connection closed: later replies are dropped, and the
    /// buffer is freed.
    pub(super) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        *self.outbox() = Outbox::default();
    }
}

/// One request in progress on a connection. Dropping it without
/// [`finish`](Self::finish) (no reply, a panic, an abort) still ends it.
/// It does not keep the connection alive: once the connection task is
/// gone the socket closes, even while a stuck request still runs.
pub(super) struct InFlight(Option<Weak<ConnShared>>);

impl InFlight {
    pub(super) fn start(conn: &Arc<ConnShared>) -> Self {
        conn.in_flight.fetch_add(1, Ordering::SeqCst);
        Self(Some(Arc::downgrade(conn)))
    }

    /// Ends the request with its reply frame, if any. The frame is queued
    /// (or written) before the count drops, so a draining connection never
    /// sees "idle" with a reply still to come.
    pub(super) fn finish(mut self, reply: Option<Bytes>) {
        if let Some(conn) = self.0.take().and_then(|c| c.upgrade()) {
            let left = reply.map_or(0, |frame| conn.send(&frame));
            end(&conn, left > 0);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take().and_then(|c| c.upgrade()) {
            end(&conn, false);
        }
    }
}

fn end(conn: &ConnShared, bytes_left: bool) {
    conn.in_flight.fetch_sub(1, Ordering::SeqCst);
    if bytes_left || conn.wants_every_finish.load(Ordering::SeqCst) {
        conn.notify.notify_one();
    }
}

//! One task per connection: reads frames, hands requests to request tasks,
//! writes the replies they could not write at once ([`ConnShared`]), sends
//! heartbeats and enforces the idle timeout
//! (counted from the last complete frame) and the frame timeout (a frame
//! that has started must complete in time, so a client dribbling a frame
//! byte by byte cannot hold the connection).
//!
//! An idle connection holds no read or write buffer: buffers are allocated
//! when bytes arrive or replies are queued and dropped as soon as they are
//! empty. Replies reach the connection through [`ConnShared`], owned by
//! this connection alone, so a reply whose connection has closed is
//! dropped and can never reach another connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::{Bytes, BytesMut};
use prost::Message;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::codec::Decoder;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::ctx::ServerCtx;
use super::shared::ConnShared;
use super::timers::{Clocks, Expired};
use crate::handler::Command;
use crate::metrics as m;
use crate::rate_log::RateLimited;
use crate::wire::command::{cid, sid};
use crate::wire::{FrameError, Pdu, PduCodec};

/// Bytes reserved per read when the buffer is full.
const READ_CHUNK: usize = 8 * 1024;
/// Reading pauses while this many reply bytes wait to be written.
const WRITE_HIGH_WATER: usize = 4 * 1024 * 1024;

/// Ends a request's part in the in-flight count when its task ends, even
/// if its handler panicked; the connection task is woken only if it must
/// be ([`ConnShared::request_ended`]).
struct InFlight {
    conn: Arc<ConnShared>,
    /// The reply was queued for the connection task to write.
    queued: bool,
}

impl InFlight {
    fn start(conn: &Arc<ConnShared>) -> Self {
        conn.in_flight.fetch_add(1, Ordering::SeqCst);
        Self {
            conn: conn.clone(),
            queued: false,
        }
    }

    /// Ends the request with its reply frame, if any: the frame is written
    /// or queued before the count drops, so a draining connection never
    /// sees "idle" with a reply still to come.
    fn finish(mut self, reply: Option<Bytes>) {
        if let Some(frame) = reply {
            self.queued = self.conn.push_reply(frame);
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.conn.request_ended(self.queued);
    }
}

/// Why a connection ended, for the log line and the metric.
#[derive(Debug)]
pub(super) enum Closed {
    ByPeer,
    IdleTimeout,
    FrameTimeout,
    Frame(FrameError),
    Io(std::io::Error),
    NotAllowed,
    Drained,
    Aborted,
}

impl Closed {
    /// Every value [`Self::label`] gives, for registering the metric's
    /// series at start-up.
    pub(super) const REASONS: [&'static str; 8] = [
        "by_peer",
        "idle_timeout",
        "frame_timeout",
        "bad_frame",
        "io_error",
        "not_allowed",
        "drained",
        "aborted",
    ];

    /// The `reason` label of [`m::CONNECTIONS_CLOSED`].
    fn label(&self) -> &'static str {
        match self {
            Self::ByPeer => "by_peer",
            Self::IdleTimeout => "idle_timeout",
            Self::FrameTimeout => "frame_timeout",
            Self::Frame(_) => "bad_frame",
            Self::Io(_) => "io_error",
            Self::NotAllowed => "not_allowed",
            Self::Drained => "drained",
            Self::Aborted => "aborted",
        }
    }
}

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ByPeer => write!(f, "closed by peer"),
            Self::IdleTimeout => write!(f, "idle timeout"),
            Self::FrameTimeout => write!(f, "frame not completed within frame_timeout_ms"),
            Self::NotAllowed => write!(f, "peer no longer allowed (server.allow_peers)"),
            Self::Frame(e) => write!(f, "bad frame: {e}"),
            Self::Io(e) => write!(f, "i/o error: {e}"),
            Self::Drained => write!(f, "server shutting down"),
            Self::Aborted => write!(f, "drain deadline passed"),
        }
    }
}

fn frame_bytes(pdu: &Pdu) -> Bytes {
    // Server-built frames are small (empty or a few bytes of body).
    pdu.to_bytes().unwrap_or_default()
}

/// Slow clients closed by the frame timeout: a warning a second at most
/// (the rest are logged at info, as other closes).
static SLOW_CLIENT: RateLimited = RateLimited::new("slow client closed");

/// Serves one accepted connection until it closes; `conn` is its part that
/// request tasks and the peer table reach.
pub(crate) async fn run(
    ctx: Arc<ServerCtx>,
    stream: TcpStream,
    peer: SocketAddr,
    id: u64,
    conn: Arc<ConnShared>,
    shutdown: CancellationToken,
) {
    info!(conn = id, %peer, "connection opened");
    metrics::gauge!(m::CONNECTIONS_OPEN).increment(1.0);
    ctx.state.stats.connection_opened();
    let stream = Arc::new(stream);
    conn.attach(stream.clone());
    let reason = drive(&ctx, &stream, &conn, &shutdown).await;
    metrics::gauge!(m::CONNECTIONS_OPEN).decrement(1.0);
    metrics::counter!(m::CONNECTIONS_CLOSED, "reason" => reason.label()).increment(1);
    ctx.state.stats.connection_closed();
    conn.close();
    match &reason {
        Closed::Frame(_) => warn!(conn = id, %peer, reason = %reason, "connection closed"),
        Closed::FrameTimeout => {
            if !crate::warn_limited!(SLOW_CLIENT, conn = id, %peer, reason = %reason, "connection closed")
            {
                info!(conn = id, %peer, reason = %reason, "connection closed");
            }
        }
        _ => info!(conn = id, %peer, reason = %reason, "connection closed"),
    }
}

async fn drive(
    ctx: &Arc<ServerCtx>,
    stream: &TcpStream,
    conn: &Arc<ConnShared>,
    shutdown: &CancellationToken,
) -> Closed {
    let mut rbuf = BytesMut::new();
    let mut clocks = Clocks::new(Instant::now());
    // One timer for the connection's life, moved rather than re-created
    // each turn (re-creating costs a timer-wheel insert and removal per
    // wake-up).
    let timer = tokio::time::sleep_until(clocks.last_send);
    tokio::pin!(timer);

    loop {
        if conn.kicked.load(Ordering::Acquire) {
            return Closed::NotAllowed;
        }
        let queued = {
            let mut out = conn.lock();
            if let Some(sent) = out.take_last_direct() {
                clocks.last_send = clocks.last_send.max(sent);
            }
            out.queued_bytes()
        };
        // Read each turn, so a reload applies to open connections too.
        let (can_read, mut codec, wake_at) = {
            let config = ctx.state.config();
            let s = &config.server;
            let draining = clocks.draining_since.is_some();
            // Watch before counting: a request ending after the count
            // then wakes this task.
            conn.watch(true);
            let in_flight = conn.in_flight();
            let at_limit = in_flight >= s.max_in_flight_per_connection;
            conn.watch(at_limit || draining);
            let can_read = !at_limit && queued < WRITE_HIGH_WATER;
            clocks.set_reading(can_read);
            let quiet = in_flight == 0 && queued == 0;
            (
                can_read,
                PduCodec::new(s.max_frame_bytes),
                clocks.next_wake(s, quiet),
            )
        };
        if timer.deadline() != wake_at {
            timer.as_mut().reset(wake_at);
        }

        tokio::select! {
            _ = ctx.abort.cancelled() => return Closed::Aborted,
            _ = shutdown.cancelled(), if clocks.draining_since.is_none() => {
                clocks.draining_since = Some(Instant::now());
                let stop = tt_proto::im::server::ImStopReceivePacket { result: Some(0) };
                conn.lock().push(frame_bytes(&Pdu::new(sid::OTHER, cid::STOP_RECV_PACKET, 0, stop.encode_to_vec())));
                metrics::counter!(m::FRAMES_OUT).increment(1);
            }
            ready = stream.readable(), if can_read => {
                if let Err(e) = ready {
                    return Closed::Io(e);
                }
                if rbuf.capacity() - rbuf.len() < READ_CHUNK / 2 {
                    rbuf.reserve(READ_CHUNK);
                }
                let started_empty = rbuf.is_empty();
                match stream.try_read_buf(&mut rbuf) {
                    Ok(0) => return Closed::ByPeer,
                    Ok(n) => metrics::counter!(m::BYTES_IN).increment(n as u64),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => return Closed::Io(e),
                }
                let mut completed = false;
                loop {
                    match codec.decode(&mut rbuf) {
                        Ok(Some(pdu)) => {
                            completed = true;
                            dispatch(ctx, conn, pdu);
                        }
                        Ok(None) => break,
                        Err(e) => return Closed::Frame(e),
                    }
                }
                let now = Instant::now();
                if completed {
                    clocks.last_frame = now;
                }
                if rbuf.is_empty() {
                    rbuf = BytesMut::new();
                    clocks.frame_started = None;
                } else if started_empty || completed {
                    // What is left is a frame that began in this read.
                    clocks.frame_started = Some(now);
                }
            }
            ready = stream.writable(), if queued > 0 => {
                if let Err(e) = ready {
                    return Closed::Io(e);
                }
                match conn.lock().write_queued() {
                    Ok(0) => {}
                    Ok(n) => {
                        metrics::counter!(m::BYTES_OUT).increment(n as u64);
                        clocks.last_send = Instant::now();
                    }
                    Err(e) => return Closed::Io(e),
                }
            }
            _ = conn.notify.notified() => {}
            _ = &mut timer => {
                let now = Instant::now();
                let quiet = conn.in_flight() == 0 && conn.lock().queued_bytes() == 0;
                let expired = clocks.expired(&ctx.state.config().server, quiet, now);
                match expired {
                    Some(Expired::Idle) => return Closed::IdleTimeout,
                    Some(Expired::Frame) => return Closed::FrameTimeout,
                    Some(Expired::Drained) => return Closed::Drained,
                    Some(Expired::Heartbeat) => {
                        conn.lock().push(frame_bytes(&Pdu::new(sid::OTHER, cid::HEARTBEAT, 0, Bytes::new())));
                        metrics::counter!(m::FRAMES_OUT).increment(1);
                        // Counts as a send even if the socket is slow to take
                        // it, so a stalled peer gets one heartbeat per interval.
                        clocks.last_send = now;
                    }
                    None => {}
                }
            }
        }
    }
}

static UNKNOWN_COMMAND_LOG: crate::rate_log::RateLimited =
    crate::rate_log::RateLimited::new("unknown command");
static SLOW_REQUEST_LOG: crate::rate_log::RateLimited =
    crate::rate_log::RateLimited::new("slow request");

/// Hands one request frame to a request task (or the ordered queue).
fn dispatch(ctx: &Arc<ServerCtx>, conn: &Arc<ConnShared>, pdu: Pdu) {
    let header = pdu.header;
    metrics::counter!(m::FRAMES_IN).increment(1);
    let command = Command::parse(header.command_id, &pdu.body);
    match command {
        Command::Heartbeat => return,
        Command::Unknown(id) => {
            metrics::counter!(m::UNKNOWN_COMMANDS).increment(1);
            crate::warn_limited!(
                UNKNOWN_COMMAND_LOG,
                command_id = format_args!("{id:#06x}"),
                "no handler for command; dropped"
            );
            return;
        }
        _ => {}
    }
    let guard = InFlight::start(conn);
    let key = command.ordering_key();
    let task_ctx = ctx.clone();
    // The deadline counts from the frame's arrival: the wait behind an
    // ordered predecessor and for a worker slot included.
    let arrived = tokio::time::Instant::now();
    let deadline =
        arrived + std::time::Duration::from_millis(ctx.state.config().storage.request_timeout_ms);
    let job = async move {
        let permit =
            tokio::time::timeout_at(deadline, task_ctx.workers.clone().acquire_owned()).await;
        let _permit = match permit {
            Ok(Ok(p)) => Some(p),
            Ok(Err(_)) => return,
            // No worker in time: run anyway, past the deadline, so every
            // storage call fails at once and the handler gives its
            // "storage failed" reply (cheap: nothing waits).
            Err(_) => None,
        };
        let name = command.name();
        let started = std::time::Instant::now();
        let reply = crate::deadline::scope(deadline, command.run(&task_ctx.state)).await;
        let elapsed = started.elapsed();
        if tokio::time::Instant::now() >= deadline {
            metrics::counter!(m::DEADLINE_EXCEEDED, "command" => name).increment(1);
        }
        metrics::counter!(m::REQUESTS, "command" => name).increment(1);
        metrics::histogram!(m::REQUEST_SECONDS, "command" => name).record(elapsed.as_secs_f64());
        let slow_ms = task_ctx.state.config().log.slow_request_ms;
        if slow_ms > 0 && elapsed.as_millis() >= u128::from(slow_ms) {
            crate::warn_limited!(
                SLOW_REQUEST_LOG,
                command = name,
                seq = header.seq_num,
                elapsed_ms = elapsed.as_millis() as u64,
                "slow request"
            );
        }
        let frame = reply.and_then(|reply| {
            let frame = Pdu::new(
                reply.service_id,
                reply.command_id,
                header.seq_num,
                reply.body,
            )
            .to_bytes();
            if frame.is_none() {
                error!(command = name, "reply too large to frame; dropped");
            }
            frame
        });
        guard.finish(frame);
    };
    match key {
        Some(key) => ctx.ordered.submit(key, Box::pin(job), &ctx.tracker),
        None => {
            ctx.tracker.spawn(job);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reasons registered at start-up are exactly the labels used.
    #[test]
    fn every_close_reason_is_registered() {
        let all = [
            Closed::ByPeer,
            Closed::IdleTimeout,
            Closed::FrameTimeout,
            Closed::Frame(FrameError::TooShort(0)),
            Closed::Io(std::io::Error::other("x")),
            Closed::NotAllowed,
            Closed::Drained,
            Closed::Aborted,
        ];
        let labels: Vec<&str> = all.iter().map(Closed::label).collect();
        assert_eq!(labels, Closed::REASONS);
    }
}

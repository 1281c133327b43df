//! One task per connection: reads frames, hands requests to request tasks,
//! writes their replies, sends heartbeats and enforces the idle timeout.
//!
//! An idle connection holds no read or write buffer: buffers are allocated
//! when bytes arrive or replies are queued and dropped as soon as they are
//! empty. Replies reach the socket through the connection's own
//! [`ConnShared`](super::outbox::ConnShared), so a reply whose connection
//! has closed is dropped and can never reach another connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use prost::Message;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::codec::Decoder;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use super::outbox::{ConnShared, InFlight};
use super::server::ServerCtx;
use crate::handler::Command;
use crate::metrics as m;
use crate::wire::command::{cid, sid};
use crate::wire::{FrameError, Pdu, PduCodec};

/// Bytes reserved per read when the buffer is full.
const READ_CHUNK: usize = 8 * 1024;
/// Reading pauses while this many reply bytes wait to be written.
const WRITE_HIGH_WATER: usize = 4 * 1024 * 1024;
/// While draining, a connection closes after this long with nothing in
/// flight and nothing received.
const DRAIN_QUIET: Duration = Duration::from_millis(200);

/// Why a connection ended, for the log line.
#[derive(Debug)]
enum Closed {
    ByPeer,
    IdleTimeout,
    Frame(FrameError),
    Io(std::io::Error),
    Drained,
    Aborted,
}

impl std::fmt::Display for Closed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ByPeer => write!(f, "closed by peer"),
            Self::IdleTimeout => write!(f, "idle timeout"),
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

/// Serves one accepted connection until it closes.
pub(crate) async fn run(
    ctx: Arc<ServerCtx>,
    stream: TcpStream,
    peer: SocketAddr,
    id: u64,
    shutdown: CancellationToken,
) {
    info!(conn = id, %peer, "connection opened");
    metrics::gauge!(m::CONNECTIONS_OPEN).increment(1.0);
    ctx.state.stats.connection_opened();
    let conn = Arc::new(ConnShared::new(stream));
    let reason = drive(&ctx, &conn, &shutdown).await;
    metrics::gauge!(m::CONNECTIONS_OPEN).decrement(1.0);
    ctx.state.stats.connection_closed();
    conn.close();
    match &reason {
        Closed::Frame(_) => warn!(conn = id, %peer, reason = %reason, "connection closed"),
        _ => info!(conn = id, %peer, reason = %reason, "connection closed"),
    }
}

async fn drive(
    ctx: &Arc<ServerCtx>,
    conn: &Arc<ConnShared>,
    shutdown: &CancellationToken,
) -> Closed {
    let stream: &TcpStream = &conn.stream;
    let mut rbuf = BytesMut::new();
    let mut last_recv = Instant::now();
    let mut last_send = last_recv;
    let mut draining_since: Option<Instant> = None;
    // One timer for the connection's life, moved rather than re-created
    // each turn (re-creating costs a timer-wheel insert and removal per
    // wake-up).
    let timer = tokio::time::sleep_until(last_recv);
    tokio::pin!(timer);

    loop {
        // Read each turn, so a reload applies to open connections too.
        let (heartbeat_every, idle_after, max_in_flight, mut codec) = {
            let config = ctx.state.config();
            let s = &config.server;
            (
                Duration::from_millis(s.heartbeat_interval_ms),
                Duration::from_millis(s.idle_timeout_ms),
                s.max_in_flight_per_connection,
                PduCodec::new(s.max_frame_bytes),
            )
        };
        let pending = {
            let mut out = conn.outbox();
            if out.take_wrote() {
                last_send = Instant::now();
            }
            out.len()
        };
        // Flag first, count second: a request finishing in between wakes us.
        conn.set_wants_every_finish(true);
        let in_flight = conn.in_flight();
        let can_read = in_flight < max_in_flight && pending < WRITE_HIGH_WATER;
        if can_read && draining_since.is_none() {
            conn.set_wants_every_finish(false);
        }
        let heartbeat_at = last_send + heartbeat_every;
        let idle_at = last_recv + idle_after;
        let drain_close_at = draining_since
            .filter(|_| in_flight == 0 && pending == 0)
            .map(|since| since.max(last_recv) + DRAIN_QUIET);
        let wake_at = drain_close_at.map_or(heartbeat_at.min(idle_at), |d| {
            d.min(heartbeat_at).min(idle_at)
        });
        if timer.deadline() != wake_at {
            timer.as_mut().reset(wake_at);
        }

        tokio::select! {
            _ = ctx.abort.cancelled() => return Closed::Aborted,
            _ = shutdown.cancelled(), if draining_since.is_none() => {
                draining_since = Some(Instant::now());
                let stop = tt_proto::im::server::ImStopReceivePacket { result: Some(0) };
                conn.send(&frame_bytes(&Pdu::new(sid::OTHER, cid::STOP_RECV_PACKET, 0, stop.encode_to_vec())));
            }
            ready = stream.readable(), if can_read => {
                if let Err(e) = ready {
                    return Closed::Io(e);
                }
                if rbuf.capacity() - rbuf.len() < READ_CHUNK / 2 {
                    rbuf.reserve(READ_CHUNK);
                }
                match stream.try_read_buf(&mut rbuf) {
                    Ok(0) => return Closed::ByPeer,
                    Ok(n) => {
                        last_recv = Instant::now();
                        metrics::counter!(m::BYTES_IN).increment(n as u64);
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => return Closed::Io(e),
                }
                loop {
                    match codec.decode(&mut rbuf) {
                        Ok(Some(pdu)) => dispatch(ctx, conn, pdu),
                        Ok(None) => break,
                        Err(e) => return Closed::Frame(e),
                    }
                }
                if rbuf.is_empty() {
                    rbuf = BytesMut::new();
                }
            }
            ready = stream.writable(), if pending > 0 => {
                if let Err(e) = ready {
                    return Closed::Io(e);
                }
                if let Err(e) = conn.outbox().write_some(stream) {
                    return Closed::Io(e);
                }
            }
            _ = conn.notify.notified() => {}
            _ = &mut timer => {
                let now = Instant::now();
                if now >= idle_at {
                    return Closed::IdleTimeout;
                }
                if drain_close_at.is_some_and(|d| now >= d) {
                    return Closed::Drained;
                }
                if now >= heartbeat_at {
                    conn.send(&frame_bytes(&Pdu::new(sid::OTHER, cid::HEARTBEAT, 0, Bytes::new())));
                    // Counts as a send even if the socket is slow to take it,
                    // so a stalled peer gets one heartbeat per interval.
                    last_send = now;
                }
            }
        }
    }
}

/// Hands one request frame to a request task (or the ordered queue).
fn dispatch(ctx: &Arc<ServerCtx>, conn: &Arc<ConnShared>, pdu: Pdu) {
    let header = pdu.header;
    metrics::counter!(m::FRAMES_IN).increment(1);
    let command = Command::parse(header.command_id, &pdu.body);
    match command {
        Command::Heartbeat => return,
        Command::Unknown(id) => {
            metrics::counter!(m::UNKNOWN_COMMANDS).increment(1);
            warn!(
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
    let job = async move {
        let Ok(_permit) = task_ctx.workers.clone().acquire_owned().await else {
            return;
        };
        let name = command.name();
        let started = std::time::Instant::now();
        let reply = command.run(&task_ctx.state).await;
        let elapsed = started.elapsed();
        metrics::counter!(m::REQUESTS, "command" => name).increment(1);
        metrics::histogram!(m::REQUEST_SECONDS, "command" => name).record(elapsed.as_secs_f64());
        let slow_ms = task_ctx.state.config().log.slow_request_ms;
        if slow_ms > 0 && elapsed.as_millis() >= u128::from(slow_ms) {
            warn!(
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

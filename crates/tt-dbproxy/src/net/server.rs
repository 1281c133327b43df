//! The accept loop and the server's lifetime: [`run`] serves until the
//! shutdown token is cancelled, then drains.
//!
//! Drain (SIGTERM/SIGINT): stop accepting, send CID_OTHER_STOP_RECV_PACKET
//! to every connection, keep answering what arrives until each connection
//! is quiet, then return once every connection and request task is done or
//! `drain_timeout_ms` has passed, whichever is first.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use super::connection;
use super::ctx::ServerCtx;
use super::gates::Gates;
use super::ordering::KeyedQueue;
use super::peers::follow_allow_list;
use crate::state::AppState;

/// First pause after a failed `accept` (EMFILE and the like); doubles up
/// to [`MAX_ACCEPT_BACKOFF`].
const MIN_ACCEPT_BACKOFF: Duration = Duration::from_millis(5);
/// Longest pause between failed `accept` calls.
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// Registers the series of the server's counters at zero: requests per
/// command, store errors per kind, and connections refused or closed per
/// reason. Run when a server starts (after [`crate::metrics::install`]).
pub fn register_zero_metrics() {
    crate::handler::register_zero_metrics();
    crate::store::register_zero_metrics();
    for refusal in super::admission::Refusal::ALL {
        metrics::counter!(crate::metrics::CONNECTIONS_REFUSED, "reason" => refusal.label())
            .absolute(0);
    }
    for reason in connection::Closed::REASONS {
        metrics::counter!(crate::metrics::CONNECTIONS_CLOSED, "reason" => reason).absolute(0);
    }
}

/// Resizes the request limit when a reload changes `server.workers`.
async fn follow_worker_limit(
    state: Arc<AppState>,
    workers: Arc<Semaphore>,
    mut current: usize,
    shutdown: CancellationToken,
) {
    let mut changes = state.config_changes();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            changed = changes.changed() => if changed.is_err() { return },
        }
        let wanted = changes.borrow_and_update().server.workers;
        if wanted != current {
            crate::semaphore::resize(&workers, current, wanted);
            current = wanted;
        }
    }
}

/// Serves connections accepted on `listeners` until `shutdown` is
/// cancelled, then drains (see the module docs).
pub async fn run(listeners: Vec<TcpListener>, state: Arc<AppState>, shutdown: CancellationToken) {
    register_zero_metrics();
    let workers = state.config().server.workers;
    let ctx = Arc::new(ServerCtx {
        workers: Arc::new(Semaphore::new(workers)),
        tracker: TaskTracker::new(),
        ordered: Arc::new(KeyedQueue::default()),
        abort: CancellationToken::new(),
        next_conn_id: AtomicU64::new(1),
        state: state.clone(),
    });
    tokio::spawn(follow_worker_limit(
        state.clone(),
        ctx.workers.clone(),
        workers,
        shutdown.clone(),
    ));
    let gates = Gates::default();
    tokio::spawn(follow_allow_list(
        state.clone(),
        gates.peers.clone(),
        shutdown.clone(),
    ));
    let mut accept_loops = tokio::task::JoinSet::new();
    for listener in listeners {
        accept_loops.spawn(accept_loop(
            listener,
            ctx.clone(),
            gates.clone(),
            shutdown.clone(),
        ));
    }
    shutdown.cancelled().await;
    while accept_loops.join_next().await.is_some() {}
    info!(connections = gates.open(), "draining");
    let drain = Duration::from_millis(state.config().server.drain_timeout_ms);
    ctx.tracker.close();
    if tokio::time::timeout(drain, ctx.tracker.wait())
        .await
        .is_err()
    {
        warn!(
            tasks = ctx.tracker.len(),
            "drain deadline passed; dropping what is left"
        );
        ctx.abort.cancel();
    }
    info!("server stopped");
}

async fn accept_loop(
    listener: TcpListener,
    ctx: Arc<ServerCtx>,
    gates: Gates,
    shutdown: CancellationToken,
) {
    let mut backoff = MIN_ACCEPT_BACKOFF;
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = listener.accept() => r,
        };
        match accepted {
            Ok((stream, peer)) => {
                backoff = MIN_ACCEPT_BACKOFF;
                metrics::counter!(crate::metrics::CONNECTIONS_ACCEPTED).increment(1);
                let id = ctx.next_conn_id.fetch_add(1, Ordering::Relaxed);
                // Dropping the stream closes a refused connection.
                let Some(ticket) = gates.admit(&ctx.state, peer, id) else {
                    continue;
                };
                if let Err(e) = stream.set_nodelay(true) {
                    warn!(%peer, error = %e, "cannot set TCP_NODELAY");
                }
                let conn_ctx = ctx.clone();
                let token = shutdown.clone();
                ctx.tracker.spawn(async move {
                    let conn = ticket.conn.clone();
                    connection::run(conn_ctx, stream, peer, id, conn, token).await;
                    drop(ticket);
                });
            }
            Err(e) => {
                warn!(error = %e, backoff_ms = backoff.as_millis() as u64, "accept failed; backing off");
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_ACCEPT_BACKOFF);
            }
        }
    }
}

/// Binds every address, returning the listeners or the first failure with
/// the address that failed.
pub async fn bind_all(addrs: &[SocketAddr]) -> std::io::Result<Vec<TcpListener>> {
    let mut out = Vec::with_capacity(addrs.len());
    for addr in addrs {
        let l = TcpListener::bind(addr)
            .await
            .map_err(|e| std::io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
        out.push(l);
    }
    Ok(out)
}

//! `tt-dbproxy shadow`: rehearse the migration on live traffic. The shadow
//! listens like `serve` and forwards every frame to a running original
//! (`--upstream`), answering each client with the upstream's reply (or
//! nothing, when the upstream sends nothing), so nothing changes for
//! msg_server. Reads ([`COMPARED`]) also run through tt-dbproxy's own
//! handlers and store, off the forwarding path, and the two replies are
//! compared field by field: equal, expected (a difference the project
//! makes on purpose), raced (a write to the same user or conversation was
//! forwarded meanwhile), different, or shadow error. Writes are never run
//! by the shadow side.
//!
//! Findings: `tt_dbproxy_shadow_comparisons_total{command, result}`, the
//! first differences of each command logged as one JSON line each (both
//! replies decoded), and `GET /shadow` on the admin endpoint.

pub mod compare;
pub mod stats;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use prost_reflect::{DescriptorPool, DynamicMessage};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tokio_util::codec::{FramedRead, FramedWrite};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::handler::{Command, Reply};
use crate::state::AppState;
use crate::wire::command::by_id;
use crate::wire::{Pdu, PduCodec};
use stats::{Outcome, ShadowStats};

/// Read commands whose replies are compared (request command ids):
/// query push shield, recent sessions, user info, all users, departments,
/// device tokens, group push shields, offline files, unread summary,
/// message list, messages by id, latest message id, group list, group
/// info. Login is forwarded only (it moves the throttle, and the original
/// accepts any password).
pub const COMPARED: &[u16] = &[
    0x010e, 0x0201, 0x0204, 0x0208, 0x0210, 0x0705, 0x0711, 0x0509, 0x0307, 0x0309, 0x030d, 0x030b,
    0x0401, 0x0403,
];

/// Write commands: forwarded only, and the users and conversations they
/// name make reads of them "raced" for a while.
pub const WRITES: &[u16] = &[
    0x010c, 0x0206, 0x0213, 0x0108, 0x0409, 0x050b, 0x050c, 0x0301, 0x0303, 0x0405, 0x0407,
];

/// A read is "raced" when a write naming one of its ids was forwarded
/// from this long before the read until its upstream reply.
pub const RACE_WINDOW: Duration = Duration::from_secs(1);

/// Longest wait for the shadow side's own reply.
const OWN_REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// Upstream replies waiting for comparison per connection; when full,
/// comparisons are dropped (counted as shadow errors), never forwarding.
const COMPARE_QUEUE: usize = 1024;

/// Most differing paths reported per reply.
const MAX_PATHS: usize = 20;

static STATS: OnceLock<Arc<ShadowStats>> = OnceLock::new();

/// The running shadow's findings, for `GET /shadow` (`None` unless this
/// process runs `shadow`).
pub fn stats() -> Option<&'static Arc<ShadowStats>> {
    STATS.get()
}

/// A read forwarded and run locally, waiting for the upstream's reply.
struct Pending {
    command_id: u16,
    ours: oneshot::Receiver<Option<Reply>>,
    /// The request's body: its ids are read from it only when the replies
    /// differ (to tell a race), never on the forwarding path.
    request: bytes::Bytes,
    since: Instant,
}

/// Reads waiting for their upstream reply, by (sequence number, reply
/// command id), oldest first: msg_server passes its clients' sequence
/// numbers through, so several reads in flight may share one.
#[derive(Default)]
struct PendingReads {
    by_key: HashMap<(u16, u16), VecDeque<Pending>>,
    len: usize,
}

/// Most reads waiting for comparison per connection; beyond it (an
/// upstream that stopped answering some of them) the oldest are dropped.
const MAX_PENDING: usize = 4096;

impl PendingReads {
    fn insert(&mut self, key: (u16, u16), p: Pending) -> usize {
        let mut dropped = 0;
        if self.len >= MAX_PENDING {
            // Reads the upstream never answered (it is silent on some
            // error paths), or whose reply was not queued: give them up.
            let stale = Instant::now()
                .checked_sub(OWN_REPLY_TIMEOUT * 2)
                .unwrap_or_else(Instant::now);
            for q in self.by_key.values_mut() {
                let before = q.len();
                q.retain(|p| p.since > stale);
                dropped += before - q.len();
            }
            self.by_key.retain(|_, q| !q.is_empty());
            self.len -= dropped;
            if self.len >= MAX_PENDING {
                return dropped + 1;
            }
        }
        self.by_key.entry(key).or_default().push_back(p);
        self.len += 1;
        dropped
    }

    fn take(&mut self, key: (u16, u16)) -> Option<Pending> {
        let q = self.by_key.get_mut(&key)?;
        let p = q.pop_front();
        if q.is_empty() {
            self.by_key.remove(&key);
        }
        if p.is_some() {
            self.len -= 1;
        }
        p
    }
}

/// The shadow: where to forward, what to compare against.
pub struct Shadow {
    state: Arc<AppState>,
    upstream: SocketAddr,
    pool: DescriptorPool,
    stats: Arc<ShadowStats>,
    /// When forwarded writes last named each id (the newest few).
    writes: Mutex<HashMap<u32, VecDeque<Instant>>>,
    /// The server's connection limits, applied to client connections.
    gates: crate::net::gates::Gates,
    next_conn_id: std::sync::atomic::AtomicU64,
}

/// Most ids remembered for race detection; older entries go first.
const WRITE_LOG_MAX: usize = 100_000;
/// Write times kept per id.
const WRITES_PER_ID: usize = 4;

impl Shadow {
    /// A shadow forwarding to `upstream` and comparing with `state`'s
    /// handlers and store.
    pub fn new(
        state: Arc<AppState>,
        upstream: SocketAddr,
    ) -> Result<Arc<Self>, prost_reflect::DescriptorError> {
        let stats = STATS.get_or_init(Default::default).clone();
        Ok(Arc::new(Self {
            state,
            upstream,
            pool: crate::wire::json::descriptor_pool()?,
            stats,
            writes: Mutex::new(HashMap::new()),
            gates: crate::net::gates::Gates::default(),
            next_conn_id: std::sync::atomic::AtomicU64::new(1),
        }))
    }

    fn request_ids(&self, command_id: u16, body: &[u8]) -> Vec<u32> {
        by_id(command_id)
            .and_then(|spec| self.pool.get_message_by_name(spec.request))
            .map(|desc| compare::ids(&desc, body))
            .unwrap_or_default()
    }

    fn note_write(&self, command_id: u16, body: &[u8]) {
        let ids = self.request_ids(command_id, body);
        let now = Instant::now();
        let mut w = self.writes.lock().unwrap_or_else(|e| e.into_inner());
        if w.len() > WRITE_LOG_MAX {
            w.retain(|_, times| {
                times
                    .back()
                    .is_some_and(|at| now.duration_since(*at) < RACE_WINDOW * 10)
            });
        }
        for id in ids {
            let times = w.entry(id).or_default();
            if times.len() == WRITES_PER_ID {
                times.pop_front();
            }
            times.push_back(now);
        }
    }

    /// Whether a write named one of `ids` between [`RACE_WINDOW`] before
    /// the read (`since`) and the arrival of its upstream reply.
    fn raced(&self, ids: &[u32], since: Instant, arrived: Instant) -> bool {
        let from = since.checked_sub(RACE_WINDOW).unwrap_or(since);
        let w = self.writes.lock().unwrap_or_else(|e| e.into_inner());
        ids.iter().any(|id| {
            w.get(id)
                .is_some_and(|times| times.iter().any(|at| *at >= from && *at <= arrived))
        })
    }

    /// Accepts on `listeners` until `shutdown`, one forwarding task per
    /// client connection, under the same `server.allow_peers`,
    /// `max_connections_per_peer` and `max_connections` as `serve`.
    pub async fn run(self: Arc<Self>, listeners: Vec<TcpListener>, shutdown: CancellationToken) {
        crate::net::register_zero_metrics();
        let mut tasks = Vec::new();
        for l in listeners {
            let me = self.clone();
            let stop = shutdown.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    tokio::select! {
                        () = stop.cancelled() => return,
                        accepted = l.accept() => match accepted {
                            Ok((client, peer)) => {
                                let id = me.next_conn_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                // Refused like `serve` refuses: dropping the stream closes it.
                                let Some(ticket) = me.gates.admit(&me.state, peer, id) else {
                                    continue;
                                };
                                let me = me.clone();
                                tokio::spawn(async move {
                                    me.connection(client).await;
                                    drop(ticket);
                                });
                            }
                            Err(e) => {
                                warn!(error = %e, "shadow: accept failed");
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                        }
                    }
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    }

    /// Forwards one client connection both ways; compares reads aside.
    async fn connection(self: Arc<Self>, client: TcpStream) {
        let upstream = match TcpStream::connect(self.upstream).await {
            Ok(s) => s,
            Err(e) => {
                warn!(upstream = %self.upstream, error = %e, "shadow: cannot reach the upstream; client closed");
                return;
            }
        };
        let _ = client.set_nodelay(true);
        let _ = upstream.set_nodelay(true);
        let max = self.state.config().server.max_frame_bytes;
        let (cr, cw) = client.into_split();
        let (ur, uw) = upstream.into_split();
        let mut from_client = FramedRead::new(cr, PduCodec::new(max));
        let mut to_upstream = FramedWrite::new(uw, PduCodec::new(max));
        let mut from_upstream = FramedRead::new(ur, PduCodec::new(usize::MAX >> 1));
        let mut to_client = FramedWrite::new(cw, PduCodec::new(usize::MAX >> 1));
        let pending: Arc<Mutex<PendingReads>> = Arc::default();
        let (replies, queue) = mpsc::channel::<(Pdu, Instant)>(COMPARE_QUEUE);
        tokio::spawn(self.clone().comparer(queue, pending.clone()));

        let forward_requests = async {
            while let Some(Ok(pdu)) = from_client.next().await {
                let cid = pdu.header.command_id;
                if COMPARED.contains(&cid) {
                    self.run_locally(&pdu, &pending);
                } else if WRITES.contains(&cid) {
                    self.note_write(cid, &pdu.body);
                }
                if to_upstream.send(pdu).await.is_err() {
                    break;
                }
            }
        };
        let forward_replies = async {
            while let Some(Ok(pdu)) = from_upstream.next().await {
                let copy = pdu.clone();
                if to_client.send(pdu).await.is_err() {
                    break;
                }
                if replies.try_send((copy, Instant::now())).is_err() {
                    self.stats
                        .record("queue", Outcome::ShadowError, || serde_json::Value::Null);
                }
            }
        };
        tokio::select! {
            () = forward_requests => {}
            () = forward_replies => {}
        }
    }

    /// Runs a read through the shadow's own handler, off the forwarding
    /// path, and files it for comparison with the upstream's reply.
    fn run_locally(&self, pdu: &Pdu, pending: &Mutex<PendingReads>) {
        let Some(reply_cid) = by_id(pdu.header.command_id)
            .and_then(|spec| spec.reply)
            .map(|r| r.command_id)
        else {
            return;
        };
        let (done, ours) = oneshot::channel();
        let (cid, body, state) = (pdu.header.command_id, pdu.body.clone(), self.state.clone());
        let deadline =
            Instant::now() + Duration::from_millis(state.config().storage.request_timeout_ms);
        tokio::spawn(async move {
            let reply =
                crate::deadline::scope(deadline, Command::parse(cid, &body).run(&state)).await;
            let _ = done.send(reply);
        });
        let p = Pending {
            command_id: cid,
            ours,
            request: pdu.body.clone(),
            since: Instant::now(),
        };
        let dropped = pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((pdu.header.seq_num, reply_cid), p);
        for _ in 0..dropped {
            self.stats.record("unanswered", Outcome::ShadowError, || {
                serde_json::Value::Null
            });
        }
    }

    /// Compares each upstream reply with the shadow's own, in arrival order.
    async fn comparer(
        self: Arc<Self>,
        mut queue: mpsc::Receiver<(Pdu, Instant)>,
        pending: Arc<Mutex<PendingReads>>,
    ) {
        while let Some((theirs, arrived)) = queue.recv().await {
            let p = pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take((theirs.header.seq_num, theirs.header.command_id));
            let Some(Pending {
                command_id,
                ours,
                request,
                since,
            }) = p
            else {
                continue;
            };
            let ours = match tokio::time::timeout(OWN_REPLY_TIMEOUT, ours).await {
                Ok(Ok(Some(reply))) => Some(reply),
                _ => None,
            };
            self.judge(command_id, &request, (since, arrived), ours, &theirs);
        }
    }

    /// Classifies one comparison and records it.
    fn judge(
        &self,
        command_id: u16,
        request: &[u8],
        (since, arrived): (Instant, Instant),
        ours: Option<Reply>,
        theirs: &Pdu,
    ) {
        let Some(spec) = by_id(command_id) else {
            return;
        };
        let name = spec.name;
        let Some(reply) = spec.reply else { return };
        let Some(desc) = self.pool.get_message_by_name(reply.message) else {
            return;
        };
        let decoded = ours.as_ref().and_then(|o| {
            let a = DynamicMessage::decode(desc.clone(), o.body.as_slice()).ok()?;
            let b = DynamicMessage::decode(desc.clone(), theirs.body.as_ref()).ok()?;
            Some((a, b))
        });
        let Some((a, b)) = decoded else {
            self.stats
                .record(name, Outcome::ShadowError, || serde_json::Value::Null);
            return;
        };
        let diffs = compare::differences(&a, &b, MAX_PATHS);
        let outcome = if diffs.is_empty() {
            Outcome::Equal
        } else if self.raced(&self.request_ids(command_id, request), since, arrived) {
            Outcome::Raced
        } else if compare::all_expected(command_id, &diffs) {
            Outcome::Expected
        } else {
            Outcome::Different
        };
        let render = |m: &DynamicMessage| {
            let opts = prost_reflect::SerializeOptions::new().use_proto_field_name(true);
            m.serialize_with_options(serde_json::value::Serializer, &opts)
                .unwrap_or(serde_json::Value::Null)
        };
        let first = self.stats.record(name, outcome, || {
            serde_json::json!({
                "command": name,
                "seq": theirs.header.seq_num,
                "differences": diffs,
                "upstream": render(&b),
                "shadow": render(&a),
            })
        });
        if let Some(detail) = first {
            warn!(target: "tt_dbproxy::shadow", "{detail}");
        }
    }
}

/// Logs where the shadow forwards to.
pub fn announce(upstream: SocketAddr) {
    info!(%upstream, "shadow: forwarding every request to the upstream; reads compared");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(since: Instant) -> Pending {
        Pending {
            command_id: 0x0307,
            ours: oneshot::channel().1,
            request: bytes::Bytes::new(),
            since,
        }
    }

    /// Reads sharing a sequence number are matched in order, and only by
    /// a reply of their own command; a full table gives up stale reads.
    #[test]
    fn replies_match_by_seq_and_command_in_order() {
        let mut t = PendingReads::default();
        let now = Instant::now();
        assert_eq!(t.insert((7, 0x0308), pending(now)), 0);
        assert_eq!(
            t.insert((7, 0x0308), pending(now + Duration::from_millis(5))),
            0
        );
        assert!(t.take((7, 0x0202)).is_none(), "another command's reply");
        assert!(t.take((7, 0x0701)).is_none(), "a heartbeat");
        let first = t.take((7, 0x0308)).map(|p| p.since);
        assert_eq!(first, Some(now), "oldest first");
        assert!(t.take((7, 0x0308)).is_some());
        assert!(t.take((7, 0x0308)).is_none());
        assert_eq!(t.len, 0);

        let old = now.checked_sub(OWN_REPLY_TIMEOUT * 3).unwrap_or(now);
        for seq in 0..MAX_PENDING as u16 {
            t.insert((seq, 0x0308), pending(old));
        }
        assert_eq!(t.len, MAX_PENDING);
        let dropped = t.insert((1, 0x0202), pending(now));
        if old < now {
            assert_eq!(dropped, MAX_PENDING, "stale reads given up");
            assert_eq!(t.len, 1);
        }
    }
}

//! `tt-dbproxy bench`: a closed-loop load generator speaking the wire
//! protocol. Each connection keeps `pipeline` requests in flight until the
//! request budget or the deadline is used up; latencies go into one HDR
//! histogram per connection, merged at the end.
//!
//! A draining server (SIGTERM) sends CID_OTHER_STOP_RECV_PACKET to every
//! connection: that connection stops sending, collects the replies still
//! owed and ends; the report counts it as draining, not as an error.

pub mod direct;
pub mod report;
pub mod workload;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::client::Client;
use crate::wire::Pdu;
use crate::wire::command::{cid, sid};
mod options;

pub use options::Options;
pub use report::Report;
pub use workload::{Kind, Users, Workload};

/// How long a connection waits for any reply before counting its
/// in-flight requests as timed out.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// Shared between the connections: the remaining budget and progress.
pub struct Progress {
    remaining: AtomicU64,
    deadline: Option<Instant>,
    /// Requests answered so far.
    pub done: AtomicU64,
}

impl Progress {
    fn take(&self) -> bool {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return false;
        }
        self.remaining
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |r| r.checked_sub(1))
            .is_ok()
    }
}

struct Outcome {
    latency_us: Histogram<u64>,
    errors: BTreeMap<&'static str, u64>,
    /// The server said it is draining (STOP_RECV_PACKET).
    draining: bool,
}

impl Outcome {
    fn new() -> Self {
        Self {
            latency_us: histogram(),
            errors: BTreeMap::new(),
            draining: false,
        }
    }

    /// Records the latency of a request sent at `sent`.
    fn answered(&mut self, sent: Instant) {
        let micros = u64::try_from(sent.elapsed().as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        let _ = self.latency_us.record(micros.min(60_000_000));
    }

    /// Counts `n` errors of `kind`.
    fn failed(&mut self, kind: &'static str, n: u64) {
        *self.errors.entry(kind).or_default() += n;
    }

    /// Counts a reply of command `got` to a request of `kind` expecting
    /// `expected` as an error if it is the wrong reply or says failure.
    fn check_reply(&mut self, kind: Kind, expected: u16, got: u16, body: &[u8]) {
        if got != expected {
            self.failed("wrong_reply", 1);
        } else if let Some(e) = kind.check(body) {
            self.failed(e, 1);
        }
    }
}

fn histogram() -> Histogram<u64> {
    // 1 µs .. 60 s with 3 significant digits: constant, valid bounds, so
    // construction cannot fail.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("constant histogram bounds are valid")
}

async fn connection(opts: Arc<Options>, progress: Arc<Progress>, conn: u32) -> Outcome {
    let mut out = Outcome::new();
    let mut client = match Client::connect(opts.addr).await {
        Ok(c) => c,
        Err(_) => {
            out.failed("connect", 1);
            return out;
        }
    };
    let mut in_flight: HashMap<u16, (Instant, Kind, u16)> = HashMap::new();
    let mut seq: u16 = 0;
    let mut n: u64 = 0;
    loop {
        while !out.draining && in_flight.len() < opts.pipeline as usize && progress.take() {
            seq = seq.wrapping_add(1).max(1);
            let kind = opts.workload.kind(n);
            let req = kind.request(opts.users, conn, n);
            n += 1;
            if client
                .send_pdu(Pdu::new(req.service_id, req.command_id, seq, req.body))
                .await
                .is_err()
            {
                out.failed("closed", 1);
                return out;
            }
            in_flight.insert(seq, (Instant::now(), kind, req.reply_command_id));
        }
        if in_flight.is_empty() {
            return out;
        }
        let frame = match tokio::time::timeout(REPLY_TIMEOUT, client.next_frame()).await {
            Ok(Ok(Some(f))) => f,
            Ok(_) => {
                out.failed("closed", in_flight.len() as u64);
                return out;
            }
            Err(_) => {
                out.failed("timeout", in_flight.len() as u64);
                return out;
            }
        };
        if frame.header.command_id == cid::HEARTBEAT {
            continue;
        }
        if frame.header.service_id == sid::OTHER && frame.header.command_id == cid::STOP_RECV_PACKET
        {
            // The server drains: send nothing more here; the requests in
            // flight are still answered.
            out.draining = true;
            continue;
        }
        let Some((sent, kind, reply_cmd)) = in_flight.remove(&frame.header.seq_num) else {
            out.failed("unexpected_reply", 1);
            continue;
        };
        out.answered(sent);
        progress.done.fetch_add(1, Ordering::Relaxed);
        out.check_reply(kind, reply_cmd, frame.header.command_id, &frame.body);
    }
}

/// Runs the load; `on_start` receives the shared progress (for a progress
/// bar) before the connections start.
pub async fn run(opts: Options, on_start: impl FnOnce(Arc<Progress>)) -> Report {
    let progress = progress(&opts);
    on_start(progress.clone());
    let opts = Arc::new(opts);
    let started = Instant::now();
    let tasks: Vec<_> = (0..opts.connections)
        .map(|c| tokio::spawn(connection(opts.clone(), progress.clone(), c)))
        .collect();
    collect(&opts, started, tasks).await
}

/// The shared budget of a run of `opts`.
fn progress(opts: &Options) -> Arc<Progress> {
    Arc::new(Progress {
        remaining: AtomicU64::new(opts.requests.unwrap_or(u64::MAX)),
        deadline: opts.duration.map(|d| Instant::now() + d),
        done: AtomicU64::new(0),
    })
}

/// Waits for the load tasks and merges their outcomes into the report.
async fn collect(
    opts: &Options,
    started: Instant,
    tasks: Vec<tokio::task::JoinHandle<Outcome>>,
) -> Report {
    let mut latency = histogram();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let mut draining = 0;
    for t in tasks {
        match t.await {
            Ok(o) => {
                draining += u32::from(o.draining);
                let _ = latency.add(&o.latency_us);
                for (k, v) in o.errors {
                    *errors.entry(k.to_string()).or_default() += v;
                }
            }
            Err(_) => *errors.entry("task_failed".into()).or_default() += 1,
        }
    }
    Report::new(opts, started.elapsed(), &latency, errors, draining)
}

//! `bench --direct`: the same requests run through the same handlers and
//! store in-process, with no socket, framing or server scheduling in
//! between. It issues exactly the backend statements the server issues,
//! at the same concurrency, so a proxy figure divided by the direct figure
//! is the share of the backend's capacity the proxy delivers, and the
//! difference in latency is what the proxy adds.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::{Options, Outcome, Progress, Report, collect, progress};
use crate::handler::Command;
use crate::state::AppState;

/// Runs the load of `opts` (its address is ignored) against `state`;
/// `connections × pipeline` tasks each keep one request in progress.
pub async fn run(
    opts: Options,
    state: Arc<AppState>,
    on_start: impl FnOnce(Arc<Progress>),
) -> Report {
    let progress = progress(&opts);
    on_start(progress.clone());
    let opts = Arc::new(opts);
    let started = Instant::now();
    let tasks: Vec<_> = (0..opts.connections)
        .flat_map(|c| std::iter::repeat_n(c, opts.pipeline as usize))
        .map(|c| tokio::spawn(worker(opts.clone(), progress.clone(), state.clone(), c)))
        .collect();
    let mut report = collect(&opts, started, tasks).await;
    report.mode = "direct";
    report
}

async fn worker(
    opts: Arc<Options>,
    progress: Arc<Progress>,
    state: Arc<AppState>,
    conn: u32,
) -> Outcome {
    let mut out = Outcome::new();
    let mut n: u64 = 0;
    while progress.take() {
        let kind = opts.workload.kind(n);
        let req = kind.request(opts.users, conn, n);
        n += 1;
        let started = Instant::now();
        // The same per-request deadline the server applies.
        let deadline = tokio::time::Instant::now()
            + std::time::Duration::from_millis(state.config().storage.request_timeout_ms);
        let command = Command::parse(req.command_id, &req.body);
        let reply = crate::deadline::scope(deadline, command.run(&state)).await;
        out.answered(started);
        progress.done.fetch_add(1, Ordering::Relaxed);
        match reply {
            None => out.failed("no_reply", 1),
            Some(r) => out.check_reply(kind, req.reply_command_id, r.command_id, &r.body),
        }
    }
    out
}

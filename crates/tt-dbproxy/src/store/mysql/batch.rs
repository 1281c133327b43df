//! Group commit of sends on MySQL. A send's id and sessions are found per
//! request; its writes (revive and touch the sessions, insert the row,
//! the group's `lastChated`) then queue here. A committer takes every
//! queued send (at most `storage.batch_max`) into one transaction: the
//! check of remembered ids ([`super::stale`]), one `UPDATE` for all
//! sessions, multi-row `INSERT`s per shard table and one `UPDATE` of
//! `lastChated` and the `COMMIT`, sent as one text in one round trip
//! ([`super::script`]; the check then is a guard that stops the text when
//! an id is gone, and the batch runs again with the check and its
//! `COMMIT` in a second round trip). There is no timer: a committer
//! starts as soon as a lane is free, so a lone send commits at once, and
//! sends that arrive while [`LANES`] commits are in flight form the next
//! batch.
//!
//! Each send keeps its own outcome. A batch rolled back by a conflict (a
//! deadlock, or a Galera certification failure: [`super::galera`]) is run
//! again whole, a few times within the deadline. A batch the server
//! refused otherwise (a bad row) stored nothing; it is cut in halves,
//! each committed on its own (and cut again while refused), so one send
//! that cannot be stored fails alone and does not fail the others. A
//! batch whose `COMMIT` was cut off has an unknown outcome for each send, resolved by
//! the caller under the commit-outcome rule ([`CommitFailure::Unknown`]).
//! Replies, counters and the memory of resends follow only a commit.
//!
//! Deadlines: a send still queued at its deadline is withdrawn (not
//! stored); a batch runs under the earliest deadline of its sends, and a
//! send whose deadline passes while its batch commits is answered as
//! "outcome unknown".

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Row};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use tokio::time::Instant;

use super::galera::{Detected, record_retry, retry_pause};
use super::outcome::{Attempt, CommitFailure, attempt_err, commit, committing};
use super::pending_send::PendingSend;
use super::pool::MysqlPools;
use super::script::{Script, insert_all, sorted_unique};
use super::stale;
use crate::deadline::{self, bounded};
use crate::store::{GroupMessageRow, MESSAGE_SHARDS, SingleMessageRow, StoreError};

/// Group commits in flight at once. One: the sends that arrive while a
/// batch commits form the next batch, which then carries more rows per
/// statement. Measured against two (docs/benchmarks.md, 2026-12-07): 1.26
/// statements per send instead of 1.76, 0.84 of the CPU per send and
/// 1.08 times the sends per second at 16 connections.
pub const LANES: usize = 1;

const QUEUED: u8 = 0;
const STARTED: u8 = 1;
const CANCELLED: u8 = 2;

struct Item {
    send: PendingSend,
    now: u32,
    deadline: Instant,
    state: Arc<AtomicU8>,
    done: oneshot::Sender<Result<(), CommitFailure>>,
}

/// The queue of sends and the committer lanes, committing on the
/// primary of `pools`.
pub(crate) struct GroupCommit {
    pools: Arc<MysqlPools>,
    queue: Mutex<VecDeque<Item>>,
    lanes: Arc<Semaphore>,
    batch_max: AtomicUsize,
    /// Whether the primary is a Galera node: its statements then go one
    /// per round trip ([`Script::begin`]).
    galera: Detected,
}

impl GroupCommit {
    /// Batches of at most `batch_max` sends, committed on `pools`.
    pub(crate) fn new(pools: Arc<MysqlPools>, batch_max: usize) -> Self {
        Self {
            pools,
            queue: Mutex::new(VecDeque::new()),
            lanes: Arc::new(Semaphore::new(LANES)),
            batch_max: AtomicUsize::new(batch_max.max(1)),
            galera: Detected::default(),
        }
    }

    /// Changes the largest batch (`storage.batch_max`, reloadable).
    pub(crate) fn set_batch_max(&self, n: usize) {
        self.batch_max.store(n.max(1), Ordering::Relaxed);
    }

    fn queue(&self) -> MutexGuard<'_, VecDeque<Item>> {
        // Nothing panics while holding it; a poisoned queue is still valid.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next batch: queued sends not withdrawn, claimed for committing.
    fn take(&self) -> Vec<Item> {
        let most = self.batch_max.load(Ordering::Relaxed).max(1);
        let mut q = self.queue();
        let mut batch = Vec::new();
        while batch.len() < most {
            let Some(item) = q.pop_front() else { break };
            if item
                .state
                .compare_exchange(QUEUED, STARTED, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                batch.push(item);
            }
        }
        batch
    }
}

/// One round trip of a group commit, under the deadline.
async fn step<T>(fut: impl Future<Output = Result<T, mysql_async::Error>>) -> Result<T, Attempt> {
    match tokio::time::timeout_at(deadline::effective(), fut).await {
        Ok(r) => r.map_err(attempt_err),
        Err(_) => Err(deadline::expired("a group commit").into()),
    }
}

/// Runs one text of statements and returns the rows of every result set
/// (only the check of remembered ids has rows). The server stops at the
/// first statement that fails; that error is returned.
async fn run_text(c: &mut Conn, text: &str) -> Result<Vec<Row>, mysql_async::Error> {
    let mut result = c.query_iter(text).await?;
    let mut rows = Vec::new();
    while !result.is_empty() {
        rows.extend(result.collect::<Row>().await?);
    }
    // The error of a statement after the first few can still be unread
    // when `is_empty` says the results are over (mysql_async 0.37): read
    // to the end, so a failed statement is never taken for success.
    result.drop_result().await?;
    Ok(rows)
}

/// How a batch's transaction ended when nothing failed.
#[derive(Debug)]
enum Ran {
    /// Committed.
    Committed,
    /// Rolled back: these remembered relation and session ids are gone.
    Stale(HashSet<u32>, HashSet<u32>),
    /// Rolled back: the guard found a remembered id gone; run again with
    /// the check, which says which.
    Unchecked,
}

/// How a batch's statements reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trips {
    /// The statements and the `COMMIT` in one text, remembered ids
    /// guarded ([`stale::guard_sql`]).
    One,
    /// The statements with the check of remembered ids, then `COMMIT` or
    /// `ROLLBACK` as the check found (always on a Galera node).
    Two,
}

impl GroupCommit {
    /// Commits a send's writes with whatever sends share its batch: `Ok`
    /// means committed.
    pub(crate) async fn commit(
        self: &Arc<Self>,
        send: PendingSend,
        now: u32,
    ) -> Result<(), CommitFailure> {
        let end = deadline::effective();
        let state = Arc::new(AtomicU8::new(QUEUED));
        let (done, mut result) = oneshot::channel();
        self.queue().push_back(Item {
            send,
            now,
            deadline: end,
            state: state.clone(),
            done,
        });
        self.start_committer();
        tokio::select! {
            r = &mut result => r.unwrap_or_else(|_| {
                Err(CommitFailure::Unknown(StoreError::Unavailable(
                    "the group committer stopped".into(),
                )))
            }),
            () = tokio::time::sleep_until(end) => {
                if state
                    .compare_exchange(QUEUED, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    Err(CommitFailure::NotStored(deadline::expired("a send waiting for its commit")))
                } else {
                    Err(CommitFailure::Unknown(deadline::expired("a group commit")))
                }
            }
        }
    }

    /// Starts a committer if a lane is free; otherwise a running one
    /// takes the queued sends when its commit ends.
    fn start_committer(self: &Arc<Self>) {
        if let Ok(permit) = self.lanes.clone().try_acquire_owned() {
            let me = self.clone();
            tokio::spawn(async move { me.committer(permit).await });
        }
    }

    /// Commits batches while sends are queued.
    async fn committer(self: Arc<Self>, permit: OwnedSemaphorePermit) {
        let mut permit = Some(permit);
        loop {
            let batch = self.take();
            if batch.is_empty() {
                drop(permit.take());
                // A send queued after `take` may have found no free lane:
                // look again now that this one is free.
                if self.queue().is_empty() {
                    return;
                }
                match self.lanes.clone().try_acquire_owned() {
                    Ok(p) => permit = Some(p),
                    // Another committer holds the lanes and will look.
                    Err(_) => return,
                }
                continue;
            }
            self.commit_batch(batch).await;
        }
    }

    /// Commits one batch and tells each send its outcome. Sends whose
    /// remembered ids are gone are answered [`CommitFailure::Stale`] and
    /// the others committed without them. A batch the server refused (a
    /// row it cannot store) stored nothing: it is cut in halves, each
    /// committed on its own (and cut again if refused), so a send that
    /// cannot be stored fails alone and the others still commit together.
    async fn commit_batch(&self, batch: Vec<Item>) {
        let mut parts = vec![batch];
        while let Some(part) = parts.pop() {
            let now = Instant::now();
            let (late, part): (Vec<Item>, Vec<Item>) =
                part.into_iter().partition(|i| i.deadline <= now);
            for item in late {
                // Its caller has answered already ("outcome unknown", and
                // the batch it was in stored nothing).
                let late = deadline::expired("a send retried after its batch");
                let _ = item.done.send(Err(CommitFailure::NotStored(late)));
            }
            let Some(end) = part.iter().map(|i| i.deadline).min() else {
                continue;
            };
            let sends: Vec<(&PendingSend, u32)> = part.iter().map(|i| (&i.send, i.now)).collect();
            let outcome = deadline::scope(end, self.exec_batch(&sends)).await;
            match outcome {
                Ok(Ran::Stale(rel_gone, sessions_gone)) => {
                    let (stale, fresh): (Vec<Item>, Vec<Item>) = part.into_iter().partition(|i| {
                        i.send.remembered_ids().is_some_and(|(rel, s)| {
                            rel.is_some_and(|r| rel_gone.contains(&r))
                                || s.iter().any(|id| sessions_gone.contains(id))
                        })
                    });
                    for item in stale {
                        let _ = item
                            .done
                            .send(Err(CommitFailure::Stale(Box::new(item.send))));
                    }
                    parts.push(fresh);
                }
                Err(CommitFailure::NotStored(_)) if part.len() > 1 => {
                    let mut first = part;
                    let second = first.split_off(first.len() / 2);
                    // The first half commits first.
                    parts.push(second);
                    parts.push(first);
                }
                outcome => {
                    let outcome = outcome.map(drop);
                    if outcome.is_ok() {
                        record_size(part.len());
                    }
                    for item in part {
                        let _ = item.done.send(outcome.clone());
                    }
                }
            }
        }
    }

    /// The writes of `sends` in one transaction, run again while it is
    /// rolled back by a conflict (at most [`super::galera::ATTEMPTS`]
    /// runs, within the deadline). Only a definite rollback is retried, so
    /// a send is never stored twice.
    async fn exec_batch(&self, sends: &[(&PendingSend, u32)]) -> Result<Ran, CommitFailure> {
        let mut attempt = 1;
        let mut trips = Trips::One;
        loop {
            match self.exec_once(sends, trips).await {
                Ok(Ran::Unchecked) => trips = Trips::Two,
                Ok(ran) => return Ok(ran),
                Err(Attempt::Failed(f)) => return Err(f),
                Err(Attempt::Conflict(e)) => {
                    if !retry_pause(attempt).await {
                        return Err(CommitFailure::NotStored(e));
                    }
                    record_retry("send");
                    attempt += 1;
                }
            }
        }
    }

    /// One run of the writes of `sends` in one transaction: with
    /// [`Trips::One`] (not on a Galera node) the statements ([`Script`])
    /// and the `COMMIT` in one round trip, remembered ids guarded; with
    /// [`Trips::Two`] the statements in one round trip, the check of
    /// remembered ids first, then `COMMIT`, or `ROLLBACK` when ids are
    /// gone.
    async fn exec_once(&self, sends: &[(&PendingSend, u32)], trips: Trips) -> Result<Ran, Attempt> {
        let now = sends.iter().map(|(_, n)| *n).max().unwrap_or(0);
        let mut sessions = Vec::new();
        let mut singles: BTreeMap<u32, Vec<&SingleMessageRow>> = BTreeMap::new();
        let mut groups: BTreeMap<u32, Vec<&GroupMessageRow>> = BTreeMap::new();
        let (mut relations, mut remembered) = (HashSet::new(), HashSet::new());
        for (send, _) in sends {
            if let Some((rel, s)) = send.remembered_ids() {
                relations.extend(rel);
                remembered.extend(s);
            }
            match send {
                PendingSend::Single {
                    sessions: s, row, ..
                } => {
                    sessions.extend(s);
                    singles
                        .entry(row.relation_id % MESSAGE_SHARDS)
                        .or_default()
                        .push(row);
                }
                PendingSend::Group { session, row, .. } => {
                    sessions.push(*session);
                    groups
                        .entry(row.group_id % MESSAGE_SHARDS)
                        .or_default()
                        .push(row);
                }
            }
        }
        let group_ids = sorted_unique(groups.values().flatten().map(|r| r.group_id).collect());
        let mut c = bounded("a group commit", self.pools.primary()).await?;
        let galera = self.galera.galera(&mut c).await?;
        let one_trip = trips == Trips::One && !galera;
        let check = match one_trip {
            true => stale::guard_sql(&relations, &remembered),
            false => stale::check_sql(&relations, &remembered),
        };
        let checking = check.is_some() && !one_trip;
        let mut script = Script::begin(check, galera);
        let touch = format!("status = 0, updated = {now}");
        script.update_by_ids("IMRecentSession", &touch, &sorted_unique(sessions));
        insert_all(&mut script, &singles, &groups);
        script.update_by_ids("IMGroup", &format!("lastChated = {now}"), &group_ids);
        if one_trip {
            script.commit();
        }

        // Until the transaction ends, a connection given back (after an
        // error, or cut off by the deadline) is reset by the pool, which
        // rolls the transaction back.
        c.reset_connection(true);
        let mut found = Vec::new();
        let texts = script.texts();
        for (i, text) in texts.iter().enumerate() {
            if one_trip && i + 1 == texts.len() {
                // The guard stopping the text is no failure: nothing ran
                // after it (the pool's reset rolls the transaction back).
                let guarded = async {
                    match run_text(&mut c, text).await {
                        Err(mysql_async::Error::Server(e)) if e.code == stale::GUARD_FAILED => {
                            Ok(Ran::Unchecked)
                        }
                        r => r.map(|_| Ran::Committed),
                    }
                };
                let ran = committing(guarded).await?;
                if matches!(ran, Ran::Committed) {
                    c.reset_connection(false);
                }
                return Ok(ran);
            }
            found.extend(step(run_text(&mut c, text)).await?);
        }
        if checking {
            let (rel_gone, sessions_gone) = stale::gone(&relations, &remembered, found)?;
            if !rel_gone.is_empty() || !sessions_gone.is_empty() {
                step(c.query_drop("ROLLBACK")).await?;
                c.reset_connection(false);
                return Ok(Ran::Stale(rel_gone, sessions_gone));
            }
        }
        commit(&mut c).await?;
        c.reset_connection(false);
        Ok(Ran::Committed)
    }
}

fn record_size(n: usize) {
    metrics::histogram!(crate::metrics::GROUP_COMMIT_SIZE, "backend" => "mysql").record(n as f64);
}

//! The writer connection on a thread of its own, with group commit.
//!
//! Write jobs queue up and run in arrival order. When the thread starts a
//! transaction it takes every job waiting (at most `storage.batch_max`)
//! and runs them in one `BEGIN IMMEDIATE … COMMIT`, each inside a
//! savepoint of its own (but the first of a transaction, which a failure
//! undoes by rolling the transaction back): one commit, and with
//! `storage.sync = "full"` one sync, for the whole batch. There is no
//! timer: a lone write commits at once, and writes that arrive meanwhile
//! form the next batch.
//!
//! The thread also keeps the memory of sends (`send_cache.rs`): a send's
//! counters are written once per batch, before the `COMMIT` and before
//! any other kind of write; the memory is checked against other
//! connections' commits after each `BEGIN` and forgotten with a rolled
//! back transaction.
//!
//! Each job keeps its own outcome. A job that fails is rolled back to its
//! savepoint and told its error; the others go on. A job that succeeded
//! hears of it only once the batch has committed; if the commit fails, or
//! SQLite rolls the whole transaction back (a full disk does that), every
//! job of the batch that had succeeded is told it was not stored.
//!
//! A write honours the request's deadline ([`crate::deadline`]) without
//! ever lying about its outcome: one still queued when the deadline passes
//! is cancelled (it will not run, and the caller is told so); one the
//! thread has started is waited for, so "stored" and "not stored" replies
//! stay true.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::mpsc;

use rusqlite::Connection;

use super::error::map_err;
use super::held::{BEGIN, COMMIT, RELEASE, ROLLBACK, ROLLBACK_TO, SAVEPOINT};
use super::send_cache::SendState;
use crate::deadline;
use crate::store::{StoreError, StoreResult};

/// A job waiting in the queue.
const QUEUED: u8 = 0;
/// A job the writer thread has begun: it will finish.
const STARTED: u8 = 1;
/// A job its caller gave up on before it began: it will not run.
const CANCELLED: u8 = 2;

/// Tells a job's caller its outcome once the batch's is known:
/// `Some(error)` when the batch did not commit.
type Tell = Box<dyn FnOnce(Option<StoreError>) + Send>;

/// What a write does to the writer's memory of sends (`send_cache.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Effect {
    /// A send: uses and updates the memory itself.
    Send,
    /// Leaves what the memory holds right (pending counters are written
    /// before it runs).
    Keeps,
    /// As [`Effect::Keeps`], but may change a session's status or time
    /// (not its id): sends touch their sessions again afterwards.
    Sessions,
    /// May change what the memory holds: it is forgotten after the write
    /// (pending counters are written before it runs).
    Invalidates,
}

/// A queued write, seen by the writer thread.
trait Work: Send {
    /// Takes the job for running; `false` if its caller cancelled it.
    fn claim(&self) -> bool;
    /// What it does to the memory of sends.
    fn effect(&self) -> Effect;
    /// Runs it: whether it succeeded, and how to tell its caller.
    fn run<'c>(self: Box<Self>, conn: &'c Connection, state: &mut SendState<'c>) -> (bool, Tell);
    /// Tells its caller it could not run.
    fn refuse(self: Box<Self>, error: StoreError);
}

struct Job<T, F> {
    state: Arc<AtomicU8>,
    effect: Effect,
    f: F,
    done: tokio::sync::oneshot::Sender<StoreResult<T>>,
}

impl<T, F> Work for Job<T, F>
where
    T: Send + 'static,
    F: for<'c> FnOnce(&'c Connection, &mut SendState<'c>) -> rusqlite::Result<T> + Send + 'static,
{
    fn claim(&self) -> bool {
        self.state
            .compare_exchange(QUEUED, STARTED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    fn effect(&self) -> Effect {
        self.effect
    }

    fn run<'c>(self: Box<Self>, conn: &'c Connection, state: &mut SendState<'c>) -> (bool, Tell) {
        let Self { f, done, .. } = *self;
        let result = match catch_unwind(AssertUnwindSafe(|| f(conn, state))) {
            Ok(r) => r.map_err(map_err),
            Err(_) => Err(StoreError::Unavailable(
                "storage task failed: panicked".into(),
            )),
        };
        let ok = result.is_ok();
        let tell: Tell = Box::new(move |failure| {
            let outcome = match (result, failure) {
                (Ok(_), Some(e)) => Err(e),
                (r, _) => r,
            };
            let _ = done.send(outcome);
        });
        (ok, tell)
    }

    fn refuse(self: Box<Self>, error: StoreError) {
        let _ = self.done.send(Err(error));
    }
}

/// The queue to the writer thread; the thread ends (closing the
/// connection) when this is dropped.
pub(super) struct Writer {
    jobs: mpsc::Sender<Box<dyn Work>>,
    batch_max: Arc<AtomicUsize>,
}

fn stopped() -> StoreError {
    StoreError::Unavailable("storage writer stopped".into())
}

/// An error of the batch's own statements (`BEGIN`, `COMMIT`, savepoints).
fn batch_error(e: &rusqlite::Error) -> StoreError {
    StoreError::Unavailable(format!("batch not committed: {e}"))
}

/// Runs `jobs` in as few transactions as their outcomes allow (one unless
/// SQLite ends one early) and tells each caller. Never inlined, so the
/// instruction-count benchmark (`benches/hot_path.rs`) can find it.
///
/// Each job runs in a savepoint of its own, except the first of a
/// transaction: nothing else is in the transaction to protect, so if it
/// fails the whole transaction is rolled back instead. Before any write
/// but a send, and before the `COMMIT`, the sends' pending counters are
/// written (`SendState::flush`).
#[inline(never)]
fn run_batch<'c>(conn: &'c Connection, state: &mut SendState<'c>, jobs: Vec<Box<dyn Work>>) {
    // A transaction left open by a ROLLBACK that failed (an I/O error)
    // would fail every later BEGIN; end it first. If that fails too, the
    // batch's jobs are told so by their BEGIN.
    if !conn.is_autocommit()
        && let Err(e) = state.held.exec(conn, ROLLBACK)
    {
        tracing::error!(error = %e, "embedded store: cannot end a failed transaction");
    }
    let mut open = false;
    let mut succeeded: Vec<Tell> = Vec::new();
    for job in jobs {
        if !job.claim() {
            continue;
        }
        if !open {
            if let Err(e) = state.held.exec(conn, BEGIN) {
                job.refuse(batch_error(&e));
                continue;
            }
            open = true;
            state.begin(conn);
        }
        let effect = job.effect();
        if effect != Effect::Send
            && state.has_pending()
            && let Err(e) = state.flush(conn)
        {
            job.refuse(batch_error(&e));
            end(conn, state, &mut succeeded, Some(batch_error(&e)));
            open = false;
            continue;
        }
        // A savepoint protects the work of the jobs before this one.
        let guarded = !succeeded.is_empty();
        if guarded && let Err(e) = state.held.exec(conn, SAVEPOINT) {
            job.refuse(batch_error(&e));
            end(conn, state, &mut succeeded, Some(batch_error(&e)));
            open = false;
            continue;
        }
        let (ok, tell) = job.run(conn, state);
        match effect {
            Effect::Invalidates => state.forget(),
            Effect::Sessions => state.sessions_changed(),
            Effect::Send | Effect::Keeps if !ok => state.forget(),
            Effect::Send | Effect::Keeps => {}
        }
        if conn.is_autocommit() {
            // SQLite rolled the whole transaction back (disk full, I/O
            // error): the jobs before this one are not stored either.
            let lost = StoreError::Unavailable("batch rolled back by the database".into());
            tell(Some(lost.clone()));
            end(conn, state, &mut succeeded, Some(lost));
            open = false;
            continue;
        }
        if !guarded {
            if ok {
                succeeded.push(tell);
            } else {
                // Alone in its transaction: its error is its own, and the
                // rollback undoes its work (a failed ROLLBACK leaves the
                // transaction open: the next BEGIN fails and says so).
                let _ = state.held.exec(conn, ROLLBACK);
                state.discard();
                open = false;
                tell(None);
            }
            continue;
        }
        let step = if ok {
            state.held.exec(conn, RELEASE)
        } else {
            state
                .held
                .exec(conn, ROLLBACK_TO)
                .and_then(|()| state.held.exec(conn, RELEASE))
        };
        match step {
            Ok(()) if ok => succeeded.push(tell),
            // A failed job is told its own error; its work is undone.
            Ok(()) => tell(None),
            Err(e) => {
                tell(Some(batch_error(&e)));
                end(conn, state, &mut succeeded, Some(batch_error(&e)));
                open = false;
            }
        }
    }
    if open {
        end(conn, state, &mut succeeded, None);
    }
}

/// Ends the open transaction: writes the pending counters and commits
/// it, or with `failure` rolls it back (the memory of sends with it), and
/// tells every job that succeeded in it.
fn end<'c>(
    conn: &'c Connection,
    state: &mut SendState<'c>,
    succeeded: &mut Vec<Tell>,
    failure: Option<StoreError>,
) {
    let failure = failure
        .or_else(|| state.flush(conn).err().map(|e| batch_error(&e)))
        .or_else(|| state.held.exec(conn, COMMIT).err().map(|e| batch_error(&e)));
    if failure.is_some() {
        if !conn.is_autocommit() {
            let _ = state.held.exec(conn, ROLLBACK);
        }
        state.discard();
    } else {
        state.settle();
    }
    if failure.is_none() && !succeeded.is_empty() {
        metrics::histogram!(crate::metrics::GROUP_COMMIT_SIZE, "backend" => "sqlite")
            .record(succeeded.len() as f64);
    }
    for t in succeeded.drain(..) {
        t(failure.clone());
    }
}

impl Writer {
    /// Moves `conn` to a new writer thread that commits at most
    /// `batch_max` jobs together.
    /// `cache` entries per map of the memory of sends (`send_cache.rs`).
    pub(super) fn start(conn: Connection, batch_max: usize, cache: usize) -> StoreResult<Self> {
        let (jobs, queue) = mpsc::channel::<Box<dyn Work>>();
        let batch_max = Arc::new(AtomicUsize::new(batch_max.max(1)));
        let limit = batch_max.clone();
        std::thread::Builder::new()
            .name("tt-sqlite-writer".into())
            .spawn(move || {
                let conn = conn;
                // Declared after the connection, so its statements are
                // finalized before the connection closes.
                let mut state = SendState::new(cache);
                while let Ok(first) = queue.recv() {
                    let most = limit.load(Ordering::Relaxed).max(1);
                    let mut batch = vec![first];
                    while batch.len() < most {
                        match queue.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    run_batch(&conn, &mut state, batch);
                }
            })
            .map_err(|e| StoreError::Unavailable(format!("cannot start the writer: {e}")))?;
        Ok(Self { jobs, batch_max })
    }

    /// Changes the largest batch (`storage.batch_max`, reloadable).
    pub(super) fn set_batch_max(&self, n: usize) {
        self.batch_max.store(n.max(1), Ordering::Relaxed);
    }

    /// Runs `f` on the writer connection after the writes queued before
    /// it, in a savepoint of its own inside its batch's transaction: all
    /// of `f`'s statements are stored or none (an error or a panic rolls
    /// them back, failing this write only), so `f` needs no transaction of
    /// its own and must not begin or end one. The writer's memory of sends
    /// is forgotten afterwards ([`Effect::Invalidates`]); see
    /// [`Self::run_keeping`] for writes that leave it right.
    pub(super) async fn run<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        self.run_as(Effect::Invalidates, move |c, _| f(c)).await
    }

    /// As [`Self::run`], for a write that changes nothing the memory of
    /// sends holds: no session or relation created or deleted, no message
    /// row, message-id counter or group total written
    /// ([`Effect::Keeps`]).
    pub(super) async fn run_keeping<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        self.run_as(Effect::Keeps, move |c, _| f(c)).await
    }

    /// As [`Self::run_keeping`], for a write that may change a session's
    /// status or time, not its id ([`Effect::Sessions`]).
    pub(super) async fn run_on_sessions<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        self.run_as(Effect::Sessions, move |c, _| f(c)).await
    }

    /// As [`Self::run`], for a send, which uses and updates the memory of
    /// sends itself ([`Effect::Send`]).
    pub(super) async fn run_send<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c Connection, &mut SendState<'c>) -> rusqlite::Result<T>
            + Send
            + 'static,
    {
        self.run_as(Effect::Send, f).await
    }

    async fn run_as<T, F>(&self, effect: Effect, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c Connection, &mut SendState<'c>) -> rusqlite::Result<T>
            + Send
            + 'static,
    {
        let (done, mut result) = tokio::sync::oneshot::channel();
        let state = Arc::new(AtomicU8::new(QUEUED));
        let job = Job {
            state: state.clone(),
            effect,
            f,
            done,
        };
        self.jobs.send(Box::new(job)).map_err(|_| stopped())?;
        // Outside a request (admin, start-up) a local write just runs.
        let Some(end) = deadline::current() else {
            return result.await.unwrap_or_else(|_| Err(stopped()));
        };
        let outcome = tokio::select! {
            outcome = &mut result => outcome,
            () = tokio::time::sleep_until(end) => {
                if state
                    .compare_exchange(QUEUED, CANCELLED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    return Err(deadline::expired("a queued write (cancelled, not run)"));
                }
                // Started: its outcome is what the reply must say.
                result.await
            }
        };
        outcome.unwrap_or_else(|_| Err(stopped()))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use tokio::time::Instant;

    fn writer(batch_max: usize) -> Writer {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t (v INTEGER NOT NULL CHECK (v < 100))")
            .unwrap();
        Writer::start(c, batch_max, 64).unwrap()
    }

    fn count(w: &Writer) -> impl Future<Output = StoreResult<i64>> + '_ {
        w.run(|c| c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0)))
    }

    fn values(w: &Writer) -> impl Future<Output = StoreResult<Vec<i64>>> + '_ {
        w.run(|c| {
            c.prepare("SELECT v FROM t ORDER BY v")?
                .query_map([], |r| r.get(0))?
                .collect()
        })
    }

    /// Holds the writer thread for `ms`, so the jobs sent meanwhile form
    /// one batch.
    fn hold(w: &Writer, ms: u64) -> impl Future<Output = StoreResult<()>> + '_ {
        w.run(move |_| {
            std::thread::sleep(Duration::from_millis(ms));
            Ok(())
        })
    }

    /// A write still queued at its deadline is cancelled and never runs;
    /// one already running is waited for and its outcome reported.
    #[tokio::test]
    async fn queued_writes_are_cancelled_and_started_ones_waited_for() {
        let w = writer(1);
        // Occupies the thread for 300 ms and inserts a row (started
        // before its 50 ms deadline passes, so it must be reported as
        // done).
        let slow = crate::deadline::scope(
            Instant::now() + Duration::from_millis(50),
            w.run(|c| {
                std::thread::sleep(Duration::from_millis(300));
                c.execute("INSERT INTO t VALUES (1)", [])
            }),
        );
        // Queued behind it with the same short deadline: cancelled.
        let queued = async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            crate::deadline::scope(
                Instant::now() + Duration::from_millis(40),
                w.run(|c| c.execute("INSERT INTO t VALUES (2)", [])),
            )
            .await
        };
        let (slow, queued) = tokio::join!(slow, queued);
        assert_eq!(slow.ok(), Some(1), "the started write finished and says so");
        assert!(matches!(queued, Err(StoreError::Deadline(_))), "{queued:?}");
        assert_eq!(
            count(&w).await.ok(),
            Some(1),
            "the cancelled write never ran"
        );
    }

    /// Jobs queued together share one transaction, yet a failing one (a
    /// constraint) and a panicking one fail alone: the others are stored
    /// and told so.
    #[tokio::test]
    async fn a_bad_job_in_a_batch_does_not_fail_the_others() {
        let w = writer(64);
        let insert = |v: i64| w.run(move |c| c.execute("INSERT INTO t VALUES (?1)", [v]));
        let (held, a, bad, b, boom, c) = tokio::join!(
            hold(&w, 200),
            insert(1),
            insert(500),
            insert(2),
            w.run(|c| -> rusqlite::Result<usize> {
                c.execute("INSERT INTO t VALUES (3)", [])?;
                panic!("a job that panics half-way")
            }),
            insert(4),
        );
        assert!(held.is_ok());
        assert_eq!((a.ok(), b.ok(), c.ok()), (Some(1), Some(1), Some(1)));
        assert!(matches!(bad, Err(StoreError::Query(_))), "{bad:?}");
        assert!(boom.is_err(), "{boom:?}");
        assert_eq!(
            values(&w).await.ok(),
            Some(vec![1, 2, 4]),
            "the failed jobs' work is undone, the others are stored"
        );
    }

    /// A job's caller hears of success only after the commit: a batch
    /// whose commit fails reports every job as not stored.
    #[tokio::test]
    async fn a_failed_commit_fails_every_job_of_the_batch() {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch(
            "PRAGMA foreign_keys = ON; \
             CREATE TABLE p (id INTEGER PRIMARY KEY); \
             CREATE TABLE t (v INTEGER NOT NULL REFERENCES p (id) DEFERRABLE INITIALLY DEFERRED);",
        )
        .unwrap();
        let w = Writer::start(c, 64, 64).unwrap();
        let (held, good, dangling) = tokio::join!(
            hold(&w, 200),
            w.run(|c| c.execute("INSERT INTO p VALUES (1)", [])),
            // Checked only at COMMIT, which therefore fails.
            w.run(|c| c.execute("INSERT INTO t VALUES (9)", [])),
        );
        // `held` may share the batch, and fail with it.
        let _ = held;
        assert!(good.is_err(), "stored only if committed: {good:?}");
        assert!(dangling.is_err(), "{dangling:?}");
        let n = w
            .run(|c| c.query_row("SELECT COUNT(*) FROM p", [], |r| r.get::<_, i64>(0)))
            .await;
        assert_eq!(n.ok(), Some(0));
    }

    /// With a batch limit of 1 every job commits alone, and a lone job is
    /// never held back waiting for company.
    #[tokio::test]
    async fn a_lone_write_commits_at_once() {
        let w = writer(64);
        for v in 0..20 {
            let t = std::time::Instant::now();
            assert_eq!(
                w.run(move |c| c.execute("INSERT INTO t VALUES (?1)", [v]))
                    .await
                    .ok(),
                Some(1)
            );
            // No batch timer: far below any timer a batcher would use.
            assert!(
                t.elapsed() < Duration::from_millis(500),
                "{:?}",
                t.elapsed()
            );
        }
        assert_eq!(count(&w).await.ok(), Some(20));
    }
}

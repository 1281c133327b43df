//! The writer connection on a thread of its own, with group commit.
//!
//! Write jobs queue up and run in arrival order. When the thread starts a
//! transaction it takes every job waiting (at most `storage.batch_max`)
//! and runs them in one `BEGIN IMMEDIATE … COMMIT`, each inside a
//! savepoint of its own: one commit, and with `storage.sync = "full"` one
//! sync, for the whole batch. There is no timer: a lone write commits at
//! once, and writes that arrive meanwhile form the next batch.
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

/// A queued write, seen by the writer thread.
trait Work: Send {
    /// Takes the job for running; `false` if its caller cancelled it.
    fn claim(&self) -> bool;
    /// Runs it: whether it succeeded, and how to tell its caller.
    fn run(self: Box<Self>, conn: &mut Connection) -> (bool, Tell);
    /// Tells its caller it could not run.
    fn refuse(self: Box<Self>, error: StoreError);
}

struct Job<T, F> {
    state: Arc<AtomicU8>,
    f: F,
    done: tokio::sync::oneshot::Sender<StoreResult<T>>,
}

impl<T, F> Work for Job<T, F>
where
    T: Send + 'static,
    F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
{
    fn claim(&self) -> bool {
        self.state
            .compare_exchange(QUEUED, STARTED, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    fn run(self: Box<Self>, conn: &mut Connection) -> (bool, Tell) {
        let Self { f, done, .. } = *self;
        let result = match catch_unwind(AssertUnwindSafe(|| f(conn))) {
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
#[inline(never)]
fn run_batch(conn: &mut Connection, jobs: Vec<Box<dyn Work>>) {
    // A transaction left open by a ROLLBACK that failed (an I/O error)
    // would fail every later BEGIN; end it first. If that fails too, the
    // batch's jobs are told so by their BEGIN.
    if !conn.is_autocommit()
        && let Err(e) = conn.execute_batch("ROLLBACK")
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
            if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
                job.refuse(batch_error(&e));
                continue;
            }
            open = true;
        }
        if let Err(e) = conn.execute_batch("SAVEPOINT tt_job") {
            job.refuse(batch_error(&e));
            end(conn, &mut succeeded, Some(batch_error(&e)));
            open = false;
            continue;
        }
        let (ok, tell) = job.run(conn);
        if conn.is_autocommit() {
            // SQLite rolled the whole transaction back (disk full, I/O
            // error): the jobs before this one are not stored either.
            let lost = StoreError::Unavailable("batch rolled back by the database".into());
            tell(Some(lost.clone()));
            end(conn, &mut succeeded, Some(lost));
            open = false;
            continue;
        }
        let step = if ok {
            conn.execute_batch("RELEASE tt_job")
        } else {
            conn.execute_batch("ROLLBACK TO tt_job; RELEASE tt_job")
        };
        match step {
            Ok(()) if ok => succeeded.push(tell),
            // A failed job is told its own error; its work is undone.
            Ok(()) => tell(None),
            Err(e) => {
                tell(Some(batch_error(&e)));
                end(conn, &mut succeeded, Some(batch_error(&e)));
                open = false;
            }
        }
    }
    if open {
        end(conn, &mut succeeded, None);
    }
}

/// Ends the open transaction: commits it, or with `failure` rolls it
/// back, and tells every job that succeeded in it.
fn end(conn: &mut Connection, succeeded: &mut Vec<Tell>, failure: Option<StoreError>) {
    let failure = failure.or_else(|| conn.execute_batch("COMMIT").err().map(|e| batch_error(&e)));
    if failure.is_some() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
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
    pub(super) fn start(mut conn: Connection, batch_max: usize) -> StoreResult<Self> {
        let (jobs, queue) = mpsc::channel::<Box<dyn Work>>();
        let batch_max = Arc::new(AtomicUsize::new(batch_max.max(1)));
        let limit = batch_max.clone();
        std::thread::Builder::new()
            .name("tt-sqlite-writer".into())
            .spawn(move || {
                while let Ok(first) = queue.recv() {
                    let most = limit.load(Ordering::Relaxed).max(1);
                    let mut batch = vec![first];
                    while batch.len() < most {
                        match queue.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    run_batch(&mut conn, batch);
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
    /// its own and must not begin or end one.
    pub(super) async fn run<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (done, mut result) = tokio::sync::oneshot::channel();
        let state = Arc::new(AtomicU8::new(QUEUED));
        let job = Job {
            state: state.clone(),
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
        Writer::start(c, batch_max).unwrap()
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
        let w = Writer::start(c, 64).unwrap();
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

//! The writer connection on a thread of its own. Write jobs queue up and
//! run one after another: concurrent writes never contend for a lock,
//! where a blocking-pool thread per write, all waiting on one mutex, cost
//! a sleep and a wake-up each. While writes keep coming the thread never
//! sleeps.
//!
//! A write honours the request's deadline ([`crate::deadline`]) without
//! ever lying about its outcome: one still queued when the deadline passes
//! is cancelled (it will not run, and the caller is told so); one the
//! thread has started is waited for, so "stored" and "not stored" replies
//! stay true.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc;

use rusqlite::Connection;

use super::map_err;
use crate::deadline;
use crate::store::{StoreError, StoreResult};

/// A job waiting in the queue.
const QUEUED: u8 = 0;
/// A job the writer thread has begun: it will finish.
const STARTED: u8 = 1;
/// A job its caller gave up on before it began: it will not run.
const CANCELLED: u8 = 2;

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// The queue to the writer thread; the thread ends (closing the
/// connection) when this is dropped.
pub(super) struct Writer {
    jobs: mpsc::Sender<Job>,
}

fn stopped() -> StoreError {
    StoreError::Unavailable("storage writer stopped".into())
}

impl Writer {
    /// Moves `conn` to a new writer thread.
    pub(super) fn start(mut conn: Connection) -> StoreResult<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("tt-sqlite-writer".into())
            .spawn(move || {
                for job in queue {
                    job(&mut conn);
                }
            })
            .map_err(|e| StoreError::Unavailable(format!("cannot start the writer: {e}")))?;
        Ok(Self { jobs })
    }

    /// Runs `f` on the writer connection after the writes queued before
    /// it. A panic in `f` fails this write only (an open transaction is
    /// rolled back as it unwinds).
    pub(super) async fn run<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (done, mut result) = tokio::sync::oneshot::channel();
        let state = Arc::new(AtomicU8::new(QUEUED));
        let claim = state.clone();
        let job: Job = Box::new(move |c| {
            if claim
                .compare_exchange(QUEUED, STARTED, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                return;
            }
            let _ = done.send(catch_unwind(AssertUnwindSafe(|| f(c))));
        });
        self.jobs.send(job).map_err(|_| stopped())?;
        // Outside a request (admin, start-up) a local write just runs.
        let Some(end) = deadline::current() else {
            return finish(result.await);
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
        finish(outcome)
    }
}

type Outcome<T> =
    Result<std::thread::Result<rusqlite::Result<T>>, tokio::sync::oneshot::error::RecvError>;

/// What a write's channel delivered, as the caller's result.
fn finish<T>(outcome: Outcome<T>) -> StoreResult<T> {
    match outcome {
        Ok(Ok(r)) => r.map_err(map_err),
        Ok(Err(_)) => Err(StoreError::Unavailable(
            "storage task failed: panicked".into(),
        )),
        Err(_) => Err(stopped()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use tokio::time::Instant;

    fn writer() -> Writer {
        let c = Connection::open_in_memory().unwrap();
        c.execute_batch("CREATE TABLE t (v INTEGER NOT NULL)")
            .unwrap();
        Writer::start(c).unwrap()
    }

    fn count(w: &Writer) -> impl Future<Output = StoreResult<i64>> + '_ {
        w.run(|c| c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0)))
    }

    /// A write still queued at its deadline is cancelled and never runs;
    /// one already running is waited for and its outcome reported.
    #[tokio::test]
    async fn queued_writes_are_cancelled_and_started_ones_waited_for() {
        let w = writer();
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
}

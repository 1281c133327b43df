//! The writer connection on a thread of its own. Write jobs queue up and
//! run one after another: concurrent writes never contend for a lock,
//! where a blocking-pool thread per write, all waiting on one mutex, cost
//! a sleep and a wake-up each. While writes keep coming the thread never
//! sleeps.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;

use rusqlite::Connection;

use super::map_err;
use crate::store::{StoreError, StoreResult};

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
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |c| {
            // The caller may have given up waiting; the write still ran.
            let _ = done.send(catch_unwind(AssertUnwindSafe(|| f(c))));
        });
        self.jobs.send(job).map_err(|_| stopped())?;
        match result.await {
            Ok(Ok(r)) => r.map_err(map_err),
            Ok(Err(_)) => Err(StoreError::Unavailable(
                "storage task failed: panicked".into(),
            )),
            Err(_) => Err(stopped()),
        }
    }
}

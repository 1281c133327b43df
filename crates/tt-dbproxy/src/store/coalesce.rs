//! [`Coalescer`]: calls of one kind that arrive while batches are in
//! flight (one, or a few: its lanes) are combined into the next, so a
//! backend answers one call per batch instead of one per request. There
//! is no timer: a call that finds a lane free runs at once, and only
//! calls that would otherwise wait share a batch. The batch runs on a
//! task of its own under the earliest deadline of its calls; a call whose
//! deadline passes while queued is withdrawn (never run), one whose
//! deadline passes while its batch runs is answered as expired (its item
//! may still take effect, as a command cut off on the wire may).

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::deadline;
use crate::store::{StoreError, StoreResult};

/// What a batch does: one output per item, in the items' order.
pub(crate) trait BatchRun: Send + Sync + 'static {
    /// One queued call's input.
    type Item: Send + 'static;
    /// Its answer.
    type Output: Send + 'static;
    /// What the calls are, for errors ("a redis script").
    const WHAT: &'static str;
    /// Runs `items` as one call to the backend.
    fn run(
        &self,
        items: Vec<Self::Item>,
    ) -> impl Future<Output = StoreResult<Vec<Self::Output>>> + Send;
}

struct Waiting<R: BatchRun> {
    item: R::Item,
    deadline: Instant,
    done: oneshot::Sender<StoreResult<R::Output>>,
}

struct Queue<R: BatchRun> {
    waiting: Vec<Waiting<R>>,
    /// Batch tasks running (each takes what is queued when its batch
    /// ends).
    running: usize,
}

/// Combines concurrent calls of one kind into batches.
pub(crate) struct Coalescer<R: BatchRun> {
    runner: R,
    queue: Mutex<Queue<R>>,
    /// The most items in one batch.
    most: usize,
    /// The most batches in flight at once.
    lanes: usize,
}

/// Counts a batch task out of `running` if it ends without doing so
/// itself (a panic in a batch), so the next call starts a new task.
struct RunningGuard<'a, R: BatchRun> {
    coalescer: &'a Coalescer<R>,
    armed: bool,
}

impl<R: BatchRun> Drop for RunningGuard<'_, R> {
    fn drop(&mut self) {
        if self.armed {
            let mut q = self.coalescer.lock();
            q.running = q.running.saturating_sub(1);
        }
    }
}

impl<R: BatchRun> Coalescer<R> {
    /// Batches of at most `most` items, run by `runner` one at a time.
    pub(crate) fn new(runner: R, most: usize) -> Self {
        Self::with_lanes(runner, most, 1)
    }

    /// Batches of at most `most` items, at most `lanes` in flight.
    pub(crate) fn with_lanes(runner: R, most: usize, lanes: usize) -> Self {
        Self {
            runner,
            queue: Mutex::new(Queue {
                waiting: Vec::new(),
                running: 0,
            }),
            most: most.max(1),
            lanes: lanes.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue<R>> {
        // Nothing panics while holding it; a poisoned queue is still valid.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `item` in the next batch and returns its output, or an error
    /// when the batch failed or the caller's deadline passed.
    pub(crate) async fn call(self: &Arc<Self>, item: R::Item) -> StoreResult<R::Output> {
        let end = deadline::effective();
        let (done, result) = oneshot::channel();
        let start = {
            let mut q = self.lock();
            q.waiting.push(Waiting {
                item,
                deadline: end,
                done,
            });
            let start = q.running < self.lanes;
            if start {
                q.running += 1;
            }
            start
        };
        if start {
            let me = self.clone();
            tokio::spawn(async move { me.batches().await });
        }
        tokio::select! {
            r = result => r.unwrap_or_else(|_| {
                Err(StoreError::Unavailable(format!("{} stopped", R::WHAT)))
            }),
            () = tokio::time::sleep_until(end) => Err(deadline::expired(R::WHAT)),
        }
    }

    /// Runs batches while calls are queued.
    async fn batches(self: Arc<Self>) {
        let mut guard = RunningGuard {
            coalescer: &self,
            armed: true,
        };
        loop {
            let batch: Vec<Waiting<R>> = {
                let mut q = self.lock();
                if q.waiting.is_empty() {
                    // Counted out under the lock a caller checks; the
                    // guard must not count it out again.
                    q.running = q.running.saturating_sub(1);
                    guard.armed = false;
                    return;
                }
                let n = q.waiting.len().min(self.most);
                q.waiting.drain(..n).collect()
            };
            self.run_batch(batch).await;
        }
    }

    async fn run_batch(&self, batch: Vec<Waiting<R>>) {
        let now = Instant::now();
        let mut items = Vec::with_capacity(batch.len());
        let mut senders = Vec::with_capacity(batch.len());
        let mut end: Option<Instant> = None;
        for w in batch {
            if w.deadline <= now || w.done.is_closed() {
                // Its caller has answered already: withdrawn, never run.
                let _ = w.done.send(Err(deadline::expired(R::WHAT)));
                continue;
            }
            end = Some(end.map_or(w.deadline, |e| e.min(w.deadline)));
            items.push(w.item);
            senders.push(w.done);
        }
        let Some(end) = end else { return };
        let n = items.len();
        let outcome = match deadline::scope(end, self.runner.run(items)).await {
            Ok(outputs) if outputs.len() != n => Err(StoreError::InvalidData(format!(
                "{} answered {} of {n} items",
                R::WHAT,
                outputs.len()
            ))),
            outcome => outcome,
        };
        match outcome {
            Ok(outputs) => {
                for (done, out) in senders.into_iter().zip(outputs) {
                    let _ = done.send(Ok(out));
                }
            }
            Err(e) => {
                for done in senders {
                    let _ = done.send(Err(e.clone()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// Doubles each item; records the batch sizes and the most batches
    /// running at once; fails on item 0.
    #[derive(Default)]
    struct Doubler {
        sizes: Mutex<Vec<usize>>,
        calls: AtomicUsize,
        running: AtomicUsize,
        most_running: AtomicUsize,
    }

    impl BatchRun for Arc<Doubler> {
        type Item = u32;
        type Output = u32;
        const WHAT: &'static str = "a doubling";
        async fn run(&self, items: Vec<u32>) -> StoreResult<Vec<u32>> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.sizes.lock().unwrap().push(items.len());
            let running = self.running.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_running.fetch_max(running, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            self.running.fetch_sub(1, Ordering::SeqCst);
            if items.contains(&0) {
                return Err(StoreError::Unavailable("zero".into()));
            }
            Ok(items.into_iter().map(|i| i * 2).collect())
        }
    }

    fn doubler() -> (Arc<Doubler>, Arc<Coalescer<Arc<Doubler>>>) {
        let d = Arc::new(Doubler::default());
        (d.clone(), Arc::new(Coalescer::new(d, 8)))
    }

    #[tokio::test]
    async fn calls_arriving_during_a_batch_share_the_next() {
        let (d, c) = doubler();
        let mut tasks = Vec::new();
        for i in 1..=20u32 {
            let c = c.clone();
            tasks.push(tokio::spawn(async move { c.call(i).await }));
        }
        for (i, t) in tasks.into_iter().enumerate() {
            assert_eq!(t.await.unwrap().unwrap(), (i as u32 + 1) * 2);
        }
        let sizes = d.sizes.lock().unwrap().clone();
        assert_eq!(sizes.iter().sum::<usize>(), 20);
        assert!(sizes.iter().all(|s| *s <= 8), "bounded: {sizes:?}");
        assert!(sizes.len() < 20, "combined: {sizes:?}");
        // A lone call runs at once, alone.
        assert_eq!(c.call(5).await.unwrap(), 10);
        assert_eq!(d.sizes.lock().unwrap().last(), Some(&1));
    }

    #[tokio::test]
    async fn at_most_its_lanes_run_at_once() {
        for lanes in [1, 2, 3] {
            let d = Arc::new(Doubler::default());
            let c = Arc::new(Coalescer::with_lanes(d.clone(), 2, lanes));
            let mut tasks = Vec::new();
            for i in 1..=12u32 {
                let c = c.clone();
                tasks.push(tokio::spawn(async move { c.call(i).await }));
            }
            for (i, t) in (1u32..).zip(tasks) {
                assert_eq!(t.await.unwrap().unwrap(), i * 2);
            }
            assert_eq!(
                d.most_running.load(Ordering::SeqCst),
                lanes,
                "{lanes} lanes"
            );
            assert_eq!(c.lock().running, 0, "every batch task ended");
        }
    }

    #[tokio::test]
    async fn a_failed_batch_fails_each_of_its_calls_and_the_next_runs() {
        let (_, c) = doubler();
        let (a, b) = tokio::join!(c.call(0), c.call(3));
        assert!(a.is_err());
        // `b` ran in the same batch (failed) or the next (answered).
        assert!(matches!(b, Err(_) | Ok(6)));
        assert_eq!(c.call(4).await.unwrap(), 8);
    }

    #[tokio::test]
    async fn a_call_past_its_deadline_is_withdrawn() {
        let (d, c) = doubler();
        let long = {
            let c = c.clone();
            tokio::spawn(async move { c.call(1).await })
        };
        while d.calls.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let end = Instant::now() + Duration::from_millis(5);
        let r = deadline::scope(end, c.call(2)).await;
        assert!(matches!(r, Err(StoreError::Deadline(_))), "{r:?}");
        assert_eq!(long.await.unwrap().unwrap(), 2);
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(
            d.calls.load(Ordering::SeqCst),
            1,
            "the withdrawn call never ran"
        );
    }
}

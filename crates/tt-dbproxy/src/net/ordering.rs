//! [`KeyedQueue`]: runs jobs that share a key one at a time, in the order
//! they were submitted, while jobs of different keys run in parallel.
//!
//! A key has a runner task only while it has work; the map entry is removed
//! when its queue empties, so idle keys cost nothing.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::hash::Hash;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tokio_util::task::TaskTracker;

/// A queued unit of work.
pub type Job = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Per-key FIFO execution.
pub struct KeyedQueue<K> {
    queues: Mutex<HashMap<K, VecDeque<Job>>>,
}

impl<K> Default for KeyedQueue<K> {
    fn default() -> Self {
        Self {
            queues: Mutex::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash + Clone + Send + 'static> KeyedQueue<K> {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, VecDeque<Job>>> {
        // Jobs run outside the lock; the map itself cannot be left
        // half-updated by a panic.
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `job` behind earlier jobs of `key`, starting a runner on
    /// `tracker` if the key has none.
    pub fn submit(self: &Arc<Self>, key: K, job: Job, tracker: &TaskTracker) {
        {
            let mut queues = self.lock();
            if let Some(q) = queues.get_mut(&key) {
                q.push_back(job);
                return;
            }
            queues.insert(key.clone(), VecDeque::new());
        }
        let this = self.clone();
        tracker.spawn(async move {
            job.await;
            loop {
                let next = {
                    let mut queues = this.lock();
                    match queues.get_mut(&key).and_then(VecDeque::pop_front) {
                        Some(job) => job,
                        None => {
                            queues.remove(&key);
                            return;
                        }
                    }
                };
                next.await;
            }
        });
    }

    /// Keys with queued or running work.
    pub fn active_keys(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn same_key_runs_in_order_other_keys_in_parallel() {
        let q = Arc::new(KeyedQueue::<u32>::default());
        let tracker = TaskTracker::new();
        let log = Arc::new(Mutex::new(Vec::new()));
        for i in 0..50u64 {
            let log = log.clone();
            q.submit(
                1,
                Box::pin(async move {
                    // Later jobs are faster: only the queue keeps them in order.
                    tokio::time::sleep(Duration::from_micros(50 - i)).await;
                    log.lock().unwrap().push(i);
                }),
                &tracker,
            );
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        // A job on another key completes while key 1 is still busy.
        q.submit(
            2,
            Box::pin(async move {
                let _ = tx.send(());
            }),
            &tracker,
        );
        rx.await.unwrap();
        tracker.close();
        tracker.wait().await;
        assert_eq!(*log.lock().unwrap(), (0..50).collect::<Vec<_>>());
        assert_eq!(q.active_keys(), 0);
    }
}

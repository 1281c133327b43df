//! Resizing a tokio semaphore while permits are held: how a reload
//! changes `server.workers` and the Redis pool sizes without dropping work.

use std::sync::Arc;

use tokio::sync::Semaphore;

/// Changes the number of permits of `sem` from `from` to `to`. Growing
/// takes effect at once; shrinking removes free permits now and the rest
/// as running work returns them.
pub fn resize(sem: &Arc<Semaphore>, from: usize, to: usize) {
    if to > from {
        sem.add_permits((to - from).min(Semaphore::MAX_PERMITS));
        return;
    }
    let excess = from - to;
    let forgotten = sem.forget_permits(excess);
    let owed = excess - forgotten;
    if owed > 0 {
        let sem = sem.clone();
        tokio::spawn(async move {
            let owed = u32::try_from(owed).unwrap_or(u32::MAX);
            if let Ok(permits) = sem.acquire_many_owned(owed).await {
                permits.forget();
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn grows_and_shrinks_even_while_permits_are_held() {
        let sem = Arc::new(Semaphore::new(4));
        resize(&sem, 4, 6);
        assert_eq!(sem.available_permits(), 6);
        let held = sem.clone().acquire_many_owned(5).await.unwrap();
        resize(&sem, 6, 2);
        assert_eq!(sem.available_permits(), 0);
        drop(held);
        tokio::task::yield_now().await;
        for _ in 0..100 {
            if sem.available_permits() == 2 {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert_eq!(sem.available_permits(), 2);
    }
}

//! The per-request deadline (`storage.request_timeout_ms`). The connection
//! sets it when a frame arrives ([`scope`]); every storage operation run on
//! behalf of that request reads it ([`current`]) and gives up at that
//! instant, so a stalled backend costs a request at most its deadline and
//! the handler answers with its "storage failed" reply.
//!
//! Storage calls made outside a request (`admin` commands, the sync
//! center, tests calling a store directly) have no scope; they are bounded
//! by [`UNSCOPED_TIMEOUT`] instead, so nothing ever waits forever.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

use crate::store::{StoreError, StoreResult};

/// Bound of a storage operation that runs outside any request.
pub const UNSCOPED_TIMEOUT: Duration = Duration::from_secs(10);

tokio::task_local! {
    static DEADLINE: Instant;
}

/// Runs `f` (a request) with `deadline` visible to every storage call it
/// makes on this task.
pub async fn scope<F: Future>(deadline: Instant, f: F) -> F::Output {
    DEADLINE.scope(deadline, f).await
}

/// The deadline of the request running on this task, if any.
pub fn current() -> Option<Instant> {
    DEADLINE.try_with(|d| *d).ok()
}

/// The instant a storage operation starting now must finish by: the
/// request's deadline, or [`UNSCOPED_TIMEOUT`] from now outside a request.
pub fn effective() -> Instant {
    current().unwrap_or_else(|| Instant::now() + UNSCOPED_TIMEOUT)
}

/// The error of an operation cut off by the deadline.
pub fn expired(what: &str) -> StoreError {
    StoreError::Deadline(what.to_string())
}

/// Runs a storage operation until the deadline ([`effective`]). Cut off,
/// its future is dropped: a MySQL connection in the middle of a statement
/// is then discarded by its pool, never reused in an unknown state.
pub async fn bounded<T>(what: &str, fut: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
    match tokio::time::timeout_at(effective(), fut).await {
        Ok(result) => result,
        Err(_) => Err(expired(what)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_scope_bounds_operations_and_its_absence_does_not() {
        assert_eq!(current(), None);
        let soon = Instant::now() + Duration::from_millis(20);
        let slow = async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok::<u32, StoreError>(1)
        };
        let cut = scope(soon, async {
            assert_eq!(current(), Some(soon));
            bounded("slow", slow).await
        })
        .await;
        assert!(
            matches!(cut, Err(StoreError::Deadline(ref w)) if w == "slow"),
            "{cut:?}"
        );
        assert!(Instant::now() < soon + Duration::from_secs(5));
        let quick = scope(
            soon + Duration::from_secs(60),
            bounded("quick", async { Ok(7u32) }),
        )
        .await;
        assert_eq!(quick.ok(), Some(7));
        assert!(effective() > Instant::now() + UNSCOPED_TIMEOUT - Duration::from_secs(1));
    }
}

//! What is known of a transaction's outcome: rolled back by a conflict
//! (safe to run again), not stored, or unknown (the `COMMIT` was cut off).
//! Only a definite rollback is retried, so nothing is stored twice.

use mysql_async::Conn;
use mysql_async::prelude::Queryable;

use super::error::{is_conflict, map_err};
use super::pending_send::PendingSend;
use crate::deadline;
use crate::store::StoreError;

/// Why a send's transaction did not (knowingly) commit.
#[derive(Debug, Clone)]
pub(crate) enum CommitFailure {
    /// It failed before `COMMIT` was sent, or the server refused it: the
    /// message is not stored.
    NotStored(StoreError),
    /// The connection failed or the deadline passed during `COMMIT`: the
    /// message may or may not be stored.
    Unknown(StoreError),
    /// Not stored: a remembered session or relation id no longer names a
    /// row (deleted behind tt-dbproxy's back); look the ids up again. The
    /// send comes back, to be committed with fresh ids.
    Stale(Box<PendingSend>),
}

impl From<StoreError> for CommitFailure {
    fn from(e: StoreError) -> Self {
        Self::NotStored(e)
    }
}

/// Sends `COMMIT` for the transaction open on `c` and says what is known
/// of its outcome: a conflict (rolled back, may run again), not stored,
/// or unknown.
pub(super) async fn commit(c: &mut Conn) -> Result<(), Attempt> {
    committing(c.query_drop("COMMIT")).await
}

/// The outcome of a round trip that ends in `COMMIT`, under the deadline.
/// An error from the server means the `COMMIT` did not run or failed
/// (the server runs nothing after a failed statement of a text): a
/// conflict or not stored. A connection failure or the deadline leaves
/// the outcome unknown.
pub(super) async fn committing<T>(
    round_trip: impl Future<Output = Result<T, mysql_async::Error>>,
) -> Result<T, Attempt> {
    match tokio::time::timeout_at(deadline::effective(), round_trip).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e @ mysql_async::Error::Server(_))) => Err(attempt_err(e)),
        Ok(Err(e)) => Err(Attempt::Failed(CommitFailure::Unknown(map_err(e)))),
        Err(_) => Err(Attempt::Failed(CommitFailure::Unknown(deadline::expired(
            "a commit",
        )))),
    }
}

/// How one run of a retryable transaction failed.
#[derive(Debug)]
pub(super) enum Attempt {
    /// Rolled back by a conflict: nothing stored, run it again.
    Conflict(StoreError),
    /// Any other failure, final.
    Failed(CommitFailure),
}

impl From<StoreError> for Attempt {
    fn from(e: StoreError) -> Self {
        Self::Failed(CommitFailure::NotStored(e))
    }
}

impl From<CommitFailure> for Attempt {
    fn from(f: CommitFailure) -> Self {
        Self::Failed(f)
    }
}

/// Maps a statement's error inside a retryable transaction.
pub(super) fn attempt_err(e: mysql_async::Error) -> Attempt {
    if is_conflict(&e) {
        Attempt::Conflict(map_err(e))
    } else {
        Attempt::Failed(CommitFailure::NotStored(map_err(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::error::ER_LOCK_DEADLOCK;
    use super::*;

    fn server(code: u16) -> mysql_async::Error {
        mysql_async::Error::Server(mysql_async::ServerError {
            code,
            message: "x".into(),
            state: "40001".into(),
        })
    }

    #[test]
    fn only_a_rollback_by_conflict_is_retried() {
        assert!(is_conflict(&server(ER_LOCK_DEADLOCK)));
        assert!(matches!(
            attempt_err(server(ER_LOCK_DEADLOCK)),
            Attempt::Conflict(_)
        ));
        // A lock wait timeout rolls back the statement only, a bad row is
        // final: neither runs the transaction again.
        for code in [1205, 1406, 1062] {
            assert!(!is_conflict(&server(code)), "{code}");
            assert!(matches!(
                attempt_err(server(code)),
                Attempt::Failed(CommitFailure::NotStored(_))
            ));
        }
    }
}

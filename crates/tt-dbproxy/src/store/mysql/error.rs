//! MySQL driver errors as the store's errors.

use crate::store::StoreError;

/// ER_LOCK_DEADLOCK: an InnoDB deadlock, a Galera certification failure
/// or a brute-force abort by a replicated write set. The transaction was
/// rolled back whole.
pub(super) const ER_LOCK_DEADLOCK: u16 = 1213;

/// Whether `e` says the transaction was rolled back by a conflict.
pub(super) fn is_conflict(e: &mysql_async::Error) -> bool {
    matches!(e, mysql_async::Error::Server(s) if s.code == ER_LOCK_DEADLOCK)
}

/// Maps a driver error: transport problems mean "unavailable", a
/// rollback by a conflict ([`is_conflict`]) is a
/// [`StoreError::Conflict`], other server errors mean the statement
/// failed.
pub(crate) fn map_err(e: mysql_async::Error) -> StoreError {
    match e {
        mysql_async::Error::Server(s) if s.code == ER_LOCK_DEADLOCK => {
            StoreError::Conflict(s.to_string())
        }
        mysql_async::Error::Server(s) => StoreError::Query(s.to_string()),
        other => StoreError::Unavailable(other.to_string()),
    }
}

//! MySQL driver errors as the store's errors.

use crate::store::StoreError;

/// Maps a driver error: transport problems mean "unavailable", a
/// rollback by a conflict ([`super::outcome::is_conflict`]) is a
/// [`StoreError::Conflict`], other server errors mean the statement
/// failed.
pub(crate) fn map_err(e: mysql_async::Error) -> StoreError {
    if super::outcome::is_conflict(&e) {
        return StoreError::Conflict(e.to_string());
    }
    match e {
        mysql_async::Error::Server(s) => StoreError::Query(s.to_string()),
        other => StoreError::Unavailable(other.to_string()),
    }
}

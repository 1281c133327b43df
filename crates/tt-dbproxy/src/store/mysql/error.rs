//! MySQL driver errors as the store's errors.

use crate::store::StoreError;

/// Maps a driver error: transport problems mean "unavailable", server
/// errors mean the statement failed.
pub(crate) fn map_err(e: mysql_async::Error) -> StoreError {
    match e {
        mysql_async::Error::Server(s) => StoreError::Query(s.to_string()),
        other => StoreError::Unavailable(other.to_string()),
    }
}

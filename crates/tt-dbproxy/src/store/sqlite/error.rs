//! SQLite errors as the store's errors.

use crate::store::StoreError;

/// Maps a SQLite error: busy, locked or unopenable means "unavailable", a
/// value that does not fit means invalid data, anything else a failed
/// statement.
pub(super) fn map_err(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if is_busy(&e) || f.code == rusqlite::ErrorCode::CannotOpen =>
        {
            StoreError::Unavailable(e.to_string())
        }
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::IntegralValueOutOfRange(..)
        | rusqlite::Error::InvalidColumnType(..) => StoreError::InvalidData(e.to_string()),
        _ => StoreError::Query(e.to_string()),
    }
}

/// Whether SQLite reports the database busy or locked.
pub(super) fn is_busy(e: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode::{DatabaseBusy, DatabaseLocked};
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if matches!(f.code, DatabaseBusy | DatabaseLocked))
}

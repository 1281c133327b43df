//! MySQL named locks (`GET_LOCK`), which stand in for the unique keys
//! TeamTalk's schema lacks: create-or-get of a session or relation row
//! takes one, so every tt-dbproxy instance sharing the database creates
//! one row.

use mysql_async::Conn;
use mysql_async::prelude::Queryable;

use super::error::map_err;
use crate::store::{StoreError, StoreResult};

/// Longest wait for a named lock (seconds).
const LOCK_WAIT_SECS: u32 = 5;

/// Takes a MySQL named lock on this connection (released by [`unlock`] or
/// when the connection closes), serialising create-or-get across every
/// tt-dbproxy instance sharing the database. Until [`unlock`] succeeds the
/// connection is reset when it returns to the pool, which releases the lock
/// even if the request was cancelled while holding it.
pub(super) async fn lock(c: &mut Conn, name: &str) -> StoreResult<()> {
    c.reset_connection(true);
    let got: Option<Option<i64>> = c
        .exec_first("SELECT GET_LOCK(?, ?)", (name, LOCK_WAIT_SECS))
        .await
        .map_err(map_err)?;
    if got.flatten() == Some(1) {
        Ok(())
    } else {
        Err(StoreError::Unavailable(format!(
            "lock {name} not granted within {LOCK_WAIT_SECS} s"
        )))
    }
}

/// Releases a named lock; after a failure the lock is released by the
/// connection's reset when it returns to the pool.
pub(super) async fn unlock(c: &mut Conn, name: &str) {
    if c.exec_drop("SELECT RELEASE_LOCK(?)", (name,)).await.is_ok() {
        c.reset_connection(false);
    }
}

//! Write paths that stay correct on a MariaDB Galera cluster, where every
//! node takes writes.
//!
//! Galera certifies a transaction at `COMMIT` against the write sets the
//! other nodes committed meanwhile, by the keys of the rows written; a
//! conflict rolls the loser back and reports it as a deadlock (1213), as
//! does a local transaction aborted by a replicated one. Nothing else is
//! cluster-wide: named locks (`GET_LOCK`) and locking reads are local to a
//! node. Hence:
//!
//! - **Conflicts are retried.** A transaction that fails with 1213 was
//!   rolled back whole (on plain InnoDB too), so running it again from the
//!   start stores it once; [`retry_pause`] bounds the attempts and the
//!   request's deadline bounds the time. A `COMMIT` whose answer is lost
//!   is never retried (its outcome is resolved as before).
//! - **Creation is certified on the primary key.** TeamTalk's relation
//!   and session tables have no unique key on the pair, and no table may
//!   be added, so [`create_certified`] makes the primary key the lock: in
//!   one transaction it looks for the row (after a causality wait, so
//!   every commit of the cluster is seen) and, if missing, inserts it with
//!   the explicit id `MAX(id) + 1`. Two nodes creating rows from the same
//!   state choose the same id, and Galera lets one of them commit; the
//!   other retries and finds the winner's row. Rows are never deleted and
//!   every id above the old maximum was chosen this way, so the ids stay
//!   dense and a creator that did not see a row cannot have chosen an id
//!   other than that row's. The cost: creations of *any* two rows of the
//!   table on different nodes at the same moment conflict, and one
//!   retries (creation is rare; sends on existing rows are unaffected).
//!
//! Galera is detected through `@@wsrep_on` (missing on MySQL and on
//! MariaDB builds without wsrep: not Galera).

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, TxOpts, Value};
use tokio::time::Instant;

use super::error::{is_conflict, map_err};
use super::query::params;
use crate::deadline;
use crate::store::{StoreError, StoreResult};

/// ER_DUP_ENTRY: the chosen id was committed meanwhile (creation only).
const ER_DUP_ENTRY: u16 = 1062;
/// ER_UNKNOWN_SYSTEM_VARIABLE: the server has no wsrep.
const ER_UNKNOWN_SYSTEM_VARIABLE: u16 = 1193;

/// Most runs of one conflicting transaction (the first included).
pub(super) const ATTEMPTS: u32 = 8;

const UNKNOWN: u8 = 0;
const PLAIN: u8 = 1;
const GALERA: u8 = 2;

/// Whether the primary is a Galera node, found once.
#[derive(Debug, Default)]
pub(crate) struct Detected(AtomicU8);

impl Detected {
    /// `true` when the server has `wsrep_on` set; asked on `c` the first
    /// time only.
    pub(super) async fn galera(&self, c: &mut Conn) -> StoreResult<bool> {
        match self.0.load(Ordering::Relaxed) {
            PLAIN => return Ok(false),
            GALERA => return Ok(true),
            _ => {}
        }
        let on = match c
            .query_first::<Option<String>, _>("SELECT @@wsrep_on")
            .await
        {
            Ok(v) => matches!(v.flatten().as_deref(), Some("1" | "ON")),
            Err(mysql_async::Error::Server(e)) if e.code == ER_UNKNOWN_SYSTEM_VARIABLE => false,
            Err(e) => return Err(map_err(e)),
        };
        if on {
            tracing::info!("the MySQL primary is a Galera node: cluster-safe creation in use");
        }
        let _ = self.0.compare_exchange(
            UNKNOWN,
            if on { GALERA } else { PLAIN },
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        Ok(on)
    }
}

/// Counts a retried conflict (`op`: "send" or "create").
pub(super) fn record_retry(op: &'static str) {
    metrics::counter!(crate::metrics::MYSQL_CONFLICT_RETRIES, "op" => op).increment(1);
}

/// Waits before run `attempt + 1` of a conflicting transaction (a few
/// milliseconds, growing, jittered so the losers do not meet again);
/// `false` when no run is left or the deadline would pass first.
pub(super) async fn retry_pause(attempt: u32) -> bool {
    if attempt >= ATTEMPTS {
        return false;
    }
    let base = 2u64 << attempt.min(5);
    let wait = Duration::from_millis(base + rand::random::<u64>() % (base + 1));
    if Instant::now() + wait >= deadline::effective() {
        return false;
    }
    tokio::time::sleep(wait).await;
    true
}

/// Runs `op` again while it fails with [`StoreError::Conflict`] (rolled
/// back whole: nothing of it took effect), at most [`ATTEMPTS`] runs
/// within the request's deadline, each retry counted as `label`; for
/// autocommit statements and short transactions that a deadlock with a
/// concurrent group commit can roll back.
pub(super) async fn retrying_conflicts<T, Fut>(
    label: &'static str,
    mut op: impl FnMut() -> Fut,
) -> StoreResult<T>
where
    Fut: Future<Output = StoreResult<T>>,
{
    let mut attempt = 1;
    loop {
        match op().await {
            Err(StoreError::Conflict(e)) => {
                if !retry_pause(attempt).await {
                    return Err(StoreError::Conflict(e));
                }
                record_retry(label);
                attempt += 1;
            }
            done => return done,
        }
    }
}

/// A create-or-revive of one row in a table without a unique key on what
/// identifies the row (a relation's pair, a session's user, peer, type).
pub(super) struct Create<'a> {
    /// The table.
    pub table: &'static str,
    /// `WHERE` of the rows that are "the same" row.
    pub matching: &'static str,
    /// Its values.
    pub key: Vec<Value>,
    /// `ORDER BY` picking the one row used when several exist.
    pub order: &'static str,
    /// `SET` applied to a found row, or `None` to leave it.
    pub revive: Option<(&'static str, Vec<Value>)>,
    /// Columns of a new row after `id`.
    pub columns: &'static str,
    /// Their values.
    pub values: Vec<Value>,
    /// For the error of giving up.
    pub what: &'a str,
}

/// Finds or creates the row of `spec` so that concurrent creators on
/// different Galera nodes end with one row (see the module text); returns
/// its id. Retries conflicts within the request's deadline.
pub(super) async fn create_certified(c: &mut Conn, spec: &Create<'_>) -> StoreResult<u32> {
    let mut attempt = 1;
    loop {
        match deadline::bounded(spec.what, create_once(c, spec)).await {
            Ok(Ok(id)) => return Ok(id),
            Ok(Err(e)) if is_conflict(&e) || dup(&e) => {
                if !retry_pause(attempt).await {
                    return Err(StoreError::Unavailable(format!(
                        "{} kept conflicting with other Galera nodes: {}",
                        spec.what,
                        map_err(e)
                    )));
                }
                record_retry("create");
                attempt += 1;
            }
            Ok(Err(e)) => return Err(map_err(e)),
            Err(e) => return Err(e),
        }
    }
}

fn dup(e: &mysql_async::Error) -> bool {
    matches!(e, mysql_async::Error::Server(s) if s.code == ER_DUP_ENTRY)
}

/// One run; a dropped transaction rolls back.
async fn create_once(
    c: &mut Conn,
    spec: &Create<'_>,
) -> StoreResult<Result<u32, mysql_async::Error>> {
    let mut tx = match c.start_transaction(TxOpts::default()).await {
        Ok(tx) => tx,
        Err(e) => return Ok(Err(e)),
    };
    // The causality wait makes the snapshot include every write set the
    // cluster committed before this statement.
    let find = format!(
        "SET STATEMENT wsrep_sync_wait = 1 FOR SELECT id FROM {} WHERE {} ORDER BY {} LIMIT 1",
        spec.table, spec.matching, spec.order
    );
    let found: Option<Option<i64>> = match tx.exec_first(find, params(spec.key.clone())).await {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    if let Some(id) = found.flatten() {
        let id = u32::try_from(id)
            .map_err(|_| StoreError::InvalidData(format!("{} id {id}", spec.table)))?;
        if let Some((set, values)) = &spec.revive {
            let mut p = values.clone();
            p.push(id.into());
            let sql = format!("UPDATE {} SET {set} WHERE id = ?", spec.table);
            if let Err(e) = tx.exec_drop(sql, params(p)).await {
                return Ok(Err(e));
            }
        }
        return Ok(tx.commit().await.map(|()| id));
    }
    let next: Option<i64> = match tx
        .query_first(format!(
            "SELECT COALESCE(MAX(id), 0) + 1 FROM {}",
            spec.table
        ))
        .await
    {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    let id = u32::try_from(next.unwrap_or(1))
        .map_err(|_| StoreError::InvalidData(format!("next {} id", spec.table)))?;
    let mut p: Vec<Value> = vec![id.into()];
    p.extend(spec.values.iter().cloned());
    let sql = format!(
        "INSERT INTO {} (id, {}) VALUES (?, {})",
        spec.table,
        spec.columns,
        crate::store::placeholders(spec.values.len())
    );
    if let Err(e) = tx.exec_drop(sql, params(p)).await {
        return Ok(Err(e));
    }
    Ok(tx.commit().await.map(|()| id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(code: u16) -> mysql_async::Error {
        mysql_async::Error::Server(mysql_async::ServerError {
            code,
            message: "x".into(),
            state: "40001".into(),
        })
    }

    #[test]
    fn a_taken_id_is_a_duplicate() {
        assert!(dup(&server(ER_DUP_ENTRY)));
        assert!(!dup(&server(1213)));
    }

    #[tokio::test]
    async fn retries_are_bounded() {
        assert!(!retry_pause(ATTEMPTS).await, "no run after the last");
        let soon = Instant::now() + Duration::from_millis(1);
        let more = deadline::scope(soon, retry_pause(1)).await;
        assert!(!more, "no pause that would end after the deadline");
    }
}

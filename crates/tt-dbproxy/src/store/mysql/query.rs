//! Statement helpers of the MySQL backend: positional parameters, typed
//! columns (NULL read as 0 or empty) and the few shapes of a statement's
//! result (rows, first row, changed rows, insert id).

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params, Row, Value};

use super::error::map_err;
use crate::store::{StoreError, StoreResult};

/// Integer column as `u32`; NULL is 0.
pub(super) fn int(row: &mut Row, i: usize) -> StoreResult<u32> {
    match row.take_opt::<Option<i64>, _>(i) {
        Some(Ok(v)) => u32::try_from(v.unwrap_or(0))
            .map_err(|_| StoreError::InvalidData(format!("column {i} out of range"))),
        Some(Err(e)) => Err(StoreError::InvalidData(e.to_string())),
        None => Err(StoreError::InvalidData(format!("column {i} missing"))),
    }
}

/// Text column; NULL is empty.
pub(super) fn text(row: &mut Row, i: usize) -> StoreResult<String> {
    match row.take_opt::<Option<String>, _>(i) {
        Some(Ok(v)) => Ok(v.unwrap_or_default()),
        Some(Err(e)) => Err(StoreError::InvalidData(e.to_string())),
        None => Err(StoreError::InvalidData(format!("column {i} missing"))),
    }
}

/// Positional parameters.
pub(super) fn params(values: Vec<Value>) -> Params {
    Params::Positional(values)
}

/// Ids as positional parameters.
pub(super) fn id_params(ids: &[u32]) -> Params {
    params(ids.iter().map(|i| Value::from(*i)).collect())
}

/// Every row of a statement.
pub(super) async fn rows(conn: &mut Conn, sql: &str, p: Params) -> StoreResult<Vec<Row>> {
    conn.exec(sql, p).await.map_err(map_err)
}

/// The first row of a statement, if any.
pub(super) async fn first(conn: &mut Conn, sql: &str, p: Params) -> StoreResult<Option<Row>> {
    conn.exec_first(sql, p).await.map_err(map_err)
}

/// Runs a statement and returns the changed-row count.
pub(super) async fn change(conn: &mut Conn, sql: &str, p: Params) -> StoreResult<u64> {
    conn.exec_drop(sql, p).await.map_err(map_err)?;
    Ok(conn.affected_rows())
}

/// Runs an `INSERT` and returns the new row's id.
pub(super) async fn insert(conn: &mut Conn, sql: &str, p: Params) -> StoreResult<u32> {
    conn.exec_drop(sql, p).await.map_err(map_err)?;
    conn.last_insert_id()
        .and_then(|id| u32::try_from(id).ok())
        .ok_or_else(|| StoreError::InvalidData("no insert id".into()))
}

/// The first column of an optional row as an id.
pub(super) fn first_int(row: Option<Row>) -> StoreResult<Option<u32>> {
    row.map(|mut r| int(&mut r, 0)).transpose()
}

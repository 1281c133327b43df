//! Raw TeamTalk rows for `copy`: read in id order from the primary (so a
//! copy never misses what a lagging replica has not applied) and inserted
//! with their ids, many rows per statement.

use mysql_async::Value;
use mysql_async::prelude::Queryable;

use super::error::map_err;
use super::handle::MysqlStore;
use super::query::params;
use crate::store::StoreResult;
use crate::store::export::{Cell, Row, Table};

/// Most rows per multi-row INSERT (well under the 65,535 placeholders a
/// statement may have, and under the default `max_allowed_packet` for
/// 4 KB messages).
const INSERT_ROWS: usize = 200;

fn cell(v: Value) -> Cell {
    match v {
        Value::NULL => Cell::Null,
        Value::Int(n) => Cell::Int(n),
        Value::UInt(n) => Cell::Int(i64::try_from(n).unwrap_or(i64::MAX)),
        Value::Bytes(b) => Cell::Text(b),
        // No TeamTalk column is a float or a date.
        #[allow(clippy::cast_possible_truncation)]
        Value::Float(f) => Cell::Int(f as i64),
        #[allow(clippy::cast_possible_truncation)]
        Value::Double(f) => Cell::Int(f as i64),
        other => Cell::Text(other.as_sql(true).into_bytes()),
    }
}

fn value(c: Cell) -> Value {
    match c {
        Cell::Null => Value::NULL,
        Cell::Int(n) => Value::Int(n),
        Cell::Text(b) => Value::Bytes(b),
    }
}

impl MysqlStore {
    /// Up to `limit` rows of `table` with `id > after`, by id.
    pub(crate) async fn export_rows(
        &self,
        table: &Table,
        after: i64,
        limit: usize,
    ) -> StoreResult<Vec<Row>> {
        let mut c = self.pools.primary().await?;
        let sql = format!(
            "SELECT {} FROM {} WHERE id > ? ORDER BY id LIMIT ?",
            table.column_list(),
            table.name
        );
        let limit = u64::try_from(limit).unwrap_or(u64::MAX);
        let rows: Vec<mysql_async::Row> = c
            .exec(sql, params(vec![after.into(), limit.into()]))
            .await
            .map_err(map_err)?;
        Ok(rows
            .into_iter()
            .map(|r| {
                r.unwrap_raw()
                    .into_iter()
                    .map(|v| v.map_or(Cell::Null, cell))
                    .collect()
            })
            .collect())
    }

    /// Inserts `rows` with their ids, in one transaction; `replace`
    /// overwrites rows with the same id.
    pub(crate) async fn import_rows(
        &self,
        table: &Table,
        rows: Vec<Row>,
        replace: bool,
    ) -> StoreResult<()> {
        let mut c = self.pools.primary().await?;
        let verb = if replace { "REPLACE" } else { "INSERT" };
        let one = format!("({})", crate::store::placeholders(table.columns.len()));
        let mut tx = c
            .start_transaction(mysql_async::TxOpts::default())
            .await
            .map_err(map_err)?;
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<Row> = rows.by_ref().take(INSERT_ROWS).collect();
            let sql = format!(
                "{verb} INTO {} ({}) VALUES {}",
                table.name,
                table.column_list(),
                vec![one.as_str(); chunk.len()].join(",")
            );
            let values = chunk.into_iter().flatten().map(value).collect();
            tx.exec_drop(sql, params(values)).await.map_err(map_err)?;
        }
        tx.commit().await.map_err(map_err)
    }
}

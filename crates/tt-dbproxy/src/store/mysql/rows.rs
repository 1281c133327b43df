//! Message rows as multi-row `INSERT`s into the shard tables
//! (`IMMessage_<n>`, `IMGroupMessage_<n>`): their columns, and the
//! prepared statement of rows inserted outside a group commit.

use mysql_async::Value;
use mysql_async::prelude::Queryable;

use super::error::map_err;
use super::query::params;
use crate::store::{GroupMessageRow, SingleMessageRow, StoreResult};

/// Most rows one `INSERT` of a group commit carries; a larger batch uses
/// several ([`super::script`]).
pub(super) const MAX_ROWS_PER_STATEMENT: usize = 32;

/// One value of a message row: a number or text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Column<'a> {
    /// An id, a type or a time.
    Int(u32),
    /// The content.
    Text(&'a str),
}

impl From<Column<'_>> for Value {
    fn from(c: Column<'_>) -> Self {
        match c {
            Column::Int(n) => n.into(),
            Column::Text(s) => s.into(),
        }
    }
}

/// A message row as the values of its `INSERT` (after `status`, which
/// is always 0, come `updated` and `created`, both the message's time).
pub(super) trait MessageInsert {
    /// `IMMessage` or `IMGroupMessage`.
    const TABLE: &'static str;
    /// The columns before `status`.
    const COLUMNS: &'static str;
    /// How many columns precede `status`.
    const LEADING: usize;
    /// The values of those columns, then `created` (twice, for `updated`
    /// and `created`).
    fn columns(&self) -> Vec<Column<'_>>;
}

impl MessageInsert for SingleMessageRow {
    const TABLE: &'static str = "IMMessage";
    const COLUMNS: &'static str = "relateId, fromId, toId, msgId, content, type";
    const LEADING: usize = 6;
    fn columns(&self) -> Vec<Column<'_>> {
        vec![
            Column::Int(self.relation_id),
            Column::Int(self.from_id),
            Column::Int(self.to_id),
            Column::Int(self.msg_id),
            Column::Text(&self.content),
            Column::Int(self.msg_type),
            Column::Int(self.created),
            Column::Int(self.created),
        ]
    }
}

impl MessageInsert for GroupMessageRow {
    const TABLE: &'static str = "IMGroupMessage";
    const COLUMNS: &'static str = "groupId, userId, msgId, content, type";
    const LEADING: usize = 5;
    fn columns(&self) -> Vec<Column<'_>> {
        vec![
            Column::Int(self.group_id),
            Column::Int(self.from_id),
            Column::Int(self.msg_id),
            Column::Text(&self.content),
            Column::Int(self.msg_type),
            Column::Int(self.created),
            Column::Int(self.created),
        ]
    }
}

/// Inserts message rows of one shard table in one statement.
pub(super) async fn insert_rows<Q: Queryable, R: MessageInsert>(
    q: &mut Q,
    shard: u32,
    rows: &[&R],
) -> Result<(), mysql_async::Error> {
    let one = format!("({}, 0, ?, ?)", vec!["?"; R::LEADING].join(", "));
    let sql = format!(
        "INSERT INTO {}_{shard} ({}, status, updated, created) VALUES {}",
        R::TABLE,
        R::COLUMNS,
        vec![one.as_str(); rows.len()].join(", ")
    );
    let p: Vec<Value> = rows
        .iter()
        .flat_map(|r| r.columns())
        .map(Value::from)
        .collect();
    q.exec_drop(sql, params(p)).await
}

/// Inserts one-to-one rows of one shard table in one statement.
pub(super) async fn insert_singles<Q: Queryable>(
    q: &mut Q,
    shard: u32,
    rows: &[&SingleMessageRow],
) -> StoreResult<()> {
    insert_rows(q, shard, rows).await.map_err(map_err)
}

/// Inserts group rows of one shard table in one statement.
pub(super) async fn insert_groups<Q: Queryable>(
    q: &mut Q,
    shard: u32,
    rows: &[&GroupMessageRow],
) -> StoreResult<()> {
    insert_rows(q, shard, rows).await.map_err(map_err)
}

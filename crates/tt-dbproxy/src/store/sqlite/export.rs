//! [`Portable`] for the embedded store: raw TeamTalk rows and the `tt_*`
//! tables that hold what the original keeps in Redis.

use async_trait::async_trait;
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, params, params_from_iter};

use super::SqliteStore;
use super::device::{platform_name, platform_of};
use super::user::{GATE, GROUP_SYNC_CURSOR, set_state_value, state_value, text_col, u32_col};
use crate::store::StoreResult;
use crate::store::export::{Cell, Portable, Row, StateItem, Table};

fn cell(v: ValueRef<'_>) -> Cell {
    match v {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(n) => Cell::Int(n),
        // No TeamTalk column is REAL; a stray one keeps its integer part.
        #[allow(clippy::cast_possible_truncation)]
        ValueRef::Real(f) => Cell::Int(f as i64),
        ValueRef::Text(b) | ValueRef::Blob(b) => Cell::Text(b.to_vec()),
    }
}

fn value(c: Cell) -> Value {
    match c {
        Cell::Null => Value::Null,
        Cell::Int(n) => Value::Integer(n),
        // Text stays TEXT (the store reads it as such); bytes that are not
        // UTF-8 are kept as they are, as a BLOB.
        Cell::Text(b) => match String::from_utf8(b) {
            Ok(s) => Value::Text(s),
            Err(e) => Value::Blob(e.into_bytes()),
        },
    }
}

fn read_rows(
    c: &Connection,
    table: &Table,
    after: i64,
    limit: usize,
) -> rusqlite::Result<Vec<Row>> {
    let sql = format!(
        "SELECT {} FROM {} WHERE id > ?1 ORDER BY id LIMIT ?2",
        table.column_list(),
        table.name
    );
    let mut stmt = c.prepare(&sql)?;
    let width = table.columns.len();
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = stmt.query_map(params![after, limit], |r| {
        (0..width).map(|i| Ok(cell(r.get_ref(i)?))).collect()
    })?;
    rows.collect()
}

fn write_rows(
    c: &Connection,
    table: &Table,
    rows: Vec<Row>,
    replace: bool,
) -> rusqlite::Result<()> {
    let verb = if replace {
        "INSERT OR REPLACE"
    } else {
        "INSERT"
    };
    let marks = crate::store::placeholders(table.columns.len());
    let sql = format!(
        "{verb} INTO {} ({}) VALUES ({marks})",
        table.name,
        table.column_list()
    );
    let mut stmt = c.prepare(&sql)?;
    for row in rows {
        stmt.execute(params_from_iter(row.into_iter().map(value)))?;
    }
    Ok(())
}

/// Runs `sql` and maps each row with `f`.
fn collect(
    c: &Connection,
    sql: &str,
    f: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<StateItem>,
) -> rusqlite::Result<Vec<StateItem>> {
    let mut stmt = c.prepare(sql)?;
    let rows = stmt.query_map([], f)?;
    rows.collect()
}

fn read_state(c: &Connection) -> rusqlite::Result<Vec<StateItem>> {
    let mut out = collect(c, "SELECT user_id, peer_id, count FROM tt_unread", |r| {
        Ok(StateItem::Unread {
            user: u32_col(r, 0)?,
            peer: u32_col(r, 1)?,
            count: u32_col(r, 2)?,
        })
    })?;
    out.extend(collect(
        c,
        "SELECT group_id, count FROM tt_group_total",
        |r| {
            Ok(StateItem::GroupTotal {
                group: u32_col(r, 0)?,
                count: u32_col(r, 1)?,
            })
        },
    )?);
    out.extend(collect(
        c,
        "SELECT user_id, group_id, count FROM tt_group_read_mark",
        |r| {
            Ok(StateItem::GroupMark {
                user: u32_col(r, 0)?,
                group: u32_col(r, 1)?,
                count: u32_col(r, 2)?,
            })
        },
    )?);
    out.extend(collect(
        c,
        "SELECT group_id, user_id, status FROM tt_group_push_shield",
        |r| {
            Ok(StateItem::PushShield {
                group: u32_col(r, 0)?,
                user: u32_col(r, 1)?,
                status: u32_col(r, 2)?,
            })
        },
    )?);
    out.extend(collect(
        c,
        "SELECT user_id, platform, token FROM tt_device_token",
        |r| {
            Ok(StateItem::DeviceToken {
                user: u32_col(r, 0)?,
                platform: platform_of(&text_col(r, 1)?),
                token: text_col(r, 2)?,
            })
        },
    )?);
    out.extend(collect(
        c,
        "SELECT kind, conv_id, last FROM tt_msg_counter",
        |r| {
            Ok(StateItem::MsgCounter {
                group: u32_col(r, 0)? == 2,
                conv: u32_col(r, 1)?,
                last: u32_col(r, 2)?,
            })
        },
    )?);
    if let Some(at) = state_value(c, GATE)? {
        out.push(StateItem::UserListGate(at));
    }
    if let Some(at) = state_value(c, GROUP_SYNC_CURSOR)? {
        out.push(StateItem::SyncCursor(at));
    }
    Ok(out)
}

fn write_item(c: &Connection, item: &StateItem) -> rusqlite::Result<()> {
    match item {
        StateItem::Unread { user, peer, count } => c.execute(
            "INSERT OR REPLACE INTO tt_unread (user_id, peer_id, count) VALUES (?1, ?2, ?3)",
            params![user, peer, count],
        ),
        StateItem::GroupTotal { group, count } => c.execute(
            "INSERT OR REPLACE INTO tt_group_total (group_id, count) VALUES (?1, ?2)",
            params![group, count],
        ),
        StateItem::GroupMark { user, group, count } => c.execute(
            "INSERT OR REPLACE INTO tt_group_read_mark (user_id, group_id, count) VALUES (?1, ?2, ?3)",
            params![user, group, count],
        ),
        StateItem::PushShield {
            group,
            user,
            status,
        } => c.execute(
            "INSERT OR REPLACE INTO tt_group_push_shield (group_id, user_id, status) VALUES (?1, ?2, ?3)",
            params![group, user, status],
        ),
        StateItem::DeviceToken {
            user,
            platform,
            token,
        } => c.execute(
            "INSERT OR REPLACE INTO tt_device_token (user_id, platform, token) VALUES (?1, ?2, ?3)",
            params![user, platform_name(*platform), token],
        ),
        StateItem::MsgCounter { group, conv, last } => c.execute(
            "INSERT OR REPLACE INTO tt_msg_counter (kind, conv_id, last) VALUES (?1, ?2, ?3)",
            params![if *group { 2 } else { 1 }, conv, last],
        ),
        StateItem::UserListGate(at) => set_state_value(c, GATE, *at).map(|()| 1),
        StateItem::SyncCursor(at) => set_state_value(c, GROUP_SYNC_CURSOR, *at).map(|()| 1),
    }
    .map(drop)
}

#[async_trait]
impl Portable for SqliteStore {
    async fn read_rows(&self, table: &Table, after: i64, limit: usize) -> StoreResult<Vec<Row>> {
        let table = table.clone();
        self.read(move |c| read_rows(c, &table, after, limit)).await
    }

    async fn write_rows(&self, table: &Table, rows: Vec<Row>, replace: bool) -> StoreResult<()> {
        let table = table.clone();
        self.write(move |c| write_rows(c, &table, rows, replace))
            .await
    }

    async fn read_state(&self) -> StoreResult<Vec<StateItem>> {
        self.read(read_state).await
    }

    async fn write_state(&self, items: Vec<StateItem>, groups: &[u32]) -> StoreResult<()> {
        // Membership is IMGroupMember itself here: nothing to drop.
        let _ = groups;
        self.write(move |c| items.iter().try_for_each(|item| write_item(c, item)))
            .await
    }
}

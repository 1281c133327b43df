//! Unread counters: one-to-one counts, group totals and read marks.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params};

use super::SqliteStore;
use super::user::u32_col;
use crate::store::{CounterStore, StoreResult};
use async_trait::async_trait;

pub(super) fn add_unread(
    c: &Connection,
    user_id: u32,
    peer_id: u32,
    n: u32,
) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO tt_unread (user_id, peer_id, count) VALUES (?1, ?2, ?3) \
         ON CONFLICT (user_id, peer_id) DO UPDATE SET count = count + excluded.count",
    )?
    .execute(params![user_id, peer_id, n])?;
    Ok(())
}

pub(super) fn clear_unread(c: &Connection, user_id: u32, peer_id: u32) -> rusqlite::Result<()> {
    c.prepare_cached("DELETE FROM tt_unread WHERE user_id = ?1 AND peer_id = ?2")?
        .execute(params![user_id, peer_id])?;
    Ok(())
}

/// Every one-to-one count of a user, zeros included (the original lists a
/// field holding 0); a stored value that is not a non-negative integer is
/// read as 0 and logged.
pub(super) fn unread_counts(c: &Connection, user_id: u32) -> rusqlite::Result<Vec<(u32, u32)>> {
    let mut stmt = c.prepare_cached(
        "SELECT peer_id, count FROM tt_unread WHERE user_id = ?1 ORDER BY peer_id",
    )?;
    let rows = stmt.query_map(params![user_id], |r| {
        let peer = u32_col(r, 0)?;
        let raw: Value = r.get(1)?;
        let n = match raw {
            Value::Integer(n) if n >= 0 => u32::try_from(n).unwrap_or(u32::MAX),
            other => {
                tracing::warn!(user = user_id, peer, value = ?other, "unread count is not a number; read as 0");
                0
            }
        };
        Ok((peer, n))
    })?;
    rows.collect()
}

pub(super) fn incr_group_total(c: &Connection, group_id: u32) -> rusqlite::Result<u32> {
    c.prepare_cached(
        "INSERT INTO tt_group_total (group_id, count) VALUES (?1, 1) \
         ON CONFLICT (group_id) DO UPDATE SET count = count + 1 RETURNING count",
    )?
    .query_row(params![group_id], |r| u32_col(r, 0))
}

pub(super) fn mark_group_read(c: &Connection, user_id: u32, group_id: u32) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO tt_group_read_mark (user_id, group_id, count) \
         SELECT ?1, group_id, count FROM tt_group_total WHERE group_id = ?2 \
         ON CONFLICT (user_id, group_id) DO UPDATE SET count = excluded.count",
    )?
    .execute(params![user_id, group_id])?;
    Ok(())
}

pub(super) fn group_counter(
    c: &Connection,
    user_id: u32,
    group_id: u32,
) -> rusqlite::Result<Option<(u32, u32)>> {
    c.prepare_cached(
        "SELECT t.count, COALESCE(m.count, 0) FROM tt_group_total t \
         LEFT JOIN tt_group_read_mark m ON m.group_id = t.group_id AND m.user_id = ?1 \
         WHERE t.group_id = ?2",
    )?
    .query_row(params![user_id, group_id], |r| {
        Ok((u32_col(r, 0)?, u32_col(r, 1)?))
    })
    .optional()
}

#[async_trait]
impl CounterStore for SqliteStore {
    async fn add_unread(&self, user_id: u32, peer_id: u32, n: u32) -> StoreResult<()> {
        self.write_keeping(move |c| super::counter::add_unread(c, user_id, peer_id, n))
            .await
    }

    async fn clear_unread(&self, user_id: u32, peer_id: u32) -> StoreResult<()> {
        self.write_keeping(move |c| super::counter::clear_unread(c, user_id, peer_id))
            .await
    }

    async fn unread_counts(&self, user_id: u32) -> StoreResult<Vec<(u32, u32)>> {
        self.read_quick(1, move |c| super::counter::unread_counts(c, user_id))
            .await
    }

    async fn incr_group_total(&self, group_id: u32) -> StoreResult<u32> {
        self.write(move |c| super::counter::incr_group_total(c, group_id))
            .await
    }

    async fn mark_group_read(&self, user_id: u32, group_id: u32) -> StoreResult<()> {
        self.write_keeping(move |c| super::counter::mark_group_read(c, user_id, group_id))
            .await
    }

    async fn group_counter(&self, user_id: u32, group_id: u32) -> StoreResult<Option<(u32, u32)>> {
        self.read(move |c| super::counter::group_counter(c, user_id, group_id))
            .await
    }

    async fn group_counters(
        &self,
        user_id: u32,
        group_ids: &[u32],
    ) -> StoreResult<Vec<Option<(u32, u32)>>> {
        if group_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = group_ids.to_vec();
        self.read_quick(ids.len(), move |c| {
            ids.iter()
                .map(|g| super::counter::group_counter(c, user_id, *g))
                .collect()
        })
        .await
    }
}

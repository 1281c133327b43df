//! Group membership (`IMGroupMember`, the embedded store's only membership
//! source) and per-member push settings.

use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use super::SqliteStore;
use super::user::{last_id, text_col, u32_col};
use crate::store::{GroupRecord, ID_CHUNK, NewGroup};
use crate::store::{GroupStore, StoreResult};
use async_trait::async_trait;

/// Adds or revives a membership row.
pub(super) fn add_member(
    c: &Connection,
    group_id: u32,
    user_id: u32,
    now: u32,
) -> rusqlite::Result<()> {
    let existing = c
        .prepare_cached("SELECT id FROM IMGroupMember WHERE groupId = ?1 AND userId = ?2 ORDER BY id DESC LIMIT 1")?
        .query_row(params![group_id, user_id], |r| u32_col(r, 0))
        .optional()?;
    match existing {
        Some(id) => c.execute("UPDATE IMGroupMember SET status = 0, updated = ?1 WHERE id = ?2", params![now, id])?,
        None => c.execute(
            "INSERT INTO IMGroupMember (groupId, userId, status, created, updated) VALUES (?1, ?2, 0, ?3, ?3)",
            params![group_id, user_id, now],
        )?,
    };
    Ok(())
}

const GROUP_COLUMNS: &str =
    "id, name, avatar, creator, type, userCnt, status, version, lastChated, updated";

fn group_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<GroupRecord> {
    Ok(GroupRecord {
        id: u32_col(r, 0)?,
        name: text_col(r, 1)?,
        avatar: text_col(r, 2)?,
        creator: u32_col(r, 3)?,
        group_type: u32_col(r, 4)?,
        user_count: u32_col(r, 5)?,
        status: u32_col(r, 6)?,
        version: u32_col(r, 7)?,
        last_chated: u32_col(r, 8)?,
        updated: u32_col(r, 9)?,
    })
}

pub(super) fn list(c: &Connection) -> rusqlite::Result<Vec<GroupRecord>> {
    let mut stmt = c.prepare_cached(&format!("SELECT {GROUP_COLUMNS} FROM IMGroup ORDER BY id"))?;
    let rows = stmt.query_map([], group_row)?;
    rows.collect()
}

pub(super) fn by_ids(c: &Connection, ids: &[u32]) -> rusqlite::Result<Vec<GroupRecord>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(ID_CHUNK) {
        let sql = format!(
            "SELECT {GROUP_COLUMNS} FROM IMGroup WHERE id IN ({})",
            crate::store::placeholders(chunk.len())
        );
        let mut stmt = c.prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(chunk), group_row)?;
        for row in rows {
            out.push(row?);
        }
    }
    out.sort_by_key(|g| std::cmp::Reverse((g.updated, g.id)));
    Ok(out)
}

pub(super) fn members(c: &Connection, group_id: u32) -> rusqlite::Result<Vec<u32>> {
    let mut stmt = c.prepare_cached(
        "SELECT DISTINCT userId FROM IMGroupMember WHERE groupId = ?1 AND status = 0",
    )?;
    let rows = stmt.query_map(params![group_id], |r| u32_col(r, 0))?;
    rows.collect()
}

fn recount(c: &Connection, group_id: u32, bump_version: bool) -> rusqlite::Result<()> {
    let sql = if bump_version {
        "UPDATE IMGroup SET userCnt = (SELECT COUNT(DISTINCT userId) FROM IMGroupMember WHERE groupId = ?1 AND status = 0),          version = version + 1 WHERE id = ?1"
    } else {
        "UPDATE IMGroup SET userCnt = (SELECT COUNT(DISTINCT userId) FROM IMGroupMember WHERE groupId = ?1 AND status = 0) WHERE id = ?1"
    };
    c.execute(sql, params![group_id])?;
    Ok(())
}

pub(super) fn create(c: &Connection, g: &NewGroup, now: u32) -> rusqlite::Result<u32> {
    c.execute(
        "INSERT INTO IMGroup (name, avatar, creator, type, userCnt, status, version, lastChated, updated, created)          VALUES (?1, ?2, ?3, ?4, 0, 0, 1, 0, ?5, ?5)",
        params![g.name, g.avatar, g.creator, g.group_type, now],
    )?;
    let id = last_id(c)?;
    c.execute("DELETE FROM IMGroupMember WHERE groupId = ?1", params![id])?;
    for user in &g.members {
        add_member(c, id, *user, now)?;
    }
    recount(c, id, false)?;
    Ok(id)
}

pub(super) fn change_members(
    c: &Connection,
    group_id: u32,
    add: bool,
    users: &[u32],
    now: u32,
) -> rusqlite::Result<()> {
    for user in users {
        if add {
            add_member(c, group_id, *user, now)?;
        } else {
            c.execute(
                "UPDATE IMGroupMember SET status = 1 WHERE groupId = ?1 AND userId = ?2 AND status = 0",
                params![group_id, user],
            )?;
        }
    }
    recount(c, group_id, true)?;
    Ok(())
}

pub(super) fn chatted_since(c: &Connection, since: u32) -> rusqlite::Result<Vec<(u32, u32)>> {
    let mut stmt = c.prepare_cached(
        "SELECT id, lastChated FROM IMGroup WHERE status = 0 AND lastChated >= ?1 AND lastChated != 0 ORDER BY id",
    )?;
    let rows = stmt.query_map(params![since], |r| Ok((u32_col(r, 0)?, u32_col(r, 1)?)))?;
    rows.collect()
}

pub(super) fn exists(c: &Connection, group_id: u32) -> rusqlite::Result<bool> {
    c.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM IMGroupMember WHERE groupId = ?1 AND status = 0)",
    )?
    .query_row(params![group_id], |r| r.get(0))
}

pub(super) fn is_member(c: &Connection, group_id: u32, user_id: u32) -> rusqlite::Result<bool> {
    c.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM IMGroupMember WHERE groupId = ?1 AND userId = ?2 AND status = 0)",
    )?
    .query_row(params![group_id, user_id], |r| r.get(0))
}

pub(super) fn user_groups(c: &Connection, user_id: u32) -> rusqlite::Result<Vec<u32>> {
    let mut stmt = c.prepare_cached(
        "SELECT groupId FROM IMGroupMember WHERE userId = ?1 AND status = 0 ORDER BY updated DESC, id DESC",
    )?;
    let rows = stmt.query_map(params![user_id], |r| u32_col(r, 0))?;
    rows.collect()
}

pub(super) fn set_push_shield(
    c: &Connection,
    group_id: u32,
    user_id: u32,
    status: u32,
) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO tt_group_push_shield (group_id, user_id, status) VALUES (?1, ?2, ?3) \
         ON CONFLICT (group_id, user_id) DO UPDATE SET status = excluded.status",
    )?
    .execute(params![group_id, user_id, status])?;
    Ok(())
}

pub(super) fn push_shields(c: &Connection, group_id: u32) -> rusqlite::Result<Vec<(u32, u32)>> {
    let mut stmt = c.prepare_cached(
        "SELECT user_id, status FROM tt_group_push_shield WHERE group_id = ?1 ORDER BY user_id",
    )?;
    let rows = stmt.query_map(params![group_id], |r| Ok((u32_col(r, 0)?, u32_col(r, 1)?)))?;
    rows.collect()
}

fn join_time(c: &Connection, g: u32, user: u32) -> rusqlite::Result<Option<u32>> {
    if !is_member(c, g, user)? {
        return Ok(None);
    }
    c.prepare_cached("SELECT updated FROM IMGroupMember WHERE groupId = ?1 AND userId = ?2 AND status = 0 ORDER BY id DESC LIMIT 1")?
        .query_row(params![g, user], |r| u32_col(r, 0))
        .optional()
}

#[async_trait]
impl GroupStore for SqliteStore {
    async fn group_join_time(&self, group_id: u32, user_id: u32) -> StoreResult<Option<u32>> {
        self.read(move |c| join_time(c, group_id, user_id)).await
    }

    async fn add_group_member(&self, group_id: u32, user_id: u32, now: u32) -> StoreResult<()> {
        self.write_keeping(move |c| super::group::add_member(c, group_id, user_id, now))
            .await
    }

    async fn group_exists(&self, group_id: u32) -> StoreResult<bool> {
        self.read(move |c| super::group::exists(c, group_id)).await
    }

    async fn is_group_member(&self, group_id: u32, user_id: u32) -> StoreResult<bool> {
        self.read(move |c| super::group::is_member(c, group_id, user_id))
            .await
    }

    async fn user_groups(&self, user_id: u32) -> StoreResult<Vec<u32>> {
        self.read_quick(1, move |c| super::group::user_groups(c, user_id))
            .await
    }

    async fn groups_by_ids(&self, ids: &[u32]) -> StoreResult<Vec<GroupRecord>> {
        let ids = ids.to_vec();
        self.read(move |c| super::group::by_ids(c, &ids)).await
    }

    async fn list_groups(&self) -> StoreResult<Vec<GroupRecord>> {
        self.read(super::group::list).await
    }

    async fn group_members(&self, group_id: u32) -> StoreResult<Vec<u32>> {
        self.read(move |c| super::group::members(c, group_id)).await
    }

    async fn create_group(&self, g: NewGroup, now: u32) -> StoreResult<u32> {
        self.write_keeping(move |c| super::group::create(c, &g, now))
            .await
    }

    async fn change_group_members(
        &self,
        group_id: u32,
        add: bool,
        users: &[u32],
        now: u32,
    ) -> StoreResult<()> {
        let users = users.to_vec();
        self.write_keeping(move |c| super::group::change_members(c, group_id, add, &users, now))
            .await
    }

    async fn set_group_push_shield(
        &self,
        group_id: u32,
        user_id: u32,
        status: u32,
    ) -> StoreResult<()> {
        self.write_keeping(move |c| super::group::set_push_shield(c, group_id, user_id, status))
            .await
    }

    async fn group_push_shields(&self, group_id: u32) -> StoreResult<Vec<(u32, u32)>> {
        self.read(move |c| super::group::push_shields(c, group_id))
            .await
    }
}

//! Group membership (`IMGroupMember`, the embedded store's only membership
//! source) and per-member push settings.

use rusqlite::{Connection, OptionalExtension, params};

use super::user::u32_col;

pub(super) fn add_member(
    c: &mut Connection,
    group_id: u32,
    user_id: u32,
    now: u32,
) -> rusqlite::Result<()> {
    let tx = c.transaction()?;
    let existing = tx
        .prepare_cached("SELECT id FROM IMGroupMember WHERE groupId = ?1 AND userId = ?2 ORDER BY id DESC LIMIT 1")?
        .query_row(params![group_id, user_id], |r| u32_col(r, 0))
        .optional()?;
    match existing {
        Some(id) => {
            tx.execute(
                "UPDATE IMGroupMember SET status = 0, updated = ?1 WHERE id = ?2",
                params![now, id],
            )?;
        }
        None => {
            tx.execute(
                "INSERT INTO IMGroupMember (groupId, userId, status, created, updated) VALUES (?1, ?2, 0, ?3, ?3)",
                params![group_id, user_id, now],
            )?;
        }
    }
    tx.commit()
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

//! `IMRecentSession`, `IMRelationShip` and message-table statements.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::SqliteStore;
use super::user::{last_id, text_col, u32_col};
use crate::store::MESSAGE_SHARDS;
use crate::store::{
    GroupMessageRow, LastMessage, SESSION_GROUP, SESSION_SINGLE, SessionRecord, SingleMessageRow,
};
use crate::store::{SessionStore, StoreResult};
use async_trait::async_trait;

fn session_from_row(r: &Row<'_>) -> rusqlite::Result<SessionRecord> {
    Ok(SessionRecord {
        id: u32_col(r, 0)?,
        user_id: u32_col(r, 1)?,
        peer_id: u32_col(r, 2)?,
        session_type: u32_col(r, 3)?,
        status: u32_col(r, 4)?,
        updated: u32_col(r, 5)?,
    })
}

pub(super) fn recent(
    c: &Connection,
    user_id: u32,
    since: u32,
    limit: u32,
) -> rusqlite::Result<Vec<SessionRecord>> {
    let mut stmt = c.prepare_cached(
        "SELECT id, userId, peerId, type, status, updated FROM IMRecentSession \
         WHERE userId = ?1 AND status = 0 AND updated > ?2 ORDER BY updated DESC, id DESC LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![user_id, since, limit], session_from_row)?;
    rows.collect()
}

fn find_any(
    c: &Connection,
    user_id: u32,
    peer_id: u32,
    session_type: u32,
    active_only: bool,
) -> rusqlite::Result<Option<u32>> {
    let sql = if active_only {
        "SELECT id FROM IMRecentSession WHERE userId = ?1 AND peerId = ?2 AND type = ?3 AND status = 0 ORDER BY id DESC LIMIT 1"
    } else {
        "SELECT id FROM IMRecentSession WHERE userId = ?1 AND peerId = ?2 AND type = ?3 ORDER BY id DESC LIMIT 1"
    };
    c.prepare_cached(sql)?
        .query_row(params![user_id, peer_id, session_type], |r| u32_col(r, 0))
        .optional()
}

pub(super) fn find(
    c: &Connection,
    user_id: u32,
    peer_id: u32,
    session_type: u32,
) -> rusqlite::Result<Option<u32>> {
    find_any(c, user_id, peer_id, session_type, true)
}

/// Creates or revives-and-touches a session; returns its id.
pub(super) fn add(
    c: &Connection,
    user_id: u32,
    peer_id: u32,
    session_type: u32,
    now: u32,
) -> rusqlite::Result<u32> {
    match find_any(c, user_id, peer_id, session_type, false)? {
        Some(id) => {
            c.prepare_cached("UPDATE IMRecentSession SET status = 0, updated = ?1 WHERE id = ?2")?
                .execute(params![now, id])?;
            Ok(id)
        }
        None => {
            c.prepare_cached(
                "INSERT INTO IMRecentSession (userId, peerId, type, status, created, updated) VALUES (?1, ?2, ?3, 0, ?4, ?4)",
            )?
            .execute(params![user_id, peer_id, session_type, now])?;
            last_id(c)
        }
    }
}

/// The sync center's touch: an existing group session (any status) gets
/// `updated = at`; a missing one is created.
pub(super) fn touch_group(
    c: &Connection,
    user_id: u32,
    group_id: u32,
    at: u32,
    now: u32,
) -> rusqlite::Result<()> {
    match find_any(c, user_id, group_id, crate::store::SESSION_GROUP, false)? {
        Some(id) => {
            c.execute(
                "UPDATE IMRecentSession SET updated = ?1 WHERE id = ?2",
                params![at, id],
            )?;
        }
        None => {
            add(c, user_id, group_id, crate::store::SESSION_GROUP, now)?;
        }
    }
    Ok(())
}

/// Changed-rows semantics.
pub(super) fn remove(c: &Connection, session_id: u32, now: u32) -> rusqlite::Result<bool> {
    let n = c.prepare_cached(
        "UPDATE IMRecentSession SET status = 1, updated = ?1 WHERE id = ?2 AND (status IS NOT 1 OR updated IS NOT ?1)",
    )?
    .execute(params![now, session_id])?;
    Ok(n > 0)
}

fn pair(a: u32, b: u32) -> (u32, u32) {
    (a.min(b), a.max(b))
}

pub(super) fn relation(c: &Connection, a: u32, b: u32) -> rusqlite::Result<Option<u32>> {
    if a == 0 || b == 0 {
        return Ok(None);
    }
    let (small, big) = pair(a, b);
    c.prepare_cached(
        "SELECT id FROM IMRelationShip WHERE smallId = ?1 AND bigId = ?2 AND status = 0 ORDER BY id DESC LIMIT 1",
    )?
    .query_row(params![small, big], |r| u32_col(r, 0))
    .optional()
}

/// Finds, revives or creates a relation; returns its id.
pub(super) fn create_relation(c: &Connection, a: u32, b: u32, now: u32) -> rusqlite::Result<u32> {
    let (small, big) = pair(a, b);
    let existing = c
        .prepare_cached(
            "SELECT id FROM IMRelationShip WHERE smallId = ?1 AND bigId = ?2 ORDER BY id LIMIT 1",
        )?
        .query_row(params![small, big], |r| u32_col(r, 0))
        .optional()?;
    match existing {
        Some(id) => {
            c.prepare_cached(
                "UPDATE IMRelationShip SET status = 0, updated = ?1 WHERE id = ?2 AND status IS NOT 0",
            )?
            .execute(params![now, id])?;
            Ok(id)
        }
        None => {
            c.execute(
                "INSERT INTO IMRelationShip (smallId, bigId, status, created, updated) VALUES (?1, ?2, 0, ?3, ?3)",
                params![small, big, now],
            )?;
            last_id(c)
        }
    }
}

pub(super) fn insert_single(c: &Connection, m: &SingleMessageRow) -> rusqlite::Result<()> {
    let sql = format!(
        "INSERT INTO IMMessage_{} (relateId, fromId, toId, msgId, content, type, status, updated, created) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?7)",
        m.relation_id % MESSAGE_SHARDS
    );
    c.prepare_cached(&sql)?.execute(params![
        m.relation_id,
        m.from_id,
        m.to_id,
        m.msg_id,
        m.content,
        m.msg_type,
        m.created
    ])?;
    Ok(())
}

pub(super) fn insert_group(c: &Connection, m: &GroupMessageRow) -> rusqlite::Result<()> {
    let sql = format!(
        "INSERT INTO IMGroupMessage_{} (groupId, userId, msgId, content, type, status, updated, created) \
         VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?6)",
        m.group_id % MESSAGE_SHARDS
    );
    c.prepare_cached(&sql)?.execute(params![
        m.group_id, m.from_id, m.msg_id, m.content, m.msg_type, m.created
    ])?;
    Ok(())
}

fn last_message_row(r: &Row<'_>) -> rusqlite::Result<LastMessage> {
    Ok(LastMessage {
        msg_id: u32_col(r, 0)?,
        msg_type: u32_col(r, 1)?,
        content: text_col(r, 2)?,
        from_id: u32_col(r, 3)?,
    })
}

fn last_single(
    c: &Connection,
    user_id: u32,
    peer_id: u32,
) -> rusqlite::Result<Option<LastMessage>> {
    let Some(rel) = relation(c, user_id, peer_id)? else {
        return Ok(None);
    };
    let sql = format!(
        "SELECT msgId, type, content, fromId FROM IMMessage_{} WHERE relateId = ?1 AND status = 0 \
         ORDER BY created DESC, id DESC LIMIT 1",
        rel % MESSAGE_SHARDS
    );
    c.prepare_cached(&sql)?
        .query_row(params![rel], last_message_row)
        .optional()
}

fn last_group(c: &Connection, group_id: u32) -> rusqlite::Result<Option<LastMessage>> {
    let sql = format!(
        "SELECT msgId, type, content, userId FROM IMGroupMessage_{} WHERE groupId = ?1 AND status = 0 \
         ORDER BY created DESC, id DESC LIMIT 1",
        group_id % MESSAGE_SHARDS
    );
    c.prepare_cached(&sql)?
        .query_row(params![group_id], last_message_row)
        .optional()
}

pub(super) fn last_messages(
    c: &Connection,
    user_id: u32,
    sessions: &[(u32, u32)],
) -> rusqlite::Result<Vec<Option<LastMessage>>> {
    sessions
        .iter()
        .map(|&(peer, kind)| match kind {
            SESSION_SINGLE => last_single(c, user_id, peer),
            SESSION_GROUP => last_group(c, peer),
            _ => Ok(None),
        })
        .collect()
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn recent_sessions(
        &self,
        user_id: u32,
        since: u32,
        limit: u32,
    ) -> StoreResult<Vec<SessionRecord>> {
        self.read(move |c| super::session::recent(c, user_id, since, limit))
            .await
    }

    async fn find_session(
        &self,
        user_id: u32,
        peer_id: u32,
        session_type: u32,
    ) -> StoreResult<Option<u32>> {
        self.read(move |c| super::session::find(c, user_id, peer_id, session_type))
            .await
    }

    async fn add_session(
        &self,
        user_id: u32,
        peer_id: u32,
        session_type: u32,
        now: u32,
    ) -> StoreResult<u32> {
        self.write(move |c| super::session::add(c, user_id, peer_id, session_type, now))
            .await
    }

    async fn remove_session(&self, session_id: u32, now: u32) -> StoreResult<bool> {
        self.write_on_sessions(move |c| super::session::remove(c, session_id, now))
            .await
    }

    async fn relation_id(&self, a: u32, b: u32) -> StoreResult<Option<u32>> {
        self.read(move |c| super::session::relation(c, a, b)).await
    }

    async fn create_relation(&self, a: u32, b: u32, now: u32) -> StoreResult<u32> {
        self.write(move |c| super::session::create_relation(c, a, b, now))
            .await
    }

    async fn last_messages(
        &self,
        user_id: u32,
        sessions: &[(u32, u32)],
    ) -> StoreResult<Vec<Option<LastMessage>>> {
        let sessions = sessions.to_vec();
        self.read_quick(sessions.len(), move |c| {
            super::session::last_messages(c, user_id, &sessions)
        })
        .await
    }

    async fn groups_and_last_messages(
        &self,
        user_id: u32,
        peers: &[u32],
    ) -> StoreResult<(Vec<u32>, Vec<Option<LastMessage>>)> {
        let sessions: Vec<(u32, u32)> = peers.iter().map(|p| (*p, SESSION_SINGLE)).collect();
        self.read_quick(sessions.len() + 1, move |c| {
            Ok((
                super::group::user_groups(c, user_id)?,
                super::session::last_messages(c, user_id, &sessions)?,
            ))
        })
        .await
    }
}

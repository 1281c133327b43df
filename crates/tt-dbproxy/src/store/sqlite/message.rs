//! Storing and reading messages. A message is stored in one transaction
//! with everything that goes with it (sessions, relation, id, counters),
//! so an acknowledged message is committed and ids never repeat.

use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use super::SqliteStore;
use super::session::{create_relation, insert_group, insert_single, relation};
use super::user::{last_id, text_col, u32_col};
use super::{counter, session};
use crate::store::history::{HistorySource, newest};
use crate::store::{
    AudioRow, GroupMessageRow, ID_CHUNK, MESSAGE_SHARDS, MessageRow, NewMessage, ResendKey,
    SESSION_GROUP, SESSION_SINGLE, SingleMessageRow,
};
use crate::store::{MessageStore, StoreResult};
use async_trait::async_trait;

/// Counter kind of a one-to-one conversation (keyed by relation id).
const KIND_RELATION: u32 = 1;
/// Counter kind of a group.
const KIND_GROUP: u32 = 2;

fn overflow() -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure("message id space exhausted".into())
}

/// The next id of a conversation. A missing counter (never used, or
/// wiped) is seeded from the largest stored id, so ids never repeat.
fn next_msg_id(c: &Connection, kind: u32, conv: u32) -> rusqlite::Result<u32> {
    let current: Option<i64> = c
        .prepare_cached("SELECT last FROM tt_msg_counter WHERE kind = ?1 AND conv_id = ?2")?
        .query_row(params![kind, conv], |r| r.get(0))
        .optional()?;
    let base = match current {
        Some(v) => v,
        None => {
            let sql = if kind == KIND_RELATION {
                format!(
                    "SELECT COALESCE(MAX(msgId), 0) FROM IMMessage_{} WHERE relateId = ?1",
                    conv % MESSAGE_SHARDS
                )
            } else {
                format!(
                    "SELECT COALESCE(MAX(msgId), 0) FROM IMGroupMessage_{} WHERE groupId = ?1",
                    conv % MESSAGE_SHARDS
                )
            };
            c.prepare_cached(&sql)?
                .query_row(params![conv], |r| r.get(0))?
        }
    };
    let next = u32::try_from(base + 1).map_err(|_| overflow())?;
    c.prepare_cached(
        "INSERT INTO tt_msg_counter (kind, conv_id, last) VALUES (?1, ?2, ?3) \
         ON CONFLICT (kind, conv_id) DO UPDATE SET last = excluded.last",
    )?
    .execute(params![kind, conv, next])?;
    Ok(next)
}

/// Expired recent-send rows are deleted by one send in
/// [`EXPIRE_EVERY`] (by message id), at most [`EXPIRE_MOST`] at a time:
/// the table shrinks faster than it grows, no send pays for a backlog, and
/// the others skip the statement (it costs about a fifth of a send).
const EXPIRE_EVERY: u32 = 16;
/// See [`EXPIRE_EVERY`].
const EXPIRE_MOST: u32 = 64;

/// The id of the message `m` resends, if one was stored within its window.
fn resent_id(
    c: &Connection,
    m: &NewMessage,
    k: &ResendKey,
    now: u32,
) -> rusqlite::Result<Option<u32>> {
    c.prepare_cached(
        "SELECT msg_id FROM tt_recent_send WHERE from_id = ?1 AND to_id = ?2 AND grp = ?3 \
         AND client_msg_id = ?4 AND hash = ?5 AND at >= ?6",
    )?
    .query_row(
        params![
            m.from_id,
            m.to_id,
            m.group,
            k.client_msg_id,
            k.data_hash as i64,
            i64::from(now) - i64::from(k.window_s)
        ],
        |r| u32_col(r, 0),
    )
    .optional()
}

/// Remembers a stored send (for its resends) and forgets a few expired.
fn remember(
    c: &Connection,
    m: &NewMessage,
    k: &ResendKey,
    id: u32,
    now: u32,
) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT OR REPLACE INTO tt_recent_send \
         (from_id, to_id, grp, client_msg_id, hash, msg_id, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        m.from_id,
        m.to_id,
        m.group,
        k.client_msg_id,
        k.data_hash as i64,
        id,
        now
    ])?;
    if !id.is_multiple_of(EXPIRE_EVERY) {
        return Ok(());
    }
    c.prepare_cached(
        "DELETE FROM tt_recent_send WHERE (from_id, to_id, grp, client_msg_id, hash) IN \
         (SELECT from_id, to_id, grp, client_msg_id, hash FROM tt_recent_send WHERE at < ?1 LIMIT ?2)",
    )?
    .execute(params![
        i64::from(now) - i64::from(k.window_s),
        EXPIRE_MOST
    ])?;
    Ok(())
}

pub(super) fn store(c: &Connection, m: &NewMessage, now: u32) -> rusqlite::Result<u32> {
    if let Some(k) = &m.resend
        && let Some(id) = resent_id(c, m, k, now)?
    {
        metrics::counter!(crate::metrics::RESENDS, "backend" => "sqlite").increment(1);
        return Ok(id);
    }
    let id = if m.group {
        session::add(c, m.from_id, m.to_id, SESSION_GROUP, now)?;
        let id = next_msg_id(c, KIND_GROUP, m.to_id)?;
        let row = GroupMessageRow {
            group_id: m.to_id,
            from_id: m.from_id,
            msg_id: id,
            msg_type: m.msg_type,
            content: m.content.clone(),
            created: m.created,
        };
        insert_group(c, &row)?;
        c.prepare_cached("UPDATE IMGroup SET lastChated = ?1 WHERE id = ?2")?
            .execute(params![now, m.to_id])?;
        counter::incr_group_total(c, m.to_id)?;
        counter::mark_group_read(c, m.from_id, m.to_id)?;
        id
    } else {
        session::add(c, m.from_id, m.to_id, SESSION_SINGLE, now)?;
        session::add(c, m.to_id, m.from_id, SESSION_SINGLE, now)?;
        let rel = create_relation(c, m.from_id, m.to_id, now)?;
        let id = next_msg_id(c, KIND_RELATION, rel)?;
        let row = SingleMessageRow {
            relation_id: rel,
            from_id: m.from_id,
            to_id: m.to_id,
            msg_id: id,
            msg_type: m.msg_type,
            content: m.content.clone(),
            created: m.created,
        };
        insert_single(c, &row)?;
        counter::add_unread(c, m.to_id, m.from_id, 1)?;
        id
    };
    if let Some(k) = &m.resend {
        remember(c, m, k, id, now)?;
    }
    Ok(id)
}

fn message_row(r: &Row<'_>) -> rusqlite::Result<(MessageRow, u32)> {
    Ok((
        MessageRow {
            msg_id: u32_col(r, 0)?,
            from_id: u32_col(r, 1)?,
            created: u32_col(r, 2)?,
            msg_type: u32_col(r, 3)?,
            content: text_col(r, 4)?,
        },
        u32_col(r, 5)?,
    ))
}

fn single_source(c: &Connection, a: u32, b: u32) -> rusqlite::Result<Option<HistorySource>> {
    Ok(relation(c, a, b)?.map(HistorySource::single))
}

fn page(
    c: &Connection,
    s: &HistorySource,
    begin: u32,
    count: u32,
) -> rusqlite::Result<Vec<MessageRow>> {
    let mut stmt = c.prepare_cached(&s.select(HistorySource::page_condition(begin)))?;
    let rows = if begin == 0 {
        stmt.query_map(params![s.key, s.joined, count], message_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?
    } else {
        stmt.query_map(params![s.key, s.joined, begin, count], message_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?
    };
    Ok(rows.into_iter().map(|(m, _)| m).collect())
}

fn by_ids(
    c: &Connection,
    s: &HistorySource,
    ids: &[u32],
    limit: u32,
) -> rusqlite::Result<Vec<MessageRow>> {
    let mut all = Vec::new();
    for chunk in ids.chunks(ID_CHUNK) {
        let mut values: Vec<u32> = vec![s.key, s.joined];
        values.extend_from_slice(chunk);
        values.push(limit);
        let mut stmt = c.prepare(&s.select(&HistorySource::ids_condition(chunk.len())))?;
        all.extend(
            stmt.query_map(params_from_iter(values), message_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?,
        );
    }
    Ok(newest(all, limit))
}

pub(super) fn single_history(
    c: &Connection,
    a: u32,
    b: u32,
    begin: u32,
    count: u32,
) -> rusqlite::Result<Vec<MessageRow>> {
    match single_source(c, a, b)? {
        Some(s) => page(c, &s, begin, count),
        None => Ok(Vec::new()),
    }
}

pub(super) fn group_history(
    c: &Connection,
    g: u32,
    joined: u32,
    begin: u32,
    count: u32,
) -> rusqlite::Result<Vec<MessageRow>> {
    page(c, &HistorySource::group(g, joined), begin, count)
}

pub(super) fn single_by_ids(
    c: &Connection,
    a: u32,
    b: u32,
    ids: &[u32],
    limit: u32,
) -> rusqlite::Result<Vec<MessageRow>> {
    match single_source(c, a, b)? {
        Some(s) => by_ids(c, &s, ids, limit),
        None => Ok(Vec::new()),
    }
}

pub(super) fn group_by_ids(
    c: &Connection,
    g: u32,
    joined: u32,
    ids: &[u32],
    limit: u32,
) -> rusqlite::Result<Vec<MessageRow>> {
    by_ids(c, &HistorySource::group(g, joined), ids, limit)
}

pub(super) fn add_audio(c: &Connection, a: &AudioRow) -> rusqlite::Result<u32> {
    c.prepare_cached("INSERT INTO IMAudio (fromId, toId, path, size, duration, created) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")?
        .execute(params![a.from_id, a.to_id, a.path, a.size, a.duration, a.created])?;
    last_id(c)
}

pub(super) fn audio(c: &Connection, id: u32) -> rusqlite::Result<Option<AudioRow>> {
    c.prepare_cached(
        "SELECT id, fromId, toId, path, size, duration, created FROM IMAudio WHERE id = ?1",
    )?
    .query_row(params![id], |r| {
        Ok(AudioRow {
            id: u32_col(r, 0)?,
            from_id: u32_col(r, 1)?,
            to_id: u32_col(r, 2)?,
            path: text_col(r, 3)?,
            size: u32_col(r, 4)?,
            duration: u32_col(r, 5)?,
            created: u32_col(r, 6)?,
        })
    })
    .optional()
}

#[async_trait]
impl MessageStore for SqliteStore {
    async fn insert_single_message(&self, row: SingleMessageRow) -> StoreResult<()> {
        self.write(move |c| super::session::insert_single(c, &row))
            .await
    }

    async fn insert_group_message(&self, row: GroupMessageRow) -> StoreResult<()> {
        self.write(move |c| super::session::insert_group(c, &row))
            .await
    }

    async fn store_message(&self, msg: NewMessage, now: u32) -> StoreResult<u32> {
        self.write(move |c| super::message::store(c, &msg, now))
            .await
    }

    async fn single_history(
        &self,
        user_id: u32,
        peer_id: u32,
        begin: u32,
        count: u32,
    ) -> StoreResult<Vec<MessageRow>> {
        self.read(move |c| super::message::single_history(c, user_id, peer_id, begin, count))
            .await
    }

    async fn group_history(
        &self,
        group_id: u32,
        joined: u32,
        begin: u32,
        count: u32,
    ) -> StoreResult<Vec<MessageRow>> {
        self.read(move |c| super::message::group_history(c, group_id, joined, begin, count))
            .await
    }

    async fn single_messages_by_id(
        &self,
        user_id: u32,
        peer_id: u32,
        ids: &[u32],
        limit: u32,
    ) -> StoreResult<Vec<MessageRow>> {
        let ids = ids.to_vec();
        self.read(move |c| super::message::single_by_ids(c, user_id, peer_id, &ids, limit))
            .await
    }

    async fn group_messages_by_id(
        &self,
        group_id: u32,
        joined: u32,
        ids: &[u32],
        limit: u32,
    ) -> StoreResult<Vec<MessageRow>> {
        let ids = ids.to_vec();
        self.read(move |c| super::message::group_by_ids(c, group_id, joined, &ids, limit))
            .await
    }

    async fn add_audio(&self, audio: AudioRow) -> StoreResult<u32> {
        self.write(move |c| super::message::add_audio(c, &audio))
            .await
    }

    async fn audio(&self, id: u32) -> StoreResult<Option<AudioRow>> {
        self.read(move |c| super::message::audio(c, id)).await
    }
}

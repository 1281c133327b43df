//! Reading messages, raw message rows and audio. A send is stored by
//! `send.rs`, in one transaction with everything that goes with it
//! (sessions, relation, id, counters), so an acknowledged message is
//! committed and ids never repeat.

use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use super::SqliteStore;
use super::session::relation;
use super::user::{last_id, text_col, u32_col};
use crate::store::history::{HistorySource, newest};
use crate::store::{AudioRow, GroupMessageRow, ID_CHUNK, MessageRow, NewMessage, SingleMessageRow};
use crate::store::{MessageStore, StoreResult};
use async_trait::async_trait;

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
        self.write_send(move |c, state| super::send::store(c, state, &msg, now))
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
        self.write_keeping(move |c| super::message::add_audio(c, &audio))
            .await
    }

    async fn audio(&self, id: u32) -> StoreResult<Option<AudioRow>> {
        self.read(move |c| super::message::audio(c, id)).await
    }
}

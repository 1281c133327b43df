//! Message statements of [`MysqlStore`]: history pages, lookups by id,
//! audio rows and the largest stored id (to seed a lost counter).

use mysql_async::{Conn, Value};

use super::handle::MysqlStore;
use super::query::{first, first_int, insert, int, params, rows, text};
use crate::store::history::{HistorySource, newest};
use crate::store::{AudioRow, ID_CHUNK, MESSAGE_SHARDS, MessageRow, StoreResult};

async fn fetch(
    c: &mut Conn,
    s: &HistorySource,
    extra: &str,
    values: Vec<Value>,
    limit: u32,
) -> StoreResult<Vec<(MessageRow, u32)>> {
    let mut all: Vec<Value> = vec![s.key.into(), s.joined.into()];
    all.extend(values);
    all.push(limit.into());
    rows(c, &s.select(extra), params(all))
        .await?
        .into_iter()
        .map(|mut r| {
            Ok((
                MessageRow {
                    msg_id: int(&mut r, 0)?,
                    from_id: int(&mut r, 1)?,
                    created: int(&mut r, 2)?,
                    msg_type: int(&mut r, 3)?,
                    content: text(&mut r, 4)?,
                },
                int(&mut r, 5)?,
            ))
        })
        .collect()
}

async fn page(
    c: &mut Conn,
    s: &HistorySource,
    begin: u32,
    count: u32,
) -> StoreResult<Vec<MessageRow>> {
    let extra = if begin == 0 {
        vec![]
    } else {
        vec![begin.into()]
    };
    let found = fetch(c, s, HistorySource::page_condition(begin), extra, count).await?;
    Ok(found.into_iter().map(|(m, _)| m).collect())
}

async fn by_ids(
    c: &mut Conn,
    s: &HistorySource,
    ids: &[u32],
    limit: u32,
) -> StoreResult<Vec<MessageRow>> {
    let mut all = Vec::new();
    for chunk in ids.chunks(ID_CHUNK) {
        let values = chunk.iter().map(|i| Value::from(*i)).collect();
        all.extend(
            fetch(
                c,
                s,
                &HistorySource::ids_condition(chunk.len()),
                values,
                limit,
            )
            .await?,
        );
    }
    Ok(newest(all, limit))
}

impl MysqlStore {
    async fn relation_source(
        &self,
        c: &mut Conn,
        a: u32,
        b: u32,
    ) -> StoreResult<Option<HistorySource>> {
        if a == 0 || b == 0 {
            return Ok(None);
        }
        let sql = "SELECT id FROM IMRelationShip WHERE smallId = ? AND bigId = ? AND status = 0 ORDER BY id DESC LIMIT 1";
        Ok(
            first_int(first(c, sql, params(vec![a.min(b).into(), a.max(b).into()])).await?)?
                .map(HistorySource::single),
        )
    }

    pub(crate) async fn single_history(
        &self,
        a: u32,
        b: u32,
        begin: u32,
        count: u32,
    ) -> StoreResult<Vec<MessageRow>> {
        let mut c = self.pools.replica().await?;
        match self.relation_source(&mut c, a, b).await? {
            Some(s) => page(&mut c, &s, begin, count).await,
            None => Ok(Vec::new()),
        }
    }

    pub(crate) async fn group_history(
        &self,
        g: u32,
        joined: u32,
        begin: u32,
        count: u32,
    ) -> StoreResult<Vec<MessageRow>> {
        let mut c = self.pools.replica().await?;
        page(&mut c, &HistorySource::group(g, joined), begin, count).await
    }

    pub(crate) async fn single_by_ids(
        &self,
        a: u32,
        b: u32,
        ids: &[u32],
        limit: u32,
    ) -> StoreResult<Vec<MessageRow>> {
        let mut c = self.pools.replica().await?;
        match self.relation_source(&mut c, a, b).await? {
            Some(s) => by_ids(&mut c, &s, ids, limit).await,
            None => Ok(Vec::new()),
        }
    }

    pub(crate) async fn group_by_ids(
        &self,
        g: u32,
        joined: u32,
        ids: &[u32],
        limit: u32,
    ) -> StoreResult<Vec<MessageRow>> {
        let mut c = self.pools.replica().await?;
        by_ids(&mut c, &HistorySource::group(g, joined), ids, limit).await
    }

    /// The largest stored id of a conversation, read on the primary (the
    /// whole cluster's, on Galera).
    pub(crate) async fn max_msg_id(&self, group: bool, conv: u32) -> StoreResult<u32> {
        let mut c = self.pools.primary().await?;
        let (table, column) = if group {
            ("IMGroupMessage", "groupId")
        } else {
            ("IMMessage", "relateId")
        };
        // On Galera, after a causality wait: the node may not have
        // applied every other node's sends yet.
        let wait = if self.galera.galera(&mut c).await? {
            "SET STATEMENT wsrep_sync_wait = 1 FOR "
        } else {
            ""
        };
        let sql = format!(
            "{wait}SELECT COALESCE(MAX(msgId), 0) FROM {table}_{} WHERE {column} = ?",
            conv % MESSAGE_SHARDS
        );
        Ok(first_int(first(&mut c, &sql, params(vec![conv.into()])).await?)?.unwrap_or(0))
    }

    pub(crate) async fn add_audio(&self, a: AudioRow) -> StoreResult<u32> {
        let mut c = self.pools.primary().await?;
        let sql = "INSERT INTO IMAudio (fromId, toId, path, size, duration, created) VALUES (?, ?, ?, ?, ?, ?)";
        insert(
            &mut c,
            sql,
            params(vec![
                a.from_id.into(),
                a.to_id.into(),
                a.path.into(),
                a.size.into(),
                a.duration.into(),
                a.created.into(),
            ]),
        )
        .await
    }

    pub(crate) async fn audio(&self, id: u32) -> StoreResult<Option<AudioRow>> {
        let mut c = self.pools.replica().await?;
        let sql =
            "SELECT id, fromId, toId, path, size, duration, created FROM IMAudio WHERE id = ?";
        first(&mut c, sql, params(vec![id.into()]))
            .await?
            .map(|mut r| {
                Ok(AudioRow {
                    id: int(&mut r, 0)?,
                    from_id: int(&mut r, 1)?,
                    to_id: int(&mut r, 2)?,
                    path: text(&mut r, 3)?,
                    size: int(&mut r, 4)?,
                    duration: int(&mut r, 5)?,
                    created: int(&mut r, 6)?,
                })
            })
            .transpose()
    }
}

//! The MySQL side of a send, in few round trips: one statement finds the
//! sessions and relation a send needs; the writes of the send (revive and
//! touch the sessions, insert the message) are group-committed with the
//! sends that arrive with it ([`super::batch`]).

use mysql_async::Value;
use mysql_async::prelude::Queryable;

use super::error::map_err;
use super::handle::MysqlStore;
use super::query::{int, params, rows};
use super::rows::{insert_groups, insert_singles};
use crate::store::unresolved::Unresolved;
use crate::store::{
    GroupMessageRow, MESSAGE_SHARDS, SESSION_GROUP, SESSION_SINGLE, SingleMessageRow, StoreResult,
};

/// The table and key column of an unresolved message's row.
fn message_table(u: Unresolved) -> (String, &'static str) {
    if u.group {
        (
            format!("IMGroupMessage_{}", u.conversation % MESSAGE_SHARDS),
            "groupId",
        )
    } else {
        (
            format!("IMMessage_{}", u.conversation % MESSAGE_SHARDS),
            "relateId",
        )
    }
}

/// Highest session id of a user with a peer (any status).
const SESSION_ID: &str =
    "SELECT MAX(id) FROM IMRecentSession WHERE userId = ? AND peerId = ? AND type = ?";

/// A found id; `MAX` over no rows is NULL, read as 0 (never an id).
fn found(id: u32) -> Option<u32> {
    (id != 0).then_some(id)
}

impl MysqlStore {
    /// Inserts a one-to-one message row on its own (autocommit).
    pub(crate) async fn insert_single_message(&self, m: SingleMessageRow) -> StoreResult<()> {
        let mut c = self.pools.primary().await?;
        insert_singles(&mut *c, m.relation_id % MESSAGE_SHARDS, &[&m]).await
    }

    /// Inserts a group message row on its own (autocommit).
    pub(crate) async fn insert_group_message(&self, m: GroupMessageRow) -> StoreResult<()> {
        let mut c = self.pools.primary().await?;
        insert_groups(&mut *c, m.group_id % MESSAGE_SHARDS, &[&m]).await
    }

    /// For a one-to-one send, read on the primary in one statement: the
    /// sender's session with the receiver, the receiver's with the sender
    /// (highest id, any status) and the pair's active relation.
    pub(crate) async fn single_send_ids(
        &self,
        from: u32,
        to: u32,
    ) -> StoreResult<[Option<u32>; 3]> {
        let mut c = self.pools.primary().await?;
        let sql = format!(
            "SELECT 0, ({SESSION_ID}) UNION ALL SELECT 1, ({SESSION_ID}) UNION ALL \
             SELECT 2, (SELECT MAX(id) FROM IMRelationShip WHERE smallId = ? AND bigId = ? AND status = 0)"
        );
        let kind = Value::from(SESSION_SINGLE);
        let p = vec![
            from.into(),
            to.into(),
            kind.clone(),
            to.into(),
            from.into(),
            kind,
            from.min(to).into(),
            from.max(to).into(),
        ];
        let mut out = [None; 3];
        for mut r in rows(&mut c, &sql, params(p)).await? {
            let (slot, id) = (int(&mut r, 0)? as usize, int(&mut r, 1)?);
            if let Some(o) = out.get_mut(slot) {
                *o = found(id);
            }
        }
        if from == 0 || to == 0 {
            // As `relation_id`: no active relation involves user 0.
            out[2] = None;
        }
        Ok(out)
    }

    /// The sender's group session (highest id, any status), on the primary.
    pub(crate) async fn group_session_id(&self, from: u32, group: u32) -> StoreResult<Option<u32>> {
        let mut c = self.pools.primary().await?;
        let p = vec![from.into(), group.into(), SESSION_GROUP.into()];
        match rows(&mut c, SESSION_ID, params(p)).await?.pop() {
            Some(mut r) => Ok(found(int(&mut r, 0)?)),
            None => Ok(None),
        }
    }

    /// Whether an unresolved message's row is committed, by a locking
    /// read on the primary: it waits for a transaction still holding the
    /// row, so the answer is final.
    pub(crate) async fn message_committed(&self, u: Unresolved) -> StoreResult<bool> {
        let (table, key) = message_table(u);
        let mut c = self.pools.primary().await?;
        let sql = format!(
            "SELECT COUNT(*) FROM {table} WHERE {key} = ? AND msgId = ? LOCK IN SHARE MODE"
        );
        let mut found = rows(
            &mut c,
            &sql,
            params(vec![u.conversation.into(), u.msg_id.into()]),
        )
        .await?;
        match found.pop() {
            Some(mut r) => Ok(int(&mut r, 0)? > 0),
            None => Ok(false),
        }
    }

    /// Which of `ids` are committed in a conversation, by one locking read
    /// on the primary (final, as [`Self::message_committed`]).
    pub(crate) async fn committed_ids(
        &self,
        group: bool,
        conversation: u32,
        ids: &[u32],
    ) -> StoreResult<Vec<u32>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let (table, key) = message_table(Unresolved {
            group,
            conversation,
            msg_id: 0,
        });
        let mut c = self.pools.primary().await?;
        let sql = format!(
            "SELECT msgId FROM {table} WHERE {key} = ? AND msgId IN ({}) LOCK IN SHARE MODE",
            crate::store::placeholders(ids.len())
        );
        let mut p: Vec<Value> = vec![conversation.into()];
        p.extend(ids.iter().map(|id| Value::from(*id)));
        let mut out = Vec::new();
        for mut r in rows(&mut c, &sql, params(p)).await? {
            out.push(int(&mut r, 0)?);
        }
        Ok(out)
    }

    /// Deletes an unresolved message's row, if it was committed after all
    /// (its sender was told "not stored" and resends it).
    pub(crate) async fn delete_message(&self, u: Unresolved) -> StoreResult<()> {
        let (table, key) = message_table(u);
        let mut c = self.pools.primary().await?;
        c.exec_drop(
            format!("DELETE FROM {table} WHERE {key} = ? AND msgId = ?"),
            (u.conversation, u.msg_id),
        )
        .await
        .map_err(map_err)
    }
}

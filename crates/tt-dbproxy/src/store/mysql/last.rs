//! The last message of many conversations in one or two statements of
//! [`MysqlStore`]: one `UNION ALL` of each conversation's newest message,
//! and before it, for one-to-one peers whose relation this instance does
//! not remember from a send ([`super::send_ids`]), one for their
//! relations (instead of two statements per conversation). A remembered
//! relation is checked in the same statement (still active); where it is
//! not, or the conversation has no message, the peer is looked up again.

use std::collections::HashMap;

use mysql_async::{Conn, Value};

use super::handle::MysqlStore;
use super::query::{int, params, rows, text};
use super::send_ids::{Conversation, Ids};
use crate::store::{
    ID_CHUNK, LastMessage, MESSAGE_SHARDS, SESSION_GROUP, SESSION_SINGLE, StoreResult,
};

/// Conversations per `UNION ALL` statement.
const UNION_CHUNK: usize = 100;

/// The active relation (highest id with status 0) of `user` with each of
/// `peers`, keyed by peer.
async fn relations(c: &mut Conn, user: u32, peers: &[u32]) -> StoreResult<HashMap<u32, u32>> {
    let mut pairs: Vec<(u32, u32)> = peers
        .iter()
        .filter(|p| user != 0 && **p != 0)
        .map(|p| (user.min(*p), user.max(*p)))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    let mut found = HashMap::new();
    for chunk in pairs.chunks(ID_CHUNK) {
        let cond = vec!["(smallId = ? AND bigId = ?)"; chunk.len()].join(" OR ");
        let sql = format!(
            "SELECT smallId, bigId, MAX(id) FROM IMRelationShip \
             WHERE status = 0 AND ({cond}) GROUP BY smallId, bigId"
        );
        let values = chunk
            .iter()
            .flat_map(|(s, b)| [Value::from(*s), Value::from(*b)])
            .collect();
        for mut r in rows(c, &sql, params(values)).await? {
            let (small, big, rel) = (int(&mut r, 0)?, int(&mut r, 1)?, int(&mut r, 2)?);
            found.insert(if small == user { big } else { small }, rel);
        }
    }
    Ok(found)
}

/// The select of one conversation's newest message, tagged with its
/// position `?` in the request; its other parameter is the conversation
/// key, and for a `remembered` relation a third one, the relation again,
/// checked to be still active.
fn newest(kind: u32, key: u32, remembered: bool) -> String {
    let shard = key % MESSAGE_SHARDS;
    if kind == SESSION_GROUP {
        format!(
            "(SELECT ? AS k, msgId, type, content, userId FROM IMGroupMessage_{shard} \
             WHERE groupId = ? AND status = 0 ORDER BY created DESC, id DESC LIMIT 1)"
        )
    } else {
        let check = if remembered {
            " AND EXISTS (SELECT 1 FROM IMRelationShip WHERE id = ? AND status = 0)"
        } else {
            ""
        };
        format!(
            "(SELECT ? AS k, msgId, type, content, fromId FROM IMMessage_{shard} \
             FORCE INDEX (idx_relateId_status_created) \
             WHERE relateId = ? AND status = 0{check} ORDER BY created DESC, id DESC LIMIT 1)"
        )
    }
}

/// A conversation whose newest message is wanted: its position in the
/// request, kind, key (relation or group), and whether the relation is a
/// remembered one (checked in the statement).
type Wanted = (usize, u32, u32, bool);

/// The newest message of each of `wanted` into `out` (by position).
async fn newest_messages(
    c: &mut Conn,
    wanted: &[Wanted],
    out: &mut [Option<LastMessage>],
) -> StoreResult<()> {
    for chunk in wanted.chunks(UNION_CHUNK) {
        let sql = chunk
            .iter()
            .map(|(_, kind, key, remembered)| newest(*kind, *key, *remembered))
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 3);
        for (i, _, key, remembered) in chunk {
            values.push(Value::from(*i as u64));
            values.push(Value::from(*key));
            if *remembered {
                values.push(Value::from(*key));
            }
        }
        for mut r in rows(c, &sql, params(values)).await? {
            let i = int(&mut r, 0)? as usize;
            let last = LastMessage {
                msg_id: int(&mut r, 1)?,
                msg_type: int(&mut r, 2)?,
                content: text(&mut r, 3)?,
                from_id: int(&mut r, 4)?,
            };
            if let Some(slot) = out.get_mut(i) {
                *slot = Some(last);
            }
        }
    }
    Ok(())
}

impl MysqlStore {
    /// The relation of `user` and `peer` this instance remembers from a
    /// send between them, either way.
    fn remembered_relation(&self, user: u32, peer: u32) -> Option<u32> {
        [
            Conversation::Single(peer, user),
            Conversation::Single(user, peer),
        ]
        .into_iter()
        .find_map(|c| match self.send_ids().get(c) {
            Some(Ids::Single { relation, .. }) => Some(relation),
            _ => None,
        })
    }

    pub(crate) async fn last_messages(
        &self,
        user_id: u32,
        sessions: &[(u32, u32)],
    ) -> StoreResult<Vec<Option<LastMessage>>> {
        let mut out: Vec<Option<LastMessage>> = vec![None; sessions.len()];
        let mut c = self.pools.replica().await?;
        // Groups, and the peers whose relation is remembered, first.
        let mut wanted: Vec<Wanted> = Vec::new();
        let mut unknown: Vec<(usize, u32)> = Vec::new();
        for (i, &(peer, kind)) in sessions.iter().enumerate() {
            match kind {
                SESSION_GROUP => wanted.push((i, kind, peer, false)),
                SESSION_SINGLE if user_id != 0 && peer != 0 => {
                    match self.remembered_relation(user_id, peer) {
                        Some(rel) => wanted.push((i, kind, rel, true)),
                        None => unknown.push((i, peer)),
                    }
                }
                _ => {}
            }
        }
        newest_messages(&mut c, &wanted, &mut out).await?;
        // Remembered relations that found nothing (gone, or no message):
        // looked up as the others.
        unknown.extend(
            wanted
                .iter()
                .filter(|(i, kind, _, remembered)| {
                    *remembered && *kind == SESSION_SINGLE && out[*i].is_none()
                })
                .map(|(i, _, _, _)| (*i, sessions[*i].0)),
        );
        if unknown.is_empty() {
            return Ok(out);
        }
        let peers: Vec<u32> = unknown.iter().map(|(_, peer)| *peer).collect();
        let rels = relations(&mut c, user_id, &peers).await?;
        let wanted: Vec<Wanted> = unknown
            .iter()
            .filter_map(|(i, peer)| rels.get(peer).map(|rel| (*i, SESSION_SINGLE, *rel, false)))
            .collect();
        newest_messages(&mut c, &wanted, &mut out).await?;
        Ok(out)
    }
}

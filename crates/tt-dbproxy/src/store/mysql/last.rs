//! The last message of many conversations in two statements of
//! [`MysqlStore`]: one for the relations of the one-to-one peers, one
//! `UNION ALL` of each conversation's newest message (instead of two
//! statements per conversation).

use std::collections::HashMap;

use mysql_async::{Conn, Value};

use super::handle::MysqlStore;
use super::query::{int, params, rows, text};
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
/// position `?` in the request; its other parameter is the conversation key.
fn newest(kind: u32, key: u32) -> String {
    let shard = key % MESSAGE_SHARDS;
    if kind == SESSION_GROUP {
        format!(
            "(SELECT ? AS k, msgId, type, content, userId FROM IMGroupMessage_{shard} \
             WHERE groupId = ? AND status = 0 ORDER BY created DESC, id DESC LIMIT 1)"
        )
    } else {
        format!(
            "(SELECT ? AS k, msgId, type, content, fromId FROM IMMessage_{shard} \
             FORCE INDEX (idx_relateId_status_created) \
             WHERE relateId = ? AND status = 0 ORDER BY created DESC, id DESC LIMIT 1)"
        )
    }
}

impl MysqlStore {
    pub(crate) async fn last_messages(
        &self,
        user_id: u32,
        sessions: &[(u32, u32)],
    ) -> StoreResult<Vec<Option<LastMessage>>> {
        let mut out: Vec<Option<LastMessage>> = vec![None; sessions.len()];
        let mut c = self.pools.replica().await?;
        let peers: Vec<u32> = sessions
            .iter()
            .filter(|(_, kind)| *kind == SESSION_SINGLE)
            .map(|(peer, _)| *peer)
            .collect();
        let rels = if peers.is_empty() {
            HashMap::new()
        } else {
            relations(&mut c, user_id, &peers).await?
        };
        // (position, kind, conversation key) of each conversation with one.
        let wanted: Vec<(usize, u32, u32)> = sessions
            .iter()
            .enumerate()
            .filter_map(|(i, &(peer, kind))| match kind {
                SESSION_SINGLE => rels.get(&peer).map(|rel| (i, kind, *rel)),
                SESSION_GROUP => Some((i, kind, peer)),
                _ => None,
            })
            .collect();
        for chunk in wanted.chunks(UNION_CHUNK) {
            let sql = chunk
                .iter()
                .map(|(_, kind, key)| newest(*kind, *key))
                .collect::<Vec<_>>()
                .join(" UNION ALL ");
            let values = chunk
                .iter()
                .flat_map(|(i, _, key)| [Value::from(*i as u64), Value::from(*key)])
                .collect();
            for mut r in rows(&mut c, &sql, params(values)).await? {
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
        Ok(out)
    }
}

//! The last message of many conversations in one or two statements of
//! [`MysqlStore`]: one `UNION ALL` of each conversation's newest message,
//! and before it, for one-to-one peers whose relation this instance does
//! not remember from a send ([`super::send_ids`]), one for their
//! relations (instead of two statements per conversation). A remembered
//! relation is checked in the same statement (still active); where it is
//! not, or the conversation has no message, the peer is looked up again.
//! For the unread summary the user's groups come in the first statement
//! too ([`MysqlStore::groups_and_last_messages`]), and that statement is
//! shared with the unread summaries of other requests in flight
//! ([`super::shared_reads`]).

use std::collections::HashMap;

use mysql_async::{Conn, Value};

use super::handle::MysqlStore;
use super::query::{int, params, rows};
use super::read_rows::{
    GROUPS_TAG, RELATIONS_TAG, Wanted, active_relation, group_row, groups_branch, last_message,
    newest, newest_first, relations_branch, still_valid, union_all,
};
use super::send_ids::{Conversation, Ids};
use crate::store::{ID_CHUNK, LastMessage, SESSION_GROUP, SESSION_SINGLE, StoreResult};

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

/// The newest message of each of `wanted` into `out` (by position), and
/// with `groups_of` in the same statement that user's groups, newest
/// membership first (as `user_groups`).
async fn newest_messages(
    c: &mut Conn,
    wanted: &[Wanted],
    out: &mut [Option<LastMessage>],
    groups_of: Option<u32>,
) -> StoreResult<Vec<u32>> {
    let mut groups: Vec<(u32, u32, u32)> = Vec::new();
    let mut chunks: Vec<&[Wanted]> = wanted.chunks(UNION_CHUNK).collect();
    if chunks.is_empty() && groups_of.is_some() {
        chunks.push(&[]);
    }
    for (n, chunk) in chunks.into_iter().enumerate() {
        let mut branches = Vec::with_capacity(chunk.len() + 2);
        if n == 0
            && let Some(user) = groups_of
        {
            branches.push(groups_branch(&[user]));
        }
        // Tagged by the index in the chunk.
        for (j, &(_, kind, key, _)) in (0u32..).zip(chunk) {
            branches.push((newest(kind, key), vec![j, key]));
        }
        branches.extend(relations_branch(chunk));
        let (sql, values) = union_all(branches);
        let values = values.into_iter().map(Value::from).collect();
        let mut found = Vec::with_capacity(chunk.len());
        let mut active = Vec::new();
        for mut r in rows(c, &sql, params(values)).await? {
            match int(&mut r, 0)? {
                GROUPS_TAG => groups.push(group_row(&mut r)?.1),
                RELATIONS_TAG => active.push(active_relation(&mut r)?),
                j => {
                    if let Some(w) = chunk.get(j as usize) {
                        found.push((w, last_message(&mut r)?));
                    }
                }
            }
        }
        for (w, last) in found {
            if let Some(slot) = out.get_mut(w.0).filter(|_| still_valid(w, &active)) {
                *slot = Some(last);
            }
        }
    }
    Ok(newest_first(groups))
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
        self.last_messages_and_groups(user_id, sessions, false)
            .await
            .map(|(last, _)| last)
    }

    /// The user's groups and the last message with each of `peers`, the
    /// groups read in the statement of the remembered conversations.
    pub(crate) async fn groups_and_last_messages(
        &self,
        user_id: u32,
        peers: &[u32],
    ) -> StoreResult<(Vec<u32>, Vec<Option<LastMessage>>)> {
        let sessions: Vec<(u32, u32)> = peers.iter().map(|p| (*p, SESSION_SINGLE)).collect();
        self.last_messages_and_groups(user_id, &sessions, true)
            .await
            .map(|(last, groups)| (groups, last))
    }

    async fn last_messages_and_groups(
        &self,
        user_id: u32,
        sessions: &[(u32, u32)],
        with_groups: bool,
    ) -> StoreResult<(Vec<Option<LastMessage>>, Vec<u32>)> {
        let mut out: Vec<Option<LastMessage>> = vec![None; sessions.len()];
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
        // The unread summary's read is shared with concurrent ones when
        // it may be.
        let shared = match with_groups {
            true => self.shared.groups_and_newest(user_id, &wanted).await?,
            false => None,
        };
        let (groups, conn) = match shared {
            Some((groups, found)) => {
                for (i, last) in found {
                    if let Some(slot) = out.get_mut(i) {
                        *slot = Some(last);
                    }
                }
                (groups, None)
            }
            None => {
                let mut c = self.pools.replica().await?;
                let groups_of = with_groups.then_some(user_id);
                let groups = newest_messages(&mut c, &wanted, &mut out, groups_of).await?;
                (groups, Some(c))
            }
        };
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
            return Ok((out, groups));
        }
        let mut c = match conn {
            Some(c) => c,
            None => self.pools.replica().await?,
        };
        let peers: Vec<u32> = unknown.iter().map(|(_, peer)| *peer).collect();
        let rels = relations(&mut c, user_id, &peers).await?;
        let wanted: Vec<Wanted> = unknown
            .iter()
            .filter_map(|(i, peer)| rels.get(peer).map(|rel| (*i, SESSION_SINGLE, *rel, false)))
            .collect();
        newest_messages(&mut c, &wanted, &mut out, None).await?;
        Ok((out, groups))
    }
}

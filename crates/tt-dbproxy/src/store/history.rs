//! The history queries both SQL backends run: which shard table holds a
//! conversation, the statement text (the same on SQLite and MySQL), and
//! the merge of results fetched in chunks.

use super::{MESSAGE_SHARDS, MessageRow};

/// Where a conversation's messages live and which of them a reader sees.
pub(crate) struct HistorySource {
    table: String,
    sender: &'static str,
    key_column: &'static str,
    /// Relation or group id.
    pub(crate) key: u32,
    /// Earliest `created` visible (a group member's join time; 0 otherwise).
    pub(crate) joined: u32,
}

impl HistorySource {
    /// A one-to-one conversation (`IMMessage_<R % 8>`).
    pub(crate) fn single(relation: u32) -> Self {
        Self {
            table: format!("IMMessage_{}", relation % MESSAGE_SHARDS),
            sender: "fromId",
            key_column: "relateId",
            key: relation,
            joined: 0,
        }
    }

    /// A group conversation from `joined` on (`IMGroupMessage_<G % 8>`).
    pub(crate) fn group(group: u32, joined: u32) -> Self {
        Self {
            table: format!("IMGroupMessage_{}", group % MESSAGE_SHARDS),
            sender: "userId",
            key_column: "groupId",
            key: group,
            joined,
        }
    }

    /// `SELECT msgId, sender, created, type, content, id` newest first.
    /// Parameters: key, joined, then whatever `extra` adds, then the limit.
    pub(crate) fn select(&self, extra: &str) -> String {
        format!(
            "SELECT msgId, {}, created, type, content, id FROM {} WHERE {} = ? AND status = 0 AND created >= ? {extra} \
             ORDER BY created DESC, id DESC LIMIT ?",
            self.sender, self.table, self.key_column
        )
    }

    /// The `extra` condition for a page starting at `begin` (0 = newest).
    pub(crate) fn page_condition(begin: u32) -> &'static str {
        if begin == 0 { "" } else { "AND msgId <= ?" }
    }

    /// The `extra` condition for a chunk of `n` ids.
    pub(crate) fn ids_condition(n: usize) -> String {
        format!("AND msgId IN ({})", crate::store::placeholders(n))
    }
}

/// Rows fetched in several chunks (each with its row id), merged newest
/// first without duplicates and cut to `limit`.
pub(crate) fn newest(mut rows: Vec<(MessageRow, u32)>, limit: u32) -> Vec<MessageRow> {
    rows.sort_by(|(a, ai), (b, bi)| (b.created, bi).cmp(&(a.created, ai)));
    rows.dedup_by_key(|(_, id)| *id);
    rows.into_iter()
        .take(limit as usize)
        .map(|(m, _)| m)
        .collect()
}

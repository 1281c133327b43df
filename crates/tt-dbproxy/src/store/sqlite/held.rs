//! The statements the writer thread runs on every batch or send, each
//! prepared once for the thread's life and held, instead of taken from
//! and returned to the connection's statement cache on every run (which
//! hashes the statement's text twice and clears its bindings: about a
//! tenth of a lone send).
//!
//! They are prepared on first use, so a writer over another schema (the
//! writer's own tests) never prepares what it does not run; SQLite
//! prepares one again by itself when the schema changes.

use std::sync::LazyLock;

use rusqlite::{Connection, Statement};

use crate::store::MESSAGE_SHARDS;

/// A statement the writer holds: where, and its text.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sql {
    slot: usize,
    text: &'static str,
}

impl Sql {
    /// The statement `text` held in `slot` (one text per slot).
    pub(super) const fn new(slot: usize, text: &'static str) -> Self {
        Self { slot, text }
    }
}

/// Starts a batch's transaction.
pub(super) const BEGIN: Sql = Sql::new(0, "BEGIN IMMEDIATE");
/// Ends it.
pub(super) const COMMIT: Sql = Sql::new(1, "COMMIT");
/// Undoes it.
pub(super) const ROLLBACK: Sql = Sql::new(2, "ROLLBACK");
/// A job's savepoint.
pub(super) const SAVEPOINT: Sql = Sql::new(3, "SAVEPOINT tt_job");
/// A job's savepoint kept.
pub(super) const RELEASE: Sql = Sql::new(4, "RELEASE tt_job");
/// A job's work undone.
pub(super) const ROLLBACK_TO: Sql = Sql::new(5, "ROLLBACK TO tt_job");
/// Whether another connection committed (`send_cache.rs`).
pub(super) const DATA_VERSION: Sql = Sql::new(6, "PRAGMA data_version");
/// A message-id counter set, if its row is there.
pub(super) const COUNTER_SET: Sql = Sql::new(
    7,
    "UPDATE tt_msg_counter SET last = ?3 WHERE kind = ?1 AND conv_id = ?2",
);
/// A message-id counter set, whether or not its row is there.
pub(super) const COUNTER_PUT: Sql = Sql::new(
    8,
    "INSERT INTO tt_msg_counter (kind, conv_id, last) VALUES (?1, ?2, ?3) \
     ON CONFLICT (kind, conv_id) DO UPDATE SET last = excluded.last",
);
/// Unread messages added, if the count's row is there.
pub(super) const UNREAD_ADD: Sql = Sql::new(
    9,
    "UPDATE tt_unread SET count = count + ?3 WHERE user_id = ?1 AND peer_id = ?2",
);
/// Unread messages added, whether or not the count's row is there.
pub(super) const UNREAD_PUT: Sql = Sql::new(
    10,
    "INSERT INTO tt_unread (user_id, peer_id, count) VALUES (?1, ?2, ?3) \
     ON CONFLICT (user_id, peer_id) DO UPDATE SET count = count + excluded.count",
);
/// A group's total set.
pub(super) const TOTAL_PUT: Sql = Sql::new(
    11,
    "INSERT INTO tt_group_total (group_id, count) VALUES (?1, ?2) \
     ON CONFLICT (group_id) DO UPDATE SET count = excluded.count",
);
/// A member's read mark set.
pub(super) const MARK_PUT: Sql = Sql::new(
    12,
    "INSERT INTO tt_group_read_mark (user_id, group_id, count) VALUES (?1, ?2, ?3) \
     ON CONFLICT (user_id, group_id) DO UPDATE SET count = excluded.count",
);
/// A group's `lastChated` set.
pub(super) const CHATED_SET: Sql = Sql::new(13, "UPDATE IMGroup SET lastChated = ?1 WHERE id = ?2");
/// A send appended to the resend memory's log (`recent.rs`).
pub(super) const RECENT_LOG_PUT: Sql = Sql::new(
    14,
    "INSERT INTO tt_recent_log (seq, from_id, to_id, grp, client_msg_id, hash, msg_id, at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
);
/// An older send looked up in the resend memory (`recent.rs`).
pub(super) const RECENT_FIND: Sql = Sql::new(
    32,
    "SELECT msg_id FROM tt_recent_send WHERE from_id = ?1 AND to_id = ?2 AND grp = ?3 \
     AND client_msg_id = ?4 AND hash = ?5 AND at >= ?6",
);
/// A session revived and touched by id.
pub(super) const TOUCH: Sql = Sql::new(
    15,
    "UPDATE IMRecentSession SET status = 0, updated = ?1 WHERE id = ?2",
);
/// The first slot of the one-to-one row `INSERT`s, one per shard; the
/// group ones follow.
const SHARDS_FROM: usize = 16;
/// Shards per message table family.
const SHARDS: usize = MESSAGE_SHARDS as usize;

/// The row `INSERT` of each one-to-one shard, built once.
static SINGLE_INSERT: LazyLock<Vec<String>> = LazyLock::new(|| {
    (0..MESSAGE_SHARDS)
        .map(|n| {
            format!(
                "INSERT INTO IMMessage_{n} (relateId, fromId, toId, msgId, content, type, status, updated, created) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, ?7)"
            )
        })
        .collect()
});

/// The row `INSERT` of each group shard, built once.
static GROUP_INSERT: LazyLock<Vec<String>> = LazyLock::new(|| {
    (0..MESSAGE_SHARDS)
        .map(|n| {
            format!(
                "INSERT INTO IMGroupMessage_{n} (groupId, userId, msgId, content, type, status, updated, created) \
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?6)"
            )
        })
        .collect()
});

fn shard(all: &'static [String], first: usize, conv: u32) -> rusqlite::Result<Sql> {
    let n = usize::try_from(conv % MESSAGE_SHARDS).map_err(|_| rusqlite::Error::InvalidQuery)?;
    let text = all.get(n).ok_or(rusqlite::Error::InvalidQuery)?;
    Ok(Sql::new(first + n, text.as_str()))
}

/// The row `INSERT` of relation `relation`'s shard.
pub(super) fn single_insert(relation: u32) -> rusqlite::Result<Sql> {
    shard(&SINGLE_INSERT, SHARDS_FROM, relation)
}

/// The row `INSERT` of group `group`'s shard.
pub(super) fn group_insert(group: u32) -> rusqlite::Result<Sql> {
    shard(&GROUP_INSERT, SHARDS_FROM + SHARDS, group)
}

/// The statements held, by slot.
pub(super) struct Held<'c> {
    slots: Vec<Option<Statement<'c>>>,
}

impl<'c> Held<'c> {
    /// None prepared yet.
    pub(super) fn new() -> Self {
        Self { slots: Vec::new() }
    }

    /// The statement `sql`, prepared on `c` on first use.
    pub(super) fn get(
        &mut self,
        c: &'c Connection,
        sql: Sql,
    ) -> rusqlite::Result<&mut Statement<'c>> {
        if self.slots.len() <= sql.slot {
            self.slots.resize_with(sql.slot + 1, || None);
        }
        let slot = self
            .slots
            .get_mut(sql.slot)
            .ok_or(rusqlite::Error::InvalidQuery)?;
        if slot.is_none() {
            *slot = Some(c.prepare(sql.text)?);
        }
        slot.as_mut().ok_or(rusqlite::Error::InvalidQuery)
    }

    /// Runs `sql`, which takes no parameters and returns no row.
    pub(super) fn exec(&mut self, c: &'c Connection, sql: Sql) -> rusqlite::Result<()> {
        self.get(c, sql)?.execute([])?;
        Ok(())
    }
}

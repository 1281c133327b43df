//! What the writer thread remembers between sends, and the counters it
//! writes once per batch.
//!
//! Only the writer thread writes the file, so while the process lives its
//! memory of a conversation is authoritative:
//!
//! - **ids of a pair**: both users' session ids and the relation id, and
//!   the relation's last message id; **of a group**: its last message id
//!   and message total; **of a member**: the sender's group session id.
//!   Bounded ([`Bounded`], [`SEND_CACHE_ENTRIES`] per map by default).
//! - **pending writes** of the open batch: message-id counters, unread
//!   counts, group totals, read marks and `lastChated`, written once per
//!   batch per key by [`SendState::flush`], in the batch's transaction
//!   before its `COMMIT` (and before any other kind of write, so writes
//!   keep their order): a crash never separates a row from its counters.
//!   The same flush moves the resend memory's log once it is full.
//! - **the resend memory's newest sends** (`recent.rs`), read again from
//!   the file whenever the rest is forgotten.
//!
//! The memory never outlives what it reflects:
//!
//! - **Other connections** (another process on the same file: `copy`,
//!   `admin`, a second server, a hand-made `DELETE`): after each `BEGIN
//!   IMMEDIATE` the writer reads `PRAGMA data_version`, which changes
//!   exactly when another connection committed to the file; then all of
//!   it is forgotten ([`SendState::begin`]). The write lock is held from
//!   that `BEGIN` to the batch's end, so nobody else can commit meanwhile.
//! - **Other writes of this process** that may change what is remembered
//!   (creating sessions or relations, raw message rows, counters, `copy`
//!   into this store) make the writer forget it all after they run
//!   (`Writer::run`); writes known to leave it right keep it
//!   (`Writer::run_keeping`: read acks, session removal — a removed
//!   session is revived by the next send's own update —, users, groups…).
//! - **A row gone anyway**: a send updates its sessions by id and checks
//!   the changed-row count; a session that is not there makes it look the
//!   pair up again (`send.rs`).
//! - **A send that failed** (its savepoint rolled back, its row in the
//!   resend log with it): it is all forgotten too.
//! - **A batch rolled back**: everything is forgotten, pending writes
//!   included ([`SendState::discard`]).
//!
//! A lookup of a counter consults the pending writes first, so forgetting
//! the cache while writes are pending never brings back an older value.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::bounded::Bounded;
use super::held::{
    CHATED_SET, COUNTER_PUT, COUNTER_SET, DATA_VERSION, Held, MARK_PUT, TOTAL_PUT, UNREAD_ADD,
    UNREAD_PUT,
};
use super::recent::Recent;
use crate::store::MESSAGE_SHARDS;

/// Counter kind of a one-to-one conversation (keyed by relation id).
pub(super) const KIND_RELATION: u32 = 1;
/// Counter kind of a group.
pub(super) const KIND_GROUP: u32 = 2;

/// Entries kept per map by default (pairs, groups, members): about 3 MB
/// at most for the pairs.
pub const SEND_CACHE_ENTRIES: usize = 65_536;

/// What is remembered of a one-to-one conversation (`small` < `big`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Pair {
    /// `IMRelationShip.id`.
    pub(super) relation: u32,
    /// `IMRecentSession.id` of `small` → `big`, then of `big` → `small`.
    pub(super) sessions: [u32; 2],
    /// The relation's last message id.
    pub(super) last: u32,
    /// When this writer last revived and touched both sessions
    /// ([`SendState::stamp`]).
    pub(super) touched: u64,
}

/// What is remembered of a sender's group session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Member {
    /// `IMRecentSession.id`.
    pub(super) session: u32,
    /// When this writer last revived and touched it ([`SendState::stamp`]).
    pub(super) touched: u64,
}

/// What is remembered of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Group {
    /// The group's last message id.
    pub(super) last: u32,
    /// `tt_group_total.count`.
    pub(super) total: u32,
}

/// Writes of the open batch, one per key.
#[derive(Default)]
struct Pending {
    /// (kind, conversation) → last id.
    counters: HashMap<(u32, u32), u32>,
    /// (user, peer) → unread messages to add.
    unread: HashMap<(u32, u32), u32>,
    /// group → total.
    totals: HashMap<u32, u32>,
    /// (user, group) → read mark.
    marks: HashMap<(u32, u32), u32>,
    /// group → `lastChated`.
    chated: HashMap<u32, u32>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.counters.is_empty()
            && self.unread.is_empty()
            && self.totals.is_empty()
            && self.marks.is_empty()
            && self.chated.is_empty()
    }

    fn clear(&mut self) {
        self.counters.clear();
        self.unread.clear();
        self.totals.clear();
        self.marks.clear();
        self.chated.clear();
    }
}

/// How many entries the send cache holds, per map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SendCacheStats {
    /// One-to-one conversations.
    pub pairs: usize,
    /// Groups.
    pub groups: usize,
    /// Senders' group sessions.
    pub members: usize,
    /// Largest number of entries per map between batches.
    pub capacity: usize,
}

/// The writer thread's memory (see the module's comment), and the
/// statements it holds prepared on its connection (`'c`).
pub(super) struct SendState<'c> {
    /// The statements of every batch and send.
    pub(super) held: Held<'c>,
    pub(super) pairs: Bounded<(u32, u32), Pair>,
    pub(super) groups: Bounded<u32, Group>,
    pub(super) members: Bounded<(u32, u32), Member>,
    pending: Pending,
    /// Raised by every write that may change a session's status or time
    /// ([`Self::sessions_changed`]): a touch remembered from before it is
    /// not trusted.
    epoch: u32,
    /// `PRAGMA data_version` at the last check; `None` before the first.
    version: Option<i64>,
    /// The resend memory's newest sends (`recent.rs`).
    pub(super) recent: Recent,
    capacity: usize,
}

fn overflow() -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure("message counter out of range".into())
}

fn to_u32(v: i64) -> rusqlite::Result<u32> {
    u32::try_from(v).map_err(|_| overflow())
}

impl<'c> SendState<'c> {
    /// An empty memory of at most `capacity` entries per map.
    pub(super) fn new(capacity: usize) -> Self {
        let capacity = capacity.max(2);
        Self {
            held: Held::new(),
            pairs: Bounded::new(capacity),
            groups: Bounded::new(capacity),
            members: Bounded::new(capacity),
            pending: Pending::default(),
            epoch: 0,
            version: None,
            recent: Recent::default(),
            capacity,
        }
    }

    /// Called after each `BEGIN IMMEDIATE`: forgets everything if another
    /// connection committed to the file since the last check (or if that
    /// cannot be told).
    pub(super) fn begin(&mut self, c: &'c Connection) {
        let now = self
            .held
            .get(c, DATA_VERSION)
            .and_then(|s| s.query_row([], |r| r.get::<_, i64>(0)))
            .ok();
        if now.is_none() || now != self.version {
            self.forget();
        }
        self.version = now;
    }

    /// Whether writes are pending.
    pub(super) fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Writes the pending writes (in the open transaction).
    pub(super) fn flush(&mut self, c: &'c Connection) -> rusqlite::Result<()> {
        if self.recent.full() {
            self.recent.move_log(c)?;
        }
        let (p, held) = (&mut self.pending, &mut self.held);
        for ((kind, conv), last) in p.counters.drain() {
            if held
                .get(c, COUNTER_SET)?
                .execute(params![kind, conv, last])?
                == 0
            {
                held.get(c, COUNTER_PUT)?
                    .execute(params![kind, conv, last])?;
            }
        }
        for ((user, peer), n) in p.unread.drain() {
            if held.get(c, UNREAD_ADD)?.execute(params![user, peer, n])? == 0 {
                held.get(c, UNREAD_PUT)?.execute(params![user, peer, n])?;
            }
        }
        for (group, total) in p.totals.drain() {
            held.get(c, TOTAL_PUT)?.execute(params![group, total])?;
        }
        for ((user, group), mark) in p.marks.drain() {
            held.get(c, MARK_PUT)?.execute(params![user, group, mark])?;
        }
        for (group, at) in p.chated.drain() {
            held.get(c, CHATED_SET)?.execute(params![at, group])?;
        }
        Ok(())
    }

    /// When a session touched at `now` was touched, for [`Pair::touched`]
    /// and [`Member::touched`]: a send whose sessions carry this stamp
    /// finds them revived and touched at `now` already (by this writer, in
    /// this second, and nothing changed them since), so it skips the
    /// `UPDATE`. Never 0, which stands for "not known".
    pub(super) fn stamp(&self, now: u32) -> u64 {
        (u64::from(self.epoch) << 32 | u64::from(now)).max(1)
    }

    /// A write may have changed a session's status or time (a removal,
    /// the sync center's touch): touches remembered before do not count.
    pub(super) fn sessions_changed(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
    }

    /// Forgets the remembered ids and counters, and the copy of the
    /// resend memory's log (read again before its next use: a failed send
    /// rolled back its row there). Pending writes stay: a counter lookup
    /// sees them first.
    pub(super) fn forget(&mut self) {
        self.sessions_changed();
        self.pairs.clear();
        self.groups.clear();
        self.members.clear();
        self.recent.unload();
    }

    /// Forgets everything, pending writes included: the transaction they
    /// belonged to was rolled back.
    pub(super) fn discard(&mut self) {
        self.forget();
        self.pending.clear();
    }

    /// After a commit: ages the maps down to their bound.
    pub(super) fn settle(&mut self) {
        self.pairs.settle();
        self.groups.settle();
        self.members.settle();
    }

    /// How many entries are kept.
    pub(super) fn stats(&self) -> SendCacheStats {
        SendCacheStats {
            pairs: self.pairs.len(),
            groups: self.groups.len(),
            members: self.members.len(),
            capacity: self.capacity,
        }
    }

    /// The last id of a conversation: pending, or stored. A missing
    /// counter (never used, or wiped) is seeded from the largest stored
    /// id, so ids never repeat.
    pub(super) fn counter(&self, c: &Connection, kind: u32, conv: u32) -> rusqlite::Result<u32> {
        if let Some(last) = self.pending.counters.get(&(kind, conv)) {
            return Ok(*last);
        }
        let stored: Option<i64> = c
            .prepare_cached("SELECT last FROM tt_msg_counter WHERE kind = ?1 AND conv_id = ?2")?
            .query_row(params![kind, conv], |r| r.get(0))
            .optional()?;
        if let Some(v) = stored {
            return to_u32(v);
        }
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
        let max: i64 = c
            .prepare_cached(&sql)?
            .query_row(params![conv], |r| r.get(0))?;
        to_u32(max)
    }

    /// What is known of group `g`: remembered, pending or stored.
    pub(super) fn group(&mut self, c: &Connection, g: u32) -> rusqlite::Result<Group> {
        if let Some(known) = self.groups.get_mut(&g) {
            return Ok(*known);
        }
        let last = self.counter(c, KIND_GROUP, g)?;
        let total = match self.pending.totals.get(&g) {
            Some(t) => *t,
            None => {
                let stored: Option<i64> = c
                    .prepare_cached("SELECT count FROM tt_group_total WHERE group_id = ?1")?
                    .query_row(params![g], |r| r.get(0))
                    .optional()?;
                to_u32(stored.unwrap_or(0))?
            }
        };
        Ok(Group { last, total })
    }

    /// Records a stored one-to-one message: `pair` (with the message's id
    /// as `last`) is remembered, its counter and `to`'s unread count from
    /// `from` pending. Infallible, so a send changes memory only once all
    /// its statements succeeded.
    pub(super) fn stored_single(&mut self, key: (u32, u32), pair: Pair, to: u32, from: u32) {
        self.pairs.insert(key, pair);
        self.pending
            .counters
            .insert((KIND_RELATION, pair.relation), pair.last);
        let n = self.pending.unread.entry((to, from)).or_insert(0);
        *n = n.saturating_add(1);
    }

    /// Records a stored group message (see [`Self::stored_single`]):
    /// `group` holds the message's id and the new total; the sender's
    /// read mark becomes that total.
    pub(super) fn stored_group(&mut self, g: u32, group: Group, from: u32, session: u32, now: u32) {
        self.groups.insert(g, group);
        let touched = self.stamp(now);
        self.members.insert((from, g), Member { session, touched });
        self.pending.counters.insert((KIND_GROUP, g), group.last);
        self.pending.totals.insert(g, group.total);
        self.pending.marks.insert((from, g), group.total);
        self.pending.chated.insert(g, now);
    }
}

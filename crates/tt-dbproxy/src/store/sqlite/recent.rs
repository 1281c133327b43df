//! The resend memory of the writer thread (`storage.resend_window_s`):
//! which message a send with a given client `msg_id` and data was stored
//! as, so a resend gets that id instead of a second row.
//!
//! Two tables hold it, both written in the batch's transaction (a crash
//! never separates a message from its memory):
//!
//! - `tt_recent_log`, the newest sends in the order they were stored. A
//!   batch's rows are appended side by side, so they dirty one or two
//!   pages, where a table ordered by sender dirtied one per sender. The
//!   writer also holds these rows in a map ([`Recent`]), loaded from the
//!   table when it starts, after another connection committed, and after
//!   a rollback. Bounded: once it holds [`LOG_MOST`] rows they move, in
//!   one sorted statement, to
//! - `tt_recent_send`, keyed by the send, where older sends are looked up
//!   and expired rows deleted as sends go by (`send.rs`).

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};

use super::held::{Held, RECENT_FIND, RECENT_LOG_PUT};
use crate::store::{NewMessage, ResendKey};

/// Rows of `tt_recent_log` that make the next batch move them all to
/// `tt_recent_send` (and the most the writer's map holds, plus a batch).
pub(super) const LOG_MOST: usize = 4096;

/// What identifies a send: sender, conversation, group or not, client
/// `msg_id`, data hash.
type SendKey = (u32, u32, bool, u32, u64);

/// The writer's copy of `tt_recent_log`: send → (message id, stored at).
#[derive(Default)]
pub(super) struct Recent {
    map: HashMap<SendKey, (u32, u32)>,
    /// Rows in `tt_recent_log` (duplicates of a key included).
    rows: usize,
    /// Whether `map` and `rows` reflect the table.
    loaded: bool,
    /// Rows appended by this writer (wrapping): the low bits of `seq`.
    appended: u32,
}

/// Low bits of `seq` that count rows within a second.
const SEQ_BITS: u32 = 20;

fn key(m: &NewMessage, k: &ResendKey) -> SendKey {
    (m.from_id, m.to_id, m.group, k.client_msg_id, k.data_hash)
}

/// The oldest `at` still within `k`'s window at `now`.
pub(super) fn cutoff(k: &ResendKey, now: u32) -> i64 {
    i64::from(now) - i64::from(k.window_s)
}

impl Recent {
    /// Forgets the copy: it is read again from the table before its next
    /// use (another connection committed, or the batch rolled back).
    pub(super) fn unload(&mut self) {
        self.map.clear();
        self.rows = 0;
        self.loaded = false;
    }

    fn load(&mut self, c: &Connection) -> rusqlite::Result<()> {
        if self.loaded {
            return Ok(());
        }
        self.map.clear();
        self.rows = 0;
        let mut stmt = c.prepare_cached(
            "SELECT from_id, to_id, grp, client_msg_id, hash, msg_id, at FROM tt_recent_log ORDER BY seq",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let key = (
                r.get::<_, u32>(0)?,
                r.get::<_, u32>(1)?,
                r.get::<_, bool>(2)?,
                r.get::<_, u32>(3)?,
                r.get::<_, i64>(4)? as u64,
            );
            self.map
                .insert(key, (r.get::<_, u32>(5)?, r.get::<_, u32>(6)?));
            self.rows += 1;
        }
        self.loaded = true;
        Ok(())
    }

    /// The `seq` of a row stored at `now`: the time in its high bits and
    /// this writer's count of rows in its low [`SEQ_BITS`], so rows stored
    /// later sort later (the clock never going back) and a batch's rows are
    /// neighbours.
    pub(super) fn next_seq(&mut self, now: u32) -> i64 {
        self.appended = self.appended.wrapping_add(1);
        i64::from(now) << SEQ_BITS | i64::from(self.appended & ((1 << SEQ_BITS) - 1))
    }

    /// The id of the message `m` resends, if one was stored within its
    /// window: the newest sends first, then the older ones.
    pub(super) fn find<'c>(
        &mut self,
        c: &'c Connection,
        held: &mut Held<'c>,
        m: &NewMessage,
        k: &ResendKey,
        now: u32,
    ) -> rusqlite::Result<Option<u32>> {
        self.load(c)?;
        let limit = cutoff(k, now);
        if let Some((id, at)) = self.map.get(&key(m, k)) {
            // The newest memory of this send decides: an expired one
            // means any older one expired too.
            return Ok((i64::from(*at) >= limit).then_some(*id));
        }
        held.get(c, RECENT_FIND)?
            .query_row(
                params![
                    m.from_id,
                    m.to_id,
                    m.group,
                    k.client_msg_id,
                    k.data_hash as i64,
                    limit
                ],
                |r| r.get::<_, u32>(0),
            )
            .optional()
    }

    /// Remembers `m` as stored under `id` at `now`.
    pub(super) fn remember<'c>(
        &mut self,
        c: &'c Connection,
        held: &mut Held<'c>,
        m: &NewMessage,
        k: &ResendKey,
        id: u32,
        now: u32,
    ) -> rusqlite::Result<()> {
        self.load(c)?;
        let seq = self.next_seq(now);
        held.get(c, RECENT_LOG_PUT)?.execute(params![
            seq,
            m.from_id,
            m.to_id,
            m.group,
            k.client_msg_id,
            k.data_hash as i64,
            id,
            now
        ])?;
        self.map.insert(key(m, k), (id, now));
        self.rows += 1;
        Ok(())
    }

    /// Whether the log is due to move ([`Self::move_log`]).
    pub(super) fn full(&self) -> bool {
        self.loaded && self.rows >= LOG_MOST
    }

    /// Moves every row of the log to `tt_recent_send` (a later row of a
    /// send replacing an earlier one), in the open transaction.
    pub(super) fn move_log(&mut self, c: &Connection) -> rusqlite::Result<()> {
        c.prepare_cached(
            "INSERT OR REPLACE INTO tt_recent_send \
             (from_id, to_id, grp, client_msg_id, hash, msg_id, at, seq) \
             SELECT from_id, to_id, grp, client_msg_id, hash, msg_id, at, seq FROM tt_recent_log \
             ORDER BY from_id, to_id, grp, client_msg_id, hash, seq",
        )?
        .execute([])?;
        c.prepare_cached("DELETE FROM tt_recent_log")?.execute([])?;
        self.map.clear();
        self.rows = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(from: u32, client_msg_id: u32) -> (NewMessage, ResendKey) {
        let m = NewMessage {
            from_id: from,
            to_id: 2,
            group: false,
            msg_type: 1,
            content: "hi".into(),
            created: 1000,
            resend: None,
        };
        let k = ResendKey {
            client_msg_id,
            data_hash: u64::MAX - 1,
            window_s: 120,
        };
        (m, k)
    }

    fn count(c: &Connection, table: &str) -> i64 {
        c.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn sends_are_found_in_the_log_after_a_reload_and_after_the_move() {
        let c = super::super::schema::migrated_in_memory();
        let mut held = Held::new();
        let mut r = Recent::default();
        let (a, ka) = send(1, 7);
        let (b, kb) = send(3, 7);
        r.remember(&c, &mut held, &a, &ka, 10, 1000).unwrap();
        r.remember(&c, &mut held, &b, &kb, 11, 1000).unwrap();
        // The same send stored again after its window: the later id wins.
        r.remember(&c, &mut held, &b, &kb, 12, 1200).unwrap();
        let (other, ko) = send(1, 8);
        let mut found = |r: &mut Recent, m: &NewMessage, k: &ResendKey, now: u32| {
            r.find(&c, &mut held, m, k, now).unwrap()
        };
        assert_eq!(found(&mut r, &a, &ka, 1100), Some(10));
        assert_eq!(found(&mut r, &b, &kb, 1200), Some(12));
        assert_eq!(found(&mut r, &other, &ko, 1100), None);
        assert_eq!(found(&mut r, &a, &ka, 1121), None, "past the window");
        r.unload();
        assert_eq!(found(&mut r, &a, &ka, 1100), Some(10), "read again");
        assert_eq!(found(&mut r, &b, &kb, 1200), Some(12));
        assert_eq!(r.rows, 3);
        r.move_log(&c).unwrap();
        assert_eq!(count(&c, "tt_recent_log"), 0);
        assert_eq!(count(&c, "tt_recent_send"), 2);
        assert_eq!(found(&mut r, &a, &ka, 1100), Some(10), "found in the table");
        assert_eq!(found(&mut r, &b, &kb, 1200), Some(12));
        assert_eq!(found(&mut r, &a, &ka, 1121), None, "past the window");
        assert_eq!(found(&mut r, &other, &ko, 1100), None);
    }

    #[test]
    fn the_log_is_due_to_move_at_its_bound() {
        let c = super::super::schema::migrated_in_memory();
        let mut held = Held::new();
        let mut r = Recent::default();
        for i in 0..LOG_MOST as u32 {
            assert!(!r.full(), "{i}");
            let (m, k) = send(1, i + 1);
            r.remember(&c, &mut held, &m, &k, i + 1, 1000).unwrap();
        }
        assert!(r.full());
        r.unload();
        assert!(!r.full(), "not known until read again");
        let (m, k) = send(1, 1);
        assert_eq!(r.find(&c, &mut held, &m, &k, 1000).unwrap(), Some(1));
        assert!(r.full(), "read again");
        r.move_log(&c).unwrap();
        assert!(!r.full());
        assert_eq!(count(&c, "tt_recent_send"), LOG_MOST as i64);
    }

    #[test]
    fn a_later_row_sorts_later() {
        let mut r = Recent::default();
        let a = r.next_seq(1000);
        let b = r.next_seq(1000);
        let c = r.next_seq(1001);
        assert!(a < b && b < c, "{a} {b} {c}");
        assert_eq!(a >> SEQ_BITS, 1000);
        assert_eq!(c >> SEQ_BITS, 1001);
    }
}

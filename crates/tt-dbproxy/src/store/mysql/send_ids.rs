//! The ids a send needs, remembered: a pair's two session ids and its
//! relation id, a group sender's session id. They are stable once created
//! (a removed session is revived by the send's own update, relations are
//! never removed by TeamTalk), so a send whose ids are remembered skips the
//! lookup statement. Rows deleted behind tt-dbproxy's back (by hand, by
//! `copy --overwrite`, by another tool) are caught by the group commit,
//! which checks the remembered ids of its batch in one statement
//! ([`super::batch`]): such a send is answered "stale", forgotten here and
//! run again from a fresh lookup. Several instances each remember the same
//! ids, as creation is serialised across them (named locks, or certified
//! creation on Galera).
//!
//! Bounded (`storage.send_cache_entries`): two generations of at most
//! half the capacity each; an entry used while in the older one moves to
//! the newer, and when the newer one fills, the older one is dropped.
//! Memory is at most `capacity` entries (about 40 bytes each).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// Whose ids: a one-to-one pair (sender, receiver) or a group sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Conversation {
    /// A one-to-one send from `.0` to `.1`.
    Single(u32, u32),
    /// A group send from `.0` into group `.1`.
    Group(u32, u32),
}

/// The ids of a conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ids {
    /// Sender's and receiver's sessions and the pair's relation.
    Single {
        /// Sender's session, receiver's session.
        sessions: [u32; 2],
        /// The relation.
        relation: u32,
    },
    /// The sender's group session.
    Group {
        /// The session.
        session: u32,
    },
}

#[derive(Default)]
struct Generations {
    newer: HashMap<Conversation, Ids>,
    older: HashMap<Conversation, Ids>,
}

/// The bounded memory of send ids.
pub(crate) struct SendIds {
    generations: Mutex<Generations>,
    half: usize,
}

impl SendIds {
    /// At most `capacity` conversations (at least 2).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            generations: Mutex::new(Generations::default()),
            half: (capacity / 2).max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Generations> {
        // Nothing panics while holding it; a poisoned map is still valid.
        self.generations.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The remembered ids of `c`, if any.
    pub(crate) fn get(&self, c: Conversation) -> Option<Ids> {
        let mut g = self.lock();
        if let Some(ids) = g.newer.get(&c) {
            return Some(*ids);
        }
        let ids = g.older.remove(&c)?;
        Self::put(&mut g, self.half, c, ids);
        Some(ids)
    }

    /// Remembers the ids of `c`.
    pub(crate) fn remember(&self, c: Conversation, ids: Ids) {
        let mut g = self.lock();
        Self::put(&mut g, self.half, c, ids);
    }

    fn put(g: &mut Generations, half: usize, c: Conversation, ids: Ids) {
        if g.newer.len() >= half && !g.newer.contains_key(&c) {
            g.older = std::mem::take(&mut g.newer);
        }
        g.older.remove(&c);
        g.newer.insert(c, ids);
    }

    /// Forgets `c` (its ids were found stale).
    pub(crate) fn forget(&self, c: Conversation) {
        let mut g = self.lock();
        g.newer.remove(&c);
        g.older.remove(&c);
    }

    /// How many conversations are remembered.
    pub(crate) fn len(&self) -> usize {
        let g = self.lock();
        g.newer.len() + g.older.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn single(n: u32) -> (Conversation, Ids) {
        (
            Conversation::Single(n, n + 1),
            Ids::Single {
                sessions: [n, n + 1],
                relation: n,
            },
        )
    }

    #[test]
    fn remembers_and_forgets() {
        let ids = SendIds::new(10);
        let (c, i) = single(1);
        assert_eq!(ids.get(c), None);
        ids.remember(c, i);
        assert_eq!(ids.get(c), Some(i));
        assert_eq!(
            ids.get(Conversation::Single(2, 1)),
            None,
            "direction counts"
        );
        ids.forget(c);
        assert_eq!(ids.get(c), None);
        let g = Conversation::Group(1, 2);
        ids.remember(g, Ids::Group { session: 7 });
        assert_eq!(ids.get(g), Some(Ids::Group { session: 7 }));
    }

    #[test]
    fn never_holds_more_than_its_capacity() {
        let ids = SendIds::new(100);
        for n in 0..10_000 {
            let (c, i) = single(n * 2);
            ids.remember(c, i);
            assert!(ids.len() <= 100, "{} entries after {n}", ids.len());
        }
        // The most recent ones are kept.
        let (c, i) = single(9_999 * 2);
        assert_eq!(ids.get(c), Some(i));
        assert_eq!(ids.get(single(0).0), None);
    }

    #[test]
    fn an_entry_in_use_survives_a_generation() {
        let ids = SendIds::new(4);
        let (hot, hot_ids) = single(0);
        ids.remember(hot, hot_ids);
        for n in 1..50 {
            let (c, i) = single(n * 2);
            ids.remember(c, i);
            assert_eq!(ids.get(hot), Some(hot_ids), "used between every insert");
        }
    }

    #[test]
    fn remembering_again_replaces() {
        let ids = SendIds::new(4);
        let c = Conversation::Group(1, 2);
        ids.remember(c, Ids::Group { session: 1 });
        ids.remember(c, Ids::Group { session: 2 });
        assert_eq!(ids.get(c), Some(Ids::Group { session: 2 }));
        assert_eq!(ids.len(), 1);
    }
}

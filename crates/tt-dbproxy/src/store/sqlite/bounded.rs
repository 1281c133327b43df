//! A map of bounded size that keeps what was used recently: two
//! generations, the young one taking every insert and every hit of the
//! old one; when the young one is full it becomes the old one and the old
//! one is dropped. O(1) per operation, no per-entry bookkeeping, about
//! least-recently-used eviction.
//!
//! The writer thread's send cache (`send_cache.rs`) keeps its entries here
//! and only ages them between batches ([`Bounded::settle`]), so an entry
//! a batch is still using is never dropped in the middle of it.

use std::collections::HashMap;
use std::hash::Hash;

/// A map holding at most `capacity` entries between calls of
/// [`Self::settle`] (inserts in between may add more until the next one).
pub(super) struct Bounded<K, V> {
    young: HashMap<K, V>,
    old: HashMap<K, V>,
    /// Most entries of one generation: half the capacity.
    half: usize,
}

impl<K: Hash + Eq + Copy, V> Bounded<K, V> {
    /// An empty map of at most `capacity` entries (at least 2).
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            young: HashMap::new(),
            old: HashMap::new(),
            half: (capacity / 2).max(1),
        }
    }

    /// The entry of `key`, if kept; a hit in the old generation moves it
    /// to the young one.
    pub(super) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        if !self.young.contains_key(key)
            && let Some(v) = self.old.remove(key)
        {
            self.young.insert(*key, v);
        }
        self.young.get_mut(key)
    }

    /// Keeps `value` for `key`, replacing what was kept.
    pub(super) fn insert(&mut self, key: K, value: V) {
        self.old.remove(&key);
        self.young.insert(key, value);
    }

    /// Forgets `key`.
    pub(super) fn remove(&mut self, key: &K) {
        self.young.remove(key);
        self.old.remove(key);
    }

    /// Forgets everything.
    pub(super) fn clear(&mut self) {
        self.young.clear();
        self.old.clear();
    }

    /// Entries kept.
    pub(super) fn len(&self) -> usize {
        self.young.len() + self.old.len()
    }

    /// Ages the entries if the young generation is full: it becomes the
    /// old one (cut down to half the capacity if inserts overfilled it)
    /// and the old one is dropped. Afterwards at most `capacity` entries
    /// are kept.
    pub(super) fn settle(&mut self) {
        if self.young.len() < self.half {
            return;
        }
        std::mem::swap(&mut self.young, &mut self.old);
        self.young.clear();
        if self.old.len() > self.half {
            let mut keep = self.half;
            self.old.retain(|_, _| {
                let kept = keep > 0;
                keep = keep.saturating_sub(1);
                kept
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_capacity_after_settling_and_recent_entries_survive() {
        let mut m = Bounded::new(8);
        for k in 0..100u32 {
            m.insert(k, k * 10);
            // Key 0 is used all the time: it stays.
            assert_eq!(m.get_mut(&0).copied(), Some(0));
            m.settle();
            assert!(m.len() <= 8, "{} entries after {k}", m.len());
        }
        assert_eq!(m.get_mut(&99).copied(), Some(990), "the newest is kept");
        assert_eq!(m.get_mut(&1), None, "an old unused one is gone");
        m.remove(&99);
        assert_eq!(m.get_mut(&99), None);
        m.clear();
        assert_eq!(m.len(), 0);
    }

    #[test]
    fn an_overfilled_generation_is_cut_to_the_bound() {
        let mut m = Bounded::new(4);
        for k in 0..50u32 {
            m.insert(k, ());
        }
        assert_eq!(m.len(), 50, "no ageing between settles");
        m.settle();
        assert!(m.len() <= 4, "{}", m.len());
    }
}

//! [`LoginThrottle`]: the original's failed-login lock-out, with bounded
//! memory.
//!
//! Keyed by the exact `user_name` bytes; a name is blocked while more than
//! [`MAX_FAILURES`] failures lie within the last [`WINDOW_SECS`] seconds
//! (so 11 failures are allowed and the 12th attempt is refused). A success
//! clears the name. Unlike the original, empty entries are dropped, each
//! list keeps only the newest failures that matter, and at most
//! `capacity` names are tracked (least recently touched evicted first).
//! State is process-local, as in the original.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;

/// Failures older than this many seconds no longer count.
pub const WINDOW_SECS: u32 = 1800;
/// A name is blocked when more than this many failures are in the window.
pub const MAX_FAILURES: usize = 10;
/// Default bound on tracked names.
pub const DEFAULT_CAPACITY: usize = 100_000;

struct Entry {
    /// Failure times, newest first.
    failures: VecDeque<u32>,
    /// Position in the recency index.
    tick: u64,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<Vec<u8>, Entry>,
    recency: BTreeMap<u64, Vec<u8>>,
    next_tick: u64,
}

/// Process-wide login throttle; share it through `AppState`.
pub struct LoginThrottle {
    inner: Mutex<Inner>,
    capacity: usize,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

fn prune(failures: &mut VecDeque<u32>, now: u32) {
    if let Some(pos) = failures
        .iter()
        .position(|t| now.saturating_sub(*t) > WINDOW_SECS)
    {
        failures.truncate(pos);
    }
}

impl LoginThrottle {
    /// A throttle tracking at most `capacity` names.
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The map holds plain data; a panic elsewhere cannot corrupt it.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `name` is blocked at `now`. Prunes expired failures.
    pub fn is_blocked(&self, name: &[u8], now: u32) -> bool {
        let mut inner = self.lock();
        let Some(entry) = inner.entries.get_mut(name) else {
            return false;
        };
        prune(&mut entry.failures, now);
        if entry.failures.is_empty() {
            let tick = entry.tick;
            inner.entries.remove(name);
            inner.recency.remove(&tick);
            return false;
        }
        entry.failures.len() > MAX_FAILURES
    }

    /// Records a failed attempt for `name` at `now`.
    pub fn record_failure(&self, name: &[u8], now: u32) {
        let mut guard = self.lock();
        let inner = &mut *guard;
        let tick = inner.next_tick;
        inner.next_tick += 1;
        if let Some(entry) = inner.entries.get_mut(name) {
            inner.recency.remove(&entry.tick);
            entry.tick = tick;
            prune(&mut entry.failures, now);
            entry.failures.push_front(now);
            entry.failures.truncate(MAX_FAILURES + 1);
        } else {
            if inner.entries.len() >= self.capacity
                && let Some((_, oldest)) = inner.recency.pop_first()
            {
                inner.entries.remove(&oldest);
            }
            inner.entries.insert(
                name.to_vec(),
                Entry {
                    failures: VecDeque::from([now]),
                    tick,
                },
            );
        }
        inner.recency.insert(tick, name.to_vec());
    }

    /// Forgets `name` after a successful login.
    pub fn clear(&self, name: &[u8]) {
        let mut inner = self.lock();
        if let Some(entry) = inner.entries.remove(name) {
            inner.recency.remove(&entry.tick);
        }
    }

    /// Number of names currently tracked.
    pub fn tracked(&self) -> usize {
        self.lock().entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eleven_failures_allowed_twelfth_blocked_until_window_passes() {
        let t = LoginThrottle::default();
        for s in 0..11 {
            assert!(!t.is_blocked(b"zhangyl", s));
            t.record_failure(b"zhangyl", s);
        }
        assert!(t.is_blocked(b"zhangyl", 11));
        assert!(t.is_blocked(b"zhangyl", 1800));
        assert!(!t.is_blocked(b"zhangyl", 1801));
    }

    #[test]
    fn names_are_exact_bytes_and_success_clears() {
        let t = LoginThrottle::default();
        for s in 0..11 {
            t.record_failure(b"zhangyl", s);
        }
        assert!(!t.is_blocked(b"ZHANGYL", 12));
        t.clear(b"zhangyl");
        assert!(!t.is_blocked(b"zhangyl", 12));
        assert_eq!(t.tracked(), 0);
    }

    #[test]
    fn memory_is_bounded() {
        let t = LoginThrottle::new(100);
        for i in 0..1000u32 {
            t.record_failure(i.to_string().as_bytes(), 0);
        }
        assert_eq!(t.tracked(), 100);
        // The most recent names survive, the oldest were evicted.
        assert!(t.lock().entries.contains_key(b"999".as_slice()));
        assert!(!t.lock().entries.contains_key(b"0".as_slice()));
        for _ in 0..50 {
            t.record_failure(b"999", 5);
        }
        assert_eq!(
            t.lock().entries[b"999".as_slice()].failures.len(),
            MAX_FAILURES + 1
        );
    }

    #[test]
    fn expired_entries_are_dropped() {
        let t = LoginThrottle::default();
        t.record_failure(b"a", 0);
        assert!(!t.is_blocked(b"a", 5000));
        assert_eq!(t.tracked(), 0);
    }
}

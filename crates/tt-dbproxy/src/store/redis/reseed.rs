//! The message-id guard across a Redis failover (Sentinel mode).
//!
//! Redis replicates asynchronously: a promoted replica may have missed the
//! last `INCRBY`s of `msg_id_<R>` / `group_msg_id_<G>`, and would hand out
//! ids that are already stored in MySQL. So each master change starts an
//! *epoch* ([`super::sentinel::MasterTracker`]), and a counter's first use
//! in an epoch re-seeds it: `SET key max(GET key, M)` where `M` is the
//! largest id MySQL holds for that conversation, before the id is taken.
//! Afterwards every id handed out is above every stored one.
//!
//! Two races are closed as well:
//! - a send of this process that took its id from the *old* master and
//!   has not committed yet would be invisible to `M`; the re-seed first
//!   waits (within the request's deadline) until this process has no send
//!   of an earlier epoch in flight;
//! - an id must come from a connection of the epoch the counter was
//!   re-seeded in: if the master changed between the re-seed and the id,
//!   the id is not used (the send fails, the client retries).
//!
//! Every instance on the same Redis detects the change itself (its own
//! epoch) and re-seeds on its own; the script is idempotent, so several
//! instances re-seeding the same counter is harmless. Which counters were
//! re-seeded in the current epoch is a bounded map: when it is full it is
//! cleared, which only costs extra re-seeds.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use redis::Script;

use crate::store::{StoreError, StoreResult};

/// Raises a counter to at least `ARGV[1]` (creating it if missing).
const RAISE: &str = r"
local v = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local seed = tonumber(ARGV[1])
if v < seed then v = seed end
redis.call('SET', KEYS[1], v)
return v";

/// Counters remembered as re-seeded before the map is cleared.
const MAX_SEEDED: usize = 100_000;
/// How often a re-seed checks for older sends still in flight.
const POLL: Duration = Duration::from_millis(5);

#[derive(Default)]
struct State {
    /// Counter key → the epoch it was last re-seeded in.
    seeded: HashMap<String, u64>,
    /// Epoch → sends of this process holding an id of that epoch and not
    /// finished yet.
    in_flight: HashMap<u64, usize>,
}

/// Per-process state of the guard.
pub(crate) struct Reseed {
    state: Mutex<State>,
    pub(super) raise: Script,
}

/// A send holding an id of `epoch` until it is stored or failed.
pub(crate) struct InFlight<'a> {
    guard: &'a Reseed,
    epoch: u64,
}

impl InFlight<'_> {
    /// The epoch the id must come from.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut s = self.guard.lock();
        if let Some(n) = s.in_flight.get_mut(&self.epoch) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                s.in_flight.remove(&self.epoch);
            }
        }
    }
}

impl Default for Reseed {
    fn default() -> Self {
        Self {
            state: Mutex::new(State::default()),
            raise: Script::new(RAISE),
        }
    }
}

impl Reseed {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Plain maps: a panic elsewhere cannot leave them invalid.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `counter` was re-seeded in `epoch`.
    pub(crate) fn is_seeded(&self, counter: &str, epoch: u64) -> bool {
        self.lock().seeded.get(counter) == Some(&epoch)
    }

    pub(super) fn mark(&self, counter: &str, epoch: u64) {
        let mut s = self.lock();
        if s.seeded.len() >= MAX_SEEDED && !s.seeded.contains_key(counter) {
            s.seeded.clear();
        }
        s.seeded.insert(counter.to_string(), epoch);
    }

    /// Registers a send about to take an id in `epoch`.
    pub(crate) fn begin(&self, epoch: u64) -> InFlight<'_> {
        *self.lock().in_flight.entry(epoch).or_insert(0) += 1;
        InFlight { guard: self, epoch }
    }

    fn older_in_flight(&self, epoch: u64) -> bool {
        self.lock()
            .in_flight
            .iter()
            .any(|(e, n)| *e < epoch && *n > 0)
    }

    /// Waits until no send of an epoch before `epoch` is in flight here,
    /// at most until the request's deadline.
    pub(crate) async fn wait_for_older(&self, epoch: u64) -> StoreResult<()> {
        let end = crate::deadline::effective();
        while self.older_in_flight(epoch) {
            if tokio::time::Instant::now() + POLL >= end {
                return Err(StoreError::Unavailable(
                    "sends from before the Redis failover are still in flight".into(),
                ));
            }
            tokio::time::sleep(POLL).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_is_per_epoch_and_bounded() {
        let r = Reseed::default();
        assert!(!r.is_seeded("msg_id_1", 1));
        r.mark("msg_id_1", 1);
        assert!(r.is_seeded("msg_id_1", 1));
        assert!(!r.is_seeded("msg_id_1", 2), "a new epoch re-seeds");
        for i in 0..MAX_SEEDED + 1 {
            r.mark(&format!("k{i}"), 1);
        }
        assert!(r.lock().seeded.len() <= MAX_SEEDED);
    }

    #[test]
    fn in_flight_sends_are_counted_per_epoch() {
        let r = Reseed::default();
        let a = r.begin(1);
        let b = r.begin(2);
        assert!(r.older_in_flight(2));
        assert!(!r.older_in_flight(1));
        drop(a);
        assert!(!r.older_in_flight(2));
        assert_eq!(b.epoch(), 2);
    }
}

//! [`Backoff`]: the health of one backend endpoint. After a failed
//! connect the endpoint is out for a period that doubles with each
//! consecutive failure (100 ms up to 1 s); the first success resets it. An
//! outage then costs one quick error per request instead of a connect
//! storm, and recovery needs no restart: the server tries again at least
//! once a second, so it serves within about a second of the backend's
//! return.

use std::sync::Mutex;
use std::time::{Duration, Instant};

const FIRST: Duration = Duration::from_millis(100);
const MAX: Duration = Duration::from_secs(1);

#[derive(Default)]
struct State {
    failures: u32,
    down_until: Option<Instant>,
}

/// Shared by every request using one endpoint.
#[derive(Default)]
pub struct Backoff {
    state: Mutex<State>,
}

impl Backoff {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Two plain fields: a panic elsewhere cannot leave them invalid.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the endpoint is still backing off.
    pub fn is_out(&self) -> bool {
        self.lock().down_until.is_some_and(|t| Instant::now() < t)
    }

    /// A successful connect: back in service.
    pub fn succeeded(&self) {
        *self.lock() = State::default();
    }

    /// A failed connect; returns how long the endpoint is now out.
    pub fn failed(&self) -> Duration {
        let mut s = self.lock();
        s.failures = s.failures.saturating_add(1);
        let wait = FIRST
            .saturating_mul(1 << s.failures.saturating_sub(1).min(10))
            .min(MAX);
        s.down_until = Some(Instant::now() + wait);
        wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap_and_reset_on_success() {
        let b = Backoff::default();
        assert!(!b.is_out());
        let waits: Vec<u128> = (0..8).map(|_| b.failed().as_millis()).collect();
        assert_eq!(waits, vec![100, 200, 400, 800, 1000, 1000, 1000, 1000]);
        assert!(b.is_out());
        b.succeeded();
        assert!(!b.is_out());
        assert_eq!(b.failed().as_millis(), 100);
    }
}

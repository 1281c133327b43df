//! [`RateLimited`]: at most one log line per second for one kind of
//! warning, so a flood (refused connections, slow clients, ...) cannot
//! flood the log too; the lines left out are counted and the count is
//! logged with the next line of that kind.
//!
//! ```
//! use tt_dbproxy::rate_log::RateLimited;
//! static REFUSED: RateLimited = RateLimited::new("refused connection");
//! let peer = "10.0.0.9:50000";
//! tt_dbproxy::warn_limited!(REFUSED, %peer, "peer not allowed; closing");
//! ```

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// At most one line of a kind is logged per window.
pub const WINDOW: Duration = Duration::from_secs(1);

/// The rate limit of one kind of log line; usually a `static`.
#[derive(Debug)]
pub struct RateLimited {
    kind: &'static str,
    state: Mutex<Window>,
}

#[derive(Debug)]
struct Window {
    /// When the last line was let through.
    opened: Option<Instant>,
    /// Lines left out since then.
    suppressed: u64,
}

impl RateLimited {
    /// A limit for the lines of `kind` (named in the "suppressed" line).
    pub const fn new(kind: &'static str) -> Self {
        Self {
            kind,
            state: Mutex::new(Window {
                opened: None,
                suppressed: 0,
            }),
        }
    }

    /// The kind this limit was made for.
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// Whether to log this occurrence now: `Some(n)` when it may be
    /// logged, `n` being how many were left out since the last one that
    /// was; `None` when it is to be left out (and is counted).
    pub fn check(&self) -> Option<u64> {
        self.check_at(Instant::now())
    }

    fn check_at(&self, now: Instant) -> Option<u64> {
        // Two plain fields: a panic elsewhere cannot leave them invalid.
        let mut w = self.state.lock().unwrap_or_else(|e| e.into_inner());
        match w.opened {
            Some(t) if now.saturating_duration_since(t) < WINDOW => {
                w.suppressed += 1;
                None
            }
            _ => {
                w.opened = Some(now);
                Some(std::mem::take(&mut w.suppressed))
            }
        }
    }
}

/// `tracing::warn!` through a [`RateLimited`]: logs the line unless one of
/// the same kind was logged less than a second ago; before it, a line with
/// the number left out since the last one, if any. Evaluates to whether
/// the line was logged.
#[macro_export]
macro_rules! warn_limited {
    ($limit:expr, $($arg:tt)+) => {
        match $limit.check() {
            Some(suppressed) => {
                if suppressed > 0 {
                    ::tracing::warn!(
                        kind = $limit.kind(),
                        suppressed,
                        "similar warnings were left out since the last one (at most one a second)"
                    );
                }
                ::tracing::warn!($($arg)+);
                true
            }
            None => false,
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_window_then_the_count_left_out() {
        let limit = RateLimited::new("test");
        let t0 = Instant::now();
        assert_eq!(limit.check_at(t0), Some(0));
        for ms in [1, 10, 500, 999] {
            assert_eq!(limit.check_at(t0 + Duration::from_millis(ms)), None);
        }
        let t1 = t0 + WINDOW;
        assert_eq!(limit.check_at(t1), Some(4));
        assert_eq!(limit.check_at(t1 + Duration::from_millis(1)), None);
        // A quiet period: the next line comes through with what was left out.
        assert_eq!(limit.check_at(t1 + Duration::from_secs(60)), Some(1));
        assert_eq!(
            limit.check_at(t1 + Duration::from_secs(62)),
            Some(0),
            "nothing left out"
        );
        assert_eq!(limit.kind(), "test");
    }

    #[test]
    fn kinds_are_limited_separately() {
        static A: RateLimited = RateLimited::new("a");
        static B: RateLimited = RateLimited::new("b");
        let now = Instant::now();
        assert_eq!(A.check_at(now), Some(0));
        assert_eq!(B.check_at(now), Some(0));
        assert_eq!(A.check_at(now), None);
    }

    #[test]
    fn the_macro_says_whether_it_logged() {
        let limit = RateLimited::new("macro");
        assert!(crate::warn_limited!(limit, n = 1, "first"));
        assert!(!crate::warn_limited!(limit, "second"));
    }
}

//! [`Clock`]: "now" for every stored time, the login throttle and quiet
//! hours, injectable so tests set the time instead of sleeping.
//!
//! Network timers (heartbeat, idle timeout, drain) do not use this clock;
//! they use tokio time, which tests can pause and advance.

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use chrono::{Local, Offset, TimeZone};

/// Unix time in seconds plus the local time zone; cheap to clone.
#[derive(Clone, Debug)]
pub struct Clock(Arc<Source>);

#[derive(Debug)]
enum Source {
    System,
    Manual {
        now: AtomicU32,
        utc_offset_secs: AtomicI32,
    },
}

impl Clock {
    /// The wall clock and the machine's local time zone.
    pub fn system() -> Self {
        Self(Arc::new(Source::System))
    }

    /// A clock that stays at `now` (Unix seconds) until set or advanced,
    /// in a fixed zone `utc_offset_secs` east of UTC.
    pub fn manual(now: u32, utc_offset_secs: i32) -> Self {
        Self(Arc::new(Source::Manual {
            now: AtomicU32::new(now),
            utc_offset_secs: AtomicI32::new(utc_offset_secs),
        }))
    }

    /// Current Unix time in seconds, as the `uint32` every TeamTalk table
    /// stores (saturating in 2106).
    pub fn now_secs(&self) -> u32 {
        match &*self.0 {
            Source::System => {
                let secs = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                u32::try_from(secs).unwrap_or(u32::MAX)
            }
            Source::Manual { now, .. } => now.load(Ordering::Relaxed),
        }
    }

    /// Offset of the local time zone from UTC in seconds at Unix time `at`.
    pub fn utc_offset_secs(&self, at: u32) -> i32 {
        match &*self.0 {
            Source::System => Local
                .timestamp_opt(i64::from(at), 0)
                .single()
                .map(|t| t.offset().fix().local_minus_utc())
                .unwrap_or(0),
            Source::Manual {
                utc_offset_secs, ..
            } => utc_offset_secs.load(Ordering::Relaxed),
        }
    }

    /// Local time of day as (hour, minute) at the current time.
    pub fn local_hour_minute(&self) -> (u32, u32) {
        let now = self.now_secs();
        let local = i64::from(now) + i64::from(self.utc_offset_secs(now));
        let secs_of_day = local.rem_euclid(86_400) as u32;
        (secs_of_day / 3600, (secs_of_day % 3600) / 60)
    }

    /// Sets a manual clock to `now`; no effect on the system clock.
    pub fn set(&self, now: u32) {
        if let Source::Manual { now: n, .. } = &*self.0 {
            n.store(now, Ordering::Relaxed);
        }
    }

    /// Moves a manual clock forward by `secs`; no effect on the system clock.
    pub fn advance(&self, secs: u32) {
        if let Source::Manual { now, .. } = &*self.0 {
            now.fetch_add(secs, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_is_settable_and_has_a_zone() {
        let c = Clock::manual(1_000, 8 * 3600);
        assert_eq!(c.now_secs(), 1_000);
        c.advance(5);
        assert_eq!(c.now_secs(), 1_005);
        c.set(86_400 - 3600);
        assert_eq!(c.local_hour_minute(), (7, 0));
    }

    #[test]
    fn system_clock_is_recent() {
        assert!(Clock::system().now_secs() > 1_700_000_000);
    }
}

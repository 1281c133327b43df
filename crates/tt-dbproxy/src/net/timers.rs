//! The instants a connection's one timer serves: the next heartbeat, the
//! idle timeout (from the last complete frame), the frame timeout (from the
//! first byte of an unfinished frame) and the drain's quiet period.
//!
//! [`Clocks`] holds only what the connection last did; the deadlines are
//! computed from it and the live configuration when needed, before the
//! wait and again when the timer fires, so they are not kept in every idle
//! connection's task and a reload applies at the next wake-up.

use std::time::Duration;

use tokio::time::Instant;

use crate::config::ServerConfig;

/// While draining, a connection closes after this long with nothing in
/// flight and nothing received.
pub(super) const DRAIN_QUIET: Duration = Duration::from_millis(200);

/// What a connection last did, for its deadlines.
pub(super) struct Clocks {
    /// The last frame sent (a heartbeat counts).
    pub(super) last_send: Instant,
    /// The last complete frame received.
    pub(super) last_frame: Instant,
    /// When the first byte of the unfinished frame being received arrived.
    pub(super) frame_started: Option<Instant>,
    /// Whether the connection reads (false while its own back-pressure
    /// pauses it).
    reading: bool,
    /// When the drain began.
    pub(super) draining_since: Option<Instant>,
}

/// Why the timer ended the connection, or that a heartbeat is due.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Expired {
    Idle,
    Frame,
    Drained,
    Heartbeat,
}

impl Clocks {
    /// A connection opened at `now`.
    pub(super) fn new(now: Instant) -> Self {
        Self {
            last_send: now,
            last_frame: now,
            frame_started: None,
            reading: true,
            draining_since: None,
        }
    }

    /// Records whether the connection reads now. While the server does
    /// not read the peer is not to blame for a slow frame: when reading
    /// resumes, the unfinished frame gets a full timeout again.
    pub(super) fn set_reading(&mut self, reading: bool) {
        if reading != self.reading {
            self.reading = reading;
            if let Some(started) = self.frame_started.as_mut().filter(|_| reading) {
                *started = Instant::now();
            }
        }
    }

    /// The deadlines, in the order they are checked: idle, frame, drain,
    /// heartbeat. `quiet`: nothing in flight and nothing left to write.
    fn deadlines(&self, s: &ServerConfig, quiet: bool) -> [Option<Instant>; 4] {
        let frame = self
            .frame_started
            .filter(|_| self.reading)
            .map(|started| started + Duration::from_millis(s.frame_timeout_ms));
        // A drain waits for an unfinished frame (the frame timeout bounds it).
        let drain = self
            .draining_since
            .filter(|_| quiet && self.frame_started.is_none())
            .map(|since| since.max(self.last_frame) + DRAIN_QUIET);
        [
            Some(self.last_frame + Duration::from_millis(s.idle_timeout_ms)),
            frame,
            drain,
            Some(self.last_send + Duration::from_millis(s.heartbeat_interval_ms)),
        ]
    }

    /// When the timer must fire next.
    pub(super) fn next_wake(&self, s: &ServerConfig, quiet: bool) -> Instant {
        let [idle, frame, drain, heartbeat] = self.deadlines(s, quiet);
        [frame, drain, heartbeat]
            .into_iter()
            .flatten()
            .fold(idle.unwrap_or_else(Instant::now), Instant::min)
    }

    /// What has expired at `now`, the first in check order.
    pub(super) fn expired(&self, s: &ServerConfig, quiet: bool, now: Instant) -> Option<Expired> {
        let kinds = [
            Expired::Idle,
            Expired::Frame,
            Expired::Drained,
            Expired::Heartbeat,
        ];
        self.deadlines(s, quiet)
            .into_iter()
            .zip(kinds)
            .find_map(|(due, kind)| due.filter(|d| now >= *d).map(|_| kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ServerConfig {
        ServerConfig {
            heartbeat_interval_ms: 5_000,
            idle_timeout_ms: 30_000,
            frame_timeout_ms: 10_000,
            ..ServerConfig::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn deadlines_follow_what_the_connection_did() {
        let s = config();
        let t0 = Instant::now();
        let mut c = Clocks::new(t0);
        assert_eq!(c.next_wake(&s, true), t0 + Duration::from_secs(5));
        assert_eq!(
            c.expired(&s, true, t0 + Duration::from_secs(5)),
            Some(Expired::Heartbeat)
        );
        c.last_send = t0 + Duration::from_secs(25);
        assert_eq!(
            c.expired(&s, true, t0 + Duration::from_secs(30)),
            Some(Expired::Idle)
        );
        // An unfinished frame: its timeout comes first.
        c.frame_started = Some(t0 + Duration::from_secs(1));
        assert_eq!(c.next_wake(&s, true), t0 + Duration::from_secs(11));
        assert_eq!(
            c.expired(&s, true, t0 + Duration::from_secs(11)),
            Some(Expired::Frame)
        );
        // Paused reading stops the frame clock; resuming restarts it.
        c.set_reading(false);
        assert_eq!(c.expired(&s, true, t0 + Duration::from_secs(11)), None);
        tokio::time::advance(Duration::from_secs(20)).await;
        c.set_reading(true);
        assert_eq!(c.frame_started, Some(t0 + Duration::from_secs(20)));
        // A drain waits for the unfinished frame, then for quiet.
        c.draining_since = Some(t0 + Duration::from_secs(20));
        c.last_frame = t0 + Duration::from_secs(20);
        assert_eq!(c.expired(&s, true, t0 + Duration::from_secs(21)), None);
        c.frame_started = None;
        assert_eq!(
            c.expired(&s, true, t0 + Duration::from_secs(21)),
            Some(Expired::Drained)
        );
        assert_eq!(
            c.expired(&s, false, t0 + Duration::from_secs(21)),
            None,
            "not quiet"
        );
    }
}

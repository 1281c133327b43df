//! Signals: SIGTERM and SIGINT start a graceful drain, SIGHUP reloads the
//! configuration (SIGPIPE is already ignored by the Rust runtime).

use tokio::signal::unix::{Signal, SignalKind, signal};

/// SIGTERM, SIGINT and SIGHUP handlers, registered when created: create it
/// before announcing that the server listens, so an early signal drains
/// (or reloads) instead of killing the process.
pub struct Signals {
    stop: StopSignals,
    hangup: Signal,
}

/// SIGTERM and SIGINT.
pub struct StopSignals {
    term: Signal,
    int: Signal,
}

impl Signals {
    /// Registers the handlers now.
    pub fn register() -> std::io::Result<Self> {
        Ok(Self {
            stop: StopSignals {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            },
            hangup: signal(SignalKind::hangup())?,
        })
    }

    /// The stop signals and the SIGHUP stream, to be awaited separately.
    pub fn split(self) -> (StopSignals, Signal) {
        (self.stop, self.hangup)
    }
}

impl StopSignals {
    /// Waits for SIGTERM or SIGINT and returns its name.
    pub async fn wait(mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

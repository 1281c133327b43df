//! Signals that end the process: SIGTERM and SIGINT both start a graceful
//! drain (SIGPIPE is already ignored by the Rust runtime).

use tokio::signal::unix::{Signal, SignalKind, signal};

/// SIGTERM and SIGINT handlers, registered when created: create it before
/// announcing that the server listens, so an early signal drains instead of
/// killing the process.
pub struct Signals {
    term: Signal,
    int: Signal,
}

impl Signals {
    /// Registers the handlers now.
    pub fn register() -> std::io::Result<Self> {
        Ok(Self {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Waits for SIGTERM or SIGINT and returns its name.
    pub async fn wait(mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

//! Notifications to the service manager (systemd `Type=notify`): ready once
//! every listener is open, reloading while SIGHUP is applied, stopping when
//! the drain begins. Without `NOTIFY_SOCKET` (not started by systemd) each
//! is a no-op; a failure to notify is logged, never fatal.

use sd_notify::NotifyState;

fn send(state: &[NotifyState<'_>], what: &str) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(e) = sd_notify::notify(false, state) {
        tracing::warn!(error = %e, "cannot tell the service manager the server is {what}");
    }
}

/// The server listens and serves.
pub fn ready() {
    send(&[NotifyState::Ready], "ready");
}

/// A configuration reload has begun (`ready` follows when it ends).
pub fn reloading() {
    send(&[NotifyState::Reloading], "reloading");
}

/// The server stops accepting and drains.
pub fn stopping() {
    send(&[NotifyState::Stopping], "stopping");
}

//! Sockets: the accept loop (connection limit, allow-list, per-peer cap),
//! one task per connection, and the queue that keeps requests sharing an
//! ordering key in arrival order.

mod admission;
pub mod cidr;
mod connection;
pub mod gates;
pub mod ordering;
mod peers;
pub mod server;
mod timers;

pub use server::run;

/// Registers the connection metrics' series at zero, one per reason a
/// connection can be refused or closed.
pub fn register_zero_metrics() {
    for refusal in admission::Refusal::ALL {
        metrics::counter!(crate::metrics::CONNECTIONS_REFUSED, "reason" => refusal.label())
            .absolute(0);
    }
    for reason in connection::Closed::REASONS {
        metrics::counter!(crate::metrics::CONNECTIONS_CLOSED, "reason" => reason).absolute(0);
    }
}

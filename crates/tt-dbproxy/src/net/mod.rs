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

/// Registers the series of the server's counters at zero: requests per
/// command, store errors per kind, and connections refused or closed per
/// reason. Run when a server starts (after [`crate::metrics::install`]).
pub fn register_zero_metrics() {
    crate::handler::register_zero_metrics();
    crate::store::register_zero_metrics();
    for refusal in admission::Refusal::ALL {
        metrics::counter!(crate::metrics::CONNECTIONS_REFUSED, "reason" => refusal.label())
            .absolute(0);
    }
    for reason in connection::Closed::REASONS {
        metrics::counter!(crate::metrics::CONNECTIONS_CLOSED, "reason" => reason).absolute(0);
    }
}

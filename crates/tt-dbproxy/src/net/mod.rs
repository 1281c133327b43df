//! Sockets: the accept loop (connection limit, allow-list, per-peer cap),
//! one task per connection, and the queue that keeps requests sharing an
//! ordering key in arrival order.

mod admission;
mod connection;
mod ctx;
pub mod gates;
pub mod ordering;
mod peers;
pub mod server;
mod shared;
mod timers;

pub use server::{register_zero_metrics, run};

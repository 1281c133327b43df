//! What a benchmark run is asked to do.

use std::net::SocketAddr;
use std::time::Duration;

use super::workload::{Users, Workload};

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Server address.
    pub addr: SocketAddr,
    /// Concurrent connections.
    pub connections: u32,
    /// Requests in flight per connection.
    pub pipeline: u32,
    /// Stop after this many requests in total...
    pub requests: Option<u64>,
    /// ...or after this long.
    pub duration: Option<Duration>,
    /// The load shape.
    pub workload: Workload,
    /// The users requests are made for.
    pub users: Users,
}

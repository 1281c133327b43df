//! The result of a `bench` run: throughput, latency percentiles, errors.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::Workload;
use super::options::Options;

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Latency {
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Slowest.
    pub max: u64,
}

/// A finished run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// `proxy` (over the wire) or `direct` (handlers and store in-process).
    pub mode: &'static str,
    /// The workload.
    pub workload: Workload,
    /// Connections.
    pub connections: u32,
    /// Requests in flight per connection.
    pub pipeline: u32,
    /// Answered requests.
    pub requests: u64,
    /// Wall time in seconds.
    pub seconds: f64,
    /// Answered requests per second.
    pub throughput: f64,
    /// Latency percentiles (µs).
    pub latency_us: Latency,
    /// Errors by kind (timeouts, closed connections, refused logins,
    /// sends not stored, ...).
    pub errors: BTreeMap<String, u64>,
    /// Connections the server told it is draining (SIGTERM: its
    /// CID_OTHER_STOP_RECV_PACKET); they stopped sending early. Not an
    /// error.
    pub server_draining: u32,
}

impl Report {
    pub(super) fn new(
        opts: &Options,
        elapsed: Duration,
        h: &Histogram<u64>,
        errors: BTreeMap<String, u64>,
        server_draining: u32,
    ) -> Self {
        let seconds = elapsed.as_secs_f64();
        let requests = h.len();
        Self {
            mode: "proxy",
            workload: opts.workload,
            connections: opts.connections,
            pipeline: opts.pipeline,
            requests,
            seconds,
            throughput: if seconds > 0.0 {
                requests as f64 / seconds
            } else {
                0.0
            },
            latency_us: Latency {
                p50: h.value_at_quantile(0.5),
                p90: h.value_at_quantile(0.9),
                p99: h.value_at_quantile(0.99),
                p999: h.value_at_quantile(0.999),
                max: h.max(),
            },
            errors,
            server_draining,
        }
    }

    /// Human-readable lines.
    pub fn text(&self) -> String {
        let l = &self.latency_us;
        let errors = if self.errors.is_empty() {
            "none".to_string()
        } else {
            self.errors
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let draining = if self.server_draining == 0 {
            String::new()
        } else {
            format!(
                "\nserver draining: {} of {} connections told to stop (STOP_RECV_PACKET); they stopped sending",
                self.server_draining, self.connections
            )
        };
        format!(
            "{} run, workload {}, {} connections, pipeline {}\n{} requests in {:.2} s: {:.0} requests/s\nlatency µs: p50 {} p90 {} p99 {} p99.9 {} max {}\nerrors: {errors}{draining}",
            self.mode,
            format!("{:?}", self.workload).to_lowercase(),
            self.connections,
            self.pipeline,
            self.requests,
            self.seconds,
            self.throughput,
            l.p50,
            l.p90,
            l.p99,
            l.p999,
            l.max
        )
    }
}

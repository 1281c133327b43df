//! Per-pool figures for `/metrics`, shared by the MySQL and Redis pools:
//! the size limit, connections (MySQL) or command slots (Redis) in use,
//! how long acquiring took, and failures by kind. Metric handles are
//! resolved once per pool, so the hot path only touches atomics.

use std::time::Duration;

use metrics::{Counter, Gauge, Histogram};

use crate::metrics as m;

/// The metric handles of one pool.
pub(crate) struct PoolStats {
    max: Gauge,
    in_use: Gauge,
    wait: Histogram,
    backend: &'static str,
    pool: String,
}

/// Counts one connection or slot in use until dropped.
pub(crate) struct InUse(Gauge);

impl Drop for InUse {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

impl PoolStats {
    /// Handles for pool `pool` of `backend` (`mysql`, `redis`) with `max`
    /// connections or slots.
    pub(crate) fn new(backend: &'static str, pool: &str, max: usize) -> Self {
        let labels = [("backend", backend.to_string()), ("pool", pool.to_string())];
        let stats = Self {
            max: metrics::gauge!(m::POOL_MAX, &labels),
            in_use: metrics::gauge!(m::POOL_IN_USE, &labels),
            wait: metrics::histogram!(m::POOL_ACQUIRE_SECONDS, &labels),
            backend,
            pool: pool.to_string(),
        };
        stats.set_max(max);
        stats
    }

    /// Records a new size limit (start-up and reload).
    pub(crate) fn set_max(&self, max: usize) {
        self.max.set(max as f64);
    }

    /// Records a successful acquire that waited `waited`.
    pub(crate) fn acquired(&self, waited: Duration) -> InUse {
        self.wait.record(waited.as_secs_f64());
        self.in_use.increment(1.0);
        InUse(self.in_use.clone())
    }

    /// Counts a failure: `timeout` (no slot or connection in time),
    /// `connect` (the server refused or is down), `backoff` (skipped while
    /// backing off after failures) or `transport` (an established
    /// connection broke during a command).
    pub(crate) fn failed(&self, kind: &'static str) {
        self.error_counter(kind).increment(1);
    }

    fn error_counter(&self, kind: &'static str) -> Counter {
        metrics::counter!(
            m::POOL_ERRORS,
            "backend" => self.backend,
            "pool" => self.pool.clone(),
            "kind" => kind
        )
    }
}

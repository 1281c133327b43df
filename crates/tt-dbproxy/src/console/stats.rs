//! The live status figures: every [`INTERVAL`] the text `/metrics`
//! exports is read and the change since the previous reading kept as one
//! point (connections, requests/s, latency percentiles per command,
//! errors by kind, backend readiness, pool use, replica lag), the last
//! [`KEEP`] points in memory. No Prometheus needed.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::metrics as m;

/// Time between two points.
pub const INTERVAL: Duration = Duration::from_secs(2);
/// Points kept (10 minutes).
pub const KEEP: usize = 300;

/// One sample line: name, labels, value.
type Sample = (String, Vec<(String, String)>, f64);

/// Parses Prometheus text into samples (comments skipped).
pub fn parse(text: &str) -> Vec<Sample> {
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.trim().parse::<f64>() else {
            continue;
        };
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let labels = labels
            .split("\",")
            .filter_map(|kv| kv.split_once("=\""))
            .map(|(k, v)| (k.trim().to_string(), v.trim_end_matches('"').to_string()))
            .collect();
        out.push((name.to_string(), labels, value));
    }
    out
}

fn label<'a>(labels: &'a [(String, String)], key: &str) -> &'a str {
    labels
        .iter()
        .find(|(k, _)| k == key)
        .map_or("", |(_, v)| v.as_str())
}

/// The cumulative figures of one reading.
#[derive(Debug, Default, Clone)]
struct Reading {
    requests: BTreeMap<String, f64>,
    /// Per command: (upper bound, cumulative count) of the latency buckets.
    buckets: BTreeMap<String, Vec<(f64, f64)>>,
    errors: BTreeMap<String, f64>,
    connections: f64,
    ready: f64,
    pool_in_use: f64,
    pool_max: f64,
    replica_lag: f64,
}

fn read(text: &str) -> Reading {
    let mut r = Reading::default();
    for (name, labels, v) in parse(text) {
        let n = name.as_str();
        if n == m::REQUESTS {
            *r.requests
                .entry(label(&labels, "command").into())
                .or_default() += v;
        } else if n == format!("{}_bucket", m::REQUEST_SECONDS) {
            let le = match label(&labels, "le") {
                "+Inf" => f64::INFINITY,
                s => s.parse().unwrap_or(f64::INFINITY),
            };
            r.buckets
                .entry(label(&labels, "command").into())
                .or_default()
                .push((le, v));
        } else if n == m::STORE_ERRORS {
            *r.errors.entry(label(&labels, "kind").into()).or_default() += v;
        } else if n == m::CONNECTIONS_OPEN {
            r.connections += v;
        } else if n == m::BACKEND_READY {
            r.ready = v;
        } else if n == m::POOL_IN_USE {
            r.pool_in_use += v;
        } else if n == m::POOL_MAX {
            r.pool_max += v;
        } else if n == m::REPLICA_LAG {
            r.replica_lag = r.replica_lag.max(v);
        }
    }
    r
}

/// Latency of one command over one interval.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CommandFigures {
    /// Requests per second.
    pub rps: f64,
    /// Median latency (ms, the bucket's upper bound).
    pub p50_ms: f64,
    /// 99th percentile latency (ms, the bucket's upper bound).
    pub p99_ms: f64,
}

/// One point of the charts.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Point {
    /// Unix seconds.
    pub t: u64,
    /// Open connections.
    pub connections: f64,
    /// Requests per second, all commands.
    pub rps: f64,
    /// The slowest command's p99 (ms).
    pub p99_ms: f64,
    /// Storage errors per second.
    pub errors_per_s: f64,
    /// Storage errors in the interval by kind.
    pub errors: BTreeMap<String, f64>,
    /// 1 when the backends answer.
    pub ready: f64,
    /// Connections in use across the pools.
    pub pool_in_use: f64,
    /// Their limit.
    pub pool_max: f64,
    /// Largest replica lag (s).
    pub replica_lag: f64,
    /// Per command with requests in the interval.
    pub commands: BTreeMap<String, CommandFigures>,
}

fn percentile(deltas: &[(f64, f64)], q: f64) -> f64 {
    let total = deltas.last().map_or(0.0, |(_, c)| *c);
    if total <= 0.0 {
        return 0.0;
    }
    deltas
        .iter()
        .find(|(_, c)| *c >= q * total)
        .map_or(0.0, |(le, _)| {
            if le.is_finite() {
                le * 1000.0
            } else {
                f64::INFINITY
            }
        })
}

fn point(prev: &Reading, now: &Reading, secs: f64, t: u64) -> Point {
    let secs = secs.max(0.001);
    let mut commands = BTreeMap::new();
    for (cmd, total) in &now.requests {
        let d = total - prev.requests.get(cmd).copied().unwrap_or(0.0);
        if d <= 0.0 {
            continue;
        }
        let before: HashMap<u64, f64> = prev
            .buckets
            .get(cmd)
            .map(|b| b.iter().map(|(le, c)| (le.to_bits(), *c)).collect())
            .unwrap_or_default();
        let mut deltas: Vec<(f64, f64)> = now
            .buckets
            .get(cmd)
            .map(|b| {
                b.iter()
                    .map(|(le, c)| (*le, c - before.get(&le.to_bits()).copied().unwrap_or(0.0)))
                    .collect()
            })
            .unwrap_or_default();
        deltas.sort_by(|a, b| a.0.total_cmp(&b.0));
        commands.insert(
            cmd.clone(),
            CommandFigures {
                rps: d / secs,
                p50_ms: percentile(&deltas, 0.5),
                p99_ms: percentile(&deltas, 0.99),
            },
        );
    }
    let errors: BTreeMap<String, f64> = now
        .errors
        .iter()
        .map(|(k, v)| {
            (
                k.clone(),
                (v - prev.errors.get(k).copied().unwrap_or(0.0)).max(0.0),
            )
        })
        .collect();
    Point {
        t,
        connections: now.connections,
        rps: commands.values().map(|c| c.rps).sum(),
        p99_ms: commands
            .values()
            .map(|c| c.p99_ms)
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max),
        errors_per_s: errors.values().sum::<f64>() / secs,
        errors,
        ready: now.ready,
        pool_in_use: now.pool_in_use,
        pool_max: now.pool_max,
        replica_lag: now.replica_lag,
        commands,
    }
}

/// The points of the last minutes.
#[derive(Debug, Default)]
pub struct Series {
    points: Mutex<VecDeque<Point>>,
}

impl Series {
    /// The points, oldest first.
    pub fn points(&self) -> Vec<Point> {
        self.points
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    fn push(&self, p: Point) {
        let mut points = self.points.lock().unwrap_or_else(|e| e.into_inner());
        if points.len() == KEEP {
            points.pop_front();
        }
        points.push_back(p);
    }
}

/// Reads the metrics every [`INTERVAL`] into `series` until `shutdown`.
pub async fn sample(series: Arc<Series>, shutdown: CancellationToken) {
    crate::metrics::install();
    let mut prev = read(&crate::metrics::render());
    let mut at = std::time::Instant::now();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(INTERVAL) => {}
        }
        let now = read(&crate::metrics::render());
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        series.push(point(&prev, &now, at.elapsed().as_secs_f64(), t));
        prev = now;
        at = std::time::Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_and_percentiles_come_from_the_changes() {
        let before = "# HELP x\ntt_dbproxy_requests_total{command=\"validate\"} 10\n\
            tt_dbproxy_request_duration_seconds_bucket{command=\"validate\",le=\"0.001\"} 10\n\
            tt_dbproxy_request_duration_seconds_bucket{command=\"validate\",le=\"0.01\"} 10\n\
            tt_dbproxy_request_duration_seconds_bucket{command=\"validate\",le=\"+Inf\"} 10\n\
            tt_dbproxy_connections_open 2\n";
        let after = "tt_dbproxy_requests_total{command=\"validate\"} 30\n\
            tt_dbproxy_request_duration_seconds_bucket{command=\"validate\",le=\"0.001\"} 20\n\
            tt_dbproxy_request_duration_seconds_bucket{command=\"validate\",le=\"0.01\"} 30\n\
            tt_dbproxy_request_duration_seconds_bucket{command=\"validate\",le=\"+Inf\"} 30\n\
            tt_dbproxy_store_errors_total{kind=\"query\"} 4\n\
            tt_dbproxy_connections_open 3\n";
        let p = point(&read(before), &read(after), 2.0, 7);
        assert_eq!(p.rps, 10.0);
        assert_eq!(p.connections, 3.0);
        let v = &p.commands["validate"];
        assert_eq!((v.p50_ms, v.p99_ms), (1.0, 10.0));
        assert_eq!(p.errors_per_s, 2.0);
    }
}

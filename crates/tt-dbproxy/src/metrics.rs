//! Metric names and the process-wide Prometheus recorder. Hot paths use
//! the `metrics` macros (atomic counters, no locks); `/metrics` renders the
//! recorder's current values.
//!
//! Histogram samples are buffered by the recorder until someone folds them
//! into their buckets; an upkeep thread does that every
//! [`UPKEEP_INTERVAL`], so memory stays bounded whether or not anyone
//! scrapes `/metrics` (or the admin endpoint is off).

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Requests handled, by `command`.
pub const REQUESTS: &str = "tt_dbproxy_requests_total";
/// Request handling time in seconds, by `command`.
pub const REQUEST_SECONDS: &str = "tt_dbproxy_request_duration_seconds";
/// Requests that reached their deadline (`storage.request_timeout_ms`),
/// by `command`.
pub const DEADLINE_EXCEEDED: &str = "tt_dbproxy_request_deadline_exceeded_total";
/// Storage failures, by `kind` (unavailable, query, deadline, ...).
pub const STORE_ERRORS: &str = "tt_dbproxy_store_errors_total";
/// Open client connections.
pub const CONNECTIONS_OPEN: &str = "tt_dbproxy_connections_open";
/// Connections accepted since start.
pub const CONNECTIONS_ACCEPTED: &str = "tt_dbproxy_connections_accepted_total";
/// Connections closed at accept, by `reason`: `limit`
/// (`server.max_connections`), `per_peer`
/// (`server.max_connections_per_peer`), `not_allowed`
/// (`server.allow_peers`).
pub const CONNECTIONS_REFUSED: &str = "tt_dbproxy_connections_refused_total";
/// Served connections that ended, by `reason`: `by_peer`,
/// `idle_timeout`, `frame_timeout` (a frame not completed within
/// `server.frame_timeout_ms`), `bad_frame`, `io_error`, `not_allowed` (a
/// reload stopped allowing the peer), `drained`, `aborted`.
pub const CONNECTIONS_CLOSED: &str = "tt_dbproxy_connections_closed_total";
/// Frames received.
pub const FRAMES_IN: &str = "tt_dbproxy_frames_in_total";
/// Frames sent (replies, heartbeats, stop packets).
pub const FRAMES_OUT: &str = "tt_dbproxy_frames_out_total";
/// Bytes received.
pub const BYTES_IN: &str = "tt_dbproxy_bytes_in_total";
/// Bytes sent.
pub const BYTES_OUT: &str = "tt_dbproxy_bytes_out_total";
/// Frames for which no handler exists.
pub const UNKNOWN_COMMANDS: &str = "tt_dbproxy_unknown_commands_total";
/// Logins refused by the failed-login throttle.
pub const THROTTLE_REJECTIONS: &str = "tt_dbproxy_login_throttle_rejections_total";
/// Message ids handed out (stored messages), by `kind` (single, group).
pub const MSG_IDS_ALLOCATED: &str = "tt_dbproxy_msg_ids_allocated_total";
/// Configuration reloads, by `result` (ok, refused).
pub const RELOADS: &str = "tt_dbproxy_config_reloads_total";
/// Size limit of each backend pool, by `backend` and `pool`.
pub const POOL_MAX: &str = "tt_dbproxy_pool_max_connections";
/// Connections (MySQL) or command slots (Redis) in use, by `backend` and
/// `pool`.
pub const POOL_IN_USE: &str = "tt_dbproxy_pool_in_use";
/// Time spent acquiring a connection or slot, by `backend` and `pool`.
pub const POOL_ACQUIRE_SECONDS: &str = "tt_dbproxy_pool_acquire_seconds";
/// Pool failures, by `backend`, `pool` and `kind` (timeout, connect,
/// backoff, transport).
pub const POOL_ERRORS: &str = "tt_dbproxy_pool_errors_total";

/// Whether the storage backends answer (1) or not (0), probed every
/// [`READY_PROBE_INTERVAL`] while the admin endpoint runs: what `/readyz`
/// says, as a series alerts can use.
pub const BACKEND_READY: &str = "tt_dbproxy_backend_ready";

/// How often the admin endpoint probes the backends for [`BACKEND_READY`].
pub const READY_PROBE_INTERVAL: Duration = Duration::from_secs(5);

/// Sync-center cycles, by `result`: `ok`, `failed`, `skipped` (another
/// instance holds the sync lease).
pub const SYNC_CYCLES: &str = "tt_dbproxy_sync_cycles_total";

/// Reads compared by `tt-dbproxy shadow`, by `command` and `result`
/// (equal, expected, raced, different, shadow_error).
pub const SHADOW_COMPARISONS: &str = "tt_dbproxy_shadow_comparisons_total";

/// Writes stored by one group commit, by `backend` (sqlite, mysql).
pub const GROUP_COMMIT_SIZE: &str = "tt_dbproxy_group_commit_size";
/// Calls of one kind (`script`: allocate, apply) carried by one shared
/// send script on MySQL + Redis.
pub const REDIS_SCRIPT_BATCH_SIZE: &str = "tt_dbproxy_redis_script_batch_size";
/// Requests answered by one shared MySQL read (`read`: users, unread).
pub const SHARED_READ_BATCH_SIZE: &str = "tt_dbproxy_shared_read_batch_size";
/// Sends answered with the id of the message they repeat (a resend
/// within `storage.resend_window_s`), by `backend`.
pub const RESENDS: &str = "tt_dbproxy_resends_total";
/// Sends found committed but not yet counted (their process died, or
/// Redis failed, between the commit and the counters), counted by the
/// recovery pass.
pub const SENDS_RECOVERED: &str = "tt_dbproxy_sends_recovered_total";
/// Changes of the Redis master found through Sentinels (each one starts
/// a new epoch: counters are re-seeded on their next use).
pub const REDIS_MASTER_CHANGES: &str = "tt_dbproxy_redis_master_changes_total";
/// Message-id counters re-seeded from MySQL after a Redis master change.
pub const MSG_ID_RESEEDS: &str = "tt_dbproxy_msg_id_reseeds_total";
/// MySQL transactions run again after a conflict rolled them back (a
/// deadlock or a Galera certification failure), by `op` (send, create).
pub const MYSQL_CONFLICT_RETRIES: &str = "tt_dbproxy_mysql_conflict_retries_total";

/// Seconds each MySQL read replica is behind its primary
/// (`Seconds_Behind_Master`), by `replica`; -1 while unknown (SQL thread
/// stopped, or unreachable). Polled every second.
pub const REPLICA_LAG: &str = "tt_dbproxy_mysql_replica_lag_seconds";
/// Whether each replica serves reads (1) or is out of rotation (0:
/// unreachable, SQL thread stopped, or lagging more than
/// `mysql.max_replica_lag_s`), by `replica`.
pub const REPLICA_IN_ROTATION: &str = "tt_dbproxy_mysql_replica_in_rotation";
/// MySQL reads while replicas are configured, by the `pool` that served
/// them (`primary` or a replica's name).
pub const MYSQL_READS: &str = "tt_dbproxy_mysql_reads_total";
/// Reads served by the primary although replicas are configured, by
/// `reason`: `replica_behind` (it had not applied the writes the read
/// must see), `no_replica_in_rotation`, `no_write_positions` (Redis did
/// not answer, so which writes to see is unknown).
pub const READS_ON_PRIMARY: &str = "tt_dbproxy_mysql_reads_on_primary_total";

const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 1000.0];

const LATENCY_BUCKETS: &[f64] = &[
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5,
];

/// How often buffered histogram samples are folded into their buckets:
/// at most this long of samples (about 8 bytes each) is held in memory.
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(1);

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the Prometheus recorder once per process and returns its
/// handle (`None` if another recorder was installed first).
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(REQUEST_SECONDS.to_string()), LATENCY_BUCKETS)
                .ok()?
                .set_buckets_for_metric(
                    Matcher::Full(POOL_ACQUIRE_SECONDS.to_string()),
                    LATENCY_BUCKETS,
                )
                .ok()?
                .set_buckets_for_metric(Matcher::Full(GROUP_COMMIT_SIZE.to_string()), BATCH_BUCKETS)
                .ok()?
                .set_buckets_for_metric(
                    Matcher::Full(REDIS_SCRIPT_BATCH_SIZE.to_string()),
                    BATCH_BUCKETS,
                )
                .ok()?
                .set_buckets_for_metric(
                    Matcher::Full(SHARED_READ_BATCH_SIZE.to_string()),
                    BATCH_BUCKETS,
                )
                .ok()?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            describe();
            register_zero();
            spawn_upkeep(handle.clone());
            Some(handle)
        })
        .as_ref()
}

/// Runs the recorder's upkeep for the life of the process, on a thread of
/// its own so it needs no runtime and keeps going while the runtime is busy.
fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                handle.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        // Without upkeep the samples are folded in at each scrape instead.
        tracing::warn!(error = %e, "cannot start the metrics upkeep thread");
    }
}

/// Every counter and gauge exists from the start, at zero, with the labels
/// it can take where they are known, so dashboards and alerts find their
/// series before the first event (and a test can check the names they
/// use). Histograms appear with their first sample; pool series when the
/// pools are built.
fn register_zero() {
    for result in ["ok", "refused"] {
        metrics::counter!(RELOADS, "result" => result).absolute(0);
    }
    for backend in ["sqlite", "mysql"] {
        metrics::counter!(RESENDS, "backend" => backend).absolute(0);
    }
    metrics::counter!(REDIS_MASTER_CHANGES).absolute(0);
    metrics::counter!(SENDS_RECOVERED).absolute(0);
    metrics::counter!(MSG_ID_RESEEDS).absolute(0);
    for op in ["send", "create"] {
        metrics::counter!(MYSQL_CONFLICT_RETRIES, "op" => op).absolute(0);
    }
    for result in ["ok", "failed", "skipped"] {
        metrics::counter!(SYNC_CYCLES, "result" => result).absolute(0);
    }
    for kind in ["single", "group"] {
        metrics::counter!(MSG_IDS_ALLOCATED, "kind" => kind).absolute(0);
    }
    for name in [
        CONNECTIONS_ACCEPTED,
        FRAMES_IN,
        FRAMES_OUT,
        BYTES_IN,
        BYTES_OUT,
        UNKNOWN_COMMANDS,
        THROTTLE_REJECTIONS,
    ] {
        metrics::counter!(name).absolute(0);
    }
    metrics::counter!(MYSQL_READS, "pool" => "primary").absolute(0);
    for reason in [
        "replica_behind",
        "no_replica_in_rotation",
        "no_write_positions",
    ] {
        metrics::counter!(READS_ON_PRIMARY, "reason" => reason).absolute(0);
    }
    // A placeholder without a `replica` label (0: nothing lags), so the
    // name exists before any replica is polled.
    metrics::gauge!(REPLICA_LAG).set(0.0);
    metrics::gauge!(REPLICA_IN_ROTATION).set(0.0);
    metrics::gauge!(CONNECTIONS_OPEN).increment(0.0);
    metrics::gauge!(BACKEND_READY).set(0.0);
}

fn describe() {
    describe_counter!(REQUESTS, "Requests handled, by command.");
    describe_histogram!(
        REQUEST_SECONDS,
        metrics::Unit::Seconds,
        "Request handling time, by command."
    );
    describe_counter!(STORE_ERRORS, "Storage failures, by kind.");
    describe_counter!(
        DEADLINE_EXCEEDED,
        "Requests that reached their deadline (storage.request_timeout_ms), by command."
    );
    describe_gauge!(CONNECTIONS_OPEN, "Open client connections.");
    describe_counter!(CONNECTIONS_ACCEPTED, "Connections accepted.");
    describe_counter!(
        CONNECTIONS_REFUSED,
        "Connections closed at accept, by reason (limit, per_peer, not_allowed)."
    );
    describe_counter!(
        CONNECTIONS_CLOSED,
        "Served connections that ended, by reason (frame_timeout, idle_timeout, ...)."
    );
    describe_counter!(FRAMES_IN, "Frames received.");
    describe_counter!(FRAMES_OUT, "Frames sent.");
    describe_counter!(BYTES_IN, metrics::Unit::Bytes, "Bytes received.");
    describe_counter!(BYTES_OUT, metrics::Unit::Bytes, "Bytes sent.");
    describe_counter!(UNKNOWN_COMMANDS, "Frames without a handler.");
    describe_counter!(
        THROTTLE_REJECTIONS,
        "Logins refused by the failed-login throttle."
    );
    describe_counter!(
        MSG_IDS_ALLOCATED,
        "Message ids handed out for stored messages, by kind."
    );
    describe_counter!(RELOADS, "Configuration reloads, by result.");
    describe_gauge!(POOL_MAX, "Size limit of each backend pool.");
    describe_gauge!(POOL_IN_USE, "Connections or command slots in use, by pool.");
    describe_histogram!(
        POOL_ACQUIRE_SECONDS,
        metrics::Unit::Seconds,
        "Time spent acquiring a pooled connection or slot."
    );
    describe_counter!(
        SHADOW_COMPARISONS,
        "Reads compared by tt-dbproxy shadow, by command and result."
    );
    describe_counter!(
        SYNC_CYCLES,
        "Sync-center cycles, by result (ok, failed, skipped: another instance holds the lease)."
    );
    describe_gauge!(
        BACKEND_READY,
        "Whether the storage backends answer (1) or not (0), probed every 5 s."
    );
    describe_histogram!(
        GROUP_COMMIT_SIZE,
        "Writes stored by one group commit (storage.batch_max), by backend."
    );
    describe_histogram!(
        REDIS_SCRIPT_BATCH_SIZE,
        "Sends whose id allocation or pending-entry application shared one Redis script call, by script."
    );
    describe_histogram!(
        SHARED_READ_BATCH_SIZE,
        "Requests answered by one shared MySQL read (users by ids, unread summary), by read."
    );
    describe_counter!(
        RESENDS,
        "Sends answered with the id of the stored message they repeat, by backend."
    );
    describe_counter!(
        SENDS_RECOVERED,
        "Sends stored before a crash or a Redis failure and counted afterwards by the recovery pass."
    );
    describe_gauge!(
        REPLICA_LAG,
        metrics::Unit::Seconds,
        "Seconds each MySQL replica is behind (Seconds_Behind_Master); -1 while unknown (SQL thread stopped or unreachable)."
    );
    describe_gauge!(
        REPLICA_IN_ROTATION,
        "Whether each MySQL replica serves reads (1) or is out of rotation (0)."
    );
    describe_counter!(
        MYSQL_READS,
        "MySQL reads while replicas are configured, by the pool that served them."
    );
    describe_counter!(
        READS_ON_PRIMARY,
        "Reads served by the primary although replicas are configured, by reason."
    );
    describe_counter!(
        REDIS_MASTER_CHANGES,
        "Redis master changes seen through the Sentinels (the first resolution counts)."
    );
    describe_counter!(
        MSG_ID_RESEEDS,
        "Message-id counters re-seeded from MySQL after a Redis master change."
    );
    describe_counter!(
        MYSQL_CONFLICT_RETRIES,
        "MySQL transactions run again after a conflict (deadlock, Galera certification), by op."
    );
    describe_counter!(
        POOL_ERRORS,
        "Pool failures (acquire or transport), by pool and kind."
    );
}

/// The current values in Prometheus text format.
pub fn render() -> String {
    install().map(PrometheusHandle::render).unwrap_or_default()
}

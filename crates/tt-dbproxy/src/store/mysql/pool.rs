//! MySQL connection pools: one primary (writes, and reads while no replica
//! is healthy) and any number of read replicas.
//!
//! Every acquire waits at most `acquire_timeout`. An endpoint whose
//! connection attempt fails is taken out for a back-off period that doubles
//! with each consecutive failure (100 ms up to 1 s), so an outage costs one
//! quick error per request instead of a connect storm; the first success
//! puts it back. Reads skip replicas that are out and fall back to the
//! primary.
//!
//! With replicas configured, a background task polls each one's
//! replication every second ([`super::replication`]): a replica whose SQL
//! thread is stopped or that lags more than `mysql.max_replica_lag_s`
//! leaves rotation until a poll finds it replicating and at most that
//! far behind again (not fully caught up). A read that must see a write
//! ([`ReadAt::After`]) goes to a replica only once it has applied that
//! write's GTID position. Without replicas none of this costs anything.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use mysql_async::{Conn, OptsBuilder, Pool, PoolConstraints, PoolOpts};
use tracing::warn;

use super::error::map_err;
use super::gtid::GtidPos;
use super::read_at::{self, ReadAt};
use super::replication::{self, POLL_INTERVAL, ReplicaState};
use crate::config::{MysqlConfig, MysqlEndpoint};
use crate::rate_log::RateLimited;
use crate::store::backoff::Backoff;
use crate::store::pool_stats::{InUse, PoolStats};
use crate::store::{StoreError, StoreResult};

/// How long an idle pooled connection is kept above the minimum.
const IDLE_TTL: Duration = Duration::from_secs(60);

/// One MySQL server with its pool and health.
struct Endpoint {
    config: MysqlEndpoint,
    label: String,
    pool: Pool,
    health: Backoff,
    stats: PoolStats,
    /// One "connect failed" line a second at most.
    connect_log: RateLimited,
    /// Replication as last polled (replicas only).
    repl: ReplicaState,
}

/// Where and as whom to connect to `e`; with its database selected or
/// (`with_db` false, to create it) none.
pub(crate) fn endpoint_opts(e: &MysqlEndpoint, with_db: bool) -> OptsBuilder {
    OptsBuilder::default()
        .ip_or_hostname(e.host.clone())
        .tcp_port(e.port)
        .user(Some(e.user.clone()))
        .pass(Some(e.password.clone()))
        .db_name(with_db.then(|| e.database.clone()))
        .prefer_socket(false)
}

/// A pooled connection; counted as in use until dropped (then it goes
/// back to its pool).
pub struct PooledConn {
    conn: Conn,
    _in_use: InUse,
}

impl std::ops::Deref for PooledConn {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.conn
    }
}

impl std::ops::DerefMut for PooledConn {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.conn
    }
}

impl Endpoint {
    fn new(e: &MysqlEndpoint) -> Self {
        let max = e.max_connections.max(1);
        // Keep two warm connections (as the original does) and reuse idle
        // ones for a minute; without a TTL the driver closes every
        // connection above the minimum as soon as it is returned.
        // No COM_RESET_CONNECTION on return: it costs a round trip and
        // empties the prepared-statement cache, so every statement would be
        // prepared again. Nothing here leaves session state behind (the
        // driver rolls back open transactions itself); a connection holding
        // a named lock opts back in (`message::lock`).
        let constraints = PoolConstraints::new(max.min(2), max).unwrap_or_default();
        let opts = endpoint_opts(e, true)
            .client_found_rows(false)
            .stmt_cache_size(256)
            .init(vec!["SET NAMES utf8mb4"])
            .pool_opts(
                PoolOpts::default()
                    .with_constraints(constraints)
                    .with_reset_connection(false)
                    .with_inactive_connection_ttl(IDLE_TTL),
            );
        Self {
            config: e.clone(),
            label: format!("{}({}:{}/{})", e.name, e.host, e.port, e.database),
            pool: Pool::new(opts),
            health: Backoff::default(),
            stats: PoolStats::new("mysql", &e.name, max),
            connect_log: RateLimited::new("mysql connect failed"),
            repl: ReplicaState::new(&e.name),
        }
    }

    fn is_out(&self) -> bool {
        self.health.is_out()
    }

    async fn conn(&self, wait: Duration) -> StoreResult<PooledConn> {
        if self.is_out() {
            self.stats.failed("backoff");
            return Err(StoreError::Unavailable(format!(
                "{} is backing off after failures",
                self.label
            )));
        }
        let started = Instant::now();
        match tokio::time::timeout(wait, self.pool.get_conn()).await {
            Ok(Ok(conn)) => {
                self.health.succeeded();
                Ok(PooledConn {
                    conn,
                    _in_use: self.stats.acquired(started.elapsed()),
                })
            }
            Ok(Err(e)) => {
                self.stats.failed("connect");
                let backoff = self.health.failed();
                crate::warn_limited!(self.connect_log, endpoint = %self.label, error = %e, backoff_ms = backoff.as_millis() as u64, "mysql connect failed");
                Err(map_err(e))
            }
            Err(_) => {
                self.stats.failed("timeout");
                Err(StoreError::Unavailable(format!(
                    "no connection to {} within {} ms",
                    self.label,
                    wait.as_millis()
                )))
            }
        }
    }

    /// Closes the pool once its connections are back, in the background
    /// (an endpoint replaced by a reload).
    fn retire(self: Arc<Self>) {
        tokio::spawn(async move {
            if let Err(err) = self.pool.clone().disconnect().await {
                warn!(endpoint = %self.label, error = %err, "retired mysql pool did not close cleanly");
            }
        });
    }
}

/// The replicas and what the poller needs of the settings.
struct Replicas {
    list: ArcSwap<Vec<Arc<Endpoint>>>,
    wait_ms: AtomicU64,
    max_lag_s: AtomicU64,
}

impl Replicas {
    fn wait(&self) -> Duration {
        Duration::from_millis(self.wait_ms.load(Ordering::Relaxed))
    }

    /// Polls every replica once.
    async fn poll(&self) {
        let max_lag = self.max_lag_s.load(Ordering::Relaxed);
        let list = self.list.load_full();
        for r in list.iter() {
            let polled = tokio::time::timeout(POLL_INTERVAL + self.wait(), async {
                let mut c = r.conn(self.wait()).await?;
                r.repl.poll(&mut c, max_lag).await
            })
            .await;
            match polled {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::debug!(replica = %r.label, error = %e, "replica status not read");
                    r.repl.unreachable();
                }
                Err(_) => r.repl.unreachable(),
            }
        }
    }
}

/// Polls the replicas every [`POLL_INTERVAL`] until the pools are dropped.
async fn poll_replicas(replicas: Weak<Replicas>) {
    loop {
        let Some(r) = replicas.upgrade() else { return };
        r.poll().await;
        drop(r);
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// The primary and the replicas.
pub struct MysqlPools {
    primary: ArcSwap<Endpoint>,
    replicas: Arc<Replicas>,
    next_replica: AtomicUsize,
    wait_ms: AtomicU64,
    poller_started: AtomicBool,
}

impl MysqlPools {
    /// Pools for `cfg`; no connection is opened until first use, so the
    /// server starts while MySQL is down.
    pub fn new(cfg: &MysqlConfig, acquire_timeout: Duration) -> Self {
        Self {
            primary: ArcSwap::from_pointee(Endpoint::new(&cfg.primary)),
            replicas: Arc::new(Replicas {
                list: ArcSwap::from_pointee(
                    cfg.replicas
                        .iter()
                        .map(|r| Arc::new(Endpoint::new(r)))
                        .collect(),
                ),
                wait_ms: AtomicU64::new(millis(acquire_timeout)),
                max_lag_s: AtomicU64::new(cfg.max_replica_lag_s),
            }),
            next_replica: AtomicUsize::new(0),
            wait_ms: AtomicU64::new(millis(acquire_timeout)),
            poller_started: AtomicBool::new(false),
        }
    }

    /// Whether any replica is configured: without one, reads need no
    /// write positions at all.
    pub fn has_replicas(&self) -> bool {
        !self.replicas.list.load().is_empty()
    }

    /// Starts the replica poller once, when replicas exist and a runtime
    /// runs (at the first read or write that finds replicas).
    pub fn ensure_poller(&self) {
        if self.poller_started.load(Ordering::Relaxed) || !self.has_replicas() {
            return;
        }
        if tokio::runtime::Handle::try_current().is_ok()
            && !self.poller_started.swap(true, Ordering::Relaxed)
        {
            tokio::spawn(poll_replicas(Arc::downgrade(&self.replicas)));
        }
    }

    /// The primary's binlog position, read after a write: what a later
    /// read must find applied on a replica.
    pub async fn write_position(&self) -> StoreResult<GtidPos> {
        let mut c = self.primary().await?;
        replication::binlog_position(&mut c).await
    }

    /// `(name, lag seconds or -1, in rotation)` of each replica, as last
    /// polled.
    pub fn replica_status(&self) -> Vec<(String, i64, bool)> {
        self.replicas
            .list
            .load()
            .iter()
            .map(|r| (r.config.name.clone(), r.repl.lag(), r.repl.in_rotation()))
            .collect()
    }

    fn wait(&self) -> Duration {
        Duration::from_millis(self.wait_ms.load(Ordering::Relaxed))
    }

    /// Applies a reloaded configuration: the acquire timeout, new pool
    /// sizes (a resized pool is replaced; its connections finish their
    /// work and close) and the replica list. The primary's address is not
    /// reloadable and is kept.
    pub fn reconfigure(&self, cfg: &MysqlConfig, acquire_timeout: Duration) {
        self.wait_ms
            .store(millis(acquire_timeout), Ordering::Relaxed);
        self.replicas
            .wait_ms
            .store(millis(acquire_timeout), Ordering::Relaxed);
        self.replicas
            .max_lag_s
            .store(cfg.max_replica_lag_s, Ordering::Relaxed);
        let primary = self.primary.load_full();
        if primary.config.max_connections != cfg.primary.max_connections {
            let config = MysqlEndpoint {
                max_connections: cfg.primary.max_connections,
                ..primary.config.clone()
            };
            self.primary.store(Arc::new(Endpoint::new(&config)));
            primary.retire();
        }
        let mut old: Vec<Arc<Endpoint>> = self.replicas.list.load_full().iter().cloned().collect();
        let replicas: Vec<Arc<Endpoint>> = cfg
            .replicas
            .iter()
            .map(|want| match old.iter().position(|e| e.config == *want) {
                Some(i) => old.swap_remove(i),
                None => Arc::new(Endpoint::new(want)),
            })
            .collect();
        self.replicas.list.store(Arc::new(replicas));
        self.ensure_poller();
        for gone in old {
            gone.retire();
        }
    }

    /// A connection to the primary (writes, and reads that must see them).
    pub async fn primary(&self) -> StoreResult<PooledConn> {
        self.primary.load_full().conn(self.wait()).await
    }

    /// A connection for a read, routed by the current [`ReadAt`]: a
    /// replica in rotation (that has applied the position to see, if
    /// any), else the primary.
    pub async fn replica(&self) -> StoreResult<PooledConn> {
        let replicas = self.replicas.list.load_full();
        let n = replicas.len();
        if n == 0 {
            return self.primary().await;
        }
        self.ensure_poller();
        let at = read_at::current();
        if at == ReadAt::Primary {
            return self.primary_read("no_write_positions").await;
        }
        let start = self.next_replica.fetch_add(1, Ordering::Relaxed);
        let mut reason = "no_replica_in_rotation";
        for i in 0..n {
            let r = &replicas[(start + i) % n];
            if r.is_out() || !r.repl.in_rotation() {
                continue;
            }
            let mut c = match r.conn(self.wait()).await {
                Ok(c) => c,
                Err(e) => {
                    warn!(error = %e, "replica unusable; trying the next one");
                    continue;
                }
            };
            if let ReadAt::After(pos) = &at {
                match r.repl.caught_up(&mut c, pos).await {
                    Ok(true) => {}
                    Ok(false) => {
                        // One wait per read at most: the primary has it.
                        reason = "replica_behind";
                        break;
                    }
                    Err(e) => {
                        warn!(error = %e, "replica position not checked; trying the next one");
                        continue;
                    }
                }
            }
            metrics::counter!(crate::metrics::MYSQL_READS, "pool" => r.config.name.clone())
                .increment(1);
            return Ok(c);
        }
        self.primary_read(reason).await
    }

    /// A read served by the primary although replicas exist, counted by
    /// why.
    async fn primary_read(&self, reason: &'static str) -> StoreResult<PooledConn> {
        metrics::counter!(crate::metrics::MYSQL_READS, "pool" => "primary").increment(1);
        metrics::counter!(crate::metrics::READS_ON_PRIMARY, "reason" => reason).increment(1);
        self.primary().await
    }

    /// Closes every pool.
    pub async fn disconnect(&self) {
        let primary = self.primary.load_full();
        let replicas = self.replicas.list.load_full();
        for e in std::iter::once(&primary).chain(replicas.iter()) {
            if let Err(err) = e.pool.clone().disconnect().await {
                warn!(endpoint = %e.label, error = %err, "mysql pool did not close cleanly");
            }
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

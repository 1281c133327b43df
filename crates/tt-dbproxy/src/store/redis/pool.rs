//! [`RedisPool`]: one named pool: a multiplexed connection opened on first
//! use (so the server starts while Redis is down), a limit of
//! `maxconncnt` commands in flight whose wait is bounded, and reconnects
//! with exponential back-off. The database is selected while connecting,
//! so a failed `SELECT` is a failed connect (the original silently used
//! db 0).
//!
//! Every wait (a permit, a connect, a reply) ends at the request's deadline
//! ([`crate::deadline`]). A command cut off by it leaves the shared
//! connection in an unknown state (a reply may still arrive, or never), so
//! the connection is marked stale and the next lease opens a fresh one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, FromRedisValue, RedisError};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::sentinel::{MasterTracker, master_client};
use crate::config::RedisPool as RedisPoolConfig;
use crate::deadline;
use crate::rate_log::RateLimited;
use crate::store::backoff::Backoff;
use crate::store::pool_stats::{InUse, PoolStats};
use crate::store::{StoreError, StoreResult};

/// The driver's own limit on a reply, a safety net under the request
/// deadline (which normally ends a wait first).
const RESPONSE_TIMEOUT: Duration = deadline::UNSCOPED_TIMEOUT;

/// Where a pool connects.
enum Target {
    /// One fixed server (`redis.url`, or a legacy pool's address).
    Fixed(redis::Client),
    /// The master the Sentinels name, with the pool's db and password.
    Sentinel {
        tracker: Arc<MasterTracker>,
        db: u32,
        password: Option<String>,
    },
}

/// One named Redis pool.
pub struct RedisPool {
    label: String,
    target: Target,
    /// The connection and the master epoch it was opened in (0 for a
    /// fixed server).
    conn: tokio::sync::Mutex<Option<(MultiplexedConnection, u64)>>,
    /// The epoch of the last failed connect: a new epoch skips the
    /// back-off (the new master is worth trying at once).
    failed_epoch: AtomicU64,
    /// Set when a command was cut off mid-flight: the connection is
    /// replaced at the next lease.
    stale: AtomicBool,
    permits: Arc<Semaphore>,
    /// The size `permits` was last set to.
    max: AtomicUsize,
    wait_ms: AtomicU64,
    health: Backoff,
    stats: PoolStats,
    /// One "connect failed" line a second at most.
    connect_log: RateLimited,
}

/// A pool size as a semaphore size: at least 1.
fn slots(max_connections: usize) -> usize {
    max_connections.clamp(1, Semaphore::MAX_PERMITS)
}

/// A connection lent for a few commands, holding one of the pool's permits.
pub struct Lease<'a> {
    pool: &'a RedisPool,
    conn: MultiplexedConnection,
    /// The master epoch of `conn` (0 for a fixed server).
    epoch: u64,
    /// A command is on the wire and its reply not read yet; if the lease
    /// is dropped in this state (the request's deadline cut it off) the
    /// connection is marked stale.
    in_flight: bool,
    _permit: SemaphorePermit<'a>,
    _in_use: InUse,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if self.in_flight {
            self.pool.stats.failed("deadline");
            self.pool.stale.store(true, Ordering::Relaxed);
        }
    }
}

impl RedisPool {
    /// A pool for `cfg`; nothing is opened yet.
    pub fn new(
        cfg: &RedisPoolConfig,
        wait: Duration,
        tracker: Option<&Arc<MasterTracker>>,
    ) -> StoreResult<Self> {
        let (target, label) = match tracker {
            None => {
                let client = master_client(&cfg.host, cfg.port, cfg.password.as_deref(), cfg.db)
                    .map_err(|e| {
                        StoreError::Unavailable(format!("redis pool {}: {e}", cfg.name))
                    })?;
                (
                    Target::Fixed(client),
                    format!("{}({}:{}/{})", cfg.name, cfg.host, cfg.port, cfg.db),
                )
            }
            Some(t) => (
                Target::Sentinel {
                    tracker: t.clone(),
                    db: cfg.db,
                    password: cfg.password.clone(),
                },
                format!("{}(sentinel master/{})", cfg.name, cfg.db),
            ),
        };
        let max = slots(cfg.max_connections);
        Ok(Self {
            label,
            target,
            conn: tokio::sync::Mutex::new(None),
            failed_epoch: AtomicU64::new(0),
            stale: AtomicBool::new(false),
            permits: Arc::new(Semaphore::new(max)),
            max: AtomicUsize::new(max),
            wait_ms: AtomicU64::new(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)),
            health: Backoff::default(),
            stats: PoolStats::new("redis", &cfg.name, max),
            connect_log: RateLimited::new("redis connect failed"),
        })
    }

    /// Applies a reloaded size and acquire timeout; commands in flight
    /// keep their slots.
    pub fn reconfigure(&self, max_connections: usize, wait: Duration) {
        self.wait_ms.store(
            u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        let to = slots(max_connections);
        let from = self.max.swap(to, Ordering::Relaxed);
        if from != to {
            crate::semaphore::resize(&self.permits, from, to);
            self.stats.set_max(to);
        }
    }

    fn wait(&self) -> Duration {
        Duration::from_millis(self.wait_ms.load(Ordering::Relaxed))
    }

    fn note_failure(&self, e: &dyn std::fmt::Display, epoch: u64) {
        self.failed_epoch.store(epoch, Ordering::Relaxed);
        self.stats.failed("connect");
        let backoff = self.health.failed();
        crate::warn_limited!(self.connect_log, pool = %self.label, error = %e, backoff_ms = backoff.as_millis() as u64, "redis connect failed");
    }

    /// Runs a Lua script run for its effects (it answers a number, which
    /// is dropped) on a leased connection.
    pub async fn run_script(&self, invocation: &redis::ScriptInvocation<'_>) -> StoreResult<()> {
        self.lease()
            .await?
            .script::<i64>(invocation)
            .await
            .map(drop)
    }

    /// Borrows the connection, waiting at most the acquire timeout for a
    /// permit and for (re)connecting.
    pub async fn lease(&self) -> StoreResult<Lease<'_>> {
        let end = deadline::effective();
        let wait = self
            .wait()
            .min(end.saturating_duration_since(tokio::time::Instant::now()));
        let started = Instant::now();
        let permit = tokio::time::timeout(wait, self.permits.acquire())
            .await
            .map_err(|_| {
                self.stats.failed("timeout");
                StoreError::Unavailable(format!(
                    "redis pool {} busy for {} ms",
                    self.label,
                    wait.as_millis()
                ))
            })?
            .map_err(|_| StoreError::Unavailable(format!("redis pool {} closed", self.label)))?;
        let mut slot = tokio::time::timeout_at(end, self.conn.lock())
            .await
            .map_err(|_| deadline::expired("a redis connect"))?;
        if self.stale.swap(false, Ordering::Relaxed) {
            *slot = None;
        }
        let epoch_now = self.epoch();
        if slot.as_ref().is_some_and(|(_, e)| *e != epoch_now) {
            *slot = None; // opened under an earlier master
        }
        if let Some((conn, epoch)) = slot.as_ref() {
            return Ok(Lease {
                pool: self,
                conn: conn.clone(),
                epoch: *epoch,
                in_flight: false,
                _permit: permit,
                _in_use: self.stats.acquired(started.elapsed()),
            });
        }
        let moved_on = epoch_now != self.failed_epoch.load(Ordering::Relaxed);
        if self.health.is_out() && !(matches!(self.target, Target::Sentinel { .. }) && moved_on) {
            self.stats.failed("backoff");
            return Err(StoreError::Unavailable(format!(
                "redis pool {} is backing off after failures",
                self.label
            )));
        }
        let wait = wait.min(end.saturating_duration_since(tokio::time::Instant::now()));
        let (client, epoch) = match &self.target {
            Target::Fixed(c) => (c.clone(), 0),
            Target::Sentinel {
                tracker,
                db,
                password,
            } => {
                let (host, port, epoch) = tracker.master(wait).await.inspect_err(|e| {
                    self.note_failure(e, epoch_now);
                })?;
                (master_client(&host, port, password.as_deref(), *db)?, epoch)
            }
        };
        let cfg = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(wait))
            .set_response_timeout(Some(RESPONSE_TIMEOUT));
        let outcome = tokio::time::timeout(
            wait,
            client.get_multiplexed_async_connection_with_config(&cfg),
        )
        .await;
        let failure = match outcome {
            Ok(Ok(conn)) => {
                self.health.succeeded();
                *slot = Some((conn.clone(), epoch));
                return Ok(Lease {
                    pool: self,
                    conn,
                    epoch,
                    in_flight: false,
                    _permit: permit,
                    _in_use: self.stats.acquired(started.elapsed()),
                });
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => "connect timed out".to_string(),
        };
        self.note_failure(&failure, epoch);
        self.invalidate_master(epoch);
        Err(StoreError::Unavailable(format!(
            "redis pool {}: {failure}",
            self.label
        )))
    }

    /// The master epoch connections must belong to (0 for a fixed
    /// server).
    fn epoch(&self) -> u64 {
        match &self.target {
            Target::Fixed(_) => 0,
            Target::Sentinel { tracker, .. } => tracker.epoch(),
        }
    }

    /// After a failure on a connection of `epoch`: the Sentinels are asked
    /// again at the next connect.
    fn invalidate_master(&self, epoch: u64) {
        if let Target::Sentinel { tracker, .. } = &self.target {
            tracker.invalidate(epoch);
        }
    }

    /// Drops the shared connection after a transport failure so the next
    /// lease reconnects.
    async fn forget_connection(&self) {
        *self.conn.lock().await = None;
    }
}

impl Lease<'_> {
    /// The master epoch of this lease's connection (0 for a fixed
    /// server): an id taken from a connection of an earlier epoch than
    /// the guard expected is not handed out.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    async fn fail(&self, e: RedisError) -> StoreError {
        // READONLY: the server was demoted to a replica under us.
        if e.is_io_error()
            || e.is_connection_dropped()
            || e.is_timeout()
            || e.is_unrecoverable_error()
            || e.code() == Some("READONLY")
        {
            self.pool.stats.failed("transport");
            self.pool.forget_connection().await;
            self.pool.invalidate_master(self.epoch);
            StoreError::Unavailable(format!("redis pool {}: {e}", self.pool.label))
        } else {
            StoreError::Query(format!("redis pool {}: {e}", self.pool.label))
        }
    }

    /// Waits for one round trip until the deadline; cut off, the
    /// connection is marked stale.
    async fn round_trip<T>(
        &mut self,
        what: &str,
        call: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> StoreResult<T> {
        self.in_flight = true;
        let outcome = tokio::time::timeout_at(deadline::effective(), call).await;
        self.in_flight = false;
        match outcome {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.fail(e).await),
            Err(_) => {
                self.pool.stats.failed("deadline");
                self.pool.stale.store(true, Ordering::Relaxed);
                Err(deadline::expired(what))
            }
        }
    }

    /// Runs one command.
    pub async fn cmd<T: FromRedisValue>(&mut self, cmd: &redis::Cmd) -> StoreResult<T> {
        let mut conn = self.conn.clone();
        self.round_trip("a redis command", cmd.query_async(&mut conn))
            .await
    }

    /// Runs a pipeline (atomic when built with `.atomic()`).
    pub async fn pipe<T: FromRedisValue>(&mut self, pipe: &redis::Pipeline) -> StoreResult<T> {
        let mut conn = self.conn.clone();
        self.round_trip("a redis pipeline", pipe.query_async(&mut conn))
            .await
    }

    /// Runs a Lua script (atomic on the server).
    pub async fn script<T: FromRedisValue>(
        &mut self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> StoreResult<T> {
        let mut conn = self.conn.clone();
        self.round_trip("a redis script", invocation.invoke_async(&mut conn))
            .await
    }
}

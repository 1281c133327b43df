//! MySQL connection pools: one primary (writes, and reads while no replica
//! is healthy) and any number of read replicas.
//!
//! Every acquire waits at most `acquire_timeout`. An endpoint whose
//! connection attempt fails is taken out for a back-off period that doubles
//! with each consecutive failure (100 ms up to 5 s), so an outage costs one
//! quick error per request instead of a connect storm; the first success
//! puts it back. Reads skip replicas that are out and fall back to the
//! primary.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mysql_async::{Conn, OptsBuilder, Pool, PoolConstraints, PoolOpts};
use tracing::warn;

use crate::config::{MysqlConfig, MysqlEndpoint};
use crate::store::backoff::Backoff;
use crate::store::{StoreError, StoreResult};

/// How long an idle pooled connection is kept above the minimum.
const IDLE_TTL: Duration = Duration::from_secs(60);

/// One MySQL server with its pool and health.
struct Endpoint {
    label: String,
    pool: Pool,
    health: Backoff,
}

/// Maps a driver error: transport problems mean "unavailable", server
/// errors mean the statement failed.
pub(crate) fn map_err(e: mysql_async::Error) -> StoreError {
    match e {
        mysql_async::Error::Server(s) => StoreError::Query(s.to_string()),
        other => StoreError::Unavailable(other.to_string()),
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
        let opts = OptsBuilder::default()
            .ip_or_hostname(e.host.clone())
            .tcp_port(e.port)
            .user(Some(e.user.clone()))
            .pass(Some(e.password.clone()))
            .db_name(Some(e.database.clone()))
            .prefer_socket(false)
            .client_found_rows(false)
            .stmt_cache_size(64)
            .init(vec!["SET NAMES utf8mb4"])
            .pool_opts(
                PoolOpts::default()
                    .with_constraints(constraints)
                    .with_reset_connection(false)
                    .with_inactive_connection_ttl(IDLE_TTL),
            );
        Self {
            label: format!("{}({}:{}/{})", e.name, e.host, e.port, e.database),
            pool: Pool::new(opts),
            health: Backoff::default(),
        }
    }

    fn is_out(&self) -> bool {
        self.health.is_out()
    }

    async fn conn(&self, wait: Duration) -> StoreResult<Conn> {
        if self.is_out() {
            return Err(StoreError::Unavailable(format!(
                "{} is backing off after failures",
                self.label
            )));
        }
        match tokio::time::timeout(wait, self.pool.get_conn()).await {
            Ok(Ok(conn)) => {
                self.health.succeeded();
                Ok(conn)
            }
            Ok(Err(e)) => {
                let backoff = self.health.failed();
                warn!(endpoint = %self.label, error = %e, backoff_ms = backoff.as_millis() as u64, "mysql connect failed");
                Err(map_err(e))
            }
            Err(_) => Err(StoreError::Unavailable(format!(
                "no connection to {} within {} ms",
                self.label,
                wait.as_millis()
            ))),
        }
    }
}

/// The primary and the replicas.
pub struct MysqlPools {
    primary: Endpoint,
    replicas: Vec<Endpoint>,
    next_replica: AtomicUsize,
    wait: Duration,
}

impl MysqlPools {
    /// Pools for `cfg`; no connection is opened until first use, so the
    /// server starts while MySQL is down.
    pub fn new(cfg: &MysqlConfig, acquire_timeout: Duration) -> Self {
        Self {
            primary: Endpoint::new(&cfg.primary),
            replicas: cfg.replicas.iter().map(Endpoint::new).collect(),
            next_replica: AtomicUsize::new(0),
            wait: acquire_timeout,
        }
    }

    /// A connection to the primary (writes, and reads that must see them).
    pub async fn primary(&self) -> StoreResult<Conn> {
        self.primary.conn(self.wait).await
    }

    /// A connection for a read: a healthy replica, else the primary.
    pub async fn replica(&self) -> StoreResult<Conn> {
        let n = self.replicas.len();
        if n > 0 {
            let start = self.next_replica.fetch_add(1, Ordering::Relaxed);
            for i in 0..n {
                let r = &self.replicas[(start + i) % n];
                if r.is_out() {
                    continue;
                }
                match r.conn(self.wait).await {
                    Ok(c) => return Ok(c),
                    Err(e) => warn!(error = %e, "replica unusable; trying the next one"),
                }
            }
        }
        self.primary().await
    }

    /// Closes every pool.
    pub async fn disconnect(&self) {
        for e in std::iter::once(&self.primary).chain(&self.replicas) {
            if let Err(err) = e.pool.clone().disconnect().await {
                warn!(endpoint = %e.label, error = %err, "mysql pool did not close cleanly");
            }
        }
    }
}

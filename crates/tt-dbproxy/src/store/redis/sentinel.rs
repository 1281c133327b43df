//! [`MasterTracker`]: the Redis master as the Sentinels name it
//! (`redis.sentinels` + `redis.sentinel_master`), shared by every pool.
//!
//! The master is resolved on first use, again after a connection error
//! (a pool calls [`MasterTracker::invalidate`]) and whenever a Sentinel
//! publishes `+switch-master` for our master name (a watcher task
//! subscribed to one Sentinel at a time). A Sentinel's answer is trusted
//! only once `ROLE` on that server says `master`, so nothing is ever read
//! from or written to a replica.
//!
//! Each time the resolved master differs from the previous one (another
//! address, or the same address with another `run_id`: a restart that may
//! have lost data) the *epoch* goes up. Pools reconnect when the epoch
//! moves, and the message-id guard ([`super::reseed`]) re-seeds every
//! counter on its first use in a new epoch. The first resolution is
//! epoch 1, so a process started after a failover re-seeds too.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ConnectionAddr, IntoConnectionInfo, RedisConnectionInfo};
use tokio::task::JoinHandle;

use crate::config::SentinelConfig;
use crate::rate_log::RateLimited;
use crate::store::{StoreError, StoreResult};

/// Longest wait for one Sentinel or candidate master while resolving.
const PER_SERVER: Duration = Duration::from_millis(500);
/// Pause before the watcher tries the next Sentinel.
const WATCH_RETRY: Duration = Duration::from_millis(300);
/// The Sentinel channel announcing a completed failover.
const SWITCH_CHANNEL: &str = "+switch-master";

static RESOLVE_FAILED: RateLimited = RateLimited::new("redis master not resolved");

/// One resolved master.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Master {
    host: String,
    port: u16,
    run_id: String,
}

#[derive(Default)]
struct State {
    /// The master to connect to; `None` until resolved or after an
    /// invalidation.
    current: Option<Master>,
    /// The last master ever resolved, to tell a change from a reconnect.
    last: Option<Master>,
}

/// The current Redis master behind the Sentinels and its epoch.
pub struct MasterTracker {
    cfg: SentinelConfig,
    /// AUTH of the Redis servers (for the `ROLE` check).
    redis_password: Option<String>,
    state: Mutex<State>,
    epoch: AtomicU64,
    /// One resolution at a time; the others wait and reuse its answer.
    resolving: tokio::sync::Mutex<()>,
    watcher: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for MasterTracker {
    fn drop(&mut self) {
        if let Some(w) = self.lock_watcher().take() {
            w.abort();
        }
    }
}

fn client(host: &str, port: u16, password: Option<&str>, db: i64) -> StoreResult<redis::Client> {
    let mut redis = RedisConnectionInfo::default().set_db(db);
    if let Some(p) = password {
        redis = redis.set_password(p);
    }
    let info = ConnectionAddr::Tcp(host.to_string(), port)
        .into_connection_info()
        .map_err(|e| StoreError::Unavailable(format!("redis {host}:{port}: {e}")))?
        .set_redis_settings(redis);
    redis::Client::open(info)
        .map_err(|e| StoreError::Unavailable(format!("redis {host}:{port}: {e}")))
}

/// Opens a client to a server named by the Sentinels: `host:port` with
/// the pool's password and db.
pub(crate) fn master_client(
    host: &str,
    port: u16,
    password: Option<&str>,
    db: u32,
) -> StoreResult<redis::Client> {
    client(host, port, password, i64::from(db))
}

async fn connect(c: &redis::Client, wait: Duration) -> Result<MultiplexedConnection, String> {
    let cfg = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(wait))
        .set_response_timeout(Some(wait));
    match tokio::time::timeout(wait, c.get_multiplexed_async_connection_with_config(&cfg)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("connect timed out".into()),
    }
}

/// `run_id` from `INFO server`.
fn run_id(info: &str) -> Option<String> {
    info.lines()
        .find_map(|l| l.strip_prefix("run_id:"))
        .map(|v| v.trim().to_string())
}

impl MasterTracker {
    /// A tracker for `cfg`; nothing connects until the first use.
    pub fn new(cfg: SentinelConfig, redis_password: Option<String>) -> Arc<Self> {
        Arc::new(Self {
            cfg,
            redis_password,
            state: Mutex::new(State::default()),
            epoch: AtomicU64::new(0),
            resolving: tokio::sync::Mutex::new(()),
            watcher: Mutex::new(None),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Two plain fields: a panic elsewhere cannot leave them invalid.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_watcher(&self) -> std::sync::MutexGuard<'_, Option<JoinHandle<()>>> {
        self.watcher.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many times the master has changed (0: never resolved).
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// The master's address and its epoch, resolving it (within `wait`)
    /// when unknown. Starts the `+switch-master` watcher on first use.
    pub async fn master(self: &Arc<Self>, wait: Duration) -> StoreResult<(String, u16, u64)> {
        self.start_watcher();
        if let Some(m) = self.lock().current.clone() {
            return Ok((m.host, m.port, self.epoch()));
        }
        let _one = tokio::time::timeout(wait, self.resolving.lock())
            .await
            .map_err(|_| StoreError::Unavailable("redis master is being resolved".into()))?;
        if let Some(m) = self.lock().current.clone() {
            return Ok((m.host, m.port, self.epoch()));
        }
        match tokio::time::timeout(wait, self.resolve()).await {
            Ok(Ok((m, epoch))) => Ok((m.host, m.port, epoch)),
            Ok(Err(e)) => {
                crate::warn_limited!(RESOLVE_FAILED, master = %self.cfg.master, error = %e, "redis master not resolved");
                Err(e)
            }
            Err(_) => Err(StoreError::Unavailable(format!(
                "redis master {} not resolved within {} ms",
                self.cfg.master,
                wait.as_millis()
            ))),
        }
    }

    /// Forgets the master after a connection error on a connection of
    /// `epoch`, so the next use asks the Sentinels again. An error on a
    /// connection of an older epoch changes nothing.
    pub fn invalidate(&self, epoch: u64) {
        if epoch == self.epoch() {
            self.lock().current = None;
        }
    }

    /// Asks the Sentinels in order; the first answer whose server says
    /// `ROLE master` wins. Bumps the epoch when it differs from the last.
    async fn resolve(&self) -> StoreResult<(Master, u64)> {
        let mut why = Vec::new();
        for (host, port) in &self.cfg.sentinels {
            match self.ask(host, *port).await {
                Ok(m) => {
                    let mut s = self.lock();
                    let epoch = if s.last.as_ref() == Some(&m) {
                        self.epoch()
                    } else {
                        let e = self.epoch.fetch_add(1, Ordering::AcqRel) + 1;
                        tracing::warn!(master = %self.cfg.master, host = %m.host, port = m.port, run_id = %m.run_id, epoch = e, "redis master changed");
                        metrics::counter!(crate::metrics::REDIS_MASTER_CHANGES).increment(1);
                        e
                    };
                    s.last = Some(m.clone());
                    s.current = Some(m.clone());
                    return Ok((m, epoch));
                }
                Err(e) => why.push(format!("{host}:{port}: {e}")),
            }
        }
        Err(StoreError::Unavailable(format!(
            "no Sentinel names a reachable master {}: {}",
            self.cfg.master,
            why.join("; ")
        )))
    }

    /// One Sentinel's master, checked with `ROLE` and identified by
    /// `run_id`.
    async fn ask(&self, host: &str, port: u16) -> Result<Master, String> {
        let sentinel =
            client(host, port, self.cfg.password.as_deref(), 0).map_err(|e| e.to_string())?;
        let mut conn = connect(&sentinel, PER_SERVER).await?;
        let addr: Option<(String, String)> = redis::cmd("SENTINEL")
            .arg("get-master-addr-by-name")
            .arg(&self.cfg.master)
            .query_async(&mut conn)
            .await
            .map_err(|e| e.to_string())?;
        let (mhost, mport) = addr.ok_or_else(|| "does not know the master name".to_string())?;
        let mport: u16 = mport.parse().map_err(|_| format!("named port {mport:?}"))?;
        let candidate =
            client(&mhost, mport, self.redis_password.as_deref(), 0).map_err(|e| e.to_string())?;
        let mut conn = connect(&candidate, PER_SERVER)
            .await
            .map_err(|e| format!("master {mhost}:{mport}: {e}"))?;
        let role: Vec<redis::Value> = redis::cmd("ROLE")
            .query_async(&mut conn)
            .await
            .map_err(|e| format!("master {mhost}:{mport}: ROLE: {e}"))?;
        let is_master = matches!(role.first(), Some(redis::Value::BulkString(b)) if b == b"master");
        if !is_master {
            return Err(format!("{mhost}:{mport} is not a master (yet)"));
        }
        let info: String = redis::cmd("INFO")
            .arg("server")
            .query_async(&mut conn)
            .await
            .map_err(|e| format!("master {mhost}:{mport}: INFO: {e}"))?;
        Ok(Master {
            host: mhost,
            port: mport,
            run_id: run_id(&info).unwrap_or_default(),
        })
    }

    /// A `+switch-master` for our name: resolve again now.
    async fn switched(&self) {
        let _one = self.resolving.lock().await;
        self.lock().current = None;
        if let Ok(Err(e)) = tokio::time::timeout(PER_SERVER * 4, self.resolve()).await {
            crate::warn_limited!(RESOLVE_FAILED, master = %self.cfg.master, error = %e, "redis master not resolved after +switch-master");
        }
    }

    fn start_watcher(self: &Arc<Self>) {
        let mut w = self.lock_watcher();
        if w.is_some() {
            return;
        }
        let me = Arc::downgrade(self);
        let sentinels = self.cfg.sentinels.clone();
        let password = self.cfg.password.clone();
        let name = self.cfg.master.clone();
        *w = Some(tokio::spawn(watch(me, sentinels, password, name)));
    }
}

/// Subscribes to `+switch-master` on one Sentinel after another (the next
/// when one goes away) until the tracker is dropped.
async fn watch(
    tracker: Weak<MasterTracker>,
    sentinels: Vec<(String, u16)>,
    password: Option<String>,
    name: String,
) {
    for (host, port) in sentinels.iter().cycle() {
        if tracker.strong_count() == 0 {
            return;
        }
        if let Err(e) = watch_one(&tracker, host, *port, password.as_deref(), &name).await {
            tracing::debug!(sentinel = %format!("{host}:{port}"), error = %e, "sentinel watch ended");
        }
        tokio::time::sleep(WATCH_RETRY).await;
    }
}

async fn watch_one(
    tracker: &Weak<MasterTracker>,
    host: &str,
    port: u16,
    password: Option<&str>,
    name: &str,
) -> Result<(), String> {
    let c = client(host, port, password, 0).map_err(|e| e.to_string())?;
    let mut pubsub = tokio::time::timeout(PER_SERVER, c.get_async_pubsub())
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| e.to_string())?;
    pubsub
        .subscribe(SWITCH_CHANNEL)
        .await
        .map_err(|e| e.to_string())?;
    let mut messages = pubsub.into_on_message();
    loop {
        // Wake up now and then to notice a dropped tracker.
        let next = tokio::time::timeout(Duration::from_secs(1), messages.next()).await;
        let Some(t) = tracker.upgrade() else {
            return Ok(());
        };
        match next {
            Err(_) => {}
            Ok(None) => return Err("subscription closed".into()),
            Ok(Some(msg)) => {
                let payload: String = msg.get_payload().unwrap_or_default();
                // "<name> <old ip> <old port> <new ip> <new port>"
                if payload.split_whitespace().next() == Some(name) {
                    tracing::info!(%payload, "sentinel +switch-master");
                    t.switched().await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn run_id_is_read_from_info_server() {
        let info = "# Server\r\nredis_version:7.0.15\r\nrun_id:abc123\r\ntcp_port:6379\r\n";
        assert_eq!(super::run_id(info).as_deref(), Some("abc123"));
        assert_eq!(super::run_id("# Server\r\n"), None);
    }
}

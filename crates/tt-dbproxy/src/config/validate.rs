//! Checking a [`Config`], resolving its backend addresses, and its
//! printable summary (secrets masked).

use super::cidr::IpNet;
use super::keys;
use super::{
    BackendKind, Config, KeyNaming, MAX_BATCH, MAX_CONNECTIONS, MAX_IN_FLIGHT, MAX_REPLICA_LAG_S,
    MAX_RESEND_WINDOW_S, MAX_SEND_CACHE_ENTRIES, MAX_TIMER_MS, MAX_WORKERS, MysqlConfig,
    MysqlEndpoint, NEEDS_REDIS, Problem, REDIS_POOLS, RedisConfig, RedisPool, SentinelConfig,
};

impl Config {
    /// Turns `backend_urls` into `mysql`/`redis` (replacing what a legacy
    /// file set) and selects the mysql backend when a primary is given.
    pub fn resolve_backends(&mut self, naming: KeyNaming) -> Vec<Problem> {
        let name = |key: &str| keys::display_name(key, naming);
        let u = self.backend_urls.clone();
        let mut p = Vec::new();
        if let Some(primary) = &u.mysql_primary {
            let primary = MysqlEndpoint::from_url("primary", primary, u.mysql_max_connections);
            let replicas: Vec<_> = u
                .mysql_replicas
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    MysqlEndpoint::from_url(
                        &format!("replica{}", i + 1),
                        r,
                        u.mysql_max_connections,
                    )
                })
                .collect();
            match primary {
                Ok(primary) => {
                    let mut ok = Vec::new();
                    for r in replicas {
                        match r {
                            Ok(r) => ok.push(r),
                            Err(e) => p.push(Problem::new(name("mysql.replicas"), e)),
                        }
                    }
                    self.mysql = Some(MysqlConfig {
                        primary,
                        replicas: ok,
                        max_replica_lag_s: u.mysql_max_replica_lag_s,
                    });
                    self.storage.backend = BackendKind::Mysql;
                }
                Err(e) => p.push(Problem::new(name("mysql.primary"), e)),
            }
        }
        // Also for the pools of a legacy file (the key has no legacy name;
        // its environment variable applies on top).
        if let Some(m) = self.mysql.as_mut() {
            m.max_replica_lag_s = u.mysql_max_replica_lag_s;
        }
        p.extend(self.resolve_redis(naming));
        p
    }

    /// The Redis half of [`Self::resolve_backends`]: `redis.url`, or
    /// `redis.sentinels` + `redis.sentinel_master` (never both).
    fn resolve_redis(&mut self, naming: KeyNaming) -> Vec<Problem> {
        let name = |key: &str| keys::display_name(key, naming);
        let u = self.backend_urls.clone();
        let mut p = Vec::new();
        let sentinel_only = [
            ("redis.sentinel_master", u.redis_sentinel_master.is_some()),
            (
                "redis.sentinel_password",
                u.redis_sentinel_password.is_some(),
            ),
            ("redis.sentinel_db", u.redis_sentinel_db.is_some()),
        ];
        match (&u.redis_url, &u.redis_sentinels) {
            (Some(_), Some(_)) => p.push(Problem::new(
                name("redis.sentinels"),
                format!(
                    "set either {} or {}, not both",
                    name("redis.url"),
                    name("redis.sentinels")
                ),
            )),
            (Some(url), None) => {
                for (key, set) in sentinel_only {
                    if set {
                        p.push(Problem::new(
                            name(key),
                            format!("only applies with {}", name("redis.sentinels")),
                        ));
                    }
                }
                let pools: Result<Vec<_>, _> = REDIS_POOLS
                    .iter()
                    .map(|pool| RedisPool::from_url(pool, url, u.redis_max_connections))
                    .map(|r| {
                        r.map(|mut pool| {
                            pool.password = u.redis_password.clone();
                            pool
                        })
                    })
                    .collect();
                match pools {
                    Ok(pools) => {
                        self.redis = Some(RedisConfig {
                            pools,
                            sentinel: None,
                        })
                    }
                    Err(e) => p.push(Problem::new(name("redis.url"), e)),
                }
            }
            (None, Some(list)) => {
                let Some(master) = &u.redis_sentinel_master else {
                    p.push(Problem::new(
                        name("redis.sentinel_master"),
                        format!("required with {}", name("redis.sentinels")),
                    ));
                    return p;
                };
                match SentinelConfig::parse(list, master, u.redis_sentinel_password.clone()) {
                    Ok(sentinel) => {
                        let db = u.redis_sentinel_db.unwrap_or(0);
                        let pools = REDIS_POOLS
                            .iter()
                            .map(|pool| RedisPool {
                                name: (*pool).to_string(),
                                host: String::new(),
                                port: 0,
                                db,
                                max_connections: u.redis_max_connections,
                                password: u.redis_password.clone(),
                            })
                            .collect();
                        self.redis = Some(RedisConfig {
                            pools,
                            sentinel: Some(sentinel),
                        });
                    }
                    Err((which, reason)) => {
                        let key = if which == "master" {
                            "redis.sentinel_master"
                        } else {
                            "redis.sentinels"
                        };
                        p.push(Problem::new(name(key), reason));
                    }
                }
            }
            (None, None) => {
                for (key, set) in sentinel_only {
                    if set {
                        p.push(Problem::new(
                            name(key),
                            format!("only applies with {}", name("redis.sentinels")),
                        ));
                    }
                }
                if let (Some(pw), Some(r)) = (&u.redis_password, self.redis.as_mut()) {
                    for pool in &mut r.pools {
                        pool.password = Some(pw.clone());
                    }
                }
            }
        }
        p
    }

    /// Checks values that each key alone cannot; returns every problem.
    pub fn validate(&self, naming: KeyNaming) -> Vec<Problem> {
        let name = |key: &str| keys::display_name(key, naming);
        let mut p = Vec::new();
        let s = &self.server;
        if s.listen.is_empty() {
            p.push(Problem::new(
                name("server.listen"),
                "at least one address is needed",
            ));
        }
        for (key, v, max) in [
            ("server.max_connections", s.max_connections, MAX_CONNECTIONS),
            ("server.workers", s.workers, MAX_WORKERS),
            (
                "server.max_in_flight_per_connection",
                s.max_in_flight_per_connection,
                MAX_IN_FLIGHT,
            ),
        ] {
            if v == 0 || v > max {
                p.push(Problem::new(
                    name(key),
                    format!("must be between 1 and {max}"),
                ));
            }
        }
        if s.max_connections_per_peer > MAX_CONNECTIONS {
            p.push(Problem::new(
                name("server.max_connections_per_peer"),
                format!("must be between 0 (no cap) and {MAX_CONNECTIONS}"),
            ));
        }
        if s.max_frame_bytes < crate::wire::HEADER_LEN || s.max_frame_bytes > u32::MAX as usize {
            p.push(Problem::new(
                name("server.max_frame_bytes"),
                format!("must be between 16 and {}", u32::MAX),
            ));
        }
        for (key, v, min) in [
            ("server.heartbeat_interval_ms", s.heartbeat_interval_ms, 1),
            ("server.idle_timeout_ms", s.idle_timeout_ms, 1),
            ("server.frame_timeout_ms", s.frame_timeout_ms, 1),
            ("server.drain_timeout_ms", s.drain_timeout_ms, 0),
        ] {
            if v < min || v > MAX_TIMER_MS {
                p.push(Problem::new(
                    name(key),
                    format!("must be between {min} and {MAX_TIMER_MS} ms"),
                ));
            }
        }
        if self.storage.data_dir.as_os_str().is_empty() {
            p.push(Problem::new(name("storage.data_dir"), "must not be empty"));
        }
        if self.storage.backend == BackendKind::Mysql {
            if self.mysql.is_none() {
                p.push(Problem::new(
                    name("mysql.primary"),
                    "the mysql backend needs a primary",
                ));
            }
            if self.redis.is_none() {
                p.push(Problem::new(
                    name("redis.url"),
                    format!(
                        "{NEEDS_REDIS} ({} or {})",
                        name("redis.url"),
                        name("redis.sentinels")
                    ),
                ));
            }
        }
        if self.storage.acquire_timeout_ms == 0 || self.storage.acquire_timeout_ms > MAX_TIMER_MS {
            p.push(Problem::new(
                name("storage.acquire_timeout_ms"),
                format!("must be between 1 and {MAX_TIMER_MS} ms"),
            ));
        }
        if self.storage.request_timeout_ms == 0 || self.storage.request_timeout_ms > MAX_TIMER_MS {
            p.push(Problem::new(
                name("storage.request_timeout_ms"),
                format!("must be between 1 and {MAX_TIMER_MS} ms"),
            ));
        } else if self.storage.acquire_timeout_ms > self.storage.request_timeout_ms {
            p.push(Problem::new(
                name("storage.acquire_timeout_ms"),
                format!(
                    "must not exceed storage.request_timeout_ms ({} ms): a request would give up before its connection arrives",
                    self.storage.request_timeout_ms
                ),
            ));
        }
        if self.storage.resend_window_s > MAX_RESEND_WINDOW_S {
            p.push(Problem::new(
                name("storage.resend_window_s"),
                format!("must be between 0 (off) and {MAX_RESEND_WINDOW_S} s"),
            ));
        }
        let lag = self
            .mysql
            .as_ref()
            .map_or(self.backend_urls.mysql_max_replica_lag_s, |m| {
                m.max_replica_lag_s
            });
        if lag == 0 || lag > MAX_REPLICA_LAG_S {
            p.push(Problem::new(
                name("mysql.max_replica_lag_s"),
                format!("must be between 1 and {MAX_REPLICA_LAG_S} seconds"),
            ));
        }
        if self.storage.batch_max == 0 || self.storage.batch_max > MAX_BATCH {
            p.push(Problem::new(
                name("storage.batch_max"),
                format!("must be between 1 (no batching) and {MAX_BATCH}"),
            ));
        }
        if !(2..=MAX_SEND_CACHE_ENTRIES).contains(&self.storage.send_cache_entries) {
            p.push(Problem::new(
                name("storage.send_cache_entries"),
                format!("must be between 2 and {MAX_SEND_CACHE_ENTRIES}"),
            ));
        }
        if self.media.aes_key.len() != 32 {
            p.push(Problem::new(
                name("media.aes_key"),
                format!("must be exactly 32 bytes, got {}", self.media.aes_key.len()),
            ));
        }
        if !(self.media.msfs_site.starts_with("http://")
            || self.media.msfs_site.starts_with("https://"))
        {
            p.push(Problem::new(
                name("media.msfs_site"),
                "must be an http:// or https:// URL",
            ));
        }
        if let Err(e) = crate::logging::parse_filter(&self.log.level) {
            p.push(Problem::new(
                name("log.level"),
                format!("not a valid log filter: {e}"),
            ));
        }
        p.extend(self.validate_console());
        p
    }

    /// The effective configuration as text, secrets masked, for the
    /// start-up log.
    pub fn show(&self) -> String {
        let s = &self.server;
        let mut out = format!(
            "listen={:?} allow_peers={} admin_listen={:?} max_connections={} max_connections_per_peer={} max_frame_bytes={} heartbeat_interval_ms={} idle_timeout_ms={} frame_timeout_ms={} drain_timeout_ms={} workers={} max_in_flight_per_connection={} backend={:?} data_dir={} acquire_timeout_ms={} request_timeout_ms={} sync={:?} resend_window_s={} batch_max={} msfs_site={} aes_key=<{} bytes> log.level={} log.format={:?}",
            s.listen,
            show_peers(&s.allow_peers),
            self.admin_listen,
            s.max_connections,
            s.max_connections_per_peer,
            s.max_frame_bytes,
            s.heartbeat_interval_ms,
            s.idle_timeout_ms,
            s.frame_timeout_ms,
            s.drain_timeout_ms,
            s.workers,
            s.max_in_flight_per_connection,
            self.storage.backend,
            self.storage.data_dir.display(),
            self.storage.acquire_timeout_ms,
            self.storage.request_timeout_ms,
            self.storage.sync,
            self.storage.resend_window_s,
            self.storage.batch_max,
            self.media.msfs_site,
            self.media.aes_key.len(),
            self.log.level,
            self.log.format,
        );
        out.push_str(&self.show_console());
        if let Some(m) = &self.mysql {
            for e in std::iter::once(&m.primary).chain(&m.replicas) {
                out.push_str(&format!(
                    " mysql.{}={}@{}:{}/{} password=*** max_connections={}",
                    e.name, e.user, e.host, e.port, e.database, e.max_connections
                ));
            }
        }
        if let Some(r) = &self.redis {
            if let Some(s) = &r.sentinel {
                let list: Vec<String> = s
                    .sentinels
                    .iter()
                    .map(|(h, p)| format!("{h}:{p}"))
                    .collect();
                out.push_str(&format!(
                    " redis.sentinels={} redis.sentinel_master={} sentinel_password={}",
                    list.join(","),
                    s.master,
                    if s.password.is_some() { "***" } else { "none" }
                ));
            }
            for pool in &r.pools {
                let at = if r.sentinel.is_some() {
                    "<master>".to_string()
                } else {
                    format!("{}:{}", pool.host, pool.port)
                };
                out.push_str(&format!(
                    " redis.{}={}/{} max_connections={}{}",
                    pool.name,
                    at,
                    pool.db,
                    pool.max_connections,
                    if pool.password.is_some() {
                        " password=***"
                    } else {
                        ""
                    }
                ));
            }
        }
        out
    }
}

/// `allow_peers` for [`Config::show`]: `any`, or the entries
/// comma-separated.
fn show_peers(allow: &[IpNet]) -> String {
    if allow.is_empty() {
        return "any".into();
    }
    allow
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

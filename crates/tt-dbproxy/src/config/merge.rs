//! What a reload may change: [`merge`] takes the running configuration and
//! a freshly loaded one and keeps every key that needs a restart at its
//! running value. The keys each branch names are the ones
//! [`keys`](super::keys) marks `reloadable` (a test holds the two
//! together).

use super::{Config, MysqlConfig, MysqlEndpoint, RedisConfig};

/// The outcome of [`merge`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    /// The configuration to run with from now on.
    pub config: Config,
    /// Reloadable keys whose value changed (now applied).
    pub applied: Vec<&'static str>,
    /// Keys that changed in the file but need a restart (kept as running).
    pub need_restart: Vec<&'static str>,
}

/// Copies `$($field).+` from `new` when it differs and records `$key` as
/// applied.
macro_rules! live {
    ($m:ident, $new:ident, $key:literal, $($field:ident).+) => {
        if $m.config.$($field).+ != $new.$($field).+ {
            $m.config.$($field).+ = $new.$($field).+.clone();
            $m.applied.push($key);
        }
    };
}

/// Records `$key` as needing a restart when `$($field).+` differs.
macro_rules! fixed {
    ($m:ident, $new:ident, $key:literal, $($field:ident).+) => {
        if $m.config.$($field).+ != $new.$($field).+ {
            $m.need_restart.push($key);
        }
    };
}

/// The configuration to run with after a reload from `new`.
pub fn merge(running: &Config, new: &Config) -> Merged {
    let mut m = Merged {
        config: running.clone(),
        applied: Vec::new(),
        need_restart: Vec::new(),
    };
    fixed!(m, new, "server.listen", server.listen);
    live!(m, new, "server.allow_peers", server.allow_peers);
    live!(m, new, "server.max_connections", server.max_connections);
    live!(
        m,
        new,
        "server.max_connections_per_peer",
        server.max_connections_per_peer
    );
    live!(m, new, "server.max_frame_bytes", server.max_frame_bytes);
    live!(
        m,
        new,
        "server.heartbeat_interval_ms",
        server.heartbeat_interval_ms
    );
    live!(m, new, "server.idle_timeout_ms", server.idle_timeout_ms);
    live!(m, new, "server.frame_timeout_ms", server.frame_timeout_ms);
    live!(m, new, "server.drain_timeout_ms", server.drain_timeout_ms);
    live!(m, new, "server.workers", server.workers);
    live!(
        m,
        new,
        "server.max_in_flight_per_connection",
        server.max_in_flight_per_connection
    );
    fixed!(m, new, "storage.backend", storage.backend);
    fixed!(m, new, "storage.data_dir", storage.data_dir);
    live!(
        m,
        new,
        "storage.acquire_timeout_ms",
        storage.acquire_timeout_ms
    );
    live!(
        m,
        new,
        "storage.request_timeout_ms",
        storage.request_timeout_ms
    );
    fixed!(m, new, "storage.sync", storage.sync);
    live!(m, new, "storage.resend_window_s", storage.resend_window_s);
    live!(m, new, "storage.batch_max", storage.batch_max);
    fixed!(
        m,
        new,
        "storage.send_cache_entries",
        storage.send_cache_entries
    );
    merge_mysql(&mut m, new);
    merge_redis(&mut m, new);
    fixed!(m, new, "media.msfs_site", media.msfs_site);
    fixed!(m, new, "media.aes_key", media.aes_key);
    fixed!(m, new, "admin.listen", admin_listen);
    fixed!(m, new, "console.enabled", console.enabled);
    fixed!(m, new, "console.listen", console.listen);
    fixed!(m, new, "console.tls_cert", console.tls_cert);
    fixed!(m, new, "console.tls_key", console.tls_key);
    fixed!(m, new, "console.host", console.host);
    fixed!(m, new, "console.http_msg_server", console.http_msg_server);
    fixed!(
        m,
        new,
        "console.http_msg_server_app_key",
        console.http_msg_server_app_key
    );
    fixed!(m, new, "discovery.listen", discovery_listen);
    live!(m, new, "log.level", log.level);
    live!(m, new, "log.slow_request_ms", log.slow_request_ms);
    fixed!(m, new, "log.format", log.format);
    m
}

/// An endpoint's identity: everything but its pool size.
fn same_server(a: &MysqlEndpoint, b: &MysqlEndpoint) -> bool {
    MysqlEndpoint {
        max_connections: 0,
        ..a.clone()
    } == MysqlEndpoint {
        max_connections: 0,
        ..b.clone()
    }
}

/// `mysql.primary` needs a restart; the replica list and the pool sizes
/// do not.
fn merge_mysql(m: &mut Merged, new: &Config) {
    let (Some(running), Some(next)) = (m.config.mysql.clone(), new.mysql.as_ref()) else {
        if m.config.mysql != new.mysql {
            m.need_restart.push("mysql.primary");
        }
        return;
    };
    if !same_server(&running.primary, &next.primary) {
        m.need_restart.push("mysql.primary");
    }
    let same_replicas = running.replicas.len() == next.replicas.len()
        && running
            .replicas
            .iter()
            .zip(&next.replicas)
            .all(|(a, b)| same_server(a, b));
    if !same_replicas {
        m.applied.push("mysql.replicas");
    }
    let sizes = |c: &MysqlConfig| -> Vec<usize> {
        std::iter::once(&c.primary)
            .chain(&c.replicas)
            .map(|e| e.max_connections)
            .collect()
    };
    let sizes_changed = running.primary.max_connections != next.primary.max_connections
        || (same_replicas && sizes(&running) != sizes(next));
    if sizes_changed {
        m.applied.push("mysql.max_connections");
    }
    if running.max_replica_lag_s != next.max_replica_lag_s {
        m.applied.push("mysql.max_replica_lag_s");
    }
    let primary = MysqlEndpoint {
        max_connections: next.primary.max_connections,
        ..running.primary
    };
    m.config.mysql = Some(MysqlConfig {
        primary,
        replicas: next.replicas.clone(),
        max_replica_lag_s: next.max_replica_lag_s,
    });
    m.config.backend_urls.mysql_max_replica_lag_s = new.backend_urls.mysql_max_replica_lag_s;
    m.config.backend_urls.mysql_replicas = new.backend_urls.mysql_replicas.clone();
    m.config.backend_urls.mysql_max_connections = new.backend_urls.mysql_max_connections;
}

/// Pool sizes are reloadable; addresses, databases, Sentinels and
/// passwords are not.
fn merge_redis(m: &mut Merged, new: &Config) {
    let (Some(running), Some(next)) = (m.config.redis.clone(), new.redis.as_ref()) else {
        if m.config.redis != new.redis {
            m.need_restart.push("redis.url");
        }
        return;
    };
    let before = m.need_restart.len();
    match (&running.sentinel, &next.sentinel) {
        (None, None) => {}
        (Some(a), Some(b)) => {
            if a.sentinels != b.sentinels {
                m.need_restart.push("redis.sentinels");
            }
            if a.master != b.master {
                m.need_restart.push("redis.sentinel_master");
            }
            if a.password != b.password {
                m.need_restart.push("redis.sentinel_password");
            }
        }
        _ => m.need_restart.push("redis.sentinels"),
    }
    let same_servers = running.pools.len() == next.pools.len()
        && running
            .pools
            .iter()
            .zip(&next.pools)
            .all(|(a, b)| (&a.name, &a.host, a.port, a.db) == (&b.name, &b.host, b.port, b.db));
    if !same_servers && m.need_restart.len() == before {
        m.need_restart.push(if next.sentinel.is_some() {
            "redis.sentinel_db"
        } else {
            "redis.url"
        });
    }
    if running
        .pools
        .iter()
        .zip(&next.pools)
        .any(|(a, b)| a.password != b.password)
    {
        m.need_restart.push("redis.password");
    }
    if m.need_restart.len() != before {
        return;
    }
    if running
        .pools
        .iter()
        .zip(&next.pools)
        .any(|(a, b)| a.max_connections != b.max_connections)
    {
        m.applied.push("redis.max_connections");
        m.config.redis = Some(RedisConfig {
            pools: next.pools.clone(),
            sentinel: running.sentinel.clone(),
        });
        m.config.backend_urls.redis_max_connections = new.backend_urls.redis_max_connections;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{KeyNaming, keys};

    /// A value for every key that differs from the default and is valid.
    fn changed_value(key: &str) -> toml::Value {
        use toml::Value;
        let s = |v: &str| Value::String(v.to_string());
        match key {
            "server.listen" => Value::Array(vec![s("127.0.0.1:20600")]),
            "server.allow_peers" => Value::Array(vec![s("10.0.0.0/8")]),
            "server.max_connections" => Value::Integer(7),
            "server.max_connections_per_peer" => Value::Integer(0),
            "server.max_frame_bytes" => Value::Integer(4096),
            "server.heartbeat_interval_ms" => Value::Integer(1234),
            "server.idle_timeout_ms" => Value::Integer(9999),
            "server.frame_timeout_ms" => Value::Integer(300),
            "server.drain_timeout_ms" => Value::Integer(77),
            "server.workers" => Value::Integer(3),
            "server.max_in_flight_per_connection" => Value::Integer(5),
            "storage.backend" => s("embedded"),
            "storage.data_dir" => s("/elsewhere"),
            "storage.acquire_timeout_ms" => Value::Integer(42),
            "storage.request_timeout_ms" => Value::Integer(4321),
            "storage.sync" => s("normal"),
            "storage.resend_window_s" => Value::Integer(30),
            "storage.batch_max" => Value::Integer(8),
            "storage.send_cache_entries" => Value::Integer(1000),
            "mysql.primary" => s("mysql://u:p@db2:3306/other"),
            "mysql.replicas" => Value::Array(vec![s("mysql://u:p@replica9:3306/tt")]),
            "mysql.max_connections" => Value::Integer(3),
            "mysql.max_replica_lag_s" => Value::Integer(5),
            "redis.url" => s("redis://other:6379/2"),
            "redis.max_connections" => Value::Integer(3),
            "redis.password" => s("hunter2"),
            "redis.sentinels" => Value::Array(vec![s("10.9.9.9:26379")]),
            "redis.sentinel_master" => s("other"),
            "redis.sentinel_password" => s("s3cret"),
            "redis.sentinel_db" => Value::Integer(4),
            "media.msfs_site" => s("http://media.example"),
            "media.aes_key" => s("abcdefghijabcdefghijabcdefghij12"),
            "admin.listen" => s("127.0.0.1:20601"),
            "console.enabled" => Value::Boolean(true),
            "console.listen" => s("127.0.0.1:20602"),
            "console.tls_cert" => s("/etc/tt/cert.pem"),
            "console.tls_key" => s("/etc/tt/key.pem"),
            "console.host" => s("console.example"),
            "console.http_msg_server" => s("http://127.0.0.1:8400"),
            "console.http_msg_server_app_key" => s("k3y"),
            "discovery.listen" => s("127.0.0.1:20603"),
            "log.level" => s("debug"),
            "log.slow_request_ms" => Value::Integer(9),
            "log.format" => s("json"),
            other => panic!("no test value for {other}: add one"),
        }
    }

    /// A running MySQL configuration, so MySQL and Redis keys have
    /// something to change.
    fn running() -> Config {
        running_with(&[
            ("mysql.primary", "mysql://u:p@db:3306/tt"),
            ("redis.url", "redis://cache:6379/1"),
        ])
    }

    /// A running configuration whose Redis is found through Sentinels.
    fn running_sentinel() -> Config {
        running_with(&[
            ("mysql.primary", "mysql://u:p@db:3306/tt"),
            ("redis.sentinels", "10.0.0.1:26379,10.0.0.2:26379"),
            ("redis.sentinel_master", "tt"),
        ])
    }

    fn running_with(settings: &[(&str, &str)]) -> Config {
        let mut c = Config::default();
        for &(key, url) in settings {
            let spec = keys::all().into_iter().find(|k| k.key == key).unwrap();
            (spec.apply)(&mut c, &toml::Value::String(url.into())).unwrap();
        }
        assert!(c.resolve_backends(KeyNaming::Toml).is_empty());
        c
    }

    #[test]
    fn every_key_lands_where_the_registry_says() {
        for spec in keys::all() {
            let old = if spec.key.starts_with("redis.sentinel") {
                running_sentinel()
            } else {
                running()
            };
            let mut new = old.clone();
            (spec.apply)(&mut new, &changed_value(spec.key)).unwrap();
            if spec.key.starts_with("mysql.") || spec.key.starts_with("redis.") {
                assert!(new.resolve_backends(KeyNaming::Toml).is_empty());
            }
            assert_ne!(old, new, "{} did not change the config", spec.key);
            let m = merge(&old, &new);
            if spec.reloadable {
                assert_eq!(m.applied, vec![spec.key], "{}", spec.key);
                assert!(m.need_restart.is_empty(), "{}", spec.key);
                assert_ne!(m.config, old, "{} was not applied", spec.key);
            } else {
                assert_eq!(m.need_restart, vec![spec.key], "{}", spec.key);
                assert!(m.applied.is_empty(), "{}", spec.key);
                assert_eq!(m.config, old, "{} changed without a restart", spec.key);
            }
        }
    }

    #[test]
    fn an_unchanged_file_changes_nothing() {
        let c = running();
        let m = merge(&c, &c.clone());
        assert!(m.applied.is_empty() && m.need_restart.is_empty());
        assert_eq!(m.config, c);
    }

    #[test]
    fn applied_values_are_the_new_ones() {
        let old = running();
        let mut new = old.clone();
        new.server.max_connections = 3;
        new.log.level = "warn".into();
        new.server.listen = vec!["127.0.0.1:1".parse().unwrap()];
        let m = merge(&old, &new);
        assert_eq!(m.config.server.max_connections, 3);
        assert_eq!(m.config.log.level, "warn");
        assert_eq!(m.config.server.listen, old.server.listen);
        assert_eq!(m.need_restart, vec!["server.listen"]);
    }
}

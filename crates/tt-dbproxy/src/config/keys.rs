//! The registry of configuration keys: one entry per key with its type,
//! default, environment variable, legacy name and whether it can change
//! without a restart. It drives the TOML loader, the environment overlay
//! and the table in `docs/config.md` (a test keeps the two in sync).

pub use super::key_spec::{Apply, KeySpec, addresses, int, peer_list, string, strings};
use super::{BackendKind, KeyNaming, LogFormat, SyncMode};

/// Every key, in documentation order.
pub fn all() -> Vec<KeySpec> {
    let mut all = core();
    all.extend(super::console_keys::all());
    all
}

/// The keys of the server and its backends.
fn core() -> Vec<KeySpec> {
    vec![
        KeySpec {
            key: "server.listen",
            ty: "list of IP:port",
            default: "[\"127.0.0.1:10600\"]",
            env: "TT_DBPROXY_LISTEN",
            legacy: "ListenIP + ListenPort",
            reloadable: false,
            doc: "Addresses to listen on. The env form is comma-separated.",
            apply: |c, v| {
                c.server.listen = addresses(v)?;
                Ok(())
            },
        },
        KeySpec {
            key: "server.allow_peers",
            ty: "list of addresses and CIDR ranges",
            default: "[]",
            env: "TT_DBPROXY_ALLOW_PEERS",
            legacy: "AllowPeers",
            reloadable: true,
            doc: "Peers allowed to connect (10.0.0.0/8, fd00::/8, 127.0.0.1); others are closed at accept. Empty: anyone. A reload closes the open connections of peers it no longer allows.",
            apply: |c, v| {
                c.server.allow_peers = peer_list(v)?;
                Ok(())
            },
        },
        KeySpec {
            key: "server.max_connections",
            ty: "integer",
            default: "10000",
            env: "TT_DBPROXY_MAX_CONNECTIONS",
            legacy: "",
            reloadable: true,
            doc: "Connections beyond this are accepted, logged and closed at once.",
            apply: |c, v| {
                c.server.max_connections = int(v)?;
                Ok(())
            },
        },
        KeySpec {
            key: "server.max_connections_per_peer",
            ty: "integer",
            default: "1000",
            env: "TT_DBPROXY_MAX_CONNECTIONS_PER_PEER",
            legacy: "",
            reloadable: true,
            doc: "Open connections of one peer IP address beyond this are closed at accept; 0: no cap.",
            apply: |c, v| {
                c.server.max_connections_per_peer = int(v)?;
                Ok(())
            },
        },
        KeySpec {
            key: "server.max_frame_bytes",
            ty: "integer",
            default: "16777216",
            env: "TT_DBPROXY_MAX_FRAME_BYTES",
            legacy: "",
            reloadable: true,
            doc: "A frame announcing a larger length (header included) closes the connection.",
            apply: |c, v| {
                c.server.max_frame_bytes = int(v)?;
                Ok(())
            },
        },
        KeySpec {
            key: "server.heartbeat_interval_ms",
            ty: "integer (ms)",
            default: "5000",
            env: "TT_DBPROXY_HEARTBEAT_INTERVAL_MS",
            legacy: "",
            reloadable: true,
            doc: "A heartbeat is sent after this long without sending anything.",
            apply: |c, v| {
                c.server.heartbeat_interval_ms = int(v)?;
                Ok(())
            },
        },
        KeySpec {
            key: "server.idle_timeout_ms",
            ty: "integer (ms)",
            default: "30000",
            env: "TT_DBPROXY_IDLE_TIMEOUT_MS",
            legacy: "",
            reloadable: true,
            doc: "A connection that sends no complete frame for this long is closed.",
            apply: |c, v| {
                c.server.idle_timeout_ms = int(v)?;
                Ok(())
            },
        },
        KeySpec {
            key: "server.frame_timeout_ms",
            ty: "integer (ms)",
            default: "10000",
            env: "TT_DBPROXY_FRAME_TIMEOUT_MS",
            legacy: "",
            reloadable: true,
            doc: "A frame whose first byte has arrived must be complete within this long, or the connection is closed.",
            apply: |c, v| {
                c.server.frame_timeout_ms = int(v)?;
                Ok(())
            },
        },
        KeySpec {
            key: "server.drain_timeout_ms",
            ty: "integer (ms)",
            default: "4000",
            env: "TT_DBPROXY_DRAIN_TIMEOUT_MS",
            legacy: "",
            reloadable: true,
            doc: "On SIGTERM/SIGINT: time in-flight requests get before the process exits.",
            apply: |c, v| {
                c.server.drain_timeout_ms = int(v)?;
                Ok(())
            },
        },
        KeySpec {
            key: "server.workers",
            ty: "integer",
            default: "48",
            env: "TT_DBPROXY_WORKERS",
            legacy: "ThreadNum",
            reloadable: true,
            doc: "Requests executing at once across all connections.",
            apply: |c, v| {
                c.server.workers = int(v)?;
                Ok(())
            },
        },
        KeySpec {
            key: "server.max_in_flight_per_connection",
            ty: "integer",
            default: "1024",
            env: "TT_DBPROXY_MAX_IN_FLIGHT_PER_CONNECTION",
            legacy: "",
            reloadable: true,
            doc: "Requests of one connection in progress before the server stops reading from it.",
            apply: |c, v| {
                c.server.max_in_flight_per_connection = int(v)?;
                Ok(())
            },
        },
        KeySpec {
            key: "storage.backend",
            ty: "\"embedded\" or \"mysql\"",
            default: "\"embedded\"",
            env: "TT_DBPROXY_BACKEND",
            legacy: "DBInstances (implies mysql)",
            reloadable: false,
            doc: "Where data lives: the embedded SQLite file, or MySQL + Redis.",
            apply: |c, v| {
                c.storage.backend = match string(v)?.as_str() {
                    "embedded" => BackendKind::Embedded,
                    "mysql" => BackendKind::Mysql,
                    other => {
                        return Err(format!("expected \"embedded\" or \"mysql\", got {other:?}"));
                    }
                };
                Ok(())
            },
        },
        KeySpec {
            key: "storage.data_dir",
            ty: "path",
            default: "\"./data\"",
            env: "TT_DBPROXY_DATA_DIR",
            legacy: "",
            reloadable: false,
            doc: "Directory of the embedded database file (created if missing).",
            apply: |c, v| {
                c.storage.data_dir = string(v)?.into();
                Ok(())
            },
        },
        KeySpec {
            key: "storage.acquire_timeout_ms",
            ty: "integer (ms)",
            default: "500",
            env: "TT_DBPROXY_ACQUIRE_TIMEOUT_MS",
            legacy: "",
            reloadable: true,
            doc: "Longest wait for a MySQL connection or a Redis permit; then the request fails as for a backend error.",
            apply: |c, v| {
                c.storage.acquire_timeout_ms = int(v)?;
                Ok(())
            },
        },
        KeySpec {
            key: "storage.request_timeout_ms",
            ty: "integer (ms)",
            default: "2000",
            env: "TT_DBPROXY_REQUEST_TIMEOUT_MS",
            legacy: "",
            reloadable: true,
            doc: "Deadline of one request from its frame's arrival, covering the wait for a worker and every storage operation; then the handler's storage-failed reply. At least storage.acquire_timeout_ms.",
            apply: |c, v| {
                c.storage.request_timeout_ms = int(v)?;
                Ok(())
            },
        },
        KeySpec {
            key: "storage.sync",
            ty: "\"full\" or \"normal\"",
            default: "\"full\"",
            env: "TT_DBPROXY_SYNC",
            legacy: "",
            reloadable: false,
            doc: "Embedded store: \"full\" syncs every commit to disk before its reply (an acknowledged write survives a power cut); \"normal\" replies before the sync (faster; the last acknowledged writes may be lost on a power cut or kernel crash, not on a process crash).",
            apply: |c, v| {
                c.storage.sync = match string(v)?.as_str() {
                    "full" => SyncMode::Full,
                    "normal" => SyncMode::Normal,
                    other => return Err(format!("expected \"full\" or \"normal\", got {other:?}")),
                };
                Ok(())
            },
        },
        KeySpec {
            key: "storage.resend_window_s",
            ty: "integer (s)",
            default: "120",
            env: "TT_DBPROXY_RESEND_WINDOW_S",
            legacy: "",
            reloadable: true,
            doc: "A send with the same sender, conversation, non-zero client msg_id and data as one stored this long ago or less is a resend: it gets the stored id and stores nothing. 0 turns it off; at most 86400.",
            apply: |c, v| {
                c.storage.resend_window_s = int(v)?;
                Ok(())
            },
        },
        KeySpec {
            key: "storage.batch_max",
            ty: "integer",
            default: "64",
            env: "TT_DBPROXY_BATCH_MAX",
            legacy: "",
            reloadable: true,
            doc: "Most writes stored by one group commit: writes that arrive while a commit is in flight share the next one (no timer: a lone write commits at once). 1 turns batching off; at most 1000.",
            apply: |c, v| {
                c.storage.batch_max = int(v)?;
                Ok(())
            },
        },
        KeySpec {
            key: "storage.send_cache_entries",
            ty: "integer",
            default: "65536",
            env: "TT_DBPROXY_SEND_CACHE_ENTRIES",
            legacy: "",
            reloadable: false,
            doc: "Conversations whose session and relation ids a send remembers instead of looking them up (about 40-100 bytes each; on the embedded store per map: pairs, groups, group senders). Checked against the tables, so rows deleted behind tt-dbproxy's back are looked up again. 2 to 10000000.",
            apply: |c, v| {
                c.storage.send_cache_entries = int(v)?;
                Ok(())
            },
        },
        KeySpec {
            key: "mysql.primary",
            ty: "URL",
            default: "none",
            env: "TT_DBPROXY_MYSQL_PRIMARY",
            legacy: "teamtalk_master_*",
            reloadable: false,
            doc: "mysql://user:pass@host:port/db of the primary (all writes); setting it selects the mysql backend.",
            apply: |c, v| {
                c.backend_urls.mysql_primary = Some(string(v)?);
                Ok(())
            },
        },
        KeySpec {
            key: "mysql.replicas",
            ty: "list of URLs",
            default: "[]",
            env: "TT_DBPROXY_MYSQL_REPLICAS",
            legacy: "teamtalk_slave_*",
            reloadable: true,
            doc: "Read replicas; reads go to the primary while none is healthy. The env form is comma-separated.",
            apply: |c, v| {
                c.backend_urls.mysql_replicas = strings(v)?;
                Ok(())
            },
        },
        KeySpec {
            key: "mysql.max_connections",
            ty: "integer",
            default: "16",
            env: "TT_DBPROXY_MYSQL_MAX_CONNECTIONS",
            legacy: "<db>_maxconncnt",
            reloadable: true,
            doc: "Connection limit of each MySQL pool.",
            apply: |c, v| {
                c.backend_urls.mysql_max_connections = int(v)?;
                Ok(())
            },
        },
        KeySpec {
            key: "mysql.max_replica_lag_s",
            ty: "integer",
            default: "30",
            env: "TT_DBPROXY_MYSQL_MAX_REPLICA_LAG_S",
            legacy: "",
            reloadable: true,
            doc: "A replica lagging more than this many seconds (Seconds_Behind_Master, polled every second), or with its SQL thread stopped, leaves rotation; it returns at the first poll that finds it replicating and at most this many seconds behind, not once it has caught up. 1 to 86400.",
            apply: |c, v| {
                c.backend_urls.mysql_max_replica_lag_s = int(v)?;
                Ok(())
            },
        },
        KeySpec {
            key: "redis.url",
            ty: "URL",
            default: "none",
            env: "TT_DBPROXY_REDIS_URL",
            legacy: "CacheInstances",
            reloadable: false,
            doc: "redis://host:port/db used by all five pools (unread, group_set, token, sync, group_member).",
            apply: |c, v| {
                c.backend_urls.redis_url = Some(string(v)?);
                Ok(())
            },
        },
        KeySpec {
            key: "redis.max_connections",
            ty: "integer",
            default: "16",
            env: "TT_DBPROXY_REDIS_MAX_CONNECTIONS",
            legacy: "<c>_maxconncnt",
            reloadable: true,
            doc: "Concurrent commands per Redis pool.",
            apply: |c, v| {
                c.backend_urls.redis_max_connections = int(v)?;
                Ok(())
            },
        },
        KeySpec {
            key: "redis.password",
            ty: "string",
            default: "none",
            env: "TT_DBPROXY_REDIS_PASSWORD",
            legacy: "RedisPassword",
            reloadable: false,
            doc: "Password (AUTH) of the Redis server(s): the one redis.url names, or every master and replica behind the Sentinels.",
            apply: |c, v| {
                c.backend_urls.redis_password = Some(string(v)?);
                Ok(())
            },
        },
        KeySpec {
            key: "redis.sentinels",
            ty: "list of host:port",
            default: "none",
            env: "TT_DBPROXY_REDIS_SENTINELS",
            legacy: "RedisSentinels",
            reloadable: false,
            doc: "Redis Sentinels (port defaults to 26379), instead of redis.url: every pool follows the master they name. The env form is comma-separated.",
            apply: |c, v| {
                c.backend_urls.redis_sentinels = Some(strings(v)?);
                Ok(())
            },
        },
        KeySpec {
            key: "redis.sentinel_master",
            ty: "string",
            default: "none",
            env: "TT_DBPROXY_REDIS_SENTINEL_MASTER",
            legacy: "RedisSentinelMaster",
            reloadable: false,
            doc: "The master name the Sentinels monitor; required with redis.sentinels.",
            apply: |c, v| {
                c.backend_urls.redis_sentinel_master = Some(string(v)?);
                Ok(())
            },
        },
        KeySpec {
            key: "redis.sentinel_password",
            ty: "string",
            default: "none",
            env: "TT_DBPROXY_REDIS_SENTINEL_PASSWORD",
            legacy: "RedisSentinelPassword",
            reloadable: false,
            doc: "Password of the Sentinels themselves (their requirepass), if set.",
            apply: |c, v| {
                c.backend_urls.redis_sentinel_password = Some(string(v)?);
                Ok(())
            },
        },
        KeySpec {
            key: "redis.sentinel_db",
            ty: "integer",
            default: "0",
            env: "TT_DBPROXY_REDIS_SENTINEL_DB",
            legacy: "",
            reloadable: false,
            doc: "Database index every pool uses in Sentinel mode (a legacy file keeps each pool's <pool>_db).",
            apply: |c, v| {
                c.backend_urls.redis_sentinel_db = Some(int(v)?);
                Ok(())
            },
        },
        KeySpec {
            key: "media.msfs_site",
            ty: "URL",
            default: "\"http://127.0.0.1\"",
            env: "TT_DBPROXY_MSFS_SITE",
            legacy: "MsfsSite",
            reloadable: false,
            doc: "Media file server for audio messages; a bare host means http://host.",
            apply: |c, v| {
                c.media.msfs_site = normalize_site(&string(v)?);
                Ok(())
            },
        },
        KeySpec {
            key: "media.aes_key",
            ty: "string, 32 bytes",
            default: "\"12345678901234567890123456789012\"",
            env: "TT_DBPROXY_AES_KEY",
            legacy: "aesKey",
            reloadable: false,
            doc: "AES-256 key of the audio placeholder text; secret, never logged.",
            apply: |c, v| {
                c.media.aes_key = string(v)?;
                Ok(())
            },
        },
        KeySpec {
            key: "admin.listen",
            ty: "IP:port or \"\"",
            default: "\"127.0.0.1:10601\" (legacy file: none)",
            env: "TT_DBPROXY_ADMIN_LISTEN",
            legacy: "AdminListen",
            reloadable: false,
            doc: "Admin HTTP endpoint (/metrics, /healthz, /readyz, /status, POST /reload); empty disables it. A legacy file has none unless AdminListen names one (AdminListen=off: none).",
            apply: |c, v| {
                let s = string(v)?;
                c.admin_listen = if s.trim().is_empty() {
                    None
                } else {
                    Some(
                        s.trim()
                            .parse()
                            .map_err(|_| format!("{s:?} is not an IP:port address"))?,
                    )
                };
                Ok(())
            },
        },
        KeySpec {
            key: "log.level",
            ty: "filter",
            default: "\"info\"",
            env: "TT_DBPROXY_LOG_LEVEL",
            legacy: "",
            reloadable: true,
            doc: "tracing filter, e.g. \"info\" or \"tt_dbproxy=debug\".",
            apply: |c, v| {
                c.log.level = string(v)?;
                Ok(())
            },
        },
        KeySpec {
            key: "log.slow_request_ms",
            ty: "integer (ms)",
            default: "500",
            env: "TT_DBPROXY_SLOW_REQUEST_MS",
            legacy: "",
            reloadable: true,
            doc: "Requests that take longer are logged with their command and time; 0 disables.",
            apply: |c, v| {
                c.log.slow_request_ms = int(v)?;
                Ok(())
            },
        },
        KeySpec {
            key: "log.format",
            ty: "\"text\" or \"json\"",
            default: "\"text\"",
            env: "TT_DBPROXY_LOG_FORMAT",
            legacy: "",
            reloadable: false,
            doc: "Log line format.",
            apply: |c, v| {
                c.log.format = match string(v)?.as_str() {
                    "text" => LogFormat::Text,
                    "json" => LogFormat::Json,
                    other => return Err(format!("expected \"text\" or \"json\", got {other:?}")),
                };
                Ok(())
            },
        },
    ]
}

/// `MsfsSite=127.0.0.1` means `http://127.0.0.1`.
pub fn normalize_site(site: &str) -> String {
    let site = site.trim();
    if site.contains("://") {
        site.to_string()
    } else {
        format!("http://{site}")
    }
}

/// How `key` is named in messages under `naming`.
pub fn display_name(key: &str, naming: KeyNaming) -> String {
    if naming == KeyNaming::Legacy
        && let Some(spec) = all()
            .into_iter()
            .find(|s| s.key == key && !s.legacy.is_empty())
    {
        return spec.legacy.to_string();
    }
    key.to_string()
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;

//! The configuration's types: [`Config`] and its sections, with their
//! defaults and limits.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::cidr::IpNet;

pub use crate::logging::LogFormat;

/// The AES key of the default TeamTalk configuration.
pub const DEFAULT_AES_KEY: &str = "12345678901234567890123456789012";

/// Upper bound of every timer setting (one day), so deadlines never
/// overflow.
pub const MAX_TIMER_MS: u64 = 86_400_000;
/// Upper bound of `server.max_connections`.
pub const MAX_CONNECTIONS: usize = 1_000_000;
/// Upper bound of `server.workers`.
pub const MAX_WORKERS: usize = 65_536;
/// Upper bound of `server.max_in_flight_per_connection`.
pub const MAX_IN_FLIGHT: usize = 1_000_000;

/// The whole, validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Listening, limits and timers of the PDU server.
    pub server: ServerConfig,
    /// Which backend holds the data.
    pub storage: StorageConfig,
    /// Media file server and the audio placeholder key.
    pub media: MediaConfig,
    /// Logging.
    pub log: LogConfig,
    /// Admin HTTP endpoint address; `None` disables it.
    pub admin_listen: Option<SocketAddr>,
    /// MySQL pools, when the legacy file names them.
    pub mysql: Option<MysqlConfig>,
    /// Redis pools, when the legacy file names them.
    pub redis: Option<RedisConfig>,
    /// The TOML/environment form of the MySQL and Redis settings (URLs),
    /// turned into `mysql` and `redis` by [`Config::resolve_backends`].
    pub backend_urls: BackendUrls,
    /// The web console (`console.*`).
    pub console: ConsoleConfig,
    /// Address of the public discovery endpoint (`discovery.listen`);
    /// `None`: off.
    pub discovery_listen: Option<SocketAddr>,
}

/// The web console's settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsoleConfig {
    /// Whether `/console/` is served at all.
    pub enabled: bool,
    /// Where it listens; `None`: on the admin listener.
    pub listen: Option<SocketAddr>,
    /// PEM certificate chain for TLS.
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for TLS.
    pub tls_key: Option<PathBuf>,
    /// The host name browsers use (besides loopback addresses, the only
    /// `Host` accepted).
    pub host: Option<String>,
    /// Base URL of http_msg_server, for group changes that notify online
    /// members.
    pub http_msg_server: Option<String>,
    /// The `app_key` sent to http_msg_server (secret).
    pub http_msg_server_app_key: Option<String>,
}

impl ConsoleConfig {
    /// Whether the console serves TLS itself.
    pub fn tls(&self) -> bool {
        self.tls_cert.is_some() && self.tls_key.is_some()
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            server: ServerConfig::default(),
            storage: StorageConfig::default(),
            media: MediaConfig::default(),
            log: LogConfig::default(),
            admin_listen: Some(SocketAddr::from(([127, 0, 0, 1], 10601))),
            mysql: None,
            redis: None,
            backend_urls: BackendUrls::default(),
            console: ConsoleConfig::default(),
            discovery_listen: None,
        }
    }
}

/// MySQL/Redis settings as URLs, the TOML and environment form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendUrls {
    /// `mysql://user:pass@host:port/db` of the primary.
    pub mysql_primary: Option<String>,
    /// Read replicas, same form.
    pub mysql_replicas: Vec<String>,
    /// Connection limit of each MySQL pool.
    pub mysql_max_connections: usize,
    /// `mysql.max_replica_lag_s`.
    pub mysql_max_replica_lag_s: u64,
    /// `redis://host:port/db` used by all five pools.
    pub redis_url: Option<String>,
    /// Concurrent command limit of each Redis pool.
    pub redis_max_connections: usize,
    /// Sentinel addresses (`host:port`), instead of `redis_url`; `Some`
    /// when the key is set at all, so an empty list can be refused.
    pub redis_sentinels: Option<Vec<String>>,
    /// The master name the Sentinels monitor.
    pub redis_sentinel_master: Option<String>,
    /// Password of the Sentinels (`requirepass` of the Sentinel).
    pub redis_sentinel_password: Option<String>,
    /// Database index of every pool in Sentinel mode.
    pub redis_sentinel_db: Option<u32>,
    /// Password of the Redis servers (`AUTH`), both modes.
    pub redis_password: Option<String>,
}

impl Default for BackendUrls {
    fn default() -> Self {
        Self {
            mysql_primary: None,
            mysql_replicas: Vec::new(),
            mysql_max_connections: 16,
            mysql_max_replica_lag_s: DEFAULT_MAX_REPLICA_LAG_S,
            redis_url: None,
            redis_max_connections: 16,
            redis_sentinels: None,
            redis_sentinel_master: None,
            redis_sentinel_password: None,
            redis_sentinel_db: None,
            redis_password: None,
        }
    }
}

/// Settings of the PDU server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Addresses to listen on.
    pub listen: Vec<SocketAddr>,
    /// Peers allowed to connect (addresses and CIDR ranges); others are
    /// closed at accept. Empty: anyone, as the original.
    pub allow_peers: Vec<IpNet>,
    /// Open connections beyond this are accepted and closed at once.
    pub max_connections: usize,
    /// Open connections of one peer address beyond this are closed at
    /// accept; 0 means no cap.
    pub max_connections_per_peer: usize,
    /// Frames longer than this (header included) close the connection.
    pub max_frame_bytes: usize,
    /// A heartbeat is sent after this long without sending (ms).
    pub heartbeat_interval_ms: u64,
    /// A connection is closed after this long without a complete frame
    /// (ms).
    pub idle_timeout_ms: u64,
    /// A frame whose first byte has arrived must be complete within this
    /// long (ms), or the connection is closed (slow clients).
    pub frame_timeout_ms: u64,
    /// On SIGTERM/SIGINT, in-flight work gets this long to finish (ms).
    pub drain_timeout_ms: u64,
    /// Requests executing at once across all connections (`ThreadNum`).
    pub workers: usize,
    /// Requests of one connection in progress before reading pauses.
    pub max_in_flight_per_connection: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: vec![SocketAddr::from(([127, 0, 0, 1], 10600))],
            allow_peers: Vec::new(),
            max_connections: 10_000,
            max_connections_per_peer: 1_000,
            max_frame_bytes: crate::wire::codec::DEFAULT_MAX_FRAME_LEN,
            heartbeat_interval_ms: 5_000,
            idle_timeout_ms: 30_000,
            frame_timeout_ms: 10_000,
            drain_timeout_ms: 4_000,
            workers: 48,
            max_in_flight_per_connection: 1024,
        }
    }
}

/// Which storage backend serves the handlers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackendKind {
    /// The SQLite file in `data_dir` (default).
    #[default]
    Embedded,
    /// MySQL/MariaDB plus Redis.
    Mysql,
}

/// When the embedded store's commits reach the disk (`storage.sync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SyncMode {
    /// Every commit is synced before it returns (and before its reply):
    /// an acknowledged write survives a power cut.
    #[default]
    Full,
    /// Commits return before the WAL is synced: an acknowledged write
    /// survives a crash of the process but the last ones may be lost on a
    /// power cut or kernel crash.
    Normal,
}

impl SyncMode {
    /// The value of SQLite's `synchronous` pragma.
    pub fn pragma(self) -> &'static str {
        match self {
            Self::Full => "FULL",
            Self::Normal => "NORMAL",
        }
    }
}

/// Storage settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageConfig {
    /// The backend.
    pub backend: BackendKind,
    /// Directory of the embedded database.
    pub data_dir: PathBuf,
    /// Longest wait for a MySQL connection or a Redis permit (ms); then
    /// the request fails the way the spec says for a backend error.
    pub acquire_timeout_ms: u64,
    /// Deadline of one request (ms), counted from its frame's arrival and
    /// covering the wait for a worker and every storage operation; then
    /// the request gets its handler's "storage failed" reply.
    pub request_timeout_ms: u64,
    /// When the embedded store's commits are synced to disk.
    pub sync: SyncMode,
    /// How long (s) a send is remembered so that its resend (same sender,
    /// conversation, client `msg_id` and data) gets the stored id instead
    /// of a second row; 0 disables.
    pub resend_window_s: u32,
    /// Most sends stored by one group commit.
    pub batch_max: usize,
    /// Conversations whose session and relation ids a send remembers
    /// (per map on the embedded store).
    pub send_cache_entries: usize,
}

/// Longest resend window (a day): the memory of recent sends is kept
/// that long, one entry per send.
pub const MAX_RESEND_WINDOW_S: u32 = 86_400;

/// Largest group commit (`storage.batch_max`).
pub const MAX_BATCH: usize = 1_000;

/// Most conversations a send's memory of ids may keep
/// (`storage.send_cache_entries`).
pub const MAX_SEND_CACHE_ENTRIES: usize = 10_000_000;

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            backend: BackendKind::Embedded,
            data_dir: PathBuf::from("./data"),
            acquire_timeout_ms: 500,
            request_timeout_ms: 2_000,
            sync: SyncMode::Full,
            resend_window_s: 120,
            batch_max: 64,
            send_cache_entries: 65_536,
        }
    }
}

/// Media file server and AES key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConfig {
    /// Base URL of the media file server (`MsfsSite`; a bare host gets
    /// `http://`).
    pub msfs_site: String,
    /// Exactly 32 bytes: the AES-256 key of the audio placeholder.
    pub aes_key: String,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            msfs_site: "http://127.0.0.1".into(),
            aes_key: DEFAULT_AES_KEY.into(),
        }
    }
}

/// Logging settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// A `tracing` filter such as `info` or `tt_dbproxy=debug`.
    pub level: String,
    /// Output format.
    pub format: LogFormat,
    /// Requests slower than this are logged (ms); 0 disables.
    pub slow_request_ms: u64,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
            slow_request_ms: 500,
        }
    }
}

/// One MySQL server (a pool in the original's terms).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MysqlEndpoint {
    /// Pool name from the legacy file (`teamtalk_master`, ...).
    pub name: String,
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Database name.
    pub database: String,
    /// User.
    pub user: String,
    /// Password (never logged).
    pub password: String,
    /// Connection limit of the pool.
    pub max_connections: usize,
}

/// MySQL topology: writes to the primary, reads to the replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MysqlConfig {
    /// `teamtalk_master`.
    pub primary: MysqlEndpoint,
    /// `teamtalk_slave` and any other read replica.
    pub replicas: Vec<MysqlEndpoint>,
    /// A replica lagging more than this many seconds (or with its SQL
    /// thread stopped) leaves rotation until a poll finds it replicating
    /// and at most this many seconds behind again.
    pub max_replica_lag_s: u64,
}

/// Default of `mysql.max_replica_lag_s`.
pub const DEFAULT_MAX_REPLICA_LAG_S: u64 = 30;
/// Upper bound of `mysql.max_replica_lag_s` (a day).
pub const MAX_REPLICA_LAG_S: u64 = 86_400;

impl MysqlEndpoint {
    /// Parses `mysql://user:password@host:port/database`.
    pub fn from_url(name: &str, url: &str, max_connections: usize) -> Result<Self, String> {
        let rest = url
            .strip_prefix("mysql://")
            .ok_or_else(|| format!("{url:?} does not start with mysql://"))?;
        let (auth, host_part) = rest.rsplit_once('@').unwrap_or(("", rest));
        let (user, password) = auth.split_once(':').unwrap_or((auth, ""));
        let (host_port, database) = host_part
            .split_once('/')
            .ok_or_else(|| format!("{url:?} names no database (mysql://user:pass@host:port/db)"))?;
        let (host, port) = split_host_port(host_port, 3306)?;
        if database.is_empty() || user.is_empty() {
            return Err(format!("{url:?} needs a user and a database"));
        }
        Ok(Self {
            name: name.to_string(),
            host,
            port,
            database: database.to_string(),
            user: user.to_string(),
            password: password.to_string(),
            max_connections,
        })
    }
}

fn split_host_port(s: &str, default_port: u16) -> Result<(String, u16), String> {
    match s.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() => p
            .parse()
            .map(|p| (h.to_string(), p))
            .map_err(|_| format!("{p:?} is not a port")),
        _ if !s.is_empty() => Ok((s.to_string(), default_port)),
        _ => Err("no host".to_string()),
    }
}

/// The Redis pool names of the original, each with its own address and db.
pub const REDIS_POOLS: [&str; 5] = ["unread", "group_set", "token", "sync", "group_member"];

/// One named Redis pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisPool {
    /// `unread`, `group_set`, `token`, `sync` or `group_member`.
    pub name: String,
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Database index for `SELECT`.
    pub db: u32,
    /// Concurrent command limit.
    pub max_connections: usize,
    /// Password sent with `AUTH`, if the server wants one.
    pub password: Option<String>,
}

impl RedisPool {
    /// Parses `redis://host:port/db`.
    pub fn from_url(name: &str, url: &str, max_connections: usize) -> Result<Self, String> {
        let rest = url
            .strip_prefix("redis://")
            .ok_or_else(|| format!("{url:?} does not start with redis://"))?;
        let (host_port, db) = rest.split_once('/').unwrap_or((rest, "0"));
        let (host, port) = split_host_port(host_port, 6379)?;
        let db = db
            .parse()
            .map_err(|_| format!("{db:?} is not a database number"))?;
        Ok(Self {
            name: name.to_string(),
            host,
            port,
            db,
            max_connections,
            password: None,
        })
    }
}

/// How a missing Redis configuration is reported.
pub(crate) const NEEDS_REDIS: &str = "the mysql backend needs Redis";

/// Default TCP port of a Sentinel.
pub const SENTINEL_PORT: u16 = 26379;

/// Where the Redis master is found when it is not one fixed address:
/// Sentinels that monitor it under a name. Every pool then connects to
/// whichever server the Sentinels name as master (host and port of the
/// pools are unused; their db indices and sizes still apply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentinelConfig {
    /// Sentinel addresses, asked in order.
    pub sentinels: Vec<(String, u16)>,
    /// The monitored master's name (`sentinel monitor <name> ...`).
    pub master: String,
    /// Password of the Sentinels themselves, if they require one.
    pub password: Option<String>,
}

impl SentinelConfig {
    /// Parses `host:port` entries (port defaults to 26379) and checks the
    /// master name; the error names what is wrong.
    pub fn parse(
        sentinels: &[String],
        master: &str,
        password: Option<String>,
    ) -> Result<Self, (&'static str, String)> {
        if sentinels.is_empty() {
            return Err(("sentinels", "must list at least one Sentinel".into()));
        }
        let mut parsed = Vec::new();
        for s in sentinels {
            let (host, port) = split_host_port(s.trim(), SENTINEL_PORT)
                .map_err(|e| ("sentinels", format!("{s:?}: {e}")))?;
            if port == 0 {
                return Err(("sentinels", format!("{s:?}: port 0")));
            }
            parsed.push((host, port));
        }
        let master = master.trim();
        if master.is_empty() || master.contains(char::is_whitespace) {
            return Err((
                "master",
                "must be the name the Sentinels monitor (non-empty, no spaces)".into(),
            ));
        }
        Ok(Self {
            sentinels: parsed,
            master: master.to_string(),
            password,
        })
    }
}

/// Redis pools by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisConfig {
    /// The pools in the order the file lists them.
    pub pools: Vec<RedisPool>,
    /// Set when the master is found through Sentinels.
    pub sentinel: Option<SentinelConfig>,
}

impl RedisConfig {
    /// The pool called `name`.
    pub fn pool(&self, name: &str) -> Option<&RedisPool> {
        self.pools.iter().find(|p| p.name == name)
    }
}

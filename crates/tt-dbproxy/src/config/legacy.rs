//! The original `dbproxyserver.conf` format, read the way the original
//! reads it, with its two parsing bugs fixed: CRLF line ends are stripped,
//! and a number that is not a number is refused instead of becoming 0.
//!
//! Format: `key = value` per line, split at the first `=`, spaces and tabs
//! trimmed; `#` anywhere starts a comment; lines without `=` or with an
//! empty key or value are ignored; the first occurrence of a key wins.
//! (The original also splits lines longer than 255 bytes; such lines are
//! read whole here.)

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use super::cidr::IpNet;
use super::keys::{normalize_site, peer_list};
use super::{
    BackendKind, Config, MysqlConfig, MysqlEndpoint, Problem, RedisConfig, RedisPool,
    SentinelConfig,
};

/// The key/value pairs of a legacy file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LegacyFile {
    values: HashMap<String, String>,
}

impl LegacyFile {
    /// The value of `key`, if present and non-empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values.get(key).map(String::as_str)
    }
}

/// Splits a legacy file into key/value pairs.
pub fn parse(text: &str) -> LegacyFile {
    let mut values = HashMap::new();
    for raw in text.split('\n') {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let line = line.split('#').next().unwrap_or("");
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let trim = |s: &str| s.trim_matches([' ', '\t', '\r']).to_string();
        let (k, v) = (trim(k), trim(v));
        if k.is_empty() || v.is_empty() {
            continue;
        }
        values.entry(k).or_insert(v);
    }
    LegacyFile { values }
}

struct Reader<'a> {
    file: &'a LegacyFile,
    problems: Vec<Problem>,
}

impl Reader<'_> {
    fn text(&mut self, key: &str) -> Option<String> {
        match self.file.get(key) {
            Some(v) => Some(v.to_string()),
            None => {
                self.problems
                    .push(Problem::new(key, "required key is missing"));
                None
            }
        }
    }

    fn number<T: std::str::FromStr>(&mut self, key: &str) -> Option<T> {
        let raw = self.text(key)?;
        match raw.parse::<T>() {
            Ok(v) => Some(v),
            Err(_) => {
                self.problems.push(Problem::new(
                    key,
                    format!("expected a number in range, got {raw:?}"),
                ));
                None
            }
        }
    }

    fn list(&mut self, key: &str, sep: char) -> Vec<String> {
        self.text(key)
            .map(|v| {
                v.split(sep)
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    fn mysql_endpoint(&mut self, name: &str) -> Option<MysqlEndpoint> {
        let host = self.text(&format!("{name}_host"));
        let port = self.number::<u16>(&format!("{name}_port"));
        let database = self.text(&format!("{name}_dbname"));
        let user = self.text(&format!("{name}_username"));
        let password = self.text(&format!("{name}_password"));
        let max = self.number::<usize>(&format!("{name}_maxconncnt"));
        Some(MysqlEndpoint {
            name: name.to_string(),
            host: host?,
            port: port?,
            database: database?,
            user: user?,
            password: password?,
            max_connections: max?,
        })
    }

    /// A pool's keys; with Sentinels (`sentinel`) its address comes from
    /// them, so `<pool>_host`/`_port` are not needed (and not read).
    fn redis_pool(&mut self, name: &str, sentinel: bool) -> Option<RedisPool> {
        let (host, port) = if sentinel {
            (Some(String::new()), Some(0))
        } else {
            (
                self.text(&format!("{name}_host")),
                self.number::<u16>(&format!("{name}_port")),
            )
        };
        let db = self.number::<u32>(&format!("{name}_db"));
        let max = self.number::<usize>(&format!("{name}_maxconncnt"));
        Some(RedisPool {
            name: name.to_string(),
            host: host?,
            port: port?,
            db: db?,
            max_connections: max?,
            password: self.file.get(REDIS_PASSWORD_KEY).map(str::to_string),
        })
    }
}

/// Key of the admin endpoint in a legacy file (tt-dbproxy's own addition).
pub const ADMIN_LISTEN_KEY: &str = "AdminListen";
/// Key of the allow-list in a legacy file (tt-dbproxy's own addition):
/// `AllowPeers=10.0.0.0/8,192.168.1.7`; absent means anyone.
pub const ALLOW_PEERS_KEY: &str = "AllowPeers";

/// Sentinel list of a legacy file (tt-dbproxy's own addition):
/// `RedisSentinels=10.0.0.1:26379,10.0.0.2:26379`.
pub const REDIS_SENTINELS_KEY: &str = "RedisSentinels";
/// The monitored master's name, required with [`REDIS_SENTINELS_KEY`].
pub const REDIS_SENTINEL_MASTER_KEY: &str = "RedisSentinelMaster";
/// Password of the Sentinels, optional.
pub const REDIS_SENTINEL_PASSWORD_KEY: &str = "RedisSentinelPassword";
/// Password (AUTH) of the Redis servers, optional, for every pool.
pub const REDIS_PASSWORD_KEY: &str = "RedisPassword";

/// The Sentinel settings of a legacy file: `None` without
/// `RedisSentinels` (each pool then has its own address).
fn sentinels(r: &mut Reader<'_>) -> Option<SentinelConfig> {
    let master = r.file.get(REDIS_SENTINEL_MASTER_KEY).map(str::to_string);
    let Some(raw) = r.file.get(REDIS_SENTINELS_KEY).map(str::to_string) else {
        if master.is_some() {
            r.problems.push(Problem::new(
                REDIS_SENTINEL_MASTER_KEY,
                format!("only applies with {REDIS_SENTINELS_KEY}"),
            ));
        }
        return None;
    };
    let Some(master) = master else {
        r.problems.push(Problem::new(
            REDIS_SENTINEL_MASTER_KEY,
            format!("required with {REDIS_SENTINELS_KEY}"),
        ));
        return None;
    };
    let list: Vec<String> = raw
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let password = r.file.get(REDIS_SENTINEL_PASSWORD_KEY).map(str::to_string);
    match SentinelConfig::parse(&list, &master, password) {
        Ok(s) => Some(s),
        Err((which, reason)) => {
            let key = if which == "master" {
                REDIS_SENTINEL_MASTER_KEY
            } else {
                REDIS_SENTINELS_KEY
            };
            r.problems.push(Problem::new(key, reason));
            None
        }
    }
}

/// `server.allow_peers` from `AllowPeers`, if the file has it.
fn allow_peers(r: &mut Reader<'_>) -> Option<Vec<IpNet>> {
    let raw = r.file.get(ALLOW_PEERS_KEY)?;
    match peer_list(&toml::Value::String(raw.to_string())) {
        Ok(list) => Some(list),
        Err(reason) => {
            r.problems.push(Problem::new(ALLOW_PEERS_KEY, reason));
            None
        }
    }
}

/// The admin endpoint of a legacy file: none unless `AdminListen` names an
/// address. Operators of the original never configured an admin port, and
/// a default one could be the PDU port of a second instance on the host
/// (10600 and 10601 are a common pair), so it is opt-in here.
/// `AdminListen=off` says "none" explicitly.
fn admin_listen(r: &mut Reader<'_>) -> Option<SocketAddr> {
    let raw = r.file.get(ADMIN_LISTEN_KEY)?;
    if raw.eq_ignore_ascii_case("off") {
        return None;
    }
    match raw.parse::<SocketAddr>() {
        Ok(addr) => Some(addr),
        Err(_) => {
            r.problems.push(Problem::new(
                ADMIN_LISTEN_KEY,
                format!("{raw:?} is not an IP:port address (or off)"),
            ));
            None
        }
    }
}

/// Maps a legacy file onto a [`Config`] (defaults for everything the
/// original has no key for), with every missing or malformed key listed.
pub fn to_config(file: &LegacyFile) -> (Config, Vec<Problem>) {
    let mut r = Reader {
        file,
        problems: Vec::new(),
    };
    let mut config = Config::default();

    let ips = r.list("ListenIP", ';');
    let port = r.number::<u16>("ListenPort");
    let mut addrs = Vec::new();
    for ip in &ips {
        match ip.parse::<IpAddr>() {
            Ok(ip) => addrs.extend(port.map(|p| SocketAddr::new(ip, p))),
            Err(_) => r.problems.push(Problem::new(
                "ListenIP",
                format!("{ip:?} is not an IP address"),
            )),
        }
    }
    // When ListenIP or ListenPort is refused the default stays, so only the
    // real problem is reported (not a knock-on "no address").
    if !addrs.is_empty() {
        config.server.listen = addrs;
    }
    if let Some(n) = r.number::<usize>("ThreadNum") {
        config.server.workers = n;
    }
    if let Some(list) = allow_peers(&mut r) {
        config.server.allow_peers = list;
    }
    if let Some(site) = r.text("MsfsSite") {
        config.media.msfs_site = normalize_site(&site);
    }
    if let Some(key) = r.text("aesKey") {
        config.media.aes_key = key;
    }
    config.admin_listen = admin_listen(&mut r);

    let instances = r.list("DBInstances", ',');
    let mut primary = None;
    let mut replicas = Vec::new();
    for name in &instances {
        let endpoint = r.mysql_endpoint(name);
        match name.as_str() {
            "teamtalk_master" => primary = endpoint,
            "teamtalk_slave" => replicas.extend(endpoint),
            _ => {}
        }
    }
    if !instances.is_empty() && !instances.iter().any(|n| n == "teamtalk_master") {
        r.problems.push(Problem::new(
            "DBInstances",
            "must list teamtalk_master (the pool all writes use)",
        ));
    }
    if let Some(primary) = primary {
        config.mysql = Some(MysqlConfig {
            primary,
            replicas,
            max_replica_lag_s: config.backend_urls.mysql_max_replica_lag_s,
        });
        config.storage.backend = BackendKind::Mysql;
    }

    let caches = r.list("CacheInstances", ',');
    let missing: Vec<&str> = ["unread", "group_set", "token", "group_member"]
        .into_iter()
        .filter(|p| !caches.is_empty() && !caches.iter().any(|c| c == p))
        .collect();
    if !missing.is_empty() {
        r.problems.push(Problem::new(
            "CacheInstances",
            format!(
                "must list the pools the handlers use; missing: {}",
                missing.join(",")
            ),
        ));
    }
    let sentinel_named = file.get(REDIS_SENTINELS_KEY).is_some();
    let sentinel = sentinels(&mut r);
    let pools: Vec<RedisPool> = caches
        .iter()
        .filter_map(|name| r.redis_pool(name, sentinel_named))
        .collect();
    if !pools.is_empty() && sentinel_named == sentinel.is_some() {
        config.redis = Some(RedisConfig { pools, sentinel });
    }
    (config, r.problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_crlf_first_occurrence_and_trimming() {
        let f = parse("a = 1 # c\r\n#b=2\r\na=3\r\n\tc\t=\t x y \r\nnoeq\r\nd=\r\n=e\r\n");
        assert_eq!(f.get("a"), Some("1"));
        assert_eq!(f.get("b"), None);
        assert_eq!(f.get("c"), Some("x y"));
        assert_eq!(f.get("d"), None);
        assert_eq!(f.values.len(), 2);
    }

    #[test]
    fn admin_endpoint_is_opt_in() {
        let listen = |text: &str| {
            let (c, problems) = to_config(&parse(text));
            let mine: Vec<String> = problems
                .iter()
                .map(ToString::to_string)
                .filter(|p| p.starts_with(ADMIN_LISTEN_KEY))
                .collect();
            (c.admin_listen, mine)
        };
        let none: Vec<String> = Vec::new();
        assert_eq!(listen(""), (None, none.clone()));
        assert_eq!(listen("AdminListen=off"), (None, none.clone()));
        assert_eq!(listen("AdminListen="), (None, none.clone()));
        assert_eq!(
            listen("AdminListen = 127.0.0.1:10611"),
            (Some("127.0.0.1:10611".parse().unwrap()), none)
        );
        let (addr, problems) = listen("AdminListen=10611");
        assert_eq!(addr, None);
        assert_eq!(problems.len(), 1, "{problems:?}");
    }

    #[test]
    fn allow_peers_is_optional_and_checked() {
        let read = |text: &str| {
            let (c, problems) = to_config(&parse(text));
            let mine: Vec<String> = problems
                .iter()
                .map(ToString::to_string)
                .filter(|p| p.starts_with(ALLOW_PEERS_KEY))
                .collect();
            (c.server.allow_peers, mine)
        };
        assert_eq!(read(""), (vec![], vec![]));
        assert_eq!(read("AllowPeers="), (vec![], vec![]));
        assert_eq!(
            read("AllowPeers = 10.0.0.0/8, 192.168.1.7,::1\r\n"),
            (
                vec![
                    "10.0.0.0/8".parse().unwrap(),
                    "192.168.1.7".parse().unwrap(),
                    "::1".parse().unwrap()
                ],
                vec![]
            )
        );
        let (list, problems) = read("AllowPeers=10.0.0.0/8,10.0.0.0/40");
        assert_eq!(list, vec![]);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("10.0.0.0/40"), "{problems:?}");
    }

    #[test]
    fn sentinels_replace_pool_addresses_and_keep_pool_dbs() {
        let pools = "CacheInstances=unread,group_set,token,group_member\n\
            unread_db=1\nunread_maxconncnt=4\ngroup_set_db=2\ngroup_set_maxconncnt=4\n\
            token_db=3\ntoken_maxconncnt=4\ngroup_member_db=4\ngroup_member_maxconncnt=4\n";
        let text = format!(
            "{pools}RedisSentinels=10.0.0.1:26380, 10.0.0.2\nRedisSentinelMaster=tt\nRedisSentinelPassword=s3\nRedisPassword=r3\n"
        );
        let (c, problems) = to_config(&parse(&text));
        let mine: Vec<String> = problems
            .iter()
            .map(ToString::to_string)
            .filter(|p| p.starts_with("Redis") || p.contains("_host") || p.contains("_port"))
            .collect();
        assert_eq!(mine, Vec::<String>::new());
        let r = c.redis.unwrap();
        let s = r.sentinel.as_ref().unwrap();
        assert_eq!(
            s.sentinels,
            vec![
                ("10.0.0.1".to_string(), 26380),
                ("10.0.0.2".to_string(), 26379)
            ]
        );
        assert_eq!(
            (s.master.as_str(), s.password.as_deref()),
            ("tt", Some("s3"))
        );
        assert_eq!(r.pool("token").unwrap().db, 3);
        assert_eq!(r.pool("group_member").unwrap().db, 4);
        assert_eq!(r.pool("unread").unwrap().password.as_deref(), Some("r3"));

        let (c, problems) = to_config(&parse(&format!("{pools}RedisSentinels=10.0.0.1:1\n")));
        assert!(c.redis.is_none());
        assert!(
            problems
                .iter()
                .any(|p| p.key == REDIS_SENTINEL_MASTER_KEY && p.reason.contains("required")),
            "{problems:?}"
        );
        let (_, problems) = to_config(&parse(&format!("{pools}RedisSentinelMaster=tt\n")));
        assert!(
            problems.iter().any(|p| p.key == REDIS_SENTINEL_MASTER_KEY),
            "{problems:?}"
        );
        let (_, problems) = to_config(&parse(&format!(
            "{pools}RedisSentinels=10.0.0.1:x\nRedisSentinelMaster=tt\n"
        )));
        assert!(
            problems.iter().any(|p| p.key == REDIS_SENTINELS_KEY),
            "{problems:?}"
        );
    }

    #[test]
    fn value_cannot_contain_hash() {
        assert_eq!(parse("aesKey=abc#def").get("aesKey"), Some("abc"));
    }
}

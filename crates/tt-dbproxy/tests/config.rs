//! Configuration: TOML, environment overrides, the original
//! dbproxyserver.conf (as shipped, and with CRLF), and the messages for
//! every invalid key, through the library and through the binary.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use common::process::run;
use tt_dbproxy::config::{self, BackendKind, Config, ConfigError, ConfigSource, LogFormat};

/// The original's shipped config file (its keys, comments, tabs and
/// quirks), carried by the project as a fixture.
fn reference_conf() -> String {
    include_str!("fixtures/dbproxyserver.conf").to_string()
}
const EXAMPLE_TOML: &str = include_str!("../../../tt-dbproxy.toml");

fn no_env(_: &str) -> Option<String> {
    None
}

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

fn problems(e: ConfigError) -> Vec<String> {
    match e {
        ConfigError::Invalid(p) => p.iter().map(ToString::to_string).collect(),
        other => panic!("expected Invalid, got {other}"),
    }
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn example_toml_is_the_defaults() {
    let c = config::from_toml_str(EXAMPLE_TOML, &no_env).unwrap();
    assert_eq!(c, Config::default());
}

#[test]
fn toml_values_are_applied() {
    let c = config::from_toml_str(
        r#"
[server]
listen = ["0.0.0.0:11000", "[::1]:11001"]
max_connections = 5
max_frame_bytes = 4096
heartbeat_interval_ms = 100
idle_timeout_ms = 200
drain_timeout_ms = 300
workers = 7
max_in_flight_per_connection = 8
[storage]
data_dir = "/var/lib/tt"
[media]
msfs_site = "10.0.0.5:8700"
[log]
level = "debug"
format = "json"
"#,
        &no_env,
    )
    .unwrap();
    assert_eq!(
        c.server.listen,
        vec![addr("0.0.0.0:11000"), addr("[::1]:11001")]
    );
    assert_eq!(
        (
            c.server.max_connections,
            c.server.max_frame_bytes,
            c.server.workers
        ),
        (5, 4096, 7)
    );
    assert_eq!(
        (
            c.server.heartbeat_interval_ms,
            c.server.idle_timeout_ms,
            c.server.drain_timeout_ms
        ),
        (100, 200, 300)
    );
    assert_eq!(c.server.max_in_flight_per_connection, 8);
    assert_eq!(c.storage.data_dir, PathBuf::from("/var/lib/tt"));
    assert_eq!(c.media.msfs_site, "http://10.0.0.5:8700");
    assert_eq!(
        (c.log.level.as_str(), c.log.format),
        ("debug", LogFormat::Json)
    );
}

#[test]
fn env_overrides_the_file() {
    let env = env_of(&[
        ("TT_DBPROXY_LISTEN", "127.0.0.1:1,127.0.0.1:2"),
        ("TT_DBPROXY_WORKERS", "3"),
        ("TT_DBPROXY_DATA_DIR", "/tmp/x"),
        ("TT_DBPROXY_AES_KEY", "abcdefghijklmnopqrstuvwxyz012345"),
    ]);
    let c = config::from_toml_str("[server]\nworkers = 9\n", &env).unwrap();
    assert_eq!(
        c.server.listen,
        vec![addr("127.0.0.1:1"), addr("127.0.0.1:2")]
    );
    assert_eq!(c.server.workers, 3);
    assert_eq!(c.storage.data_dir, PathBuf::from("/tmp/x"));
    assert_eq!(c.media.aes_key, "abcdefghijklmnopqrstuvwxyz012345");
}

#[test]
fn every_invalid_toml_key_is_reported_at_once() {
    let err = config::from_toml_str(
        r#"
top = 1
[server]
listen = ["localhost"]
max_connections = "many"
max_frame_bytes = 8
heartbeat_interval_ms = 0
idle_timeout_ms = 9223372036854775807
drain_timeout_ms = 86400001
max_in_flight_per_connection = 0
workers = -1
typo = 3
[storage]
backend = "postgres"
[media]
aes_key = "short"
msfs_site = "ftp://x"
[log]
level = "[[["
format = "xml"
"#,
        &env_of(&[("TT_DBPROXY_IDLE_TIMEOUT_MS", "soon")]),
    )
    .unwrap_err();
    let p = problems(err);
    let expect = [
        "top: unknown key",
        "server.listen: \"localhost\" is not an IP:port address",
        "server.max_connections: expected a whole number, got \"many\"",
        "server.max_frame_bytes: must be between 16",
        "server.heartbeat_interval_ms: must be between 1 and 86400000 ms",
        "server.workers: -1 is out of range",
        "server.idle_timeout_ms: must be between 1 and 86400000 ms",
        "server.drain_timeout_ms: must be between 0 and 86400000 ms",
        "server.max_in_flight_per_connection: must be between 1 and 1000000",
        "server.typo: unknown key",
        "storage.backend: expected \"embedded\" or \"mysql\", got \"postgres\"",
        "media.aes_key: must be exactly 32 bytes, got 5",
        "media.msfs_site: must be an http:// or https:// URL",
        "log.level: not a valid log filter",
        "log.format: expected \"text\" or \"json\", got \"xml\"",
        "TT_DBPROXY_IDLE_TIMEOUT_MS: expected a whole number, got \"soon\"",
    ];
    for e in expect {
        assert!(
            p.iter().any(|line| line.starts_with(e)),
            "missing {e:?} in {p:#?}"
        );
    }
    assert_eq!(p.len(), expect.len(), "{p:#?}");
}

#[test]
fn invalid_toml_syntax_names_the_line() {
    let err = config::from_toml_str("[server\nlisten = 1", &no_env).unwrap_err();
    assert!(matches!(err, ConfigError::Syntax { .. }));
    assert!(err.to_string().contains("line 1"), "{err}");
}

fn check_reference(c: &Config) {
    assert_eq!(c.server.listen, vec![addr("0.0.0.0:10600")]);
    assert_eq!(c.server.workers, 48);
    assert_eq!(c.media.msfs_site, "http://127.0.0.1");
    assert_eq!(c.media.aes_key, "12345678901234567890123456789012");
    assert_eq!(c.storage.backend, BackendKind::Mysql);
    let m = c.mysql.as_ref().unwrap();
    assert_eq!(
        (
            m.primary.name.as_str(),
            m.primary.host.as_str(),
            m.primary.port
        ),
        ("teamtalk_master", "127.0.0.1", 3306)
    );
    assert_eq!(
        (
            m.primary.database.as_str(),
            m.primary.user.as_str(),
            m.primary.password.as_str()
        ),
        ("teamtalk", "test", "12345")
    );
    assert_eq!(m.primary.max_connections, 16);
    assert_eq!(m.replicas.len(), 1);
    assert_eq!(m.replicas[0].name, "teamtalk_slave");
    let r = c.redis.as_ref().unwrap();
    let pools: Vec<(&str, u32, usize)> = r
        .pools
        .iter()
        .map(|p| (p.name.as_str(), p.db, p.max_connections))
        .collect();
    assert_eq!(
        pools,
        vec![
            ("unread", 1, 16),
            ("group_set", 1, 16),
            ("token", 1, 16),
            ("sync", 2, 1),
            ("group_member", 1, 48)
        ]
    );
}

#[test]
fn reference_dbproxyserver_conf_parses_as_is() {
    check_reference(&config::from_legacy_str(&reference_conf(), &no_env).unwrap());
}

#[test]
fn reference_conf_with_crlf_line_ends_parses_the_same() {
    let crlf = reference_conf().replace('\n', "\r\n");
    check_reference(&config::from_legacy_str(&crlf, &no_env).unwrap());
}

#[test]
fn legacy_first_occurrence_wins_and_env_applies_on_top() {
    let text = format!("ListenPort=1234\n{}", reference_conf());
    let c = config::from_legacy_str(&text, &env_of(&[("TT_DBPROXY_WORKERS", "2")])).unwrap();
    assert_eq!(c.server.listen, vec![addr("0.0.0.0:1234")]);
    assert_eq!(c.server.workers, 2);
}

#[test]
fn every_invalid_legacy_key_is_reported_at_once() {
    let text = reference_conf()
        .replace("ListenPort=10600", "ListenPort=abc")
        .replace("ThreadNum=48", "ThreadNum=")
        .replace("aesKey=12345678901234567890123456789012", "aesKey=1234")
        .replace("teamtalk_slave_port=3306", "teamtalk_slave_port=99999")
        .replace("token_db=1", "token_db=one")
        .replace("ListenIP=0.0.0.0", "ListenIP=0.0.0.0;not-an-ip")
        .replace("group_member_host=127.0.0.1\n", "");
    let p = problems(config::from_legacy_str(&text, &no_env).unwrap_err());
    let expect = [
        "ListenPort: expected a number in range, got \"abc\"",
        "ThreadNum: required key is missing",
        "aesKey: must be exactly 32 bytes, got 4",
        "teamtalk_slave_port: expected a number in range, got \"99999\"",
        "token_db: expected a number in range, got \"one\"",
        "ListenIP: \"not-an-ip\" is not an IP address",
        "group_member_host: required key is missing",
    ];
    for e in expect {
        assert!(
            p.iter().any(|line| line.starts_with(e)),
            "missing {e:?} in {p:#?}"
        );
    }
    assert_eq!(p.len(), expect.len(), "{p:#?}");
}

#[test]
fn legacy_without_master_is_refused() {
    let text = reference_conf().replace(
        "DBInstances=teamtalk_master,teamtalk_slave",
        "DBInstances=teamtalk_slave",
    );
    let p = problems(config::from_legacy_str(&text, &no_env).unwrap_err());
    assert!(
        p.iter()
            .any(|l| l.starts_with("DBInstances: must list teamtalk_master")),
        "{p:#?}"
    );
}

#[test]
fn legacy_without_a_needed_redis_pool_is_refused() {
    let text = reference_conf().replace(
        "CacheInstances=unread,group_set,token,sync,group_member",
        "CacheInstances=unread,sync",
    );
    let p = problems(config::from_legacy_str(&text, &no_env).unwrap_err());
    assert_eq!(
        p,
        vec![
            "CacheInstances: must list the pools the handlers use; missing: group_set,token,group_member"
        ]
    );
}

#[test]
fn empty_legacy_file_lists_every_required_key() {
    let p = problems(config::from_legacy_str("# nothing\n", &no_env).unwrap_err());
    for key in [
        "ListenIP",
        "ListenPort",
        "ThreadNum",
        "MsfsSite",
        "aesKey",
        "DBInstances",
        "CacheInstances",
    ] {
        assert!(
            p.iter()
                .any(|l| l == &format!("{key}: required key is missing")),
            "{key} in {p:#?}"
        );
    }
}

#[test]
fn source_resolution_prefers_flags_then_a_local_dbproxyserver_conf() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        ConfigSource::resolve(None, None, dir.path()),
        ConfigSource::Defaults
    );
    std::fs::write(dir.path().join("dbproxyserver.conf"), reference_conf()).unwrap();
    assert_eq!(
        ConfigSource::resolve(None, None, dir.path()),
        ConfigSource::Legacy(dir.path().join("dbproxyserver.conf"))
    );
    let t = PathBuf::from("x.toml");
    assert_eq!(
        ConfigSource::resolve(Some(t.clone()), None, dir.path()),
        ConfigSource::Toml(t)
    );
}

#[tokio::test]
async fn a_local_dbproxyserver_conf_is_loaded_and_serves_while_mysql_is_unreachable() {
    // The reference file names a MySQL user that does not exist here: the
    // server starts anyway and answers logins with code 2 (backend error)
    // instead of hanging or exiting.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dbproxyserver.conf"), reference_conf()).unwrap();
    let server = common::process::ServerProcess::spawn(dir.path(), &[], &[]);
    let mut c = tt_dbproxy::client::Client::connect(server.addr)
        .await
        .unwrap();
    let rsp = common::login(&mut c, "zhangyl", common::GOOD_PASSWORD).await;
    assert_eq!(rsp.result_code, Some(2));
    server.terminate();
    let (status, lines) = server.wait(std::time::Duration::from_secs(10));
    assert!(status.success());
    assert!(
        lines.iter().any(|l| l.contains("store failed")),
        "{lines:?}"
    );
}

#[test]
fn binary_reports_every_invalid_value_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        "[server]\nworkers = 0\n[media]\naes_key = \"x\"\n",
    )
    .unwrap();
    let out = run(
        dir.path(),
        &["serve", "--config", "bad.toml"],
        &[("TT_DBPROXY_MAX_CONNECTIONS", "lots")],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "server.workers: must be between 1 and 65536",
        "media.aes_key: must be exactly 32 bytes, got 1",
        "TT_DBPROXY_MAX_CONNECTIONS: expected a whole number",
        "bad.toml",
    ] {
        assert!(err.contains(needle), "{needle:?} in {err}");
    }
    let missing = run(dir.path(), &["serve", "--config", "nope.toml"], &[]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("nope.toml"));
}

#[test]
fn version_flags() {
    let dir = tempfile::tempdir().unwrap();
    for flag in ["-v", "--version"] {
        let out = run(dir.path(), &[flag], &[]);
        assert!(out.status.success());
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("tt-dbproxy {}", env!("CARGO_PKG_VERSION"))
        );
    }
}

#[test]
fn request_timeout_bounds_the_acquire_timeout() {
    let c = config::from_toml_str("[storage]\nrequest_timeout_ms = 750\n", &no_env).unwrap();
    assert_eq!(c.storage.request_timeout_ms, 750);
    assert_eq!(Config::default().storage.request_timeout_ms, 2_000);
    let err = config::from_toml_str(
        "[storage]\nacquire_timeout_ms = 3000\nrequest_timeout_ms = 2000\n",
        &no_env,
    )
    .unwrap_err();
    let p = problems(err);
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with(
            "storage.acquire_timeout_ms: must not exceed storage.request_timeout_ms (2000 ms)"
        ),
        "{p:?}"
    );
    let err =
        config::from_toml_str("", &env_of(&[("TT_DBPROXY_REQUEST_TIMEOUT_MS", "0")])).unwrap_err();
    assert_eq!(
        problems(err),
        vec!["storage.request_timeout_ms: must be between 1 and 86400000 ms".to_string()]
    );
}

/// Found by the `config_toml_env` fuzz target: a non-ASCII log filter made
/// tracing-subscriber panic while validating; it is refused instead.
#[test]
fn a_non_ascii_log_level_is_refused_not_a_panic() {
    for level in ["\u{fffd}=info", "tt_dbproxy[\u{fffd}]=debug", "a,\u{e9}"] {
        let toml = format!("[log]\nlevel = {level:?}\n");
        let p = problems(config::from_toml_str(&toml, &no_env).unwrap_err());
        assert_eq!(p.len(), 1, "{level}: {p:?}");
        assert!(
            p[0].starts_with("log.level: not a valid log filter"),
            "{p:?}"
        );
    }
}

/// Field filters (`{…}`) are refused at once: tracing-subscriber compiles
/// them as regular expressions, and a 380-byte one found by the fuzzer
/// took over 10 s to validate. Levels, targets and span names still work.
#[test]
fn field_filters_and_long_log_levels_are_refused() {
    let slow = format!("d[{}[as ys{{{{{{$]=info", "{".repeat(30));
    for level in [
        slow.as_str(),
        "tt_dbproxy[span{field=1}]=debug",
        "a=\"b\"",
        "info;debug",
    ] {
        let toml = format!("[log]\nlevel = {level:?}\n");
        let p = problems(config::from_toml_str(&toml, &no_env).unwrap_err());
        assert_eq!(p.len(), 1, "{level}: {p:?}");
        assert!(
            p[0].starts_with("log.level: not a valid log filter"),
            "{p:?}"
        );
    }
    let long = format!("[log]\nlevel = \"{}\"\n", "a,".repeat(600));
    assert!(
        config::from_toml_str(&long, &no_env).is_err(),
        "over 1024 bytes"
    );
    for good in [
        "info",
        "warn,tt_dbproxy=debug",
        "tt_dbproxy[connection]=trace",
        "tt_dbproxy::net=debug, info",
    ] {
        let toml = format!("[log]\nlevel = {good:?}\n");
        assert!(config::from_toml_str(&toml, &no_env).is_ok(), "{good}");
    }
}

/// Spaces around a directive are not part of its target (tracing-subscriber
/// alone would read " tt_dbproxy=debug" as the target " tt_dbprox").
#[test]
fn spaces_around_log_directives_are_ignored() {
    let c = config::from_toml_str("[log]\nlevel = \"info, tt_dbproxy=debug\"\n", &no_env).unwrap();
    let filter = tt_dbproxy::logging::parse_filter(&c.log.level).unwrap();
    assert_eq!(filter.to_string(), "tt_dbproxy=debug,info");
}

const MYSQL: &str = "mysql://u:p@db:3306/tt";

#[test]
fn sentinel_keys_configure_every_pool() {
    let toml = format!(
        "[mysql]\nprimary = \"{MYSQL}\"\n[redis]\nsentinels = [\"10.0.0.1:26380\", \"10.0.0.2\"]\n\
         sentinel_master = \"tt\"\nsentinel_password = \"s3\"\npassword = \"r3\"\nsentinel_db = 2\n"
    );
    let c = config::from_toml_str(&toml, &no_env).unwrap();
    let r = c.redis.as_ref().unwrap();
    let s = r.sentinel.as_ref().unwrap();
    assert_eq!(
        s.sentinels,
        vec![
            ("10.0.0.1".to_string(), 26380),
            ("10.0.0.2".to_string(), 26379)
        ]
    );
    assert_eq!(s.master, "tt");
    assert_eq!(s.password.as_deref(), Some("s3"));
    assert_eq!(r.pools.len(), 5);
    for p in &r.pools {
        assert_eq!((p.db, p.password.as_deref()), (2, Some("r3")), "{}", p.name);
    }
    let shown = c.show();
    assert!(!shown.contains("s3") && !shown.contains("r3"), "{shown}");
    assert!(
        shown.contains("redis.sentinels=10.0.0.1:26380,10.0.0.2:26379"),
        "{shown}"
    );

    // The environment form, db defaulting to 0.
    let env = env_of(&[
        ("TT_DBPROXY_MYSQL_PRIMARY", MYSQL),
        (
            "TT_DBPROXY_REDIS_SENTINELS",
            "10.0.0.1:26379,10.0.0.2:26379",
        ),
        ("TT_DBPROXY_REDIS_SENTINEL_MASTER", "tt"),
    ]);
    let c = config::from_toml_str("", &env).unwrap();
    let r = c.redis.unwrap();
    assert_eq!(r.sentinel.unwrap().sentinels.len(), 2);
    assert!(r.pools.iter().all(|p| p.db == 0 && p.password.is_none()));
}

#[test]
fn bad_sentinel_settings_are_refused_with_the_key_named() {
    let refused = |redis: &str| {
        let toml = format!("[mysql]\nprimary = \"{MYSQL}\"\n[redis]\n{redis}\n");
        problems(config::from_toml_str(&toml, &no_env).unwrap_err())
    };
    let both = refused(
        "url = \"redis://cache:6379/1\"\nsentinels = [\"10.0.0.1:26379\"]\nsentinel_master = \"tt\"",
    );
    assert_eq!(
        both,
        vec!["redis.sentinels: set either redis.url or redis.sentinels, not both"]
    );
    assert_eq!(
        refused("sentinels = []\nsentinel_master = \"tt\""),
        vec!["redis.sentinels: must list at least one Sentinel"]
    );
    assert_eq!(
        refused("sentinels = [\"10.0.0.1:26379\"]"),
        vec!["redis.sentinel_master: required with redis.sentinels"]
    );
    let p = refused("sentinels = [\"10.0.0.1:26379\"]\nsentinel_master = \"\"");
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("redis.sentinel_master: must be the name"),
        "{p:?}"
    );
    let p = refused("sentinels = [\"10.0.0.1:sixty\"]\nsentinel_master = \"tt\"");
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(
        p[0].starts_with("redis.sentinels: \"10.0.0.1:sixty\""),
        "{p:?}"
    );
    let p = refused("url = \"redis://cache:6379/1\"\nsentinel_master = \"tt\"\nsentinel_db = 3");
    assert_eq!(
        p,
        vec![
            "redis.sentinel_master: only applies with redis.sentinels",
            "redis.sentinel_db: only applies with redis.sentinels"
        ]
    );
    let p = refused("sentinels = [\"10.0.0.1:26379\"]\nsentinel_master = \"tt\"\nsentinel_db = -1");
    assert!(
        p.iter().any(|l| l.starts_with("redis.sentinel_db:")),
        "{p:?}"
    );
}

#[test]
fn a_legacy_file_names_sentinels_and_keeps_each_pools_db() {
    let text = reference_conf()
        .replace("unread_host=127.0.0.1", "")
        .replace("unread_port=6379", "")
        + "\nRedisSentinels=10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379\nRedisSentinelMaster=teamtalk\nRedisPassword=pw\n";
    let c = config::from_legacy_str(&text, &no_env).unwrap();
    let r = c.redis.as_ref().unwrap();
    let s = r.sentinel.as_ref().unwrap();
    assert_eq!(s.sentinels.len(), 3);
    assert_eq!(s.master, "teamtalk");
    assert_eq!(s.password, None);
    let legacy = config::legacy::parse(&reference_conf());
    for p in &r.pools {
        let db: u32 = legacy
            .get(&format!("{}_db", p.name))
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(p.db, db, "{} keeps its own db", p.name);
        assert_eq!(p.password.as_deref(), Some("pw"));
    }

    let p = problems(
        config::from_legacy_str(
            &(reference_conf() + "\nRedisSentinels=10.0.0.1:26379\n"),
            &no_env,
        )
        .unwrap_err(),
    );
    assert_eq!(p, vec!["RedisSentinelMaster: required with RedisSentinels"]);
    let p = problems(
        config::from_legacy_str(
            &(reference_conf() + "\nRedisSentinelMaster=teamtalk\n"),
            &no_env,
        )
        .unwrap_err(),
    );
    assert_eq!(
        p,
        vec!["RedisSentinelMaster: only applies with RedisSentinels"]
    );
}

#[test]
fn max_replica_lag_is_validated_and_applies_to_every_pool_source() {
    let c = config::from_legacy_str(
        &reference_conf(),
        &env_of(&[("TT_DBPROXY_MYSQL_MAX_REPLICA_LAG_S", "5")]),
    )
    .unwrap();
    assert_eq!(c.mysql.unwrap().max_replica_lag_s, 5);
    let toml = "[redis]\nurl = \"redis://h:6379/1\"\n[mysql]\nprimary = \"mysql://u:p@h:3306/d\"\n";
    let c = config::from_toml_str(toml, &no_env).unwrap();
    assert_eq!(c.mysql.unwrap().max_replica_lag_s, 30, "default");
    let c = config::from_toml_str(&format!("{toml}max_replica_lag_s = 7\n"), &no_env).unwrap();
    assert_eq!(c.mysql.unwrap().max_replica_lag_s, 7);
    for bad in ["0", "86401"] {
        let err = config::from_toml_str(&format!("{toml}max_replica_lag_s = {bad}\n"), &no_env)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("mysql.max_replica_lag_s: must be between 1 and 86400 seconds"),
            "{err}"
        );
    }
}

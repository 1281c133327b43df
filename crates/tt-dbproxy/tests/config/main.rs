//! Configuration: TOML, environment overrides, the original
//! dbproxyserver.conf (as shipped, and with CRLF), and the messages for
//! every invalid key, through the library and through the binary.

#[path = "../common/mod.rs"]
mod common;
mod legacy;
mod sentinel;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use common::process::run;
use tt_dbproxy::config::{self, Config, ConfigError, LogFormat};

/// The original's shipped config file (its keys, comments, tabs and
/// quirks), carried by the project as a fixture.
pub(crate) fn reference_conf() -> String {
    include_str!("../fixtures/dbproxyserver.conf").to_string()
}
pub(crate) const EXAMPLE_TOML: &str = include_str!("../../../../tt-dbproxy.toml");

pub(crate) fn no_env(_: &str) -> Option<String> {
    None
}

pub(crate) fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |k| map.get(k).cloned()
}

pub(crate) fn problems(e: ConfigError) -> Vec<String> {
    match e {
        ConfigError::Invalid(p) => p.iter().map(ToString::to_string).collect(),
        other => panic!("expected Invalid, got {other}"),
    }
}

/// `p` holds exactly one problem starting with each of `expect`.
pub(crate) fn assert_problems(p: &[String], expect: &[&str]) {
    for e in expect {
        assert!(
            p.iter().any(|line| line.starts_with(e)),
            "missing {e:?} in {p:#?}"
        );
    }
    assert_eq!(p.len(), expect.len(), "{p:#?}");
}

pub(crate) fn addr(s: &str) -> SocketAddr {
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
    assert_problems(&p, &expect);
}

#[test]
fn invalid_toml_syntax_names_the_line() {
    let err = config::from_toml_str("[server\nlisten = 1", &no_env).unwrap_err();
    assert!(matches!(err, ConfigError::Syntax { .. }));
    assert!(err.to_string().contains("line 1"), "{err}");
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

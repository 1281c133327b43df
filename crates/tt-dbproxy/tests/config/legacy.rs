//! The original's `dbproxyserver.conf`: read as it is, its problems named,
//! and which file is read.

use std::path::PathBuf;

use crate::{addr, assert_problems, env_of, no_env, problems, reference_conf};
use tt_dbproxy::config::{self, BackendKind, Config, ConfigSource};

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
    assert_problems(&p, &expect);
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
    let server = crate::common::process::ServerProcess::spawn(dir.path(), &[], &[]);
    let mut c = tt_dbproxy::client::Client::connect(server.addr)
        .await
        .unwrap();
    let rsp = crate::common::login(&mut c, "zhangyl", crate::common::GOOD_PASSWORD).await;
    assert_eq!(rsp.result_code, Some(2));
    server.terminate();
    let (status, lines) = server.wait(std::time::Duration::from_secs(10));
    assert!(status.success());
    assert!(
        lines.iter().any(|l| l.contains("store failed")),
        "{lines:?}"
    );
}

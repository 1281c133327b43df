//! Redis Sentinel settings, in TOML and in a legacy file.

use crate::{env_of, no_env, problems, reference_conf};
use tt_dbproxy::config::{self};

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

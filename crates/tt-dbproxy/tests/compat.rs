//! Data compatibility with the original: a database created from the
//! shipped `ttopen.sql` and Redis keys written in the original layout are
//! served by tt-dbproxy as they are; `migrate` on that database only adds
//! what is missing. Needs the local MariaDB and Redis (see
//! `common/backends.rs`).

mod common;

use common::backends::{RedisLease, TestDatabase, skipped};
use common::*;
use mysql_async::prelude::Queryable;
use tt_proto::im::base_define::ShieldStatus;
use tt_proto::im::buddy::*;
use tt_proto::im::server::*;

/// The schema of an existing TeamTalk deployment (`ttopen.sql`'s tables,
/// columns, types, defaults, indexes and charsets), carried by the project.
const DEPLOYMENT_SCHEMA: &str = include_str!("fixtures/teamtalk-schema.sql");
/// The original's `dbproxyserver.conf` as shipped, carried by the project.
const SHIPPED_CONF: &str = include_str!("fixtures/dbproxyserver.conf");

/// The deployment schema without its comments and its `DROP/CREATE
/// DATABASE` and `USE` lines.
fn ttopen_statements() -> Vec<String> {
    let kept: String = DEPLOYMENT_SCHEMA
        .lines()
        .filter(|l| {
            let l = l.trim_start().to_ascii_uppercase();
            !(l.starts_with('#')
                || l.starts_with("--")
                || l.starts_with("DROP DATABASE")
                || l.starts_with("CREATE DATABASE")
                || l.starts_with("USE "))
        })
        .collect::<Vec<_>>()
        .join("\n");
    kept.split(";\n")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn original_schema_and_keys_are_served_as_they_are() {
    if skipped() {
        return;
    }
    let db = TestDatabase::create().await;
    let lease = RedisLease::acquire();
    let mut conn = mysql_async::Conn::from_url(db.url()).await.unwrap();
    for s in ttopen_statements() {
        conn.query_drop(&s)
            .await
            .unwrap_or_else(|e| panic!("{s}: {e}"));
    }
    let tables: Vec<String> = conn.query("SHOW TABLES").await.unwrap();
    assert!(
        !tables.iter().any(|t| t == "IMTransmitFile"),
        "upstream schema lacks it"
    );
    // Rows as the PHP admin and the C++ servers write them.
    conn.query_drop(
        "INSERT INTO IMUser (id, sex, name, domain, nick, password, salt, phone, email, avatar, departId, status, created, updated, push_shield_status, sign_info) VALUES \
         (1, 1, 'zhangyl', 'zyl', '张远龙', 'b605e86d02eef8bfd0646f6a704c17c9', '1234', '13900000001', 'a@x.com', NULL, 2, 0, 0, 1000, 0, 'hello'), \
         (2, 2, 'test', 'test', '测试', 'b605e86d02eef8bfd0646f6a704c17c9', '1234', '', '', '', 1, NULL, 0, 2000, 1, '')",
    )
    .await
    .unwrap();
    conn.query_drop("INSERT INTO IMDepart (id, departName, priority, parentId, status, created, updated) VALUES (2, '研发', 1, 0, 0, 0, 100)")
        .await
        .unwrap();
    conn.query_drop("INSERT INTO IMRelationShip (id, smallId, bigId, status, created, updated) VALUES (9, 1, 2, 0, 0, 0)").await.unwrap();
    conn.query_drop("INSERT INTO IMMessage_1 (relateId, fromId, toId, msgId, content, type, status, created, updated) VALUES (9, 2, 1, 5, 'hi', 1, 0, 100, 100)")
        .await
        .unwrap();
    conn.query_drop("INSERT INTO IMRecentSession (userId, peerId, type, status, created, updated) VALUES (1, 2, 1, 0, 0, 500), (1, 3, NULL, NULL, 0, 600)")
        .await
        .unwrap();
    conn.query_drop("INSERT INTO IMGroupMember (groupId, userId, status, created, updated) VALUES (7, 1, 0, 10, 10), (7, 2, 0, 10, 10)")
        .await
        .unwrap();
    let _ = conn.disconnect().await;
    // Redis keys as the original writes them (all pools in one db here).
    let mut r = lease.conn();
    let _: () = redis::pipe()
        .cmd("SET")
        .arg("device_1")
        .arg("ios:abc")
        .cmd("SET")
        .arg("device_abc")
        .arg("1")
        .cmd("HSET")
        .arg("unread_1")
        .arg("2")
        .arg("3")
        .cmd("HSET")
        .arg("5_im_group_msg")
        .arg("count")
        .arg("10")
        .cmd("HSET")
        .arg("1_5_im_user_group")
        .arg("count")
        .arg("4")
        .cmd("HSET")
        .arg("group_member_5")
        .arg("1")
        .arg("100")
        .cmd("HSET")
        .arg("group_set_5")
        .arg("1_1")
        .arg("1")
        .cmd("SET")
        .arg("total_user_updated")
        .arg("5000")
        .query(&mut r)
        .unwrap();

    // migrate adds IMTransmitFile and leaves the rest alone.
    let s = TestServer::start_mysql(&db.url(), &lease.url(), true, |_| {}).await;
    let mut conn = mysql_async::Conn::from_url(db.url()).await.unwrap();
    let tables: Vec<String> = conn.query("SHOW TABLES").await.unwrap();
    assert!(tables.iter().any(|t| t == "IMTransmitFile"));
    let users: Option<u64> = conn
        .query_first("SELECT COUNT(*) FROM IMUser")
        .await
        .unwrap();
    assert_eq!(users, Some(2));
    let _ = conn.disconnect().await;

    let mut c = s.client().await;
    // Login with the PHP admin's password scheme; NULL avatar reads as "".
    let rsp = login(&mut c, "zhangyl", GOOD_PASSWORD).await;
    assert_eq!(rsp.result_code, Some(0));
    assert_eq!(
        rsp.user_info.as_ref().and_then(|u| u.avatar_url.clone()),
        Some(vec![])
    );
    // NULL status: not active, cannot log in, and left out of a full sync.
    assert_eq!(
        login(&mut c, "test", GOOD_PASSWORD).await.result_code,
        Some(1)
    );
    // Gate read from total_user_updated.
    let req = ImAllUserReq {
        user_id: Some(1),
        latest_update_time: Some(0),
        attach_data: ab(),
    };
    let all: ImAllUserRsp = call(&mut c, 0x0208, &req, 2, 0x0209).await;
    assert_eq!(
        (all.user_list.len(), all.latest_update_time),
        (1, Some(1000))
    );
    let req = ImAllUserReq {
        user_id: Some(1),
        latest_update_time: Some(5000),
        attach_data: ab(),
    };
    let closed: ImAllUserRsp = call(&mut c, 0x0208, &req, 2, 0x0209).await;
    assert!(closed.user_list.is_empty());
    // Recent sessions with the last message from the sharded table; the
    // NULL-typed row is skipped, not a crash.
    let req = ImRecentContactSessionReq {
        user_id: Some(1),
        latest_update_time: Some(0),
        attach_data: ab(),
    };
    let recent: ImRecentContactSessionRsp = call(&mut c, 0x0201, &req, 2, 0x0202).await;
    assert_eq!(recent.contact_session_list.len(), 1);
    assert_eq!(recent.contact_session_list[0].latest_msg_id, Some(5));
    assert_eq!(
        recent.contact_session_list[0].latest_msg_from_user_id,
        Some(2)
    );
    // Device token and push count from the original keys: 3 one-to-one
    // unread; no group membership in MySQL for group 5, so 0 from groups.
    let req = ImGetDeviceTokenReq {
        user_id: vec![1],
        attach_data: ab(),
    };
    s.clock.set(T0 - (T0 + 8 * 3600) % 86_400 + 12 * 3600);
    let tokens: ImGetDeviceTokenRsp = call(&mut c, 0x0705, &req, 7, 0x0706).await;
    assert_eq!(tokens.user_token_info.len(), 1);
    assert_eq!(
        tokens.user_token_info[0].token.as_deref(),
        Some(&b"abc"[..])
    );
    assert_eq!(tokens.user_token_info[0].push_count, Some(3));
    // Group push settings from group_set_5 / group_member_5.
    let req = ImGroupGetShieldReq {
        group_id: Some(5),
        user_id: vec![1, 2],
        attach_data: ab(),
    };
    let shields: ImGroupGetShieldRsp = call(&mut c, 0x0711, &req, 7, 0x0712).await;
    let got: Vec<ShieldStatus> = shields.shield_status_list;
    assert_eq!(
        got.iter().map(|x| x.shield_status).collect::<Vec<_>>(),
        vec![Some(1), Some(0)]
    );
    // Group 7 exists only in MySQL (created by the PHP admin): its Redis
    // membership is rebuilt instead of the group not existing.
    let req = tt_proto::im::group::ImGroupShieldReq {
        user_id: Some(2),
        group_id: Some(7),
        shield_status: Some(1),
        attach_data: ab(),
    };
    let set: tt_proto::im::group::ImGroupShieldRsp = call(&mut c, 0x0409, &req, 4, 0x040a).await;
    assert_eq!(set.result_code, Some(0));
    let members: Vec<(String, String)> = redis::cmd("HGETALL")
        .arg("group_member_7")
        .query(&mut r)
        .unwrap();
    assert_eq!(members.len(), 2);
    // Writes land in the original layout too.
    let req = tt_proto::im::login::ImDeviceTokenReq {
        user_id: Some(2),
        device_token: Some(b"xyz".to_vec()),
        client_type: Some(0x12),
        attach_data: ab(),
    };
    let _: tt_proto::im::login::ImDeviceTokenRsp = call(&mut c, 0x0108, &req, 1, 0x0109).await;
    let (fwd, rev): (String, String) = redis::pipe()
        .cmd("GET")
        .arg("device_2")
        .cmd("GET")
        .arg("device_xyz")
        .query(&mut r)
        .unwrap();
    assert_eq!((fwd.as_str(), rev.as_str()), ("android:xyz", "2"));
    let sign = ImChangeSignInfoReq {
        user_id: Some(1),
        sign_info: Some(b"new".to_vec()),
        attach_data: ab(),
    };
    let _: ImChangeSignInfoRsp = call(&mut c, 0x0213, &sign, 2, 0x0214).await;
    let (read, write): (String, String) = redis::pipe()
        .cmd("GET")
        .arg("total_user_updated")
        .cmd("GET")
        .arg("total_user_update")
        .query(&mut r)
        .unwrap();
    let now = s.clock.now_secs().to_string();
    assert_eq!((read, write), (now.clone(), now));
    drop(s);
}

/// `dbproxyserver.conf` as shipped, pointed at the test database (through
/// a user with a password, as the format requires) and the leased Redis db.
fn legacy_conf(db: &TestDatabase, lease: &RedisLease) -> String {
    let text = SHIPPED_CONF;
    let mysql = common::backends::mysql_base();
    let host_port = mysql.rsplit('@').next().unwrap().to_string();
    let (host, port) = host_port.rsplit_once(':').unwrap();
    text.replace("_host=127.0.0.1\n", &format!("_host={host}\n"))
        .replace("_port=3306", &format!("_port={port}"))
        .replace("_dbname=teamtalk", &format!("_dbname={}", db.name))
        .replace("_username=test", "_username=tt_legacy")
        .replace("_password=12345", "_password=tt_legacy_pw")
        .replace("_db=1", &format!("_db={}", lease.db))
        .replace("_db=2", &format!("_db={}", lease.db))
        .replace("\n", "\r\n")
}

/// The MySQL user of [`legacy_conf`], with every right on `db`.
async fn grant_legacy_user(db: &TestDatabase) {
    let mut conn = mysql_async::Conn::from_url(format!("{}/", common::backends::mysql_base()))
        .await
        .unwrap();
    for host in ["localhost", "127.0.0.1", "%"] {
        conn.query_drop(format!(
            "CREATE USER IF NOT EXISTS 'tt_legacy'@'{host}' IDENTIFIED BY 'tt_legacy_pw'"
        ))
        .await
        .unwrap();
        conn.query_drop(format!(
            "GRANT ALL PRIVILEGES ON `{}`.* TO 'tt_legacy'@'{host}'",
            db.name
        ))
        .await
        .unwrap();
    }
    let _ = conn.disconnect().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_config_serves_a_ttopen_database() {
    if skipped() {
        return;
    }
    let db = TestDatabase::create().await;
    let lease = RedisLease::acquire();
    grant_legacy_user(&db).await;
    let mut conn = mysql_async::Conn::from_url(db.url()).await.unwrap();
    for s in ttopen_statements() {
        conn.query_drop(&s).await.unwrap();
    }
    let _ = conn.disconnect().await;

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("dbproxyserver.conf"),
        legacy_conf(&db, &lease),
    )
    .unwrap();
    let args = |a: &[&'static str]| -> Vec<&'static str> { a.to_vec() };
    let out = common::process::run(
        dir.path(),
        &args(&["migrate", "--legacy-config", "dbproxyserver.conf"]),
        &[],
    );
    assert!(out.status.success(), "{out:?}");
    let out = common::process::run(
        dir.path(),
        &args(&["admin", "user", "add", "alice", "--password", "123456"]),
        &[],
    );
    assert!(
        out.status.success(),
        "admin uses ./dbproxyserver.conf: {out:?}"
    );
    let server = common::process::ServerProcess::spawn(
        dir.path(),
        &["serve", "--legacy-config", "dbproxyserver.conf"],
        &[],
    );
    let mut c = tt_dbproxy::client::Client::connect(server.addr)
        .await
        .unwrap();
    assert_eq!(
        login(&mut c, "alice", GOOD_PASSWORD).await.result_code,
        Some(0)
    );
    assert_eq!(login(&mut c, "alice", "bad").await.result_code, Some(1));
    let req = tt_proto::im::login::ImPushShieldReq {
        user_id: Some(1),
        shield_status: Some(1),
        attach_data: ab(),
    };
    let rsp: tt_proto::im::login::ImPushShieldRsp = call(&mut c, 0x010c, &req, 1, 0x010d).await;
    assert_eq!(rsp.result_code, Some(0));
    server.terminate();
    let (status, _) = server.wait(std::time::Duration::from_secs(10));
    assert!(status.success());
    let mut conn = mysql_async::Conn::from_url(db.url()).await.unwrap();
    let shield: Option<u32> = conn
        .query_first("SELECT push_shield_status FROM IMUser WHERE name = 'alice'")
        .await
        .unwrap();
    assert_eq!(shield, Some(1));
    let _ = conn.disconnect().await;
}

/// Two db_proxy instances on one host from two legacy files that differ
/// only in `ListenPort` (msg_server's `DBServerIP1`/`DBServerIP2` on 10600
/// and 10601): both start and serve, whichever starts first, because a
/// legacy file takes no admin port unless it names one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_from_legacy_files_on_adjacent_ports_both_serve() {
    if skipped() {
        return;
    }
    let db = TestDatabase::create().await;
    let lease = RedisLease::acquire();
    grant_legacy_user(&db).await;
    let mut conn = mysql_async::Conn::from_url(db.url()).await.unwrap();
    for s in ttopen_statements() {
        conn.query_drop(&s).await.unwrap();
    }
    let _ = conn.disconnect().await;
    let conf = legacy_conf(&db, &lease).replace("ListenIP=0.0.0.0", "ListenIP=127.0.0.1");
    let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    for (dir, port) in dirs.iter().zip(["10600", "10601"]) {
        let text = conf.replace("ListenPort=10600", &format!("ListenPort={port}"));
        std::fs::write(dir.path().join("dbproxyserver.conf"), text).unwrap();
    }
    let out = common::process::run(
        dirs[0].path(),
        &["admin", "user", "add", "alice", "--password", "123456"],
        &[],
    );
    assert!(out.status.success(), "{out:?}");
    for order in [[0, 1], [1, 0]] {
        let servers: Vec<common::process::ServerProcess> = order
            .iter()
            .map(|&i| common::process::ServerProcess::spawn_as_configured(dirs[i].path(), &[], &[]))
            .collect();
        for (server, &i) in servers.iter().zip(&order) {
            assert_eq!(server.addr.port(), 10600 + i as u16);
            let lines = server.lines_so_far();
            assert!(
                lines
                    .iter()
                    .any(|l| l.contains("no admin endpoint") && l.contains("AdminListen=")),
                "says how to turn the admin endpoint on: {lines:?}"
            );
            let mut c = tt_dbproxy::client::Client::connect(server.addr)
                .await
                .unwrap();
            assert_eq!(
                login(&mut c, "alice", GOOD_PASSWORD).await.result_code,
                Some(0),
                "instance on {}",
                server.addr
            );
        }
        for server in servers {
            server.terminate();
            let (status, _) = server.wait(std::time::Duration::from_secs(10));
            assert!(status.success());
        }
    }
}

/// An admin address that a legacy file (or the environment) names but that
/// cannot be bound still refuses the start, saying which key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_admin_address_that_cannot_be_bound_refuses_to_start() {
    if skipped() {
        return;
    }
    let db = TestDatabase::create().await;
    let lease = RedisLease::acquire();
    grant_legacy_user(&db).await;
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let conf = legacy_conf(&db, &lease)
        .replace("ListenIP=0.0.0.0", "ListenIP=127.0.0.1")
        .replace("ListenPort=10600", "ListenPort=0")
        + &format!("AdminListen={busy}\r\n");
    std::fs::write(dir.path().join("dbproxyserver.conf"), conf).unwrap();
    let out = common::process::run(dir.path(), &["serve"], &[("TT_DBPROXY_LOG_LEVEL", "warn")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on the admin address {busy}")),
        "{stderr}"
    );
    // The same through the environment, over the defaults.
    let out = common::process::run(
        dir.path(),
        &["serve", "--config", "/dev/null"],
        &[
            ("TT_DBPROXY_ADMIN_LISTEN", &busy),
            ("TT_DBPROXY_LISTEN", "127.0.0.1:0"),
            ("TT_DBPROXY_DATA_DIR", "data"),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("admin address"), "{stderr}");
    drop(taken);
}

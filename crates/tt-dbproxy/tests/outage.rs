//! Backend outages on the MySQL/Redis backend: the server starts while
//! they are down, requests get their error reply within a bounded time
//! (never hang), the process keeps running, and it serves again without a
//! restart once they are back. Also: MySQL connections killed by the
//! server, and a read replica that refuses connections.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tt_dbproxy::store::prelude::*;

use common::backends::{RedisLease, TestDatabase, mysql_base, redis_base, skipped};
use common::proxy::FlakyProxy;
use common::*;
use mysql_async::prelude::Queryable;
use tt_dbproxy::client::Client;
use tt_dbproxy::store::Platform;
use tt_proto::im::server::{ImGetDeviceTokenReq, ImGetDeviceTokenRsp};

const WAIT_MS: u64 = 200;
/// A hang check, not a benchmark: 10× the configured wait.
const HANG_BOUND: Duration = Duration::from_millis(10 * WAIT_MS);

fn host_port(url: &str, scheme: &str) -> SocketAddr {
    let rest = url.strip_prefix(scheme).unwrap();
    let host_port = rest.rsplit('@').next().unwrap();
    let host_port = host_port.split('/').next().unwrap();
    host_port.parse().unwrap()
}

/// Migrates and seeds a fresh database and Redis db directly.
async fn prepared() -> (TestDatabase, RedisLease) {
    let db = TestDatabase::create().await;
    let lease = RedisLease::acquire();
    let direct = TestServer::start_mysql(&db.url(), &lease.url(), true, |_| {}).await;
    seed_spec_users(direct.store.as_ref()).await;
    direct
        .store
        .register_device_token(1, Platform::Android, "tok")
        .await
        .unwrap();
    drop(direct);
    (db, lease)
}

async fn login_code(c: &mut Client) -> u32 {
    tokio::time::timeout(HANG_BOUND, login(c, "zhangyl", GOOD_PASSWORD))
        .await
        .expect("a login reply within 10x the acquire timeout")
        .result_code
        .unwrap_or(99)
}

async fn token_count(c: &mut Client) -> usize {
    let req = ImGetDeviceTokenReq {
        user_id: vec![1],
        attach_data: ab(),
    };
    let rsp: ImGetDeviceTokenRsp =
        tokio::time::timeout(HANG_BOUND, call(c, 0x0705, &req, 7, 0x0706))
            .await
            .expect("a device-token reply within 10x the acquire timeout");
    rsp.user_token_info.len()
}

/// Retries until MySQL logins and Redis reads work again (the back-off
/// is at most 5 s).
async fn wait_for_recovery(c: &mut Client) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if login_code(c).await == 0 && token_count(c).await == 1 {
            return;
        }
        assert!(Instant::now() < deadline, "no recovery within 30 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_before_start_and_mid_run_gives_errors_then_recovers() {
    if skipped() {
        return;
    }
    let (db, lease) = prepared().await;
    let mysql_proxy = FlakyProxy::start(host_port(&mysql_base(), "mysql://")).await;
    let redis_proxy = FlakyProxy::start(host_port(&redis_base(), "redis://")).await;
    mysql_proxy.set_up(false);
    redis_proxy.set_up(false);
    let mysql_url = format!(
        "{}/{}",
        mysql_base().replace(
            &host_port(&mysql_base(), "mysql://").to_string(),
            &mysql_proxy.addr.to_string()
        ),
        db.name
    );
    let redis_url = format!("redis://{}/{}", redis_proxy.addr, lease.db);
    let s = TestServer::start_mysql(&mysql_url, &redis_url, false, |c| {
        c.storage.acquire_timeout_ms = WAIT_MS
    })
    .await;
    let mut c = s.client().await;

    // Down from the start: the server runs and answers with errors.
    assert_eq!(login_code(&mut c).await, 2);
    assert_eq!(token_count(&mut c).await, 0);

    // Back: served without a restart.
    mysql_proxy.set_up(true);
    redis_proxy.set_up(true);
    wait_for_recovery(&mut c).await;

    // Cut mid-run: open connections die, new ones are refused.
    mysql_proxy.set_up(false);
    redis_proxy.set_up(false);
    for _ in 0..5 {
        assert_eq!(login_code(&mut c).await, 2);
        assert_eq!(token_count(&mut c).await, 0);
    }
    assert!(!s.handle.is_finished(), "the process keeps running");

    mysql_proxy.set_up(true);
    redis_proxy.set_up(true);
    wait_for_recovery(&mut c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mysql_and_redis_connections_are_replaced() {
    if skipped() {
        return;
    }
    let (db, lease) = prepared().await;
    let s = TestServer::start_mysql(&db.url(), &lease.url(), false, |c| {
        c.storage.acquire_timeout_ms = WAIT_MS
    })
    .await;
    let mut c = s.client().await;
    wait_for_recovery(&mut c).await;

    // The DBA kills every connection of this database, and Redis drops its
    // normal clients.
    let mut admin = mysql_async::Conn::from_url(format!("{}/", mysql_base()))
        .await
        .unwrap();
    let ids: Vec<u64> = admin
        .exec(
            "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()",
            (db.name.clone(),),
        )
        .await
        .unwrap();
    assert!(!ids.is_empty(), "the server keeps pooled connections");
    for id in ids {
        let _ = admin.query_drop(format!("KILL {id}")).await;
    }
    let _ = admin.disconnect().await;
    // Only this server's Redis clients: the ones on the leased db (other
    // tests run in parallel against the same Redis).
    let mut r = lease.conn();
    let me: u64 = redis::cmd("CLIENT").arg("ID").query(&mut r).unwrap();
    let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut r).unwrap();
    let ours: Vec<u64> = list
        .lines()
        .filter(|l| l.split(' ').any(|kv| kv == format!("db={}", lease.db)))
        .filter_map(|l| {
            l.split(' ')
                .find_map(|kv| kv.strip_prefix("id="))
                .and_then(|v| v.parse().ok())
        })
        .filter(|id| *id != me)
        .collect();
    assert!(!ours.is_empty(), "the server holds Redis connections");
    for id in ours {
        let _: Result<i64, _> = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("ID")
            .arg(id)
            .query(&mut r);
    }

    // Each request gets an answer in time; within a few it is served again.
    for _ in 0..3 {
        let code = login_code(&mut c).await;
        assert!(code == 0 || code == 2, "{code}");
        token_count(&mut c).await;
    }
    wait_for_recovery(&mut c).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_replica_is_skipped_and_a_healthy_one_serves_reads() {
    if skipped() {
        return;
    }
    let (db, lease) = prepared().await;
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let bad_replica = format!("mysql://root:@{refused}/{}", db.name);
    let good_replica = db.url();
    let replicas = format!("{bad_replica},{good_replica}");
    let env = |k: &str| match k {
        "TT_DBPROXY_MYSQL_PRIMARY" => Some(db.url()),
        "TT_DBPROXY_MYSQL_REPLICAS" => Some(replicas.clone()),
        "TT_DBPROXY_REDIS_URL" => Some(lease.url()),
        "TT_DBPROXY_ACQUIRE_TIMEOUT_MS" => Some(WAIT_MS.to_string()),
        "TT_DBPROXY_LISTEN" => Some("127.0.0.1:0".into()),
        _ => None,
    };
    let config = tt_dbproxy::config::from_toml_str("", &env).unwrap();
    assert_eq!(config.mysql.as_ref().map(|m| m.replicas.len()), Some(2));
    let store = tt_dbproxy::store::MysqlRedisStore::new(&config).unwrap();
    let s = TestServer::serve(
        config,
        std::sync::Arc::new(store),
        std::path::Path::new("."),
    )
    .await;
    let mut c = s.client().await;
    for _ in 0..10 {
        assert_eq!(
            login_code(&mut c).await,
            0,
            "reads never fail because of the bad replica"
        );
    }
    // Only a bad replica: reads go to the primary.
    let env_only_bad = |k: &str| match k {
        "TT_DBPROXY_MYSQL_REPLICAS" => Some(bad_replica.clone()),
        other => env(other),
    };
    let config = tt_dbproxy::config::from_toml_str("", &env_only_bad).unwrap();
    let store = tt_dbproxy::store::MysqlRedisStore::new(&config).unwrap();
    let s = TestServer::serve(
        config,
        std::sync::Arc::new(store),
        std::path::Path::new("."),
    )
    .await;
    let mut c = s.client().await;
    for _ in 0..5 {
        assert_eq!(login_code(&mut c).await, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_redis_select_is_a_failed_connect() {
    if skipped() {
        return;
    }
    let db = TestDatabase::create().await;
    // Redis has 16 databases by default: SELECT 99 fails.
    let env = |k: &str| match k {
        "TT_DBPROXY_MYSQL_PRIMARY" => Some(db.url()),
        "TT_DBPROXY_REDIS_URL" => Some(format!("{}/99", redis_base())),
        _ => None,
    };
    let config = tt_dbproxy::config::from_toml_str("", &env).unwrap();
    let store = tt_dbproxy::store::MysqlRedisStore::new(&config).unwrap();
    let err = store.device_tokens(&[1]).await.unwrap_err();
    assert!(
        matches!(err, tt_dbproxy::store::StoreError::Unavailable(_)),
        "{err}"
    );
    assert!(store.user_list_gate().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_while_redis_is_down_is_not_acknowledged_and_stores_nothing() {
    if skipped() {
        return;
    }
    let (db, lease) = prepared().await;
    let redis_proxy = FlakyProxy::start(host_port(&redis_base(), "redis://")).await;
    let redis_url = format!("redis://{}/{}", redis_proxy.addr, lease.db);
    let s = TestServer::start_mysql(&db.url(), &redis_url, false, |c| {
        c.storage.acquire_timeout_ms = WAIT_MS
    })
    .await;
    let mut c = s.client().await;
    let m = tt_proto::im::message::ImMsgData {
        from_user_id: Some(1),
        to_session_id: Some(2),
        msg_id: Some(0),
        create_time: Some(1),
        msg_type: Some(1),
        msg_data: Some(b"x".to_vec()),
        attach_data: ab(),
    };
    let first: tt_proto::im::message::ImMsgData = call(&mut c, 0x0301, &m, 3, 0x0301).await;
    assert_eq!(first.msg_id, Some(1));
    redis_proxy.set_up(false);
    let rsp = tokio::time::timeout(
        HANG_BOUND,
        call::<tt_proto::im::message::ImMsgData>(&mut c, 0x0301, &m, 3, 0x0301),
    )
    .await
    .expect("an answer in time");
    assert_eq!(
        rsp.msg_id,
        Some(0),
        "no id can be allocated: not acknowledged"
    );
    assert_eq!(
        s.store.single_history(1, 2, 0, 10).await.unwrap().len(),
        1,
        "nothing stored"
    );
    redis_proxy.set_up(true);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rsp: tt_proto::im::message::ImMsgData = call(&mut c, 0x0301, &m, 3, 0x0301).await;
        if rsp.msg_id == Some(2) {
            break;
        }
        assert_eq!(rsp.msg_id, Some(0));
        assert!(Instant::now() < deadline, "no recovery");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

//! The admin HTTP endpoint: `/metrics` counters move after real requests
//! (scraped and parsed), `/healthz`, `/status`, and `/readyz` flipping
//! when a backend goes away and comes back.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::backends::{RedisLease, TestDatabase, mysql_base, redis_base, skipped};
use common::proxy::FlakyProxy;
use common::*;
use tokio_util::sync::CancellationToken;

async fn start_admin(s: &TestServer) -> (SocketAddr, CancellationToken) {
    tt_dbproxy::metrics::install();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let token = CancellationToken::new();
    tokio::spawn(tt_dbproxy::admin::serve(l, s.state.clone(), token.clone()));
    (addr, token)
}

async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let rsp = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
    let status = rsp.status().as_u16();
    (status, rsp.text().await.unwrap())
}

#[tokio::test]
async fn metrics_move_after_real_requests() {
    let s = TestServer::start().await;
    seed_spec_users(s.store.as_ref()).await;
    let (admin, _token) = start_admin(&s).await;
    let (code, before) = get(admin, "/metrics").await;
    assert_eq!(code, 200);
    let requests_before = sample(&before, r#"tt_dbproxy_requests_total{command="validate"}"#);
    let throttled_before = sample(&before, "tt_dbproxy_login_throttle_rejections_total");
    let mut c = s.client().await;
    for _ in 0..3 {
        assert_eq!(
            login(&mut c, "zhangyl", GOOD_PASSWORD).await.result_code,
            Some(0)
        );
    }
    for _ in 0..12 {
        login(&mut c, "test", "wrong").await;
    }
    let (_, after) = get(admin, "/metrics").await;
    assert_eq!(
        sample(&after, r#"tt_dbproxy_requests_total{command="validate"}"#) - requests_before,
        15.0
    );
    assert_eq!(
        sample(&after, "tt_dbproxy_login_throttle_rejections_total") - throttled_before,
        1.0
    );
    assert!(sample(&after, "tt_dbproxy_connections_open") >= 1.0);
    assert!(sample(&after, "tt_dbproxy_frames_in_total") >= 15.0);
    assert!(sample(&after, "tt_dbproxy_bytes_out_total") > 0.0);
    assert!(
        after.contains(
            r#"tt_dbproxy_request_duration_seconds_bucket{command="validate",le="0.001"}"#
        ),
        "latency histogram per command:\n{after}"
    );
}

#[tokio::test]
async fn healthz_readyz_and_status() {
    let s = TestServer::start().await;
    let (admin, _token) = start_admin(&s).await;
    assert_eq!(get(admin, "/healthz").await, (200, "ok\n".to_string()));
    assert_eq!(get(admin, "/readyz").await.0, 200);
    let _c = s.client().await;
    eventually("connection counted", || async {
        s.state.stats.open_connections() == 1
    })
    .await;
    let (code, body) = get(admin, "/status").await;
    assert_eq!(code, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(v["connections"], 1);
    assert_eq!(v["backend"], "Embedded");
    assert!(
        !body.contains("12345678901234567890123456789012"),
        "no secrets in /status"
    );
    s.store.fail_next(tt_dbproxy::store::StoreOp::Ready, 1);
    assert_eq!(get(admin, "/readyz").await.0, 503);
    assert_eq!(get(admin, "/readyz").await.0, 200);
    assert_eq!(get(admin, "/nope").await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_flips_when_mysql_or_redis_goes_away_and_comes_back() {
    if skipped() {
        return;
    }
    // Before the pools exist, so their metric handles are live.
    tt_dbproxy::metrics::install();
    let db = TestDatabase::create().await;
    let lease = RedisLease::acquire();
    let target = |url: &str, scheme: &str| -> SocketAddr {
        let hp = url
            .strip_prefix(scheme)
            .unwrap()
            .rsplit('@')
            .next()
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .to_string();
        hp.parse().unwrap()
    };
    let mysql_proxy = FlakyProxy::start(target(&mysql_base(), "mysql://")).await;
    let redis_proxy = FlakyProxy::start(target(&redis_base(), "redis://")).await;
    let mysql_url = format!("mysql://root:@{}/{}", mysql_proxy.addr, db.name);
    let redis_url = format!("redis://{}/{}", redis_proxy.addr, lease.db);
    let s = TestServer::start_mysql(&mysql_url, &redis_url, true, |c| {
        c.storage.acquire_timeout_ms = 200
    })
    .await;
    let (admin, _token) = start_admin(&s).await;
    assert_eq!(get(admin, "/readyz").await.0, 200);
    let (_, text) = get(admin, "/metrics").await;
    for (backend, pool) in [("mysql", "primary"), ("redis", "unread")] {
        let labels = format!(r#"{{backend="{backend}",pool="{pool}"}}"#);
        assert!(
            sample(&text, &format!("tt_dbproxy_pool_max_connections{labels}")) >= 1.0,
            "{backend} {pool} size in {text}"
        );
        assert!(
            sample(
                &text,
                &format!("tt_dbproxy_pool_acquire_seconds_count{labels}")
            ) >= 1.0,
            "{backend} {pool} acquires in {text}"
        );
    }
    for (proxy, backend) in [(&mysql_proxy, "mysql"), (&redis_proxy, "redis")] {
        let errors = |text: &str| -> f64 {
            text.lines()
                .filter(|l| {
                    l.starts_with(&format!(
                        r#"tt_dbproxy_pool_errors_total{{backend="{backend}""#
                    ))
                })
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum()
        };
        let before = errors(&get(admin, "/metrics").await.1);
        proxy.set_up(false);
        let (code, body) = get(admin, "/readyz").await;
        assert_eq!(code, 503, "{body}");
        // The first failure may come from a pooled connection the proxy
        // just cut (a failed query, not a pool error); the next probes
        // need a new connection, which cannot be made.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut after = errors(&get(admin, "/metrics").await.1);
        while after <= before && Instant::now() < deadline {
            let (code, body) = get(admin, "/readyz").await;
            assert_eq!(code, 503, "{body}");
            tokio::time::sleep(Duration::from_millis(100)).await;
            after = errors(&get(admin, "/metrics").await.1);
        }
        assert!(after > before, "{backend} pool errors {before} -> {after}");
        proxy.set_up(true);
        let deadline = Instant::now() + Duration::from_secs(30);
        while get(admin, "/readyz").await.0 != 200 {
            assert!(Instant::now() < deadline, "not ready again within 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test]
async fn the_binary_serves_the_admin_endpoint_unless_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let server = common::process::ServerProcess::spawn(dir.path(), &[], &[]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let admin: SocketAddr = loop {
        if let Some(a) = server.lines_so_far().iter().find_map(|l| {
            l.split("admin endpoint on http://")
                .nth(1)
                .map(|a| a.trim().to_string())
        }) {
            break a.parse().unwrap();
        }
        assert!(Instant::now() < deadline, "no admin endpoint line");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut c = tt_dbproxy::client::Client::connect(server.addr)
        .await
        .unwrap();
    login(&mut c, "nobody", "x").await;
    let (code, text) = get(admin, "/metrics").await;
    assert_eq!(code, 200);
    assert_eq!(
        sample(&text, r#"tt_dbproxy_requests_total{command="validate"}"#),
        1.0
    );
    drop(server);

    let quiet =
        common::process::ServerProcess::spawn(dir.path(), &[], &[("TT_DBPROXY_ADMIN_LISTEN", "")]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        !quiet
            .lines_so_far()
            .iter()
            .any(|l| l.contains("admin endpoint on"))
    );
}

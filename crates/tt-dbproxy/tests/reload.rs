//! Reloading the configuration while serving: SIGHUP on the real binary
//! and `POST /reload` in process. A bad file is refused and the running
//! configuration kept; reloadable keys take effect at once; keys that
//! need a restart are reported and kept.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use common::process::{ServerProcess, run};
use common::*;
use tokio_util::sync::CancellationToken;
use tt_dbproxy::client::Client;
use tt_dbproxy::config::ConfigSource;
use tt_dbproxy::state::ReloadSource;

const GOOD: &str = "[server]\nmax_connections = 100\n\n[log]\nslow_request_ms = 500\n";
const BAD: &str = "[server]\nmax_connections = \"lots\"\n";

/// Waits until a log line containing `needle` appears; returns every line
/// seen meanwhile.
fn wait_for_line(server: &ServerProcess, needle: &str, seen: &mut Vec<String>) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let new = server.lines_so_far();
        let hit = new.iter().find(|l| l.contains(needle)).cloned();
        seen.extend(new);
        if let Some(line) = hit {
            return line;
        }
        assert!(
            Instant::now() < deadline,
            "no log line with {needle:?} in {seen:#?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn hangup(server: &ServerProcess) {
    let status = std::process::Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

async fn status_config(admin: SocketAddr) -> String {
    let text = reqwest::get(format!("http://{admin}/status"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    body["config"].as_str().unwrap().to_string()
}

/// A connection the server closes at once reads end-of-stream.
async fn refused(addr: SocketAddr) -> bool {
    let mut c = Client::connect(addr).await.unwrap();
    matches!(
        tokio::time::timeout(Duration::from_secs(5), c.next_frame()).await,
        Ok(Ok(None) | Err(_))
    )
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[tokio::test]
async fn sighup_refuses_a_bad_file_and_applies_a_good_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tt-dbproxy.toml");
    write(&file, GOOD);
    let out = run(
        dir.path(),
        &[
            "admin",
            "--config",
            "tt-dbproxy.toml",
            "user",
            "add",
            "alice",
            "--password",
            "123456",
        ],
        &[],
    );
    assert!(out.status.success(), "{out:?}");
    let server = ServerProcess::spawn(dir.path(), &["--config", "tt-dbproxy.toml"], &[]);
    let mut seen = Vec::new();
    let admin_line = wait_for_line(&server, "admin endpoint on http://", &mut seen);
    let admin: SocketAddr = admin_line
        .split("http://")
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut held = Client::connect(server.addr).await.unwrap();
    assert_eq!(
        login(&mut held, "alice", GOOD_PASSWORD).await.result_code,
        Some(0)
    );

    // A bad file: refused with the reason, the old configuration kept.
    write(&file, BAD);
    hangup(&server);
    let refusal = wait_for_line(&server, "reload refused", &mut seen);
    assert!(refusal.contains("server.max_connections"), "{refusal}");
    assert!(status_config(admin).await.contains("max_connections=100 "),);
    assert_eq!(
        login(&mut held, "alice", GOOD_PASSWORD).await.result_code,
        Some(0),
        "the open connection is still served"
    );
    let mut fresh = Client::connect(server.addr).await.unwrap();
    assert_eq!(
        login(&mut fresh, "alice", GOOD_PASSWORD).await.result_code,
        Some(0),
        "new connections are still served"
    );
    drop(fresh);

    // A good file: the limit applies at once; a restart-only key is
    // reported and kept.
    write(
        &file,
        "[server]\nmax_connections = 1\n\n[storage]\ndata_dir = \"elsewhere\"\n",
    );
    hangup(&server);
    let applied = wait_for_line(&server, "configuration reloaded", &mut seen);
    assert!(applied.contains("server.max_connections"), "{applied}");
    let restart = seen
        .iter()
        .find(|l| l.contains("needs a restart"))
        .cloned()
        .unwrap_or_else(|| wait_for_line(&server, "needs a restart", &mut seen));
    assert!(restart.contains("storage.data_dir"), "{restart}");
    let shown = status_config(admin).await;
    assert!(shown.contains("max_connections=1 "), "{shown}");
    assert!(shown.contains("data_dir=./data"), "{shown}");
    // `held` is the one connection allowed now.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(refused(server.addr).await, "a second connection is refused");
    assert_eq!(
        login(&mut held, "alice", GOOD_PASSWORD).await.result_code,
        Some(0)
    );
}

async fn start_admin(s: &TestServer) -> SocketAddr {
    tt_dbproxy::metrics::install();
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(tt_dbproxy::admin::serve(
        l,
        s.state.clone(),
        CancellationToken::new(),
    ));
    addr
}

async fn post_reload(admin: SocketAddr) -> (u16, serde_json::Value) {
    let rsp = reqwest::Client::new()
        .post(format!("http://{admin}/reload"))
        .send()
        .await
        .unwrap();
    let code = rsp.status().as_u16();
    (
        code,
        serde_json::from_str(&rsp.text().await.unwrap()).unwrap(),
    )
}

#[tokio::test]
async fn post_reload_answers_what_changed_or_why_not() {
    let s = TestServer::start().await;
    let admin = start_admin(&s).await;
    let (code, body) = post_reload(admin).await;
    assert_eq!(code, 404, "no source yet: {body}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tt.toml");
    write(&file, BAD);
    s.state
        .enable_reload(ReloadSource::new(ConfigSource::Toml(file.clone()), None));
    let (code, body) = post_reload(admin).await;
    assert_eq!(code, 400);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("server.max_connections"),
        "{body}"
    );
    assert_eq!(s.state.config().log.slow_request_ms, 500);

    write(
        &file,
        "[server]\nworkers = 3\nidle_timeout_ms = 60000\n\n[log]\nslow_request_ms = 7\n",
    );
    let (code, body) = post_reload(admin).await;
    assert_eq!(code, 200, "{body}");
    let applied: Vec<&str> = body["applied"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        applied,
        [
            "server.idle_timeout_ms",
            "server.workers",
            "log.slow_request_ms"
        ]
    );
    // The test server listens on port 0 and keeps its data in a temporary
    // directory; the file's defaults differ and need a restart.
    assert_eq!(
        body["need_restart"],
        serde_json::json!(["server.listen", "storage.data_dir"])
    );
    let config = s.state.config();
    assert_eq!(config.log.slow_request_ms, 7);
    assert_eq!(config.server.workers, 3);
    assert_eq!(config.server.idle_timeout_ms, 60_000);
    // Still serving, with the resized worker limit.
    let mut c = s.client().await;
    seed_spec_users(s.store.as_ref()).await;
    assert_eq!(
        login(&mut c, "zhangyl", GOOD_PASSWORD).await.result_code,
        Some(0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_adds_a_replica_and_resizes_the_pools_on_mysql() {
    use common::backends::{RedisLease, TestDatabase, skipped};
    if skipped() {
        return;
    }
    // Before the pools exist, so their metric handles are live.
    tt_dbproxy::metrics::install();
    let db = TestDatabase::create().await;
    let lease = RedisLease::acquire();
    let s = TestServer::start_mysql(&db.url(), &lease.url(), true, |_| {}).await;
    seed_spec_users(s.store.as_ref()).await;
    let admin = start_admin(&s).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tt.toml");
    // The same database again as a read replica, smaller pools.
    write(
        &file,
        &format!(
            "[mysql]\nprimary = \"{db}\"\nreplicas = [\"{db}\"]\nmax_connections = 3\n\n\
             [redis]\nurl = \"{redis}\"\nmax_connections = 2\n",
            db = db.url(),
            redis = lease.url()
        ),
    );
    s.state
        .enable_reload(ReloadSource::new(ConfigSource::Toml(file), None));
    let (code, body) = post_reload(admin).await;
    assert_eq!(code, 200, "{body}");
    for key in [
        "mysql.replicas",
        "mysql.max_connections",
        "redis.max_connections",
    ] {
        assert!(
            body["applied"].as_array().unwrap().iter().any(|k| k == key),
            "{key} in {body}"
        );
    }
    // Reads now go to the replica, and requests are served throughout.
    let mut c = s.client().await;
    for _ in 0..3 {
        assert_eq!(
            login(&mut c, "zhangyl", GOOD_PASSWORD).await.result_code,
            Some(0)
        );
    }
    let text = reqwest::get(format!("http://{admin}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let replica = r#"{backend="mysql",pool="replica1"}"#;
    assert_eq!(
        sample(&text, &format!("tt_dbproxy_pool_max_connections{replica}")),
        3.0
    );
    assert!(
        sample(
            &text,
            &format!("tt_dbproxy_pool_acquire_seconds_count{replica}")
        ) >= 3.0
    );
    let config = s.state.config();
    let mysql = config.mysql.as_ref().unwrap();
    assert_eq!(mysql.replicas.len(), 1);
    assert_eq!(mysql.primary.max_connections, 3);
    assert!(
        config
            .redis
            .as_ref()
            .unwrap()
            .pools
            .iter()
            .all(|p| p.max_connections == 2)
    );
}

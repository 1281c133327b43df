//! MariaDB and Redis killed, restarted or stalled under load.

use crate::harness::*;

/// kill -9 of MariaDB (or Redis) under load, restarted 3 s later (Redis
/// empty).
async fn kill_and_restart(name: &str, redis: bool) {
    if !harness_available() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let mut d = Deployment::start().await;
    let addr = d.server.addr;
    let (db, cache) = (&mut d.db, &mut d.redis);
    let (sent, worst_read) = load_around(
        "",
        addr,
        Duration::from_millis(1_000),
        async {
            if redis {
                cache.kill9()
            } else {
                db.kill9()
            }
            tokio::time::sleep(Duration::from_millis(3_000)).await;
            if redis { cache.restart() } else { db.restart() }
        },
        Duration::from_millis(2_000),
    )
    .await;
    let resumed = serves_again(&d).await;
    report(name, &sent, worst_read, resumed);
    assert_after_fault(&d, &sent, redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mariadb_kill9_and_restart_under_send_load() {
    kill_and_restart("mariadb kill -9", false).await;
}

/// MariaDB (or Redis) SIGSTOPped for 5 s under load, then SIGCONT.
async fn stall(name: &str, redis: bool) {
    if !harness_available() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let d = Deployment::start().await;
    let process = if redis {
        &d.redis.process
    } else {
        &d.db.process
    };
    let mut resumed_at = None;
    let (sent, worst_read) = under_load(&d, async {
        process.pause();
        tokio::time::sleep(Duration::from_secs(5)).await;
        process.resume();
        resumed_at = Some(Instant::now());
    })
    .await;
    assert_stall_bounds(name, &sent, worst_read, resumed_at.unwrap());
    serves_again(&d).await;
    // Redis: increments cut off by the deadline may be lost with the stale
    // connection, so counters may undercount, never overcount.
    assert_after_fault(&d, &sent, redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn mariadb_stalled_for_5s_under_load() {
    stall("mariadb SIGSTOP 5 s", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_kill9_and_restart_empty_under_send_load() {
    kill_and_restart("redis kill -9", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_stalled_for_5s_under_load() {
    stall("redis SIGSTOP 5 s", true).await;
}

// ---- the embedded store -------------------------------------------------

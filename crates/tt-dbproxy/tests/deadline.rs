//! The per-request deadline (`storage.request_timeout_ms`) against
//! backends that accept connections but never answer: every request is
//! answered with its handler's "storage failed" reply within the deadline
//! (asserted with a wide margin), and the deadline is counted.

mod common;

use std::time::{Duration, Instant};

use common::backends::{RedisLease, TestDatabase, skipped};
use common::*;
use tt_proto::im::message::{ImUnreadMsgCntReq, ImUnreadMsgCntRsp};

/// A TCP listener that accepts and then says nothing, for ever.
async fn black_hole() -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = l.accept().await {
            held.push(s);
        }
    });
    (addr, task)
}

const DEADLINE_MS: u64 = 400;

fn tweak(c: &mut tt_dbproxy::config::Config) {
    c.storage.request_timeout_ms = DEADLINE_MS;
    c.storage.acquire_timeout_ms = 300;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_mysql_costs_a_request_its_deadline_and_no_more() {
    if skipped() {
        return;
    }
    tt_dbproxy::metrics::install();
    let (hole, _task) = black_hole().await;
    let lease = RedisLease::acquire();
    let s = TestServer::start_mysql(
        &format!("mysql://root:@{hole}/tt"),
        &lease.url(),
        false,
        tweak,
    )
    .await;
    let mut c = s.client().await;
    for round in 0..3 {
        let started = Instant::now();
        let rsp = login(&mut c, "zhangyl", GOOD_PASSWORD).await;
        let took = started.elapsed();
        assert_eq!(
            rsp.result_code,
            Some(2),
            "round {round}: storage failed (internal error)"
        );
        assert!(
            took < Duration::from_millis(2 * DEADLINE_MS),
            "round {round}: answered after {took:?}"
        );
    }
    let text = tt_dbproxy::metrics::render();
    assert!(
        sample(
            &text,
            "tt_dbproxy_request_deadline_exceeded_total{command=\"CID_OTHER_VALIDATE_REQ\"}"
        ) >= 1.0
            || sample(&text, "tt_dbproxy_store_errors_total{kind=\"unavailable\"}") >= 1.0,
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_redis_costs_a_request_its_deadline_and_no_more() {
    if skipped() {
        return;
    }
    tt_dbproxy::metrics::install();
    let (hole, _task) = black_hole().await;
    let db = TestDatabase::create().await;
    let mut s = TestServer::start_mysql(&db.url(), &format!("redis://{hole}/0"), true, tweak).await;
    s.mysql = Some(db);
    let mut c = s.client().await;
    for round in 0..3 {
        let started = Instant::now();
        let req = ImUnreadMsgCntReq {
            user_id: Some(1),
            attach_data: ab(),
        };
        let rsp: ImUnreadMsgCntRsp = call(&mut c, 0x0307, &req, 3, 0x0308).await;
        let took = started.elapsed();
        assert_eq!(rsp.total_cnt, Some(0), "round {round}");
        assert!(rsp.unreadinfo_list.is_empty(), "round {round}");
        assert!(
            took < Duration::from_millis(2 * DEADLINE_MS),
            "round {round}: answered after {took:?}"
        );
    }
    let text = tt_dbproxy::metrics::render();
    assert!(
        sample(&text, "tt_dbproxy_store_errors_total{kind=\"deadline\"}")
            + sample(&text, "tt_dbproxy_store_errors_total{kind=\"unavailable\"}")
            >= 3.0,
        "{text}"
    );
}

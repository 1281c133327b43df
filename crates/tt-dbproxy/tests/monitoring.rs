//! The alerting rules and the Grafana dashboard (`deploy/`) use only
//! metric names a server exports: a server on MySQL + Redis with its
//! admin endpoint, after one login, unread summary and send, is scraped,
//! and every `tt_dbproxy_*` name in the rules and the dashboard must be
//! among the scraped series. Counters exist at zero before any event, and
//! the readiness gauge follows the backends. (promtool checks and tests
//! the rules themselves in CI.)

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;

use common::*;
use tokio_util::sync::CancellationToken;
use tt_proto::im::message::{ImMsgData, ImUnreadMsgCntReq, ImUnreadMsgCntRsp};

const RULES: &str = include_str!("../../../deploy/prometheus/tt-dbproxy-rules.yml");
const DASHBOARD: &str = include_str!("../../../deploy/grafana/tt-dbproxy.json");

async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let rsp = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
    let status = rsp.status().as_u16();
    (status, rsp.text().await.unwrap())
}

/// Every `tt_dbproxy_…` name in `text`.
fn referenced(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("tt_dbproxy_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        out.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    out
}

/// The series names of a Prometheus text exposition.
fn exported(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_and_dashboard_use_only_exported_metrics() {
    let Some(s) = seeded_mysql_redis_with_metrics().await else {
        return;
    };
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let admin = l.local_addr().unwrap();
    let token = CancellationToken::new();
    tokio::spawn(tt_dbproxy::admin::serve(l, s.state.clone(), token.clone()));

    let (_, before) = get(admin, "/metrics").await;
    assert!(
        before.contains("tt_dbproxy_store_errors_total{kind=\"deadline\"} 0"),
        "counters exist at zero before any event"
    );
    assert_eq!(get(admin, "/readyz").await.0, 200);

    let mut c = s.client().await;
    assert_eq!(
        login(&mut c, "zhangyl", GOOD_PASSWORD).await.result_code,
        Some(0)
    );
    let unread = ImUnreadMsgCntReq {
        user_id: Some(2),
        attach_data: ab(),
    };
    let _: ImUnreadMsgCntRsp = call(&mut c, 0x0307, &unread, 3, 0x0308).await;
    let send = ImMsgData {
        from_user_id: Some(1),
        to_session_id: Some(2),
        msg_id: Some(5),
        create_time: Some(1000),
        msg_type: Some(1),
        msg_data: Some(b"hi".to_vec()),
        attach_data: ab(),
    };
    let rsp: ImMsgData = call(&mut c, 0x0301, &send, 3, 0x0301).await;
    assert_ne!(rsp.msg_id, Some(0));

    let (code, text) = get(admin, "/metrics").await;
    assert_eq!(code, 200);
    assert_eq!(
        sample(&text, "tt_dbproxy_backend_ready"),
        1.0,
        "the readiness gauge follows the backends"
    );
    let have = exported(&text);
    for (what, source) in [("rules", RULES), ("dashboard", DASHBOARD)] {
        let missing: Vec<String> = referenced(source).difference(&have).cloned().collect();
        assert!(
            missing.is_empty(),
            "the {what} use unexported metrics: {missing:?}"
        );
    }
    assert!(referenced(RULES).len() >= 6, "{:?}", referenced(RULES));
    assert!(
        referenced(DASHBOARD).len() >= 15,
        "{:?}",
        referenced(DASHBOARD)
    );
    token.cancel();
}

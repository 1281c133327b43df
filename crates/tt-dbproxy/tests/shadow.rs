//! `tt-dbproxy shadow` through the real binary, in front of a fake
//! upstream (a small server in the test answering with chosen replies):
//! every client gets the upstream's reply byte for byte (and nothing when
//! the upstream sends nothing); reads are compared with the shadow's own
//! store and classified equal, expected, raced or different; writes are
//! forwarded, never run by the shadow side; `GET /shadow` and the metrics
//! report it.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::process::{ServerProcess, run};
use common::upstream::admin_addr;
use common::{ab, assert_silent};
use prost::Message;
use tt_dbproxy::client::Client;
use tt_dbproxy::wire::Pdu;
use tt_proto::im::base_define::ContactSessionInfo;
use tt_proto::im::buddy::{
    ImRecentContactSessionReq, ImRecentContactSessionRsp, ImUsersInfoReq, ImUsersInfoRsp,
};
use tt_proto::im::file::ImFileAddOfflineReq;
use tt_proto::im::message::{ImMsgData, ImUnreadMsgCntReq, ImUnreadMsgCntRsp};

/// The fake original: the reply it gives to each request, or none.
fn upstream_reply(req: &Pdu) -> Option<(u16, Vec<u8>)> {
    let body = req.body.as_ref();
    match req.header.command_id {
        0x0307 => {
            let r = ImUnreadMsgCntReq::decode(body).ok()?;
            let user = r.user_id.unwrap_or(0);
            // User 3 "has" one unread message upstream (a send just went
            // there): the shadow's store has none.
            let list = if user == 3 {
                vec![tt_proto::im::base_define::UnreadInfo {
                    session_id: Some(1),
                    session_type: Some(1),
                    unread_cnt: Some(1),
                    latest_msg_id: Some(99),
                    latest_msg_data: Some(b"hi".to_vec()),
                    latest_msg_type: Some(1),
                    latest_msg_from_user_id: Some(1),
                }]
            } else {
                Vec::new()
            };
            let rsp = ImUnreadMsgCntRsp {
                user_id: Some(user),
                total_cnt: Some(list.len() as u32),
                unreadinfo_list: list,
                attach_data: r.attach_data,
            };
            Some((0x0308, rsp.encode_to_vec()))
        }
        0x0201 => {
            // A session without a last message (tt-dbproxy omits those).
            let r = ImRecentContactSessionReq::decode(body).ok()?;
            let rsp = ImRecentContactSessionRsp {
                user_id: r.user_id,
                contact_session_list: vec![ContactSessionInfo {
                    session_id: Some(7),
                    session_type: Some(1),
                    session_status: Some(0),
                    updated_time: Some(5),
                    latest_msg_id: Some(0),
                    latest_msg_data: Some(Vec::new()),
                    latest_msg_type: Some(1),
                    latest_msg_from_user_id: Some(0),
                }],
                attach_data: r.attach_data,
            };
            Some((0x0202, rsp.encode_to_vec()))
        }
        0x0204 => {
            // The user is missing upstream: a real difference.
            let r = ImUsersInfoReq::decode(body).ok()?;
            let rsp = ImUsersInfoRsp {
                user_id: r.user_id,
                user_info_list: Vec::new(),
                attach_data: r.attach_data,
            };
            Some((0x0205, rsp.encode_to_vec()))
        }
        0x0301 => {
            let mut m = ImMsgData::decode(body).ok()?;
            m.msg_id = Some(99);
            Some((0x0301, m.encode_to_vec()))
        }
        // Offline files are never answered, as the original.
        _ => None,
    }
}

async fn fake_upstream() -> SocketAddr {
    common::upstream::fake_upstream(upstream_reply).await
}

async fn request(c: &mut Client, sid: u16, cid: u16, body: Vec<u8>) -> Pdu {
    let seq = c.send(sid, cid, body.clone()).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), c.next_frame())
        .await
        .expect("a reply")
        .unwrap()
        .expect("a frame");
    assert_eq!(got.header.seq_num, seq);
    got
}

async fn shadow_summary(admin: SocketAddr) -> serde_json::Value {
    let text = reqwest::get(format!("http://{admin}/shadow"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    serde_json::from_str(&text).unwrap()
}

fn count(summary: &serde_json::Value, command: &str, result: &str) -> u64 {
    summary["commands"][command][result].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shadow_forwards_replies_and_classifies_reads() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["alice", "bob", "carol"] {
        let out = run(
            dir.path(),
            &["admin", "user", "add", name, "--password", "123456"],
            &[],
        );
        assert!(out.status.success(), "{out:?}");
    }
    let upstream = fake_upstream().await;
    let server = ServerProcess::spawn(
        dir.path(),
        &["shadow", "--upstream", &upstream.to_string()],
        &[],
    );
    let admin = admin_addr(&server);
    let mut c = Client::connect(server.addr).await.unwrap();

    // Equal: user 2 has no unread messages on either side.
    let unread = |user: u32| ImUnreadMsgCntReq {
        user_id: Some(user),
        attach_data: ab(),
    };
    let got = request(&mut c, 3, 0x0307, unread(2).encode_to_vec()).await;
    let want = upstream_reply(&Pdu::new(3, 0x0307, 1, unread(2).encode_to_vec())).unwrap();
    assert_eq!(
        (got.header.command_id, got.body.to_vec()),
        want,
        "the upstream's reply"
    );

    // Expected: a session without a last message, omitted by tt-dbproxy.
    let sessions = ImRecentContactSessionReq {
        user_id: Some(2),
        latest_update_time: Some(0),
        attach_data: ab(),
    };
    let got = request(&mut c, 2, 0x0201, sessions.encode_to_vec()).await;
    assert_eq!(
        ImRecentContactSessionRsp::decode(got.body)
            .unwrap()
            .contact_session_list
            .len(),
        1
    );

    // Different: user 1 exists here, not upstream.
    let users = ImUsersInfoReq {
        user_id: Some(2),
        user_id_list: vec![1],
        attach_data: ab(),
    };
    let got = request(&mut c, 2, 0x0204, users.encode_to_vec()).await;
    assert!(
        ImUsersInfoRsp::decode(got.body)
            .unwrap()
            .user_info_list
            .is_empty()
    );

    // Raced: a send to user 3 is forwarded (not stored here), then user
    // 3's unread summary differs.
    let send = ImMsgData {
        from_user_id: Some(1),
        to_session_id: Some(3),
        msg_id: Some(0),
        create_time: Some(1),
        msg_type: Some(1),
        msg_data: Some(b"hi".to_vec()),
        attach_data: ab(),
    };
    let got = request(&mut c, 3, 0x0301, send.encode_to_vec()).await;
    assert_eq!(
        ImMsgData::decode(got.body).unwrap().msg_id,
        Some(99),
        "the upstream's id"
    );
    let got = request(&mut c, 3, 0x0307, unread(3).encode_to_vec()).await;
    assert_eq!(
        ImUnreadMsgCntRsp::decode(got.body).unwrap().total_cnt,
        Some(1)
    );

    // No reply upstream, none to the client.
    let offline = ImFileAddOfflineReq {
        from_user_id: Some(1),
        to_user_id: Some(2),
        task_id: Some(b"t".to_vec()),
        file_name: Some(b"f".to_vec()),
        file_size: Some(1),
    };
    c.send(5, 0x050b, offline.encode_to_vec()).await.unwrap();
    assert_silent(&mut c, 300).await;

    // The findings.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let summary = loop {
        let s = shadow_summary(admin).await;
        let done = count(&s, "CID_MSG_UNREAD_CNT_REQUEST", "raced") == 1
            && count(&s, "CID_BUDDY_LIST_USER_INFO_REQUEST", "different") == 1;
        if done || std::time::Instant::now() > deadline {
            break s;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        count(&summary, "CID_MSG_UNREAD_CNT_REQUEST", "equal"),
        1,
        "{summary:#}"
    );
    assert_eq!(
        count(&summary, "CID_MSG_UNREAD_CNT_REQUEST", "raced"),
        1,
        "{summary:#}"
    );
    assert_eq!(
        count(
            &summary,
            "CID_BUDDY_LIST_RECENT_CONTACT_SESSION_REQUEST",
            "expected"
        ),
        1,
        "{summary:#}"
    );
    assert_eq!(
        count(&summary, "CID_BUDDY_LIST_USER_INFO_REQUEST", "different"),
        1,
        "{summary:#}"
    );
    let first = &summary["commands"]["CID_BUDDY_LIST_USER_INFO_REQUEST"]["first_differences"][0];
    assert_eq!(
        first["differences"],
        serde_json::json!(["user_info_list.len"])
    );
    assert_eq!(
        first["shadow"]["user_info_list"][0]["user_nick_name"], "alice",
        "{first:#}"
    );
    let metrics = reqwest::get(format!("http://{admin}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        common::sample(
            &metrics,
            "tt_dbproxy_shadow_comparisons_total{command=\"CID_BUDDY_LIST_USER_INFO_REQUEST\",result=\"different\"}"
        ),
        1.0
    );
    // The difference was logged as one JSON line.
    let logged = server
        .lines_so_far()
        .into_iter()
        .any(|l| l.contains("\"differences\":[\"user_info_list.len\"]"));
    assert!(logged, "one JSON line per first difference");

    // The forwarded send and offline file were not run by the shadow.
    let db = rusqlite::Connection::open(dir.path().join("data/tt-dbproxy.sqlite3")).unwrap();
    let mut stored = 0i64;
    for shard in 0..8 {
        stored += db
            .query_row(
                &format!("SELECT COUNT(*) FROM IMMessage_{shard}"),
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap();
    }
    let files: i64 = db
        .query_row("SELECT COUNT(*) FROM IMTransmitFile", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        (stored, files),
        (0, 0),
        "writes are never executed by the shadow"
    );
}

/// The shadow applies `serve`'s connection limits: with
/// `max_connections = 1` a second client is closed at once, and the place
/// is free again when the first one leaves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shadow_refuses_connections_over_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = fake_upstream().await;
    let server = ServerProcess::spawn(
        dir.path(),
        &["shadow", "--upstream", &upstream.to_string()],
        &[("TT_DBPROXY_MAX_CONNECTIONS", "1")],
    );
    let unread = ImUnreadMsgCntReq {
        user_id: Some(2),
        attach_data: ab(),
    }
    .encode_to_vec();
    let mut first = Client::connect(server.addr).await.unwrap();
    let got = request(&mut first, 3, 0x0307, unread.clone()).await;
    assert_eq!(got.header.command_id, 0x0308, "the first client is served");
    let mut second = Client::connect(server.addr).await.unwrap();
    common::assert_closed(&mut second).await;
    drop(first);
    let mut third = None;
    for _ in 0..50 {
        let mut c = Client::connect(server.addr).await.unwrap();
        if c.send(3, 0x0307, unread.clone()).await.is_ok()
            && let Some(p) = common::next_frame(&mut c).await
        {
            third = Some(p);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        third.map(|p| p.header.command_id),
        Some(0x0308),
        "served again once the first client left"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shadow_never_serves_the_console() {
    let dir = tempfile::tempdir().unwrap();
    let upstream = fake_upstream().await;
    let server = ServerProcess::spawn(
        dir.path(),
        &["shadow", "--upstream", &upstream.to_string()],
        &[("TT_DBPROXY_CONSOLE_ENABLED", "true")],
    );
    let admin = admin_addr(&server);
    let rsp = reqwest::get(format!("http://{admin}/console/login"))
        .await
        .unwrap();
    assert_eq!(rsp.status(), 404, "console.enabled is ignored by shadow");
}

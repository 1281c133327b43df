//! Messages over real TCP (messages spec §9 cases 1–14, 19–41; audio in
//! `handlers_audio.rs`), on every backend.

mod common;

use common::fixtures::{exec_sql, messages_fixture, wipe_msg_counters};
use common::sends::{msg, send, send_id};
use common::*;
use tt_dbproxy::client::Client;
use tt_dbproxy::store::StoreOp;
use tt_dbproxy::store::prelude::*;
use tt_proto::im::base_define::MsgInfo;
use tt_proto::im::message::*;

async fn fixture(b: Backend) -> TestServer {
    let s = TestServer::seeded(b).await;
    messages_fixture(&s).await;
    s
}

async fn history(
    c: &mut Client,
    user: u32,
    kind: i32,
    session: u32,
    begin: u32,
    cnt: u32,
) -> Vec<MsgInfo> {
    let req = ImGetMsgListReq {
        user_id: Some(user),
        session_type: Some(kind),
        session_id: Some(session),
        msg_id_begin: Some(begin),
        msg_cnt: Some(cnt),
        attach_data: ab(),
    };
    let rsp: ImGetMsgListRsp = call(c, 0x0309, &req, 3, 0x030a).await;
    assert_eq!(
        (
            rsp.user_id,
            rsp.session_type,
            rsp.session_id,
            rsp.msg_id_begin
        ),
        (Some(user), Some(kind), Some(session), Some(begin))
    );
    rsp.msg_list
}

fn ids(list: &[MsgInfo]) -> Vec<u32> {
    list.iter().filter_map(|m| m.msg_id).collect()
}

fn info(id: u32, from: u32, created: u32, kind: i32, data: &str) -> MsgInfo {
    MsgInfo {
        msg_id: Some(id),
        from_session_id: Some(from),
        create_time: Some(created),
        msg_type: Some(kind),
        msg_data: Some(data.as_bytes().to_vec()),
    }
}

async fn case01_to_03_single_sends(b: Backend) {
    let s = fixture(b).await;
    let mut c = s.client().await;
    assert_eq!(send_id(&mut c, &msg(1, 2, 1, b"hello")).await, 7);
    assert_eq!(
        history(&mut c, 2, 1, 1, 0, 1).await,
        vec![info(7, 1, 1000, 1, "hello")]
    );
    assert_eq!(s.store.unread_counts(2).await.unwrap(), vec![(1, 1)]);
    assert!(s.store.find_session(1, 2, 1).await.unwrap().is_some());
    assert!(s.store.find_session(2, 1, 1).await.unwrap().is_some());
    let sessions = s.store.recent_sessions(2, 0, 10).await.unwrap();
    assert_eq!((sessions[0].peer_id, sessions[0].updated), (1, T0));
    assert_eq!(
        send_id(&mut c, &msg(2, 1, 1, b"back")).await,
        8,
        "one sequence per pair"
    );
    assert_eq!(s.store.unread_counts(1).await.unwrap(), vec![(2, 1)]);
    assert_eq!(
        send_id(&mut c, &msg(3, 4, 1, b"first")).await,
        1,
        "a new pair starts at 1"
    );
    assert!(s.store.relation_id(4, 3).await.unwrap().is_some());
}

async fn case04_self_message_is_not_stored(b: Backend) {
    let s = fixture(b).await;
    let mut c = s.client().await;
    assert_eq!(send_id(&mut c, &msg(1, 1, 1, b"me")).await, 0);
    assert_eq!(s.store.calls(StoreOp::StoreMessage), 0);
}

async fn case05_06_empty_data_and_unknown_type_get_no_reply(b: Backend) {
    let s = fixture(b).await;
    let mut c = s.client().await;
    assert_no_reply(
        &mut c,
        0x0301,
        prost::Message::encode_to_vec(&msg(1, 2, 1, b"")),
    )
    .await;
    assert_no_reply(
        &mut c,
        0x0301,
        prost::Message::encode_to_vec(&msg(1, 2, 3, b"x")),
    )
    .await;
    assert_eq!(s.store.calls(StoreOp::StoreMessage), 0);
}

async fn case07_08_both_sessions_are_kept(b: Backend) {
    let s = fixture(b).await;
    let own = s.store.add_session(1, 2, 1, 10).await.unwrap();
    let peer = s.store.add_session(2, 1, 1, 10).await.unwrap();
    assert!(s.store.remove_session(peer, 20).await.unwrap());
    let mut c = s.client().await;
    assert_eq!(send_id(&mut c, &msg(1, 2, 1, b"x")).await, 7);
    let mine = s.store.recent_sessions(1, 0, 10).await.unwrap();
    assert_eq!(
        (mine[0].id, mine[0].updated),
        (own, T0),
        "sender's session bumped"
    );
    assert_eq!(
        s.store.find_session(2, 1, 1).await.unwrap(),
        Some(peer),
        "peer's deleted session revived"
    );
}

async fn case09_failed_insert_is_not_acknowledged(b: Backend) {
    let s = fixture(b).await;
    let rel = s.store.relation_id(1, 2).await.unwrap().unwrap();
    exec_sql(&s, b, &format!("DROP TABLE IMMessage_{}", rel % 8)).await;
    let mut c = s.client().await;
    assert_eq!(send_id(&mut c, &msg(1, 2, 1, b"lost?")).await, 0);
    assert!(s.store.unread_counts(2).await.unwrap().is_empty());
}

async fn case10_wiped_counters_continue_above_the_stored_maximum(b: Backend) {
    let s = fixture(b).await;
    let mut c = s.client().await;
    assert_eq!(send_id(&mut c, &msg(1, 2, 1, b"a")).await, 7);
    assert_eq!(send_id(&mut c, &msg(2, 5, 0x11, b"g")).await, 12);
    wipe_msg_counters(&s, b).await;
    assert_eq!(send_id(&mut c, &msg(1, 2, 1, b"b")).await, 8);
    assert_eq!(
        send_id(&mut c, &msg(2, 5, 0x11, b"h")).await,
        13,
        "the group survives the wipe too"
    );
}

async fn case11_store_failure_gives_msg_id_0(b: Backend) {
    let s = fixture(b).await;
    s.store.fail_next(StoreOp::StoreMessage, 1);
    let mut c = s.client().await;
    assert_eq!(send_id(&mut c, &msg(1, 2, 1, b"x")).await, 0);
    assert_eq!(send_id(&mut c, &msg(1, 2, 1, b"y")).await, 7);
}

async fn case12_group_send_by_a_member(b: Backend) {
    let s = fixture(b).await;
    let mut c = s.client().await;
    let mut m = msg(2, 5, 0x11, b"hi all");
    m.create_time = Some(2000);
    assert_eq!(send_id(&mut c, &m).await, 12);
    assert_eq!(
        history(&mut c, 2, 2, 5, 0, 1).await,
        vec![info(12, 2, 2000, 0x11, "hi all")]
    );
    assert_eq!(
        s.store.group_counter(2, 5).await.unwrap(),
        Some((12, 12)),
        "sender has read everything"
    );
    assert_eq!(s.store.group_counter(1, 5).await.unwrap(), Some((12, 0)));
    assert!(s.store.find_session(2, 5, 2).await.unwrap().is_some());
}

async fn case13_14_group_send_by_non_member_or_to_unknown_group(b: Backend) {
    let s = fixture(b).await;
    let mut c = s.client().await;
    assert_eq!(send_id(&mut c, &msg(3, 5, 0x11, b"x")).await, 0);
    assert_eq!(send_id(&mut c, &msg(1, 77, 0x11, b"x")).await, 0);
    assert_eq!(
        send_id(&mut c, &msg(2, 5, 0x11, b"y")).await,
        12,
        "no id was used up"
    );
}

async fn case19_attach_presence_is_echoed(b: Backend) {
    let s = fixture(b).await;
    let mut c = s.client().await;
    let mut m = msg(1, 2, 1, b"x");
    m.attach_data = None;
    let rsp = send(&mut c, &m).await;
    assert_eq!(rsp.attach_data, None);
}

async fn oversized_or_non_utf8_text_is_refused(b: Backend) {
    let s = fixture(b).await;
    let mut c = s.client().await;
    assert_eq!(
        send_id(&mut c, &msg(1, 2, 1, "字".repeat(4097).as_bytes())).await,
        0
    );
    assert_eq!(send_id(&mut c, &msg(1, 2, 1, b"\xff\xfe")).await, 0);
    let max = "字".repeat(4096);
    assert_eq!(send_id(&mut c, &msg(1, 2, 1, max.as_bytes())).await, 7);
    assert_eq!(
        history(&mut c, 1, 1, 2, 0, 1).await[0].msg_data.as_deref(),
        Some(max.as_bytes())
    );
}

async fn case20_to_24_history_pages(b: Backend) {
    let s = fixture(b).await;
    let mut c = s.client().await;
    assert_eq!(
        history(&mut c, 1, 1, 2, 0, 10).await,
        vec![info(6, 2, 200, 1, "yo"), info(5, 1, 100, 1, "hi")]
    );
    assert_eq!(ids(&history(&mut c, 1, 1, 2, 5, 10).await), vec![5]);
    assert_eq!(ids(&history(&mut c, 1, 1, 2, 0, 1).await), vec![6]);
    assert!(history(&mut c, 1, 1, 2, 0, 0).await.is_empty());
    assert!(
        history(&mut c, 1, 1, 4, 0, 10).await.is_empty(),
        "no relation"
    );
    // Equal `created`: the later insert first.
    let rel = s.store.relation_id(1, 2).await.unwrap().unwrap();
    for id in [20, 21] {
        let row = tt_dbproxy::store::SingleMessageRow {
            relation_id: rel,
            from_id: 1,
            to_id: 2,
            msg_id: id,
            msg_type: 1,
            content: "t".into(),
            created: 300,
        };
        s.store.insert_single_message(row).await.unwrap();
    }
    assert_eq!(ids(&history(&mut c, 1, 1, 2, 0, 2).await), vec![21, 20]);
}

async fn case25_26_group_history_from_the_join_time(b: Backend) {
    let s = fixture(b).await;
    let mut c = s.client().await;
    assert_eq!(ids(&history(&mut c, 2, 2, 5, 0, 10).await), vec![11]);
    assert_eq!(ids(&history(&mut c, 1, 2, 5, 0, 10).await), vec![11, 10]);
    assert!(history(&mut c, 3, 2, 5, 0, 10).await.is_empty());
}

async fn case29_undeclared_stored_types_are_skipped(b: Backend) {
    let s = fixture(b).await;
    let rel = s.store.relation_id(1, 2).await.unwrap().unwrap();
    let row = tt_dbproxy::store::SingleMessageRow {
        relation_id: rel,
        from_id: 1,
        to_id: 2,
        msg_id: 30,
        msg_type: 9,
        content: "?".into(),
        created: 250,
    };
    s.store.insert_single_message(row).await.unwrap();
    let mut c = s.client().await;
    assert_eq!(ids(&history(&mut c, 1, 1, 2, 0, 10).await), vec![6, 5]);
}

async fn by_id(c: &mut Client, user: u32, kind: i32, session: u32, list: Vec<u32>) -> Vec<u32> {
    let req = ImGetMsgByIdReq {
        user_id: Some(user),
        session_type: Some(kind),
        session_id: Some(session),
        msg_id_list: list,
        attach_data: ab(),
    };
    let rsp: ImGetMsgByIdRsp = call(c, 0x030d, &req, 3, 0x030e).await;
    ids(&rsp.msg_list)
}

async fn case30_to_32_messages_by_id(b: Backend) {
    let s = fixture(b).await;
    let mut c = s.client().await;
    assert_eq!(by_id(&mut c, 1, 1, 2, vec![6, 5, 6, 99]).await, vec![6, 5]);
    assert!(by_id(&mut c, 1, 1, 2, vec![]).await.is_empty());
    assert_eq!(by_id(&mut c, 2, 2, 5, vec![10, 11]).await, vec![11]);
    assert!(by_id(&mut c, 3, 2, 5, vec![10, 11]).await.is_empty());
    for i in 0..150 {
        s.store
            .insert_group_message(tt_dbproxy::store::GroupMessageRow {
                group_id: 5,
                from_id: 1,
                msg_id: 100 + i,
                msg_type: 0x11,
                content: "m".into(),
                created: 1000 + i,
            })
            .await
            .unwrap();
    }
    let all: Vec<u32> = (100..250).collect();
    let got = by_id(&mut c, 1, 2, 5, all).await;
    assert_eq!(got.len(), 100);
    assert_eq!(got[0], 249, "newest first");
}

async fn case33_latest_id(b: Backend) {
    let s = fixture(b).await;
    let mut c = s.client().await;
    let latest = |user: u32, kind: i32, session: u32| ImGetLatestMsgIdReq {
        user_id: Some(user),
        session_type: Some(kind),
        session_id: Some(session),
        attach_data: ab(),
    };
    let rsp: ImGetLatestMsgIdRsp = call(&mut c, 0x030b, &latest(1, 1, 2), 3, 0x030c).await;
    assert_eq!(
        (rsp.latest_msg_id, rsp.session_id, rsp.attach_data),
        (Some(6), Some(2), ab())
    );
    let rsp: ImGetLatestMsgIdRsp = call(&mut c, 0x030b, &latest(1, 1, 4), 3, 0x030c).await;
    assert_eq!(rsp.latest_msg_id, Some(0));
    let rsp: ImGetLatestMsgIdRsp = call(&mut c, 0x030b, &latest(3, 2, 5), 3, 0x030c).await;
    assert_eq!(
        rsp.latest_msg_id,
        Some(11),
        "no membership check, as the original"
    );
}

on_every_backend!(
    case01_to_03_single_sends,
    case04_self_message_is_not_stored,
    case05_06_empty_data_and_unknown_type_get_no_reply,
    case07_08_both_sessions_are_kept,
    case09_failed_insert_is_not_acknowledged,
    case10_wiped_counters_continue_above_the_stored_maximum,
    case11_store_failure_gives_msg_id_0,
    case12_group_send_by_a_member,
    case13_14_group_send_by_non_member_or_to_unknown_group,
    case19_attach_presence_is_echoed,
    oversized_or_non_utf8_text_is_refused,
    case20_to_24_history_pages,
    case25_26_group_history_from_the_join_time,
    case29_undeclared_stored_types_are_skipped,
    case30_to_32_messages_by_id,
    case33_latest_id,
);

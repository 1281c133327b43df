//! Messages over real TCP (messages spec §9 cases 1–14, 19–41; audio in
//! `handlers_audio.rs`), on every backend.

mod common;

use common::fixtures::{exec_sql, messages_fixture, wipe_msg_counters};
use common::*;
use tt_dbproxy::client::Client;
use tt_dbproxy::store::StoreOp;
use tt_dbproxy::store::prelude::*;
use tt_proto::im::base_define::{MsgInfo, UnreadInfo};
use tt_proto::im::message::*;

async fn fixture(b: Backend) -> TestServer {
    let s = TestServer::seeded(b).await;
    messages_fixture(&s).await;
    s
}

fn msg(from: u32, to: u32, msg_type: i32, data: &[u8]) -> ImMsgData {
    ImMsgData {
        from_user_id: Some(from),
        to_session_id: Some(to),
        msg_id: Some(0),
        create_time: Some(1000),
        msg_type: Some(msg_type),
        msg_data: Some(data.to_vec()),
        attach_data: ab(),
    }
}

async fn send(c: &mut Client, m: &ImMsgData) -> ImMsgData {
    let rsp: ImMsgData = call(c, 0x0301, m, 3, 0x0301).await;
    assert_eq!(
        ImMsgData {
            msg_id: m.msg_id,
            ..rsp.clone()
        },
        *m,
        "reply is the request but for msg_id"
    );
    rsp
}

async fn send_id(c: &mut Client, m: &ImMsgData) -> u32 {
    send(c, m).await.msg_id.unwrap_or(u32::MAX)
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

async fn unread(c: &mut Client, user: u32) -> (u32, Vec<UnreadInfo>) {
    let req = ImUnreadMsgCntReq {
        user_id: Some(user),
        attach_data: ab(),
    };
    let rsp: ImUnreadMsgCntRsp = call(c, 0x0307, &req, 3, 0x0308).await;
    assert_eq!((rsp.user_id, rsp.attach_data.clone()), (Some(user), ab()));
    (rsp.total_cnt.unwrap_or(u32::MAX), rsp.unreadinfo_list)
}

fn unread_info(
    session: u32,
    kind: i32,
    n: u32,
    latest: u32,
    data: &str,
    msg_type: i32,
    from: u32,
) -> UnreadInfo {
    UnreadInfo {
        session_id: Some(session),
        session_type: Some(kind),
        unread_cnt: Some(n),
        latest_msg_id: Some(latest),
        latest_msg_data: Some(data.as_bytes().to_vec()),
        latest_msg_type: Some(msg_type),
        latest_msg_from_user_id: Some(from),
    }
}

async fn case34_35_unread_summary(b: Backend) {
    let s = fixture(b).await;
    s.store.add_unread(1, 2, 3).await.unwrap();
    let mut c = s.client().await;
    let (total, list) = unread(&mut c, 1).await;
    assert_eq!(total, 14);
    assert_eq!(
        list,
        vec![
            unread_info(2, 1, 3, 6, "yo", 1, 2),
            unread_info(5, 2, 11, 11, "g", 0x11, 1)
        ]
    );
    // An audio latest message shows the placeholder.
    let rel = s.store.relation_id(1, 2).await.unwrap().unwrap();
    let row = tt_dbproxy::store::SingleMessageRow {
        relation_id: rel,
        from_id: 2,
        to_id: 1,
        msg_id: 40,
        msg_type: 2,
        content: "1".into(),
        created: 300,
    };
    s.store.insert_single_message(row).await.unwrap();
    let (_, list) = unread(&mut c, 1).await;
    assert_eq!(
        list[0],
        unread_info(2, 1, 3, 40, "QhGXlpFjvMFUNrtl1aaPzA==", 2, 2)
    );
}

async fn case36_peers_in_text_order(b: Backend) {
    let s = fixture(b).await;
    let mut c = s.client().await;
    send_id(&mut c, &msg(10, 1, 1, b"ten")).await;
    send_id(&mut c, &msg(2, 1, 1, b"two")).await;
    let (total, list) = unread(&mut c, 1).await;
    let singles: Vec<u32> = list
        .iter()
        .filter(|e| e.session_type == Some(1))
        .filter_map(|e| e.session_id)
        .collect();
    assert_eq!(singles, vec![10, 2]);
    assert_eq!(total, 2 + 11);
}

async fn case37_38_no_carry_over_and_no_phantom_entries(b: Backend) {
    let s = fixture(b).await;
    let st = s.store.as_ref();
    // Group 8 (joined first, listed last): total 1, mark 5 → nothing.
    st.add_group_member(8, 9, 100).await.unwrap();
    for _ in 0..5 {
        st.incr_group_total(8).await.unwrap();
    }
    st.mark_group_read(9, 8).await.unwrap();
    wipe_group_total(&s, 8).await;
    st.incr_group_total(8).await.unwrap();
    st.insert_group_message(tt_dbproxy::store::GroupMessageRow {
        group_id: 8,
        from_id: 1,
        msg_id: 1,
        msg_type: 0x11,
        content: "b".into(),
        created: 5,
    })
    .await
    .unwrap();
    // Group 7 (joined later, listed first): total 4, no mark.
    st.add_group_member(7, 9, 200).await.unwrap();
    for _ in 0..4 {
        st.incr_group_total(7).await.unwrap();
    }
    st.insert_group_message(tt_dbproxy::store::GroupMessageRow {
        group_id: 7,
        from_id: 1,
        msg_id: 4,
        msg_type: 0x11,
        content: "a".into(),
        created: 5,
    })
    .await
    .unwrap();
    // A peer with a count but no conversation.
    st.add_unread(9, 77, 2).await.unwrap();
    let mut c = s.client().await;
    let (total, list) = unread(&mut c, 9).await;
    assert_eq!(
        list.iter().filter_map(|e| e.session_id).collect::<Vec<_>>(),
        vec![7]
    );
    assert_eq!(total, 4);
}

/// Spec §4.3: a one-to-one count holding 0 is listed (as by the original),
/// and a stored value that is not a number is listed as 0; a group whose
/// count is 0 stays out.
async fn zero_count_entries_are_listed(b: Backend) {
    let s = fixture(b).await;
    let mut c = s.client().await;
    send_id(&mut c, &msg(10, 1, 1, b"ten")).await;
    set_unread_raw(&s, 1, 2, "0").await;
    set_unread_raw(&s, 1, 10, "abc").await;
    let (total, list) = unread(&mut c, 1).await;
    assert_eq!(
        list,
        vec![
            unread_info(10, 1, 0, 1, "ten", 1, 10),
            unread_info(2, 1, 0, 6, "yo", 1, 2),
            unread_info(5, 2, 11, 11, "g", 0x11, 1)
        ]
    );
    assert_eq!(total, 11);
    // Read up to the group's total: its entry goes, the zeros stay.
    s.store.mark_group_read(1, 5).await.unwrap();
    let (total, list) = unread(&mut c, 1).await;
    assert_eq!(
        list.iter()
            .map(|e| (e.session_id, e.unread_cnt))
            .collect::<Vec<_>>(),
        vec![(Some(10), Some(0)), (Some(2), Some(0))]
    );
    assert_eq!(total, 0);
}

/// Stores `value` as the unread count of `peer` for `user`, bypassing the
/// store's API (a value another writer left).
async fn set_unread_raw(s: &TestServer, user: u32, peer: u32, value: &str) {
    match (&s.redis, s.mysql.is_some()) {
        (Some(lease), true) => {
            let mut c = lease.conn();
            let _: () = redis::cmd("HSET")
                .arg(format!("unread_{user}"))
                .arg(peer)
                .arg(value)
                .query(&mut c)
                .unwrap();
        }
        _ => {
            exec_sql(
                s,
                Backend::Embedded,
                &format!(
                    "INSERT OR REPLACE INTO tt_unread (user_id, peer_id, count) VALUES ({user}, {peer}, '{value}')"
                ),
            )
            .await
        }
    }
}

/// Resets a group's total below its members' marks (as a partial Redis
/// loss would).
async fn wipe_group_total(s: &TestServer, group: u32) {
    match (&s.redis, s.mysql.is_some()) {
        (Some(lease), true) => {
            let mut c = lease.conn();
            let _: () = redis::cmd("DEL")
                .arg(format!("{group}_im_group_msg"))
                .query(&mut c)
                .unwrap();
        }
        _ => {
            exec_sql(
                s,
                Backend::Embedded,
                &format!("DELETE FROM tt_group_total WHERE group_id = {group}"),
            )
            .await
        }
    }
}

async fn read_ack(s: &TestServer, c: &mut Client, user: u32, session: u32, kind: i32) {
    let req = ImMsgDataReadAck {
        user_id: Some(user),
        session_id: Some(session),
        msg_id: Some(1),
        session_type: Some(kind),
    };
    let op = if kind == 2 {
        StoreOp::MarkGroupRead
    } else {
        StoreOp::ClearUnread
    };
    send_and_wait(s, c, 0x0303, prost::Message::encode_to_vec(&req), op).await;
}

async fn case39_to_41_read_acks(b: Backend) {
    let s = fixture(b).await;
    s.store.add_unread(1, 2, 3).await.unwrap();
    s.store.add_unread(1, 5, 1).await.unwrap();
    let mut c = s.client().await;
    read_ack(&s, &mut c, 1, 2, 1).await;
    assert_eq!(s.store.unread_counts(1).await.unwrap(), vec![(5, 1)]);
    read_ack(&s, &mut c, 2, 5, 2).await;
    assert_eq!(s.store.group_counter(2, 5).await.unwrap(), Some((11, 11)));
    let (_, list) = unread(&mut c, 2).await;
    assert!(list.iter().all(|e| e.session_id != Some(5)));
    let bad = vec![0x08, 0x01, 0x10, 0x05, 0x18, 0x01, 0x20, 0x03];
    assert_no_reply(&mut c, 0x0303, bad).await;
    assert_eq!(s.store.unread_counts(1).await.unwrap(), vec![(5, 1)]);
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
    case34_35_unread_summary,
    case36_peers_in_text_order,
    case37_38_no_carry_over_and_no_phantom_entries,
    zero_count_entries_are_listed,
    case39_to_41_read_acks,
);

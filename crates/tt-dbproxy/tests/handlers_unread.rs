//! The unread summary and read acks (messages spec §4.3 and §4.4, cases
//! 34–41) on both backends.

mod common;

use common::fixtures::{exec_sql, messages_fixture};
use common::sends::{msg, send_id};
use common::*;
use tt_dbproxy::client::Client;
use tt_dbproxy::store::StoreOp;
use tt_dbproxy::store::prelude::*;
use tt_proto::im::base_define::UnreadInfo;
use tt_proto::im::message::*;

async fn fixture(b: Backend) -> TestServer {
    let s = TestServer::seeded(b).await;
    messages_fixture(&s).await;
    s
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
    case34_35_unread_summary,
    case36_peers_in_text_order,
    case37_38_no_carry_over_and_no_phantom_entries,
    zero_count_entries_are_listed,
    case39_to_41_read_acks,
);

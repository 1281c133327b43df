//! Recent sessions and session removal over real TCP (accounts spec §9
//! cases 24–30), on every backend. Fixture data is written through the
//! same storage interface the message handlers use.

mod common;

use common::*;
use tt_dbproxy::store::prelude::*;
use tt_dbproxy::store::{GroupMessageRow, SingleMessageRow, StoreOp};
use tt_proto::im::base_define::ContactSessionInfo;
use tt_proto::im::buddy::*;

/// The spec's fixture: relation 1–2 with two messages (the newer one
/// audio), group 5 with one message, sessions of user 1 with peers 2 (500),
/// group 5 (400), 7 (300, no messages) and 8 (600, deleted).
async fn fixture(b: Backend) -> TestServer {
    let s = TestServer::seeded(b).await;
    let st = s.store.as_ref();
    let rel = st.create_relation(2, 1, 50).await.unwrap();
    for (msg_id, msg_type, content, created) in [(5, 1, "hi", 100), (6, 2, "x", 200)] {
        let row = SingleMessageRow {
            relation_id: rel,
            from_id: 1,
            to_id: 2,
            msg_id,
            msg_type,
            content: content.into(),
            created,
        };
        st.insert_single_message(row).await.unwrap();
    }
    let row = GroupMessageRow {
        group_id: 5,
        from_id: 2,
        msg_id: 11,
        msg_type: 0x11,
        content: "g".into(),
        created: 150,
    };
    st.insert_group_message(row).await.unwrap();
    st.add_session(1, 2, 1, 500).await.unwrap();
    st.add_session(1, 5, 2, 400).await.unwrap();
    st.add_session(1, 7, 1, 300).await.unwrap();
    let deleted = st.add_session(1, 8, 1, 600).await.unwrap();
    assert!(st.remove_session(deleted, 600).await.unwrap());
    s
}

async fn recent(
    c: &mut tt_dbproxy::client::Client,
    user: u32,
    since: u32,
) -> ImRecentContactSessionRsp {
    let req = ImRecentContactSessionReq {
        user_id: Some(user),
        latest_update_time: Some(since),
        attach_data: ab(),
    };
    call(c, 0x0201, &req, 2, 0x0202).await
}

fn entry(
    id: u32,
    kind: i32,
    updated: u32,
    msg: u32,
    data: &str,
    msg_type: i32,
    from: u32,
) -> ContactSessionInfo {
    ContactSessionInfo {
        session_id: Some(id),
        session_type: Some(kind),
        session_status: Some(0),
        updated_time: Some(updated),
        latest_msg_id: Some(msg),
        latest_msg_data: Some(data.as_bytes().to_vec()),
        latest_msg_type: Some(msg_type),
        latest_msg_from_user_id: Some(from),
    }
}

async fn case24_list_with_last_messages(b: Backend) {
    let s = fixture(b).await;
    let mut c = s.client().await;
    let rsp = recent(&mut c, 1, 0).await;
    assert_eq!(rsp.user_id, Some(1));
    assert_eq!(rsp.attach_data, ab());
    assert_eq!(
        rsp.contact_session_list,
        vec![
            entry(2, 1, 500, 6, "QhGXlpFjvMFUNrtl1aaPzA==", 2, 1),
            entry(5, 2, 400, 11, "g", 0x11, 2),
        ]
    );
}

async fn case25_incremental_is_strictly_after(b: Backend) {
    let s = fixture(b).await;
    let mut c = s.client().await;
    let rsp = recent(&mut c, 1, 400).await;
    let ids: Vec<u32> = rsp
        .contact_session_list
        .iter()
        .filter_map(|e| e.session_id)
        .collect();
    assert_eq!(ids, vec![2]);
}

async fn case26_at_most_100_newest_sessions(b: Backend) {
    let s = TestServer::seeded(b).await;
    for g in 1..=150u32 {
        let row = GroupMessageRow {
            group_id: g,
            from_id: 1,
            msg_id: 1,
            msg_type: 0x11,
            content: "m".into(),
            created: g,
        };
        s.store.insert_group_message(row).await.unwrap();
        s.store.add_session(2, g, 2, g).await.unwrap();
    }
    let mut c = s.client().await;
    let rsp = recent(&mut c, 2, 0).await;
    let updated: Vec<u32> = rsp
        .contact_session_list
        .iter()
        .filter_map(|e| e.updated_time)
        .collect();
    assert_eq!(updated, (51..=150).rev().collect::<Vec<_>>());
}

async fn sender_of_the_last_one_to_one_message_is_the_real_sender(b: Backend) {
    let s = fixture(b).await;
    let rel = s.store.relation_id(1, 2).await.unwrap().unwrap();
    let row = SingleMessageRow {
        relation_id: rel,
        from_id: 2,
        to_id: 1,
        msg_id: 7,
        msg_type: 1,
        content: "yo".into(),
        created: 300,
    };
    s.store.insert_single_message(row).await.unwrap();
    let mut c = s.client().await;
    let for_user_2 = {
        s.store.add_session(2, 1, 1, 700).await.unwrap();
        recent(&mut c, 2, 0).await
    };
    assert_eq!(
        for_user_2.contact_session_list,
        vec![entry(1, 1, 700, 7, "yo", 1, 2)]
    );
}

async fn remove(c: &mut tt_dbproxy::client::Client, kind: i32, peer: u32) -> ImRemoveSessionRsp {
    let req = ImRemoveSessionReq {
        user_id: Some(1),
        session_type: Some(kind),
        session_id: Some(peer),
        attach_data: ab(),
    };
    call(c, 0x0206, &req, 2, 0x0207).await
}

async fn case27_remove_single_session_clears_its_unread(b: Backend) {
    let s = fixture(b).await;
    s.store.add_unread(1, 2, 3).await.unwrap();
    s.store.add_unread(1, 5, 1).await.unwrap();
    let mut c = s.client().await;
    let rsp = remove(&mut c, 1, 2).await;
    assert_eq!(
        rsp,
        ImRemoveSessionRsp {
            user_id: Some(1),
            result_code: Some(0),
            session_type: Some(1),
            session_id: Some(2),
            attach_data: ab()
        }
    );
    assert_eq!(s.store.find_session(1, 2, 1).await.unwrap(), None);
    assert_eq!(s.store.unread_counts(1).await.unwrap(), vec![(5, 1)]);
    let again = remove(&mut c, 1, 2).await;
    assert_eq!(again.result_code, Some(1));
    assert_eq!(s.store.unread_counts(1).await.unwrap(), vec![(5, 1)]);
    let ids: Vec<u32> = recent(&mut c, 1, 0)
        .await
        .contact_session_list
        .iter()
        .filter_map(|e| e.session_id)
        .collect();
    assert_eq!(ids, vec![5]);
}

async fn case28_remove_group_session_marks_the_group_read(b: Backend) {
    let s = fixture(b).await;
    for _ in 0..10 {
        s.store.incr_group_total(5).await.unwrap();
    }
    let mut c = s.client().await;
    assert_eq!(remove(&mut c, 2, 5).await.result_code, Some(0));
    assert_eq!(s.store.find_session(1, 5, 2).await.unwrap(), None);
    assert_eq!(s.store.group_counter(1, 5).await.unwrap(), Some((10, 10)));
}

async fn case29_remove_missing_session(b: Backend) {
    let s = fixture(b).await;
    s.store.add_unread(1, 77, 2).await.unwrap();
    let mut c = s.client().await;
    assert_eq!(remove(&mut c, 1, 77).await.result_code, Some(1));
    assert_eq!(s.store.unread_counts(1).await.unwrap(), vec![(77, 2)]);
    assert_eq!(
        s.store.calls(StoreOp::RemoveSession),
        1,
        "only the fixture's removal"
    );
}

async fn case30_invalid_session_type_gets_no_reply(b: Backend) {
    let s = fixture(b).await;
    let mut c = s.client().await;
    assert_no_reply(&mut c, 0x0206, vec![0x08, 0x01, 0x10, 0x03, 0x18, 0x02]).await;
    assert!(s.store.find_session(1, 2, 1).await.unwrap().is_some());
}

async fn store_failure_gives_an_empty_list_and_result_1(b: Backend) {
    let s = fixture(b).await;
    let mut c = s.client().await;
    s.store.fail_next(StoreOp::RecentSessions, 1);
    let rsp = recent(&mut c, 1, 0).await;
    assert!(rsp.contact_session_list.is_empty());
    s.store.fail_next(StoreOp::LastMessages, 1);
    assert!(recent(&mut c, 1, 0).await.contact_session_list.is_empty());
    s.store.fail_next(StoreOp::FindSession, 1);
    assert_eq!(remove(&mut c, 1, 2).await.result_code, Some(1));
    s.store.fail_next(StoreOp::RemoveSession, 1);
    assert_eq!(remove(&mut c, 1, 2).await.result_code, Some(1));
    assert_eq!(remove(&mut c, 1, 2).await.result_code, Some(0));
}

on_every_backend!(
    case24_list_with_last_messages,
    case25_incremental_is_strictly_after,
    case26_at_most_100_newest_sessions,
    sender_of_the_last_one_to_one_message_is_the_real_sender,
    case27_remove_single_session_clears_its_unread,
    case28_remove_group_session_marks_the_group_read,
    case29_remove_missing_session,
    case30_invalid_session_type_gets_no_reply,
    store_failure_gives_an_empty_list_and_result_1,
);

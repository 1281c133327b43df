//! Resends stored once (`storage.resend_window_s`), on every backend: a
//! client that missed its ack sends the same message again with the same
//! client `msg_id`; msg_server rewrites `create_time`. Within the window
//! the resend gets the stored id and stores and counts nothing; a
//! different message with the same client id, a resend after the window
//! and any send with `msg_id` 0 are stored. The memory survives a
//! restart.

mod common;

use common::fixtures::messages_fixture;
use common::*;
use tt_dbproxy::client::Client;
use tt_dbproxy::store::prelude::*;
use tt_proto::im::message::{ImGetMsgListReq, ImGetMsgListRsp, ImMsgData};

/// A one-to-one text (or, with `group`, a group text) with client id
/// `client_id`, as msg_server passes it on at time `at`.
fn msg(from: u32, to: u32, group: bool, client_id: u32, data: &str, at: u32) -> ImMsgData {
    ImMsgData {
        from_user_id: Some(from),
        to_session_id: Some(to),
        msg_id: Some(client_id),
        create_time: Some(at),
        msg_type: Some(if group { 0x11 } else { 1 }),
        msg_data: Some(data.as_bytes().to_vec()),
        attach_data: ab(),
    }
}

async fn send_id(c: &mut Client, m: &ImMsgData) -> u32 {
    let rsp: ImMsgData = call(c, 0x0301, m, 3, 0x0301).await;
    rsp.msg_id.unwrap_or(u32::MAX)
}

/// The ids of the newest messages of a conversation, as `user` reads it.
async fn history_ids(c: &mut Client, user: u32, group: bool, peer: u32) -> Vec<u32> {
    let req = ImGetMsgListReq {
        user_id: Some(user),
        session_type: Some(if group { 2 } else { 1 }),
        session_id: Some(peer),
        msg_id_begin: Some(0),
        msg_cnt: Some(50),
        attach_data: ab(),
    };
    let rsp: ImGetMsgListRsp = call(c, 0x0309, &req, 3, 0x030a).await;
    rsp.msg_list.iter().filter_map(|m| m.msg_id).collect()
}

async fn fixture(b: Backend) -> TestServer {
    let s = TestServer::seeded(b).await;
    messages_fixture(&s).await;
    s
}

/// The send whose reply is lost (the connection closes before it is
/// read) is stored; its resend gets the same id, and the receiver has
/// one message and one unread count.
async fn a_resend_after_a_lost_reply_gets_the_same_id(b: Backend) {
    let s = fixture(b).await;
    let first = msg(1, 2, false, 4242, "are you there?", 1000);
    {
        let mut lost = s.client().await;
        let body = prost::Message::encode_to_vec(&first);
        lost.send(3, 0x0301, body).await.unwrap();
        // Closed without reading the reply.
    }
    let mut c = s.client().await;
    eventually("the first send is stored", || {
        let store = s.store.clone();
        async move { store.unread_counts(2).await.unwrap() == vec![(1, 1)] }
    })
    .await;
    let before = history_ids(&mut c, 2, false, 1).await;
    assert_eq!(before, vec![7, 6, 5], "stored once, id 7");
    let resend = ImMsgData {
        create_time: Some(1003),
        ..first.clone()
    };
    assert_eq!(
        send_id(&mut c, &resend).await,
        7,
        "the resend gets the stored id"
    );
    assert_eq!(
        send_id(&mut c, &resend).await,
        7,
        "and so does a second one"
    );
    assert_eq!(
        history_ids(&mut c, 2, false, 1).await,
        before,
        "no second row"
    );
    assert_eq!(
        s.store.unread_counts(2).await.unwrap(),
        vec![(1, 1)],
        "no second unread count"
    );
    let next = msg(1, 2, false, 4243, "hello?", 1004);
    assert_eq!(send_id(&mut c, &next).await, 8, "ids go on");
}

/// Same client id, other data: another message. Same data, other client
/// id: another message. A client id of 0 is never a resend.
async fn only_the_same_id_and_data_make_a_resend(b: Backend) {
    let s = fixture(b).await;
    let mut c = s.client().await;
    assert_eq!(send_id(&mut c, &msg(1, 2, false, 9, "one", 1000)).await, 7);
    assert_eq!(send_id(&mut c, &msg(1, 2, false, 9, "two", 1001)).await, 8);
    assert_eq!(send_id(&mut c, &msg(1, 2, false, 10, "one", 1002)).await, 9);
    assert_eq!(
        send_id(&mut c, &msg(1, 2, false, 0, "same", 1003)).await,
        10
    );
    assert_eq!(
        send_id(&mut c, &msg(1, 2, false, 0, "same", 1004)).await,
        11
    );
    // The same client id and data from the other side of the pair, or
    // into another conversation, is not a resend either.
    assert_eq!(send_id(&mut c, &msg(2, 1, false, 9, "one", 1005)).await, 12);
    assert_eq!(send_id(&mut c, &msg(1, 3, false, 9, "one", 1006)).await, 1);
    assert_eq!(
        history_ids(&mut c, 2, false, 1).await,
        vec![12, 11, 10, 9, 8, 7, 6, 5]
    );
    assert_eq!(s.store.unread_counts(2).await.unwrap(), vec![(1, 5)]);
}

/// After the window a resend is a new message; with the window at 0
/// nothing is recognised.
async fn a_resend_after_the_window_is_stored_again(b: Backend) {
    let s = fixture(b).await;
    let mut c = s.client().await;
    let m = msg(1, 2, false, 77, "late", 1000);
    assert_eq!(send_id(&mut c, &m).await, 7);
    s.clock.advance(100);
    assert_eq!(send_id(&mut c, &m).await, 7, "within 120 s");
    s.clock.advance(21);
    if b == Backend::MysqlRedis {
        // Redis expires the key on its own clock.
        let lease = s.redis.as_ref().unwrap();
        let mut r = redis::Client::open(lease.url())
            .unwrap()
            .get_connection()
            .unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("tt_dbproxy:resend:*")
            .query(&mut r)
            .unwrap();
        assert_eq!(keys.len(), 1, "{keys:?}");
        let ttl: i64 = redis::cmd("TTL").arg(&keys[0]).query(&mut r).unwrap();
        assert!((1..=120).contains(&ttl), "expires with the window: {ttl}");
        let _: () = redis::cmd("DEL").arg(&keys[0]).query(&mut r).unwrap();
    }
    assert_eq!(
        send_id(&mut c, &m).await,
        8,
        "after the window: stored again"
    );
    let s = s.restart(|c| c.storage.resend_window_s = 0).await;
    let mut c = s.client().await;
    let m = msg(1, 2, false, 78, "off", 1000);
    assert_eq!(send_id(&mut c, &m).await, 9);
    assert_eq!(
        send_id(&mut c, &m).await,
        10,
        "window 0: every send is stored"
    );
}

/// Group sends too; and the memory outlives the server process.
async fn a_group_resend_across_a_restart_gets_the_same_id(b: Backend) {
    let s = fixture(b).await;
    let mut c = s.client().await;
    let m = msg(2, 5, true, 31, "to the group", 1000);
    let id = send_id(&mut c, &m).await;
    assert_eq!(id, 12);
    let single = msg(1, 2, false, 32, "and to you", 1000);
    assert_eq!(send_id(&mut c, &single).await, 7);
    drop(c);
    let s = s.restart(|_| {}).await;
    let mut c = s.client().await;
    assert_eq!(
        send_id(
            &mut c,
            &ImMsgData {
                create_time: Some(1009),
                ..m.clone()
            }
        )
        .await,
        12,
        "group resend after a restart"
    );
    assert_eq!(
        send_id(&mut c, &single).await,
        7,
        "one-to-one resend after a restart"
    );
    assert_eq!(history_ids(&mut c, 1, true, 5).await, vec![12, 11, 10]);
    assert_eq!(history_ids(&mut c, 2, false, 1).await, vec![7, 6, 5]);
    let (total, _) = s
        .store
        .group_counter(1, 5)
        .await
        .unwrap()
        .unwrap_or_default();
    assert_eq!(total, 12, "the fixture's 11 and the message counted once");
}

on_every_backend!(
    a_resend_after_a_lost_reply_gets_the_same_id,
    only_the_same_id_and_data_make_a_resend,
    a_resend_after_the_window_is_stored_again,
    a_group_resend_across_a_restart_gets_the_same_id,
);

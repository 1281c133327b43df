//! A send's session and relation ids may be remembered between sends
//! (issue 22): they must stay right when the rows are deleted behind the
//! server's back — by hand, by `copy --overwrite`, or by another instance
//! that then creates them again with new ids. On every backend: the next
//! send lands in the conversation's current relation, the sessions come
//! back, counters stay exact. On MySQL + Redis also with a second instance
//! creating the new rows.

mod common;

use tt_dbproxy::client::Client;
use tt_dbproxy::store::prelude::*;
use tt_dbproxy::store::{MessageRow, NewGroup, SESSION_GROUP, SESSION_SINGLE};
use tt_proto::im::message::ImMsgData;

use common::fixtures::exec_sql;
use common::*;

async fn send(c: &mut Client, from: u32, to: u32, group: bool, text: &str) -> u32 {
    let rsp: ImMsgData = call(c, 0x0301, &chat(from, to, group, text), 3, 0x0301).await;
    let id = rsp.msg_id.unwrap_or(0);
    assert_ne!(id, 0, "{text:?} acknowledged as stored");
    id
}

fn texts(rows: &[MessageRow]) -> Vec<String> {
    let mut t: Vec<String> = rows.iter().map(|r| r.content.clone()).collect();
    t.reverse();
    t
}

async fn relation(s: &TestServer) -> u32 {
    s.store
        .relation_id(1, 2)
        .await
        .unwrap()
        .expect("an active relation")
}

/// The content of the newest message between `user` and `peer`, as the
/// unread summary reads it.
async fn last_text(s: &TestServer, user: u32, peer: u32) -> Option<String> {
    let last = s
        .store
        .last_messages(user, &[(peer, SESSION_SINGLE)])
        .await
        .unwrap();
    assert_eq!(last.len(), 1);
    last.into_iter().next().flatten().map(|m| m.content)
}

/// Whether `user` has an active session of `kind` with `peer`.
async fn has_session(s: &TestServer, user: u32, peer: u32, kind: u32) -> bool {
    s.store
        .recent_sessions(user, 0, 100)
        .await
        .unwrap()
        .iter()
        .any(|r| r.peer_id == peer && r.session_type == kind && r.status == 0)
}

async fn one_to_one_after_rows_deleted_and_recreated(b: Backend) {
    let s = TestServer::seeded(b).await;
    let mut c = s.client().await;
    send(&mut c, 1, 2, false, "a").await;
    send(&mut c, 1, 2, false, "b").await;
    let old = relation(&s).await;

    // Deleted by hand, then the pair's relation created again under a new
    // id (as another instance's first send after the delete would).
    exec_sql(&s, b, "DELETE FROM IMRelationShip").await;
    exec_sql(&s, b, "DELETE FROM IMRecentSession").await;
    let new = s.store.create_relation(1, 2, T0).await.unwrap();
    assert_ne!(new, old, "a new relation row");
    assert_eq!(
        last_text(&s, 2, 1).await,
        None,
        "the new relation has no message yet (the remembered one's \"b\" is gone)"
    );

    send(&mut c, 1, 2, false, "c").await;
    send(&mut c, 2, 1, false, "d").await;
    assert_eq!(relation(&s).await, new, "no further relation created");
    let history = s.store.single_history(1, 2, 0, 10).await.unwrap();
    assert_eq!(
        texts(&history),
        ["c", "d"],
        "the sends after the delete are in the current conversation"
    );
    let ids: Vec<u32> = history.iter().map(|r| r.msg_id).collect();
    assert_eq!(ids, [2, 1], "ids of the new conversation, in order");
    assert!(
        has_session(&s, 1, 2, SESSION_SINGLE).await,
        "sender's session back"
    );
    assert!(
        has_session(&s, 2, 1, SESSION_SINGLE).await,
        "receiver's session back"
    );
    let unread = s.store.unread_counts(2).await.unwrap();
    assert_eq!(unread, [(1, 3)], "a, b and c unread by user 2");
    assert_eq!(last_text(&s, 2, 1).await.as_deref(), Some("d"));
    s.stop().await;
}

async fn group_after_session_deleted(b: Backend) {
    let s = TestServer::seeded(b).await;
    let g = s
        .store
        .create_group(
            NewGroup {
                name: "g".into(),
                avatar: String::new(),
                creator: 1,
                group_type: 2,
                members: vec![1, 2],
            },
            T0,
        )
        .await
        .unwrap();
    let mut c = s.client().await;
    send(&mut c, 1, g, true, "x").await;
    exec_sql(&s, b, "DELETE FROM IMRecentSession").await;
    send(&mut c, 1, g, true, "y").await;
    assert!(
        has_session(&s, 1, g, SESSION_GROUP).await,
        "group session back"
    );
    let history = s.store.group_history(g, 0, 0, 10).await.unwrap();
    assert_eq!(texts(&history), ["x", "y"]);
    assert_eq!(s.store.group_counter(2, g).await.unwrap(), Some((2, 0)));
    s.stop().await;
}

async fn one_to_one_after_relation_deactivated(b: Backend) {
    let s = TestServer::seeded(b).await;
    let mut c = s.client().await;
    send(&mut c, 1, 2, false, "a").await;
    let old = relation(&s).await;
    // An operator ends the relation; the next send revives it (the
    // oldest row of the pair, as creation does), never a stale id.
    exec_sql(&s, b, "UPDATE IMRelationShip SET status = 1").await;
    send(&mut c, 1, 2, false, "b").await;
    assert_eq!(relation(&s).await, old, "the row revived");
    let history = s.store.single_history(1, 2, 0, 10).await.unwrap();
    assert_eq!(texts(&history), ["a", "b"]);
    s.stop().await;
}

on_every_backend!(
    one_to_one_after_rows_deleted_and_recreated,
    group_after_session_deleted,
    one_to_one_after_relation_deactivated,
);

/// Two instances on one MariaDB + Redis: the first remembers the pair's
/// ids, the rows are deleted, the second instance's send creates them
/// again; the first instance's next send goes to the new relation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_instance_recreates_the_rows() {
    if common::backends::skipped() {
        return;
    }
    let a = TestServer::seeded(Backend::MysqlRedis).await;
    let db = a.mysql.as_ref().expect("MySQL backend");
    let (mysql, redis) = (db.url(), a.redis.as_ref().expect("Redis").url());
    let b = TestServer::start_mysql(&mysql, &redis, false, |_| {}).await;
    let (mut ca, mut cb) = (a.client().await, b.client().await);
    send(&mut ca, 1, 2, false, "a1").await;
    send(&mut cb, 2, 1, false, "b1").await;
    let old = relation(&a).await;
    db.exec(&["DELETE FROM IMRelationShip", "DELETE FROM IMRecentSession"])
        .await;
    send(&mut cb, 2, 1, false, "b2").await;
    let new = relation(&a).await;
    assert_ne!(new, old, "instance b created a new relation");
    assert_eq!(
        last_text(&a, 1, 2).await.as_deref(),
        Some("b2"),
        "instance a reads the new conversation, not the one it remembers"
    );
    send(&mut ca, 1, 2, false, "a2").await;
    send(&mut cb, 2, 1, false, "b3").await;
    assert_eq!(relation(&a).await, new, "one relation");
    let history = a.store.single_history(1, 2, 0, 10).await.unwrap();
    assert_eq!(texts(&history), ["b2", "a2", "b3"]);
    let mut ids: Vec<u32> = history.iter().map(|r| r.msg_id).collect();
    ids.sort_unstable();
    assert_eq!(ids, [1, 2, 3], "ids unique in the new conversation");
    assert!(has_session(&a, 1, 2, SESSION_SINGLE).await);
    assert!(has_session(&a, 2, 1, SESSION_SINGLE).await);
    b.stop().await;
    a.stop().await;
}

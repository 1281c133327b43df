//! The send's memory of conversations (issue 22): a pair's session and
//! relation ids, a group's counters and a member's session, remembered
//! instead of looked up on every send. These tests change the rows behind
//! that memory's back — a direct `DELETE` and re-`INSERT` on another
//! connection to the same database, another instance sending into the
//! same conversations — and check every send still lands on the rows that
//! exist, ids never repeat and counters stay exact; and that the memory
//! is bounded.
//!
//! Written once for every backend: the embedded store's cache is
//! `store/sqlite/send_cache.rs` (bounded per map), MySQL + Redis's is
//! `store/mysql/send_ids.rs` (bounded in all); `tests/send_ids.rs` has
//! more cases of rows changed behind the cache's back.

mod common;

use std::sync::Arc;

use common::fixtures::exec_sql;
use common::sends::{msg, send_id};
use common::*;
use tt_dbproxy::store::prelude::*;
use tt_dbproxy::store::{
    MysqlRedisStore, NewMessage, SESSION_GROUP, SESSION_SINGLE, SqliteOptions, SqliteStore, Store,
};

/// A one-to-one or group message as the send handler builds it, with a
/// resend key (client id `client`).
fn message(from: u32, to: u32, group: bool, client: u32, text: &str) -> NewMessage {
    NewMessage {
        from_id: from,
        to_id: to,
        group,
        msg_type: if group { 0x11 } else { 1 },
        content: text.into(),
        created: 1000,
        resend: tt_dbproxy::store::resend::key(client, text.as_bytes(), 30),
    }
}

/// The texts of the conversation between `a` and `b`, oldest first.
async fn texts(s: &TestServer, a: u32, b: u32) -> Vec<String> {
    let mut rows = s.store.single_history(a, b, 0, 100).await.unwrap();
    rows.reverse();
    rows.into_iter().map(|m| m.content).collect()
}

/// Runs each statement on the server's database, as another connection.
async fn by_hand(s: &TestServer, b: Backend, statements: &[&str]) {
    for sql in statements {
        exec_sql(s, b, sql).await;
    }
}

/// Another instance on the server's data: a second embedded store on the
/// same file, or a second MySQL + Redis store on the same database and
/// Redis db.
async fn second_instance(s: &TestServer, b: Backend) -> (Arc<dyn Store>, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = match b {
        Backend::Embedded => Arc::new(SqliteStore::open(&s.data_dir).await.unwrap()),
        Backend::MysqlRedis => {
            let mysql = s.mysql.as_ref().unwrap().url();
            let redis = s.redis.as_ref().unwrap().url();
            let env = |k: &str| match k {
                "TT_DBPROXY_MYSQL_PRIMARY" => Some(mysql.clone()),
                "TT_DBPROXY_REDIS_URL" => Some(redis.clone()),
                _ => None,
            };
            let mut config = tt_dbproxy::config::from_toml_str("", &env).unwrap();
            config.storage.data_dir = tmp.path().to_path_buf();
            Arc::new(MysqlRedisStore::new(&config).unwrap())
        }
    };
    (store, tmp)
}

/// Cached ids of a pair stay right when its rows are deleted and created
/// again by hand (new ids), deleted for good, or the session removed
/// through tt-dbproxy.
async fn pair_rows_deleted_and_recreated_by_hand(b: Backend) {
    let s = TestServer::seeded(b).await;
    let mut c = s.client().await;
    assert_eq!(send_id(&mut c, &msg(1, 2, 1, b"a")).await, 1);
    assert_eq!(send_id(&mut c, &msg(2, 1, 1, b"b")).await, 2);
    let first = s.store.relation_id(1, 2).await.unwrap().unwrap();

    // Replaced by hand: the same pair, other ids.
    by_hand(
        &s,
        b,
        &[
            "DELETE FROM IMRecentSession WHERE userId IN (1, 2) AND peerId IN (1, 2)",
            "DELETE FROM IMRelationShip WHERE smallId = 1 AND bigId = 2",
            "INSERT INTO IMRelationShip (id, smallId, bigId, status, created, updated) \
             VALUES (500, 1, 2, 0, 5, 5)",
            "INSERT INTO IMRecentSession (id, userId, peerId, type, status, created, updated) \
             VALUES (600, 1, 2, 1, 0, 5, 5), (601, 2, 1, 1, 1, 5, 5)",
        ],
    )
    .await;
    assert_ne!(first, 500);
    let id = send_id(&mut c, &msg(1, 2, 1, b"c")).await;
    assert_ne!(id, 0, "stored");
    assert_eq!(s.store.relation_id(1, 2).await.unwrap(), Some(500));
    assert_eq!(
        texts(&s, 1, 2).await,
        vec!["c"],
        "stored under relation 500"
    );
    assert_eq!(
        s.store.find_session(1, 2, SESSION_SINGLE).await.unwrap(),
        Some(600)
    );
    assert_eq!(
        s.store.find_session(2, 1, SESSION_SINGLE).await.unwrap(),
        Some(601),
        "the removed session made by hand is revived, not duplicated"
    );
    for (user, session) in [(1, 600), (2, 601)] {
        let listed = s.store.recent_sessions(user, 0, 10).await.unwrap();
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!((listed[0].id, listed[0].updated), (session, T0));
    }
    assert_eq!(
        send_id(&mut c, &msg(2, 1, 1, b"d")).await,
        id + 1,
        "the next id of the new relation"
    );

    // Deleted by hand and not created again: the send creates them.
    by_hand(
        &s,
        b,
        &[
            "DELETE FROM IMRecentSession WHERE userId IN (1, 2) AND peerId IN (1, 2)",
            "DELETE FROM IMRelationShip WHERE smallId = 1 AND bigId = 2",
        ],
    )
    .await;
    assert_ne!(send_id(&mut c, &msg(2, 1, 1, b"e")).await, 0);
    let third = s.store.relation_id(1, 2).await.unwrap().unwrap();
    assert_ne!(third, 500);
    assert_eq!(texts(&s, 2, 1).await, vec!["e"]);
    let own = s.store.find_session(2, 1, SESSION_SINGLE).await.unwrap();
    let peer = s.store.find_session(1, 2, SESSION_SINGLE).await.unwrap();
    assert!(own.is_some() && peer.is_some(), "{own:?} {peer:?}");
    assert!(!matches!(own, Some(600 | 601)) && !matches!(peer, Some(600 | 601)));

    // Removed through tt-dbproxy: the next send revives the same session.
    let peer = peer.unwrap();
    assert!(s.store.remove_session(peer, T0).await.unwrap());
    assert_ne!(send_id(&mut c, &msg(2, 1, 1, b"f")).await, 0);
    assert_eq!(
        s.store.find_session(1, 2, SESSION_SINGLE).await.unwrap(),
        Some(peer)
    );
    assert_eq!(texts(&s, 1, 2).await, vec!["e", "f"]);
    assert_eq!(
        s.store.unread_counts(1).await.unwrap(),
        vec![(2, 4)],
        "b, d, e, f: every stored message counted once"
    );
}

/// A member's cached group session stays right when it is deleted and
/// created again by hand; the group's ids and totals go on.
async fn group_session_deleted_and_recreated_by_hand(b: Backend) {
    let s = TestServer::seeded(b).await;
    let st = s.store.as_ref();
    assert_eq!(
        st.store_message(message(1, 5, true, 1, "g1"), T0)
            .await
            .unwrap(),
        1
    );
    by_hand(
        &s,
        b,
        &[
            "DELETE FROM IMRecentSession WHERE userId = 1 AND peerId = 5",
            "INSERT INTO IMRecentSession (id, userId, peerId, type, status, created, updated) \
             VALUES (700, 1, 5, 2, 0, 5, 5)",
        ],
    )
    .await;
    assert_eq!(
        st.store_message(message(1, 5, true, 2, "g2"), T0)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        st.find_session(1, 5, SESSION_GROUP).await.unwrap(),
        Some(700)
    );
    let listed = st.recent_sessions(1, 0, 10).await.unwrap();
    assert_eq!(
        (listed.len(), listed[0].id, listed[0].updated),
        (1, 700, T0)
    );
    by_hand(
        &s,
        b,
        &["DELETE FROM IMRecentSession WHERE userId = 1 AND peerId = 5"],
    )
    .await;
    assert_eq!(
        st.store_message(message(1, 5, true, 3, "g3"), T0)
            .await
            .unwrap(),
        3
    );
    assert!(
        st.find_session(1, 5, SESSION_GROUP)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(st.group_counter(1, 5).await.unwrap(), Some((3, 3)));
    assert_eq!(st.group_counter(2, 5).await.unwrap(), Some((3, 0)));
}

/// Two instances sending into the same conversations, turn by turn: ids
/// never repeat and keep the order of the acknowledgements, every message
/// is stored and counted once, resends on either instance get the stored
/// id.
async fn two_instances_interleaved(b: Backend) {
    let s = TestServer::seeded(b).await;
    let (other, _tmp) = second_instance(&s, b).await;
    let ours: Arc<dyn Store> = s.store.clone();
    let mut single = Vec::new();
    let mut group = Vec::new();
    for i in 1..=12u32 {
        let (at, peer) = if i % 2 == 0 {
            (&ours, &other)
        } else {
            (&other, &ours)
        };
        let text = format!("m{i}");
        let id = at
            .store_message(message(1, 2, false, i, &text), T0)
            .await
            .unwrap();
        // The same send again, on the other instance: a resend.
        let again = peer
            .store_message(message(1, 2, false, i, &text), T0)
            .await
            .unwrap();
        assert_eq!(again, id, "a resend on the other instance");
        single.push(id);
        let gid = at
            .store_message(message(i % 3 + 1, 9, true, 100 + i, &text), T0)
            .await
            .unwrap();
        group.push(gid);
    }
    assert_eq!(single, (1..=12).collect::<Vec<_>>());
    assert_eq!(group, (1..=12).collect::<Vec<_>>());
    assert_eq!(texts(&s, 2, 1).await.len(), 12);
    for st in [&ours, &other] {
        assert_eq!(st.unread_counts(2).await.unwrap(), vec![(1, 12)]);
        // User 1 sent the 12th (12 % 3 + 1): its read mark is the total.
        assert_eq!(st.group_counter(1, 9).await.unwrap(), Some((12, 12)));
    }
}

on_every_backend!(
    pair_rows_deleted_and_recreated_by_hand,
    group_session_deleted_and_recreated_by_hand,
    two_instances_interleaved,
    the_cache_is_bounded,
);

/// The bound of the cache under test.
const SMALL: usize = 8;

/// How a test reads what a store's send cache keeps.
enum Probe {
    Embedded(SqliteStore),
    Mysql(Arc<MysqlRedisStore>),
}

/// What a small-cache server needs kept alive.
type Keep = (
    tempfile::TempDir,
    Option<common::backends::TestDatabase>,
    Option<common::backends::RedisLease>,
);

/// A server whose send cache keeps at most [`SMALL`] entries (per map on
/// the embedded store), and how to read how many it keeps.
async fn small_cache_server(b: Backend) -> (TestServer, Probe, Keep) {
    let tmp = tempfile::tempdir().unwrap();
    match b {
        Backend::Embedded => {
            let options = SqliteOptions {
                send_cache: SMALL,
                ..Default::default()
            };
            let store = SqliteStore::open_with(tmp.path(), options).await.unwrap();
            let config = test_config(tmp.path());
            let s = TestServer::serve(config, Arc::new(store.clone()), tmp.path()).await;
            (s, Probe::Embedded(store), (tmp, None, None))
        }
        Backend::MysqlRedis => {
            let db = common::backends::TestDatabase::create().await;
            let lease = common::backends::RedisLease::acquire();
            let (mysql, redis) = (db.url(), lease.url());
            let env = |k: &str| match k {
                "TT_DBPROXY_MYSQL_PRIMARY" => Some(mysql.clone()),
                "TT_DBPROXY_REDIS_URL" => Some(redis.clone()),
                "TT_DBPROXY_LISTEN" => Some("127.0.0.1:0".to_string()),
                "TT_DBPROXY_SEND_CACHE_ENTRIES" => Some(SMALL.to_string()),
                _ => None,
            };
            let mut config = tt_dbproxy::config::from_toml_str("", &env).unwrap();
            config.storage.data_dir = tmp.path().to_path_buf();
            let store = Arc::new(MysqlRedisStore::new(&config).unwrap());
            store.migrate().await.unwrap();
            let s = TestServer::serve(config, store.clone(), tmp.path()).await;
            (s, Probe::Mysql(store), (tmp, Some(db), Some(lease)))
        }
    }
}

/// Entries the cache keeps, per map: (pairs, groups, members); on MySQL +
/// Redis one bound for all, reported as pairs.
async fn cached(probe: &Probe) -> (usize, usize, usize) {
    match probe {
        Probe::Embedded(store) => {
            let stats = store.send_cache_stats().await.unwrap();
            assert_eq!(stats.capacity, SMALL);
            (stats.pairs, stats.groups, stats.members)
        }
        Probe::Mysql(store) => (store.send_cache_len(), 0, 0),
    }
}

/// More conversations than the cache holds: it never holds more than its
/// bound, and conversations it forgot continue where they were (ids,
/// sessions, relations and counters looked up again, none created twice).
async fn the_cache_is_bounded(b: Backend) {
    let (s, probe, _dir) = small_cache_server(b).await;
    let st = s.store.as_ref();
    let users = 30u32;
    for round in 1..=2u32 {
        for u in 1..=users {
            let client = round * 1000 + u;
            let id = st
                .store_message(message(u, 1000 + u, false, client, "x"), T0)
                .await
                .unwrap();
            assert_eq!(id, round, "pair {u}, round {round}");
            let gid = st
                .store_message(message(u, 50 + u % 20, true, client, "y"), T0)
                .await
                .unwrap();
            assert_ne!(gid, 0);
            let (pairs, groups, members) = cached(&probe).await;
            assert!(
                pairs <= SMALL && groups <= SMALL && members <= SMALL,
                "{pairs} pairs, {groups} groups, {members} members cached"
            );
        }
    }
    for u in 1..=users {
        let peer = 1000 + u;
        assert_eq!(st.unread_counts(peer).await.unwrap(), vec![(u, 2)]);
        assert_eq!(st.recent_sessions(u, 0, 100).await.unwrap().len(), 2);
        assert_eq!(st.recent_sessions(peer, 0, 100).await.unwrap().len(), 1);
        assert_eq!(texts(&s, u, peer).await, vec!["x", "x"]);
    }
    for g in 50..70 {
        // Users g-50, g-30 (and g-10) send to group g, once per round.
        let senders = (1..=users).filter(|u| 50 + u % 20 == g).count();
        let total = u32::try_from(senders * 2).unwrap();
        assert_eq!(st.group_counter(1000, g).await.unwrap(), Some((total, 0)));
    }
}

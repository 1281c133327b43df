//! MySQL + Redis: a statement rolled back by a deadlock took no effect,
//! so the step that ran it runs again. InnoDB picks such a victim when a
//! conversation's first send creates its sessions and relation (autocommit
//! statements under named locks) while a group commit updates the same
//! tables; the group commit itself can be the victim too. Either way the
//! send is stored once with the next id, and the creation makes one row
//! each. The deadlocks are injected: a trigger fails the next `n` inserts
//! into a table with error 1213, counted down in a `MEMORY` table (which a
//! rolled-back statement does not roll back). SQLite has no such conflict
//! (one writer), so these run on MySQL + Redis only.

mod common;

use tt_dbproxy::client::Client;
use tt_dbproxy::store::MESSAGE_SHARDS;
use tt_dbproxy::store::prelude::*;

use common::fixtures::exec_sql;
use common::*;

/// Makes the next `n` inserts into `table` fail as a deadlock would.
async fn deadlock_next_inserts(s: &TestServer, table: &str, n: u32) {
    let b = Backend::MysqlRedis;
    exec_sql(
        s,
        b,
        "CREATE TABLE IF NOT EXISTS tt_test_deadlocks \
         (tbl VARCHAR(64) PRIMARY KEY, n INT NOT NULL) ENGINE=MEMORY",
    )
    .await;
    exec_sql(
        s,
        b,
        &format!("REPLACE INTO tt_test_deadlocks VALUES ('{table}', {n})"),
    )
    .await;
    exec_sql(
        s,
        b,
        &format!(
            "CREATE TRIGGER IF NOT EXISTS deadlock_{table} BEFORE INSERT ON {table} FOR EACH ROW \
             BEGIN IF (SELECT n FROM tt_test_deadlocks WHERE tbl = '{table}') > 0 THEN \
             UPDATE tt_test_deadlocks SET n = n - 1 WHERE tbl = '{table}'; \
             SIGNAL SQLSTATE '40001' SET MYSQL_ERRNO = 1213, \
             MESSAGE_TEXT = 'Deadlock found when trying to get lock (injected)'; \
             END IF; END"
        ),
    )
    .await;
}

/// The first number `sql` selects on the server's database.
async fn number(s: &TestServer, sql: &str) -> u64 {
    let url = s.mysql.as_ref().expect("a MySQL database").url();
    let mut c = mysql_async::Conn::from_url(url).await.unwrap();
    let found: Vec<u64> = mysql_async::prelude::Queryable::query(&mut c, sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    let _ = c.disconnect().await;
    found.first().copied().unwrap_or(0)
}

/// Injected deadlocks not yet spent on `table`.
async fn deadlocks_left(s: &TestServer, table: &str) -> u64 {
    number(
        s,
        &format!("SELECT n FROM tt_test_deadlocks WHERE tbl = '{table}'"),
    )
    .await
}

async fn send_id(c: &mut Client, from: u32, to: u32, text: &str) -> u32 {
    sends::send_id(c, &sends::msg(from, to, 1, text.as_bytes())).await
}

/// How many session rows `user` has with `peer`, of any status.
async fn session_rows(s: &TestServer, user: u32, peer: u32) -> u64 {
    let sql =
        format!("SELECT COUNT(*) FROM IMRecentSession WHERE userId = {user} AND peerId = {peer}");
    number(s, &sql).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_send_whose_conversation_meets_deadlocks_is_stored_once() {
    let Some(s) = seeded_mysql_redis_with_metrics().await else {
        return;
    };
    // The first send of 31 -> 32 creates two sessions and a relation: the
    // first insert into each table is rolled back as a deadlock's victim.
    deadlock_next_inserts(&s, "IMRecentSession", 1).await;
    deadlock_next_inserts(&s, "IMRelationShip", 1).await;
    let before = conflict_retries("create");
    let mut c = s.client().await;
    assert_eq!(send_id(&mut c, 31, 32, "first").await, 1, "stored");
    assert_eq!(send_id(&mut c, 31, 32, "second").await, 2);
    assert_eq!(deadlocks_left(&s, "IMRecentSession").await, 0, "injected");
    assert_eq!(deadlocks_left(&s, "IMRelationShip").await, 0, "injected");
    assert_eq!(
        conflict_retries("create") - before,
        2.0,
        "each creation ran again"
    );
    // One row each: the retried creation found nothing half made.
    assert_eq!(session_rows(&s, 31, 32).await, 1);
    assert_eq!(session_rows(&s, 32, 31).await, 1);
    let rel = s.store.relation_id(31, 32).await.unwrap();
    assert!(rel.is_some(), "an active relation");
    let stored = s.store.single_history(31, 32, 0, 10).await.unwrap();
    let mut texts: Vec<&str> = stored.iter().map(|m| m.content.as_str()).collect();
    texts.sort_unstable();
    assert_eq!(texts, ["first", "second"], "each stored once");
    let unread = s.store.unread_counts(32).await.unwrap();
    assert_eq!(unread, vec![(31, 2)], "counted once each");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_commit_rolled_back_by_a_deadlock_runs_again() {
    let Some(s) = seeded_mysql_redis_with_metrics().await else {
        return;
    };
    let mut c = s.client().await;
    assert_eq!(send_id(&mut c, 41, 42, "before").await, 1);
    let rel = s.store.relation_id(41, 42).await.unwrap().unwrap();
    let table = format!("IMMessage_{}", rel % MESSAGE_SHARDS);
    // Rolled back twice: the batch runs three times, the row stored once.
    deadlock_next_inserts(&s, &table, 2).await;
    let before = conflict_retries("send");
    assert_eq!(send_id(&mut c, 41, 42, "after").await, 2, "stored");
    assert_eq!(deadlocks_left(&s, &table).await, 0, "injected");
    assert_eq!(conflict_retries("send") - before, 2.0);
    let stored = s.store.single_history(41, 42, 0, 10).await.unwrap();
    let ids: Vec<u32> = stored.iter().map(|m| m.msg_id).collect();
    assert_eq!(ids.len(), 2, "each stored once: {ids:?}");
    assert!(ids.contains(&1) && ids.contains(&2), "{ids:?}");
    assert_eq!(s.store.unread_counts(42).await.unwrap(), vec![(41, 2)]);
}

//! The messages spec's §9 fixture, written through the storage interface,
//! and helpers that reach into a backend to break it on purpose.

use super::{Backend, TestServer};
use tt_dbproxy::store::prelude::*;
use tt_dbproxy::store::{GroupMessageRow, SingleMessageRow};

/// Relation 1–2 with messages 5 ("hi", 1→2, created 100) and 6 ("yo",
/// 2→1, created 200); group 5 (temporary) with members 1 (joined 40) and 2
/// (joined 150), messages 10 (created 100) and 11 (created 160), total 11,
/// user 2's read mark 9; group 6 with members 1 and 3.
pub async fn messages_fixture(s: &TestServer) {
    let st = s.store.as_ref();
    let rel = st.create_relation(1, 2, 1).await.unwrap();
    for (msg_id, from, to, content, created) in [(5, 1, 2, "hi", 100), (6, 2, 1, "yo", 200)] {
        let row = SingleMessageRow {
            relation_id: rel,
            from_id: from,
            to_id: to,
            msg_id,
            msg_type: 1,
            content: content.into(),
            created,
        };
        st.insert_single_message(row).await.unwrap();
    }
    st.add_group_member(5, 1, 40).await.unwrap();
    st.add_group_member(5, 2, 150).await.unwrap();
    st.add_group_member(6, 1, 10).await.unwrap();
    st.add_group_member(6, 3, 10).await.unwrap();
    for (msg_id, content, created) in [(10, "early", 100), (11, "g", 160)] {
        let row = GroupMessageRow {
            group_id: 5,
            from_id: 1,
            msg_id,
            msg_type: 0x11,
            content: content.into(),
            created,
        };
        st.insert_group_message(row).await.unwrap();
    }
    for i in 1..=11 {
        st.incr_group_total(5).await.unwrap();
        if i == 9 {
            st.mark_group_read(2, 5).await.unwrap();
        }
    }
}

/// Runs SQL on the server's database (SQLite file or MariaDB).
pub async fn exec_sql(s: &TestServer, backend: Backend, sql: &str) {
    match backend {
        Backend::Embedded => {
            let path = s.data_dir.join(tt_dbproxy::store::sqlite::DB_FILE_NAME);
            let sql = sql.to_string();
            tokio::task::spawn_blocking(move || {
                let c = rusqlite::Connection::open(path).unwrap();
                c.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
                c.execute_batch(&sql).unwrap();
            })
            .await
            .unwrap();
        }
        Backend::MysqlRedis => s.mysql.as_ref().unwrap().exec(&[sql]).await,
    }
}

/// Deletes every message-id counter: the SQLite table, or the whole Redis
/// db (as a FLUSHDB after a Redis failover would).
pub async fn wipe_msg_counters(s: &TestServer, backend: Backend) {
    match backend {
        Backend::Embedded => exec_sql(s, backend, "DELETE FROM tt_msg_counter").await,
        Backend::MysqlRedis => {
            let mut c = s.redis.as_ref().unwrap().conn();
            let _: () = redis::cmd("FLUSHDB").query(&mut c).unwrap();
        }
    }
}

//! A primary and a lagging read replica (MariaDB GTID replication, both
//! `mariadbd`s the test's own; Redis a leased db of the shared server):
//! every acknowledged write is seen by the later reads that read it
//! (message list, by id, latest id, unread summary, recent sessions,
//! group info after a member change) while the replica's SQL thread is
//! stopped; reads do go to the replica once it has caught up (counted per
//! pool); a replica with a stopped SQL thread, or lagging more than
//! `mysql.max_replica_lag_s`, leaves rotation and comes back; its lag is
//! exported.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::backends::{RedisLease, skipped};
use common::faults::OwnMariaDb;
use common::*;
use mysql_async::prelude::Queryable;
use tt_dbproxy::client::Client;
use tt_proto::im::base_define::GroupVersionInfo;
use tt_proto::im::buddy::{ImRecentContactSessionReq, ImRecentContactSessionRsp};
use tt_proto::im::group::*;
use tt_proto::im::message::*;

const MAX_LAG_S: u64 = 2;

fn metric(name_and_labels: &str) -> f64 {
    sample(&tt_dbproxy::metrics::render(), name_and_labels)
}

fn replica_reads() -> f64 {
    metric(r#"tt_dbproxy_mysql_reads_total{pool="replica1"}"#)
}

fn primary_reads() -> f64 {
    metric(r#"tt_dbproxy_mysql_reads_total{pool="primary"}"#)
}

fn lag() -> f64 {
    metric(r#"tt_dbproxy_mysql_replica_lag_seconds{replica="replica1"}"#)
}

fn in_rotation() -> bool {
    metric(r#"tt_dbproxy_mysql_replica_in_rotation{replica="replica1"}"#) == 1.0
}

/// Waits up to `limit` for `check`; returns how long it took.
async fn within(what: &str, limit: Duration, check: impl Fn() -> bool) -> Duration {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < limit, "not within {limit:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

async fn conn(db: &OwnMariaDb, database: &str) -> mysql_async::Conn {
    mysql_async::Conn::from_url(db.url(database)).await.unwrap()
}

/// Waits until the replica has applied everything the primary logged.
async fn caught_up(primary: &OwnMariaDb, replica: &OwnMariaDb) {
    let pos: Option<String> = conn(primary, "")
        .await
        .query_first("SELECT @@gtid_binlog_pos")
        .await
        .unwrap();
    let got: Option<i64> = conn(replica, "")
        .await
        .exec_first("SELECT MASTER_GTID_WAIT(?, 30)", (pos.unwrap(),))
        .await
        .unwrap();
    assert_eq!(got, Some(0), "replica caught up");
}

async fn send(c: &mut Client, m: &ImMsgData) -> u32 {
    let rsp: ImMsgData = call(c, 0x0301, m, 3, 0x0301).await;
    let id = rsp.msg_id.unwrap_or(0);
    assert!(id > 0, "send acknowledged with an id");
    id
}

async fn history(c: &mut Client, user: u32, peer: u32) -> Vec<u32> {
    let req = ImGetMsgListReq {
        user_id: Some(user),
        session_type: Some(1),
        session_id: Some(peer),
        msg_id_begin: Some(0),
        msg_cnt: Some(20),
        attach_data: ab(),
    };
    let rsp: ImGetMsgListRsp = call(c, 0x0309, &req, 3, 0x030a).await;
    rsp.msg_list.iter().filter_map(|m| m.msg_id).collect()
}

async fn by_id(c: &mut Client, user: u32, peer: u32, id: u32) -> Vec<u32> {
    let req = ImGetMsgByIdReq {
        user_id: Some(user),
        session_type: Some(1),
        session_id: Some(peer),
        msg_id_list: vec![id],
        attach_data: ab(),
    };
    let rsp: ImGetMsgByIdRsp = call(c, 0x030d, &req, 3, 0x030e).await;
    rsp.msg_list.iter().filter_map(|m| m.msg_id).collect()
}

async fn latest(c: &mut Client, user: u32, peer: u32) -> u32 {
    let req = ImGetLatestMsgIdReq {
        user_id: Some(user),
        session_type: Some(1),
        session_id: Some(peer),
        attach_data: ab(),
    };
    let rsp: ImGetLatestMsgIdRsp = call(c, 0x030b, &req, 3, 0x030c).await;
    rsp.latest_msg_id.unwrap_or(0)
}

/// The unread summary's last message id for `peer`.
async fn unread_last(c: &mut Client, user: u32, peer: u32) -> Option<u32> {
    let req = ImUnreadMsgCntReq {
        user_id: Some(user),
        attach_data: ab(),
    };
    let rsp: ImUnreadMsgCntRsp = call(c, 0x0307, &req, 3, 0x0308).await;
    rsp.unreadinfo_list
        .iter()
        .find(|u| u.session_id == Some(peer) && u.session_type == Some(1))
        .and_then(|u| u.latest_msg_id)
}

/// The recent sessions' peers of `user` with their last message id.
async fn recent(c: &mut Client, user: u32) -> Vec<(u32, u32)> {
    let req = ImRecentContactSessionReq {
        user_id: Some(user),
        latest_update_time: Some(0),
        attach_data: ab(),
    };
    let rsp: ImRecentContactSessionRsp = call(c, 0x0201, &req, 2, 0x0202).await;
    rsp.contact_session_list
        .iter()
        .map(|s| (s.session_id.unwrap_or(0), s.latest_msg_id.unwrap_or(0)))
        .collect()
}

/// Group `g`'s (version, members) as group info answers when the client
/// has `known` (None: not newer than `known`).
async fn group_info(c: &mut Client, g: u32, known: u32) -> Option<(u32, Vec<u32>)> {
    let req = ImGroupInfoListReq {
        user_id: Some(1),
        group_version_list: vec![GroupVersionInfo {
            group_id: Some(g),
            version: Some(known),
        }],
        attach_data: ab(),
    };
    let rsp: ImGroupInfoListRsp = call(c, 0x0403, &req, 4, 0x0404).await;
    rsp.group_info_list
        .first()
        .map(|i| (i.version.unwrap_or(0), i.group_member_list.clone()))
}

/// Rows of a message on the replica itself (0 while it lags).
async fn on_replica(replica: &OwnMariaDb, sql: &str) -> u64 {
    let n: Option<u64> = conn(replica, "tt").await.query_first(sql).await.unwrap();
    n.unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lagging_replica_never_hides_an_acknowledged_write() {
    if skipped() {
        return;
    }
    let started = Instant::now();
    tt_dbproxy::metrics::install();
    let (primary, replica) = std::thread::scope(|s| {
        let p = s.spawn(|| OwnMariaDb::start_primary(1));
        let r = s.spawn(|| OwnMariaDb::start_replica(2));
        (p.join().unwrap(), r.join().unwrap())
    });
    conn(&primary, "")
        .await
        .query_drop("CREATE DATABASE tt DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
        .await
        .unwrap();
    let mut rc = conn(&replica, "").await;
    rc.query_drop(format!(
        "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={}, MASTER_USER='root', \
         MASTER_PASSWORD='', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1",
        primary.port
    ))
    .await
    .unwrap();
    rc.query_drop("START SLAVE").await.unwrap();

    let lease = RedisLease::acquire();
    let data = tempfile::tempdir().unwrap();
    let (p_url, r_url, redis_url) = (primary.url("tt"), replica.url("tt"), lease.url());
    let env = |k: &str| match k {
        "TT_DBPROXY_MYSQL_PRIMARY" => Some(p_url.clone()),
        "TT_DBPROXY_MYSQL_REPLICAS" => Some(r_url.clone()),
        "TT_DBPROXY_MYSQL_MAX_REPLICA_LAG_S" => Some(MAX_LAG_S.to_string()),
        "TT_DBPROXY_REDIS_URL" => Some(redis_url.clone()),
        "TT_DBPROXY_LISTEN" => Some("127.0.0.1:0".into()),
        _ => None,
    };
    let mut config = tt_dbproxy::config::from_toml_str("", &env).unwrap();
    config.storage.data_dir = data.path().to_path_buf();
    assert_eq!(
        config.mysql.as_ref().map(|m| m.max_replica_lag_s),
        Some(MAX_LAG_S)
    );
    let store = tt_dbproxy::store::MysqlRedisStore::new(&config).unwrap();
    store.migrate().await.unwrap();
    let s = TestServer::serve(config, Arc::new(store), data.path()).await;
    seed_spec_users(s.store.as_ref()).await;
    caught_up(&primary, &replica).await;
    let mut c = s.client().await;
    within(
        "replica in rotation, lag 0",
        Duration::from_secs(10),
        || in_rotation() && lag() == 0.0,
    )
    .await;

    // Caught up: reads go to the replica, and see the writes just made.
    let (g, v0) = {
        let req = ImGroupCreateReq {
            user_id: Some(1),
            group_type: Some(2),
            group_name: Some(b"g".to_vec()),
            group_avatar: Some(Vec::new()),
            member_id_list: vec![1, 2],
            attach_data: ab(),
        };
        let rsp: ImGroupCreateRsp = call(&mut c, 0x0405, &req, 4, 0x0406).await;
        let g = rsp.group_id.unwrap();
        let (v, members) = group_info(&mut c, g, 0).await.unwrap();
        assert_eq!(members, vec![1, 2]);
        (g, v)
    };
    let before = replica_reads();
    let mut checked = Vec::new();
    let mut cached = Vec::new();
    for i in 0..20 {
        let id = send(&mut c, &chat(1, 2, false, &format!("m{i}"))).await;
        let t = Instant::now();
        assert_eq!(history(&mut c, 2, 1).await.first(), Some(&id));
        checked.push(t.elapsed());
        let t = Instant::now();
        assert_eq!(history(&mut c, 2, 1).await.first(), Some(&id));
        cached.push(t.elapsed());
    }
    let served = replica_reads() - before;
    assert!(
        served >= 20.0,
        "reads after a write go to the caught-up replica: {served} of 40"
    );
    checked.sort();
    cached.sort();
    eprintln!(
        "message list right after a send (GTID checked on the replica): median {:?}; again (position known): median {:?}; {served} of 40 reads on the replica",
        checked[10], cached[10]
    );

    // The cost on a send: the same sends through an instance without
    // replicas (no write positions recorded).
    let env3 = |k: &str| match k {
        "TT_DBPROXY_MYSQL_REPLICAS" => None,
        other => env(other),
    };
    let data3 = tempfile::tempdir().unwrap();
    let mut config3 = tt_dbproxy::config::from_toml_str("", &env3).unwrap();
    config3.storage.data_dir = data3.path().to_path_buf();
    let store3 = tt_dbproxy::store::MysqlRedisStore::new(&config3).unwrap();
    let s3 = TestServer::serve(config3, Arc::new(store3), data3.path()).await;
    let mut c3 = s3.client().await;
    let mut with_replicas = Vec::new();
    let mut without = Vec::new();
    for i in 0..21 {
        let t = Instant::now();
        send(&mut c, &chat(1, 2, false, &format!("a{i}"))).await;
        with_replicas.push(t.elapsed());
        let t = Instant::now();
        send(&mut c3, &chat(1, 2, false, &format!("b{i}"))).await;
        without.push(t.elapsed());
    }
    with_replicas.sort();
    without.sort();
    eprintln!(
        "send: median {:?} with a replica configured (write position recorded), {:?} without",
        with_replicas[10], without[10]
    );
    drop(c3);
    drop(s3);

    // SQL thread stopped: the replica lags, every acknowledged write is
    // still seen by the reads that read it.
    rc.query_drop("STOP SLAVE SQL_THREAD").await.unwrap();
    let stopped_at = Instant::now();
    let id = send(&mut c, &chat(11, 12, false, "while lagging")).await;
    let change = ImGroupChangeMemberReq {
        user_id: Some(1),
        change_type: Some(1),
        group_id: Some(g),
        member_id_list: vec![12],
        attach_data: ab(),
    };
    let rsp: ImGroupChangeMemberRsp = call(&mut c, 0x0407, &change, 4, 0x0408).await;
    assert_eq!(rsp.result_code, Some(0));
    assert_eq!(history(&mut c, 12, 11).await, vec![id], "message list");
    assert_eq!(by_id(&mut c, 12, 11, id).await, vec![id], "message by id");
    assert_eq!(latest(&mut c, 12, 11).await, id, "latest id");
    assert_eq!(
        unread_last(&mut c, 12, 11).await,
        Some(id),
        "unread summary's last message"
    );
    assert_eq!(recent(&mut c, 12).await, vec![(11, id)], "recent sessions");
    let (v1, members) = group_info(&mut c, g, v0)
        .await
        .expect("group info after a member change");
    assert!(v1 > v0);
    assert!(members.contains(&12), "{members:?}");
    assert_eq!(
        on_replica(
            &replica,
            "SELECT COUNT(*) FROM IMRecentSession WHERE userId = 12"
        )
        .await,
        0,
        "the replica really lags"
    );
    // Another instance whose Redis cannot be reached does not know the
    // write positions: it reads from the primary.
    let dead_redis = format!("redis://{}/1", {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    });
    let env2 = |k: &str| match k {
        "TT_DBPROXY_REDIS_URL" => Some(dead_redis.clone()),
        "TT_DBPROXY_ACQUIRE_TIMEOUT_MS" => Some("200".into()),
        other => env(other),
    };
    let data2 = tempfile::tempdir().unwrap();
    let mut config2 = tt_dbproxy::config::from_toml_str("", &env2).unwrap();
    config2.storage.data_dir = data2.path().to_path_buf();
    let store2 = tt_dbproxy::store::MysqlRedisStore::new(&config2).unwrap();
    let s2 = TestServer::serve(config2, Arc::new(store2), data2.path()).await;
    let mut c2 = s2.client().await;
    let blind = r#"tt_dbproxy_mysql_reads_on_primary_total{reason="no_write_positions"}"#;
    let before = metric(blind);
    assert_eq!(
        history(&mut c2, 12, 11).await,
        vec![id],
        "message list without Redis"
    );
    assert!(metric(blind) > before, "read on the primary without Redis");
    drop(c2);
    drop(s2);
    within(
        "a replica with its SQL thread stopped leaves rotation",
        Duration::from_secs(5),
        || !in_rotation() && lag() == -1.0,
    )
    .await;
    let left = stopped_at.elapsed();
    let (r0, p0) = (replica_reads(), primary_reads());
    for _ in 0..5 {
        assert_eq!(history(&mut c, 12, 11).await, vec![id]);
    }
    assert_eq!(replica_reads(), r0, "no read on a replica out of rotation");
    assert!(primary_reads() >= p0 + 5.0);

    rc.query_drop("START SLAVE SQL_THREAD").await.unwrap();
    let back = within(
        "a restarted replica comes back",
        Duration::from_secs(10),
        in_rotation,
    )
    .await;
    let r0 = replica_reads();
    for _ in 0..5 {
        assert_eq!(history(&mut c, 12, 11).await, vec![id]);
    }
    assert!(
        replica_reads() >= r0 + 5.0,
        "back in rotation, reads go there"
    );

    // Lag above mysql.max_replica_lag_s (SQL thread running): out of
    // rotation until it catches up.
    let delay = MAX_LAG_S + 3;
    rc.query_drop("STOP SLAVE").await.unwrap();
    rc.query_drop(format!("CHANGE MASTER TO MASTER_DELAY={delay}"))
        .await
        .unwrap();
    rc.query_drop("START SLAVE").await.unwrap();
    let delayed = Instant::now();
    let id2 = send(&mut c, &chat(11, 12, false, "delayed")).await;
    within(
        "a replica lagging more than max_replica_lag_s leaves rotation",
        Duration::from_secs(delay + 5),
        || !in_rotation() && lag() > MAX_LAG_S as f64,
    )
    .await;
    let lag_seen = lag();
    assert_eq!(history(&mut c, 12, 11).await, vec![id2, id]);
    within(
        "a delayed replica comes back once caught up",
        Duration::from_secs(delay + 10),
        || in_rotation() && lag() <= MAX_LAG_S as f64,
    )
    .await;
    let delayed_back = delayed.elapsed();
    rc.query_drop("STOP SLAVE").await.unwrap();
    rc.query_drop("CHANGE MASTER TO MASTER_DELAY=0")
        .await
        .unwrap();
    rc.query_drop("START SLAVE").await.unwrap();
    eprintln!(
        "SQL thread stopped: out of rotation after {left:?}, back {back:?} after START SLAVE SQL_THREAD; \
         MASTER_DELAY={delay}: lag {lag_seen} s seen, back in rotation after {delayed_back:?}; total {:?}",
        started.elapsed()
    );
    drop(s);
}

/// The script that records write positions: per domain the newest
/// sequence wins whichever writer comes last, and the key expires.
#[test]
fn write_positions_only_move_forward() {
    if skipped() {
        return;
    }
    let lease = RedisLease::acquire();
    let mut r = lease.conn();
    let script = redis::Script::new(include_str!("../src/store/redis/write_marks.lua"));
    let merge = |r: &mut redis::Connection, pos: &str| -> String {
        let _: i64 = script
            .key("tt_dbproxy:gtid:u:1")
            .key("tt_dbproxy:gtid:all")
            .arg(60)
            .arg(pos)
            .invoke(r)
            .unwrap();
        redis::cmd("GET")
            .arg("tt_dbproxy:gtid:u:1")
            .query(r)
            .unwrap()
    };
    assert_eq!(merge(&mut r, "0-1-5"), "0-1-5");
    assert_eq!(
        merge(&mut r, "0-1-3"),
        "0-1-5",
        "an older position does not win"
    );
    assert_eq!(
        merge(&mut r, "0-1-12"),
        "0-1-12",
        "numbers, not text, compare"
    );
    assert_eq!(merge(&mut r, "1-2-4"), "0-1-12,1-2-4");
    assert_eq!(merge(&mut r, "0-2-13,1-2-3"), "0-2-13,1-2-4");
    let all: String = redis::cmd("GET")
        .arg("tt_dbproxy:gtid:all")
        .query(&mut r)
        .unwrap();
    assert_eq!(all, "0-2-13,1-2-4");
    let ttl: i64 = redis::cmd("TTL")
        .arg("tt_dbproxy:gtid:u:1")
        .query(&mut r)
        .unwrap();
    assert!((1..=60).contains(&ttl), "{ttl}");
}

//! A three-node MariaDB Galera cluster of the test's own (started once
//! for this binary) with three tt-dbproxy instances, each writing to a
//! different node, on one shared Redis:
//!
//! - concurrent first messages between the same two users through the
//!   three nodes create one relation row and one session row per user;
//! - concurrent sends into one conversation and one group through the
//!   three nodes get unique ids, every acknowledged send is stored once on
//!   every node, and nothing is stored that was answered as failed.
//!
//! Needs `galera-4`, `mariadbd` and `rsync` (CI installs them); skipped
//! only with `TT_TEST_SKIP_BACKENDS=1`, never under `CI=true`.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tt_dbproxy::store::prelude::*;

use common::backends::{RedisLease, skipped};
use common::faults::{GaleraNode, OwnGalera, have_galera};
use common::*;
use mysql_async::prelude::Queryable;
use tokio::sync::Barrier;
use tt_dbproxy::client::Client;
use tt_dbproxy::store::MESSAGE_SHARDS;
use tt_proto::im::message::ImMsgData;

/// Pairs of users whose first messages race through the three nodes.
const PAIRS: u32 = 12;
/// Sends per sender in the load phase (two senders per instance).
const PER_SENDER: u32 = 40;
const GROUP: u32 = 5;

/// The stored id of a send, 0 when it was answered as failed (or not in
/// time).
async fn send(c: &mut Client, m: &ImMsgData) -> u32 {
    let rsp = tokio::time::timeout(
        Duration::from_secs(8),
        call::<ImMsgData>(c, 0x0301, m, 3, 0x0301),
    )
    .await;
    rsp.ok().and_then(|r| r.msg_id).unwrap_or(0)
}

/// A connection to `node` whose reads wait until the node has applied
/// every write set committed in the cluster before them.
async fn causal(node: &GaleraNode) -> mysql_async::Conn {
    let mut c = mysql_async::Conn::from_url(node.url("tt")).await.unwrap();
    c.query_drop("SET SESSION wsrep_sync_wait = 1")
        .await
        .unwrap();
    c
}

async fn ints(c: &mut mysql_async::Conn, sql: &str) -> Vec<u64> {
    c.query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn count(c: &mut mysql_async::Conn, sql: &str) -> u64 {
    ints(c, sql).await.first().copied().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_on_three_galera_nodes_create_one_relation_and_store_every_ack_once() {
    if skipped() {
        return;
    }
    assert!(
        have_galera(),
        "galera-4 ({}), mariadbd and rsync are required (apt-get install galera-4 rsync)",
        common::faults::GALERA_PROVIDER
    );
    tt_dbproxy::metrics::install();
    let cluster = OwnGalera::start().await;
    eprintln!("galera: 3 nodes synced in {:?}", cluster.formed_in);
    let nodes = &cluster.nodes;
    {
        let mut c = mysql_async::Conn::from_url(nodes[0].url("mysql"))
            .await
            .unwrap();
        let size: Option<(String, u64)> = c
            .query_first("SHOW STATUS LIKE 'wsrep_cluster_size'")
            .await
            .unwrap();
        assert_eq!(size.map(|s| s.1), Some(3), "a three-node cluster");
        c.query_drop("CREATE DATABASE tt DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
            .await
            .unwrap();
        let _ = c.disconnect().await;
    }
    let lease = RedisLease::acquire();
    let redis = lease.url();
    let a = TestServer::start_mysql(&nodes[0].url("tt"), &redis, true, |_| {}).await;
    // Users need no rows for sends; the group's row takes `lastChated`
    // (explicit id: Galera's auto-increment steps by the node count).
    {
        let mut db = causal(&nodes[0]).await;
        db.query_drop(format!(
            "INSERT INTO IMGroup (id, name, creator, status, userCnt) VALUES ({GROUP}, 'g', 1, 0, 2)"
        ))
        .await
        .unwrap();
        let _ = db.disconnect().await;
    }
    a.store.add_group_member(GROUP, 1, 1).await.unwrap();
    a.store.add_group_member(GROUP, 2, 1).await.unwrap();
    let b = TestServer::start_mysql(&nodes[1].url("tt"), &redis, false, |_| {}).await;
    let c = TestServer::start_mysql(&nodes[2].url("tt"), &redis, false, |_| {}).await;
    let addrs = [a.addr, b.addr, c.addr];
    let (create0, send0) = (conflict_retries("create"), conflict_retries("send"));

    // First messages: for each pair, one send through each node at once
    // (x→y, y→x, x→y), released together by a barrier.
    let barrier = Arc::new(Barrier::new(3));
    let mut racers = Vec::new();
    for (i, addr) in addrs.into_iter().enumerate() {
        let barrier = barrier.clone();
        racers.push(tokio::spawn(async move {
            let mut cl = Client::connect(addr).await.unwrap();
            let mut acked = Vec::new();
            for k in 0..PAIRS {
                let (x, y) = (1000 + k, 2000 + k);
                let (from, to) = if i == 1 { (y, x) } else { (x, y) };
                barrier.wait().await;
                let id = send(&mut cl, &chat(from, to, false, &format!("first {i} {k}"))).await;
                if id != 0 {
                    acked.push((k, id));
                }
            }
            acked
        }));
    }
    let mut first_acks: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for r in racers {
        for (k, id) in r.await.unwrap() {
            first_acks.entry(k).or_default().push(id);
        }
    }
    let create_retries = conflict_retries("create") - create0;

    // Load: two senders per instance, alternating between the pair 1–2
    // and the group.
    // The clocks tick fast, so each send really changes the sessions'
    // and the group's `updated`/`lastChated` rows: concurrent commits on
    // different nodes then write the same rows and conflict.
    let ticking = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let ticker = {
        let clocks = [a.clock.clone(), b.clock.clone(), c.clock.clone()];
        let ticking = ticking.clone();
        tokio::spawn(async move {
            while ticking.load(std::sync::atomic::Ordering::Relaxed) {
                for clock in &clocks {
                    clock.advance(1);
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (i, addr) in addrs.into_iter().enumerate() {
        for k in 0..2u32 {
            tasks.push(tokio::spawn(async move {
                let mut cl = Client::connect(addr).await.unwrap();
                let (from, to) = if k == 0 { (1, 2) } else { (2, 1) };
                let (mut acked, mut failed) = (Vec::new(), 0u32);
                for n in 0..PER_SENDER {
                    let group = n % 2 == 1;
                    let m = chat(
                        from,
                        if group { GROUP } else { to },
                        group,
                        &format!("{i}-{k}-{n}"),
                    );
                    match send(&mut cl, &m).await {
                        0 => failed += 1,
                        id => acked.push((group, id)),
                    }
                }
                (acked, failed)
            }));
        }
    }
    let (mut acked, mut failed) = (Vec::new(), 0);
    for t in tasks {
        let (a, f) = t.await.unwrap();
        acked.extend(a);
        failed += f;
    }
    let elapsed = started.elapsed();
    ticking.store(false, std::sync::atomic::Ordering::Relaxed);
    ticker.await.unwrap();
    let send_retries = conflict_retries("send") - send0;
    eprintln!(
        "galera: {} sends acknowledged, {failed} failed in {elapsed:?} ({:.0}/s through 3 nodes); \
         conflicts retried: {send_retries} sends, {create_retries} creations",
        acked.len(),
        acked.len() as f64 / elapsed.as_secs_f64()
    );
    assert!(
        acked.len() as u32 >= 6 * PER_SENDER * 9 / 10,
        "most sends stored: {} of {}",
        acked.len(),
        6 * PER_SENDER
    );

    // Every node, after a causality wait, holds the same answer.
    for (n, node) in nodes.iter().enumerate() {
        let mut db = causal(node).await;
        for k in 0..PAIRS {
            let (x, y) = (1000 + k, 2000 + k);
            let rels = ints(
                &mut db,
                &format!("SELECT id FROM IMRelationShip WHERE smallId = {x} AND bigId = {y}"),
            )
            .await;
            assert_eq!(rels.len(), 1, "node {n}: one relation row for {x}-{y}");
            for (u, p) in [(x, y), (y, x)] {
                let sessions = count(
                    &mut db,
                    &format!(
                        "SELECT COUNT(*) FROM IMRecentSession WHERE userId = {u} AND peerId = {p} AND type = 1"
                    ),
                )
                .await;
                assert_eq!(sessions, 1, "node {n}: one session row {u}->{p}");
            }
            let rel = rels[0];
            let stored = ints(
                &mut db,
                &format!(
                    "SELECT msgId FROM IMMessage_{} WHERE relateId = {rel} ORDER BY msgId",
                    rel % u64::from(MESSAGE_SHARDS)
                ),
            )
            .await;
            let mut want: Vec<u64> = first_acks
                .get(&k)
                .map(|ids| ids.iter().map(|i| u64::from(*i)).collect())
                .unwrap_or_default();
            want.sort_unstable();
            assert_eq!(
                stored, want,
                "node {n}: pair {k}'s first messages stored once each, none unacknowledged"
            );
        }

        let rel = ints(
            &mut db,
            "SELECT id FROM IMRelationShip WHERE smallId = 1 AND bigId = 2",
        )
        .await;
        assert_eq!(rel.len(), 1, "node {n}: one relation 1-2");
        let rel = rel[0];
        for (u, p, kind) in [(1, 2, 1), (2, 1, 1), (1, GROUP, 2), (2, GROUP, 2)] {
            let sessions = count(
                &mut db,
                &format!(
                    "SELECT COUNT(*) FROM IMRecentSession WHERE userId = {u} AND peerId = {p} AND type = {kind}"
                ),
            )
            .await;
            assert_eq!(sessions, 1, "node {n}: one session row {u}->{p}");
        }
        let single = ints(
            &mut db,
            &format!(
                "SELECT msgId FROM IMMessage_{} WHERE relateId = {rel}",
                rel % u64::from(MESSAGE_SHARDS)
            ),
        )
        .await;
        let group = ints(
            &mut db,
            &format!(
                "SELECT msgId FROM IMGroupMessage_{} WHERE groupId = {GROUP}",
                GROUP % MESSAGE_SHARDS
            ),
        )
        .await;
        for (what, stored, is_group) in [("one-to-one", &single, false), ("group", &group, true)] {
            let ids: HashSet<u64> = stored.iter().copied().collect();
            assert_eq!(ids.len(), stored.len(), "node {n}: unique {what} ids");
            let mine: Vec<u64> = acked
                .iter()
                .filter(|(g, _)| *g == is_group)
                .map(|(_, id)| u64::from(*id))
                .collect();
            for id in &mine {
                assert!(
                    ids.contains(id),
                    "node {n}: acknowledged {what} {id} stored"
                );
            }
            assert_eq!(
                stored.len(),
                mine.len(),
                "node {n}: every {what} send stored once, nothing that was answered failed"
            );
        }
        let _ = db.disconnect().await;
    }

    // The stores answer the same through each instance.
    let through_a = a.store.group_history(GROUP, 0, 0, 1000).await.unwrap();
    assert_eq!(
        through_a.len(),
        acked.iter().filter(|(g, _)| *g).count(),
        "history through the first instance"
    );
    a.stop().await;
    b.stop().await;
    c.stop().await;
}

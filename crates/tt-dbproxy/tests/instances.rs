//! Three tt-dbproxy instances behind one MariaDB + Redis, load spread
//! across them: concurrent sends into one conversation and one group, read
//! acks and wrong-password logins through all three. Unique ids, exact
//! counters, one relation and one session row per user and peer, a
//! throttle shared by the instances, the sync center run by one instance
//! per cycle, and one instance killed mid-load losing nothing it
//! acknowledged.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tt_dbproxy::store::prelude::*;

use common::backends::{RedisLease, TestDatabase, skipped};
use common::*;
use mysql_async::prelude::Queryable;
use tt_dbproxy::client::Client;
use tt_proto::im::message::ImMsgData;

const PER_SENDER: u32 = 60;

async fn send(c: &mut Client, m: &ImMsgData) -> u32 {
    let rsp: ImMsgData = call(c, 0x0301, m, 3, 0x0301).await;
    rsp.msg_id.unwrap_or(0)
}

async fn count(db: &TestDatabase, sql: &str) -> u64 {
    let pool = mysql_async::Pool::new(db.url().as_str());
    let mut c = pool.get_conn().await.unwrap();
    let n: Option<u64> = c.query_first(sql).await.unwrap();
    drop(c);
    pool.disconnect().await.unwrap();
    n.unwrap_or(0)
}

/// The sync-center cycle counts of this test process (all instances).
fn sync_cycles(result: &str) -> f64 {
    sample(
        &tt_dbproxy::metrics::render(),
        &format!("tt_dbproxy_sync_cycles_total{{result=\"{result}\"}}"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_share_ids_counters_throttle_and_the_sync_center() {
    if skipped() {
        return;
    }
    tt_dbproxy::metrics::install();
    let db = TestDatabase::create().await;
    let lease = RedisLease::acquire();
    let (mysql, redis) = (db.url(), lease.url());
    let a = TestServer::start_mysql(&mysql, &redis, true, |_| {}).await;
    seed_spec_users(a.store.as_ref()).await;
    a.store.add_group_member(5, 1, 1).await.unwrap();
    a.store.add_group_member(5, 2, 1).await.unwrap();
    let b = TestServer::start_mysql(&mysql, &redis, false, |_| {}).await;
    let c = TestServer::start_mysql(&mysql, &redis, false, |_| {}).await;
    // Each instance runs its sync center, as `serve` does.
    let syncs: Vec<_> = [&a, &b, &c]
        .into_iter()
        .map(|s| tokio::spawn(tt_dbproxy::sync::run(s.state.clone(), s.shutdown.clone())))
        .collect();
    let (ok0, skipped0) = (sync_cycles("ok"), sync_cycles("skipped"));
    let started = std::time::Instant::now();

    // Sends: two senders per instance, alternating between the pair and
    // the group; the third instance is killed half-way.
    let stop_c = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for (i, addr) in [a.addr, b.addr, c.addr].into_iter().enumerate() {
        for k in 0..2u32 {
            let stop = stop_c.clone();
            tasks.push(tokio::spawn(async move {
                let mut cl = Client::connect(addr).await.unwrap();
                let (from, to) = if k == 0 { (1, 2) } else { (2, 1) };
                let mut acked = Vec::new();
                for n in 0..PER_SENDER {
                    if i == 2 && stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let group = n % 2 == 1;
                    let m = chat(
                        from,
                        if group { 5 } else { to },
                        group,
                        &format!("{i}-{k}-{n}"),
                    );
                    let sent =
                        tokio::time::timeout(Duration::from_secs(5), send(&mut cl, &m)).await;
                    match sent {
                        Ok(id) if id != 0 => acked.push((group, from, id)),
                        Ok(_) => {}
                        Err(_) => break, // the instance went away
                    }
                }
                acked
            }));
        }
    }
    // Wrong passwords through every instance: 11 failures are allowed,
    // the 12th attempt is refused wherever it arrives.
    let mut logins = Vec::new();
    for addr in [a.addr, b.addr, c.addr] {
        logins.push(Client::connect(addr).await.unwrap());
    }
    for n in 0..11 {
        let rsp = login(&mut logins[n % 3], "zhangyl", "wrong").await;
        assert_eq!(rsp.result_code, Some(1), "failure {n}");
    }
    let refused = login(&mut logins[2], "zhangyl", GOOD_PASSWORD).await;
    assert_eq!(
        refused.result_code,
        Some(6),
        "the 12th attempt, on another instance"
    );

    tokio::time::sleep(Duration::from_millis(300)).await;
    stop_c.store(true, Ordering::Relaxed);
    c.handle.abort(); // killed: no drain, its sync center gone too
    syncs[2].abort();
    let mut acked = Vec::new();
    for t in tasks {
        acked.extend(t.await.unwrap());
    }

    // Every acknowledged send stored once, ids unique per conversation.
    let rel = a.store.relation_id(1, 2).await.unwrap().unwrap();
    let single = a.store.single_history(1, 2, 0, 1000).await.unwrap();
    let group = a.store.group_history(5, 0, 0, 1000).await.unwrap();
    let single_ids: HashSet<u32> = single.iter().map(|m| m.msg_id).collect();
    let group_ids: HashSet<u32> = group.iter().map(|m| m.msg_id).collect();
    assert_eq!(single_ids.len(), single.len(), "no duplicate one-to-one id");
    assert_eq!(group_ids.len(), group.len(), "no duplicate group id");
    for (is_group, _, id) in &acked {
        let found = if *is_group {
            group_ids.contains(id)
        } else {
            single_ids.contains(id)
        };
        assert!(found, "acknowledged {id} (group {is_group}) is stored");
    }
    let acked_single = acked.iter().filter(|(g, _, _)| !g).count();
    let acked_group = acked.len() - acked_single;
    assert_eq!(
        single.len(),
        acked_single,
        "nothing stored that was not acknowledged"
    );
    assert_eq!(group.len(), acked_group);
    // Exact counters: each receiver's unread count is the peer's messages.
    for (user, peer) in [(2u32, 1u32), (1, 2)] {
        let from_peer = single.iter().filter(|m| m.from_id == peer).count() as u32;
        let unread = a.store.unread_counts(user).await.unwrap();
        assert_eq!(unread, vec![(peer, from_peer)], "unread of {user}");
    }
    let (total, _) = a
        .store
        .group_counter(1, 5)
        .await
        .unwrap()
        .unwrap_or_default();
    assert_eq!(total as usize, group.len(), "group total");
    // One relation row and one session row per user and peer.
    let relations = count(
        &db,
        "SELECT COUNT(*) FROM IMRelationShip WHERE smallId = 1 AND bigId = 2",
    )
    .await;
    assert_eq!(relations, 1, "relation {rel}");
    for (user, peer, kind) in [(1, 2, 1), (2, 1, 1), (1, 5, 2), (2, 5, 2)] {
        let n = count(
            &db,
            &format!("SELECT COUNT(*) FROM IMRecentSession WHERE userId = {user} AND peerId = {peer} AND type = {kind}"),
        )
        .await;
        assert_eq!(n, 1, "session {user}->{peer}");
    }

    // The sync center: one instance per cycle, the others skip; if the
    // holder was the killed instance, its lease runs out and another
    // takes over.
    let ok_at_kill = sync_cycles("ok");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while sync_cycles("ok") < ok_at_kill + 2.0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let cycles = started.elapsed().as_secs_f64() / 5.0;
    let (ok, skipped) = (sync_cycles("ok") - ok0, sync_cycles("skipped") - skipped0);
    eprintln!(
        "sync: {ok} cycles run, {skipped} skipped in {:?}",
        started.elapsed()
    );
    assert!(
        sync_cycles("ok") >= ok_at_kill + 2.0,
        "cycles go on after an instance was killed"
    );
    assert!(
        ok <= cycles + 2.0,
        "one instance per cycle: {ok} in about {cycles:.1} cycles"
    );
    assert!(skipped >= 1.0, "the others skip");
    a.stop().await;
    b.stop().await;
}

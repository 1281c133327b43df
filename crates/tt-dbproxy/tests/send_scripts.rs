//! MySQL + Redis: the Redis scripts of concurrent sends (the id
//! allocation, and after the commit the counters) run many sends per
//! round trip. A send whose part fails inside a shared script — its
//! conversation's id counter holds a hash — fails alone: every other send
//! of the script is acknowledged, stored once in order, and counted
//! exactly; the broken conversation stores nothing.

mod common;

use std::collections::HashMap;

use tt_dbproxy::client::Client;
use tt_dbproxy::store::prelude::*;

use common::*;

const CLIENTS: u32 = 12;
const ROUNDS: u32 = 10;
/// The client whose conversation's counter is broken.
const BROKEN: u32 = 3;

async fn send_id(c: &mut Client, from: u32, to: u32, text: &str) -> u32 {
    sends::send_id(c, &sends::msg(from, to, 1, text.as_bytes())).await
}

/// (batches, sends) of `script` so far, from its batch-size histogram.
fn batches(script: &str) -> (f64, f64) {
    histogram_count_sum(
        "tt_dbproxy_redis_script_batch_size",
        &format!("{{script=\"{script}\"}}"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_send_failing_inside_a_shared_script_fails_alone() {
    let Some(s) = seeded_mysql_redis_with_metrics().await else {
        return;
    };
    let pair = |k: u32| (100 + k, 200 + k);
    // Every conversation exists, with its counter, before the broken one's
    // counter is replaced by a hash.
    let mut c = s.client().await;
    for k in 0..CLIENTS {
        let (from, to) = pair(k);
        assert_eq!(send_id(&mut c, from, to, "first").await, 1);
    }
    let (from, to) = pair(BROKEN);
    let rel = s.store.relation_id(from, to).await.unwrap().unwrap();
    let counter = format!("msg_id_{rel}");
    let mut redis = s.redis.as_ref().expect("a Redis database").conn();
    let _: () = redis::cmd("DEL").arg(&counter).query(&mut redis).unwrap();
    let _: () = redis::cmd("HSET")
        .arg(&counter)
        .arg("not")
        .arg("a counter")
        .query(&mut redis)
        .unwrap();
    let before = [batches("allocate"), batches("apply")];

    let mut tasks = Vec::new();
    for k in 0..CLIENTS {
        let mut c = Client::connect(s.addr).await.unwrap();
        let (from, to) = pair(k);
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for r in 0..ROUNDS {
                ids.push(send_id(&mut c, from, to, &format!("m{k}-{r}")).await);
            }
            (k, ids)
        }));
    }
    let mut answers: HashMap<u32, Vec<u32>> = HashMap::new();
    for t in tasks {
        let (k, ids) = t.await.unwrap();
        answers.insert(k, ids);
    }

    for (k, ids) in &answers {
        let (from, to) = pair(*k);
        let stored = sends::stored_ids(&s, from, to).await;
        let unread = s.store.unread_counts(to).await.unwrap();
        if *k == BROKEN {
            assert!(ids.iter().all(|id| *id == 0), "not stored: {ids:?}");
            assert_eq!(stored, vec![1], "only the message sent before");
            assert_eq!(unread, vec![(from, 1)]);
        } else {
            let expected: Vec<u32> = (2..2 + ROUNDS).collect();
            assert_eq!(ids, &expected, "client {k}: ids in order, none skipped");
            assert_eq!(stored, [vec![1], expected].concat(), "client {k}");
            assert_eq!(unread, vec![(from, 1 + ROUNDS)], "client {k}: exact");
        }
    }
    // Nothing is left pending: every stored send was applied.
    let pending: u64 = redis::cmd("ZCARD")
        .arg("tt_dbproxy:pending")
        .query(&mut redis)
        .unwrap();
    assert_eq!(pending, 0);

    let sends = f64::from(CLIENTS * ROUNDS);
    for (script, (n0, items0)) in ["allocate", "apply"].into_iter().zip(before) {
        let (n1, items1) = batches(script);
        let (n, items) = (n1 - n0, items1 - items0);
        eprintln!("{script}: {items} sends in {n} scripts");
        assert!(
            items >= sends - f64::from(ROUNDS),
            "{script}: every send ran"
        );
        assert!(n < items, "{script}: some scripts carried several sends");
    }
}

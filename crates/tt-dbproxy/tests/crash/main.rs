//! `kill -9` of the tt-dbproxy process under load, in three setups:
//! MySQL + Redis with one instance, two instances with one of them killed
//! while the other serves, and the embedded store. Senders resend what was
//! not acknowledged (same client `msg_id` and data, as msg_server's clients
//! do) and readers acknowledge what they read, some of them right after a
//! kill, before the lost send is resent. Afterwards: no message stored
//! twice, every acknowledged message stored once under its id, no id
//! repeated, and the unread counters and group totals equal the rows
//! committed after each reader's last read ack.
//!
//! A deterministic variant stops the process right after a `COMMIT` (the
//! debug build's crash point, `TT_DBPROXY_CRASH_AFTER_COMMIT`).
//!
//! The MySQL + Redis setups run on the test's own `mariadbd` and
//! `redis-server` processes.

#[path = "../common/mod.rs"]
mod common;
mod support;
mod world;

use std::time::Duration;

use common::backends::skipped;
use support::{Setup, World};
use tt_dbproxy::client::Client;

/// Kills of the server per setup (the issue asks for at least 20).
const KILLS: u32 = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_redis_one_instance_survives_kills() {
    if skipped() {
        return;
    }
    support::chaos(Setup::MysqlOne, KILLS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysql_redis_two_instances_survive_kills_of_one() {
    if skipped() {
        return;
    }
    support::chaos(Setup::MysqlTwo, KILLS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_embedded_store_survives_kills() {
    support::chaos(Setup::Embedded, KILLS).await;
}

/// The process dies right after MariaDB accepted the send's `COMMIT`,
/// before anything reached Redis. The restarted server then gets a read
/// ack of that conversation first and the resend afterwards: the resend
/// gets the stored id and stores nothing, and the message, committed
/// before the read ack, is never counted unread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_right_after_the_commit_loses_nothing_and_counts_once() {
    if skipped() {
        return;
    }
    if !cfg!(debug_assertions) {
        eprintln!("skipped: the crash point exists only in debug builds");
        return;
    }
    for group in [false, true] {
        let world = World::start(Setup::MysqlOne).await;
        let conv = world.convs[if group { world.convs.len() - 1 } else { 0 }];
        // One message stored normally, then one whose process dies.
        let first = conv.message(1);
        let crash_text = conv.text(2);
        let server = world.spawn_with(0, &[("TT_DBPROXY_CRASH_AFTER_COMMIT", &crash_text)]);
        let mut c = Client::connect(server.addr).await.unwrap();
        let id1 = support::send_once(&mut c, &first).await.unwrap();
        assert_ne!(id1, 0);
        let lost = support::send_once(&mut c, &conv.message(2)).await;
        assert!(lost.is_none(), "the process died before answering");
        let (status, _) = server.wait(Duration::from_secs(10));
        assert!(!status.success(), "the crash point stopped the process");
        assert_eq!(world.rows_of(&conv).await, 2, "the commit landed");
        assert_eq!(world.unread(&conv).await, 1, "only the first was counted");

        // Restarted: the reader acknowledges both, then the sender resends.
        let server = world.spawn(0);
        let mut c = Client::connect(server.addr).await.unwrap();
        support::read_ack(&mut c, &conv).await;
        support::eventually_unread(&world, &conv, 0).await;
        let mut resent = None;
        for _ in 0..100 {
            match support::send_once(&mut c, &conv.message(2)).await {
                Some(0) | None => tokio::time::sleep(Duration::from_millis(200)).await,
                Some(id) => {
                    resent = Some(id);
                    break;
                }
            }
        }
        let resent = resent.expect("the resend is answered within 20 s");
        assert_eq!(resent, id1 + 1, "the resend gets the committed id");
        assert_eq!(world.rows_of(&conv).await, 2, "and stores nothing");
        world.wait_settled().await;
        assert_eq!(
            world.unread(&conv).await,
            0,
            "committed before the read ack: never counted afterwards"
        );
        if group {
            assert_eq!(world.group_total(&conv).await, 2, "the group total");
        }
        // The next send counts as usual.
        let id3 = support::send_once(&mut c, &conv.message(3)).await.unwrap();
        assert_eq!(id3, id1 + 2);
        assert_eq!(world.unread(&conv).await, 1);
        drop(server);
    }
}

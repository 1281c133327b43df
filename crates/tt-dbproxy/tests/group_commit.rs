//! Group commit on every backend (`storage.batch_max`): concurrent sends
//! share commits, yet each keeps its own outcome. A message the database
//! refuses (a trigger rejects its content) fails alone: every other send
//! of its batch is acknowledged and stored once, with exact unread
//! counts. Sends one at a time each commit at once, alone.

mod common;

use std::collections::HashMap;
use tt_dbproxy::store::prelude::*;

use common::fixtures::exec_sql;
use common::*;
use tt_dbproxy::client::Client;
use tt_dbproxy::store::MESSAGE_SHARDS;
use tt_proto::im::message::ImMsgData;

const CLIENTS: u32 = 16;
const ROUNDS: u32 = 12;
const POISON: &str = "poison";

fn msg(from: u32, to: u32, data: &str) -> ImMsgData {
    ImMsgData {
        from_user_id: Some(from),
        to_session_id: Some(to),
        msg_id: Some(0),
        create_time: Some(1000),
        msg_type: Some(1),
        msg_data: Some(data.as_bytes().to_vec()),
        attach_data: ab(),
    }
}

async fn send_id(c: &mut Client, m: &ImMsgData) -> u32 {
    let rsp: ImMsgData = call(c, 0x0301, m, 3, 0x0301).await;
    rsp.msg_id.unwrap_or(u32::MAX)
}

/// A trigger on every one-to-one shard table that refuses `POISON`.
async fn refuse_poison(s: &TestServer, b: Backend) {
    for shard in 0..MESSAGE_SHARDS {
        let sql = match b {
            Backend::Embedded => format!(
                "CREATE TRIGGER poison_{shard} BEFORE INSERT ON IMMessage_{shard} \
                 WHEN NEW.content = '{POISON}' BEGIN SELECT RAISE(ABORT, 'poison'); END;"
            ),
            Backend::MysqlRedis => format!(
                "CREATE TRIGGER poison_{shard} BEFORE INSERT ON IMMessage_{shard} FOR EACH ROW \
                 BEGIN IF NEW.content = '{POISON}' THEN \
                 SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'poison'; END IF; END"
            ),
        };
        exec_sql(s, b, &sql).await;
    }
}

fn label(b: Backend) -> &'static str {
    match b {
        Backend::Embedded => "sqlite",
        Backend::MysqlRedis => "mysql",
    }
}

/// (commits, sends committed) so far, from the group-commit histogram.
fn commits(b: Backend) -> (f64, f64) {
    histogram_count_sum(
        "tt_dbproxy_group_commit_size",
        &format!("{{backend=\"{}\"}}", label(b)),
    )
}

/// Runs `each` for every one of [`CLIENTS`] clients at once, each on a
/// connection of its own and sending from user `100 + k` to `200 + k`;
/// their results in the clients' order.
async fn every_client<T, Fut>(
    addr: std::net::SocketAddr,
    each: impl Fn(u32, u32, u32, Client) -> Fut,
) -> Vec<T>
where
    T: Send + 'static,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let mut tasks = Vec::new();
    for k in 0..CLIENTS {
        let c = Client::connect(addr).await.unwrap();
        tasks.push(tokio::spawn(each(k, 100 + k, 200 + k, c)));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// A deadline far above what a batch's cuts take even on a loaded
/// machine (below the test client's 10 s): these tests are about each
/// send's outcome in a batch, not about the deadline (a send past it is
/// answered "not stored", as `tests/faults.rs` shows).
const UNHURRIED_MS: u64 = 8_000;

/// The server's warnings and its debug lines, shown with a failure.
fn server_log() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn,tt_dbproxy=debug")
        .with_test_writer()
        .try_init();
}

async fn a_refused_message_fails_alone_in_its_batch(b: Backend) {
    tt_dbproxy::metrics::install();
    server_log();
    let s = TestServer::seeded_with(b, |c| c.storage.request_timeout_ms = UNHURRIED_MS).await;
    refuse_poison(&s, b).await;
    let before = commits(b);
    let results = every_client(s.addr, |k, from, to, mut c| async move {
        let mut out = Vec::new();
        for r in 0..ROUNDS {
            let poison = (k + r) % 5 == 0;
            let data = if poison {
                POISON.to_string()
            } else {
                format!("m{k}-{r}")
            };
            out.push((poison, send_id(&mut c, &msg(from, to, &data)).await));
        }
        (from, to, out)
    })
    .await;
    let mut acked: HashMap<(u32, u32), Vec<u32>> = HashMap::new();
    for (from, to, out) in results {
        for (poison, id) in out {
            if poison {
                assert_eq!(id, 0, "the refused message is answered not stored");
            } else {
                assert_ne!(id, 0, "{from}->{to}: a good message is stored");
                acked.entry((from, to)).or_default().push(id);
            }
        }
    }
    for ((from, to), ids) in &acked {
        let stored = sends::stored_ids(&s, *from, *to).await;
        assert_eq!(
            &stored, ids,
            "{from}->{to}: exactly the acknowledged, in order"
        );
        assert!(stored.windows(2).all(|w| w[0] < w[1]), "{stored:?}");
        let unread = s.store.unread_counts(*to).await.unwrap();
        assert_eq!(unread, vec![(*from, ids.len() as u32)], "counted once each");
    }
    let after = commits(b);
    let (n, rows) = (after.0 - before.0, after.1 - before.1);
    eprintln!("{b:?}: {rows} sends in {n} commits");
    assert!(
        n >= 1.0 && rows > n,
        "some commits carried several sends: {rows} in {n}"
    );
}

/// A refused message with a client `msg_id` shares batches with good
/// ones; its resends (same client id and data) are refused again: the
/// resend memory holds no id for a message that was never stored.
async fn a_refused_messages_resend_gets_no_id(b: Backend) {
    server_log();
    let s = TestServer::seeded_with(b, |c| c.storage.request_timeout_ms = UNHURRIED_MS).await;
    refuse_poison(&s, b).await;
    let results = every_client(s.addr, |k, from, to, mut c| async move {
        let mut sent = Vec::new();
        // Clients refused in different rounds: a refused send lands
        // among other clients' good ones in a batch.
        for r in 0..ROUNDS {
            let data = if (k + r) % 3 == 0 { POISON } else { "good" };
            let m = resendable(from, to, r + 1, data);
            sent.push((data, send_id(&mut c, &m).await, m));
        }
        let mut resent = Vec::new();
        for (data, _, m) in &sent {
            if *data == POISON {
                resent.push(send_id(&mut c, m).await);
            }
        }
        let answers: Vec<(&str, u32)> = sent.iter().map(|(d, id, _)| (*d, *id)).collect();
        (from, to, answers, resent)
    })
    .await;
    for (from, to, answers, resent) in results {
        for (data, id) in &answers {
            assert_eq!(*id == 0, *data == POISON, "{from}->{to}: {answers:?}");
        }
        assert!(!resent.is_empty());
        assert!(
            resent.iter().all(|id| *id == 0),
            "{from}->{to}: resends answered {resent:?}"
        );
        let stored = s.store.single_history(from, to, 0, 100).await.unwrap();
        let good = answers.iter().filter(|(d, _)| *d != POISON).count();
        assert_eq!(stored.len(), good, "{from}->{to}");
        assert!(stored.iter().all(|m| m.content != POISON));
    }
}

/// A text with a non-zero client `msg_id`, so it is remembered for resends.
fn resendable(from: u32, to: u32, client_id: u32, data: &str) -> ImMsgData {
    ImMsgData {
        msg_id: Some(client_id),
        ..msg(from, to, data)
    }
}

/// One send at a time: each commits alone, at once (no batch timer).
async fn sends_one_at_a_time_commit_alone_at_once(b: Backend) {
    tt_dbproxy::metrics::install();
    let s = TestServer::start_on(b, |c| c.storage.batch_max = 64).await;
    let mut c = s.client().await;
    let mut took = Vec::new();
    for i in 0..20 {
        let t = std::time::Instant::now();
        assert_eq!(send_id(&mut c, &msg(300 + i, 400 + i, "alone")).await, 1);
        took.push(t.elapsed());
    }
    took.sort();
    // Far above a send's own time, far below any timer worth having.
    assert!(took[10] < std::time::Duration::from_millis(100), "{took:?}");
}

on_every_backend!(
    a_refused_message_fails_alone_in_its_batch,
    a_refused_messages_resend_gets_no_id,
    sends_one_at_a_time_commit_alone_at_once,
);

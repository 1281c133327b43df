//! Redis Sentinel failover under load, against processes of the test's
//! own: a Redis master, a replica (`replica-read-only no`) and three
//! Sentinels on free loopback ports, and two tt-dbproxy instances (in this
//! process) configured with `redis.sentinels`. MySQL is a fresh database
//! on the shared MariaDB (only Redis fails over); the machine's shared
//! Redis is never used.
//!
//! The replication loss is made deterministic: while sends run, every
//! `msg_id_*` / `group_msg_id_*` counter on the replica is lowered by 5
//! (as if the last increments never replicated), then the master is
//! killed with -9. After the Sentinels promote the replica, sends go on
//! through both instances; the test asserts no duplicate id per
//! conversation, every acknowledged send stored exactly once (read back
//! from MySQL), sends continuing after the failover, and the new master's
//! counters above every stored id. The longest time without a successful
//! send is printed (the figure in docs/ha.md) and bounded loosely.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tt_dbproxy::store::prelude::*;

use common::backends::{TestDatabase, skipped};
use common::faults::{OwnRedis, free_port, have};
use common::*;
use mysql_async::prelude::Queryable;
use tt_dbproxy::client::Client;
use tt_dbproxy::store::MysqlRedisStore;
use tt_proto::im::message::ImMsgData;

const MASTER_NAME: &str = "ttmaster";
const GROUP: u32 = 5;
const SENDERS_PER_INSTANCE: u32 = 2;
/// Acknowledged sends wanted after the failover.
const AFTER_FAILOVER: usize = 40;

/// A Redis server of the test's own in `dir` (replication writes its RDB
/// there), writable also as a replica, optionally replicating `master`.
fn server(dir: &Path, name: &str, replica_of: Option<u16>) -> OwnRedis {
    let data = dir.join(format!("redis-{name}"));
    std::fs::create_dir_all(&data).unwrap();
    let data = data.display().to_string();
    let master = replica_of.map(|m| m.to_string());
    let mut extra = vec!["--dir", &data, "--replica-read-only", "no"];
    if let Some(m) = &master {
        extra.extend(["--replicaof", "127.0.0.1", m]);
    }
    OwnRedis::start_with(&extra)
}

/// A Sentinel of the test's own monitoring `master`, its config in `dir`.
fn sentinel(dir: &Path, master: u16) -> OwnRedis {
    let port = free_port();
    let conf = dir.join(format!("sentinel-{port}.conf"));
    std::fs::write(
        &conf,
        format!(
            "port {port}\nbind 127.0.0.1\ndaemonize no\ndir {}\n\
             sentinel monitor {MASTER_NAME} 127.0.0.1 {master} 2\n\
             sentinel down-after-milliseconds {MASTER_NAME} 1000\n\
             sentinel failover-timeout {MASTER_NAME} 4000\n\
             sentinel parallel-syncs {MASTER_NAME} 1\n",
            dir.display()
        ),
    )
    .unwrap();
    OwnRedis::run(
        port,
        vec![conf.display().to_string(), "--sentinel".to_string()],
    )
}

/// Waits (bounded) until `check` holds.
fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "not within {timeout:?}: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn info_field(conn: &mut redis::Connection, section: &str, field: &str) -> String {
    let info: String = redis::cmd("INFO")
        .arg(section)
        .query(conn)
        .unwrap_or_default();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or("")
        .trim()
        .to_string()
}

/// The Sentinels' view of the master: `num-slaves`, `num-other-sentinels`.
fn sentinel_view(s: &OwnRedis) -> HashMap<String, String> {
    let Ok(mut c) = std::panic::catch_unwind(|| s.conn()) else {
        return HashMap::new();
    };
    let flat: Vec<String> = redis::cmd("SENTINEL")
        .arg("master")
        .arg(MASTER_NAME)
        .query(&mut c)
        .unwrap_or_default();
    flat.chunks(2)
        .filter(|p| p.len() == 2)
        .map(|p| (p[0].clone(), p[1].clone()))
        .collect()
}

/// One acknowledged send: conversation kind, id, when the ack arrived.
#[derive(Debug, Clone, Copy)]
struct Ack {
    group: bool,
    id: u32,
    at: Instant,
}

async fn start_instance(
    db: &TestDatabase,
    sentinels: &str,
    migrate: bool,
) -> (TestServer, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let mysql = db.url();
    let env = |k: &str| match k {
        "TT_DBPROXY_MYSQL_PRIMARY" => Some(mysql.clone()),
        "TT_DBPROXY_REDIS_SENTINELS" => Some(sentinels.to_string()),
        "TT_DBPROXY_REDIS_SENTINEL_MASTER" => Some(MASTER_NAME.to_string()),
        "TT_DBPROXY_LISTEN" => Some("127.0.0.1:0".to_string()),
        "TT_DBPROXY_REQUEST_TIMEOUT_MS" => Some("1000".to_string()),
        "TT_DBPROXY_ACQUIRE_TIMEOUT_MS" => Some("400".to_string()),
        _ => None,
    };
    let mut config = tt_dbproxy::config::from_toml_str("", &env).unwrap();
    config.storage.data_dir = tmp.path().to_path_buf();
    assert!(
        config.redis.as_ref().unwrap().sentinel.is_some(),
        "Sentinel mode configured"
    );
    let store = MysqlRedisStore::new(&config).unwrap();
    if migrate {
        store.migrate().await.unwrap();
    }
    let s = TestServer::serve(config, Arc::new(store), tmp.path()).await;
    (s, tmp)
}

async fn stored_ids(db: &TestDatabase, group: bool) -> Vec<u32> {
    let pool = mysql_async::Pool::new(db.url().as_str());
    let mut c = pool.get_conn().await.unwrap();
    let mut ids = Vec::new();
    for shard in 0..8 {
        let sql = if group {
            format!("SELECT msgId FROM IMGroupMessage_{shard} WHERE groupId = {GROUP}")
        } else {
            format!("SELECT msgId FROM IMMessage_{shard}")
        };
        let part: Vec<u32> = c.query(sql).await.unwrap();
        ids.extend(part);
    }
    drop(c);
    pool.disconnect().await.unwrap();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_keeps_ids_unique_and_sends_going() {
    if skipped() {
        return;
    }
    // Past `skipped()`, a missing binary fails (TT_TEST_SKIP_BACKENDS=1
    // skips outside CI).
    assert!(have("redis-server"), "redis-server is required");
    let test_started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let mut master = server(dir.path(), "master", None);
    let replica = server(dir.path(), "replica", Some(master.port));
    wait_until("the replica is in sync", Duration::from_secs(20), || {
        info_field(&mut replica.conn(), "replication", "master_link_status") == "up"
    });
    let sentinels: Vec<OwnRedis> = (0..3).map(|_| sentinel(dir.path(), master.port)).collect();
    wait_until(
        "the Sentinels see the replica and each other",
        Duration::from_secs(30),
        || {
            sentinels.iter().all(|s| {
                let v = sentinel_view(s);
                v.get("num-slaves").map(String::as_str) == Some("1")
                    && v.get("num-other-sentinels").map(String::as_str) == Some("2")
            })
        },
    );
    let list = sentinels
        .iter()
        .map(|s| format!("127.0.0.1:{}", s.port))
        .collect::<Vec<_>>()
        .join(",");

    // When the Sentinels announce the new master, to tell their part of
    // the gap from tt-dbproxy's.
    let switched_at = Arc::new(std::sync::Mutex::new(None::<Instant>));
    {
        let switched_at = switched_at.clone();
        let mut conn = sentinels[0].conn();
        std::thread::spawn(move || {
            let mut ps = conn.as_pubsub();
            if ps.subscribe("+switch-master").is_err() {
                return;
            }
            let _ = ps.set_read_timeout(Some(Duration::from_secs(60)));
            if ps.get_message().is_ok() {
                *switched_at.lock().unwrap() = Some(Instant::now());
            }
        });
    }

    let db = TestDatabase::create().await;
    let (a, _a_dir) = start_instance(&db, &list, true).await;
    seed_spec_users(a.store.as_ref()).await;
    a.store.add_group_member(GROUP, 1, 1).await.unwrap();
    a.store.add_group_member(GROUP, 2, 1).await.unwrap();
    let (b, _b_dir) = start_instance(&db, &list, false).await;

    // Senders on both instances, alternating between the pair and the
    // group, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for (i, addr) in [a.addr, b.addr].into_iter().enumerate() {
        for k in 0..SENDERS_PER_INSTANCE {
            let stop = stop.clone();
            tasks.push(tokio::spawn(async move {
                let mut cl = Client::connect(addr).await.unwrap();
                let (from, to) = if k == 0 { (1, 2) } else { (2, 1) };
                let mut acked = Vec::new();
                let mut refused = 0u32;
                let mut n = 0u32;
                while !stop.load(Ordering::Relaxed) && n < 5_000 {
                    let group = n % 2 == 1;
                    let m = chat(
                        from,
                        if group { GROUP } else { to },
                        group,
                        &format!("{i}-{k}-{n}"),
                    );
                    n += 1;
                    let rsp = tokio::time::timeout(
                        Duration::from_secs(5),
                        call::<ImMsgData>(&mut cl, 0x0301, &m, 3, 0x0301),
                    )
                    .await
                    .expect("every send is answered within 5 s");
                    match rsp.msg_id {
                        Some(id) if id != 0 => acked.push(Ack {
                            group,
                            id,
                            at: Instant::now(),
                        }),
                        _ => {
                            refused += 1;
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                }
                (acked, refused)
            }));
        }
    }

    // Sends run on the first master for a while.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The replica "misses" the last 5 increments of every counter.
    let mut rc = replica.conn();
    let counters: Vec<String> = ["msg_id_*", "group_msg_id_*"]
        .iter()
        .flat_map(|p| {
            redis::cmd("KEYS")
                .arg(*p)
                .query::<Vec<String>>(&mut rc)
                .unwrap()
        })
        .collect();
    assert!(counters.len() >= 2, "counters replicated: {counters:?}");
    let mut lowered = HashMap::new();
    for key in &counters {
        let v: i64 = redis::cmd("DECRBY").arg(key).arg(5).query(&mut rc).unwrap();
        lowered.insert(key.clone(), v);
    }
    master.kill9();
    let killed_at = Instant::now();
    eprintln!(
        "master killed at {:?} into the test",
        test_started.elapsed()
    );

    // Sends go on once the Sentinels have promoted the replica.
    let total_before = {
        // Acks are only visible at the end; poll the stored rows instead.
        stored_ids(&db, false).await.len() + stored_ids(&db, true).await.len()
    };
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let now = stored_ids(&db, false).await.len() + stored_ids(&db, true).await.len();
        if now >= total_before + AFTER_FAILOVER {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "sends did not resume within 45 s of the master's kill ({} new rows)",
            now - total_before
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    let mut refused = 0;
    for t in tasks {
        let (a, r) = t.await.unwrap();
        acked.extend(a);
        refused += r;
    }

    // The replica is the master now, as the Sentinels say.
    let role: Vec<redis::Value> = redis::cmd("ROLE").query(&mut replica.conn()).unwrap();
    assert!(
        matches!(role.first(), Some(redis::Value::BulkString(b)) if b == b"master"),
        "the replica was promoted: {role:?}"
    );

    // The loss was real: a lowered counter was below the ids acknowledged
    // before the kill.
    let before_kill: Vec<&Ack> = acked.iter().filter(|x| x.at < killed_at).collect();
    let after_kill: Vec<&Ack> = acked.iter().filter(|x| x.at > killed_at).collect();
    let max_group_before = before_kill
        .iter()
        .filter(|x| x.group)
        .map(|x| x.id)
        .max()
        .unwrap_or(0);
    let lowered_group = lowered
        .get(&format!("group_msg_id_{GROUP}"))
        .copied()
        .unwrap_or(0);
    assert!(
        lowered_group < i64::from(max_group_before),
        "the promoted replica lost increments ({lowered_group} < {max_group_before})"
    );

    // No duplicate id in any conversation; every ack stored exactly once;
    // nothing stored that was not acknowledged.
    let single = stored_ids(&db, false).await;
    let group = stored_ids(&db, true).await;
    let single_set: HashSet<u32> = single.iter().copied().collect();
    let group_set: HashSet<u32> = group.iter().copied().collect();
    assert_eq!(single_set.len(), single.len(), "0 duplicate one-to-one ids");
    assert_eq!(group_set.len(), group.len(), "0 duplicate group ids");
    for x in &acked {
        let stored = if x.group {
            group_set.contains(&x.id)
        } else {
            single_set.contains(&x.id)
        };
        assert!(stored, "acknowledged {x:?} is stored");
    }
    let acked_group = acked.iter().filter(|x| x.group).count();
    assert_eq!(group.len(), acked_group, "group rows = group acks");
    assert_eq!(
        single.len(),
        acked.len() - acked_group,
        "one-to-one rows = one-to-one acks"
    );
    assert!(
        after_kill.len() >= AFTER_FAILOVER,
        "sends continue after the failover: {} acks",
        after_kill.len()
    );

    // The new master's counters are above every stored id.
    let mut nc = replica.conn();
    let group_counter: i64 = redis::cmd("GET")
        .arg(format!("group_msg_id_{GROUP}"))
        .query(&mut nc)
        .unwrap();
    assert!(group_counter >= i64::from(group.iter().copied().max().unwrap_or(0)));

    // The figure: the longest time without a successful send (over all
    // senders) from the last ack before the kill on, and when sends
    // resumed after it, counted from the kill.
    let mut times: Vec<Instant> = acked.iter().map(|x| x.at).collect();
    times.sort();
    let from = times
        .iter()
        .rposition(|t| *t < killed_at)
        .expect("acks before the kill");
    let (gap, resumed) = times[from..]
        .windows(2)
        .map(|w| (w[1] - w[0], w[1]))
        .max_by_key(|(g, _)| *g)
        .expect("acks after the kill");
    let switched = switched_at
        .lock()
        .unwrap()
        .map(|t| {
            format!(
                "{:.2} s",
                t.saturating_duration_since(killed_at).as_secs_f64()
            )
        })
        .unwrap_or_else(|| "not seen".into());
    eprintln!(
        "sentinel failover: {} acks ({} before the kill, {} after), {refused} refused; \
         longest time without a successful send {:.2} s, sends resumed {:.2} s after the kill -9 \
         (+switch-master at {switched}); test {:?}",
        acked.len(),
        before_kill.len(),
        after_kill.len(),
        gap.as_secs_f64(),
        resumed.saturating_duration_since(killed_at).as_secs_f64(),
        test_started.elapsed()
    );
    assert!(gap < Duration::from_secs(30), "failover gap {gap:?}");
    a.stop().await;
    b.stop().await;
    drop(sentinels);
}

//! The fault tests' harness: a deployment of the real binary on its own
//! backend processes, senders and readers, and the checks after a fault.

pub(crate) use std::collections::{HashMap, HashSet};
pub(crate) use std::sync::Arc;
pub(crate) use std::sync::atomic::{AtomicBool, Ordering};
pub(crate) use std::time::{Duration, Instant};

pub(crate) use crate::common::backends::skipped;
pub(crate) use crate::common::faults::{OwnMariaDb, OwnRedis, have};
pub(crate) use crate::common::process::{ServerProcess, run};
pub(crate) use mysql_async::prelude::Queryable;
pub(crate) use tt_dbproxy::client::Client;
pub(crate) use tt_proto::im::message::{ImMsgData, ImUnreadMsgCntReq};

/// Scenarios share the machine's two cores: one at a time.
pub(crate) static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub(crate) const REQUEST_TIMEOUT_MS: u64 = 1_000;
pub(crate) const GROUP: u32 = 1;
pub(crate) const CONNECTIONS: usize = 6;

/// Whether the harness can run here (binaries present), failing in CI.
pub(crate) fn harness_available() -> bool {
    if skipped() {
        return false;
    }
    // Past `skipped()`, a missing binary fails (TT_TEST_SKIP_BACKENDS=1
    // skips outside CI).
    assert!(
        have("mariadbd") && have("mariadb-install-db") && have("redis-server"),
        "mariadbd, mariadb-install-db and redis-server are required"
    );
    true
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    Acked(u32),
    Refused,
    NoReply,
}

#[derive(Debug, Clone)]
pub(crate) struct Sent {
    pub(crate) conn: usize,
    pub(crate) group: bool,
    pub(crate) to: u32,
    pub(crate) tag: String,
    pub(crate) outcome: Outcome,
    pub(crate) latency: Duration,
    pub(crate) at: Instant,
}

/// The deployment under test: own MariaDB and Redis, the real binary.
pub(crate) struct Deployment {
    pub(crate) db: OwnMariaDb,
    pub(crate) redis: OwnRedis,
    pub(crate) _dir: tempfile::TempDir,
    pub(crate) server: ServerProcess,
}

impl Deployment {
    pub(crate) fn env(db: &OwnMariaDb, redis: &OwnRedis) -> Vec<(String, String)> {
        vec![
            ("TT_DBPROXY_MYSQL_PRIMARY".into(), db.url("tt")),
            ("TT_DBPROXY_REDIS_URL".into(), redis.url(0)),
            (
                "TT_DBPROXY_REQUEST_TIMEOUT_MS".into(),
                REQUEST_TIMEOUT_MS.to_string(),
            ),
            ("TT_DBPROXY_ACQUIRE_TIMEOUT_MS".into(), "500".into()),
        ]
    }

    pub(crate) async fn start() -> Self {
        let db = OwnMariaDb::start();
        let redis = OwnRedis::start();
        let mut c = mysql_async::Conn::from_url(db.url("")).await.unwrap();
        c.query_drop("CREATE DATABASE tt DEFAULT CHARACTER SET utf8mb4")
            .await
            .unwrap();
        let _ = c.disconnect().await;
        let dir = tempfile::tempdir().unwrap();
        let env = Self::env(&db, &redis);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let out = run(dir.path(), &["migrate"], &env);
        assert!(out.status.success(), "{out:?}");
        let out = run(
            dir.path(),
            &[
                "admin",
                "group",
                "add",
                "team",
                "--creator",
                "1",
                "--members",
                "1,2,3,4,5,6",
            ],
            &env,
        );
        assert!(out.status.success(), "{out:?}");
        let server = ServerProcess::spawn(dir.path(), &[], &env);
        Self {
            db,
            redis,
            _dir: dir,
            server,
        }
    }

    pub(crate) async fn sql(&self) -> mysql_async::Conn {
        mysql_async::Conn::from_url(self.db.url("tt"))
            .await
            .unwrap()
    }
}

/// One connection's sends: alternating one-to-one messages to its peer
/// and group messages, until `stop`.
pub(crate) async fn sender(
    addr: std::net::SocketAddr,
    conn: usize,
    stop: Arc<AtomicBool>,
    run: &'static str,
) -> Vec<Sent> {
    let from = conn as u32 + 1;
    let peer = if from % 2 == 1 { from + 1 } else { from - 1 };
    let mut out = Vec::new();
    let mut client: Option<Client> = None;
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let group = n.is_multiple_of(3);
        let tag = format!("{run}c{conn}-n{n}");
        let (to, msg_type) = if group { (GROUP, 0x11) } else { (peer, 1) };
        let req = ImMsgData {
            from_user_id: Some(from),
            to_session_id: Some(to),
            msg_id: Some(0),
            create_time: Some(1_000),
            msg_type: Some(msg_type),
            msg_data: Some(tag.clone().into_bytes()),
            attach_data: None,
        };
        if client.is_none() {
            client = Client::connect(addr).await.ok();
        }
        let started = Instant::now();
        let outcome = match client.as_mut() {
            None => Outcome::NoReply,
            Some(c) => {
                let reply = tokio::time::timeout(
                    Duration::from_secs(10),
                    c.request(3, 0x0301, prost::Message::encode_to_vec(&req), 0x0301),
                )
                .await;
                match reply {
                    Ok(Ok(pdu)) => {
                        let rsp: ImMsgData = prost::Message::decode(pdu.body.as_ref()).unwrap();
                        match rsp.msg_id {
                            Some(0) | None => Outcome::Refused,
                            Some(id) => Outcome::Acked(id),
                        }
                    }
                    _ => {
                        client = None;
                        Outcome::NoReply
                    }
                }
            }
        };
        if outcome == Outcome::NoReply {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        out.push(Sent {
            conn,
            group,
            to,
            tag,
            outcome,
            latency: started.elapsed(),
            at: Instant::now(),
        });
    }
    out
}

/// A reader asking for unread summaries meanwhile; returns the longest wait.
pub(crate) async fn reader(addr: std::net::SocketAddr, stop: Arc<AtomicBool>) -> Duration {
    let mut worst = Duration::ZERO;
    let mut client: Option<Client> = None;
    let mut user = 0u32;
    while !stop.load(Ordering::Relaxed) {
        user = user % CONNECTIONS as u32 + 1;
        if client.is_none() {
            client = Client::connect(addr).await.ok();
        }
        let Some(c) = client.as_mut() else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let req = ImUnreadMsgCntReq {
            user_id: Some(user),
            attach_data: None,
        };
        let started = Instant::now();
        let reply = tokio::time::timeout(
            Duration::from_secs(10),
            c.request(3, 0x0307, prost::Message::encode_to_vec(&req), 0x0308),
        )
        .await;
        worst = worst.max(started.elapsed());
        if !matches!(reply, Ok(Ok(_))) {
            client = None;
        }
    }
    worst
}

/// Runs the load around `fault`, returning every send and the reader's
/// longest wait.
pub(crate) async fn under_load<F: std::future::Future<Output = ()>>(
    d: &Deployment,
    fault: F,
) -> (Vec<Sent>, Duration) {
    load_around(
        "",
        d.server.addr,
        Duration::from_millis(800),
        fault,
        Duration::from_millis(1_500),
    )
    .await
}

/// Waits until a send is acknowledged again; returns how long it took.
pub(crate) async fn serves_again(d: &Deployment) -> Duration {
    serves_again_at(d.server.addr).await
}

/// Waits until a send to `addr` is acknowledged again.
pub(crate) async fn serves_again_at(addr: std::net::SocketAddr) -> Duration {
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    loop {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "not serving again"
        );
        let mut c = match Client::connect(addr).await {
            Ok(c) => c,
            Err(_) => continue,
        };
        let req = ImMsgData {
            from_user_id: Some(1),
            to_session_id: Some(2),
            msg_id: Some(0),
            create_time: Some(1),
            msg_type: Some(1),
            msg_data: Some(b"probe".to_vec()),
            attach_data: None,
        };
        if let Ok(Ok(pdu)) = tokio::time::timeout(
            Duration::from_secs(3),
            c.request(3, 0x0301, prost::Message::encode_to_vec(&req), 0x0301),
        )
        .await
        {
            let rsp: ImMsgData = prost::Message::decode(pdu.body.as_ref()).unwrap();
            if rsp.msg_id.unwrap_or(0) != 0 {
                drop(stop);
                return started.elapsed();
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A stored message row: (conversation key, msgId, content, readable).
pub(crate) type Row = ((bool, u32), u32, String, bool);

pub(crate) async fn stored_rows(d: &Deployment) -> Vec<Row> {
    let mut c = d.sql().await;
    let mut rows = Vec::new();
    for n in 0..8 {
        let single: Vec<(u32, u32, String, u32)> = c
            .query(format!(
                "SELECT relateId, msgId, content, status FROM IMMessage_{n}"
            ))
            .await
            .unwrap();
        rows.extend(
            single
                .into_iter()
                .map(|(r, id, text, st)| ((false, r), id, text, st == 0)),
        );
        let group: Vec<(u32, u32, String, u32)> = c
            .query(format!(
                "SELECT groupId, msgId, content, status FROM IMGroupMessage_{n}"
            ))
            .await
            .unwrap();
        rows.extend(
            group
                .into_iter()
                .map(|(g, id, text, st)| ((true, g), id, text, st == 0)),
        );
    }
    let _ = c.disconnect().await;
    rows
}

/// Asserts the invariants; `redis_lost` relaxes the counters to "never
/// more than the rows".
pub(crate) async fn check_invariants(d: &Deployment, sent: &[Sent], redis_lost: bool) {
    let rows = stored_rows(d).await;
    check_rows(sent, &rows);
    check_counters(d, &rows, redis_lost).await;
}

/// The invariants over stored rows: acknowledged ⇔ readable once with its
/// id, refused never readable, no duplicate id, ids in send order.
pub(crate) fn check_rows(sent: &[Sent], rows: &[Row]) {
    let mut by_tag: HashMap<&str, Vec<&Row>> = HashMap::new();
    for r in rows {
        by_tag.entry(r.2.as_str()).or_default().push(r);
    }
    let acked = sent
        .iter()
        .filter(|s| matches!(s.outcome, Outcome::Acked(_)))
        .count();
    let refused = sent
        .iter()
        .filter(|s| s.outcome == Outcome::Refused)
        .count();
    for s in sent {
        let readable: Vec<&&Row> = by_tag
            .get(s.tag.as_str())
            .map(|v| v.iter().filter(|r| r.3).collect())
            .unwrap_or_default();
        match s.outcome {
            Outcome::Acked(id) => {
                assert_eq!(
                    readable.len(),
                    1,
                    "acked {s:?} stored {} times",
                    readable.len()
                );
                assert_eq!(readable[0].1, id, "acked {s:?} stored with another id");
            }
            Outcome::Refused => {
                assert!(
                    readable.is_empty(),
                    "{s:?} was reported not stored but is readable"
                );
            }
            Outcome::NoReply => assert!(readable.len() <= 1, "{s:?} stored twice"),
        }
    }
    let mut seen = HashSet::new();
    for r in rows.iter().filter(|r| r.3) {
        assert!(
            seen.insert((r.0, r.1)),
            "duplicate id {} in conversation {:?}",
            r.1,
            r.0
        );
    }
    let mut last: HashMap<(usize, bool, u32), u32> = HashMap::new();
    for s in sent {
        if let Outcome::Acked(id) = s.outcome {
            let key = (s.conn, s.group, s.to);
            if let Some(prev) = last.insert(key, id) {
                assert!(
                    id > prev,
                    "ids out of send order on {key:?}: {prev} then {id}"
                );
            }
        }
    }
    eprintln!(
        "sends {}: acked {acked}, refused {refused}, no reply {}; rows {}",
        sent.len(),
        sent.len() - acked - refused,
        rows.len()
    );
}

pub(crate) async fn check_counters(d: &Deployment, rows: &[Row], redis_lost: bool) {
    let client = redis::Client::open(d.redis.url(0)).unwrap();
    let mut r = client.get_connection().unwrap();
    let mut c = d.sql().await;
    let relations: Vec<(u32, u32, u32)> = c
        .query("SELECT id, smallId, bigId FROM IMRelationShip")
        .await
        .unwrap();
    let mut from_to: HashMap<(u32, u32), u32> = HashMap::new();
    for n in 0..8 {
        let counts: Vec<(u32, u32, u32)> = c
            .query(format!(
                "SELECT fromId, toId, COUNT(*) FROM IMMessage_{n} WHERE status = 0 AND content <> 'probe' GROUP BY fromId, toId"
            ))
            .await
            .unwrap();
        for (f, t, k) in counts {
            *from_to.entry((f, t)).or_default() += k;
        }
    }
    let _ = c.disconnect().await;
    let _ = relations;
    for ((f, t), rows_n) in from_to {
        let counter: Option<u32> = redis::cmd("HGET")
            .arg(format!("unread_{t}"))
            .arg(f)
            .query(&mut r)
            .unwrap();
        let counter = counter.unwrap_or(0);
        // The probe sends of `serves_again` (1 -> 2) are counted too.
        let probes = if (f, t) == (1, 2) { 1 } else { 0 };
        let expected = rows_n;
        if redis_lost {
            assert!(
                counter <= expected + probes * 16,
                "unread {f}->{t}: {counter} > {expected}"
            );
        } else {
            assert!(
                counter >= expected && counter <= expected + probes * 16,
                "unread {f}->{t}: counter {counter}, rows {expected}"
            );
        }
    }
    let group_rows = rows.iter().filter(|r| r.0 == (true, GROUP) && r.3).count() as u32;
    let total: Option<u32> = redis::cmd("HGET")
        .arg(format!("{GROUP}_im_group_msg"))
        .arg("count")
        .query(&mut r)
        .unwrap();
    let total = total.unwrap_or(0);
    if redis_lost {
        assert!(
            total <= group_rows,
            "group total {total} > rows {group_rows}"
        );
    } else {
        assert_eq!(total, group_rows, "group total vs rows");
    }
}

/// Asserts the server never panicked; returns its WARN-or-above lines.
pub(crate) fn assert_no_panic(d: &Deployment) -> usize {
    let lines = d.server.lines_so_far();
    assert!(!lines.iter().any(|l| l.contains("panicked")), "{lines:?}");
    let loud = lines
        .iter()
        .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
        .count();
    let unknown = lines
        .iter()
        .filter(|l| l.contains("send outcome unknown"))
        .count();
    eprintln!(
        "server log: {} lines, {loud} at WARN or above, {unknown} sends with an unknown commit outcome",
        lines.len()
    );
    loud
}

pub(crate) fn report(name: &str, sent: &[Sent], reader_worst: Duration, resumed: Duration) {
    let worst = sent.iter().map(|s| s.latency).max().unwrap_or_default();
    eprintln!(
        "{name}: slowest send {worst:?}, slowest read {reader_worst:?}, serving again {resumed:?} after the backend's return"
    );
}

/// The time bounds of a stall: no request over twice the deadline, and
/// a send acknowledged within 2.5 s of the backend's return.
pub(crate) fn assert_stall_bounds(
    name: &str,
    sent: &[Sent],
    worst_read: Duration,
    resumed_at: Instant,
) {
    let first_ack = sent
        .iter()
        .filter(|s| s.at > resumed_at && matches!(s.outcome, Outcome::Acked(_)))
        .map(|s| s.at)
        .min()
        .expect("sends acknowledged after SIGCONT");
    let resumed = first_ack - resumed_at;
    report(name, sent, worst_read, resumed);
    let limit = Duration::from_millis(2 * REQUEST_TIMEOUT_MS);
    for s in sent {
        assert!(
            s.latency < limit,
            "{s:?} took longer than twice the deadline"
        );
    }
    assert!(worst_read < limit, "a read took {worst_read:?}");
    assert!(
        resumed < Duration::from_millis(2_500),
        "resumed after {resumed:?}"
    );
}

/// The end of every MariaDB/Redis scenario: invariants, no panic, bounded
/// logs.
pub(crate) async fn assert_after_fault(d: &Deployment, sent: &[Sent], redis_lost: bool) {
    check_invariants(d, sent, redis_lost).await;
    let loud = assert_no_panic(d);
    assert!(
        loud <= 50,
        "{loud} lines at WARN or above: warnings are not rate-limited"
    );
}

/// Runs the load against `addr` for `before`, calls `fault`, runs on for
/// `after`; returns the sends.
pub(crate) async fn load_around<F: std::future::Future<Output = ()>>(
    run: &'static str,
    addr: std::net::SocketAddr,
    before: Duration,
    fault: F,
    after: Duration,
) -> (Vec<Sent>, Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..CONNECTIONS)
        .map(|c| tokio::spawn(sender(addr, c, stop.clone(), run)))
        .collect();
    let read = tokio::spawn(reader(addr, stop.clone()));
    tokio::time::sleep(before).await;
    fault.await;
    tokio::time::sleep(after).await;
    stop.store(true, Ordering::Relaxed);
    let mut all = Vec::new();
    for s in senders {
        all.extend(s.await.unwrap());
    }
    (all, read.await.unwrap())
}

//! The crash test's world: its own backends, the conversations, the
//! senders with their resends and read acks, the killer, and the checks.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use prost::Message;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tt_dbproxy::client::Client;
use tt_dbproxy::store::{MysqlRedisStore, NewGroup, SqliteStore, Store};
use tt_proto::im::message::{ImMsgData, ImMsgDataReadAck};

use crate::common::faults::{OwnMariaDb, OwnRedis, have};
use crate::common::process::ServerProcess;

/// Where the server keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// MySQL + Redis, one instance, killed.
    MysqlOne,
    /// MySQL + Redis, two instances; the first is killed, the second
    /// serves throughout.
    MysqlTwo,
    /// The embedded store.
    Embedded,
}

/// One conversation: a single sender writing to one reader (one-to-one)
/// or to a group of two.
#[derive(Debug, Clone, Copy)]
pub struct Conv {
    /// Index, in every message's text (`c<idx>-<seq>`).
    pub idx: usize,
    /// A group conversation.
    pub group: bool,
    /// The only sender.
    pub sender: u32,
    /// The receiver, or the group id.
    pub to: u32,
    /// The user whose unread count is checked.
    pub reader: u32,
}

impl Conv {
    /// The text of message `seq`.
    pub fn text(&self, seq: u32) -> String {
        format!("c{}-{seq}", self.idx)
    }

    /// Message `seq`: client `msg_id` = `seq`, so a resend is the same
    /// request again.
    pub fn message(&self, seq: u32) -> ImMsgData {
        ImMsgData {
            from_user_id: Some(self.sender),
            to_session_id: Some(self.to),
            msg_id: Some(seq),
            create_time: Some(1_700_000_000 + seq),
            msg_type: Some(if self.group { 17 } else { 1 }),
            msg_data: Some(self.text(seq).into_bytes()),
            attach_data: Some(Vec::new()),
        }
    }
}

/// The backends and the conversations.
pub struct World {
    setup: Setup,
    maria: Option<OwnMariaDb>,
    redis: Option<OwnRedis>,
    /// One working directory per instance.
    dirs: Vec<tempfile::TempDir>,
    /// The conversations: three one-to-one, two groups (last).
    pub convs: Vec<Conv>,
}

impl World {
    /// Starts the backends and creates the groups.
    pub async fn start(setup: Setup) -> Self {
        let dirs = vec![tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        let mut w = Self {
            setup,
            maria: None,
            redis: None,
            dirs,
            convs: Vec::new(),
        };
        let store: Arc<dyn Store> = if setup == Setup::Embedded {
            Arc::new(SqliteStore::open(&w.data_dir()).await.unwrap())
        } else {
            assert!(
                have("mariadbd") && have("mariadb-install-db") && have("redis-server"),
                "the crash test needs mariadbd, mariadb-install-db and redis-server"
            );
            w.maria = Some(OwnMariaDb::start());
            w.redis = Some(OwnRedis::start());
            let pool = mysql_async::Pool::new(w.maria().url("").as_str());
            let mut c = pool.get_conn().await.unwrap();
            c.query_drop("CREATE DATABASE tt CHARACTER SET utf8mb4")
                .await
                .unwrap();
            drop(c);
            pool.disconnect().await.unwrap();
            let envs = w.envs();
            let env = |k: &str| {
                envs.iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.clone())
            };
            let config = tt_dbproxy::config::from_toml_str("", &env).unwrap();
            let s = MysqlRedisStore::new(&config).unwrap();
            s.migrate().await.unwrap();
            Arc::new(s)
        };
        for (idx, n) in (0..3u32).enumerate() {
            w.convs.push(Conv {
                idx,
                group: false,
                sender: 11 + n,
                to: 21 + n,
                reader: 21 + n,
            });
        }
        for n in 0..2u32 {
            let (sender, reader) = (31 + n, 41 + n);
            let group = NewGroup {
                name: format!("g{n}"),
                avatar: String::new(),
                creator: sender,
                group_type: 1,
                members: vec![sender, reader],
            };
            let to = store.create_group(group, 1_700_000_000).await.unwrap();
            w.convs.push(Conv {
                idx: w.convs.len(),
                group: true,
                sender,
                to,
                reader,
            });
        }
        drop(store);
        w
    }

    fn maria(&self) -> &OwnMariaDb {
        self.maria.as_ref().expect("a MySQL setup")
    }

    fn data_dir(&self) -> PathBuf {
        self.dirs[0].path().join("data")
    }

    /// The server's environment.
    fn envs(&self) -> Vec<(String, String)> {
        let mut e = vec![
            ("TT_DBPROXY_REQUEST_TIMEOUT_MS".into(), "1000".into()),
            ("TT_DBPROXY_ACQUIRE_TIMEOUT_MS".into(), "400".into()),
        ];
        if self.setup != Setup::Embedded {
            e.push(("TT_DBPROXY_BACKEND".into(), "mysql".into()));
            e.push(("TT_DBPROXY_MYSQL_PRIMARY".into(), self.maria().url("tt")));
            let redis = self.redis.as_ref().expect("Redis");
            e.push(("TT_DBPROXY_REDIS_URL".into(), redis.url(0)));
        }
        e
    }

    /// Starts instance `i` (its own working and data directory).
    pub fn spawn(&self, i: usize) -> ServerProcess {
        self.spawn_with(i, &[])
    }

    /// Starts instance `i` with extra environment.
    pub fn spawn_with(&self, i: usize, extra: &[(&str, &str)]) -> ServerProcess {
        let owned = self.envs();
        let mut envs: Vec<(&str, &str)> = owned
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        envs.extend_from_slice(extra);
        ServerProcess::spawn(self.dirs[i].path(), &[], &envs)
    }

    async fn mysql_rows(&self, sql: String) -> Vec<(u32, u32, u32, String)> {
        let pool = mysql_async::Pool::new(self.maria().url("tt").as_str());
        let mut c = pool.get_conn().await.unwrap();
        let rows: Vec<(u32, u32, u32, String)> = c.query(sql).await.unwrap();
        drop(c);
        pool.disconnect().await.unwrap();
        rows
    }

    async fn sqlite_rows(&self, sql: String) -> Vec<(u32, u32, u32, String)> {
        let path = self.data_dir().join("tt-dbproxy.sqlite3");
        tokio::task::spawn_blocking(move || {
            let db = rusqlite::Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .unwrap();
            db.busy_timeout(Duration::from_secs(5)).unwrap();
            let mut stmt = db.prepare(&sql).unwrap();
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        })
        .await
        .unwrap()
    }

    /// Rows as (sender or group, receiver or 0, msgId, content).
    async fn rows(&self, filter: &str) -> Vec<(u32, u32, u32, String)> {
        let mut parts = Vec::new();
        for n in 0..8 {
            parts.push(format!(
                "SELECT fromId, toId, msgId, content FROM IMMessage_{n} WHERE {filter}"
            ));
            parts.push(format!(
                "SELECT groupId, 0, msgId, content FROM IMGroupMessage_{n} WHERE {filter}"
            ));
        }
        let sql = parts.join(" UNION ALL ");
        if self.setup == Setup::Embedded {
            self.sqlite_rows(sql).await
        } else {
            self.mysql_rows(sql).await
        }
    }

    /// Rows stored in `conv`.
    pub async fn rows_of(&self, conv: &Conv) -> u64 {
        let prefix = format!("c{}-%", conv.idx);
        self.rows(&format!("content LIKE '{prefix}'")).await.len() as u64
    }

    /// Whether message `seq` of `conv` is stored.
    pub async fn stored(&self, conv: &Conv, seq: u32) -> bool {
        let text = conv.text(seq);
        !self.rows(&format!("content = '{text}'")).await.is_empty()
    }

    async fn redis_int(&self, key: String, field: String) -> u32 {
        let redis = self.redis.as_ref().expect("Redis");
        let client = redis::Client::open(redis.url(0)).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        let v: Option<String> = redis::cmd("HGET")
            .arg(key)
            .arg(field)
            .query_async(&mut c)
            .await
            .unwrap();
        v.map(|s| s.parse().unwrap()).unwrap_or(0)
    }

    async fn sqlite_int(&self, sql: String) -> u32 {
        let path = self.data_dir().join("tt-dbproxy.sqlite3");
        tokio::task::spawn_blocking(move || {
            let db = rusqlite::Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .unwrap();
            db.busy_timeout(Duration::from_secs(5)).unwrap();
            db.query_row(&sql, [], |r| r.get::<_, u32>(0)).unwrap_or(0)
        })
        .await
        .unwrap()
    }

    /// A group's total (messages ever counted).
    pub async fn group_total(&self, conv: &Conv) -> u32 {
        let g = conv.to;
        if self.setup == Setup::Embedded {
            self.sqlite_int(format!(
                "SELECT count FROM tt_group_total WHERE group_id = {g}"
            ))
            .await
        } else {
            self.redis_int(format!("{g}_im_group_msg"), "count".into())
                .await
        }
    }

    /// The reader's unread count in `conv`.
    pub async fn unread(&self, conv: &Conv) -> u32 {
        let (r, s, g) = (conv.reader, conv.sender, conv.to);
        if !conv.group {
            return if self.setup == Setup::Embedded {
                self.sqlite_int(format!(
                    "SELECT count FROM tt_unread WHERE user_id = {r} AND peer_id = {s}"
                ))
                .await
            } else {
                self.redis_int(format!("unread_{r}"), s.to_string()).await
            };
        }
        let mark = if self.setup == Setup::Embedded {
            self.sqlite_int(format!(
                "SELECT count FROM tt_group_read_mark WHERE user_id = {r} AND group_id = {g}"
            ))
            .await
        } else {
            self.redis_int(format!("{r}_{g}_im_user_group"), "count".into())
                .await
        };
        self.group_total(conv).await.saturating_sub(mark)
    }

    /// Waits (up to 30 s) until no send is left pending in Redis: every
    /// committed message's counters applied by whichever instance found it.
    pub async fn wait_settled(&self) {
        let Some(redis) = &self.redis else { return };
        let client = redis::Client::open(redis.url(0)).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            let n: u64 = redis::cmd("ZCARD")
                .arg("tt_dbproxy:pending")
                .query_async(&mut c)
                .await
                .unwrap();
            if n == 0 {
                return;
            }
            assert!(Instant::now() < end, "{n} sends still pending after 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Sends `m` and waits (up to 3 s) for its ack: the id (0: not stored),
/// or `None` when the connection failed or nothing came.
pub async fn send_once(c: &mut Client, m: &ImMsgData) -> Option<u32> {
    let call = async {
        let seq = c.send(3, 0x0301, m.encode_to_vec()).await.ok()?;
        let rsp = c.wait_reply(seq, 0x0301).await.ok()?;
        ImMsgData::decode(rsp.body).ok()?.msg_id
    };
    tokio::time::timeout(Duration::from_secs(3), call)
        .await
        .ok()
        .flatten()
}

/// The reader acknowledges `conv` (no reply).
pub async fn read_ack(c: &mut Client, conv: &Conv) -> bool {
    let ack = ImMsgDataReadAck {
        user_id: Some(conv.reader),
        session_id: Some(if conv.group { conv.to } else { conv.sender }),
        msg_id: Some(0),
        session_type: Some(if conv.group { 2 } else { 1 }),
    };
    c.send(3, 0x0303, ack.encode_to_vec()).await.is_ok()
}

/// Waits (up to 10 s) until the reader's unread count in `conv` is `n`.
pub async fn eventually_unread(world: &World, conv: &Conv, n: u32) {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let now = world.unread(conv).await;
        if now == n {
            return;
        }
        assert!(
            Instant::now() < end,
            "conversation {}: unread {now}, expected {n}",
            conv.idx
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The live instances, and what the senders and the killer share.
struct Live {
    addrs: Mutex<Vec<Option<SocketAddr>>>,
    /// Held (read) by a read ack until its effect is certain; the killer
    /// takes it (write) to kill, so no read ack is lost unobserved.
    gate: tokio::sync::RwLock<()>,
    stop: AtomicBool,
    next: AtomicU32,
}

impl Live {
    /// A connection to a live instance (waits while all are down).
    async fn connect(&self) -> Client {
        let end = Instant::now() + Duration::from_secs(60);
        loop {
            let addrs: Vec<SocketAddr> = self
                .addrs
                .lock()
                .unwrap()
                .iter()
                .flatten()
                .copied()
                .collect();
            if !addrs.is_empty() {
                let n = self.next.fetch_add(1, Ordering::Relaxed) as usize;
                if let Ok(c) = Client::connect(addrs[n % addrs.len()]).await {
                    return c;
                }
            }
            assert!(Instant::now() < end, "no instance for 60 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// What a sender did.
#[derive(Debug, Default)]
struct Log {
    /// (seq, id) of every acknowledged send.
    acked: Vec<(u32, u32)>,
    /// Sends repeated after no ack or a "not stored" ack.
    resends: u32,
    /// Read acks sent.
    read_acks: u32,
    /// Read acks sent while a lost send was not yet resent.
    read_acks_after_loss: u32,
    /// Rows of the conversation when the reader last acknowledged.
    cleared_rows: u64,
}

/// The reader acknowledges `conv` while its sender waits, and the rows
/// then stored are noted. `lost`: the send the sender has not had
/// acknowledged (its process was killed), whose fate is final by now.
async fn ack_step(world: &World, live: &Live, conv: &Conv, lost: Option<u32>, log: &mut Log) {
    let _held = live.gate.read().await;
    // A COMMIT the killed process sent has landed or never will.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let committed_lost = match lost {
        Some(seq) => world.stored(conv, seq).await,
        None => false,
    };
    let before = world.unread(conv).await;
    if before == 0 && !committed_lost {
        // Nothing to clear, and nothing committed that may count later.
        return;
    }
    let rows = world.rows_of(conv).await;
    let mut c = live.connect().await;
    assert!(read_ack(&mut c, conv).await, "read ack sent");
    log.read_acks += 1;
    if lost.is_some() {
        log.read_acks_after_loss += 1;
    }
    log.cleared_rows = rows;
    if before > 0 {
        eventually_unread(world, conv, 0).await;
    } else {
        // The committed send is counted at the earliest when its resend
        // finds it (after its deadline) or when it is recovered: the read
        // ack, just sent, is handled long before.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One sender: sends until told to stop, resending what was not
/// acknowledged; now and then the reader acknowledges.
async fn sender(world: Arc<World>, live: Arc<Live>, conv: Conv) -> Log {
    let mut rng = SmallRng::seed_from_u64(rand::random());
    let mut log = Log::default();
    let mut client: Option<Client> = None;
    let mut next_ack = Instant::now() + Duration::from_millis(rng.random_range(100..400));
    let mut seq = 0;
    while !live.stop.load(Ordering::Relaxed) {
        seq += 1;
        let msg = conv.message(seq);
        let mut tries = 0;
        loop {
            tries += 1;
            assert!(
                tries < 300,
                "conversation {}: send {seq} never acknowledged",
                conv.idx
            );
            if tries > 1 {
                log.resends += 1;
            }
            let c = match &mut client {
                Some(c) => c,
                None => client.insert(live.connect().await),
            };
            match send_once(c, &msg).await {
                Some(id) if id != 0 => {
                    log.acked.push((seq, id));
                    break;
                }
                Some(_) => {
                    tokio::time::sleep(Duration::from_millis(rng.random_range(100..300))).await;
                }
                None => {
                    client = None;
                    if rng.random_bool(0.5) {
                        ack_step(&world, &live, &conv, Some(seq), &mut log).await;
                    }
                    tokio::time::sleep(Duration::from_millis(rng.random_range(300..900))).await;
                }
            }
        }
        if Instant::now() >= next_ack {
            ack_step(&world, &live, &conv, None, &mut log).await;
            next_ack = Instant::now() + Duration::from_millis(rng.random_range(100..400));
        }
    }
    log
}

/// Kills and restarts the first instance `kills` times under load, then
/// checks every invariant.
pub async fn chaos(setup: Setup, kills: u32) {
    let world = Arc::new(World::start(setup).await);
    let instances = if setup == Setup::MysqlTwo { 2 } else { 1 };
    let mut procs: Vec<Option<ServerProcess>> =
        (0..instances).map(|i| Some(world.spawn(i))).collect();
    let live = Arc::new(Live {
        addrs: Mutex::new(procs.iter().map(|p| p.as_ref().map(|p| p.addr)).collect()),
        gate: tokio::sync::RwLock::new(()),
        stop: AtomicBool::new(false),
        next: AtomicU32::new(0),
    });
    let senders: Vec<_> = world
        .convs
        .iter()
        .map(|conv| tokio::spawn(sender(world.clone(), live.clone(), *conv)))
        .collect();
    let started = Instant::now();
    let mut rng = SmallRng::seed_from_u64(rand::random());
    for _ in 0..kills {
        tokio::time::sleep(Duration::from_millis(rng.random_range(900..1800))).await;
        {
            let _killing = live.gate.write().await;
            live.addrs.lock().unwrap()[0] = None;
            // SIGKILL, then reaped: its sockets are closed.
            drop(procs[0].take());
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(200..500))).await;
        let w = world.clone();
        let p = tokio::task::spawn_blocking(move || w.spawn(0))
            .await
            .unwrap();
        live.addrs.lock().unwrap()[0] = Some(p.addr);
        procs[0] = Some(p);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    live.stop.store(true, Ordering::Relaxed);
    let mut logs = Vec::new();
    for s in senders {
        logs.push(
            tokio::time::timeout(Duration::from_secs(120), s)
                .await
                .expect("senders finish")
                .unwrap(),
        );
    }
    let elapsed = started.elapsed();
    world.wait_settled().await;
    check(&world, &logs).await;
    let sum = |f: fn(&Log) -> u64| logs.iter().map(f).sum::<u64>();
    eprintln!(
        "{setup:?}: {kills} kills in {:.1} s; {} sends acknowledged, {} resends, {} read acks ({} right after a loss)",
        elapsed.as_secs_f64(),
        sum(|l| l.acked.len() as u64),
        sum(|l| u64::from(l.resends)),
        sum(|l| u64::from(l.read_acks)),
        sum(|l| u64::from(l.read_acks_after_loss)),
    );
    drop(procs);
}

/// Every invariant, from the rows and counters left behind.
async fn check(world: &World, logs: &[Log]) {
    let rows = world.rows("1 = 1").await;
    // (conversation, seq) → ids stored; (conversation key, id) seen.
    let mut stored: HashMap<(usize, u32), Vec<u32>> = HashMap::new();
    let mut ids: HashSet<(u32, u32, u32)> = HashSet::new();
    let mut per_conv: BTreeMap<usize, u64> = BTreeMap::new();
    for (a, b, id, content) in &rows {
        let (idx, seq) = content
            .strip_prefix('c')
            .and_then(|r| r.split_once('-'))
            .map(|(i, s)| (i.parse::<usize>().unwrap(), s.parse::<u32>().unwrap()))
            .expect("a test message");
        let conv = &world.convs[idx];
        let key = if conv.group {
            (conv.to, 0)
        } else {
            (conv.sender.min(conv.reader), conv.sender.max(conv.reader))
        };
        assert_eq!(
            (*a, *b),
            if conv.group {
                (conv.to, 0)
            } else {
                (conv.sender, conv.reader)
            }
        );
        assert!(
            ids.insert((key.0, key.1, *id)),
            "conversation {idx}: id {id} repeated"
        );
        stored.entry((idx, seq)).or_default().push(*id);
        *per_conv.entry(idx).or_default() += 1;
    }
    let twice: Vec<_> = stored.iter().filter(|(_, v)| v.len() > 1).collect();
    assert!(twice.is_empty(), "stored twice: {twice:?}");
    for (conv, log) in world.convs.iter().zip(logs) {
        for (seq, id) in &log.acked {
            assert_eq!(
                stored.get(&(conv.idx, *seq)),
                Some(&vec![*id]),
                "conversation {}: acknowledged send {seq} stored once as {id}",
                conv.idx
            );
        }
        let n = per_conv.get(&conv.idx).copied().unwrap_or(0);
        assert_eq!(
            n,
            log.acked.len() as u64,
            "conversation {}: every row acknowledged",
            conv.idx
        );
        let expected = n - log.cleared_rows;
        assert_eq!(
            u64::from(world.unread(conv).await),
            expected,
            "conversation {}: unread = rows committed after the last read ack",
            conv.idx
        );
        if conv.group {
            assert_eq!(
                u64::from(world.group_total(conv).await),
                n,
                "group {} total",
                conv.to
            );
        }
    }
}

//! The crash test's senders with their resends and read acks, the killer,
//! and the checks.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prost::Message;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tt_dbproxy::client::Client;
use tt_proto::im::message::{ImMsgData, ImMsgDataReadAck};

use crate::common::process::ServerProcess;
pub use crate::world::{Conv, Setup, World};

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

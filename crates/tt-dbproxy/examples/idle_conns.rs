//! Holds N connections open, in a process of its own, for the
//! memory-per-connection figure and the flood figures of
//! `docs/reliability.md`.
//!
//! Idle mode (default): each connection sends only a heartbeat every 5 s
//! (so the server's idle timeout never closes it) and reads what the
//! server sends. Slow mode (`--slow MS`): each connection dribbles a frame
//! announcing 1,000 bytes, one byte every MS milliseconds, and never
//! finishes it; when the server closes it (`server.frame_timeout_ms`) it
//! connects again and starts over, so N slow clients keep coming.
//!
//! ```text
//! ulimit -n 20000
//! cargo run --release --example idle_conns -- 127.0.0.1:10600 10000 30
//! cargo run --release --example idle_conns -- 127.0.0.1:10600 10000 60 --from 127.0.0.10 --per-source 1000
//! cargo run --release --example idle_conns -- 127.0.0.1:10600 1000 60 --slow 3000 --from 127.0.0.30
//! ```
//!
//! `--from IP` binds the connections to local addresses starting at IP,
//! `--per-source K` (default 1,000) connections each (IP, IP+1, ...), so
//! one machine is several peers for `server.max_connections_per_peer`.
//! Prints "open N" once every connection is established, then holds them
//! for the given seconds; `scripts/bench-table.sh` reads the server's RSS
//! meanwhile.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::time::Instant;
use tt_dbproxy::client::Client;
use tt_dbproxy::wire::Pdu;
use tt_dbproxy::wire::command::{cid, sid};

const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
/// Pause of a slow client between a close and its next connection.
const RECONNECT_PAUSE: Duration = Duration::from_millis(100);

struct Args {
    addr: SocketAddr,
    count: usize,
    hold: Duration,
    from: Option<Ipv4Addr>,
    per_source: usize,
    slow: Option<Duration>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = std::env::args().skip(1);
    let mut positional = Vec::new();
    let mut from = None;
    let mut per_source = 1_000;
    let mut slow = None;
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match a.as_str() {
            "--from" => from = Some(value("--from")?.parse().context("--from")?),
            "--per-source" => {
                per_source = value("--per-source")?.parse().context("--per-source")?
            }
            "--slow" => {
                slow = Some(Duration::from_millis(
                    value("--slow")?.parse().context("--slow")?,
                ))
            }
            flag if flag.starts_with("--") => bail!("unknown flag {flag}"),
            _ => positional.push(a),
        }
    }
    if per_source == 0 {
        bail!("--per-source must be at least 1");
    }
    let get = |i: usize, default: &str| positional.get(i).cloned().unwrap_or(default.into());
    Ok(Args {
        addr: get(0, "127.0.0.1:10600").parse().context("address")?,
        count: get(1, "10000").parse().context("count")?,
        hold: Duration::from_secs(get(2, "30").parse().context("seconds")?),
        from,
        per_source,
        slow,
    })
}

impl Args {
    /// The local address of connection `i`, if `--from` was given.
    fn source(&self, i: usize) -> Option<SocketAddr> {
        let first = u32::from(self.from?);
        let ip = Ipv4Addr::from(first.wrapping_add((i / self.per_source) as u32));
        Some(SocketAddr::new(IpAddr::V4(ip), 0))
    }
}

async fn connect(addr: SocketAddr, from: Option<SocketAddr>) -> anyhow::Result<Client> {
    Ok(match from {
        Some(local) => Client::connect_from(local, addr).await?,
        None => Client::connect(addr).await?,
    })
}

/// Heartbeats every 5 s and reads; false once the server closed it.
async fn hold_idle(mut c: Client) -> bool {
    let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
    loop {
        tokio::select! {
            _ = tick.tick() => {
                if c.send_pdu(Pdu::new(sid::OTHER, cid::HEARTBEAT, 0, Vec::new())).await.is_err() {
                    return false;
                }
            }
            frame = c.next_frame() => {
                if !matches!(frame, Ok(Some(_))) {
                    return false;
                }
            }
        }
    }
}

/// A frame header announcing 1,000 bytes, then its body: never finished.
fn unfinished_frame() -> Vec<u8> {
    let mut f = vec![0, 0, 0x03, 0xe8, 0, 1, 0, 0, 0, 7, 7, 3, 0, 7, 0, 0];
    f.resize(999, b'x');
    f
}

/// Counts of the slow clients.
#[derive(Default)]
struct SlowCounts {
    closed_by_server: AtomicU64,
    connect_failures: AtomicU64,
}

/// Dribbles one byte every `every` (the first after `offset`) until
/// `until`, connecting again whenever the server closes the connection.
async fn hold_slow(
    first: Client,
    args: Arc<Args>,
    i: usize,
    offset: Duration,
    until: Instant,
    counts: Arc<SlowCounts>,
) {
    let every = args.slow.unwrap_or(Duration::from_secs(3));
    let frame = unfinished_frame();
    let mut next = Some(first);
    tokio::time::sleep(offset).await;
    while Instant::now() < until {
        let mut c = match next.take() {
            Some(c) => c,
            None => match connect(args.addr, args.source(i)).await {
                Ok(c) => c,
                Err(_) => {
                    counts.connect_failures.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(every).await;
                    continue;
                }
            },
        };
        let mut tick = tokio::time::interval(every);
        let mut sent = 0;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(until) => return,
                frame_in = c.next_frame() => if !matches!(frame_in, Ok(Some(_))) { break },
                _ = tick.tick() => {
                    if sent < frame.len() {
                        if c.send_raw(&frame[sent..=sent]).await.is_err() {
                            break;
                        }
                        sent += 1;
                    }
                }
            }
        }
        counts.closed_by_server.fetch_add(1, Ordering::Relaxed);
        // Not a tight loop should the server refuse at once (per-peer cap).
        tokio::time::sleep(RECONNECT_PAUSE).await;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Arc::new(parse_args()?);
    let mut clients = Vec::with_capacity(args.count);
    for i in 0..args.count {
        let c = connect(args.addr, args.source(i))
            .await
            .with_context(|| format!("connection {i}"))?;
        clients.push(c);
    }
    println!("open {}", args.count);
    let until = Instant::now() + args.hold;
    match args.slow {
        None => {
            let tasks: Vec<_> = clients
                .into_iter()
                .map(|c| tokio::spawn(hold_idle(c)))
                .collect();
            tokio::time::sleep_until(until).await;
            let closed = tasks.iter().filter(|t| t.is_finished()).count();
            println!("closed by the server while held: {closed}");
        }
        Some(every) => {
            let counts = Arc::new(SlowCounts::default());
            let n = args.count.max(1) as u32;
            let tasks: Vec<_> = clients
                .into_iter()
                .enumerate()
                .map(|(i, c)| {
                    let offset = every * (i as u32) / n;
                    tokio::spawn(hold_slow(c, args.clone(), i, offset, until, counts.clone()))
                })
                .collect();
            for t in tasks {
                let _ = t.await;
            }
            println!(
                "slow clients closed by the server and reconnected: {}; failed connects: {}",
                counts.closed_by_server.load(Ordering::Relaxed),
                counts.connect_failures.load(Ordering::Relaxed)
            );
        }
    }
    Ok(())
}

//! Holds N idle connections open for the memory-per-connection figure:
//! each connection sends only a heartbeat every 5 s (so the server's idle
//! timeout never closes it) and reads what the server sends.
//!
//! ```text
//! ulimit -n 20000
//! cargo run --release --example idle_conns -- 127.0.0.1:10600 10000 30
//! ```
//!
//! Prints "open N" once every connection is established, then holds them
//! for the given seconds; `scripts/bench-table.sh` reads the server's RSS
//! meanwhile.

use std::time::Duration;

use tt_dbproxy::client::Client;
use tt_dbproxy::wire::Pdu;
use tt_dbproxy::wire::command::{cid, sid};

const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let addr = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "127.0.0.1:10600".into());
    let count: usize = args.get(2).map_or(Ok(10_000), |s| s.parse())?;
    let hold = Duration::from_secs(args.get(3).map_or(Ok(30), |s| s.parse())?);
    let mut clients = Vec::with_capacity(count);
    for _ in 0..count {
        clients.push(Client::connect(addr.as_str()).await?);
    }
    println!("open {count}");
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|mut c| {
            tokio::spawn(async move {
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
            })
        })
        .collect();
    tokio::time::sleep(hold).await;
    let closed = tasks.iter().filter(|t| t.is_finished()).count();
    println!("closed by the server while held: {closed}");
    Ok(())
}

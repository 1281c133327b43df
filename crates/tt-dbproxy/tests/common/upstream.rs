//! A fake original db_proxy_server for `tt-dbproxy shadow`: answers each
//! request as a test chooses.

use std::net::SocketAddr;

use futures_util::{SinkExt, StreamExt};
use tokio_util::codec::{FramedRead, FramedWrite};
use tt_dbproxy::wire::{Pdu, PduCodec};

use super::process::ServerProcess;

/// The reply to a request: command id and body, or none.
pub type Reply = Option<(u16, Vec<u8>)>;

/// Listens on a free port; every request gets `reply(request)` (same
/// service and sequence number), or nothing.
pub async fn fake_upstream(reply: fn(&Pdu) -> Reply) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(async move {
                let (r, w) = s.into_split();
                let mut input = FramedRead::new(r, PduCodec::new(1 << 20));
                let mut output = FramedWrite::new(w, PduCodec::new(1 << 20));
                while let Some(Ok(req)) = input.next().await {
                    if let Some((cid, body)) = reply(&req) {
                        let rsp = Pdu::new(req.header.service_id, cid, req.header.seq_num, body);
                        if output.send(rsp).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

/// The shadow's admin endpoint, from its log.
pub fn admin_addr(server: &ServerProcess) -> SocketAddr {
    server
        .lines_so_far()
        .iter()
        .find_map(|l| l.split("admin endpoint on http://").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|a| a.parse().ok())
        .expect("the admin endpoint's address in the log")
}

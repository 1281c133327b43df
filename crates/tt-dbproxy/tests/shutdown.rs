//! Graceful drain: CID_OTHER_STOP_RECV_PACKET to every connection, no new
//! connections, in-flight replies delivered, exit within the drain time.

mod common;

use std::time::Duration;

use common::process::{ServerProcess, run};
use common::*;
use prost::Message;
use tt_dbproxy::store::StoreOp;
use tt_dbproxy::wire::Pdu;
use tt_proto::im::server::{ImStopReceivePacket, ImValidateRsp};

fn assert_stop_packet(f: &Pdu) {
    assert_eq!(
        (f.header.service_id, f.header.command_id, f.header.seq_num),
        (7, 0x0702, 0)
    );
    assert_eq!(
        ImStopReceivePacket::decode(f.body.clone()).unwrap().result,
        Some(0)
    );
    assert_eq!(f.body.as_ref(), &[0x08, 0x00]);
}

#[tokio::test]
async fn drain_sends_stop_delivers_in_flight_replies_and_stops_accepting() {
    let s = TestServer::start().await;
    seed_spec_users(s.store.as_ref()).await;
    let mut idle = s.client().await;
    let mut busy = s.client().await;
    s.store
        .delay_next(StoreOp::FindActiveUserByName, 1, Duration::from_millis(500));
    let body = validate_body(b"zhangyl", GOOD_PASSWORD.as_bytes(), Some(b"AB"));
    busy.send_pdu(Pdu::new(7, 0x0703, 9, body)).await.unwrap();
    // Let the request reach the (delayed) store.
    while s.store.calls(StoreOp::FindActiveUserByName) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    s.shutdown.cancel();

    assert_stop_packet(&next_frame(&mut idle).await.expect("stop packet"));
    assert_stop_packet(&next_frame(&mut busy).await.expect("stop packet"));
    let reply = next_frame(&mut busy)
        .await
        .expect("in-flight reply after the stop packet");
    assert_eq!((reply.header.command_id, reply.header.seq_num), (0x0704, 9));
    assert_eq!(
        ImValidateRsp::decode(reply.body).unwrap().result_code,
        Some(0)
    );
    assert_closed(&mut busy).await;
    assert_closed(&mut idle).await;

    tokio::time::timeout(Duration::from_secs(5), s.handle)
        .await
        .expect("run returns")
        .unwrap();
    assert!(
        tokio::net::TcpStream::connect(s.addr).await.is_err(),
        "no longer accepting"
    );
}

#[tokio::test]
async fn drain_deadline_bounds_a_stuck_request() {
    let s = TestServer::start_with(|c| c.server.drain_timeout_ms = 300).await;
    seed_spec_users(s.store.as_ref()).await;
    let mut c = s.client().await;
    s.store
        .delay_next(StoreOp::FindActiveUserByName, 1, Duration::from_secs(3600));
    let body = validate_body(b"zhangyl", GOOD_PASSWORD.as_bytes(), Some(b"AB"));
    c.send_pdu(Pdu::new(7, 0x0703, 9, body)).await.unwrap();
    while s.store.calls(StoreOp::FindActiveUserByName) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    s.shutdown.cancel();
    assert_stop_packet(&next_frame(&mut c).await.expect("stop packet"));
    tokio::time::timeout(Duration::from_secs(5), s.handle)
        .await
        .expect("run returns at the drain deadline")
        .unwrap();
    assert_closed(&mut c).await;
}

#[tokio::test]
async fn sigterm_drains_the_real_binary_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["admin", "user", "add", "alice", "--password", "123456"],
        &[],
    );
    assert!(out.status.success(), "{out:?}");
    let server = ServerProcess::spawn(dir.path(), &[], &[]);
    let mut c = tt_dbproxy::client::Client::connect(server.addr)
        .await
        .unwrap();
    // One round trip first: a connection still in the kernel's accept
    // backlog when the signal arrives is reset (the server stops accepting).
    assert_eq!(
        login(&mut c, "alice", GOOD_PASSWORD).await.result_code,
        Some(0)
    );
    // Pipeline 50 logins and signal while they are being served.
    let mut bytes = Vec::new();
    for seq in 1..=50u16 {
        let body = validate_body(b"alice", GOOD_PASSWORD.as_bytes(), Some(b"QB"));
        bytes.extend_from_slice(&Pdu::new(7, 0x0703, seq, body).to_bytes().unwrap());
    }
    c.send_raw(&bytes).await.unwrap();
    server.terminate();
    let mut replies = 0;
    let mut stop = 0;
    while let Some(f) = next_frame(&mut c).await {
        match f.header.command_id {
            0x0702 => {
                assert_stop_packet(&f);
                stop += 1;
            }
            0x0704 => {
                assert_eq!(ImValidateRsp::decode(f.body).unwrap().result_code, Some(0));
                replies += 1;
            }
            other => assert_eq!(other, 0x0701, "only heartbeats otherwise"),
        }
    }
    assert_eq!((stop, replies), (1, 50));
    let (status, lines) = server.wait(Duration::from_secs(10));
    assert!(status.success(), "exit status {status:?}");
    assert!(
        lines.iter().any(|l| l.contains("SIGTERM received")),
        "{lines:?}"
    );
}

#[tokio::test]
async fn sigint_also_drains() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::spawn(dir.path(), &[], &[]);
    let mut c = tt_dbproxy::client::Client::connect(server.addr)
        .await
        .unwrap();
    // Accepted before the signal (see the SIGTERM test).
    login(&mut c, "nobody", "x").await;
    let status = std::process::Command::new("kill")
        .args(["-INT", &server_pid(&server)])
        .status()
        .unwrap();
    assert!(status.success());
    assert_stop_packet(&next_frame(&mut c).await.expect("stop packet"));
    let (status, _) = server.wait(Duration::from_secs(10));
    assert!(status.success());
}

fn server_pid(server: &ServerProcess) -> String {
    server.pid().to_string()
}

#[tokio::test]
async fn running_out_of_file_descriptors_backs_off_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["admin", "user", "add", "alice", "--password", "123456"],
        &[],
    );
    assert!(out.status.success());
    let server = ServerProcess::spawn_with_nofile(48, dir.path(), &[], &[]);
    // Far more connections than descriptors: accept fails with EMFILE.
    let mut held = Vec::new();
    for _ in 0..80 {
        if let Ok(s) = tokio::net::TcpStream::connect(server.addr).await {
            held.push(s);
        }
    }
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !seen
        .iter()
        .any(|l: &String| l.contains("accept failed; backing off"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no back-off logged: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        seen.extend(server.lines_so_far());
    }
    // Over the next half second the pauses double (5, 10, 20, ... ms): a
    // handful of failed accepts, not thousands.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let failures = server
        .lines_so_far()
        .iter()
        .filter(|l| l.contains("accept failed"))
        .count();
    assert!(
        failures <= 12,
        "the accept loop spins: {failures} failures in 500 ms"
    );
    drop(held);
    // Descriptors free again: the server serves.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(mut c) = tt_dbproxy::client::Client::connect(server.addr).await {
            let body = validate_body(b"alice", GOOD_PASSWORD.as_bytes(), Some(b"x"));
            if c.send_pdu(Pdu::new(7, 0x0703, 3, body)).await.is_ok()
                && let Ok(Ok(Some(f))) =
                    tokio::time::timeout(Duration::from_secs(2), c.next_frame()).await
                && f.header.command_id == 0x0704
            {
                assert_eq!(ImValidateRsp::decode(f.body).unwrap().result_code, Some(0));
                break;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not serving after descriptors were freed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

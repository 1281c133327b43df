//! Connection layer over real TCP (accounts spec §9 cases 1–8, with
//! VALIDATE standing in for other commands), frame-size and connection
//! limits.

mod common;

use std::time::Duration;

use common::*;
use prost::Message;
use tokio::time::Instant;
use tt_dbproxy::wire::Pdu;
use tt_proto::im::server::ImValidateRsp;

const HEARTBEAT_FROM_SERVER: [u8; 16] = [0, 0, 0, 0x10, 0, 1, 0, 0, 0, 7, 7, 1, 0, 0, 0, 0];

#[tokio::test]
async fn case01_heartbeat_is_swallowed() {
    let s = TestServer::start().await;
    seed_spec_users(s.store.as_ref()).await;
    let mut c = s.client().await;
    c.send_raw(&[0, 0, 0, 0x10, 0, 1, 0, 0, 0, 7, 7, 1, 0, 7, 0, 0])
        .await
        .unwrap();
    assert_silent(&mut c, 100).await;
    assert_eq!(
        login(&mut c, "zhangyl", GOOD_PASSWORD).await.result_code,
        Some(0)
    );
}

#[tokio::test]
async fn case02_zero_length_closes_only_that_connection() {
    let s = TestServer::start().await;
    seed_spec_users(s.store.as_ref()).await;
    let mut other = s.client().await;
    let mut c = s.client().await;
    c.send_raw(&[0u8; 16]).await.unwrap();
    assert_closed(&mut c).await;
    assert_eq!(
        login(&mut other, "zhangyl", GOOD_PASSWORD)
            .await
            .result_code,
        Some(0)
    );
}

#[tokio::test]
async fn case03_short_length_closes_and_the_server_keeps_serving() {
    let s = TestServer::start().await;
    seed_spec_users(s.store.as_ref()).await;
    let mut c = s.client().await;
    c.send_raw(&[0, 0, 0, 8, 0, 1, 0, 0, 0, 7, 7, 3, 0, 7, 0, 0])
        .await
        .unwrap();
    assert_closed(&mut c).await;
    let mut fresh = s.client().await;
    assert_eq!(
        login(&mut fresh, "zhangyl", GOOD_PASSWORD)
            .await
            .result_code,
        Some(0)
    );
}

#[tokio::test]
async fn case04_unknown_command_is_dropped_and_the_connection_kept() {
    let s = TestServer::start().await;
    seed_spec_users(s.store.as_ref()).await;
    let mut c = s.client().await;
    c.send_pdu(Pdu::new(7, 0x0999, 7, vec![0x08, 0x01]))
        .await
        .unwrap();
    assert_silent(&mut c, 100).await;
    assert_eq!(
        login(&mut c, "zhangyl", GOOD_PASSWORD).await.result_code,
        Some(0)
    );
}

#[tokio::test]
async fn case05_coalesced_and_split_frames() {
    let s = TestServer::start().await;
    seed_spec_users(s.store.as_ref()).await;
    let mut c = s.client().await;
    let mut bytes = Vec::new();
    for seq in 1..=3u16 {
        let body = validate_body(b"zhangyl", GOOD_PASSWORD.as_bytes(), Some(b"AB"));
        bytes.extend_from_slice(&Pdu::new(7, 0x0703, seq, body).to_bytes().unwrap());
    }
    let third_start = bytes.len() / 3 * 2;
    let split = third_start + 10;
    c.send_raw(&bytes[..split]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    c.send_raw(&bytes[split..]).await.unwrap();
    let mut seqs = Vec::new();
    while seqs.len() < 3 {
        let f = next_frame(&mut c).await.expect("reply");
        assert_eq!(f.header.command_id, 0x0704);
        assert_eq!(ImValidateRsp::decode(f.body).unwrap().result_code, Some(0));
        seqs.push(f.header.seq_num);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, vec![1, 2, 3]);
    assert_silent(&mut c, 100).await;
}

/// With a paused clock tokio jumps to the next timer whenever the runtime
/// waits (here: on SQLite's threads), so a request deadline would fire at
/// once; these timer tests push it out of the way.
fn paused_clock_deadline(c: &mut tt_dbproxy::config::Config) {
    c.storage.request_timeout_ms = tt_dbproxy::config::MAX_TIMER_MS;
}

#[tokio::test(start_paused = true)]
async fn case06_server_heartbeat_and_idle_timeout() {
    let s = TestServer::start_with(paused_clock_deadline).await;
    let mut c = s.client().await;
    let start = Instant::now();
    let mut beats = Vec::new();
    let closed_at = loop {
        match tokio::time::timeout(Duration::from_secs(60), c.next_frame()).await {
            Ok(Ok(Some(f))) => {
                assert_eq!(f.to_bytes().unwrap().as_ref(), &HEARTBEAT_FROM_SERVER);
                beats.push(start.elapsed());
            }
            Ok(Ok(None)) | Ok(Err(_)) => break start.elapsed(),
            Err(_) => panic!("connection neither closed nor sent anything for 60 s"),
        }
    };
    assert!(
        beats[0] >= Duration::from_secs(5) && beats[0] <= Duration::from_secs(6),
        "{beats:?}"
    );
    for pair in beats.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= Duration::from_secs(5) && gap <= Duration::from_secs(6),
            "{beats:?}"
        );
    }
    assert!(beats.len() >= 5, "{beats:?}");
    assert!(
        closed_at >= Duration::from_secs(30) && closed_at <= Duration::from_secs(31),
        "{closed_at:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn case06_client_heartbeats_keep_the_connection_open() {
    let s = TestServer::start_with(paused_clock_deadline).await;
    seed_spec_users(s.store.as_ref()).await;
    let mut c = s.client().await;
    let heartbeat = [0u8, 0, 0, 0x10, 0, 1, 0, 0, 0, 7, 7, 1, 0, 0, 0, 0];
    for _ in 0..14 {
        tokio::time::sleep(Duration::from_secs(5)).await;
        c.send_raw(&heartbeat).await.unwrap();
    }
    // 70 s later the connection still answers.
    assert_eq!(
        login(&mut c, "zhangyl", GOOD_PASSWORD).await.result_code,
        Some(0)
    );
}

#[tokio::test]
async fn case07_reply_to_a_closed_connection_is_dropped() {
    let s = TestServer::start().await;
    seed_spec_users(s.store.as_ref()).await;
    s.store.delay_next(
        tt_dbproxy::store::StoreOp::FindActiveUserByName,
        1,
        Duration::from_millis(300),
    );
    {
        let mut c = s.client().await;
        let body = validate_body(b"zhangyl", GOOD_PASSWORD.as_bytes(), Some(b"AB"));
        c.send_pdu(Pdu::new(7, 0x0703, 7, body)).await.unwrap();
    }
    let mut fresh = s.client().await;
    // The first connection's reply is produced while this one is open; it
    // must not arrive here.
    assert_silent(&mut fresh, 500).await;
    assert_eq!(
        login(&mut fresh, "zhangyl", GOOD_PASSWORD)
            .await
            .result_code,
        Some(0)
    );
}

#[tokio::test]
async fn case08_service_id_is_ignored() {
    let s = TestServer::start().await;
    seed_spec_users(s.store.as_ref()).await;
    let mut c = s.client().await;
    let body = validate_body(b"zhangyl", GOOD_PASSWORD.as_bytes(), Some(b"AB"));
    let rsp = raw_request(&mut c, 2, 0x0703, 7, body, 0x0704).await;
    assert_eq!(rsp.header.service_id, 7);
    assert_eq!(
        ImValidateRsp::decode(rsp.body).unwrap().result_code,
        Some(0)
    );
}

#[tokio::test]
async fn frame_size_limit_closes_before_the_body_arrives() {
    let s = TestServer::start_with(|c| c.server.max_frame_bytes = 1024).await;
    seed_spec_users(s.store.as_ref()).await;
    // Exactly the limit is served.
    let mut c = s.client().await;
    let mut len = 900;
    while validate_body(&vec![b'n'; len], GOOD_PASSWORD.as_bytes(), None).len() + 16 < 1024 {
        len += 1;
    }
    let body = validate_body(&vec![b'n'; len], GOOD_PASSWORD.as_bytes(), None);
    assert_eq!(body.len() + 16, 1024);
    let rsp = raw_request(&mut c, 7, 0x0703, 7, body, 0x0704).await;
    assert_eq!(
        ImValidateRsp::decode(rsp.body).unwrap().result_code,
        Some(1)
    );
    // One byte more closes the connection after the header alone.
    let mut big = s.client().await;
    big.send_raw(&[0, 0, 4, 1, 0, 1, 0, 0, 0, 7, 7, 3, 0, 7, 0, 0])
        .await
        .unwrap();
    assert_closed(&mut big).await;
    // A 4 GiB announcement too.
    let mut huge = s.client().await;
    huge.send_raw(&[0xff, 0xff, 0xff, 0xff]).await.unwrap();
    assert_closed(&mut huge).await;
}

#[tokio::test]
async fn connection_limit_closes_extra_connections_at_once() {
    let s = TestServer::start_with(|c| c.server.max_connections = 2).await;
    seed_spec_users(s.store.as_ref()).await;
    let mut a = s.client().await;
    let mut b = s.client().await;
    assert_eq!(
        login(&mut a, "zhangyl", GOOD_PASSWORD).await.result_code,
        Some(0)
    );
    assert_eq!(
        login(&mut b, "zhangyl", GOOD_PASSWORD).await.result_code,
        Some(0)
    );
    let mut extra = s.client().await;
    assert_closed(&mut extra).await;
    // The open ones are unaffected, and a freed slot is reusable.
    assert_eq!(
        login(&mut a, "zhangyl", GOOD_PASSWORD).await.result_code,
        Some(0)
    );
    drop(b);
    let mut accepted = None;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut c = s.client().await;
        let body = validate_body(b"zhangyl", GOOD_PASSWORD.as_bytes(), Some(b"AB"));
        if c.send_pdu(Pdu::new(7, 0x0703, 7, body)).await.is_ok()
            && let Some(f) = next_frame(&mut c).await
        {
            accepted = Some(f);
            break;
        }
    }
    let f = accepted.expect("a connection is accepted once a slot frees up");
    assert_eq!(ImValidateRsp::decode(f.body).unwrap().result_code, Some(0));
}

#[tokio::test]
async fn pipelined_requests_on_one_connection_are_all_answered() {
    // One request at a time, and no timer that could wake a stalled
    // connection: each finished request must resume reading by itself.
    let s = TestServer::start_with(|c| {
        c.server.max_in_flight_per_connection = 1;
        c.server.heartbeat_interval_ms = 60_000;
        c.server.idle_timeout_ms = 120_000;
    })
    .await;
    seed_spec_users(s.store.as_ref()).await;
    let mut c = s.client().await;
    let mut bytes = Vec::new();
    for seq in 1..=200u16 {
        let body = validate_body(
            b"zhangyl",
            GOOD_PASSWORD.as_bytes(),
            Some(&seq.to_be_bytes()),
        );
        bytes.extend_from_slice(&Pdu::new(7, 0x0703, seq, body).to_bytes().unwrap());
    }
    c.send_raw(&bytes).await.unwrap();
    let mut seen = vec![false; 201];
    tokio::time::timeout(Duration::from_secs(20), async {
        for _ in 0..200 {
            let f = next_frame(&mut c).await.expect("reply");
            let rsp = ImValidateRsp::decode(f.body).unwrap();
            assert_eq!(
                rsp.attach_data.as_deref(),
                Some(&f.header.seq_num.to_be_bytes()[..])
            );
            seen[f.header.seq_num as usize] = true;
        }
    })
    .await
    .expect("all replies long before any timer fires");
    assert!(seen[1..].iter().all(|s| *s));
}

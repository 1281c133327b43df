//! Message ids and unread counters under concurrency, on every backend:
//! many connections sending into one conversation and one group while
//! read acks run; one connection pipelining sends without waiting.
//!
//! Sized by `TT_TEST_SENDERS` × `TT_TEST_SENDS` (defaults 8 × 200; raise
//! them to use this as a load test).

mod common;

use std::collections::HashSet;
use tt_dbproxy::store::prelude::*;

use common::*;
use prost::Message;
use tt_dbproxy::client::Client;
use tt_dbproxy::wire::Pdu;
use tt_proto::im::message::{ImMsgData, ImMsgDataReadAck};

fn size(var: &str, default: u32) -> u32 {
    std::env::var(var)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn msg(from: u32, to: u32, msg_type: i32, text: &str) -> ImMsgData {
    ImMsgData {
        from_user_id: Some(from),
        to_session_id: Some(to),
        msg_id: Some(0),
        create_time: Some(1000),
        msg_type: Some(msg_type),
        msg_data: Some(text.as_bytes().to_vec()),
        attach_data: ab(),
    }
}

async fn send(c: &mut Client, m: &ImMsgData) -> u32 {
    let rsp: ImMsgData = call(c, 0x0301, m, 3, 0x0301).await;
    rsp.msg_id.unwrap_or(0)
}

async fn ids_stored(s: &TestServer, group: bool, count: u32) -> Vec<u32> {
    let rows = if group {
        s.store.group_history(5, 0, 0, count + 10).await.unwrap()
    } else {
        s.store.single_history(1, 2, 0, count + 10).await.unwrap()
    };
    rows.iter().map(|r| r.msg_id).collect()
}

async fn concurrent_sends_get_unique_ids_and_exact_counters(b: Backend) {
    let senders = size("TT_TEST_SENDERS", 8);
    let sends = size("TT_TEST_SENDS", 200);
    let s = TestServer::start_on(b, |c| c.server.max_in_flight_per_connection = 64).await;
    s.store.add_group_member(5, 1, 1).await.unwrap();
    s.store.add_group_member(5, 2, 1).await.unwrap();
    let addr = s.addr;
    let mut tasks = Vec::new();
    for k in 0..senders {
        tasks.push(tokio::spawn(async move {
            let mut c = Client::connect(addr).await.unwrap();
            let mut got = (Vec::new(), Vec::new());
            for i in 0..sends {
                // Senders alternate direction in the pair and send to the group.
                let (from, to) = if (k + i) % 2 == 0 { (1, 2) } else { (2, 1) };
                got.0
                    .push(send(&mut c, &msg(from, to, 1, &format!("{k}-{i}"))).await);
                got.1
                    .push(send(&mut c, &msg(from, 5, 0x11, &format!("{k}-{i}"))).await);
            }
            got
        }));
    }
    // Read acks race with the sends.
    let acker = tokio::spawn(async move {
        let mut c = Client::connect(addr).await.unwrap();
        for i in 0..sends {
            let ack = ImMsgDataReadAck {
                user_id: Some(2),
                session_id: Some(1),
                msg_id: Some(0),
                session_type: Some(1),
            };
            c.send_pdu(Pdu::new(3, 0x0303, i as u16, ack.encode_to_vec()))
                .await
                .unwrap();
            let gack = ImMsgDataReadAck {
                user_id: Some(2),
                session_id: Some(5),
                msg_id: Some(0),
                session_type: Some(2),
            };
            c.send_pdu(Pdu::new(3, 0x0303, i as u16, gack.encode_to_vec()))
                .await
                .unwrap();
            tokio::task::yield_now().await;
        }
        c
    });
    let (mut single, mut group) = (Vec::new(), Vec::new());
    for t in tasks {
        let (a, g) = t.await.unwrap();
        single.extend(a);
        group.extend(g);
    }
    let mut acker = acker.await.unwrap();
    let total = senders * sends;
    for (label, ids, is_group) in [("single", &single, false), ("group", &group, true)] {
        assert!(ids.iter().all(|id| *id != 0), "{label}: every send stored");
        let unique: HashSet<u32> = ids.iter().copied().collect();
        assert_eq!(unique.len() as u32, total, "{label}: ids unique");
        let mut stored = ids_stored(&s, is_group, total).await;
        assert_eq!(stored.len() as u32, total, "{label}: each stored once");
        stored.sort_unstable();
        let mut sent = ids.clone();
        sent.sort_unstable();
        assert_eq!(
            stored, sent,
            "{label}: the acknowledged ids are the stored ones"
        );
    }
    // Quiet final phase: make sure every read ack has been applied, then
    // N more sends to user 2 → exactly N unread.
    let probe = validate_body(b"nobody", b"x", Some(b"p"));
    acker
        .send_pdu(Pdu::new(7, 0x0703, 9999, probe))
        .await
        .unwrap();
    acker.wait_reply(9999, 0x0704).await.unwrap();
    eventually("read acks applied", || async {
        s.store.finished(tt_dbproxy::store::StoreOp::ClearUnread) == u64::from(sends)
            && s.store.finished(tt_dbproxy::store::StoreOp::MarkGroupRead) == u64::from(sends)
    })
    .await;
    let ack = ImMsgDataReadAck {
        user_id: Some(2),
        session_id: Some(1),
        msg_id: Some(0),
        session_type: Some(1),
    };
    send_and_wait(
        &s,
        &mut acker,
        0x0303,
        ack.encode_to_vec(),
        tt_dbproxy::store::StoreOp::ClearUnread,
    )
    .await;
    let gack = ImMsgDataReadAck {
        user_id: Some(2),
        session_id: Some(5),
        msg_id: Some(0),
        session_type: Some(2),
    };
    send_and_wait(
        &s,
        &mut acker,
        0x0303,
        gack.encode_to_vec(),
        tt_dbproxy::store::StoreOp::MarkGroupRead,
    )
    .await;
    let n = 7;
    for i in 0..n {
        send(&mut acker, &msg(1, 2, 1, &format!("quiet {i}"))).await;
        send(&mut acker, &msg(1, 5, 0x11, &format!("quiet {i}"))).await;
    }
    assert_eq!(s.store.unread_counts(2).await.unwrap(), vec![(1, n)]);
    let (total_g, mark) = s.store.group_counter(2, 5).await.unwrap().unwrap();
    assert_eq!(total_g - mark, n);
}

async fn pipelined_sends_into_one_conversation_keep_their_order(b: Backend) {
    // 200 sends queued behind each other: the last waits for all the
    // others, which on a loaded debug build can pass the default 2 s
    // request deadline (its clock starts at arrival); ordering is tested
    // here, not the deadline.
    let s = TestServer::start_on(b, |c| {
        c.server.max_in_flight_per_connection = 256;
        c.storage.request_timeout_ms = 60_000;
    })
    .await;
    let mut c = s.client().await;
    let n = 200u16;
    let mut bytes = Vec::new();
    for seq in 1..=n {
        let body = msg(1, 2, 1, &seq.to_string()).encode_to_vec();
        bytes.extend_from_slice(&Pdu::new(3, 0x0301, seq, body).to_bytes().unwrap());
    }
    c.send_raw(&bytes).await.unwrap();
    let mut by_seq = vec![0u32; usize::from(n) + 1];
    for _ in 0..n {
        let f = next_frame(&mut c).await.expect("reply");
        let rsp = ImMsgData::decode(f.body).unwrap();
        assert_eq!(
            rsp.msg_data.as_deref(),
            Some(f.header.seq_num.to_string().as_bytes())
        );
        by_seq[usize::from(f.header.seq_num)] = rsp.msg_id.unwrap_or(0);
    }
    let ids: Vec<u32> = by_seq[1..].to_vec();
    assert_eq!(
        ids,
        (1..=u32::from(n)).collect::<Vec<_>>(),
        "ids follow the arrival order"
    );
}

on_every_backend!(
    concurrent_sends_get_unique_ids_and_exact_counters,
    pipelined_sends_into_one_conversation_keep_their_order,
);

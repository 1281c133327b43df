//! Slow clients over real TCP: a frame that has started must complete
//! within `server.frame_timeout_ms`, while complete frames sent slowly
//! keep a connection open; the idle timeout counts from the last complete
//! frame; a reload of the frame timeout applies to open connections.

mod common;

use std::time::Duration;

use common::*;
use tokio::time::Instant;
use tt_dbproxy::client::Client;
use tt_dbproxy::config::ConfigSource;
use tt_dbproxy::state::ReloadSource;
use tt_dbproxy::wire::Pdu;
use tt_dbproxy::wire::command::cid;

const HEARTBEAT: [u8; 16] = [0, 0, 0, 0x10, 0, 1, 0, 0, 0, 7, 7, 1, 0, 0, 0, 0];

/// A complete login frame, to be sent in pieces.
fn login_frame(seq: u16) -> Vec<u8> {
    let body = validate_body(b"zhangyl", GOOD_PASSWORD.as_bytes(), Some(b"AB"));
    Pdu::new(7, 0x0703, seq, body).to_bytes().unwrap().to_vec()
}

/// The current value of a counter of the process-wide recorder.
fn counter(name_and_labels: &str) -> f64 {
    sample(&tt_dbproxy::metrics::render(), name_and_labels)
}

const FRAME_TIMEOUTS: &str = r#"tt_dbproxy_connections_closed_total{reason="frame_timeout"}"#;
const IDLE_TIMEOUTS: &str = r#"tt_dbproxy_connections_closed_total{reason="idle_timeout"}"#;

/// Sends `frame` one byte every `every`, never its last byte, until the
/// server closes the connection (heartbeats from the server are skipped).
/// Returns how long after the first byte the close came, or `None` if the
/// connection was still open after `give_up`.
async fn dribble_until_closed(
    c: &mut Client,
    frame: &[u8],
    every: Duration,
    give_up: Duration,
) -> Option<Duration> {
    let mut sent = 0;
    let mut first_byte: Option<Instant> = None;
    let start = Instant::now();
    let tick = tokio::time::interval(every);
    tokio::pin!(tick);
    loop {
        tokio::select! {
            frame_in = c.next_frame() => match frame_in {
                Ok(Some(p)) if p.header.command_id == cid::HEARTBEAT => {}
                Ok(Some(p)) => panic!("a partial frame got a reply: {:?}", p.header),
                Ok(None) | Err(_) => return Some(first_byte.map_or(Duration::ZERO, |t| t.elapsed())),
            },
            _ = tick.tick() => {
                if sent + 1 < frame.len() {
                    if c.send_raw(&frame[sent..=sent]).await.is_err() {
                        return Some(first_byte.map_or(Duration::ZERO, |t| t.elapsed()));
                    }
                    first_byte.get_or_insert_with(Instant::now);
                    sent += 1;
                }
            }
        }
        if start.elapsed() > give_up {
            return None;
        }
    }
}

/// A frame announcing 1,000 bytes: long enough to dribble for minutes.
fn long_frame() -> Vec<u8> {
    let mut f = vec![0, 0, 0x03, 0xe8, 0, 1, 0, 0, 0, 7, 7, 3, 0, 7, 0, 0];
    f.resize(1000, b'x');
    f
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dribbling_client_is_closed_after_frame_timeout_while_others_are_served() {
    tt_dbproxy::metrics::install();
    let s = TestServer::start_with(|c| {
        c.server.frame_timeout_ms = 300;
        c.server.idle_timeout_ms = 60_000;
    })
    .await;
    seed_spec_users(s.store.as_ref()).await;
    let before = counter(FRAME_TIMEOUTS);
    let mut good = s.client().await;
    let stop = tokio_util::sync::CancellationToken::new();
    let stopped = stop.clone();
    // A well-behaved client keeps logging in meanwhile.
    let served = tokio::spawn(async move {
        let mut answers = 0u32;
        while !stopped.is_cancelled() {
            assert_eq!(
                login(&mut good, "zhangyl", GOOD_PASSWORD).await.result_code,
                Some(0)
            );
            answers += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (answers, good)
    });
    let mut slow = s.client().await;
    let closed_after = dribble_until_closed(
        &mut slow,
        &login_frame(7),
        Duration::from_millis(50),
        Duration::from_secs(20),
    )
    .await
    .expect("the dribbling client is closed");
    stop.cancel();
    let (answers, mut good) = served.await.unwrap();
    assert!(
        closed_after >= Duration::from_millis(300),
        "closed {closed_after:?} after its first byte, before the frame timeout"
    );
    assert!(
        answers > 0,
        "the well-behaved client was answered meanwhile"
    );
    assert_eq!(
        login(&mut good, "zhangyl", GOOD_PASSWORD).await.result_code,
        Some(0),
        "and is still served"
    );
    assert!(counter(FRAME_TIMEOUTS) > before);
}

#[tokio::test]
async fn complete_frames_sent_slowly_but_regularly_keep_the_connection() {
    let s = TestServer::start_with(|c| {
        c.server.frame_timeout_ms = 300;
        c.server.idle_timeout_ms = 2_000;
    })
    .await;
    seed_spec_users(s.store.as_ref()).await;
    let mut c = s.client().await;
    // Each frame in two halves 100 ms apart, then a pause longer than the
    // frame timeout; 5 rounds take about 2.5 s, more than the idle timeout.
    for _ in 0..5 {
        c.send_raw(&HEARTBEAT[..7]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        c.send_raw(&HEARTBEAT[7..]).await.unwrap();
        assert_silent(&mut c, 400).await;
    }
    let frame = login_frame(9);
    let (head, tail) = frame.split_at(frame.len() / 2);
    c.send_raw(head).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    c.send_raw(tail).await.unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(10), c.wait_reply(9, 0x0704))
        .await
        .expect("reply in time")
        .expect("the connection is open");
    assert_eq!(reply.header.seq_num, 9);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_time_counts_from_the_last_complete_frame_not_the_last_byte() {
    tt_dbproxy::metrics::install();
    let s = TestServer::start_with(|c| {
        c.server.idle_timeout_ms = 500;
        c.server.frame_timeout_ms = 60_000;
    })
    .await;
    let before = counter(IDLE_TIMEOUTS);
    let mut c = s.client().await;
    // A complete frame first: the idle clock starts from it.
    c.send_raw(&HEARTBEAT).await.unwrap();
    let closed_after = dribble_until_closed(
        &mut c,
        &long_frame(),
        Duration::from_millis(50),
        Duration::from_secs(20),
    )
    .await
    .expect("bytes of an unfinished frame do not keep the connection open");
    assert!(
        closed_after >= Duration::from_millis(400),
        "closed {closed_after:?} after the first dribbled byte"
    );
    assert!(counter(IDLE_TIMEOUTS) > before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reloaded_frame_timeout_applies_to_open_connections() {
    let s = TestServer::start_with(|c| c.server.frame_timeout_ms = 60_000).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tt.toml");
    std::fs::write(&file, "[server]\nframe_timeout_ms = 0\n").unwrap();
    s.state
        .enable_reload(ReloadSource::new(ConfigSource::Toml(file.clone()), None));
    let refused = tt_dbproxy::reload::reload(&s.state).await.unwrap_err();
    assert!(
        refused.to_string().contains("server.frame_timeout_ms"),
        "{refused}"
    );
    assert_eq!(s.state.config().server.frame_timeout_ms, 60_000);

    let mut slow = s.client().await;
    assert_eq!(
        dribble_until_closed(
            &mut slow,
            &long_frame(),
            Duration::from_millis(50),
            Duration::from_millis(600),
        )
        .await,
        None,
        "open under the 60 s frame timeout"
    );
    std::fs::write(&file, "[server]\nframe_timeout_ms = 300\n").unwrap();
    let outcome = tt_dbproxy::reload::reload(&s.state).await.unwrap();
    assert!(
        outcome.applied.contains(&"server.frame_timeout_ms"),
        "{outcome:?}"
    );
    // The dribble goes on: the frame is now older than the new timeout.
    let mut rest = long_frame();
    rest.drain(..16);
    assert!(
        dribble_until_closed(
            &mut slow,
            &rest,
            Duration::from_millis(50),
            Duration::from_secs(20)
        )
        .await
        .is_some(),
        "closed under the reloaded frame timeout"
    );
    // A fresh connection is served as before.
    seed_spec_users(s.store.as_ref()).await;
    let mut fresh = s.client().await;
    assert_eq!(
        login(&mut fresh, "zhangyl", GOOD_PASSWORD)
            .await
            .result_code,
        Some(0)
    );
}

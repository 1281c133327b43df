//! Who may connect and how often, over real TCP from distinct loopback
//! source addresses (127.0.0.2, 127.0.0.3, ...): the per-peer cap, the
//! allow-list (IPv4-mapped peers of a dual-stack listener included), their
//! reload, refusals counted by reason and logged at most once a second,
//! and invalid entries refused at start and at reload.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use common::process::{ServerProcess, run};
use common::*;
use tt_dbproxy::client::Client;
use tt_dbproxy::config::ConfigSource;
use tt_dbproxy::state::ReloadSource;

/// A connection to `server` from the loopback address `from`.
async fn from(from: &str, server: SocketAddr) -> Client {
    let ip: IpAddr = from.parse().unwrap();
    Client::connect_from(SocketAddr::new(ip, 0), server)
        .await
        .unwrap()
}

/// Whether the connection is answered (a login with the right password).
async fn served(c: &mut Client) -> bool {
    login(c, "zhangyl", GOOD_PASSWORD).await.result_code == Some(0)
}

fn refused_total(reason: &str) -> f64 {
    sample(
        &tt_dbproxy::metrics::render(),
        &format!(r#"tt_dbproxy_connections_refused_total{{reason="{reason}"}}"#),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_peer_cap_closes_extra_connections_of_one_peer_only() {
    tt_dbproxy::metrics::install();
    let s = TestServer::start_with(|c| c.server.max_connections_per_peer = 2).await;
    seed_spec_users(s.store.as_ref()).await;
    let before = refused_total("per_peer");
    let mut a1 = from("127.0.0.2", s.addr).await;
    let mut a2 = from("127.0.0.2", s.addr).await;
    assert!(served(&mut a1).await && served(&mut a2).await);
    let mut a3 = from("127.0.0.2", s.addr).await;
    assert_closed(&mut a3).await;
    assert!(refused_total("per_peer") > before);
    // Another peer is not affected.
    let mut b1 = from("127.0.0.3", s.addr).await;
    let mut b2 = from("127.0.0.3", s.addr).await;
    assert!(served(&mut b1).await && served(&mut b2).await);
    // The open ones keep being served, and a freed place is reusable.
    assert!(served(&mut a1).await);
    drop(a2);
    let mut reused = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let mut c = from("127.0.0.2", s.addr).await;
        if tokio::time::timeout(Duration::from_secs(5), async {
            let body = validate_body(b"zhangyl", GOOD_PASSWORD.as_bytes(), None);
            c.request(7, 0x0703, body, 0x0704).await
        })
        .await
        .is_ok_and(|r| r.is_ok())
        {
            reused = Some(c);
            break;
        }
    }
    assert!(reused.is_some(), "a place freed by a close is reusable");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_allow_list_matches_ipv4_mapped_peers_of_a_dual_stack_listener() {
    tt_dbproxy::metrics::install();
    // An IPv6 socket: IPv4 clients arrive as ::ffff:127.0.0.x.
    let s = TestServer::start_with(|c| {
        c.server.listen = vec!["[::ffff:127.0.0.1]:0".parse().unwrap()];
        c.server.allow_peers = vec![
            "127.0.0.1".parse().unwrap(),
            "127.0.0.4/31".parse().unwrap(),
        ];
    })
    .await;
    seed_spec_users(s.store.as_ref()).await;
    let v4 = SocketAddr::from(([127, 0, 0, 1], s.addr.port()));
    let before = refused_total("not_allowed");
    for allowed in ["127.0.0.1", "127.0.0.4", "127.0.0.5"] {
        let mut c = from(allowed, v4).await;
        assert!(served(&mut c).await, "{allowed}");
    }
    for other in ["127.0.0.2", "127.0.0.6"] {
        let mut c = from(other, v4).await;
        assert_closed(&mut c).await;
    }
    assert!(refused_total("not_allowed") >= before + 2.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_applies_the_allow_list_and_the_per_peer_cap_to_open_connections() {
    let s = TestServer::start().await;
    seed_spec_users(s.store.as_ref()).await;
    let mut kept = from("127.0.0.1", s.addr).await;
    let mut dropped = from("127.0.0.2", s.addr).await;
    let mut also_dropped = from("127.0.0.2", s.addr).await;
    assert!(served(&mut kept).await && served(&mut dropped).await);
    assert!(served(&mut also_dropped).await);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tt.toml");
    s.state
        .enable_reload(ReloadSource::new(ConfigSource::Toml(file.clone()), None));
    // An invalid entry is refused and nothing changes.
    std::fs::write(
        &file,
        "[server]\nallow_peers = [\"127.0.0.1\", \"127.0.0.0/33\"]\n",
    )
    .unwrap();
    let refused = tt_dbproxy::reload::reload(&s.state).await.unwrap_err();
    assert!(
        refused.to_string().contains("server.allow_peers") && refused.to_string().contains("/33"),
        "{refused}"
    );
    assert!(s.state.config().server.allow_peers.is_empty());
    assert!(served(&mut dropped).await);

    std::fs::write(
        &file,
        "[server]\nallow_peers = [\"127.0.0.1/32\", \"::1\"]\nmax_connections_per_peer = 1\n",
    )
    .unwrap();
    let outcome = tt_dbproxy::reload::reload(&s.state).await.unwrap();
    for key in ["server.allow_peers", "server.max_connections_per_peer"] {
        assert!(outcome.applied.contains(&key), "{key}: {outcome:?}");
    }
    // 127.0.0.2 is no longer allowed: its open connections are closed.
    assert_closed(&mut dropped).await;
    assert_closed(&mut also_dropped).await;
    let mut new_from_2 = from("127.0.0.2", s.addr).await;
    assert_closed(&mut new_from_2).await;
    // 127.0.0.1 keeps its connection, and the cap of 1 refuses a second.
    assert!(served(&mut kept).await);
    let mut second = from("127.0.0.1", s.addr).await;
    assert_closed(&mut second).await;
    assert!(served(&mut kept).await);

    // Allowed again: 127.0.0.2 is served once more.
    std::fs::write(&file, "[server]\nmax_connections_per_peer = 0\n").unwrap();
    tt_dbproxy::reload::reload(&s.state).await.unwrap();
    let mut back = from("127.0.0.2", s.addr).await;
    assert!(served(&mut back).await);
    let mut third = from("127.0.0.1", s.addr).await;
    assert!(served(&mut third).await, "no cap");
}

/// Waits until the server has printed a line containing `needle`.
fn wait_for_line(server: &ServerProcess, needle: &str, seen: &mut Vec<String>) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        seen.extend(server.lines_so_far());
        if seen.iter().any(|l| l.contains(needle)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no log line with {needle:?} in {seen:#?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_peers_are_logged_at_most_once_a_second_with_the_count_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::spawn(dir.path(), &[], &[("TT_DBPROXY_ALLOW_PEERS", "127.0.0.1")]);
    const REFUSAL: &str = "peer not in server.allow_peers";
    let mut seen = Vec::new();
    let started = Instant::now();
    for _ in 0..20 {
        let mut c = from("127.0.0.2", server.addr).await;
        assert_closed(&mut c).await;
    }
    wait_for_line(&server, REFUSAL, &mut seen);
    // The 20 refusals above took well under a second, or the test proves
    // nothing about the window; then wait until the window has passed.
    let within_window = started.elapsed() < Duration::from_millis(800);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let mut c = from("127.0.0.2", server.addr).await;
    assert_closed(&mut c).await;
    wait_for_line(&server, "left out", &mut seen);
    // The refusal itself is logged right after the count.
    std::thread::sleep(Duration::from_millis(100));
    seen.extend(server.lines_so_far());
    let refusals: Vec<&String> = seen.iter().filter(|l| l.contains(REFUSAL)).collect();
    let left_out: Vec<&String> = seen.iter().filter(|l| l.contains("left out")).collect();
    assert_eq!(left_out.len(), 1, "{seen:#?}");
    if within_window {
        assert_eq!(refusals.len(), 2, "{seen:#?}");
        assert!(left_out[0].contains("suppressed=19"), "{}", left_out[0]);
    }
    assert!(
        left_out[0].contains("peer not allowed"),
        "the kind is named: {}",
        left_out[0]
    );
    // An allowed peer is served by the same process.
    let mut ok = from("127.0.0.1", server.addr).await;
    let rsp = login(&mut ok, "nobody", GOOD_PASSWORD).await;
    assert_eq!(rsp.result_code, Some(1));
}

#[test]
fn invalid_entries_are_refused_at_start_from_env_toml_and_the_legacy_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["serve"],
        &[("TT_DBPROXY_ALLOW_PEERS", "127.0.0.1,10.0.0.1/8")],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("TT_DBPROXY_ALLOW_PEERS") && err.contains("10.0.0.0/8"),
        "{err}"
    );

    std::fs::write(
        dir.path().join("bad.toml"),
        "[server]\nallow_peers = [\"fd00::/129\"]\nframe_timeout_ms = 0\n",
    )
    .unwrap();
    let out = run(dir.path(), &["serve", "--config", "bad.toml"], &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "server.allow_peers: \"fd00::/129\"",
        "server.frame_timeout_ms: must be between 1 and 86400000 ms",
    ] {
        assert!(err.contains(needle), "{needle:?} in {err}");
    }

    let conf = include_str!("fixtures/dbproxyserver.conf");
    let refused = tt_dbproxy::config::from_legacy_str(
        &format!("{conf}\nAllowPeers=10.0.0.0/8,bogus\n"),
        &|_| None,
    )
    .unwrap_err();
    assert!(
        refused.to_string().contains("AllowPeers: \"bogus\""),
        "{refused}"
    );
    let ok = tt_dbproxy::config::from_legacy_str(
        &format!("{conf}\nAllowPeers=10.0.0.0/8, ::ffff:192.168.0.0/112\n"),
        &|_| None,
    )
    .unwrap();
    assert_eq!(
        ok.server.allow_peers,
        vec![
            "10.0.0.0/8".parse().unwrap(),
            "192.168.0.0/16".parse().unwrap()
        ]
    );
}

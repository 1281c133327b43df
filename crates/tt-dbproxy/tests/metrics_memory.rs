//! Memory stays flat under sustained load while nobody scrapes `/metrics`
//! (here the admin endpoint is off altogether): the recorder's buffered
//! histogram samples are folded into their buckets by its upkeep, not kept
//! until a scrape that never comes. Without upkeep every request leaves
//! about 20 bytes behind, so 25 N requests after a warm-up of N add
//! megabytes.

mod common;

use std::path::Path;

use common::process::{ServerProcess, run};

/// Anonymous resident memory of `pid` in KiB (`RssAnon` in
/// `/proc/<pid>/status`): the heap, without mapped files.
fn rss_anon_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no RssAnon in {status}"))
}

/// `requests` unread summaries over 4 pipelined connections.
fn load(dir: &Path, addr: &str, requests: u64, prepare: bool) {
    let n = requests.to_string();
    let mut args = vec![
        "bench",
        "--addr",
        addr,
        "--workload",
        "unread",
        "--connections",
        "4",
        "--pipeline",
        "16",
        "--users",
        "10",
        "--requests",
        &n,
        "--json",
    ];
    if prepare {
        args.push("--prepare");
    }
    let out = run(dir, &args, &[]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(report["requests"], requests, "{report}");
    assert_eq!(report["errors"], serde_json::json!({}), "{report}");
}

#[test]
fn memory_stays_flat_under_load_without_scrapes() {
    const N: u64 = 20_000;
    const PHASES: usize = 5;
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::spawn(dir.path(), &[], &[("TT_DBPROXY_ADMIN_LISTEN", "")]);
    let addr = server.addr.to_string();
    // Warm-up: caches, pools and allocator arenas reach their working size.
    load(dir.path(), &addr, N, true);
    let mut seen = vec![rss_anon_kib(server.pid())];
    for _ in 0..PHASES {
        load(dir.path(), &addr, 5 * N, false);
        seen.push(rss_anon_kib(server.pid()));
    }
    // Without upkeep the phases add about 2,000 KiB each (measured: 8,200
    // KiB over the five). The allocator takes memory from the system in
    // steps of up to 2 MiB, so with upkeep one such step may still show
    // after the warm-up (measured: 0 to 2,100 KiB over the five phases).
    let grown = seen[PHASES].saturating_sub(seen[0]);
    assert!(
        grown < 5_000,
        "RssAnon grew {grown} KiB over {} requests (KiB after the warm-up and \
         after each phase: {seen:?})",
        PHASES as u64 * 5 * N
    );
}

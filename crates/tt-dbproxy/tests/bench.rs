//! `tt-dbproxy bench` against a real server: bounded runs give JSON with
//! non-zero throughput and no errors; a remote target is refused; the
//! `--direct` baseline runs the same workloads without a server.

mod common;

use common::process::{ServerProcess, run};

fn bench(dir: &std::path::Path, args: &[&str]) -> (bool, serde_json::Value, String) {
    let out = run(dir, args, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let v = serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null);
    (
        out.status.success(),
        v,
        format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)),
    )
}

#[test]
fn bounded_runs_report_throughput_and_no_errors() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::spawn(dir.path(), &[], &[]);
    let addr = server.addr.to_string();
    let (ok, v, text) = bench(
        dir.path(),
        &[
            "bench",
            "--addr",
            &addr,
            "--workload",
            "mixed",
            "--connections",
            "4",
            "--pipeline",
            "4",
            "--requests",
            "400",
            "--users",
            "10",
            "--prepare",
            "--json",
        ],
    );
    assert!(ok, "{text}");
    assert_eq!(v["requests"], 400, "{text}");
    assert!(v["throughput"].as_f64().unwrap_or(0.0) > 0.0, "{text}");
    assert_eq!(v["errors"], serde_json::json!({}), "{text}");
    assert!(v["latency_us"]["p50"].as_u64().unwrap_or(0) > 0, "{text}");
    assert!(
        v["latency_us"]["max"].as_u64() >= v["latency_us"]["p99"].as_u64(),
        "{text}"
    );
    // Duration-bounded, each workload; the users exist from the first run.
    for workload in ["unread", "users", "send", "login"] {
        let (ok, v, text) = bench(
            dir.path(),
            &[
                "bench",
                "--addr",
                &addr,
                "--workload",
                workload,
                "--connections",
                "2",
                "--duration",
                "300ms",
                "--users",
                "10",
                "--prepare",
                "--json",
            ],
        );
        assert!(ok, "{workload}: {text}");
        assert!(
            v["requests"].as_u64().unwrap_or(0) > 0,
            "{workload}: {text}"
        );
        assert_eq!(v["errors"], serde_json::json!({}), "{workload}: {text}");
    }
}

#[test]
fn a_remote_target_needs_allow_remote_and_bad_bounds_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, text) = bench(
        dir.path(),
        &["bench", "--addr", "10.1.2.3:10600", "--requests", "1"],
    );
    assert!(!ok);
    assert!(text.contains("--allow-remote"), "{text}");
    for args in [
        &["--connections", "0"][..],
        &["--pipeline", "5000"],
        &["--duration", "2h"],
        &["--duration", "5x"],
    ] {
        let mut all = vec!["bench", "--addr", "127.0.0.1:1"];
        all.extend_from_slice(args);
        let (ok, _, text) = bench(dir.path(), &all);
        assert!(!ok, "{args:?}: {text}");
    }
}

/// Messages stored in the embedded store of `dir`.
fn stored_messages(dir: &std::path::Path) -> i64 {
    let db = rusqlite::Connection::open(dir.join("data/tt-dbproxy.sqlite3")).unwrap();
    (0..8)
        .map(|shard| {
            db.query_row(
                &format!("SELECT COUNT(*) FROM IMMessage_{shard}"),
                [],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
        })
        .sum()
}

#[test]
fn direct_runs_need_no_server_and_store_what_they_send() {
    let dir = tempfile::tempdir().unwrap();
    let mut stored = 0;
    for workload in ["send", "mixed"] {
        let (ok, v, text) = bench(
            dir.path(),
            &[
                "bench",
                "--direct",
                "--workload",
                workload,
                "--connections",
                "3",
                "--requests",
                "90",
                "--users",
                "10",
                "--prepare",
                "--json",
            ],
        );
        assert!(ok, "{workload}: {text}");
        assert_eq!(v["mode"], "direct", "{text}");
        assert_eq!(v["requests"], 90, "{workload}: {text}");
        assert_eq!(v["errors"], serde_json::json!({}), "{workload}: {text}");
        let now = stored_messages(dir.path());
        if workload == "send" {
            assert_eq!(now, 90, "every send stored");
        } else {
            // Three in ten mixed requests are sends.
            assert!(
                (stored + 20..=stored + 40).contains(&now),
                "{stored} -> {now}"
            );
        }
        stored = now;
    }
}

/// A server stopped by SIGTERM during a run drains: it sends every
/// connection CID_OTHER_STOP_RECV_PACKET. Bench stops sending there,
/// reports the server as draining (not as `unexpected_reply`), ends early
/// and exits 0 — in JSON and in the human-readable report.
#[test]
fn a_draining_server_ends_the_run_without_errors() {
    let dir = tempfile::tempdir().unwrap();
    for json in [true, false] {
        let server = ServerProcess::spawn(dir.path(), &[], &[]);
        let addr = server.addr.to_string();
        let mut args = vec![
            "bench",
            "--addr",
            &addr,
            "--workload",
            "mixed",
            "--connections",
            "16",
            "--duration",
            "20s",
            "--users",
            "10",
            "--prepare",
        ];
        if json {
            args.push("--json");
        }
        let child = std::process::Command::new(common::process::bin())
            .current_dir(dir.path())
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1500));
        server.terminate();
        let started = std::time::Instant::now();
        let out = child.wait_with_output().unwrap();
        let (status, _) = server.wait(std::time::Duration::from_secs(30));
        assert!(status.success(), "server exit: {status:?}");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let text = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
        assert!(
            out.status.success(),
            "json={json}: {:?}: {text}",
            out.status
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(15),
            "bench ended with the drain, not at --duration: {text}"
        );
        assert!(!text.contains("unexpected_reply"), "{text}");
        if json {
            let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
            assert_eq!(v["server_draining"], 16, "{text}");
            assert_eq!(v["errors"], serde_json::json!({}), "{text}");
            assert!(v["requests"].as_u64().unwrap_or(0) > 0, "{text}");
        } else {
            assert!(
                stdout.contains("server draining: 16 of 16 connections"),
                "{text}"
            );
            assert!(stdout.contains("errors: none"), "{text}");
        }
    }
}

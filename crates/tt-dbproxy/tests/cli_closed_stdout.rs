//! Every printing subcommand, run through the real binary with its stdout a
//! pipe whose read end is already closed (as after `| head -1`), exits with
//! status 0 and says nothing on stderr: no panic, no backtrace, and the
//! work it was asked to do is done.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::process::{ServerProcess, bin, run};

/// Runs the binary in `dir` with stdout a pipe nobody reads any more.
fn run_into_closed_pipe(dir: &Path, args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Command::new(bin())
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

fn assert_quiet_success(args: &[&str], out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    assert!(stderr.trim().is_empty(), "{args:?}: stderr {stderr:?}");
    assert!(out.status.success(), "{args:?}: {:?} {stderr}", out.status);
}

#[test]
fn printing_subcommands_exit_zero_when_stdout_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let commands: &[&[&str]] = &[
        &["migrate"],
        &["admin", "user", "add", "alice", "--password", "123456"],
        &["admin", "user", "add", "bob", "--password", "123456"],
        &["admin", "user", "set", "1", "--nick", "al"],
        &["admin", "user", "list"],
        &["admin", "depart", "add", "dev"],
        &["admin", "depart", "list"],
        &[
            "admin",
            "group",
            "add",
            "team",
            "--creator",
            "1",
            "--members",
            "1,2",
        ],
        &["admin", "group", "list"],
        &["admin", "group", "members", "1"],
    ];
    for args in commands {
        let out = run_into_closed_pipe(dir.path(), args);
        assert_quiet_success(args, &out);
    }
    // The writes were made although nobody read what they printed.
    let list = run(dir.path(), &["admin", "user", "list"], &[]);
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(text.contains("alice") && text.contains("bob"), "{text}");
    assert!(text.contains("al "), "nick was set: {text}");
    let members = run(dir.path(), &["admin", "group", "members", "1"], &[]);
    assert_eq!(String::from_utf8_lossy(&members.stdout).lines().count(), 2);

    let server = ServerProcess::spawn(dir.path(), &[], &[]);
    let addr = server.addr.to_string();
    let call: &[&str] = &[
        "call",
        "--addr",
        &addr,
        "CID_BUDDY_LIST_ALL_USER_REQUEST",
        r#"{"user_id":1,"latest_update_time":0}"#,
    ];
    let out = run_into_closed_pipe(dir.path(), call);
    assert_quiet_success(call, &out);
    for json in [false, true] {
        let mut bench = vec![
            "bench",
            "--addr",
            &addr,
            "--workload",
            "unread",
            "--connections",
            "1",
            "--requests",
            "20",
            "--users",
            "2",
        ];
        if json {
            bench.push("--json");
        }
        let out = run_into_closed_pipe(dir.path(), &bench);
        assert_quiet_success(&bench, &out);
    }
}

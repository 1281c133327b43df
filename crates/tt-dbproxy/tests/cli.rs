//! The command line end to end: `admin user add`, `serve` in an empty
//! directory, `call`, restart persistence (the foundation's acceptance
//! scenario), and `call`'s exit codes.

mod common;

use std::path::Path;
use std::time::Duration;

use common::process::{ServerProcess, run};

const LOGIN_JSON: &str =
    r#"{"user_name":"alice","password":"e10adc3949ba59abbe56e057f20f883e","attach_data":"QUI="}"#;

fn call(dir: &Path, addr: &str, command: &str, json: &str) -> (bool, serde_json::Value, String) {
    let out = run(
        dir,
        &[
            "call",
            "--addr",
            addr,
            "--timeout-ms",
            "5000",
            command,
            json,
        ],
        &[],
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let value = serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null);
    (out.status.success(), value, stdout)
}

#[test]
fn add_user_serve_call_login_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["admin", "user", "add", "alice", "--password", "123456"],
        &[],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("added user alice with id 1"));

    for round in 0..2 {
        let server = ServerProcess::spawn(dir.path(), &[], &[]);
        let addr = server.addr.to_string();
        let (ok, v, text) = call(dir.path(), &addr, "CID_OTHER_VALIDATE_REQ", LOGIN_JSON);
        assert!(ok, "round {round}: {text}");
        assert!(text.contains("\"result_code\": 0"), "{text}");
        assert!(text.contains("\"attach_data\": \"QUI=\""), "{text}");
        assert_eq!(v["user_name"], "alice");
        assert_eq!(v["result_string"], "成功");
        assert_eq!(v["user_info"]["user_id"], 1);
        assert_eq!(v["user_info"]["user_real_name"], "alice");
        assert_eq!(v["user_info"]["user_nick_name"], "alice");
        assert_eq!(v["user_info"]["status"], 0);

        let wrong = LOGIN_JSON.replace("e10adc3949ba59abbe56e057f20f883e", "000");
        let (ok, v, text) = call(dir.path(), &addr, "0x0703", &wrong);
        assert!(ok, "{text}");
        assert!(text.contains("\"result_code\": 1"), "{text}");
        assert!(v.get("user_info").is_none(), "{text}");
        assert_eq!(v["attach_data"], "QUI=");

        server.terminate();
        let (status, _) = server.wait(Duration::from_secs(10));
        assert!(status.success());
    }
    assert!(dir.path().join("data/tt-dbproxy.sqlite3").is_file());
}

#[test]
fn admin_user_list_shows_added_users() {
    let dir = tempfile::tempdir().unwrap();
    for (name, nick) in [("alice", "Alice A"), ("bob", "Bob")] {
        let out = run(
            dir.path(),
            &[
                "admin",
                "user",
                "add",
                name,
                "--password",
                "pw",
                "--nick",
                nick,
                "--depart",
                "3",
            ],
            &[],
        );
        assert!(out.status.success(), "{out:?}");
    }
    let out = run(dir.path(), &["admin", "user", "list"], &[]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert!(rows[0].contains("alice") && rows[0].contains("Alice A") && rows[0].contains('3'));
    assert!(rows[1].contains("bob"));
}

#[test]
fn admin_writes_while_the_server_runs() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::spawn(dir.path(), &[], &[]);
    let out = run(
        dir.path(),
        &["admin", "user", "add", "alice", "--password", "123456"],
        &[],
    );
    assert!(out.status.success(), "{out:?}");
    let (ok, v, text) = call(
        dir.path(),
        &server.addr.to_string(),
        "CID_OTHER_VALIDATE_REQ",
        LOGIN_JSON,
    );
    assert!(ok, "{text}");
    assert_eq!(v["result_code"], 0);
}

#[test]
fn call_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listening: non-zero.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    let (ok, _, _) = call(dir.path(), &addr, "CID_OTHER_VALIDATE_REQ", LOGIN_JSON);
    assert!(!ok);

    // A peer that never answers: non-zero after the timeout.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let out = run(
        dir.path(),
        &[
            "call",
            "--addr",
            &addr,
            "--timeout-ms",
            "300",
            "0x0703",
            LOGIN_JSON,
        ],
        &[],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no reply"));

    // A peer that closes at once: non-zero.
    let closer = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closer.local_addr().unwrap().to_string();
    let t = std::thread::spawn(move || drop(closer.accept()));
    let (ok, _, _) = call(dir.path(), &addr, "0x0703", LOGIN_JSON);
    assert!(!ok);
    t.join().unwrap();

    // Bad command names and bad JSON are refused before connecting.
    for (cmd, json) in [
        ("CID_NOPE", "{}"),
        ("0x0703", "{\"user_name\": 5}"),
        ("0x0703", "{\"nope\": 1}"),
    ] {
        let out = run(
            dir.path(),
            &["call", "--addr", "127.0.0.1:1", cmd, json],
            &[],
        );
        assert!(!out.status.success(), "{cmd} {json}");
    }
}

#[test]
fn call_without_a_reply_exits_zero_once_sent() {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::spawn(dir.path(), &[], &[]);
    let out = run(
        dir.path(),
        &[
            "call",
            "--addr",
            &server.addr.to_string(),
            "CID_FILE_ADD_OFFLINE_REQ",
            r#"{"from_user_id":1,"to_user_id":2,"task_id":"t","file_name":"f","file_size":3}"#,
        ],
        &[],
    );
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no reply"));
}

#[test]
fn admin_departments_and_user_set_are_served_to_clients() {
    let dir = tempfile::tempdir().unwrap();
    let ok = |args: &[&str]| {
        let out = run(dir.path(), args, &[]);
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(ok(&["admin", "depart", "add", "研发", "--priority", "2"]).contains("with id 1"));
    assert!(ok(&["admin", "depart", "add", "后端", "--parent", "1"]).contains("with id 2"));
    let list = ok(&["admin", "depart", "list"]);
    assert!(list.contains("研发") && list.contains("后端"), "{list}");
    ok(&["admin", "user", "add", "alice", "--password", "123456"]);
    ok(&[
        "admin",
        "user",
        "set",
        "1",
        "--nick",
        "Alice",
        "--depart",
        "2",
        "--sign-info",
        "hi 'there'",
    ]);

    let server = ServerProcess::spawn(dir.path(), &[], &[]);
    let addr = server.addr.to_string();
    let (ok_call, v, text) = call(
        dir.path(),
        &addr,
        "CID_BUDDY_LIST_USER_INFO_REQUEST",
        r#"{"user_id":1,"user_id_list":[1,2],"attach_data":"QUI="}"#,
    );
    assert!(ok_call, "{text}");
    let users = v["user_info_list"].as_array().expect("user list");
    assert_eq!(users.len(), 1, "{text}");
    assert_eq!(users[0]["user_nick_name"], "Alice");
    assert_eq!(users[0]["department_id"], 2);
    assert_eq!(users[0]["sign_info"], "hi 'there'");

    let (_, v, text) = call(
        dir.path(),
        &addr,
        "0x0210",
        r#"{"user_id":1,"latest_update_time":0}"#,
    );
    let depts = v["dept_list"].as_array().expect("departments");
    assert_eq!(depts.len(), 2, "{text}");
    assert_eq!(depts[0]["dept_name"], "研发");
    assert_eq!(depts[0]["dept_status"], "DEPT_STATUS_OK");
    assert_eq!(depts[1]["parent_dept_id"], 1);

    // A status change is visible to the next login and to incremental syncs.
    ok(&["admin", "user", "set", "1", "--status", "3"]);
    let (_, v, _) = call(dir.path(), &addr, "CID_OTHER_VALIDATE_REQ", LOGIN_JSON);
    assert_eq!(v["result_code"], 1);
    ok(&[
        "admin",
        "user",
        "set",
        "1",
        "--status",
        "0",
        "--password",
        "654321",
    ]);
    let (_, v, _) = call(dir.path(), &addr, "CID_OTHER_VALIDATE_REQ", LOGIN_JSON);
    assert_eq!(v["result_code"], 1, "old password no longer works");
    let new_login = LOGIN_JSON.replace(
        "e10adc3949ba59abbe56e057f20f883e",
        "c33367701511b4f6020ec61ded352059",
    );
    let (_, v, _) = call(dir.path(), &addr, "CID_OTHER_VALIDATE_REQ", &new_login);
    assert_eq!(v["result_code"], 0);

    let missing = run(
        dir.path(),
        &["admin", "user", "set", "99", "--nick", "x"],
        &[],
    );
    assert!(!missing.status.success());
    let nothing = run(dir.path(), &["admin", "user", "set", "1"], &[]);
    assert!(!nothing.status.success());
}

#[test]
fn messages_and_groups_through_call_and_admin() {
    let dir = tempfile::tempdir().unwrap();
    let ok = |args: &[&str]| {
        let out = run(dir.path(), args, &[]);
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(
        ok(&[
            "admin",
            "group",
            "add",
            "team",
            "--creator",
            "1",
            "--members",
            "1,2,3"
        ])
        .contains("with id 1")
    );
    let list = ok(&["admin", "group", "list"]);
    assert!(
        list.contains("team") && list.contains("fixed") && list.contains(" 3 "),
        "{list}"
    );
    assert_eq!(
        ok(&["admin", "group", "members", "1"])
            .lines()
            .collect::<Vec<_>>(),
        vec!["1", "2", "3"]
    );

    let server = ServerProcess::spawn(dir.path(), &[], &[]);
    let addr = server.addr.to_string();
    // "aGk=" is "hi".
    let send = r#"{"from_user_id":2,"to_session_id":1,"msg_id":0,"create_time":1000,"msg_type":"MSG_TYPE_GROUP_TEXT","msg_data":"aGk=","attach_data":"QUI="}"#;
    let (sent_ok, v, text) = call(dir.path(), &addr, "CID_MSG_DATA", send);
    assert!(sent_ok, "{text}");
    assert_eq!(v["msg_id"], 1);
    assert_eq!(v["msg_data"], "aGk=");
    let (_, v, text) = call(
        dir.path(),
        &addr,
        "CID_MSG_UNREAD_CNT_REQUEST",
        r#"{"user_id":1}"#,
    );
    assert_eq!(v["total_cnt"], 1, "{text}");
    assert_eq!(
        v["unreadinfo_list"][0]["latest_msg_type"],
        "MSG_TYPE_GROUP_TEXT"
    );
    let (_, v, text) = call(
        dir.path(),
        &addr,
        "CID_GROUP_INFO_REQUEST",
        r#"{"user_id":1,"group_version_list":[{"group_id":1,"version":0}]}"#,
    );
    assert_eq!(
        v["group_info_list"][0]["group_member_list"],
        serde_json::json!([1, 2, 3]),
        "{text}"
    );
    let ack = run(
        dir.path(),
        &[
            "call",
            "--addr",
            &addr,
            "CID_MSG_READ_ACK",
            r#"{"user_id":1,"session_id":1,"msg_id":1,"session_type":"SESSION_TYPE_GROUP"}"#,
        ],
        &[],
    );
    assert!(ack.status.success(), "{ack:?}");
}

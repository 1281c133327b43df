//! The embedded server killed under load, and a full disk.

use crate::harness::*;

/// The rows of the embedded store's message tables.
fn sqlite_rows(data: &std::path::Path) -> Vec<Row> {
    let c = rusqlite::Connection::open(data.join(tt_dbproxy::store::sqlite::DB_FILE_NAME)).unwrap();
    c.busy_timeout(Duration::from_secs(5)).unwrap();
    let mut rows = Vec::new();
    for n in 0..8 {
        for (group, sql) in [
            (
                false,
                format!("SELECT relateId, msgId, content, status FROM IMMessage_{n}"),
            ),
            (
                true,
                format!("SELECT groupId, msgId, content, status FROM IMGroupMessage_{n}"),
            ),
        ] {
            let mut stmt = c.prepare(&sql).unwrap();
            let found = stmt
                .query_map([], |r| {
                    Ok((
                        (group, r.get::<_, u32>(0)?),
                        r.get::<_, u32>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, u32>(3)? == 0,
                    ))
                })
                .unwrap()
                .collect::<rusqlite::Result<Vec<Row>>>()
                .unwrap();
            rows.extend(found);
        }
    }
    rows
}

/// Embedded counters are committed with their messages: exactly the rows.
fn check_sqlite_counters(data: &std::path::Path, rows: &[Row]) {
    let c = rusqlite::Connection::open(data.join(tt_dbproxy::store::sqlite::DB_FILE_NAME)).unwrap();
    let mut expected: HashMap<(u32, u32), u32> = HashMap::new();
    for n in 0..8 {
        let mut stmt = c
            .prepare(&format!("SELECT fromId, toId, COUNT(*) FROM IMMessage_{n} WHERE status = 0 GROUP BY fromId, toId"))
            .unwrap();
        for r in stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, u32>(0)?,
                    r.get::<_, u32>(1)?,
                    r.get::<_, u32>(2)?,
                ))
            })
            .unwrap()
        {
            let (f, t, k) = r.unwrap();
            *expected.entry((t, f)).or_default() += k;
        }
    }
    let mut stmt = c
        .prepare("SELECT user_id, peer_id, count FROM tt_unread")
        .unwrap();
    let counters: HashMap<(u32, u32), u32> = stmt
        .query_map([], |r| Ok(((r.get(0)?, r.get(1)?), r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(counters, expected, "unread counters vs rows");
    let total: u32 = c
        .query_row(
            "SELECT count FROM tt_group_total WHERE group_id = ?1",
            [GROUP],
            |r| r.get(0),
        )
        .unwrap_or(0);
    let group_rows = rows.iter().filter(|r| r.0 == (true, GROUP) && r.3).count() as u32;
    assert_eq!(total, group_rows, "group total vs rows");
}

/// Starts the real binary on the embedded store in `data`, with a group.
fn embedded_server(dir: &std::path::Path, data: &std::path::Path) -> ServerProcess {
    let data = data.display().to_string();
    let env = [
        ("TT_DBPROXY_DATA_DIR", data.as_str()),
        ("TT_DBPROXY_REQUEST_TIMEOUT_MS", "1000"),
    ];
    ServerProcess::spawn(dir, &[], &env)
}

fn embedded_group(dir: &std::path::Path, data: &std::path::Path) {
    let data = data.display().to_string();
    let out = run(
        dir,
        &[
            "admin",
            "group",
            "add",
            "team",
            "--creator",
            "1",
            "--members",
            "1,2,3,4,5,6",
        ],
        &[("TT_DBPROXY_DATA_DIR", data.as_str())],
    );
    assert!(out.status.success(), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_server_kill9_under_load_then_restarted() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    embedded_group(dir.path(), &data);
    let first = embedded_server(dir.path(), &data);
    let addr = first.addr;
    let pid = first.pid();
    let (mut sent, _) = load_around(
        "a",
        addr,
        Duration::from_millis(1_500),
        async {
            let ok = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status()
                .unwrap()
                .success();
            assert!(ok);
        },
        Duration::from_millis(300),
    )
    .await;
    let (status, lines) = first.wait(Duration::from_secs(10));
    assert!(!status.success(), "killed");
    assert!(!lines.iter().any(|l| l.contains("panicked")), "{lines:?}");
    let second = embedded_server(dir.path(), &data);
    let (more, _) = load_around(
        "b",
        second.addr,
        Duration::from_millis(1_000),
        async {},
        Duration::ZERO,
    )
    .await;
    sent.extend(more);
    let resumed = serves_again_at(second.addr).await;
    eprintln!("embedded kill -9: serving again {resumed:?} after the restart");
    let rows = sqlite_rows(&data);
    check_rows(&sent, &rows);
    check_sqlite_counters(&data, &rows);
    let lines = second.lines_so_far();
    assert!(!lines.iter().any(|l| l.contains("panicked")), "{lines:?}");
}

/// Fills `dir` (a small tmpfs) until the disk is full; returns the filler.
fn fill(dir: &std::path::Path) -> std::path::PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut f = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    while f.write_all(&chunk).is_ok() {}
    let _ = f.sync_all();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn embedded_disk_full_refuses_sends_keeps_reads_and_recovers() {
    let _serial = SERIAL.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("small");
    std::fs::create_dir_all(&mount).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=16m", "tmpfs"])
        .arg(&mount)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(!ci, "CI runs as root and must be able to mount a tmpfs");
        eprintln!("skipping: cannot mount a tmpfs (not root?)");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mount.clone());
    let data = mount.join("data");
    embedded_group(dir.path(), &data);
    let server = embedded_server(dir.path(), &data);
    let filler = std::sync::Mutex::new(None);
    let (sent, worst_read) = load_around(
        "",
        server.addr,
        Duration::from_millis(800),
        async {
            let path = tokio::task::spawn_blocking({
                let mount = mount.clone();
                move || fill(&mount)
            })
            .await
            .unwrap();
            *filler.lock().unwrap() = Some(path);
        },
        Duration::from_secs(3),
    )
    .await;
    let full_refused = sent
        .iter()
        .filter(|s| s.outcome == Outcome::Refused)
        .count();
    assert!(
        full_refused > 0,
        "sends on a full disk are answered msg_id 0"
    );
    assert!(
        worst_read < Duration::from_secs(2),
        "reads keep working: slowest {worst_read:?}"
    );
    if let Some(path) = filler.lock().unwrap().take() {
        std::fs::remove_file(path).unwrap();
    }
    let resumed = serves_again_at(server.addr).await;
    eprintln!(
        "embedded disk full: {full_refused} sends refused while full; serving again {resumed:?} after space was freed"
    );
    let rows = sqlite_rows(&data);
    check_rows(&sent, &rows);
    check_sqlite_counters(&data, &rows);
    let lines = server.lines_so_far();
    assert!(!lines.iter().any(|l| l.contains("panicked")), "{lines:?}");
}

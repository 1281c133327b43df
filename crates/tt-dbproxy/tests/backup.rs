//! `tt-dbproxy backup` and `restore` through the real binary: a backup
//! taken while a server stores messages under load holds every message
//! acknowledged before the backup started (and nothing that was not
//! stored); restored into a new data directory it serves, ids going on
//! above the restored ones. Refusals: an existing backup file, a data
//! directory that already holds a database, the MySQL backend.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::process::{ServerProcess, run};
use tt_dbproxy::client::Client;
use tt_proto::im::message::ImMsgData;

const SENDERS: u32 = 4;

fn msg(from: u32, to: u32, text: &str) -> ImMsgData {
    ImMsgData {
        from_user_id: Some(from),
        to_session_id: Some(to),
        msg_id: Some(0),
        create_time: Some(1000),
        msg_type: Some(1),
        msg_data: Some(text.as_bytes().to_vec()),
        attach_data: Some(Vec::new()),
    }
}

/// (conversation's sender, id, text) of every one-to-one message stored
/// in the SQLite file at `db`.
fn stored(db: &Path) -> BTreeSet<(u32, u32, String)> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut out = BTreeSet::new();
    for shard in 0..8 {
        let mut stmt = c
            .prepare(&format!(
                "SELECT fromId, msgId, content FROM IMMessage_{shard}"
            ))
            .unwrap();
        let rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap();
        for row in rows {
            out.insert(row.unwrap());
        }
    }
    out
}

/// Sends until `stop`, returning every acknowledged message with the
/// time its ack arrived.
async fn sender(
    addr: std::net::SocketAddr,
    k: u32,
    stop: Arc<AtomicBool>,
) -> Vec<(Instant, (u32, u32, String))> {
    let mut c = Client::connect(addr).await.unwrap();
    let (from, to) = (10 + k, 20 + k);
    let mut acked = Vec::new();
    let mut n = 0u32;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let text = format!("m{k}-{n}");
        let rsp: ImMsgData = common::call(&mut c, 0x0301, &msg(from, to, &text), 3, 0x0301).await;
        let id = rsp.msg_id.unwrap_or(0);
        if id != 0 {
            acked.push((Instant::now(), (from, id, text)));
        }
    }
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_load_restores_every_message_acknowledged_before_it() {
    let live = tempfile::tempdir().unwrap();
    let server = ServerProcess::spawn(live.path(), &[], &[]);
    let stop = Arc::new(AtomicBool::new(false));
    let tasks: Vec<_> = (0..SENDERS)
        .map(|k| tokio::spawn(sender(server.addr, k, stop.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    let file = live.path().join("backup.sqlite3");
    let started = Instant::now();
    let out = {
        let (dir, file) = (live.path().to_path_buf(), file.clone());
        tokio::task::spawn_blocking(move || {
            run(&dir, &["backup", "--to", file.to_str().unwrap()], &[])
        })
        .await
        .unwrap()
    };
    assert!(out.status.success(), "{out:?}");
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(said.starts_with("backup written: "), "{said}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let mut before = BTreeSet::new();
    let mut all = BTreeSet::new();
    for t in tasks {
        for (at, m) in t.await.unwrap() {
            if at < started {
                before.insert(m.clone());
            }
            all.insert(m);
        }
    }
    assert!(
        before.len() > 50,
        "load ran before the backup: {}",
        before.len()
    );
    assert!(all.len() > before.len(), "and during it");

    // A second backup to the same file is refused, the file untouched.
    let again = run(
        live.path(),
        &["backup", "--to", file.to_str().unwrap()],
        &[],
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    let restored = tempfile::tempdir().unwrap();
    let out = run(
        restored.path(),
        &["restore", "--from", file.to_str().unwrap()],
        &[],
    );
    assert!(out.status.success(), "{out:?}");
    let db = restored.path().join("data/tt-dbproxy.sqlite3");
    let in_backup = stored(&db);
    assert!(
        before.is_subset(&in_backup),
        "{} acknowledged before the backup are missing",
        before.difference(&in_backup).count()
    );
    assert!(
        in_backup.is_subset(&all),
        "the backup holds only acknowledged messages"
    );
    // Restoring over a database is refused.
    let over = run(
        restored.path(),
        &["restore", "--from", file.to_str().unwrap()],
        &[],
    );
    assert!(!over.status.success());
    assert!(String::from_utf8_lossy(&over.stderr).contains("already exists"));

    // The restored store serves; ids go on above the restored ones.
    drop(server);
    let server = ServerProcess::spawn(restored.path(), &[], &[]);
    let mut c = Client::connect(server.addr).await.unwrap();
    let last = in_backup
        .iter()
        .filter(|(from, _, _)| *from == 10)
        .map(|(_, id, _)| *id)
        .max()
        .unwrap_or(0);
    let rsp: ImMsgData = common::call(&mut c, 0x0301, &msg(10, 20, "after"), 3, 0x0301).await;
    assert_eq!(rsp.msg_id, Some(last + 1));
}

#[test]
fn backup_and_restore_refuse_the_mysql_backend() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("TT_DBPROXY_MYSQL_PRIMARY", "mysql://root:@127.0.0.1:9/none"),
        ("TT_DBPROXY_REDIS_URL", "redis://127.0.0.1:9/0"),
    ];
    for args in [
        ["backup", "--to", "x.sqlite3"],
        ["restore", "--from", "x.sqlite3"],
    ] {
        let out = run(dir.path(), &args, &env);
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("mariadb-dump"), "{args:?}: {err}");
    }
}

//! `tt-dbproxy copy` through the real binary, both directions: generated
//! data (dozens of users, thousands of messages in every shard, groups,
//! counters, read marks, tokens, files, settings) goes from the embedded
//! store to MySQL + Redis and from there to a new embedded store;
//! `--verify` reports 0 differences each time, ids and counters carry
//! over (the next send continues above the copied ids), and a difference
//! planted afterwards is found. Refusals: a target that holds data, the
//! same store on both sides.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use tt_dbproxy::store::prelude::*;

use common::backends::{RedisLease, TestDatabase, skipped};
use common::pending::plant_pending;
use common::process::run;
use tt_dbproxy::config::{self, ConfigSource, SyncMode};
use tt_dbproxy::copy::verify::verify;
use tt_dbproxy::store::export::Portable;
use tt_dbproxy::store::{
    AudioRow, DepartRecord, MysqlRedisStore, NewGroup, NewMessage, NewUser, OfflineFile, Platform,
    SESSION_SINGLE, SqliteOptions, SqliteStore, Store,
};

const USERS: u32 = 30;
const MESSAGES_PER_PAIR: u32 = 25;
const GROUP_MESSAGES: u32 = 150;
const NOW: u32 = 1_700_000_000;

fn write(path: &Path, text: &str) -> PathBuf {
    std::fs::write(path, text).unwrap();
    path.to_path_buf()
}

fn embedded_toml(dir: &Path, data: &Path) -> PathBuf {
    write(
        &dir.join(format!(
            "{}.toml",
            data.file_name().unwrap().to_string_lossy()
        )),
        &format!(
            "[storage]\ndata_dir = \"{}\"\nsync = \"normal\"\n",
            data.display()
        ),
    )
}

fn mysql_toml(dir: &Path, db: &TestDatabase, redis: &RedisLease) -> PathBuf {
    write(
        &dir.join("mysql.toml"),
        &format!(
            "[storage]\nbackend = \"mysql\"\ndata_dir = \"{}\"\n\n[mysql]\nprimary = \"{}\"\n\n[redis]\nurl = \"{}\"\n",
            dir.join("mysql-state").display(),
            db.url(),
            redis.url()
        ),
    )
}

fn text(i: u32) -> String {
    // Quotes, a NUL-free emoji and a backslash: stored byte-exact.
    format!("msg {i} 'quoted' \"dq\" \\ 🎉")
}

/// Fills `s` through the storage interface, as handlers would.
async fn generate(s: Arc<SqliteStore>) {
    for d in 1..=3 {
        s.add_department(DepartRecord {
            name: format!("dept {d}"),
            priority: d,
            parent_id: d - 1,
            created: NOW,
            updated: NOW,
            ..Default::default()
        })
        .await
        .unwrap();
    }
    for u in 1..=USERS {
        s.add_user(NewUser {
            name: format!("user{u}"),
            nick: format!("ニック{u}"),
            depart_id: 1 + u % 3,
            created: NOW,
            updated: NOW,
            sign_info: format!("sign '{u}'"),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    s.set_push_shield(3, 1, NOW).await.unwrap();
    let mut groups = Vec::new();
    for g in 0..4u32 {
        let members: Vec<u32> = (1..=USERS).filter(|u| u % 4 == g || *u == 1).collect();
        let id = s
            .create_group(
                NewGroup {
                    name: format!("group {g}"),
                    creator: 1,
                    group_type: 1 + g % 2,
                    members,
                    ..Default::default()
                },
                NOW,
            )
            .await
            .unwrap();
        groups.push(id);
    }
    s.change_group_members(groups[0], false, &[4], NOW + 1)
        .await
        .unwrap();
    // One-to-one: each user with the next three, concurrently so the
    // writer commits in batches.
    let mut sends = Vec::new();
    for a in 1..=USERS {
        for b in (a + 1)..=(a + 3).min(USERS) {
            for i in 0..MESSAGES_PER_PAIR {
                let (from, to) = if i % 3 == 0 { (b, a) } else { (a, b) };
                sends.push(NewMessage {
                    from_id: from,
                    to_id: to,
                    group: false,
                    msg_type: 1,
                    content: text(i),
                    created: NOW + i,
                    resend: None,
                });
            }
        }
    }
    for (k, g) in groups.iter().enumerate() {
        for i in 0..GROUP_MESSAGES {
            sends.push(NewMessage {
                from_id: 1,
                to_id: *g,
                group: true,
                msg_type: 0x11,
                content: format!("group {k} {}", text(i)),
                created: NOW + i,
                resend: None,
            });
        }
    }
    for chunk in sends.chunks(64) {
        let all = chunk.iter().cloned().map(|m| {
            let s = s.clone();
            tokio::spawn(async move { s.store_message(m, NOW).await })
        });
        for h in futures_util::future::join_all(all).await {
            assert_ne!(h.unwrap().unwrap(), 0);
        }
    }
    // Read acks, read marks, tokens, files, settings, a deleted session.
    s.clear_unread(2, 1).await.unwrap();
    s.add_unread(5, 6, 0).await.unwrap();
    s.mark_group_read(5, groups[1]).await.unwrap();
    for u in 1..=10 {
        let platform = if u % 2 == 0 {
            Platform::Ios
        } else {
            Platform::Android
        };
        s.register_device_token(u, platform, &format!("token-{u}"))
            .await
            .unwrap();
    }
    for u in 1..=5 {
        s.add_offline_file(
            OfflineFile {
                from_id: u,
                to_id: u + 1,
                task_id: format!("task-{u}"),
                file_name: format!("file {u}.txt"),
                size: 4_000_000_000 - u,
                created: 0,
            },
            NOW,
        )
        .await
        .unwrap();
    }
    s.set_group_push_shield(groups[2], 2, 1).await.unwrap();
    s.add_audio(AudioRow {
        from_id: 1,
        to_id: 2,
        path: "/audio/1".into(),
        size: 100,
        duration: 3,
        created: NOW,
        ..Default::default()
    })
    .await
    .unwrap();
    let session = s.find_session(7, 8, SESSION_SINGLE).await.unwrap().unwrap();
    s.remove_session(session, NOW + 5).await.unwrap();
    s.set_user_list_gate(NOW - 10).await.unwrap();
    s.set_group_sync_cursor(NOW - 20).await.unwrap();
}

/// Rows of every TeamTalk table in the embedded store at `data`.
fn rows_in(data: &Path) -> u64 {
    let c = rusqlite::Connection::open(data.join("tt-dbproxy.sqlite3")).unwrap();
    tt_dbproxy::store::export::tables()
        .iter()
        .map(|t| {
            c.query_row(&format!("SELECT COUNT(*) FROM {}", t.name), [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap() as u64
        })
        .sum()
}

fn copy(dir: &Path, from: &Path, to: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "copy",
        "--from",
        from.to_str().unwrap(),
        "--to",
        to.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    run(dir, &args, &[])
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn assert_copied(out: &std::process::Output, rows: u64) {
    let text = stdout(out);
    assert!(
        out.status.success(),
        "copy failed: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(&format!("copied {rows} rows")), "{text}");
    assert!(text.contains(", 0 differences"), "{text}");
    let messages = USERS * 3 - 3 - 2 - 1;
    let expected = messages * MESSAGES_PER_PAIR + 4 * GROUP_MESSAGES;
    assert!(
        text.contains(&format!("({expected} messages)")),
        "every message compared: {text}"
    );
}

async fn embedded(data: &Path) -> SqliteStore {
    SqliteStore::open_with(
        data,
        SqliteOptions {
            sync: SyncMode::Normal,
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

/// The next one-to-one send between users 1 and 2 gets the id after the
/// copied ones.
async fn next_id_continues(s: &dyn Store) {
    // Ids follow commit order, times the generator's: take the largest.
    let before = s.single_history(1, 2, 0, 200).await.unwrap();
    let top = before.iter().map(|m| m.msg_id).max().unwrap();
    assert_eq!(top, MESSAGES_PER_PAIR, "ids 1..=25 were copied");
    let msg = NewMessage {
        from_id: 1,
        to_id: 2,
        msg_type: 1,
        content: "after the copy".into(),
        created: NOW + 100,
        ..Default::default()
    };
    assert_eq!(s.store_message(msg, NOW + 100).await.unwrap(), top + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_embedded_to_mysql_and_back_verifies_clean() {
    if skipped() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (a_dir, c_dir) = (dir.path().join("a"), dir.path().join("c"));
    generate(Arc::new(embedded(&a_dir).await)).await;
    let rows = rows_in(&a_dir);
    assert!(rows > 2_000, "{rows}");
    let db = TestDatabase::create().await;
    let redis = RedisLease::acquire();
    let a = embedded_toml(dir.path(), &a_dir);
    let b = mysql_toml(dir.path(), &db, &redis);
    let c = embedded_toml(dir.path(), &c_dir);

    let same = copy(dir.path(), &a, &a, &[]);
    assert!(!same.status.success());
    assert!(
        String::from_utf8_lossy(&same.stderr).contains("name the same store"),
        "{same:?}"
    );

    assert_copied(&copy(dir.path(), &a, &b, &["--verify"]), rows);
    let again = copy(dir.path(), &a, &b, &[]);
    assert!(!again.status.success(), "a target with data is refused");
    let why = String::from_utf8_lossy(&again.stderr);
    assert!(
        why.contains("already holds data") && why.contains("--overwrite"),
        "{why}"
    );
    assert_copied(
        &copy(dir.path(), &a, &b, &["--overwrite", "--verify"]),
        rows,
    );
    assert_copied(&copy(dir.path(), &b, &c, &["--verify"]), rows);
    assert_eq!(rows_in(&c_dir), rows);

    // The round trip is the original, answer for answer.
    let (sa, sc) = (embedded(&a_dir).await, embedded(&c_dir).await);
    let report = verify(&sa, &sc).await.unwrap();
    assert_eq!(report.differences, 0, "{:?}", report.first);
    assert!(report.checked > 300, "{}", report.checked);

    // A difference is found and named.
    sc.add_unread(2, 1, 3).await.unwrap();
    let report = verify(&sa, &sc).await.unwrap();
    assert_eq!(report.differences, 1, "{:?}", report.first);
    assert_eq!(report.first[0].what, "user 2 unread counts");

    // Counters came along: sends continue above the copied ids.
    next_id_continues(&sc).await;
    let config = config::load(&ConfigSource::Toml(b.clone()), &|_| None).unwrap();
    let sb = MysqlRedisStore::new(&config).unwrap();
    next_id_continues(&sb).await;
    let shields = Portable::read_state(&sb).await.unwrap();
    assert!(
        shields.len() > 100,
        "unread counters, totals, marks, tokens and counters are in Redis: {}",
        shields.len()
    );
    sb.close().await;
}

#[test]
fn an_unreadable_legacy_source_is_refused_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    let to = embedded_toml(dir.path(), &dir.path().join("t"));
    let from = dir.path().join("missing.conf");
    let out = copy(dir.path(), &from, &to, &["--from-legacy"]);
    assert!(!out.status.success());
    let why = String::from_utf8_lossy(&out.stderr);
    assert!(why.contains("missing.conf"), "{why}");
    assert!(
        !dir.path().join("t").join("tt-dbproxy.sqlite3").exists(),
        "nothing is created when the source cannot be read"
    );
}

/// A send a crash left between its commit and its counters (a pending
/// entry in Redis) is counted before the source is read: the copy holds
/// the message and its unread count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_counts_a_send_left_pending_by_a_crash() {
    if skipped() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (db, lease) = (TestDatabase::create().await, RedisLease::acquire());
    let from = mysql_toml(dir.path(), &db, &lease);
    let config = config::load(&ConfigSource::Toml(from.clone()), &|_| None).unwrap();
    let source = MysqlRedisStore::new(&config).unwrap();
    source.migrate().await.unwrap();
    let message = NewMessage {
        from_id: 1,
        to_id: 2,
        group: false,
        msg_type: 1,
        content: "left pending".into(),
        created: NOW,
        resend: None,
    };
    let id = source.store_message(message, NOW).await.unwrap();
    let rel = source.relation_id(1, 2).await.unwrap().unwrap();
    // As a crash right after the commit leaves it: no count, an entry.
    let mut r = lease.conn();
    redis::cmd("HDEL")
        .arg("unread_2")
        .arg(1)
        .exec(&mut r)
        .unwrap();
    plant_pending(&mut r, rel, id);
    drop(source);
    let data = dir.path().join("copied");
    let to = embedded_toml(dir.path(), &data);
    let out = copy(dir.path(), &from, &to, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let target = embedded(&data).await;
    assert_eq!(target.unread_counts(2).await.unwrap(), vec![(1, 1)]);
    let pending: u64 = redis::cmd("ZCARD")
        .arg("tt_dbproxy:pending")
        .query(&mut r)
        .unwrap();
    assert_eq!(pending, 0, "the entry was applied at the source");
}

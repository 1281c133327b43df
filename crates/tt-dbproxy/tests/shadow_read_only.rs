//! `tt-dbproxy shadow` never writes to the store it compares against: after
//! every command the shadow compares has run on its side — with no user-list
//! gate stored, a group that exists only in MySQL (as the PHP admin creates
//! them), a journaled unresolved send and a pending send left by a crash —
//! MySQL and Redis (or the embedded store's tables) are exactly what they
//! were, and the journal is untouched.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tt_dbproxy::store::prelude::*;

use common::backends::{RedisLease, TestDatabase};
use common::pending::plant_pending;
use common::process::ServerProcess;
use common::upstream::{admin_addr, fake_upstream};
use common::{Backend, seed_spec_users};
use mysql_async::prelude::Queryable;
use prost::Message;
use tt_dbproxy::client::Client;
use tt_dbproxy::store::{MysqlRedisStore, NewGroup, NewMessage, SqliteStore, Store};
use tt_dbproxy::wire::Pdu;
use tt_proto::im::base_define::GroupVersionInfo;
use tt_proto::im::buddy::{
    ImAllUserReq, ImDepartmentReq, ImRecentContactSessionReq, ImUsersInfoReq,
};
use tt_proto::im::file::ImFileHasOfflineReq;
use tt_proto::im::group::{ImGroupInfoListReq, ImNormalGroupListReq};
use tt_proto::im::login::ImQueryPushShieldReq;
use tt_proto::im::message::{
    ImGetLatestMsgIdReq, ImGetMsgByIdReq, ImGetMsgListReq, ImUnreadMsgCntReq,
};
use tt_proto::im::server::{ImGetDeviceTokenReq, ImGroupGetShieldReq};

/// The upstream's reply: empty, of the next command id, so each read is
/// compared on the shadow side.
fn empty_reply(req: &Pdu) -> Option<(u16, Vec<u8>)> {
    Some((req.header.command_id + 1, Vec::new()))
}

/// Every command the shadow compares, for user 1, the pair (1, 2) and
/// group `g`.
fn compared_requests(g: u32) -> Vec<(u16, u16, Vec<u8>)> {
    let a = Some(Vec::new());
    vec![
        (
            1,
            0x010e,
            ImQueryPushShieldReq {
                user_id: Some(1),
                attach_data: a.clone(),
            }
            .encode_to_vec(),
        ),
        (
            2,
            0x0201,
            ImRecentContactSessionReq {
                user_id: Some(1),
                latest_update_time: Some(0),
                attach_data: a.clone(),
            }
            .encode_to_vec(),
        ),
        (
            2,
            0x0204,
            ImUsersInfoReq {
                user_id: Some(1),
                user_id_list: vec![1, 2],
                attach_data: a.clone(),
            }
            .encode_to_vec(),
        ),
        (
            2,
            0x0208,
            ImAllUserReq {
                user_id: Some(1),
                latest_update_time: Some(0),
                attach_data: a.clone(),
            }
            .encode_to_vec(),
        ),
        (
            2,
            0x0210,
            ImDepartmentReq {
                user_id: Some(1),
                latest_update_time: Some(0),
                attach_data: a.clone(),
            }
            .encode_to_vec(),
        ),
        (
            7,
            0x0705,
            ImGetDeviceTokenReq {
                user_id: vec![1, 2],
                attach_data: a.clone(),
            }
            .encode_to_vec(),
        ),
        (
            7,
            0x0711,
            ImGroupGetShieldReq {
                group_id: Some(g),
                user_id: vec![1, 2],
                attach_data: a.clone(),
            }
            .encode_to_vec(),
        ),
        (
            5,
            0x0509,
            ImFileHasOfflineReq {
                user_id: Some(2),
                attach_data: a.clone(),
            }
            .encode_to_vec(),
        ),
        (
            3,
            0x0307,
            ImUnreadMsgCntReq {
                user_id: Some(2),
                attach_data: a.clone(),
            }
            .encode_to_vec(),
        ),
        (
            3,
            0x0309,
            ImGetMsgListReq {
                user_id: Some(2),
                session_type: Some(1),
                session_id: Some(1),
                msg_id_begin: Some(0),
                msg_cnt: Some(10),
                attach_data: a.clone(),
            }
            .encode_to_vec(),
        ),
        (
            3,
            0x030d,
            ImGetMsgByIdReq {
                user_id: Some(2),
                session_type: Some(2),
                session_id: Some(g),
                msg_id_list: vec![1],
                attach_data: a.clone(),
            }
            .encode_to_vec(),
        ),
        (
            3,
            0x030b,
            ImGetLatestMsgIdReq {
                user_id: Some(2),
                session_type: Some(2),
                session_id: Some(g),
                attach_data: a.clone(),
            }
            .encode_to_vec(),
        ),
        (
            4,
            0x0401,
            ImNormalGroupListReq {
                user_id: Some(2),
                attach_data: a.clone(),
            }
            .encode_to_vec(),
        ),
        (
            4,
            0x0403,
            ImGroupInfoListReq {
                user_id: Some(2),
                group_version_list: vec![GroupVersionInfo {
                    group_id: Some(g),
                    version: Some(0),
                }],
                attach_data: a,
            }
            .encode_to_vec(),
        ),
    ]
}

/// Comparisons the shadow has finished, over every command and result.
async fn comparisons(admin: SocketAddr) -> u64 {
    let text = reqwest::get(format!("http://{admin}/shadow"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["commands"]
        .as_object()
        .map(|cmds| {
            cmds.values()
                .flat_map(|r| r.as_object().into_iter().flat_map(|o| o.values()))
                .filter_map(serde_json::Value::as_u64)
                .sum()
        })
        .unwrap_or(0)
}

/// Runs the shadow in `cwd` with `envs` and every compared command.
async fn run_shadow(cwd: &Path, envs: &[(&str, &str)], group: u32) {
    let upstream = fake_upstream(empty_reply).await;
    let server = ServerProcess::spawn(cwd, &["shadow", "--upstream", &upstream.to_string()], envs);
    let admin = admin_addr(&server);
    let mut c = Client::connect(server.addr).await.unwrap();
    let requests = compared_requests(group);
    for (sid, cid, body) in &requests {
        let rsp = c.request(*sid, *cid, body.clone(), cid + 1).await.unwrap();
        assert_eq!(rsp.header.command_id, cid + 1);
    }
    let mut done = 0;
    for _ in 0..250 {
        done = comparisons(admin).await;
        if done >= requests.len() as u64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(done, requests.len() as u64, "every command compared");
    drop(server);
}

/// Everything in MySQL (a checksum per table) and Redis (every key dumped).
async fn mysql_redis_snapshot(db: &TestDatabase, lease: &RedisLease) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut c = mysql_async::Conn::from_url(db.url()).await.unwrap();
    let tables: Vec<String> = c.query("SHOW TABLES").await.unwrap();
    for t in tables {
        let sum: Option<(String, Option<u64>)> = c
            .query_first(format!("CHECKSUM TABLE `{t}`"))
            .await
            .unwrap();
        let sum = sum.and_then(|(_, s)| s).unwrap_or(0);
        out.insert(format!("mysql {t}"), sum.to_be_bytes().to_vec());
    }
    let _ = c.disconnect().await;
    let mut r = lease.conn();
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut r).unwrap();
    for k in keys {
        let dump: Vec<u8> = redis::cmd("DUMP").arg(&k).query(&mut r).unwrap();
        out.insert(format!("redis {k}"), dump);
    }
    out
}

/// Every row of every table of the embedded store.
fn sqlite_snapshot(data: &Path) -> BTreeMap<String, Vec<u8>> {
    let db = rusqlite::Connection::open(data.join("tt-dbproxy.sqlite3")).unwrap();
    let tables: Vec<String> = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut out = BTreeMap::new();
    for t in tables {
        let mut stmt = db.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let n = stmt.column_count();
        let mut rows: Vec<String> = stmt
            .query_map([], |r| {
                Ok((0..n)
                    .map(|i| format!("{:?}", r.get::<_, rusqlite::types::Value>(i).unwrap()))
                    .collect::<Vec<_>>()
                    .join("|"))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        rows.sort();
        out.insert(t, rows.join("\n").into_bytes());
    }
    out
}

/// The names whose contents differ between two snapshots.
fn changed(before: &BTreeMap<String, Vec<u8>>, after: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let mut names: Vec<String> = after
        .keys()
        .chain(before.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .cloned()
        .collect();
    names.dedup();
    names
}

/// Users, a group of 1 and 2, a one-to-one and a group message.
async fn seed(store: &dyn Store) -> (u32, u32) {
    seed_spec_users(store).await;
    let group = NewGroup {
        name: "mysql only".into(),
        avatar: String::new(),
        creator: 1,
        group_type: 1,
        members: vec![1, 2],
    };
    let g = store.create_group(group, 1_700_000_000).await.unwrap();
    let message = |to: u32, group: bool| NewMessage {
        from_id: 1,
        to_id: to,
        group,
        msg_type: if group { 17 } else { 1 },
        content: "hello".into(),
        created: 1_700_000_000,
        resend: None,
    };
    let id = store
        .store_message(message(2, false), 1_700_000_000)
        .await
        .unwrap();
    store
        .store_message(message(g, true), 1_700_000_000)
        .await
        .unwrap();
    (g, id)
}

async fn a_shadow_run_writes_nothing(b: Backend) {
    let shadow_dir = tempfile::tempdir().unwrap();
    match b {
        Backend::Embedded => {
            let data = shadow_dir.path().join("data");
            let store = SqliteStore::open(&data).await.unwrap();
            let (g, _) = seed(&store).await;
            drop(store);
            let db = rusqlite::Connection::open(data.join("tt-dbproxy.sqlite3")).unwrap();
            db.execute("DELETE FROM tt_state WHERE name = 'user_list_gate'", [])
                .unwrap();
            drop(db);
            let before = sqlite_snapshot(&data);
            run_shadow(shadow_dir.path(), &[], g).await;
            assert_eq!(
                sqlite_snapshot(&data),
                before,
                "the embedded store's tables"
            );
        }
        Backend::MysqlRedis => {
            let db = TestDatabase::create().await;
            let lease = RedisLease::acquire();
            let (mysql, redis_url) = (db.url(), lease.url());
            let env = |k: &str| match k {
                "TT_DBPROXY_MYSQL_PRIMARY" => Some(mysql.clone()),
                "TT_DBPROXY_REDIS_URL" => Some(redis_url.clone()),
                _ => None,
            };
            let config = tt_dbproxy::config::from_toml_str("", &env).unwrap();
            let store = Arc::new(MysqlRedisStore::new(&config).unwrap());
            store.migrate().await.unwrap();
            let (g, id) = seed(store.as_ref()).await;
            let rel = store.relation_id(1, 2).await.unwrap().unwrap();
            drop(store);
            // No gate; the group only in MySQL; a send left pending by a
            // crash (committed, never counted).
            let mut r = lease.conn();
            redis::cmd("DEL")
                .arg("total_user_update")
                .arg("total_user_updated")
                .arg(format!("group_member_{g}"))
                .exec(&mut r)
                .unwrap();
            plant_pending(&mut r, rel, id);
            // This shadow's journal names a send whose row exists.
            let data = shadow_dir.path().join("data");
            std::fs::create_dir_all(&data).unwrap();
            let journal = data.join(tt_dbproxy::store::unresolved::FILE_NAME);
            std::fs::write(&journal, format!("single {rel} {id}\n")).unwrap();
            let before = mysql_redis_snapshot(&db, &lease).await;
            let envs = [
                ("TT_DBPROXY_BACKEND", "mysql"),
                ("TT_DBPROXY_MYSQL_PRIMARY", mysql.as_str()),
                ("TT_DBPROXY_REDIS_URL", redis_url.as_str()),
            ];
            run_shadow(shadow_dir.path(), &envs, g).await;
            let after = mysql_redis_snapshot(&db, &lease).await;
            let changed = changed(&before, &after);
            assert!(changed.is_empty(), "changed by the shadow: {changed:?}");
            assert_eq!(
                std::fs::read_to_string(&journal).unwrap(),
                format!("single {rel} {id}\n"),
                "the journal is left to a serving instance"
            );
        }
    }
}

on_every_backend!(a_shadow_run_writes_nothing);

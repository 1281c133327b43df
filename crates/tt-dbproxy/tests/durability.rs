//! An acknowledged send survives a SIGKILL of the embedded server right
//! after the acknowledgement: every message id the server handed out is
//! in the SQLite file afterwards, with its content.

mod common;

use std::collections::BTreeSet;

use common::process::{ServerProcess, run};
use prost::Message;
use tt_dbproxy::client::Client;
use tt_dbproxy::wire::Pdu;
use tt_proto::im::message::ImMsgData;

const SENDS: u16 = 300;

#[tokio::test]
async fn acknowledged_sends_survive_a_kill_right_after_the_ack() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["alice", "bob"] {
        let out = run(
            dir.path(),
            &["admin", "user", "add", name, "--password", "123456"],
            &[],
        );
        assert!(out.status.success(), "{out:?}");
    }
    let server = ServerProcess::spawn(dir.path(), &[], &[]);
    let mut c = Client::connect(server.addr).await.unwrap();
    let mut bytes = Vec::new();
    for seq in 1..=SENDS {
        let msg = ImMsgData {
            from_user_id: Some(1),
            to_session_id: Some(2),
            msg_id: Some(0),
            create_time: Some(u32::from(seq)),
            msg_type: Some(1),
            msg_data: Some(format!("durable {seq}").into_bytes()),
            attach_data: Some(Vec::new()),
        };
        bytes.extend_from_slice(
            &Pdu::new(3, 0x0301, seq, msg.encode_to_vec())
                .to_bytes()
                .unwrap(),
        );
    }
    c.send_raw(&bytes).await.unwrap();
    let mut acked = BTreeSet::new();
    while acked.len() < usize::from(SENDS) {
        let f = c.next_frame().await.unwrap().expect("an ack");
        if f.header.command_id == 0x0701 {
            continue;
        }
        let ack = ImMsgData::decode(f.body).unwrap();
        let id = ack.msg_id.unwrap();
        assert_ne!(id, 0, "every send is stored");
        acked.insert((id, format!("durable {}", f.header.seq_num)));
    }
    // SIGKILL at once: no drain, no shutdown hook.
    drop(server);

    let db = rusqlite::Connection::open(dir.path().join("data/tt-dbproxy.sqlite3")).unwrap();
    let mut stored = BTreeSet::new();
    for shard in 0..8 {
        let mut stmt = db
            .prepare(&format!(
                "SELECT msgId, content FROM IMMessage_{shard} WHERE fromId = 1 AND toId = 2"
            ))
            .unwrap();
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?)))
            .unwrap();
        for row in rows {
            stored.insert(row.unwrap());
        }
    }
    assert_eq!(stored, acked);
}

/// A fresh store's connections, writer and readers, run with the
/// configured `storage.sync`: FULL (2) by default, so an acknowledged
/// write is on disk before its reply; NORMAL (1) only when asked for.
#[tokio::test]
async fn the_embedded_store_syncs_as_configured() {
    use tt_dbproxy::store::{SqliteOptions, SqliteStore};
    for (toml, expected) in [
        ("", 2),
        ("[storage]\nsync = \"full\"\n", 2),
        ("[storage]\nsync = \"normal\"\n", 1),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let config = tt_dbproxy::config::from_toml_str(toml, &|_| None).unwrap();
        let store = SqliteStore::open_with(dir.path(), SqliteOptions::from_config(&config))
            .await
            .unwrap();
        let levels = store.synchronous().await.unwrap();
        assert_eq!(levels.len(), 5, "the writer and four readers");
        assert!(
            levels.iter().all(|l| *l == expected),
            "{toml:?}: {levels:?}"
        );
    }
    let refused = tt_dbproxy::config::from_toml_str("[storage]\nsync = \"off\"\n", &|_| None);
    assert!(refused.is_err(), "only full or normal");
}

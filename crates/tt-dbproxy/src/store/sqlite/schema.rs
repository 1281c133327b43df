//! Migrations of the embedded store: the TeamTalk tables with their
//! original names and columns (from `ttopen.sql`, in SQLite types), plus
//! `IMTransmitFile` as the accounts spec proposes.
//!
//! Applied in order inside `BEGIN IMMEDIATE` transactions and tracked with
//! `PRAGMA user_version`, so two processes opening the same file (the
//! server and `admin`) never apply one twice.

use rusqlite::Connection;

use crate::store::MESSAGE_SHARDS;

/// Every migration, in order; entry `i` moves `user_version` to `i + 1`.
fn migrations() -> Vec<String> {
    vec![
        teamtalk_tables(),
        EMBEDDED_STATE.to_string(),
        MESSAGE_COUNTERS.to_string(),
        RECENT_SENDS.to_string(),
        CONSOLE_TABLES.to_string(),
        cheaper_sends(),
        RECENT_SEND_LOG.to_string(),
    ]
}

/// Fewer pages written per batch of sends: the recent sends expire in
/// the order of `seq` (increasing as sends are stored, so one batch's rows
/// land side by side in its index) instead of an index on `at` (whose
/// entries of one second are ordered by sender, so one batch dirtied a
/// page per sender); and the one-to-one shards lose the index on
/// `(fromId, toId, status)`, which no statement of tt-dbproxy uses (the
/// MySQL tables keep theirs). Rows stored before keep `seq` 0 and expire
/// first.
fn cheaper_sends() -> String {
    let mut sql = String::from(
        "ALTER TABLE tt_recent_send ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;\n\
         DROP INDEX tt_recent_send_at;\n\
         CREATE INDEX tt_recent_send_seq ON tt_recent_send (seq);\n",
    );
    for n in 0..MESSAGE_SHARDS {
        sql.push_str(&format!(
            "DROP INDEX IMMessage_{n}_idx_fromId_toId_created;\n"
        ));
    }
    sql
}

/// The web console's own tables: Argon2id hashes of `IMAdmin` accounts
/// (which the original servers never read), sessions, sign-in failures and
/// the audit log.
const CONSOLE_TABLES: &str = r#"
CREATE TABLE tt_admin_password (
  admin_id INTEGER PRIMARY KEY,
  hash TEXT NOT NULL,
  updated INTEGER NOT NULL
);
CREATE TABLE tt_console_session (
  token_hash TEXT PRIMARY KEY,
  account_id INTEGER NOT NULL,
  csrf TEXT NOT NULL,
  must_change INTEGER NOT NULL,
  expires INTEGER NOT NULL
);
CREATE INDEX tt_console_session_account ON tt_console_session (account_id);
CREATE INDEX tt_console_session_expires ON tt_console_session (expires);
CREATE TABLE tt_console_failure (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  k TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX tt_console_failure_k_at ON tt_console_failure (k, at);
CREATE TABLE tt_console_audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  who TEXT NOT NULL,
  what TEXT NOT NULL,
  source TEXT NOT NULL
);
"#;

/// Recent sends, so a resend gets the stored id
/// (`storage.resend_window_s`); rows older than the window are deleted as
/// sends go by. `grp` is 1 for a group, `hash` the data hash as a signed
/// 64-bit integer.
const RECENT_SENDS: &str = r#"
CREATE TABLE tt_recent_send (
  from_id INTEGER NOT NULL,
  to_id INTEGER NOT NULL,
  grp INTEGER NOT NULL,
  client_msg_id INTEGER NOT NULL,
  hash INTEGER NOT NULL,
  msg_id INTEGER NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (from_id, to_id, grp, client_msg_id, hash)
) WITHOUT ROWID;
CREATE INDEX tt_recent_send_at ON tt_recent_send (at);
"#;

/// The newest sends of the resend memory, in the order they were stored
/// (`recent.rs`): a batch appends its rows side by side; they move to
/// `tt_recent_send` in bulk.
const RECENT_SEND_LOG: &str = r#"
CREATE TABLE tt_recent_log (
  seq INTEGER NOT NULL,
  from_id INTEGER NOT NULL,
  to_id INTEGER NOT NULL,
  grp INTEGER NOT NULL,
  client_msg_id INTEGER NOT NULL,
  hash INTEGER NOT NULL,
  msg_id INTEGER NOT NULL,
  at INTEGER NOT NULL
);
"#;

/// Per-conversation message-id counters (the original's `msg_id_<R>` and
/// `group_msg_id_<G>`). `kind` is 1 for a relation, 2 for a group.
const MESSAGE_COUNTERS: &str = r#"
CREATE TABLE tt_msg_counter (
  kind INTEGER NOT NULL,
  conv_id INTEGER NOT NULL,
  last INTEGER NOT NULL,
  PRIMARY KEY (kind, conv_id)
);
"#;

/// What the original keeps in Redis, kept durably in the same file. Table
/// names start with `tt_` so they never clash with TeamTalk's.
const EMBEDDED_STATE: &str = r#"
CREATE TABLE tt_state (
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
CREATE TABLE tt_unread (
  user_id INTEGER NOT NULL,
  peer_id INTEGER NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (user_id, peer_id)
);
CREATE TABLE tt_group_total (
  group_id INTEGER PRIMARY KEY,
  count INTEGER NOT NULL
);
CREATE TABLE tt_group_read_mark (
  user_id INTEGER NOT NULL,
  group_id INTEGER NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (user_id, group_id)
);
CREATE TABLE tt_group_push_shield (
  group_id INTEGER NOT NULL,
  user_id INTEGER NOT NULL,
  status INTEGER NOT NULL,
  PRIMARY KEY (group_id, user_id)
);
CREATE TABLE tt_device_token (
  user_id INTEGER PRIMARY KEY,
  platform TEXT NOT NULL,
  token TEXT NOT NULL
);
CREATE INDEX tt_device_token_token ON tt_device_token (token);
"#;

/// Brings the schema of `conn` up to date.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let all = migrations();
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let current = usize::try_from(current).unwrap_or(0);
    for (i, sql) in all.iter().enumerate().skip(current) {
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
    }
    tx.commit()
}

fn teamtalk_tables() -> String {
    let mut sql = String::from(
        r#"
CREATE TABLE IMAdmin (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  uname TEXT NOT NULL,
  pwd TEXT NOT NULL,
  status INTEGER NOT NULL DEFAULT 0,
  created INTEGER NOT NULL DEFAULT 0,
  updated INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IMAudio (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  fromId INTEGER NOT NULL,
  toId INTEGER NOT NULL,
  path TEXT DEFAULT '',
  size INTEGER NOT NULL DEFAULT 0,
  duration INTEGER NOT NULL DEFAULT 0,
  created INTEGER NOT NULL
);
CREATE INDEX IMAudio_idx_fromId_toId ON IMAudio (fromId, toId);
CREATE TABLE IMDepart (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  departName TEXT NOT NULL DEFAULT '',
  priority INTEGER NOT NULL DEFAULT 0,
  parentId INTEGER NOT NULL,
  status INTEGER NOT NULL DEFAULT 0,
  created INTEGER NOT NULL,
  updated INTEGER NOT NULL
);
CREATE INDEX IMDepart_idx_departName ON IMDepart (departName);
CREATE INDEX IMDepart_idx_priority_status ON IMDepart (priority, status);
CREATE TABLE IMDiscovery (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  itemName TEXT NOT NULL DEFAULT '',
  itemUrl TEXT NOT NULL DEFAULT '',
  itemPriority INTEGER NOT NULL,
  status INTEGER NOT NULL DEFAULT 0,
  created INTEGER NOT NULL,
  updated INTEGER NOT NULL
);
CREATE INDEX IMDiscovery_idx_itemName ON IMDiscovery (itemName);
CREATE TABLE IMGroup (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL DEFAULT '',
  avatar TEXT NOT NULL DEFAULT '',
  creator INTEGER NOT NULL DEFAULT 0,
  type INTEGER NOT NULL DEFAULT 1,
  userCnt INTEGER NOT NULL DEFAULT 0,
  status INTEGER NOT NULL DEFAULT 1,
  version INTEGER NOT NULL DEFAULT 1,
  lastChated INTEGER NOT NULL DEFAULT 0,
  updated INTEGER NOT NULL DEFAULT 0,
  created INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IMGroup_idx_name ON IMGroup (name);
CREATE INDEX IMGroup_idx_creator ON IMGroup (creator);
CREATE TABLE IMGroupMember (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  groupId INTEGER NOT NULL,
  userId INTEGER NOT NULL,
  status INTEGER NOT NULL DEFAULT 1,
  created INTEGER NOT NULL DEFAULT 0,
  updated INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IMGroupMember_idx_groupId_userId_status ON IMGroupMember (groupId, userId, status);
CREATE INDEX IMGroupMember_idx_userId_status_updated ON IMGroupMember (userId, status, updated);
CREATE INDEX IMGroupMember_idx_groupId_updated ON IMGroupMember (groupId, updated);
CREATE TABLE IMRecentSession (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  userId INTEGER NOT NULL,
  peerId INTEGER NOT NULL,
  type INTEGER DEFAULT 0,
  status INTEGER DEFAULT 0,
  created INTEGER NOT NULL DEFAULT 0,
  updated INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IMRecentSession_idx_userId_peerId_status_updated ON IMRecentSession (userId, peerId, status, updated);
CREATE INDEX IMRecentSession_idx_userId_peerId_type ON IMRecentSession (userId, peerId, type);
CREATE TABLE IMRelationShip (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  smallId INTEGER NOT NULL,
  bigId INTEGER NOT NULL,
  status INTEGER DEFAULT 0,
  created INTEGER NOT NULL DEFAULT 0,
  updated INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IMRelationShip_idx_smallId_bigId_status_updated ON IMRelationShip (smallId, bigId, status, updated);
CREATE TABLE IMUser (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  sex INTEGER NOT NULL DEFAULT 0,
  name TEXT NOT NULL DEFAULT '',
  domain TEXT NOT NULL DEFAULT '',
  nick TEXT NOT NULL DEFAULT '',
  password TEXT NOT NULL DEFAULT '',
  salt TEXT NOT NULL DEFAULT '',
  phone TEXT NOT NULL DEFAULT '',
  email TEXT NOT NULL DEFAULT '',
  avatar TEXT DEFAULT '',
  departId INTEGER NOT NULL,
  status INTEGER DEFAULT 0,
  created INTEGER NOT NULL,
  updated INTEGER NOT NULL,
  push_shield_status INTEGER NOT NULL DEFAULT 0,
  sign_info TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IMUser_idx_domain ON IMUser (domain);
CREATE INDEX IMUser_idx_name ON IMUser (name);
CREATE INDEX IMUser_idx_phone ON IMUser (phone);
CREATE TABLE IMTransmitFile (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  fromId INTEGER NOT NULL,
  toId INTEGER NOT NULL,
  fileName TEXT NOT NULL DEFAULT '',
  size INTEGER NOT NULL DEFAULT 0,
  taskId TEXT NOT NULL DEFAULT '',
  status INTEGER NOT NULL DEFAULT 0,
  created INTEGER NOT NULL DEFAULT 0,
  updated INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IMTransmitFile_idx_toId_status_created ON IMTransmitFile (toId, status, created);
CREATE INDEX IMTransmitFile_idx_fromId_toId_taskId ON IMTransmitFile (fromId, toId, taskId);
"#,
    );
    for n in 0..MESSAGE_SHARDS {
        sql.push_str(&format!(
            r#"
CREATE TABLE IMMessage_{n} (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  relateId INTEGER NOT NULL,
  fromId INTEGER NOT NULL,
  toId INTEGER NOT NULL,
  msgId INTEGER NOT NULL,
  content TEXT DEFAULT '',
  type INTEGER NOT NULL DEFAULT 1,
  status INTEGER NOT NULL DEFAULT 0,
  updated INTEGER NOT NULL,
  created INTEGER NOT NULL
);
CREATE INDEX IMMessage_{n}_idx_relateId_status_created ON IMMessage_{n} (relateId, status, created);
CREATE INDEX IMMessage_{n}_idx_relateId_status_msgId_created ON IMMessage_{n} (relateId, status, msgId, created);
CREATE INDEX IMMessage_{n}_idx_fromId_toId_created ON IMMessage_{n} (fromId, toId, status);
CREATE TABLE IMGroupMessage_{n} (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  groupId INTEGER NOT NULL,
  userId INTEGER NOT NULL,
  msgId INTEGER NOT NULL,
  content TEXT NOT NULL DEFAULT '',
  type INTEGER NOT NULL DEFAULT 2,
  status INTEGER NOT NULL DEFAULT 0,
  updated INTEGER NOT NULL DEFAULT 0,
  created INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IMGroupMessage_{n}_idx_groupId_status_created ON IMGroupMessage_{n} (groupId, status, created);
CREATE INDEX IMGroupMessage_{n}_idx_groupId_msgId_status_created ON IMGroupMessage_{n} (groupId, msgId, status, created);
"#
        ));
    }
    sql
}

/// A new in-memory database with every migration applied, for tests.
#[cfg(test)]
pub(super) fn migrated_in_memory() -> Connection {
    let mut conn = Connection::open_in_memory().expect("an in-memory database opens");
    migrate(&mut conn).expect("the migrations apply");
    conn
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(conn: &Connection, kind: &str, like: &str) -> Vec<String> {
        let mut stmt = conn
            .prepare(
                "SELECT name FROM sqlite_master WHERE type = ?1 AND name LIKE ?2 ORDER BY name",
            )
            .unwrap();
        stmt.query_map([kind, like], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn a_file_of_the_previous_version_keeps_its_recent_sends_and_loses_two_indexes() {
        let mut conn = Connection::open_in_memory().unwrap();
        let all = migrations();
        let before = all.len() - 2;
        for sql in &all[..before] {
            conn.execute_batch(sql).unwrap();
        }
        conn.execute_batch(&format!("PRAGMA user_version = {before}"))
            .unwrap();
        conn.execute(
            "INSERT INTO tt_recent_send (from_id, to_id, grp, client_msg_id, hash, msg_id, at) \
             VALUES (1, 2, 0, 77, -5, 9, 1000)",
            [],
        )
        .unwrap();
        assert_eq!(names(&conn, "index", "IMMessage%fromId%").len(), 8);
        migrate(&mut conn).unwrap();
        let row: (i64, i64, i64) = conn
            .query_row(
                "SELECT msg_id, at, seq FROM tt_recent_send WHERE client_msg_id = 77",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(row, (9, 1000, 0));
        assert_eq!(
            names(&conn, "index", "tt_recent_send%"),
            ["tt_recent_send_seq"]
        );
        assert!(names(&conn, "index", "IMMessage%fromId%").is_empty());
        assert_eq!(names(&conn, "index", "IMMessage%relateId%").len(), 16);
    }

    #[test]
    fn migrations_create_every_teamtalk_table_once() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap();
        migrate(&mut conn).unwrap();
        let mut stmt = conn
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'IM%' ORDER BY name")
            .unwrap();
        let names: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(names.len(), 10 + 16);
        let own: i64 = conn
            .query_row("SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name LIKE 'tt\\_%' ESCAPE '\\'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            own, 13,
            "tt_state, tt_unread, tt_group_total, tt_group_read_mark, tt_group_push_shield, tt_device_token, tt_msg_counter, tt_recent_send, tt_recent_log, tt_admin_password, tt_console_session, tt_console_failure, tt_console_audit"
        );
        for t in [
            "IMUser",
            "IMDepart",
            "IMTransmitFile",
            "IMMessage_7",
            "IMGroupMessage_0",
        ] {
            assert!(names.iter().any(|n| n == t), "{t}");
        }
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version as usize, migrations().len());
    }
}

//! A whole deployment as rows and state items, so `tt-dbproxy copy` can
//! move it between backends without knowing either one's internals.
//!
//! The TeamTalk tables are the same on both backends (names, columns,
//! ids), so they travel as untyped rows in `id` order. What the original
//! keeps in Redis (and the embedded store in its `tt_*` tables) travels as
//! [`StateItem`]s. Group membership hashes (`group_member_<G>`) are not
//! state: `IMGroupMember` is the record, and the MySQL/Redis backend
//! rebuilds a missing hash from it.

use async_trait::async_trait;

use super::{MESSAGE_SHARDS, Platform, Store, StoreResult};

/// One column value, as both SQL backends can hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// Any integer column.
    Int(i64),
    /// Any text column, byte-exact.
    Text(Vec<u8>),
}

/// One table row, in the order of [`Table::columns`].
pub type Row = Vec<Cell>;

/// A TeamTalk table and the columns a copy carries (`id` first: rows are
/// read in pages by id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    /// Table name, as in `ttopen.sql`.
    pub name: String,
    /// Column names, `id` first.
    pub columns: &'static [&'static str],
}

impl Table {
    /// `a, b, c` for a statement.
    pub fn column_list(&self) -> String {
        self.columns.join(", ")
    }
}

const SINGLE_MESSAGE: &[&str] = &[
    "id", "relateId", "fromId", "toId", "msgId", "content", "type", "status", "updated", "created",
];
const GROUP_MESSAGE: &[&str] = &[
    "id", "groupId", "userId", "msgId", "content", "type", "status", "updated", "created",
];

/// Every TeamTalk table a deployment keeps, in copy order.
pub fn tables() -> Vec<Table> {
    let fixed: [(&str, &'static [&'static str]); 10] = [
        (
            "IMAdmin",
            &["id", "uname", "pwd", "status", "created", "updated"],
        ),
        (
            "IMDepart",
            &[
                "id",
                "departName",
                "priority",
                "parentId",
                "status",
                "created",
                "updated",
            ],
        ),
        (
            "IMUser",
            &[
                "id",
                "sex",
                "name",
                "domain",
                "nick",
                "password",
                "salt",
                "phone",
                "email",
                "avatar",
                "departId",
                "status",
                "created",
                "updated",
                "push_shield_status",
                "sign_info",
            ],
        ),
        (
            "IMDiscovery",
            &[
                "id",
                "itemName",
                "itemUrl",
                "itemPriority",
                "status",
                "created",
                "updated",
            ],
        ),
        (
            "IMGroup",
            &[
                "id",
                "name",
                "avatar",
                "creator",
                "type",
                "userCnt",
                "status",
                "version",
                "lastChated",
                "updated",
                "created",
            ],
        ),
        (
            "IMGroupMember",
            &["id", "groupId", "userId", "status", "created", "updated"],
        ),
        (
            "IMRelationShip",
            &["id", "smallId", "bigId", "status", "created", "updated"],
        ),
        (
            "IMRecentSession",
            &[
                "id", "userId", "peerId", "type", "status", "created", "updated",
            ],
        ),
        (
            "IMAudio",
            &[
                "id", "fromId", "toId", "path", "size", "duration", "created",
            ],
        ),
        (
            "IMTransmitFile",
            &[
                "id", "fromId", "toId", "fileName", "size", "taskId", "status", "created",
                "updated",
            ],
        ),
    ];
    let mut out: Vec<Table> = fixed
        .into_iter()
        .map(|(name, columns)| Table {
            name: name.to_string(),
            columns,
        })
        .collect();
    for n in 0..MESSAGE_SHARDS {
        out.push(Table {
            name: format!("IMMessage_{n}"),
            columns: SINGLE_MESSAGE,
        });
        out.push(Table {
            name: format!("IMGroupMessage_{n}"),
            columns: GROUP_MESSAGE,
        });
    }
    out
}

/// One piece of what the original keeps in Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateItem {
    /// `unread_<user>[peer] = count`.
    Unread {
        /// Receiver.
        user: u32,
        /// Sender.
        peer: u32,
        /// Unread messages.
        count: u32,
    },
    /// `<group>_im_group_msg[count]`: messages ever stored in the group.
    GroupTotal {
        /// Group.
        group: u32,
        /// Total.
        count: u32,
    },
    /// `<user>_<group>_im_user_group[count]`: the user's read mark.
    GroupMark {
        /// Member.
        user: u32,
        /// Group.
        group: u32,
        /// The group total when the user last read it.
        count: u32,
    },
    /// `group_set_<group>[<user>_1]`: a member's push shield.
    PushShield {
        /// Group.
        group: u32,
        /// Member.
        user: u32,
        /// Stored value.
        status: u32,
    },
    /// `device_<user>` (and `device_<token>`): a push token.
    DeviceToken {
        /// Owner.
        user: u32,
        /// Platform.
        platform: Platform,
        /// Token text.
        token: String,
    },
    /// `msg_id_<relation>` / `group_msg_id_<group>`: last id handed out.
    MsgCounter {
        /// A group counter (else one-to-one).
        group: bool,
        /// Relation or group id.
        conv: u32,
        /// Last id.
        last: u32,
    },
    /// `total_user_updated`: the user-list change gate.
    UserListGate(u32),
    /// `last_update_group`: the sync center's cursor.
    SyncCursor(u32),
}

/// What `copy` needs of a backend beyond [`Store`]: the raw rows and
/// state, read and written with their ids.
#[async_trait]
pub trait Portable: Store {
    /// Up to `limit` rows of `table` with `id > after`, by id.
    async fn read_rows(&self, table: &Table, after: i64, limit: usize) -> StoreResult<Vec<Row>>;

    /// Inserts `rows` with their ids; with `replace`, a row with the same
    /// id is overwritten (otherwise it is an error).
    async fn write_rows(&self, table: &Table, rows: Vec<Row>, replace: bool) -> StoreResult<()>;

    /// Every state item.
    async fn read_state(&self) -> StoreResult<Vec<StateItem>>;

    /// Stores `items`, overwriting what is there for the same key; drops
    /// cached membership of `groups` so it is rebuilt from the copied rows.
    async fn write_state(&self, items: Vec<StateItem>, groups: &[u32]) -> StoreResult<()>;

    /// Before the source is read: sends left between their commit and
    /// their counters (a crash) are counted, so the copied counters hold
    /// them; an error while some are still in flight (a server is running).
    async fn settle_for_export(&self) -> StoreResult<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_starts_with_id_and_shards_are_listed() {
        let all = tables();
        assert_eq!(all.len(), 10 + 2 * MESSAGE_SHARDS as usize);
        assert!(all.iter().all(|t| t.columns[0] == "id"));
        assert!(all.iter().any(|t| t.name == "IMGroupMessage_7"));
        assert_eq!(
            tables()[0].column_list(),
            "id, uname, pwd, status, created, updated"
        );
    }
}

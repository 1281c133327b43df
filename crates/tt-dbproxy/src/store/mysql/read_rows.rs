//! The shapes of the rows that more than one read returns, and their
//! decoding: a user row, and the parts of an unread summary's read (a
//! user's groups, a conversation's newest message). Used by the reads of
//! one request ([`super::users`], [`super::last`], [`super::console`])
//! and by the reads several requests share ([`super::shared_reads`]).

use mysql_async::Row;

use super::query::{int, text};
use super::script::sorted_unique;
use crate::store::{LastMessage, MESSAGE_SHARDS, SESSION_GROUP, StoreResult, UserRecord};

/// The columns of a user row, in [`user`]'s order.
pub(super) const USER_COLUMNS: &str = "id, sex, name, domain, nick, password, salt, phone, email, avatar, \
     departId, status, created, updated, push_shield_status, sign_info";

/// A user row of [`USER_COLUMNS`].
pub(super) fn user(mut r: Row) -> StoreResult<UserRecord> {
    Ok(UserRecord {
        id: int(&mut r, 0)?,
        sex: int(&mut r, 1)?,
        name: text(&mut r, 2)?,
        domain: text(&mut r, 3)?,
        nick: text(&mut r, 4)?,
        password: text(&mut r, 5)?,
        salt: text(&mut r, 6)?,
        phone: text(&mut r, 7)?,
        email: text(&mut r, 8)?,
        avatar: text(&mut r, 9)?,
        depart_id: int(&mut r, 10)?,
        status: int(&mut r, 11)?,
        created: int(&mut r, 12)?,
        updated: int(&mut r, 13)?,
        push_shield_status: int(&mut r, 14)?,
        sign_info: text(&mut r, 15)?,
    })
}

/// The select of one conversation's newest message, tagged `?` (its
/// index among the conversations a statement reads, so a row finds its
/// [`Wanted`]); its other parameter is the conversation key (relation or
/// group).
pub(super) fn newest(kind: u32, key: u32) -> String {
    let shard = key % MESSAGE_SHARDS;
    if kind == SESSION_GROUP {
        format!(
            "(SELECT ? AS k, msgId, type, content, userId FROM IMGroupMessage_{shard} \
             WHERE groupId = ? AND status = 0 ORDER BY created DESC, id DESC LIMIT 1)"
        )
    } else {
        format!(
            "(SELECT ? AS k, msgId, type, content, fromId FROM IMMessage_{shard} \
             FORCE INDEX (idx_relateId_status_created) \
             WHERE relateId = ? AND status = 0 ORDER BY created DESC, id DESC LIMIT 1)"
        )
    }
}

/// The tag of the rows of [`groups_branch`] (never a conversation's).
pub(super) const GROUPS_TAG: u32 = u32::MAX;
/// The tag of the rows of [`relations_branch`] (never a conversation's).
pub(super) const RELATIONS_TAG: u32 = u32::MAX - 1;

/// A `UNION ALL` branch and its parameters, in order.
pub(super) type Branch = (String, Vec<u32>);

/// The branches as one statement and its parameters.
pub(super) fn union_all(branches: Vec<Branch>) -> (String, Vec<u32>) {
    let sql: Vec<&str> = branches.iter().map(|(sql, _)| sql.as_str()).collect();
    let sql = sql.join(" UNION ALL ");
    (sql, branches.into_iter().flat_map(|(_, v)| v).collect())
}

/// Which remembered relations of `wanted` are still active, as a branch
/// shaped like [`newest`]'s (tag [`RELATIONS_TAG`]): a row per active
/// relation, its id second ([`active_relation`]); `None` when none is
/// remembered. One branch checks every remembered relation of a
/// statement: a message found for a relation it does not list is not
/// taken ([`still_valid`]; cheaper for MariaDB than a subquery in each
/// conversation's branch).
pub(super) fn relations_branch<'a>(wanted: impl IntoIterator<Item = &'a Wanted>) -> Option<Branch> {
    let keys = sorted_unique(wanted.into_iter().filter(|w| w.3).map(|w| w.2).collect());
    (!keys.is_empty()).then(|| {
        let sql = format!(
            "(SELECT ? AS k, id, 0, '', 0 FROM IMRelationShip WHERE id IN ({}) AND status = 0)",
            crate::store::placeholders(keys.len())
        );
        let mut values = vec![RELATIONS_TAG];
        values.extend(keys);
        (sql, values)
    })
}

/// A row of [`relations_branch`] (after its tag): the relation id.
pub(super) fn active_relation(r: &mut Row) -> StoreResult<u32> {
    int(r, 1)
}

/// Whether the newest message found for `w` may be taken: a remembered
/// relation only when it is still active.
pub(super) fn still_valid(w: &Wanted, active: &[u32]) -> bool {
    !w.3 || active.contains(&w.2)
}

/// A conversation whose newest message is wanted: its position in the
/// request, kind, key (relation or group), and whether the relation is a
/// remembered one (checked in the statement: [`relations_branch`]).
pub(super) type Wanted = (usize, u32, u32, bool);

/// The groups of `users` as a branch shaped like [`newest`]'s (tag
/// [`GROUPS_TAG`]): a row per membership — group, `updated`, the user and
/// the membership row's id (for the order). One branch for every user of
/// a statement.
pub(super) fn groups_branch(users: &[u32]) -> Branch {
    let sql = format!(
        "(SELECT ? AS k, groupId, updated, userId, id FROM IMGroupMember \
         WHERE userId IN ({}) AND status = 0)",
        crate::store::placeholders(users.len())
    );
    let mut values = vec![GROUPS_TAG];
    values.extend(users);
    (sql, values)
}

/// A row of [`newest`] (after its tag) as the message.
pub(super) fn last_message(r: &mut Row) -> StoreResult<LastMessage> {
    Ok(LastMessage {
        msg_id: int(r, 1)?,
        msg_type: int(r, 2)?,
        content: text(r, 3)?,
        from_id: int(r, 4)?,
    })
}

/// A row of [`groups_branch`] (after its tag): the user, and its group,
/// `updated` and the membership row's id.
pub(super) fn group_row(r: &mut Row) -> StoreResult<(u32, (u32, u32, u32))> {
    Ok((int(r, 3)?, (int(r, 1)?, int(r, 2)?, int(r, 4)?)))
}

/// The groups of [`group_row`]s, newest membership first (as
/// `user_groups`).
pub(super) fn newest_first(mut groups: Vec<(u32, u32, u32)>) -> Vec<u32> {
    groups.sort_unstable_by_key(|&(_, updated, id)| std::cmp::Reverse((updated, id)));
    groups.into_iter().map(|(g, _, _)| g).collect()
}

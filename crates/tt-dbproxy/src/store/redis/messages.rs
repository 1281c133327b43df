//! Message-id counters and group membership in Redis, on the original
//! keys (a send's own scripts are in [`super::pending`]).

use super::keys::{self, atoi};
use super::ops::RedisStore;
use crate::store::StoreResult;

impl RedisStore {
    /// The id counter of a conversation (`group_msg_id_<G>` or
    /// `msg_id_<R>`).
    pub(crate) fn counter_key(group: bool, conv: u32) -> String {
        if group {
            keys::group_msg_id(conv)
        } else {
            keys::single_msg_id(conv)
        }
    }

    /// A member's join time from `group_member_<G>`, `None` if not a member.
    pub(crate) async fn join_time(&self, group: u32, user: u32) -> StoreResult<Option<u32>> {
        let v: Option<String> = self
            .group_member
            .lease()
            .await?
            .cmd(redis::cmd("HGET").arg(keys::group_members(group)).arg(user))
            .await?;
        Ok(v.filter(|s| !s.is_empty()).map(|s| atoi(&s)))
    }
}

impl RedisStore {
    /// Current members from `group_member_<G>`.
    pub(crate) async fn member_ids(&self, group: u32) -> StoreResult<Vec<u32>> {
        let fields: Vec<String> = self
            .group_member
            .lease()
            .await?
            .cmd(redis::cmd("HKEYS").arg(keys::group_members(group)))
            .await?;
        Ok(fields.iter().map(|f| atoi(f)).filter(|u| *u != 0).collect())
    }

    /// Drops a group's membership hash (before re-creating a reused id).
    pub(crate) async fn clear_group_members(&self, group: u32) -> StoreResult<()> {
        self.group_member
            .lease()
            .await?
            .cmd::<i64>(redis::cmd("DEL").arg(keys::group_members(group)))
            .await
            .map(drop)
    }

    /// Removes members from `group_member_<G>`.
    pub(crate) async fn remove_group_members(&self, group: u32, users: &[u32]) -> StoreResult<()> {
        if users.is_empty() {
            return Ok(());
        }
        let mut cmd = redis::cmd("HDEL");
        cmd.arg(keys::group_members(group));
        for u in users {
            cmd.arg(*u);
        }
        self.group_member
            .lease()
            .await?
            .cmd::<i64>(&cmd)
            .await
            .map(drop)
    }

    /// `group_msg_id_<G> = 0` for a new group, unless a counter is there.
    pub(crate) async fn init_group_msg_id(&self, group: u32) -> StoreResult<()> {
        let cmd = redis::cmd("SET")
            .arg(keys::group_msg_id(group))
            .arg(0)
            .arg("NX")
            .clone();
        self.unread
            .lease()
            .await?
            .cmd::<Option<String>>(&cmd)
            .await
            .map(drop)
    }

    /// The sync center's cursor, `last_update_group`.
    pub(crate) async fn sync_cursor(&self) -> StoreResult<Option<u32>> {
        self.read_seconds(keys::SYNC_CURSOR).await
    }

    /// Moves the sync center's cursor.
    pub(crate) async fn set_sync_cursor(&self, at: u32) -> StoreResult<()> {
        self.unread
            .lease()
            .await?
            .cmd(redis::cmd("SET").arg(keys::SYNC_CURSOR).arg(at))
            .await
    }
}

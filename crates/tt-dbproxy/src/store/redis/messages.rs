//! Message ids and group counters in Redis, on the original keys, each
//! update one atomic script.

use redis::Script;

use super::keys::{self, atoi};
use super::ops::RedisStore;
use crate::store::{StoreError, StoreResult};

/// Seeds a missing counter (never overwriting one that appeared in the
/// meantime) and increments it.
const SEED_AND_INCR: &str = r"
redis.call('SET', KEYS[1], ARGV[1], 'NX')
return redis.call('INCRBY', KEYS[1], 1)";

/// A stored group message: the group total grows and the sender's read
/// mark becomes the new total; with a third key, the send is remembered
/// for its resends (id `ARGV[1]`, for `ARGV[2]` seconds).
const GROUP_MESSAGE_STORED: &str = r"
redis.call('HINCRBY', KEYS[1], 'count', 1)
local v = redis.call('HGETALL', KEYS[1])
redis.call('HSET', KEYS[2], unpack(v))
if KEYS[3] then redis.call('SET', KEYS[3], ARGV[1], 'EX', ARGV[2]) end
return 1";

/// The message scripts, loaded once.
pub struct MessageScripts {
    seed_and_incr: Script,
    group_stored: Script,
}

impl Default for MessageScripts {
    fn default() -> Self {
        Self {
            seed_and_incr: Script::new(SEED_AND_INCR),
            group_stored: Script::new(GROUP_MESSAGE_STORED),
        }
    }
}

fn to_id(v: i64, key: &str) -> StoreResult<u32> {
    u32::try_from(v)
        .ok()
        .filter(|id| *id != 0)
        .ok_or_else(|| StoreError::InvalidData(format!("{key} holds {v}")))
}

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

    /// Seeds a missing counter with `stored_max` (unless another request
    /// seeded it first) and returns the next id.
    pub(crate) async fn seed_msg_id(
        &self,
        group: bool,
        conv: u32,
        stored_max: u32,
    ) -> StoreResult<u32> {
        let key = Self::counter_key(group, conv);
        let mut inv = self.scripts.seed_and_incr.prepare_invoke();
        inv.key(&key).arg(stored_max);
        let v: i64 = self.unread.lease().await?.script(&inv).await?;
        to_id(v, &key)
    }

    /// Counters after a stored group message, and the memory of the send
    /// when `resend` names its key (key, id, window in seconds).
    pub(crate) async fn group_message_stored(
        &self,
        group: u32,
        sender: u32,
        resend: Option<(&str, u32, u32)>,
    ) -> StoreResult<()> {
        let mut inv = self.scripts.group_stored.prepare_invoke();
        inv.key(keys::group_total(group))
            .key(keys::group_mark(sender, group));
        if let Some((key, id, window_s)) = resend {
            inv.key(key).arg(id).arg(window_s);
        }
        self.unread.run_script(&inv).await
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

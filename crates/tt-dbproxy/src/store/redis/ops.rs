//! [`RedisStore`]: every storage operation that lives in Redis, on the
//! original's keys. Multi-step updates run as Lua scripts so concurrent
//! requests never see half of one.

use std::sync::Arc;
use std::time::Duration;

use redis::Script;
use tracing::warn;

use super::keys::{self, atoi};
use super::pool::RedisPool;
use super::sentinel::MasterTracker;
use crate::config::RedisConfig;
use crate::store::{DeviceToken, Platform, StoreError, StoreResult};

/// Registers a push token with the accounts spec's fixes: the user's old
/// token is released only if it still points to the user, and a previous
/// owner of the new token loses it. An empty token (with an empty value)
/// unregisters: `device_<user>` becomes "", the old token is released as
/// above, and no `device_` key is written for the empty token.
const REGISTER_TOKEN: &str = r"
local user, value, token = ARGV[1], ARGV[2], ARGV[3]
local old = redis.call('GET', 'device_' .. user)
if old and old ~= '' then
  local old_token = old
  if string.sub(old, 1, 4) == 'ios:' then old_token = string.sub(old, 5)
  elseif string.sub(old, 1, 8) == 'android:' then old_token = string.sub(old, 9) end
  if old_token ~= '' and old_token ~= token and redis.call('GET', 'device_' .. old_token) == user then
    redis.call('SET', 'device_' .. old_token, '')
  end
end
redis.call('SET', 'device_' .. user, value)
if token == '' then return 1 end
local prev = redis.call('GET', 'device_' .. token)
if prev and prev ~= '' and prev ~= user then
  local pv = redis.call('GET', 'device_' .. prev)
  if pv and (pv == token or string.sub(pv, -(#token + 1)) == ':' .. token) then
    redis.call('SET', 'device_' .. prev, '')
  end
end
redis.call('SET', 'device_' .. token, user)
return 1";

/// The Redis pools and operations.
pub struct RedisStore {
    pub(super) unread: Arc<RedisPool>,
    /// The send's allocation and application scripts, batched.
    pub(super) send_scripts: super::batched::SendScripts,
    pub(super) group_set: RedisPool,
    pub(super) token: RedisPool,
    pub(super) group_member: RedisPool,
    register_token: Script,
    /// The message-id guard across failovers, in Sentinel mode.
    pub(super) reseed: Option<super::reseed::Reseed>,
}

fn pool(
    cfg: &RedisConfig,
    name: &str,
    wait: Duration,
    tracker: Option<&Arc<MasterTracker>>,
) -> StoreResult<RedisPool> {
    let p = cfg
        .pool(name)
        .ok_or_else(|| StoreError::Unavailable(format!("redis pool {name} is not configured")))?;
    RedisPool::new(p, wait, tracker)
}

pub(super) fn token_value(platform: Platform, token: &str) -> String {
    match platform {
        Platform::Ios => format!("ios:{token}"),
        Platform::Android => format!("android:{token}"),
        Platform::Other => token.to_string(),
    }
}

pub(super) fn parse_token(user_id: u32, value: &str) -> Option<DeviceToken> {
    if value.is_empty() {
        return None;
    }
    let (platform, token) = match value.split_once(':') {
        Some(("ios", t)) => (Platform::Ios, t),
        Some(("android", t)) => (Platform::Android, t),
        _ => (Platform::Other, value),
    };
    Some(DeviceToken {
        user_id,
        platform,
        token: token.to_string(),
    })
}

impl RedisStore {
    /// Pools for the four pools the handlers use (`sync` is configured
    /// but, as in the original, never used).
    /// With Sentinels, one [`MasterTracker`] is shared by the pools.
    pub fn new(cfg: &RedisConfig, wait: Duration) -> StoreResult<Self> {
        let tracker = cfg.sentinel.as_ref().map(|s| {
            let password = cfg.pools.first().and_then(|p| p.password.clone());
            MasterTracker::new(s.clone(), password)
        });
        let t = tracker.as_ref();
        let unread = Arc::new(pool(cfg, "unread", wait, t)?);
        Ok(Self {
            send_scripts: super::batched::SendScripts::new(&unread),
            unread,
            group_set: pool(cfg, "group_set", wait, t)?,
            token: pool(cfg, "token", wait, t)?,
            group_member: pool(cfg, "group_member", wait, t)?,
            reseed: tracker.map(|_| super::reseed::Reseed::default()),
            register_token: Script::new(REGISTER_TOKEN),
        })
    }

    /// Applies reloaded pool sizes and the acquire timeout (the addresses
    /// are not reloadable).
    pub fn reconfigure(&self, cfg: &RedisConfig, wait: Duration) {
        for (name, p) in [
            ("unread", self.unread.as_ref()),
            ("group_set", &self.group_set),
            ("token", &self.token),
            ("group_member", &self.group_member),
        ] {
            if let Some(c) = cfg.pool(name) {
                p.reconfigure(c.max_connections, wait);
            }
        }
    }

    /// A seconds value stored as decimal text in the `unread` pool; absent
    /// or empty is `None`.
    pub(crate) async fn read_seconds(&self, key: &str) -> StoreResult<Option<u32>> {
        let v: Option<String> = self
            .unread
            .lease()
            .await?
            .cmd(redis::cmd("GET").arg(key))
            .await?;
        Ok(v.filter(|s| !s.is_empty()).map(|s| atoi(&s)))
    }

    pub(crate) async fn gate(&self) -> StoreResult<Option<u32>> {
        self.read_seconds(keys::GATE_READ).await
    }

    pub(crate) async fn set_gate(&self, at: u32) -> StoreResult<()> {
        let cmd = redis::cmd("MSET")
            .arg(keys::GATE_READ)
            .arg(at)
            .arg(keys::GATE_WRITE)
            .arg(at)
            .clone();
        self.unread.lease().await?.cmd(&cmd).await
    }

    pub(crate) async fn add_unread(&self, user: u32, peer: u32, n: u32) -> StoreResult<()> {
        let cmd = redis::cmd("HINCRBY")
            .arg(keys::unread(user))
            .arg(peer)
            .arg(n)
            .clone();
        self.unread.lease().await?.cmd::<i64>(&cmd).await.map(drop)
    }

    pub(crate) async fn unread_counts(&self, user: u32) -> StoreResult<Vec<(u32, u32)>> {
        let all: Vec<(String, String)> = self
            .unread
            .lease()
            .await?
            .cmd(redis::cmd("HGETALL").arg(keys::unread(user)))
            .await?;
        // A field holding 0 is listed, as by the original (spec §4.3).
        let mut out: Vec<(u32, u32)> = all
            .iter()
            .map(|(peer, n)| (atoi(peer), n))
            .filter(|(peer, _)| *peer != 0)
            .map(|(peer, raw)| {
                let n = keys::unread_count(raw).unwrap_or_else(|| {
                    warn!(user, peer, value = %raw, "unread count is not a number; read as 0");
                    0
                });
                (peer, n)
            })
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    pub(crate) async fn incr_group_total(&self, group: u32) -> StoreResult<u32> {
        let cmd = redis::cmd("HINCRBY")
            .arg(keys::group_total(group))
            .arg("count")
            .arg(1)
            .clone();
        let n: i64 = self.unread.lease().await?.cmd(&cmd).await?;
        u32::try_from(n).map_err(|_| StoreError::InvalidData(format!("group {group} total {n}")))
    }

    pub(crate) async fn group_counter(
        &self,
        user: u32,
        group: u32,
    ) -> StoreResult<Option<(u32, u32)>> {
        Ok(self
            .group_counters(user, &[group])
            .await?
            .into_iter()
            .next()
            .flatten())
    }

    /// Totals and read marks of several groups in one pipeline.
    pub(crate) async fn group_counters(
        &self,
        user: u32,
        groups: &[u32],
    ) -> StoreResult<Vec<Option<(u32, u32)>>> {
        if groups.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for g in groups {
            pipe.cmd("HGET").arg(keys::group_total(*g)).arg("count");
            pipe.cmd("HGET")
                .arg(keys::group_mark(user, *g))
                .arg("count");
        }
        let values: Vec<Option<String>> = self.unread.lease().await?.pipe(&pipe).await?;
        if values.len() != 2 * groups.len() {
            return Err(StoreError::InvalidData(format!(
                "{} replies to {} group counter reads",
                values.len(),
                2 * groups.len()
            )));
        }
        Ok(values
            .chunks(2)
            .map(|pair| {
                pair[0]
                    .as_deref()
                    .filter(|t| !t.is_empty())
                    .map(|t| (atoi(t), pair[1].as_deref().map_or(0, atoi)))
            })
            .collect())
    }

    pub(crate) async fn add_group_members(
        &self,
        group: u32,
        members: &[(u32, u32)],
    ) -> StoreResult<()> {
        if members.is_empty() {
            return Ok(());
        }
        let mut cmd = redis::cmd("HSET");
        cmd.arg(keys::group_members(group));
        for (user, joined) in members {
            cmd.arg(*user).arg(*joined);
        }
        self.group_member
            .lease()
            .await?
            .cmd::<i64>(&cmd)
            .await
            .map(drop)
    }

    pub(crate) async fn group_hash_exists(&self, group: u32) -> StoreResult<bool> {
        self.group_member
            .lease()
            .await?
            .cmd(redis::cmd("EXISTS").arg(keys::group_members(group)))
            .await
    }

    pub(crate) async fn is_group_member(&self, group: u32, user: u32) -> StoreResult<bool> {
        Ok(self.join_time(group, user).await?.is_some())
    }

    pub(crate) async fn set_group_push_shield(
        &self,
        group: u32,
        user: u32,
        status: u32,
    ) -> StoreResult<()> {
        let cmd = redis::cmd("HSET")
            .arg(keys::group_settings(group))
            .arg(keys::push_setting_field(user))
            .arg(status)
            .clone();
        self.group_set
            .lease()
            .await?
            .cmd::<i64>(&cmd)
            .await
            .map(drop)
    }

    pub(crate) async fn group_push_shields(&self, group: u32) -> StoreResult<Vec<(u32, u32)>> {
        let all: Vec<(String, String)> = self
            .group_set
            .lease()
            .await?
            .cmd(redis::cmd("HGETALL").arg(keys::group_settings(group)))
            .await?;
        let mut out: Vec<(u32, u32)> = all
            .iter()
            .filter_map(|(field, v)| Some((field.strip_suffix("_1")?.parse().ok()?, atoi(v))))
            .collect();
        out.sort_unstable();
        Ok(out)
    }

    pub(crate) async fn register_device_token(
        &self,
        user: u32,
        platform: Platform,
        token: &str,
    ) -> StoreResult<()> {
        let mut inv = self.register_token.prepare_invoke();
        inv.arg(user).arg(token_value(platform, token)).arg(token);
        self.token.run_script(&inv).await
    }

    /// Unregisters the user's token: `device_<user>` = "", the old token's
    /// reverse key cleared only while it names the user.
    pub(crate) async fn clear_device_token(&self, user: u32) -> StoreResult<()> {
        let mut inv = self.register_token.prepare_invoke();
        inv.arg(user).arg("").arg("");
        self.token.run_script(&inv).await
    }

    pub(crate) async fn device_tokens(&self, users: &[u32]) -> StoreResult<Vec<DeviceToken>> {
        let mut ids = users.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let mut out = Vec::new();
        for chunk in ids.chunks(crate::store::ID_CHUNK) {
            let mut cmd = redis::cmd("MGET");
            for id in chunk {
                cmd.arg(keys::device(&id.to_string()));
            }
            let values: Vec<Option<String>> = self.token.lease().await?.cmd(&cmd).await?;
            out.extend(
                chunk
                    .iter()
                    .zip(values)
                    .filter_map(|(id, v)| parse_token(*id, v.as_deref().unwrap_or(""))),
            );
        }
        Ok(out)
    }
}

/// The message-id guard across failovers (Sentinel mode).
impl RedisStore {
    /// The guard, in Sentinel mode.
    pub(crate) fn reseed(&self) -> Option<&super::reseed::Reseed> {
        self.reseed.as_ref()
    }

    /// The current master epoch, connecting (and so resolving the master)
    /// if needed.
    pub(crate) async fn master_epoch(&self) -> StoreResult<u64> {
        Ok(self.unread.lease().await?.epoch())
    }

    /// Raises `counter` to at least `stored_max` and records it as
    /// re-seeded in `epoch`, if the script ran on a connection of that
    /// epoch.
    pub(crate) async fn raise_counter(
        &self,
        guard: &super::reseed::Reseed,
        counter: &str,
        stored_max: u32,
        epoch: u64,
    ) -> StoreResult<()> {
        let mut inv = guard.raise.prepare_invoke();
        inv.key(counter).arg(stored_max);
        let mut lease = self.unread.lease().await?;
        let _: i64 = lease.script(&inv).await?;
        if lease.epoch() != epoch {
            return Err(StoreError::Unavailable(
                "the Redis master changed while a counter was re-seeded".into(),
            ));
        }
        metrics::counter!(crate::metrics::MSG_ID_RESEEDS).increment(1);
        guard.mark(counter, epoch);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_values_round_trip() {
        for p in [Platform::Ios, Platform::Android, Platform::Other] {
            let v = token_value(p, "abc");
            assert_eq!(
                parse_token(7, &v),
                Some(DeviceToken {
                    user_id: 7,
                    platform: p,
                    token: "abc".into()
                })
            );
        }
        assert_eq!(parse_token(7, ""), None);
        assert_eq!(
            parse_token(7, "wp:x").map(|t| t.platform),
            Some(Platform::Other)
        );
        assert_eq!(atoi("12abc"), 12);
        assert_eq!(atoi("x"), 0);
    }
}

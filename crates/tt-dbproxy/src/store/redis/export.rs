//! The original's Redis state as [`StateItem`]s for `copy`: found with
//! `SCAN` in each pool (never `KEYS`, which blocks the server) and
//! written back with pipelines.

use super::keys::{self, atoi};
use super::ops::{RedisStore, parse_token, token_value};
use super::pool::RedisPool;
use crate::store::StoreResult;
use crate::store::export::StateItem;

/// Keys per `SCAN` step and commands per pipeline.
const STEP: usize = 500;

/// Every key of `pool` matching `pattern`.
async fn scan(pool: &RedisPool, pattern: &str) -> StoreResult<Vec<String>> {
    let mut lease = pool.lease().await?;
    let mut cursor = 0u64;
    let mut out = Vec::new();
    loop {
        let (next, found): (u64, Vec<String>) = lease
            .cmd(
                redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(pattern)
                    .arg("COUNT")
                    .arg(STEP),
            )
            .await?;
        out.extend(found);
        if next == 0 {
            out.sort_unstable();
            out.dedup();
            return Ok(out);
        }
        cursor = next;
    }
}

/// The id between `prefix` and `suffix` of `key`, if it is a number.
fn id_in(key: &str, prefix: &str, suffix: &str) -> Option<u32> {
    key.strip_prefix(prefix)?.strip_suffix(suffix)?.parse().ok()
}

/// Runs `cmd` for each key and returns the answers in key order.
async fn each<T: redis::FromRedisValue>(
    pool: &RedisPool,
    keys: &[String],
    cmd: impl Fn(&mut redis::Pipeline, &str),
) -> StoreResult<Vec<T>> {
    let mut lease = pool.lease().await?;
    let mut out = Vec::with_capacity(keys.len());
    for chunk in keys.chunks(STEP) {
        let mut pipe = redis::pipe();
        for k in chunk {
            cmd(&mut pipe, k);
        }
        let answers: Vec<T> = lease.pipe(&pipe).await?;
        out.extend(answers);
    }
    Ok(out)
}

fn count(v: &str) -> u32 {
    keys::unread_count(v).unwrap_or(0)
}

impl RedisStore {
    /// Every state item the original keeps in Redis.
    pub(crate) async fn export_state(&self) -> StoreResult<Vec<StateItem>> {
        let mut out = Vec::new();
        let hgetall = |p: &mut redis::Pipeline, k: &str| {
            p.cmd("HGETALL").arg(k);
        };
        let unread = scan(&self.unread, "unread_*").await?;
        let hashes: Vec<Vec<(String, String)>> = each(&self.unread, &unread, hgetall).await?;
        for (key, fields) in unread.iter().zip(hashes) {
            let Some(user) = id_in(key, "unread_", "") else {
                continue;
            };
            out.extend(fields.iter().map(|(peer, n)| StateItem::Unread {
                user,
                peer: atoi(peer),
                count: count(n),
            }));
        }
        let hget_count = |p: &mut redis::Pipeline, k: &str| {
            p.cmd("HGET").arg(k).arg("count");
        };
        let totals = scan(&self.unread, "*_im_group_msg").await?;
        let values: Vec<Option<String>> = each(&self.unread, &totals, hget_count).await?;
        for (key, v) in totals.iter().zip(values) {
            if let (Some(group), Some(v)) = (id_in(key, "", "_im_group_msg"), v) {
                out.push(StateItem::GroupTotal {
                    group,
                    count: count(&v),
                });
            }
        }
        let marks = scan(&self.unread, "*_*_im_user_group").await?;
        let values: Vec<Option<String>> = each(&self.unread, &marks, hget_count).await?;
        for (key, v) in marks.iter().zip(values) {
            let pair = key
                .strip_suffix("_im_user_group")
                .and_then(|k| k.split_once('_'))
                .and_then(|(u, g)| Some((u.parse().ok()?, g.parse().ok()?)));
            if let (Some((user, group)), Some(v)) = (pair, v) {
                out.push(StateItem::GroupMark {
                    user,
                    group,
                    count: count(&v),
                });
            }
        }
        let get = |p: &mut redis::Pipeline, k: &str| {
            p.cmd("GET").arg(k);
        };
        for (pattern, prefix, group) in [
            ("msg_id_*", "msg_id_", false),
            ("group_msg_id_*", "group_msg_id_", true),
        ] {
            let counters = scan(&self.unread, pattern).await?;
            let values: Vec<Option<String>> = each(&self.unread, &counters, get).await?;
            for (key, v) in counters.iter().zip(values) {
                if let (Some(conv), Some(v)) = (id_in(key, prefix, ""), v) {
                    out.push(StateItem::MsgCounter {
                        group,
                        conv,
                        last: atoi(&v),
                    });
                }
            }
        }
        let settings = scan(&self.group_set, "group_set_*").await?;
        let hashes: Vec<Vec<(String, String)>> = each(&self.group_set, &settings, hgetall).await?;
        for (key, fields) in settings.iter().zip(hashes) {
            let Some(group) = id_in(key, "group_set_", "") else {
                continue;
            };
            out.extend(fields.iter().filter_map(|(field, v)| {
                Some(StateItem::PushShield {
                    group,
                    user: field.strip_suffix("_1")?.parse().ok()?,
                    status: atoi(v),
                })
            }));
        }
        let devices: Vec<String> = scan(&self.token, "device_*")
            .await?
            .into_iter()
            .filter(|k| id_in(k, "device_", "").is_some())
            .collect();
        let values: Vec<Option<String>> = each(&self.token, &devices, get).await?;
        for (key, v) in devices.iter().zip(values) {
            let user = id_in(key, "device_", "").unwrap_or(0);
            if let Some(t) = v.and_then(|v| parse_token(user, &v)) {
                out.push(StateItem::DeviceToken {
                    user,
                    platform: t.platform,
                    token: t.token,
                });
            }
        }
        if let Some(at) = self.gate().await? {
            out.push(StateItem::UserListGate(at));
        }
        if let Some(at) = self.sync_cursor().await? {
            out.push(StateItem::SyncCursor(at));
        }
        Ok(out)
    }

    /// Writes `items` on the original's keys and drops the membership
    /// hashes of `groups`, which are rebuilt from `IMGroupMember` on
    /// first use.
    pub(crate) async fn import_state(
        &self,
        items: Vec<StateItem>,
        groups: &[u32],
    ) -> StoreResult<()> {
        let mut unread = redis::pipe();
        let mut group_set = redis::pipe();
        let mut token = redis::pipe();
        for item in items {
            match item {
                StateItem::Unread { user, peer, count } => {
                    unread.hset(keys::unread(user), peer, count).ignore();
                }
                StateItem::GroupTotal { group, count } => {
                    unread
                        .hset(keys::group_total(group), "count", count)
                        .ignore();
                }
                StateItem::GroupMark { user, group, count } => {
                    unread
                        .hset(keys::group_mark(user, group), "count", count)
                        .ignore();
                }
                StateItem::MsgCounter { group, conv, last } => {
                    unread
                        .set(RedisStore::counter_key(group, conv), last)
                        .ignore();
                }
                StateItem::UserListGate(at) => {
                    unread
                        .set(keys::GATE_READ, at)
                        .ignore()
                        .set(keys::GATE_WRITE, at)
                        .ignore();
                }
                StateItem::SyncCursor(at) => {
                    unread.set(keys::SYNC_CURSOR, at).ignore();
                }
                StateItem::PushShield {
                    group,
                    user,
                    status,
                } => {
                    group_set
                        .hset(
                            keys::group_settings(group),
                            keys::push_setting_field(user),
                            status,
                        )
                        .ignore();
                }
                StateItem::DeviceToken {
                    user,
                    platform,
                    token: t,
                } => {
                    token
                        .set(keys::device(&user.to_string()), token_value(platform, &t))
                        .ignore()
                        .set(keys::device(&t), user)
                        .ignore();
                }
            }
        }
        let mut members = redis::pipe();
        for g in groups {
            members.del(keys::group_members(*g)).ignore();
        }
        for (pool, pipe) in [
            (self.unread.as_ref(), unread),
            (&self.group_set, group_set),
            (&self.token, token),
            (&self.group_member, members),
        ] {
            if !pipe.is_empty() {
                pool.lease().await?.pipe::<()>(&pipe).await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::id_in;

    #[test]
    fn ids_are_read_only_from_numeric_keys() {
        assert_eq!(id_in("unread_12", "unread_", ""), Some(12));
        assert_eq!(id_in("7_im_group_msg", "", "_im_group_msg"), Some(7));
        assert_eq!(id_in("device_abc", "device_", ""), None);
        assert_eq!(id_in("unread_", "unread_", ""), None);
    }
}

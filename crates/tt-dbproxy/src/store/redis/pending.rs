//! The record of sends in flight on MySQL + Redis: what a crash between a
//! message's `COMMIT` and its Redis side effects must not lose.
//!
//! A send's id is allocated in the same script that writes its *pending
//! entry* (receiver, sender, resend key, deadline) and, for a send that may
//! be resent, sets its resend key to `-<id>`. All of it happens before the
//! MySQL commit. After the commit one script *applies* the entry — unread
//! count or group total and sender's mark raised, the resend key set to the
//! id, the entry removed — and it does so at most once, whoever runs it: the
//! sender after its commit, a resend that finds the entry orphaned, a read
//! ack that must count what was committed before it, or the recovery pass
//! every instance runs (start-up, then every second). An entry whose message
//! was not committed is *dropped* once its deadline has passed.
//!
//! Keys (pool `unread`; the original uses no `:` in its keys):
//! - `tt_dbproxy:pending:s:<to>:<from>` / `tt_dbproxy:pending:g:<group>`:
//!   hash `<conversation>:<msgId>` → `<deadline ms>|<from>|<window s>|<resend key>`;
//! - `tt_dbproxy:pending`: sorted set of `<hash>|<field>` by deadline (ms,
//!   Redis server time), for the recovery pass.

use redis::Script;

use super::ops::RedisStore;
pub(crate) use super::send_record::{Allocation, SendRecord};
use super::send_record::{INDEX, NOW, PREFIX, RECORD, push_recording};
use crate::store::{StoreError, StoreResult};

/// Seeds a missing counter with ARGV[5] (unless another request did),
/// takes the next id and records it.
fn seed_script() -> String {
    format!(
        "{NOW}
redis.call('SET', KEYS[1], ARGV[5], 'NX')
local id = redis.call('INCRBY', KEYS[1], 1)
{RECORD}
return id"
    )
}

/// Drops an entry whose message is not stored (KEYS[1] hash, KEYS[2]
/// index, KEYS[3] resend key if any; ARGV: field, id, force). Without
/// `force` an entry whose deadline has not passed stays (2).
fn drop_script() -> String {
    format!(
        "{NOW}
local p = redis.call('HGET', KEYS[1], ARGV[1])
if p and ARGV[3] ~= '1' then
  local d = tonumber(string.match(p, '^(%d+)'))
  if d and d > now then return 2 end
end
if p then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], KEYS[1] .. '|' .. ARGV[1])
end
if KEYS[3] then
  local v = redis.call('GET', KEYS[3])
  if v == '0' or v == tostring(-tonumber(ARGV[2])) then redis.call('DEL', KEYS[3]) end
end
return 1"
    )
}

/// A read ack of a one-to-one conversation (KEYS[1] pending hash, KEYS[2]
/// `unread_<user>`, ARGV[1] peer, ARGV[2] force): the pending entries when
/// there are some (and `force` is not set), otherwise the count is cleared
/// and the answer is empty.
const CLEAR_SINGLE: &str = r"
if ARGV[2] ~= '1' then
  local p = redis.call('HGETALL', KEYS[1])
  if #p > 0 then return p end
end
redis.call('HDEL', KEYS[2], ARGV[1])
return {}";

/// A read ack of a group (KEYS[1] pending hash, KEYS[2] total, KEYS[3]
/// the user's mark, ARGV[1] force): as [`CLEAR_SINGLE`], the mark moving
/// to the total.
const MARK_GROUP: &str = r"
if ARGV[1] ~= '1' then
  local p = redis.call('HGETALL', KEYS[1])
  if #p > 0 then return p end
end
local v = redis.call('HGETALL', KEYS[2])
if #v > 0 then redis.call('HSET', KEYS[3], unpack(v)) end
return {}";

/// Entries whose deadline has passed (KEYS[1] index, ARGV[1] limit), as
/// hash, field, payload triples; index members without an entry go.
const DUE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local out = {}
for _, m in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, ARGV[1])) do
  local sep = string.find(m, '|', 1, true)
  local p = false
  if sep then p = redis.call('HGET', string.sub(m, 1, sep - 1), string.sub(m, sep + 1)) end
  if p then
    table.insert(out, string.sub(m, 1, sep - 1))
    table.insert(out, string.sub(m, sep + 1))
    table.insert(out, p)
  else
    redis.call('ZREM', KEYS[1], m)
  end
end
return out";

/// The pending-record scripts, loaded once.
struct PendingScripts {
    seed: Script,
    drop: Script,
    clear_single: Script,
    mark_group: Script,
    due: Script,
}

impl Default for PendingScripts {
    fn default() -> Self {
        Self {
            seed: Script::new(&seed_script()),
            drop: Script::new(&drop_script()),
            clear_single: Script::new(CLEAR_SINGLE),
            mark_group: Script::new(MARK_GROUP),
            due: Script::new(DUE),
        }
    }
}

/// The scripts, loaded once per process.
static SCRIPTS: std::sync::LazyLock<PendingScripts> =
    std::sync::LazyLock::new(PendingScripts::default);

/// An invocation of a script that allocates an id and records it (the
/// keys and arguments of [`RECORD`]).
fn recording<'a>(
    script: &'a Script,
    counter: &str,
    p: &SendRecord,
    hold_ms: u64,
) -> redis::ScriptInvocation<'a> {
    let mut inv = script.prepare_invoke();
    push_recording(&mut inv, counter, p, hold_ms, false);
    inv
}

/// Turns `{n, n}` script answers into entries.
fn entries(raw: Vec<String>, hash: Option<&str>) -> Vec<SendRecord> {
    let mut out = Vec::new();
    match hash {
        Some(h) => {
            for pair in raw.chunks_exact(2) {
                if let Some(p) = SendRecord::parse(h, &pair[0], &pair[1]) {
                    out.push(p);
                }
            }
        }
        None => {
            for t in raw.chunks_exact(3) {
                if let Some(p) = SendRecord::parse(&t[0], &t[1], &t[2]) {
                    out.push(p);
                }
            }
        }
    }
    out
}

impl RedisStore {
    /// The resend check and the next id of `p`'s conversation from
    /// `counter` in one round trip (`p.msg_id` is ignored), recording a
    /// new id as pending for `hold_ms`; with the master epoch of the
    /// connection that answered (0 without Sentinels). Shared with the
    /// sends that arrive meanwhile ([`super::batched`]).
    pub(crate) async fn allocate(
        &self,
        counter: &str,
        p: &SendRecord,
        hold_ms: u64,
    ) -> StoreResult<(Allocation, u64)> {
        self.send_scripts.allocate(counter, p, hold_ms).await
    }

    /// Applies a committed send's side effects, once: true if this call
    /// applied them. Shared with the sends that arrive meanwhile.
    pub(crate) async fn apply_pending(&self, p: &SendRecord) -> StoreResult<bool> {
        self.send_scripts.apply(p).await
    }

    /// Seeds a missing counter with `stored_max` (unless another request
    /// seeded it first), takes the next id and records it as pending.
    pub(crate) async fn seed_and_allocate(
        &self,
        counter: &str,
        p: &SendRecord,
        hold_ms: u64,
        stored_max: u32,
    ) -> StoreResult<u32> {
        let mut inv = recording(&SCRIPTS.seed, counter, p, hold_ms);
        inv.arg(stored_max);
        let v: i64 = self.unread.lease().await?.script(&inv).await?;
        u32::try_from(v)
            .ok()
            .filter(|id| *id != 0)
            .ok_or_else(|| StoreError::InvalidData(format!("{counter} holds {v}")))
    }

    /// Drops the entry of a send that is not stored: at once with
    /// `force` (its own request gives up), otherwise only once its
    /// deadline has passed. False: kept (still in flight).
    pub(crate) async fn drop_pending(&self, p: &SendRecord, force: bool) -> StoreResult<bool> {
        let mut inv = SCRIPTS.drop.prepare_invoke();
        inv.key(p.hash()).key(INDEX);
        if let Some((key, _)) = &p.resend {
            inv.key(key.as_str());
        }
        inv.arg(p.field())
            .arg(p.msg_id)
            .arg(if force { "1" } else { "0" });
        let r: i64 = self.unread.lease().await?.script(&inv).await?;
        Ok(r == 1)
    }

    /// Clears `user`'s unread count of `peer`, unless sends to `user`
    /// from `peer` are pending (and `force` is not set): those are
    /// returned, nothing cleared.
    pub(crate) async fn clear_unread_unless_pending(
        &self,
        user: u32,
        peer: u32,
        force: bool,
    ) -> StoreResult<Vec<SendRecord>> {
        let hash = format!("{PREFIX}s:{user}:{peer}");
        let mut inv = SCRIPTS.clear_single.prepare_invoke();
        inv.key(&hash).key(super::keys::unread(user)).arg(peer);
        self.read_ack(inv, &hash, force).await
    }

    /// Moves `user`'s read mark in `group` to the total, unless sends to
    /// the group are pending (and `force` is not set): those are
    /// returned, nothing moved.
    pub(crate) async fn mark_group_read_unless_pending(
        &self,
        user: u32,
        group: u32,
        force: bool,
    ) -> StoreResult<Vec<SendRecord>> {
        let hash = format!("{PREFIX}g:{group}");
        let mut inv = SCRIPTS.mark_group.prepare_invoke();
        inv.key(&hash)
            .key(super::keys::group_total(group))
            .key(super::keys::group_mark(user, group));
        self.read_ack(inv, &hash, force).await
    }

    /// Runs a read-ack script (its last argument: `force`); the pending
    /// entries of `hash` it returned, if any.
    async fn read_ack(
        &self,
        mut inv: redis::ScriptInvocation<'_>,
        hash: &str,
        force: bool,
    ) -> StoreResult<Vec<SendRecord>> {
        inv.arg(if force { "1" } else { "0" });
        let raw: Vec<String> = self.unread.lease().await?.script(&inv).await?;
        Ok(entries(raw, Some(hash)))
    }

    /// How many entries are pending.
    pub(crate) async fn pending_count(&self) -> StoreResult<u64> {
        self.unread
            .lease()
            .await?
            .cmd(redis::cmd("ZCARD").arg(INDEX))
            .await
    }

    /// Up to `limit` entries whose deadline has passed.
    pub(crate) async fn due_pending(&self, limit: usize) -> StoreResult<Vec<SendRecord>> {
        let mut inv = SCRIPTS.due.prepare_invoke();
        inv.key(INDEX).arg(limit);
        let raw: Vec<String> = self.unread.lease().await?.script(&inv).await?;
        Ok(entries(raw, None))
    }
}

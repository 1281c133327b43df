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
use crate::store::{StoreError, StoreResult};

/// Prefix of the pending hashes.
const PREFIX: &str = "tt_dbproxy:pending:";
/// The index of pending entries by deadline.
pub const INDEX: &str = "tt_dbproxy:pending";

/// Redis server time in ms as `now` (a Lua prelude).
const NOW: &str = "local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
";

/// Records the pending entry of id `id` (a Lua fragment; KEYS[2] hash,
/// KEYS[3] index, KEYS[4] resend key if any; ARGV[1] hold ms, ARGV[2]
/// conversation, ARGV[3] sender, ARGV[4] window).
const RECORD: &str = "
local deadline = now + tonumber(ARGV[1])
local field = ARGV[2] .. ':' .. id
redis.call('HSET', KEYS[2], field, string.format('%d|%s|%s|%s', deadline, ARGV[3], ARGV[4], KEYS[4] or ''))
redis.call('ZADD', KEYS[3], deadline, KEYS[2] .. '|' .. field)
if KEYS[4] then redis.call('SET', KEYS[4], -id, 'EX', ARGV[4]) end
";

/// The resend check and the next id (KEYS[1] counter): `{1, id}` stored,
/// `{2, 0}` being stored by a live request, `{3, id}` allocated by a
/// request whose deadline has passed (resolve it), `{0, id}` a new id
/// (recorded), `{0, -1}` the counter is missing (a claim `0` is held).
fn allocate_script() -> String {
    format!(
        "{NOW}
if KEYS[4] then
  local v = redis.call('GET', KEYS[4])
  if v then
    local n = tonumber(v) or 0
    if n > 0 then return {{1, n}} end
    if n == 0 then return {{2, 0}} end
    local p = redis.call('HGET', KEYS[2], ARGV[2] .. ':' .. (-n))
    if p then
      local d = tonumber(string.match(p, '^(%d+)'))
      if d and d > now then return {{2, 0}} end
    end
    return {{3, -n}}
  end
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  if KEYS[4] then redis.call('SET', KEYS[4], '0', 'PX', ARGV[1]) end
  return {{0, -1}}
end
local id = redis.call('INCRBY', KEYS[1], 1)
{RECORD}
return {{0, id}}"
    )
}

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

/// Applies an entry once (KEYS[1] hash, KEYS[2] index, then for `s`:
/// KEYS[3] `unread_<to>`, KEYS[4] resend key; for `g`: KEYS[3] total,
/// KEYS[4] sender's mark, KEYS[5] resend key). ARGV: field, id, kind,
/// sender, window. 1: applied now; 0: it was applied before.
const APPLY: &str = r"
local r = KEYS[4]
if ARGV[3] == 'g' then r = KEYS[5] end
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then
  if r and redis.call('GET', r) == tostring(-tonumber(ARGV[2])) then
    redis.call('SET', r, ARGV[2], 'EX', ARGV[5])
  end
  return 0
end
redis.call('ZREM', KEYS[2], KEYS[1] .. '|' .. ARGV[1])
if ARGV[3] == 'g' then
  redis.call('HINCRBY', KEYS[3], 'count', 1)
  local v = redis.call('HGETALL', KEYS[3])
  redis.call('HSET', KEYS[4], unpack(v))
else
  redis.call('HINCRBY', KEYS[3], ARGV[4], 1)
end
if r then redis.call('SET', r, ARGV[2], 'EX', ARGV[5]) end
return 1";

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
    allocate: Script,
    seed: Script,
    apply: Script,
    drop: Script,
    clear_single: Script,
    mark_group: Script,
    due: Script,
}

impl Default for PendingScripts {
    fn default() -> Self {
        Self {
            allocate: Script::new(&allocate_script()),
            seed: Script::new(&seed_script()),
            apply: Script::new(APPLY),
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

/// A send between its id and its side effects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SendRecord {
    /// A group message.
    pub group: bool,
    /// The relation (one-to-one) or group id: the message's conversation.
    pub conversation: u32,
    /// The message id.
    pub msg_id: u32,
    /// The sender.
    pub from: u32,
    /// The receiver, or the group.
    pub to: u32,
    /// The resend key and its window in seconds, if the send may be resent.
    pub resend: Option<(String, u32)>,
}

impl SendRecord {
    fn hash(&self) -> String {
        if self.group {
            format!("{PREFIX}g:{}", self.to)
        } else {
            format!("{PREFIX}s:{}:{}", self.to, self.from)
        }
    }

    fn field(&self) -> String {
        format!("{}:{}", self.conversation, self.msg_id)
    }

    fn window(&self) -> u32 {
        self.resend.as_ref().map_or(0, |(_, w)| *w)
    }

    /// An entry read back from Redis (`None`: not one of ours).
    fn parse(hash: &str, field: &str, payload: &str) -> Option<Self> {
        let rest = hash.strip_prefix(PREFIX)?;
        let (group, to, from_key) = match rest.split_once(':')? {
            ("g", g) => (true, g.parse().ok()?, None),
            ("s", pair) => {
                let (to, from) = pair.split_once(':')?;
                (false, to.parse().ok()?, Some(from.parse::<u32>().ok()?))
            }
            _ => return None,
        };
        let (conversation, msg_id) = field.split_once(':')?;
        let mut parts = payload.splitn(4, '|');
        let _deadline = parts.next()?;
        let from: u32 = parts.next()?.parse().ok()?;
        let window: u32 = parts.next()?.parse().ok()?;
        let key = parts.next()?;
        if from_key.is_some_and(|f| f != from) {
            return None;
        }
        Some(Self {
            group,
            conversation: conversation.parse().ok()?,
            msg_id: msg_id.parse().ok()?,
            from,
            to,
            resend: (!key.is_empty()).then(|| (key.to_string(), window)),
        })
    }
}

/// The verdict of [`RedisStore::allocate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Allocation {
    /// A new id, recorded as pending.
    New(u32),
    /// The counter is missing: seed it ([`RedisStore::seed_and_allocate`]);
    /// the resend key, if any, holds a claim.
    Missing,
    /// Already stored with this id.
    Stored(u32),
    /// Being stored by a live request.
    InFlight,
    /// Allocated by a request whose deadline has passed: resolve it.
    Orphan(u32),
}

/// An invocation of a script that allocates an id and records it (the
/// keys and arguments of [`RECORD`]).
fn recording<'a>(
    script: &'a Script,
    counter: &str,
    p: &SendRecord,
    hold_ms: u64,
) -> redis::ScriptInvocation<'a> {
    let mut inv = script.prepare_invoke();
    inv.key(counter).key(p.hash()).key(INDEX);
    if let Some((key, _)) = &p.resend {
        inv.key(key.as_str());
    }
    inv.arg(hold_ms.max(1))
        .arg(p.conversation)
        .arg(p.from)
        .arg(p.window());
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
    /// connection that answered (0 without Sentinels).
    pub(crate) async fn allocate(
        &self,
        counter: &str,
        p: &SendRecord,
        hold_ms: u64,
    ) -> StoreResult<(Allocation, u64)> {
        let inv = recording(&SCRIPTS.allocate, counter, p, hold_ms);
        let mut lease = self.unread.lease().await?;
        let (kind, v): (i64, i64) = lease.script(&inv).await?;
        let epoch = lease.epoch();
        drop(lease);
        let id = || {
            u32::try_from(v)
                .ok()
                .filter(|id| *id != 0)
                .ok_or_else(|| StoreError::InvalidData(format!("{counter} holds {v}")))
        };
        let verdict = match kind {
            1 => Allocation::Stored(id()?),
            2 => Allocation::InFlight,
            3 => Allocation::Orphan(id()?),
            _ if v < 0 => Allocation::Missing,
            _ => Allocation::New(id()?),
        };
        Ok((verdict, epoch))
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

    /// Applies a committed send's side effects, once: true if this call
    /// applied them.
    pub(crate) async fn apply_pending(&self, p: &SendRecord) -> StoreResult<bool> {
        let inv = self.apply_invocation(p);
        let applied: i64 = self.unread.lease().await?.script(&inv).await?;
        Ok(applied == 1)
    }

    fn apply_invocation(&self, p: &SendRecord) -> redis::ScriptInvocation<'_> {
        let mut inv = SCRIPTS.apply.prepare_invoke();
        inv.key(p.hash()).key(INDEX);
        if p.group {
            inv.key(super::keys::group_total(p.to))
                .key(super::keys::group_mark(p.from, p.to));
        } else {
            inv.key(super::keys::unread(p.to));
        }
        if let Some((key, _)) = &p.resend {
            inv.key(key.as_str());
        }
        inv.arg(p.field())
            .arg(p.msg_id)
            .arg(if p.group { "g" } else { "s" })
            .arg(p.from)
            .arg(p.window().max(1));
        inv
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_read_back_as_written() {
        let single = SendRecord {
            group: false,
            conversation: 7,
            msg_id: 42,
            from: 1,
            to: 2,
            resend: Some(("tt_dbproxy:resend:1:s2:9:00ff".into(), 120)),
        };
        assert_eq!(single.hash(), "tt_dbproxy:pending:s:2:1");
        assert_eq!(single.field(), "7:42");
        let payload = "1700000000123|1|120|tt_dbproxy:resend:1:s2:9:00ff";
        assert_eq!(
            SendRecord::parse(&single.hash(), &single.field(), payload),
            Some(single)
        );
        let group = SendRecord {
            group: true,
            conversation: 5,
            msg_id: 3,
            from: 8,
            to: 5,
            resend: None,
        };
        assert_eq!(group.hash(), "tt_dbproxy:pending:g:5");
        assert_eq!(
            SendRecord::parse(&group.hash(), "5:3", "1|8|0|"),
            Some(group)
        );
        assert_eq!(SendRecord::parse("other", "5:3", "1|8|0|"), None);
        assert_eq!(
            SendRecord::parse("tt_dbproxy:pending:s:2:1", "7:42", "1|9|0|"),
            None,
            "the sender must match the hash"
        );
    }
}

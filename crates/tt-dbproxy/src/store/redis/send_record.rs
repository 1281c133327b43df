//! What a send in flight records in Redis, and the two scripts every send
//! runs on it ([`super::batched`] runs them for many sends at once): the
//! id's allocation, which writes the pending entry, and after the commit
//! its application ([`super::pending`] has the module's whole story).

/// Prefix of the pending hashes.
pub(super) const PREFIX: &str = "tt_dbproxy:pending:";
/// The index of pending entries by deadline.
pub const INDEX: &str = "tt_dbproxy:pending";

/// Redis server time in ms as `now` (a Lua prelude).
pub(super) const NOW: &str = "local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
";

/// Records the pending entry of id `id` (a Lua fragment; KEYS[2] hash,
/// KEYS[3] index, KEYS[4] resend key if any; ARGV[1] hold ms, ARGV[2]
/// conversation, ARGV[3] sender, ARGV[4] window).
pub(super) const RECORD: &str = "
local deadline = now + tonumber(ARGV[1])
local field = ARGV[2] .. ':' .. id
redis.call('HSET', KEYS[2], field, string.format('%d|%s|%s|%s', deadline, ARGV[3], ARGV[4], KEYS[4] or ''))
redis.call('ZADD', KEYS[3], deadline, KEYS[2] .. '|' .. field)
if KEYS[4] then redis.call('SET', KEYS[4], -id, 'EX', ARGV[4]) end
";

/// Adds one send's keys and arguments for an allocation (its counter,
/// then those of [`RECORD`]) to `inv`. `pad`: a send without a resend key
/// passes "" in its place (the batched script's fixed stride) instead of
/// leaving it out.
pub(super) fn push_recording(
    inv: &mut redis::ScriptInvocation<'_>,
    counter: &str,
    p: &SendRecord,
    hold_ms: u64,
    pad: bool,
) {
    inv.key(counter).key(p.hash()).key(INDEX);
    match &p.resend {
        Some((key, _)) => {
            inv.key(key.as_str());
        }
        None if pad => {
            inv.key("");
        }
        None => {}
    }
    inv.arg(hold_ms.max(1))
        .arg(p.conversation)
        .arg(p.from)
        .arg(p.window());
}

/// The resend check and the next id as a Lua function of one send's keys
/// and arguments (KEYS[1] counter, then those of [`RECORD`]), with `now`
/// in scope: `{1, id}` stored, `{2, 0}` being stored by a live request,
/// `{3, id}` allocated by a request whose deadline has passed (resolve
/// it), `{0, id}` a new id (recorded), `{0, -1}` the counter is missing (a
/// claim `0` is held). Run per send by [`super::batched`].
pub(super) fn allocate_function() -> String {
    format!(
        "local function allocate_one(KEYS, ARGV)
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
return {{0, id}}
end
"
    )
}

/// Applies an entry once, as a Lua function of one entry's keys and
/// arguments (KEYS[1] hash, KEYS[2] index, then for `s`: KEYS[3]
/// `unread_<to>`, KEYS[4] resend key; for `g`: KEYS[3] total, KEYS[4]
/// sender's mark, KEYS[5] resend key; ARGV: field, id, kind, sender,
/// window). 1: applied now; 0: it was applied before. Run per entry by
/// [`super::batched`].
pub(super) const APPLY_FUNCTION: &str = r"local function apply_one(KEYS, ARGV)
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
return 1
end
";

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
    pub(super) fn hash(&self) -> String {
        if self.group {
            format!("{PREFIX}g:{}", self.to)
        } else {
            format!("{PREFIX}s:{}:{}", self.to, self.from)
        }
    }

    pub(super) fn field(&self) -> String {
        format!("{}:{}", self.conversation, self.msg_id)
    }

    pub(super) fn window(&self) -> u32 {
        self.resend.as_ref().map_or(0, |(_, w)| *w)
    }

    /// An entry read back from Redis (`None`: not one of ours).
    pub(super) fn parse(hash: &str, field: &str, payload: &str) -> Option<Self> {
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

/// The verdict of [`super::ops::RedisStore::allocate`].
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

//! The two scripts every send runs — the allocation of its id (with the
//! resend check and its pending entry) and, after its commit, the
//! application of that entry — run for many sends in one round trip:
//! calls that arrive while a script is in flight share the next
//! ([`Coalescer`]), allocations and applications alike, so while sends
//! flow one script allocates the ids of the sends about to commit and
//! applies the entries of those just committed. Inside the script each
//! call is handled exactly as on its own, in arrival order, and a call
//! whose part fails (a key of the wrong type) fails alone.

use std::sync::Arc;

use redis::{Script, Value};

use super::pool::RedisPool;
use super::send_record::{
    APPLY_FUNCTION, Allocation, INDEX, NOW, SendRecord, allocate_function, push_recording,
};
use crate::store::coalesce::{BatchRun, Coalescer};
use crate::store::{StoreError, StoreResult};

/// Calls in one script at most.
const BATCH_MAX: usize = 64;

/// Keys per call ("" for none): an allocation's four, an application's
/// five.
const KEYS_PER_CALL: usize = 5;
/// Arguments per call: its kind (`a` allocate, `p` apply), then an
/// allocation's four ("" after them) or an application's five.
const ARGS_PER_CALL: usize = 6;

/// The Lua loop over the calls of a batch: `allocate_one` or `apply_one`
/// called with each call's keys (empty ones left out, as a call on its
/// own passes none) and arguments; two answers per call, `{-1, error}`
/// for a call whose part failed, `{0, applied}` for an application.
fn batch_loop() -> String {
    format!(
        "local function why(e)
  if type(e) == 'table' then return tostring(e.err or e.msg) end
  return tostring(e)
end
local out = {{}}
for i = 0, #ARGV / {ARGS_PER_CALL} - 1 do
  local K, A = {{}}, {{}}
  for j = 1, {KEYS_PER_CALL} do
    local k = KEYS[i * {KEYS_PER_CALL} + j]
    if k ~= '' then K[j] = k end
  end
  for j = 1, {ARGS_PER_CALL} - 1 do A[j] = ARGV[i * {ARGS_PER_CALL} + 1 + j] end
  local f = apply_one
  if ARGV[i * {ARGS_PER_CALL} + 1] == 'a' then f = allocate_one end
  local ok, r = pcall(f, K, A)
  if not ok then
    out[#out + 1] = -1; out[#out + 1] = why(r)
  elseif type(r) == 'table' then
    out[#out + 1] = r[1]; out[#out + 1] = r[2]
  else
    out[#out + 1] = 0; out[#out + 1] = r
  end
end
return out"
    )
}

/// The shared script, loaded once per process.
static SCRIPT: std::sync::LazyLock<Script> = std::sync::LazyLock::new(|| {
    Script::new(&format!(
        "{NOW}{}{APPLY_FUNCTION}{}",
        allocate_function(),
        batch_loop()
    ))
});

/// One send's allocation: its counter key, record and hold.
struct AllocationItem {
    counter: String,
    record: SendRecord,
    hold_ms: u64,
}

/// A call of the shared script.
enum Call {
    /// A send's id, allocated and recorded as pending.
    Allocate(AllocationItem),
    /// A committed send's pending entry, applied.
    Apply(SendRecord),
}

/// A call's answer.
enum Answer {
    /// The allocation's verdict, with the master epoch of the connection
    /// that ran it.
    Allocated(Allocation, u64),
    /// Whether the entry was applied now (not before).
    Applied(bool),
}

/// Runs the shared script on the `unread` pool.
struct SendCalls(Arc<RedisPool>);

/// A script's answer for one call that failed inside the script.
fn failed_part(v: &Value) -> StoreError {
    let text = match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        other => format!("{other:?}"),
    };
    StoreError::Query(format!("redis script: {text}"))
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(n) => Some(*n),
        _ => None,
    }
}

/// Adds a call's kind, keys and arguments to `inv`, padded to the stride.
fn push_call(inv: &mut redis::ScriptInvocation<'_>, call: &Call) {
    match call {
        Call::Allocate(it) => {
            inv.arg("a");
            push_recording(inv, &it.counter, &it.record, it.hold_ms, true);
            inv.key("").arg("");
        }
        Call::Apply(p) => {
            inv.arg("p").key(p.hash()).key(INDEX);
            let resend = p.resend.as_ref().map_or("", |(k, _)| k.as_str());
            if p.group {
                inv.key(super::keys::group_total(p.to))
                    .key(super::keys::group_mark(p.from, p.to))
                    .key(resend);
            } else {
                inv.key(super::keys::unread(p.to)).key(resend).key("");
            }
            inv.arg(p.field())
                .arg(p.msg_id)
                .arg(if p.group { "g" } else { "s" })
                .arg(p.from)
                .arg(p.window().max(1));
        }
    }
}

/// Records how many calls of each kind a script carries.
fn record_sizes(calls: &[Call]) {
    let allocations = calls
        .iter()
        .filter(|c| matches!(c, Call::Allocate(_)))
        .count();
    for (n, script) in [
        (allocations, "allocate"),
        (calls.len() - allocations, "apply"),
    ] {
        if n > 0 {
            metrics::histogram!(crate::metrics::REDIS_SCRIPT_BATCH_SIZE, "script" => script)
                .record(n as f64);
        }
    }
}

impl BatchRun for SendCalls {
    type Item = Call;
    type Output = StoreResult<Answer>;
    const WHAT: &'static str = "a send's redis script";

    async fn run(&self, calls: Vec<Call>) -> StoreResult<Vec<Self::Output>> {
        record_sizes(&calls);
        let mut inv = SCRIPT.prepare_invoke();
        for call in &calls {
            push_call(&mut inv, call);
        }
        let mut lease = self.0.lease().await?;
        let raw: Vec<Value> = lease.script(&inv).await?;
        let epoch = lease.epoch();
        drop(lease);
        if raw.len() != calls.len() * 2 {
            return Err(StoreError::InvalidData(format!(
                "the send script answered {} values for {} calls",
                raw.len(),
                calls.len()
            )));
        }
        Ok(calls
            .iter()
            .zip(raw.chunks_exact(2))
            .map(|(call, pair)| answer(call, pair, epoch))
            .collect())
    }
}

/// One call's answer `{kind, value}`.
fn answer(call: &Call, pair: &[Value], epoch: u64) -> StoreResult<Answer> {
    let (Some(kind), Some(second)) = (pair.first(), pair.get(1)) else {
        return Err(StoreError::InvalidData("short send script answer".into()));
    };
    let Some(kind) = int(kind) else {
        return Err(StoreError::InvalidData(format!(
            "send script answer {kind:?}"
        )));
    };
    if kind == -1 {
        return Err(failed_part(second));
    }
    let v = int(second)
        .ok_or_else(|| StoreError::InvalidData(format!("send script answer {second:?}")))?;
    let counter = match call {
        Call::Apply(_) => return Ok(Answer::Applied(v == 1)),
        Call::Allocate(it) => &it.counter,
    };
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
    Ok(Answer::Allocated(verdict, epoch))
}

/// The sends' shared script of a Redis store.
pub(super) struct SendScripts(Arc<Coalescer<SendCalls>>);

fn mismatched() -> StoreError {
    StoreError::InvalidData("the send script answered another kind of call".into())
}

impl SendScripts {
    /// On `pool` (`unread`).
    pub(super) fn new(pool: &Arc<RedisPool>) -> Self {
        Self(Arc::new(Coalescer::new(SendCalls(pool.clone()), BATCH_MAX)))
    }

    /// Allocates `p`'s id from `counter` in the next shared script
    /// (`p.msg_id` is ignored), with the master epoch of the connection
    /// that ran it.
    pub(super) async fn allocate(
        &self,
        counter: &str,
        p: &SendRecord,
        hold_ms: u64,
    ) -> StoreResult<(Allocation, u64)> {
        let item = AllocationItem {
            counter: counter.to_string(),
            record: p.clone(),
            hold_ms,
        };
        match self.0.call(Call::Allocate(item)).await?? {
            Answer::Allocated(verdict, epoch) => Ok((verdict, epoch)),
            Answer::Applied(_) => Err(mismatched()),
        }
    }

    /// Applies `p`'s pending entry in the next shared script: true if it
    /// was applied now.
    pub(super) async fn apply(&self, p: &SendRecord) -> StoreResult<bool> {
        match self.0.call(Call::Apply(p.clone())).await?? {
            Answer::Applied(now) => Ok(now),
            Answer::Allocated(..) => Err(mismatched()),
        }
    }
}

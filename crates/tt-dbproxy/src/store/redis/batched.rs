//! The two scripts every send runs — the allocation of its id (with the
//! resend check and its pending entry) and, after its commit, the
//! application of that entry — each run for many sends in one round trip:
//! sends that arrive while one script is in flight share the next
//! ([`Coalescer`]). Inside the script each send is handled exactly as on
//! its own, in arrival order, and a send whose part fails (a key of the
//! wrong type) fails alone.

use std::sync::Arc;

use redis::{Script, Value};

use super::pool::RedisPool;
use super::send_record::{
    APPLY_FUNCTION, Allocation, INDEX, NOW, SendRecord, allocate_function, push_recording,
};
use crate::store::coalesce::{BatchRun, Coalescer};
use crate::store::{StoreError, StoreResult};

/// Sends in one script at most.
const BATCH_MAX: usize = 64;

/// Keys per send in the batched allocation ("" for no resend key).
const ALLOCATE_KEYS: usize = 4;
/// Arguments per send in the batched allocation.
const ALLOCATE_ARGS: usize = 4;
/// Keys per entry in the batched application ("" for none).
const APPLY_KEYS: usize = 5;
/// Arguments per entry in the batched application.
const APPLY_ARGS: usize = 5;

/// The Lua loop over the sends of a batch: `one` called with each send's
/// keys (empty ones left out, as a send on its own passes none) and
/// arguments; its answers concatenated, `{-1, error}` for a send whose
/// part failed.
fn batch_loop(one: &str, keys: usize, args: usize, answers: usize) -> String {
    let failed = match answers {
        2 => "out[#out + 1] = -1; out[#out + 1] = why(r)",
        _ => "out[#out + 1] = why(r)",
    };
    let ok = match answers {
        2 => "out[#out + 1] = r[1]; out[#out + 1] = r[2]",
        _ => "out[#out + 1] = r",
    };
    format!(
        "local function why(e)
  if type(e) == 'table' then return tostring(e.err or e.msg) end
  return tostring(e)
end
local out = {{}}
for i = 0, #ARGV / {args} - 1 do
  local K, A = {{}}, {{}}
  for j = 1, {keys} do
    local k = KEYS[i * {keys} + j]
    if k ~= '' then K[j] = k end
  end
  for j = 1, {args} do A[j] = ARGV[i * {args} + j] end
  local ok, r = pcall({one}, K, A)
  if ok then {ok} else {failed} end
end
return out"
    )
}

/// The batched scripts, loaded once per process.
struct BatchScripts {
    allocate: Script,
    apply: Script,
}

static SCRIPTS: std::sync::LazyLock<BatchScripts> = std::sync::LazyLock::new(|| BatchScripts {
    allocate: Script::new(&format!(
        "{NOW}{}{}",
        allocate_function(),
        batch_loop("allocate_one", ALLOCATE_KEYS, ALLOCATE_ARGS, 2)
    )),
    apply: Script::new(&format!(
        "{APPLY_FUNCTION}{}",
        batch_loop("apply_one", APPLY_KEYS, APPLY_ARGS, 1)
    )),
});

/// One send's allocation: its counter key, record and hold.
struct AllocationItem {
    counter: String,
    record: SendRecord,
    hold_ms: u64,
}

/// Runs allocations on the `unread` pool.
struct Allocations(Arc<RedisPool>);

/// Runs applications on the `unread` pool.
struct Applications(Arc<RedisPool>);

/// A script's answer for one send that failed inside the script.
fn failed_part(v: &Value) -> StoreError {
    let text = match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        other => format!("{other:?}"),
    };
    StoreError::Query(format!("redis script: {text}"))
}

fn record(n: usize, script: &'static str) {
    metrics::histogram!(crate::metrics::REDIS_SCRIPT_BATCH_SIZE, "script" => script)
        .record(n as f64);
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(n) => Some(*n),
        _ => None,
    }
}

impl BatchRun for Allocations {
    type Item = AllocationItem;
    type Output = StoreResult<(Allocation, u64)>;
    const WHAT: &'static str = "a message id allocation";

    fn record_size(&self, n: usize) {
        record(n, "allocate");
    }

    async fn run(&self, items: Vec<AllocationItem>) -> StoreResult<Vec<Self::Output>> {
        let mut inv = SCRIPTS.allocate.prepare_invoke();
        for it in &items {
            push_recording(&mut inv, &it.counter, &it.record, it.hold_ms, true);
        }
        let mut lease = self.0.lease().await?;
        let raw: Vec<Value> = lease.script(&inv).await?;
        let epoch = lease.epoch();
        drop(lease);
        if raw.len() != items.len() * 2 {
            return Err(StoreError::InvalidData(format!(
                "the allocation script answered {} values for {} sends",
                raw.len(),
                items.len()
            )));
        }
        Ok(items
            .iter()
            .zip(raw.chunks_exact(2))
            .map(|(it, pair)| verdict(&it.counter, pair).map(|v| (v, epoch)))
            .collect())
    }
}

/// One send's allocation answer `{kind, value}`.
fn verdict(counter: &str, pair: &[Value]) -> StoreResult<Allocation> {
    let (Some(kind), Some(second)) = (pair.first(), pair.get(1)) else {
        return Err(StoreError::InvalidData("short allocation answer".into()));
    };
    let Some(kind) = int(kind) else {
        return Err(StoreError::InvalidData(format!(
            "allocation answer {kind:?}"
        )));
    };
    if kind == -1 {
        return Err(failed_part(second));
    }
    let v = int(second)
        .ok_or_else(|| StoreError::InvalidData(format!("allocation answer {second:?}")))?;
    let id = || {
        u32::try_from(v)
            .ok()
            .filter(|id| *id != 0)
            .ok_or_else(|| StoreError::InvalidData(format!("{counter} holds {v}")))
    };
    Ok(match kind {
        1 => Allocation::Stored(id()?),
        2 => Allocation::InFlight,
        3 => Allocation::Orphan(id()?),
        _ if v < 0 => Allocation::Missing,
        _ => Allocation::New(id()?),
    })
}

impl BatchRun for Applications {
    type Item = SendRecord;
    type Output = StoreResult<bool>;
    const WHAT: &'static str = "a pending send's application";

    fn record_size(&self, n: usize) {
        record(n, "apply");
    }

    async fn run(&self, items: Vec<SendRecord>) -> StoreResult<Vec<Self::Output>> {
        let mut inv = SCRIPTS.apply.prepare_invoke();
        for p in &items {
            inv.key(p.hash()).key(INDEX);
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
        let raw: Vec<Value> = self.0.lease().await?.script(&inv).await?;
        Ok(raw
            .iter()
            .map(|v| match int(v) {
                Some(n) => Ok(n == 1),
                None => Err(failed_part(v)),
            })
            .collect())
    }
}

/// The two coalescers of a Redis store.
pub(super) struct SendScripts {
    allocations: Arc<Coalescer<Allocations>>,
    applications: Arc<Coalescer<Applications>>,
}

impl SendScripts {
    /// Both on `pool` (`unread`).
    pub(super) fn new(pool: &Arc<RedisPool>) -> Self {
        Self {
            allocations: Arc::new(Coalescer::new(Allocations(pool.clone()), BATCH_MAX)),
            applications: Arc::new(Coalescer::new(Applications(pool.clone()), BATCH_MAX)),
        }
    }
}

impl SendScripts {
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
        self.allocations.call(item).await?
    }

    /// Applies `p`'s pending entry in the next shared script: true if it
    /// was applied now.
    pub(super) async fn apply(&self, p: &SendRecord) -> StoreResult<bool> {
        self.applications.call(p.clone()).await?
    }
}

//! What several tt-dbproxy instances on one Redis share beyond the
//! original's keys: the failed-login throttle and the sync center's lease.
//! Keys start with `tt_dbproxy:` (the original uses no `:`), in the
//! `unread` pool.

use redis::Script;

use super::ops::RedisStore;
use crate::auth::throttle::{MAX_FAILURES, WINDOW_SECS};
use crate::store::StoreResult;

/// The sync center's lease: the holder's instance id, with an expiry.
const SYNC_LEASE_KEY: &str = "tt_dbproxy:sync_lease";

/// Records a failure at `ARGV[1]` (member `ARGV[2]`, unique), keeps the
/// newest `ARGV[3]` and lets the key expire after `ARGV[4]` seconds.
const RECORD_FAILURE: &str = r"
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[3]) + 1))
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1";

/// Takes the lease if free or renews it if held by `ARGV[1]`, for
/// `ARGV[2]` ms.
const LEASE: &str = r"
local holder = redis.call('GET', KEYS[1])
if holder == false then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0";

/// The shared scripts, loaded once.
struct SharedScripts {
    record_failure: Script,
    lease: Script,
}

impl Default for SharedScripts {
    fn default() -> Self {
        Self {
            record_failure: Script::new(RECORD_FAILURE),
            lease: Script::new(LEASE),
        }
    }
}

/// The scripts, loaded once per process.
static SCRIPTS: std::sync::LazyLock<SharedScripts> =
    std::sync::LazyLock::new(SharedScripts::default);

/// The throttle key of a login name: its exact bytes, in hex.
fn failures_key(name: &[u8]) -> String {
    let mut key = String::from("tt_dbproxy:login_failures:");
    for b in name {
        key.push_str(&format!("{b:02x}"));
    }
    key
}

impl RedisStore {
    /// How many failures of `name` lie within the last [`WINDOW_SECS`]
    /// seconds: one `ZCOUNT`, a read (older entries are left to the
    /// trimming and expiry of [`Self::throttle_failure`]; a script that
    /// also dropped them cost Redis several times as much per login).
    pub(crate) async fn throttle_failures(&self, name: &[u8], now: u32) -> StoreResult<u64> {
        let cmd = redis::cmd("ZCOUNT")
            .arg(failures_key(name))
            .arg(i64::from(now) - i64::from(WINDOW_SECS))
            .arg("+inf")
            .clone();
        let n: i64 = self.unread.lease().await?.cmd(&cmd).await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Records a failed login of `name` at `now`; `nonce` makes the entry
    /// unique across instances.
    pub(crate) async fn throttle_failure(
        &self,
        name: &[u8],
        now: u32,
        nonce: u64,
    ) -> StoreResult<()> {
        let mut inv = SCRIPTS.record_failure.prepare_invoke();
        inv.key(failures_key(name))
            .arg(now)
            .arg(format!("{now}:{nonce:016x}"))
            .arg(MAX_FAILURES + 1)
            .arg(WINDOW_SECS + 60);
        self.unread.run_script(&inv).await
    }

    /// Forgets `name`'s failures (a successful login).
    pub(crate) async fn throttle_clear(&self, name: &[u8]) -> StoreResult<()> {
        let cmd = redis::cmd("DEL").arg(failures_key(name)).clone();
        self.unread.lease().await?.cmd::<i64>(&cmd).await.map(drop)
    }

    /// Takes or renews the sync lease for `holder`.
    pub(crate) async fn sync_lease(&self, holder: &str, ttl_ms: u64) -> StoreResult<bool> {
        let mut inv = SCRIPTS.lease.prepare_invoke();
        inv.key(SYNC_LEASE_KEY).arg(holder).arg(ttl_ms.max(1));
        let held: i64 = self.unread.lease().await?.script(&inv).await?;
        Ok(held == 1)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_name_is_keyed_by_its_exact_bytes() {
        assert_eq!(super::failures_key(b"Ab"), "tt_dbproxy:login_failures:4162");
        assert_eq!(
            super::failures_key(&[0xff, 0]),
            "tt_dbproxy:login_failures:ff00"
        );
    }
}

//! Read-your-writes across instances: per user or conversation, the GTID
//! position of the last write that touched it (`tt_dbproxy:gtid:<key>`,
//! with a TTL), so a read on any instance sharing this Redis knows which
//! writes a replica must have applied before it may serve the read.
//! Positions only move forward: a script merges per replication domain,
//! so a slower writer cannot overwrite a newer position with an older one.

use redis::Script;

use super::ops::RedisStore;
use crate::store::StoreResult;

/// Prefix of the keys.
const PREFIX: &str = "tt_dbproxy:gtid:";

/// Merges the position `ARGV[2]` (`d-s-n,...`) into each key (newest
/// sequence per domain wins) and sets the TTL `ARGV[1]` seconds.
const MERGE: &str = include_str!("write_marks.lua");

/// The write-marks script, loaded once.
struct WriteMarkScripts {
    merge: Script,
}

impl Default for WriteMarkScripts {
    fn default() -> Self {
        Self {
            merge: Script::new(MERGE),
        }
    }
}

/// The scripts, loaded once per process.
static SCRIPTS: std::sync::LazyLock<WriteMarkScripts> =
    std::sync::LazyLock::new(WriteMarkScripts::default);

fn key(name: &str) -> String {
    format!("{PREFIX}{name}")
}

impl RedisStore {
    /// Records `position` as the newest write touching each of `names`
    /// for `ttl_s` seconds.
    pub(crate) async fn remember_write(
        &self,
        names: &[String],
        position: &str,
        ttl_s: u64,
    ) -> StoreResult<()> {
        if names.is_empty() {
            return Ok(());
        }
        let mut inv = SCRIPTS.merge.prepare_invoke();
        for n in names {
            inv.key(key(n));
        }
        inv.arg(ttl_s.max(1)).arg(position);
        self.unread.run_script(&inv).await
    }

    /// The positions recorded for `names` (`None`: no write within the TTL).
    pub(crate) async fn written_at(&self, names: &[String]) -> StoreResult<Vec<Option<String>>> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut cmd = redis::cmd("MGET");
        for n in names {
            cmd.arg(key(n));
        }
        self.unread.lease().await?.cmd(&cmd).await
    }
}

//! The memory of recent sends on MySQL + Redis (see
//! [`crate::store::resend`]): one key per send under
//! [`crate::store::resend::REDIS_PREFIX`], in the `unread` pool. Before
//! its id is known a send's key holds `0` (a claim that expires shortly
//! after the request's deadline); from its id's allocation until its side
//! effects are applied, `-<id>` (see [`super::pending`]); then the message
//! id. The last two last `storage.resend_window_s`.

use redis::Script;

use super::ops::RedisStore;
use crate::store::StoreResult;

/// Drops a claim, never a stored id.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == '0' then redis.call('DEL', KEYS[1]) end
return 1";

/// The resend scripts, loaded once.
struct ResendScripts {
    release: Script,
}

impl Default for ResendScripts {
    fn default() -> Self {
        Self {
            release: Script::new(RELEASE),
        }
    }
}

/// The scripts, loaded once per process.
static SCRIPTS: std::sync::LazyLock<ResendScripts> =
    std::sync::LazyLock::new(ResendScripts::default);

impl RedisStore {
    /// Gives a claim up (the send was not stored).
    pub(crate) async fn release_resend(&self, key: &str) -> StoreResult<()> {
        let mut inv = SCRIPTS.release.prepare_invoke();
        inv.key(key);
        self.unread.run_script(&inv).await
    }
}

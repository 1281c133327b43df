//! The memory of recent sends on MySQL + Redis (see
//! [`crate::store::resend`]): one key per send under
//! [`crate::store::resend::REDIS_PREFIX`], in the `unread` pool. While a
//! send is being stored its key holds `0` (a claim that expires shortly
//! after the request's deadline); once stored, the message id, for
//! `storage.resend_window_s`.

use redis::Script;

use super::keys;
use super::ops::RedisStore;
use crate::store::StoreResult;

/// The stored id (or `0`: a claim) of a send, or claims it.
const CLAIM: &str = r"
local v = redis.call('GET', KEYS[1])
if v then return tonumber(v) end
redis.call('SET', KEYS[1], '0', 'PX', ARGV[1])
return false";

/// Drops a claim, never a stored id.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == '0' then redis.call('DEL', KEYS[1]) end
return 1";

/// The resend scripts, loaded once.
pub struct ResendScripts {
    claim: Script,
    release: Script,
}

impl Default for ResendScripts {
    fn default() -> Self {
        Self {
            claim: Script::new(CLAIM),
            release: Script::new(RELEASE),
        }
    }
}

/// What the memory says about a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Claim {
    /// Not seen: claimed for this request, which stores it.
    Mine,
    /// Already stored, with this id.
    Stored(u32),
    /// Being stored by another request (another instance): not stored
    /// here; the client's next resend gets the id.
    InFlight,
}

impl RedisStore {
    /// Looks `key` up, claiming it for `claim_ms` if it is not there.
    pub(crate) async fn claim_resend(&self, key: &str, claim_ms: u64) -> StoreResult<Claim> {
        let mut inv = self.resend.claim.prepare_invoke();
        inv.key(key).arg(claim_ms.max(1));
        let v: Option<i64> = self.unread.lease().await?.script(&inv).await?;
        Ok(match v {
            None => Claim::Mine,
            Some(id) => match u32::try_from(id) {
                Ok(0) | Err(_) => Claim::InFlight,
                Ok(id) => Claim::Stored(id),
            },
        })
    }

    /// Gives a claim up (the send was not stored).
    pub(crate) async fn release_resend(&self, key: &str) -> StoreResult<()> {
        let mut inv = self.resend.release.prepare_invoke();
        inv.key(key);
        self.unread
            .lease()
            .await?
            .script::<i64>(&inv)
            .await
            .map(drop)
    }

    /// After a one-to-one send is stored: raises the receiver's unread
    /// count and, when `resend` names a key, remembers the id for
    /// `window_s`, in one round trip.
    pub(crate) async fn single_message_stored(
        &self,
        to: u32,
        from: u32,
        resend: Option<(&str, u32, u32)>,
    ) -> StoreResult<()> {
        let mut pipe = redis::pipe();
        pipe.cmd("HINCRBY")
            .arg(keys::unread(to))
            .arg(from)
            .arg(1)
            .ignore();
        if let Some((key, id, window_s)) = resend {
            pipe.cmd("SET")
                .arg(key)
                .arg(id)
                .arg("EX")
                .arg(window_s)
                .ignore();
        }
        self.unread.lease().await?.pipe::<()>(&pipe).await
    }
}

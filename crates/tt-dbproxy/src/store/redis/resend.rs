//! The memory of recent sends on MySQL + Redis (see
//! [`crate::store::resend`]): one key per send under
//! [`crate::store::resend::REDIS_PREFIX`], in the `unread` pool. While a
//! send is being stored its key holds `0` (a claim that expires shortly
//! after the request's deadline); once stored, the message id, for
//! `storage.resend_window_s`.

use redis::Script;

use super::keys;
use super::ops::RedisStore;
use crate::store::{StoreError, StoreResult};

/// A send's next id and, with a second key, its resend check in the same
/// round trip: `{1, id}` (or `{1, 0}`: a claim) when the send is known;
/// otherwise the key is claimed for `ARGV[1]` ms and the result is
/// `{0, next id}`, or `{0, -1}` when the counter is missing (nothing
/// incremented; the caller seeds it).
const CLAIM_AND_NEXT_ID: &str = r"
if #KEYS > 1 then
  local v = redis.call('GET', KEYS[2])
  if v then return {1, tonumber(v)} end
  redis.call('SET', KEYS[2], '0', 'PX', ARGV[1])
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {0, redis.call('INCRBY', KEYS[1], 1)} end
return {0, -1}";

/// Drops a claim, never a stored id.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == '0' then redis.call('DEL', KEYS[1]) end
return 1";

/// The resend scripts, loaded once.
pub struct ResendScripts {
    claim_and_next_id: Script,
    release: Script,
}

impl Default for ResendScripts {
    fn default() -> Self {
        Self {
            claim_and_next_id: Script::new(CLAIM_AND_NEXT_ID),
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
    /// The next id from `counter` (`None`: the counter is missing) and,
    /// when `resend` names a key and a claim time, the memory's verdict,
    /// in one round trip, with the master epoch of the connection that
    /// answered (0 without Sentinels). A known send increments nothing.
    pub(crate) async fn claim_and_next_id(
        &self,
        counter: &str,
        resend: Option<(&str, u64)>,
    ) -> StoreResult<(Claim, Option<u32>, u64)> {
        let mut inv = self.resend.claim_and_next_id.prepare_invoke();
        inv.key(counter);
        match resend {
            Some((key, claim_ms)) => inv.key(key).arg(claim_ms.max(1)),
            None => inv.arg(0),
        };
        let mut lease = self.unread.lease().await?;
        let (known, v): (i64, i64) = lease.script(&inv).await?;
        let epoch = lease.epoch();
        drop(lease);
        if known == 1 {
            return Ok((
                match u32::try_from(v) {
                    Ok(0) | Err(_) => Claim::InFlight,
                    Ok(id) => Claim::Stored(id),
                },
                None,
                epoch,
            ));
        }
        if v < 0 {
            return Ok((Claim::Mine, None, epoch));
        }
        let id = u32::try_from(v)
            .ok()
            .filter(|id| *id != 0)
            .ok_or_else(|| StoreError::InvalidData(format!("{counter} holds {v}")))?;
        Ok((Claim::Mine, Some(id), epoch))
    }

    /// Gives a claim up (the send was not stored).
    pub(crate) async fn release_resend(&self, key: &str) -> StoreResult<()> {
        let mut inv = self.resend.release.prepare_invoke();
        inv.key(key);
        self.unread.run_script(&inv).await
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

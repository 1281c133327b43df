//! Step 4 of a send: a `COMMIT` whose outcome is unknown, resolved by a
//! locking read while the deadline allows, otherwise recorded in the
//! unresolved-sends journal, answered "not stored", and its row (if any)
//! deleted before messages are read again.

use crate::deadline::bounded;
use crate::rate_log::RateLimited;
use crate::store::mysql_redis::MysqlRedisStore;
use crate::store::unresolved::Unresolved;
use crate::store::{StoreError, StoreResult};

static OUTCOME_UNKNOWN: RateLimited = RateLimited::new("send outcome unknown");

impl MysqlRedisStore {
    /// A send whose `COMMIT` may or may not have landed: resolved by a
    /// locking read while the deadline allows (`Ok(())`: stored, ack it);
    /// otherwise recorded durably and answered "not stored", and its row,
    /// if any, is deleted before messages are read again.
    pub(super) async fn resolve_commit(&self, u: Unresolved, cause: StoreError) -> StoreResult<()> {
        match bounded("resolving a commit", self.sql.message_committed(u)).await {
            Ok(true) => return Ok(()),
            Ok(false) => return Err(cause),
            Err(_) => {}
        }
        match self.unresolved.record(u).await {
            Ok(()) => {
                crate::warn_limited!(OUTCOME_UNKNOWN, ?u, error = %cause, "send outcome unknown; answered not stored, settled once MySQL answers");
            }
            Err(e) => {
                tracing::error!(?u, error = %e, "send outcome unknown and cannot be recorded; if its commit landed the message is stored although answered not stored")
            }
        }
        Err(cause)
    }

    /// Deletes the rows of every recorded unresolved send (see
    /// [`Self::resolve_commit`]); until that succeeds, message reads fail.
    pub(in crate::store::mysql_redis) async fn settle_unresolved(&self) -> StoreResult<()> {
        if !self.unresolved.has_pending() {
            return Ok(());
        }
        if self.read_only {
            // Reads answer from what is there.
            return Ok(());
        }
        let _one = tokio::time::timeout_at(crate::deadline::effective(), self.settling.lock())
            .await
            .map_err(|_| crate::deadline::expired("settling unresolved sends"))?;
        let pending = self.unresolved.pending();
        let mut done = Vec::new();
        for u in pending {
            bounded("settling an unresolved send", self.sql.delete_message(u)).await?;
            done.push(u);
        }
        if !done.is_empty() {
            tracing::info!(count = done.len(), "unresolved sends settled");
        }
        self.unresolved.settled(&done).await
    }
}

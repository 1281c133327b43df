//! Step 3 of a send: the row committed in MySQL's group commit with the
//! sends that arrived with it; an unknown outcome goes to step 4
//! ([`super::resolve`]); a send not stored drops its pending entry.

use crate::store::StoreResult;
use crate::store::mysql::{CommitFailure, PendingSend};
use crate::store::mysql_redis::MysqlRedisStore;
use crate::store::redis::SendRecord;
use crate::store::unresolved::Unresolved;

impl MysqlRedisStore {
    /// Commits a send's writes and resolves the outcome: `Ok` when the
    /// message is stored. Otherwise its pending entry is dropped.
    pub(super) async fn commit(
        &self,
        send: PendingSend,
        record: &SendRecord,
        now: u32,
    ) -> StoreResult<()> {
        let u = Unresolved {
            group: record.group,
            conversation: record.conversation,
            msg_id: record.msg_id,
        };
        let stored = match self.sql.commit_send(send, now).await {
            Ok(()) => Ok(()),
            Err(CommitFailure::NotStored(e)) => Err(e),
            Err(CommitFailure::Unknown(e)) => self.resolve_commit(u, e).await,
        };
        if stored.is_err() {
            self.give_up(record).await;
        }
        stored
    }

    /// Drops the pending entry of a send answered "not stored" (its
    /// resend then allocates again); if Redis cannot be reached, the
    /// entry is dropped once its deadline has passed ([`Self::resolve`]).
    pub(super) async fn give_up(&self, record: &SendRecord) {
        if let Err(e) = self.redis.drop_pending(record, true).await {
            tracing::debug!(error = %e, "pending send not dropped; dropped after its deadline");
        }
    }
}

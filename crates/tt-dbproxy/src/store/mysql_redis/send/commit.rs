//! Step 3 of a send: the row committed in MySQL's group commit with the
//! sends that arrived with it; an unknown outcome goes to step 4
//! ([`super::resolve`]); a send not stored drops its pending entry, and
//! one whose remembered ids were stale is run again from step 1.

use crate::store::StoreResult;
use crate::store::mysql::{CommitFailure, PendingSend};
use crate::store::mysql_redis::MysqlRedisStore;
use crate::store::redis::SendRecord;
use crate::store::unresolved::Unresolved;

/// How a commit ended when nothing failed.
#[derive(Debug)]
pub(super) enum Committed {
    /// The message is stored.
    Stored,
    /// Not stored: its remembered session or relation ids are gone; look
    /// them up again. The send comes back; its pending entry stays (the
    /// caller commits it again with fresh ids, or gives it up).
    Stale(Box<PendingSend>),
}

impl MysqlRedisStore {
    /// Commits a send's writes and resolves the outcome. Unless it is
    /// stored or stale, its pending entry is dropped.
    pub(super) async fn commit(
        &self,
        send: PendingSend,
        record: &SendRecord,
        now: u32,
    ) -> StoreResult<Committed> {
        let u = Unresolved {
            group: record.group,
            conversation: record.conversation,
            msg_id: record.msg_id,
        };
        let stored = match self.sql.commit_send(send, now).await {
            Ok(()) => Ok(Committed::Stored),
            Err(CommitFailure::NotStored(e)) => Err(e),
            Err(CommitFailure::Stale(send)) => return Ok(Committed::Stale(send)),
            Err(CommitFailure::Unknown(e)) => {
                self.resolve_commit(u, e).await.map(|()| Committed::Stored)
            }
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

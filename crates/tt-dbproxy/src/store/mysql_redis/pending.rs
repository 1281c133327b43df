//! Pending sends on MySQL + Redis ([`crate::store::redis::SendRecord`]):
//! resolved by whoever finds them — a resend, a read ack, the recovery
//! pass — with a locking read of the message's row: committed, the entry
//! is applied (once); not committed and past its deadline, it is dropped;
//! otherwise it is still in flight and left to its request.

use std::collections::BTreeMap;

use super::MysqlRedisStore;
use crate::deadline::bounded;
use crate::store::StoreResult;
use crate::store::redis::SendRecord;

/// Entries handled per recovery pass.
const RECOVERY_BATCH: usize = 256;
/// Batches per recovery pass (the next pass takes the rest).
const RECOVERY_ROUNDS: usize = 16;

impl MysqlRedisStore {
    /// Resolves `records`; returns how many were committed (applied now or
    /// before). Rows of this instance's unresolved sends are settled first,
    /// so a send answered "not stored" is never counted.
    pub(super) async fn resolve(&self, records: Vec<SendRecord>) -> StoreResult<usize> {
        if records.is_empty() {
            return Ok(0);
        }
        if self.read_only {
            return Ok(0);
        }
        self.settle_unresolved().await?;
        let mut by_conversation: BTreeMap<(bool, u32), Vec<SendRecord>> = BTreeMap::new();
        for r in records {
            by_conversation
                .entry((r.group, r.conversation))
                .or_default()
                .push(r);
        }
        let mut committed = 0;
        for ((group, conversation), records) in by_conversation {
            let ids: Vec<u32> = records.iter().map(|r| r.msg_id).collect();
            let stored = bounded(
                "resolving pending sends",
                self.sql.committed_ids(group, conversation, &ids),
            )
            .await?;
            for r in records {
                if stored.contains(&r.msg_id) {
                    if self.redis.apply_pending(&r).await? {
                        tracing::info!(
                            group = r.group,
                            to = r.to,
                            msg_id = r.msg_id,
                            "pending send applied"
                        );
                    }
                    committed += 1;
                } else {
                    self.redis.drop_pending(&r, false).await?;
                }
            }
        }
        Ok(committed)
    }

    /// A one-to-one read ack: sends from `peer` committed before it are
    /// counted first (a count applied later would bring them back), then
    /// the count is cleared.
    pub(super) async fn clear_unread_resolved(&self, user: u32, peer: u32) -> StoreResult<()> {
        let pending = self
            .redis
            .clear_unread_unless_pending(user, peer, false)
            .await?;
        if pending.is_empty() {
            return Ok(());
        }
        self.resolve(pending).await?;
        self.redis
            .clear_unread_unless_pending(user, peer, true)
            .await
            .map(drop)
    }

    /// A group read ack, as [`Self::clear_unread_resolved`].
    pub(super) async fn mark_group_read_resolved(&self, user: u32, group: u32) -> StoreResult<()> {
        let pending = self
            .redis
            .mark_group_read_unless_pending(user, group, false)
            .await?;
        if pending.is_empty() {
            return Ok(());
        }
        self.resolve(pending).await?;
        self.redis
            .mark_group_read_unless_pending(user, group, true)
            .await
            .map(drop)
    }

    /// One recovery pass: every pending send whose deadline has passed —
    /// left by a process that died between its commit and its counters, or
    /// by a Redis failure right after a commit — is applied or dropped.
    /// Returns how many were found committed.
    pub(super) async fn recovery_pass(&self) -> StoreResult<usize> {
        if self.read_only {
            return Ok(0);
        }
        let mut committed = 0;
        for _ in 0..RECOVERY_ROUNDS {
            let due = self.redis.due_pending(RECOVERY_BATCH).await?;
            let n = due.len();
            committed += self.resolve(due).await?;
            if n < RECOVERY_BATCH {
                break;
            }
        }
        Ok(committed)
    }
}

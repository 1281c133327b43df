//! [`MysqlStore`]: the MySQL half of the production backend. Its
//! statements live in a file per domain (`users.rs`, `sessions.rs`,
//! `message.rs`, `group.rs`, …), each an `impl MysqlStore` block; this
//! file holds what they share: the pools, the group commit of sends and
//! whether the primary is a Galera node, the remembered send ids, the
//! reads concurrent requests share.

use std::sync::Arc;

use super::batch::GroupCommit;
use super::galera::Detected;
use super::outcome::CommitFailure;
use super::pending_send::PendingSend;
use super::pool::MysqlPools;
use super::send_ids::SendIds;
use super::shared_reads::{SharedReads, lanes};

/// Every MySQL-side storage operation.
pub struct MysqlStore {
    pub(super) pools: Arc<MysqlPools>,
    batch: Arc<GroupCommit>,
    /// Whether the primary is a Galera node ([`super::galera`]).
    pub(super) galera: Detected,
    send_ids: SendIds,
    /// Reads that concurrent requests share ([`super::shared_reads`]).
    pub(super) shared: SharedReads,
}

impl MysqlStore {
    /// Wraps the pools; sends are group-committed at most `batch_max` at
    /// a time and remember the ids of at most `send_cache` conversations.
    pub fn new(pools: MysqlPools, batch_max: usize, send_cache: usize) -> Self {
        let pools = Arc::new(pools);
        Self {
            batch: Arc::new(GroupCommit::new(pools.clone(), batch_max)),
            shared: SharedReads::new(pools.clone(), lanes()),
            pools,
            galera: Detected::default(),
            send_ids: SendIds::new(send_cache),
        }
    }

    /// The pools (for `migrate` and shutdown).
    pub fn pools(&self) -> &MysqlPools {
        &self.pools
    }

    /// The remembered ids of recent conversations' sends.
    pub(crate) fn send_ids(&self) -> &SendIds {
        &self.send_ids
    }

    /// Changes the largest group commit (`storage.batch_max`).
    pub(crate) fn set_batch_max(&self, n: usize) {
        self.batch.set_batch_max(n);
    }

    /// Commits a send's writes with whatever sends share its batch: `Ok`
    /// means committed.
    pub(crate) async fn commit_send(
        &self,
        send: PendingSend,
        now: u32,
    ) -> Result<(), CommitFailure> {
        self.batch.commit(send, now).await
    }
}

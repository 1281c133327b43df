//! Unread counters on MySQL + Redis: Redis only (`unread_<U>`, group totals and read marks); a read ack first counts the sends committed before it ([`super::pending`]).

use async_trait::async_trait;

use super::MysqlRedisStore;
use crate::deadline::bounded;
use crate::store::{CounterStore, StoreResult};

#[async_trait]
impl CounterStore for MysqlRedisStore {
    async fn add_unread(&self, user_id: u32, peer_id: u32, n: u32) -> StoreResult<()> {
        self.refused()?;
        self.redis.add_unread(user_id, peer_id, n).await
    }

    async fn clear_unread(&self, user_id: u32, peer_id: u32) -> StoreResult<()> {
        self.refused()?;
        bounded("clear unread", self.clear_unread_resolved(user_id, peer_id)).await
    }

    async fn unread_counts(&self, user_id: u32) -> StoreResult<Vec<(u32, u32)>> {
        self.redis.unread_counts(user_id).await
    }

    async fn incr_group_total(&self, group_id: u32) -> StoreResult<u32> {
        self.refused()?;
        self.redis.incr_group_total(group_id).await
    }

    async fn mark_group_read(&self, user_id: u32, group_id: u32) -> StoreResult<()> {
        self.refused()?;
        bounded(
            "mark group read",
            self.mark_group_read_resolved(user_id, group_id),
        )
        .await
    }

    async fn group_counter(&self, user_id: u32, group_id: u32) -> StoreResult<Option<(u32, u32)>> {
        self.redis.group_counter(user_id, group_id).await
    }

    async fn group_counters(
        &self,
        user_id: u32,
        group_ids: &[u32],
    ) -> StoreResult<Vec<Option<(u32, u32)>>> {
        self.redis.group_counters(user_id, group_ids).await
    }
}

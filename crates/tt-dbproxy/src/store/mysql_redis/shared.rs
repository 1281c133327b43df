//! What instances share on MySQL + Redis: Redis (the login throttle, the sync lease).

use async_trait::async_trait;

use super::MysqlRedisStore;
use crate::store::{SharedStore, StoreResult};

#[async_trait]
impl SharedStore for MysqlRedisStore {
    async fn shared_throttle_failures(&self, name: &[u8], now: u32) -> StoreResult<Option<u64>> {
        self.redis.throttle_failures(name, now).await.map(Some)
    }

    async fn shared_throttle_failure(&self, name: &[u8], now: u32) -> StoreResult<()> {
        self.refused()?;
        let nonce = self
            .failure_seq
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ^ self.instance_nonce;
        self.redis.throttle_failure(name, now, nonce).await
    }

    async fn shared_throttle_clear(&self, name: &[u8]) -> StoreResult<()> {
        self.refused()?;
        self.redis.throttle_clear(name).await
    }

    async fn sync_lease(&self, ttl_ms: u64) -> StoreResult<bool> {
        self.redis.sync_lease(&self.instance, ttl_ms).await
    }
}

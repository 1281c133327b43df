//! Device tokens on MySQL + Redis: Redis only (`device_<U>`, `device_<token>`).

use async_trait::async_trait;

use super::MysqlRedisStore;
use crate::store::{DeviceStore, DeviceToken, Platform, StoreResult};

#[async_trait]
impl DeviceStore for MysqlRedisStore {
    async fn register_device_token(
        &self,
        user_id: u32,
        platform: Platform,
        token: &str,
    ) -> StoreResult<()> {
        self.refused()?;
        self.redis
            .register_device_token(user_id, platform, token)
            .await
    }

    async fn clear_device_token(&self, user_id: u32) -> StoreResult<()> {
        self.redis.clear_device_token(user_id).await
    }

    async fn device_tokens(&self, user_ids: &[u32]) -> StoreResult<Vec<DeviceToken>> {
        self.redis.device_tokens(user_ids).await
    }
}

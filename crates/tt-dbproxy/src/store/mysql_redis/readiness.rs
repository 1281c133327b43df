//! Readiness on MySQL + Redis: the primary and Redis probed, both pools reconfigured, and the recovery pass of pending sends (both).

use async_trait::async_trait;

use super::MysqlRedisStore;
use crate::config::Config;
use crate::deadline::bounded;
use crate::store::{Readiness, StoreResult};

#[async_trait]
impl Readiness for MysqlRedisStore {
    async fn ready(&self) -> StoreResult<()> {
        self.probe().await
    }

    async fn reconfigure(&self, config: &Config) -> StoreResult<()> {
        self.apply(config);
        Ok(())
    }

    async fn recover_pending(&self) -> StoreResult<usize> {
        bounded("recovering pending sends", self.recovery_pass()).await
    }
}

//! `copy` on MySQL + Redis: rows from and into MySQL, state from and into Redis.

use async_trait::async_trait;

use super::MysqlRedisStore;
use crate::store::{StoreError, StoreResult};

#[async_trait]
impl crate::store::export::Portable for MysqlRedisStore {
    async fn read_rows(
        &self,
        table: &crate::store::export::Table,
        after: i64,
        limit: usize,
    ) -> StoreResult<Vec<crate::store::export::Row>> {
        self.sql.export_rows(table, after, limit).await
    }

    async fn write_rows(
        &self,
        table: &crate::store::export::Table,
        rows: Vec<crate::store::export::Row>,
        replace: bool,
    ) -> StoreResult<()> {
        self.sql.import_rows(table, rows, replace).await
    }

    async fn read_state(&self) -> StoreResult<Vec<crate::store::export::StateItem>> {
        self.redis.export_state().await
    }

    async fn write_state(
        &self,
        items: Vec<crate::store::export::StateItem>,
        groups: &[u32],
    ) -> StoreResult<()> {
        self.redis.import_state(items, groups).await
    }

    async fn settle_for_export(&self) -> StoreResult<()> {
        self.recovery_pass().await?;
        match self.redis.pending_count().await? {
            0 => Ok(()),
            n => Err(StoreError::Unavailable(format!(
                "{n} sends are still being stored (is a server running on this store?); stop the servers and copy again"
            ))),
        }
    }
}

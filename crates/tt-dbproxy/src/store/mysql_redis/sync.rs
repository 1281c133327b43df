//! The sync center's steps on MySQL + Redis: groups and sessions in MySQL, the cursor (`last_update_group`) in Redis.

use async_trait::async_trait;

use super::MysqlRedisStore;
use crate::store::read_your_writes::Mark;
use crate::store::{StoreResult, SyncStore};

#[async_trait]
impl SyncStore for MysqlRedisStore {
    async fn groups_chatted_since(&self, since: u32) -> StoreResult<Vec<(u32, u32)>> {
        self.read("groups chatted", &[], self.sql.groups_chatted_since(since))
            .await
    }

    async fn touch_group_session(
        &self,
        user_id: u32,
        group_id: u32,
        at: u32,
        now: u32,
    ) -> StoreResult<()> {
        self.write(
            "touch group session",
            &[Mark::User(user_id)],
            self.sql.touch_group_session(user_id, group_id, at, now),
        )
        .await
    }

    async fn group_sync_cursor(&self) -> StoreResult<Option<u32>> {
        self.redis.sync_cursor().await
    }

    async fn set_group_sync_cursor(&self, at: u32) -> StoreResult<()> {
        self.refused()?;
        self.redis.set_sync_cursor(at).await
    }
}

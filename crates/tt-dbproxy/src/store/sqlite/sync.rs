//! The sync center's steps on the embedded store.

use super::SqliteStore;
use crate::store::{StoreResult, SyncStore};
use async_trait::async_trait;

#[async_trait]
impl SyncStore for SqliteStore {
    async fn groups_chatted_since(&self, since: u32) -> StoreResult<Vec<(u32, u32)>> {
        self.read(move |c| super::group::chatted_since(c, since))
            .await
    }

    async fn touch_group_session(
        &self,
        user_id: u32,
        group_id: u32,
        at: u32,
        now: u32,
    ) -> StoreResult<()> {
        self.write_on_sessions(move |c| super::session::touch_group(c, user_id, group_id, at, now))
            .await
    }

    async fn group_sync_cursor(&self) -> StoreResult<Option<u32>> {
        self.read(|c| super::user::state_value(c, super::user::GROUP_SYNC_CURSOR))
            .await
    }

    async fn set_group_sync_cursor(&self, at: u32) -> StoreResult<()> {
        self.write_keeping(move |c| {
            super::user::set_state_value(c, super::user::GROUP_SYNC_CURSOR, at)
        })
        .await
    }
}

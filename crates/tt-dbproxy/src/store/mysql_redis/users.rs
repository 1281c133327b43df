//! Users on MySQL + Redis: `IMUser` in MySQL; the user-list change gate in Redis (`total_user_update`, `total_user_updated`).

use async_trait::async_trait;

use super::MysqlRedisStore;
use crate::store::read_your_writes::Mark;
use crate::store::{NewUser, StoreResult, UserRecord, UserStore, UserUpdate};

#[async_trait]
impl UserStore for MysqlRedisStore {
    async fn find_active_user_by_name(&self, name: &str) -> StoreResult<Option<UserRecord>> {
        self.read("find user", &[], self.sql.find_active_user_by_name(name))
            .await
    }

    async fn add_user(&self, user: NewUser) -> StoreResult<u32> {
        self.write("add user", &[], self.sql.add_user(user)).await
    }

    async fn list_users(&self) -> StoreResult<Vec<UserRecord>> {
        self.read("list users", &[], self.sql.list_users()).await
    }

    async fn update_user(&self, user_id: u32, update: UserUpdate, now: u32) -> StoreResult<bool> {
        self.write(
            "update user",
            &[Mark::User(user_id)],
            self.sql.update_user(user_id, update, now),
        )
        .await
    }

    async fn set_push_shield(
        &self,
        user_id: u32,
        shield_status: u32,
        now: u32,
    ) -> StoreResult<bool> {
        self.write(
            "set push shield",
            &[Mark::User(user_id)],
            self.sql.set_push_shield(user_id, shield_status, now),
        )
        .await
    }

    async fn push_shield(&self, user_id: u32) -> StoreResult<Option<u32>> {
        self.read(
            "push shield",
            &[Mark::User(user_id)],
            self.sql.push_shield(user_id),
        )
        .await
    }

    async fn users_by_ids(&self, ids: &[u32]) -> StoreResult<Vec<UserRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.read(
            "users by ids",
            &Mark::users(ids),
            self.sql.users_by_ids(ids),
        )
        .await
    }

    async fn changed_users(&self, since: u32) -> StoreResult<Vec<UserRecord>> {
        self.read("changed users", &[], self.sql.changed_users(since))
            .await
    }

    async fn set_sign_info(&self, user_id: u32, sign_info: &str, now: u32) -> StoreResult<bool> {
        self.write(
            "set sign info",
            &[Mark::User(user_id)],
            self.sql.set_sign_info(user_id, sign_info, now),
        )
        .await
    }

    async fn user_list_gate(&self) -> StoreResult<Option<u32>> {
        self.redis.gate().await
    }

    async fn set_user_list_gate(&self, at: u32) -> StoreResult<()> {
        self.refused()?;
        self.redis.set_gate(at).await
    }
}

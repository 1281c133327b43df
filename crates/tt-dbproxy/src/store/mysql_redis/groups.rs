//! Groups on MySQL + Redis: `IMGroup` and `IMGroupMember` in MySQL, membership (`group_member_<G>`) and push settings (`group_set_<G>`) in Redis.

use async_trait::async_trait;

use super::MysqlRedisStore;
use crate::deadline::bounded;
use crate::store::read_your_writes::Mark;
use crate::store::{GroupRecord, GroupStore, NewGroup, StoreResult};

#[async_trait]
impl GroupStore for MysqlRedisStore {
    async fn group_join_time(&self, group_id: u32, user_id: u32) -> StoreResult<Option<u32>> {
        match bounded("group members", self.membership(group_id)).await? {
            None => self.redis.join_time(group_id, user_id).await,
            Some(rows) => Ok(rows.iter().find(|(u, _)| *u == user_id).map(|(_, t)| *t)),
        }
    }

    async fn add_group_member(&self, group_id: u32, user_id: u32, now: u32) -> StoreResult<()> {
        self.write(
            "add group member",
            &[Mark::Group(group_id), Mark::User(user_id)],
            self.sql.add_group_member(group_id, user_id, now),
        )
        .await?;
        self.redis
            .add_group_members(group_id, &[(user_id, now)])
            .await
    }

    async fn group_exists(&self, group_id: u32) -> StoreResult<bool> {
        match bounded("group members", self.membership(group_id)).await? {
            None => Ok(true),
            Some(rows) => Ok(!rows.is_empty()),
        }
    }

    async fn is_group_member(&self, group_id: u32, user_id: u32) -> StoreResult<bool> {
        match bounded("group members", self.membership(group_id)).await? {
            None => self.redis.is_group_member(group_id, user_id).await,
            Some(rows) => Ok(rows.iter().any(|(u, _)| *u == user_id)),
        }
    }

    async fn user_groups(&self, user_id: u32) -> StoreResult<Vec<u32>> {
        self.read(
            "user groups",
            &[Mark::User(user_id)],
            self.sql.user_groups(user_id),
        )
        .await
    }

    async fn groups_by_ids(&self, ids: &[u32]) -> StoreResult<Vec<GroupRecord>> {
        self.read("groups", &Mark::groups(ids), self.sql.groups_by_ids(ids))
            .await
    }

    async fn list_groups(&self) -> StoreResult<Vec<GroupRecord>> {
        self.read("list groups", &[], self.sql.list_groups()).await
    }

    async fn group_members(&self, group_id: u32) -> StoreResult<Vec<u32>> {
        match bounded("group members", self.membership(group_id)).await? {
            None => self.redis.member_ids(group_id).await,
            Some(rows) => Ok(rows.iter().map(|(u, _)| *u).collect()),
        }
    }

    async fn create_group(&self, group: NewGroup, now: u32) -> StoreResult<u32> {
        self.refused()?;
        let id = bounded("create group", self.sql.insert_group(&group, now)).await?;
        self.redis.clear_group_members(id).await?;
        for user in &group.members {
            bounded(
                "add group member",
                self.sql.add_group_member(id, *user, now),
            )
            .await?;
        }
        let mut marks = Mark::users(&group.members);
        marks.push(Mark::Group(id));
        self.wrote(&marks).await;
        let joined: Vec<(u32, u32)> = group.members.iter().map(|u| (*u, now)).collect();
        self.redis.add_group_members(id, &joined).await?;
        if let Err(e) = self.redis.init_group_msg_id(id).await {
            tracing::warn!(error = %e, group = id, "group created but its message counter was not initialised");
        }
        Ok(id)
    }

    async fn change_group_members(
        &self,
        group_id: u32,
        add: bool,
        users: &[u32],
        now: u32,
    ) -> StoreResult<()> {
        self.refused()?;
        bounded("group members", self.membership(group_id)).await?;
        if add {
            for user in users {
                bounded(
                    "add group member",
                    self.sql.add_group_member(group_id, *user, now),
                )
                .await?;
            }
            let joined: Vec<(u32, u32)> = users.iter().map(|u| (*u, now)).collect();
            self.redis.add_group_members(group_id, &joined).await?;
        } else {
            bounded(
                "remove group members",
                self.sql.remove_group_members(group_id, users),
            )
            .await?;
            self.redis.remove_group_members(group_id, users).await?;
        }
        bounded("recount group", self.sql.recount_group(group_id, true)).await?;
        let mut marks = Mark::users(users);
        marks.push(Mark::Group(group_id));
        self.wrote(&marks).await;
        Ok(())
    }

    async fn set_group_push_shield(
        &self,
        group_id: u32,
        user_id: u32,
        status: u32,
    ) -> StoreResult<()> {
        self.refused()?;
        self.redis
            .set_group_push_shield(group_id, user_id, status)
            .await
    }

    async fn group_push_shields(&self, group_id: u32) -> StoreResult<Vec<(u32, u32)>> {
        self.redis.group_push_shields(group_id).await
    }
}

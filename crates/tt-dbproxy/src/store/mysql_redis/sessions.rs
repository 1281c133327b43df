//! Recent sessions on MySQL + Redis: `IMRecentSession`, `IMRelationShip` and the message shards (last messages) in MySQL.

use async_trait::async_trait;

use super::MysqlRedisStore;
use crate::deadline::bounded;
use crate::store::read_your_writes::Mark;
use crate::store::{LastMessage, SESSION_GROUP, SessionRecord, SessionStore, StoreResult};

#[async_trait]
impl SessionStore for MysqlRedisStore {
    async fn recent_sessions(
        &self,
        user_id: u32,
        since: u32,
        limit: u32,
    ) -> StoreResult<Vec<SessionRecord>> {
        self.read(
            "recent sessions",
            &[Mark::User(user_id)],
            self.sql.recent_sessions(user_id, since, limit),
        )
        .await
    }

    async fn find_session(
        &self,
        user_id: u32,
        peer_id: u32,
        session_type: u32,
    ) -> StoreResult<Option<u32>> {
        self.read(
            "find session",
            &[Mark::User(user_id)],
            self.sql.find_session(user_id, peer_id, session_type),
        )
        .await
    }

    async fn add_session(
        &self,
        user_id: u32,
        peer_id: u32,
        session_type: u32,
        now: u32,
    ) -> StoreResult<u32> {
        self.write(
            "add session",
            &[Mark::User(user_id)],
            self.sql.add_session(user_id, peer_id, session_type, now),
        )
        .await
    }

    async fn remove_session(&self, session_id: u32, now: u32) -> StoreResult<bool> {
        self.refused()?;
        let removed = bounded("remove session", self.sql.remove_session(session_id, now)).await?;
        if self.sql.pools().has_replicas() {
            let owner = bounded("session owner", self.sql.session_owner(session_id)).await;
            match owner {
                Ok(Some(user)) => self.wrote(&[Mark::User(user)]).await,
                _ => self.wrote(&[]).await,
            }
        }
        Ok(removed)
    }

    async fn relation_id(&self, a: u32, b: u32) -> StoreResult<Option<u32>> {
        self.read("relation", &[Mark::User(a)], self.sql.relation_id(a, b))
            .await
    }

    async fn create_relation(&self, a: u32, b: u32, now: u32) -> StoreResult<u32> {
        self.write(
            "create relation",
            &[Mark::User(a), Mark::User(b)],
            self.sql.create_relation(a, b, now),
        )
        .await
    }

    async fn last_messages(
        &self,
        user_id: u32,
        sessions: &[(u32, u32)],
    ) -> StoreResult<Vec<Option<LastMessage>>> {
        self.settle_unresolved().await?;
        let mut marks = vec![Mark::User(user_id)];
        let groups: Vec<u32> = sessions
            .iter()
            .filter(|(_, kind)| *kind == SESSION_GROUP)
            .map(|(g, _)| *g)
            .collect();
        marks.extend(Mark::groups(&groups));
        self.read(
            "last messages",
            &marks,
            self.sql.last_messages(user_id, sessions),
        )
        .await
    }

    async fn groups_and_last_messages(
        &self,
        user_id: u32,
        peers: &[u32],
    ) -> StoreResult<(Vec<u32>, Vec<Option<LastMessage>>)> {
        self.settle_unresolved().await?;
        self.read(
            "groups and last messages",
            &[Mark::User(user_id)],
            self.sql.groups_and_last_messages(user_id, peers),
        )
        .await
    }
}

//! Step 1 of a send: the conversation — for a one-to-one send both
//! users' sessions and the pair's relation, found in one statement on the
//! primary; for a group send the sender's group session — each created
//! under its named lock only when missing.

use crate::deadline::bounded;
use crate::store::mysql_redis::MysqlRedisStore;
use crate::store::{SESSION_GROUP, SESSION_SINGLE, StoreResult};

impl MysqlRedisStore {
    /// Sender's and receiver's sessions and the relation of a one-to-one
    /// send.
    pub(super) async fn single_conversation(
        &self,
        from: u32,
        to: u32,
        now: u32,
    ) -> StoreResult<([u32; 2], u32)> {
        let [mine, theirs, rel] = bounded("a send", self.sql.single_send_ids(from, to)).await?;
        let mine = self.session(mine, from, to, SESSION_SINGLE, now).await?;
        let theirs = self.session(theirs, to, from, SESSION_SINGLE, now).await?;
        let rel = match rel {
            Some(id) => id,
            None => bounded("a send", self.sql.create_relation(from, to, now)).await?,
        };
        Ok(([mine, theirs], rel))
    }

    /// The sender's session of a group send.
    pub(super) async fn group_conversation(&self, from: u32, g: u32, now: u32) -> StoreResult<u32> {
        let found = bounded("a group send", self.sql.group_session_id(from, g)).await?;
        self.session(found, from, g, SESSION_GROUP, now).await
    }

    /// A send's session of `user` with `peer`: the one `found`, or a new
    /// one (created under its named lock).
    async fn session(
        &self,
        found: Option<u32>,
        user: u32,
        peer: u32,
        kind: u32,
        now: u32,
    ) -> StoreResult<u32> {
        match found {
            Some(id) => Ok(id),
            None => bounded("a send", self.sql.add_session(user, peer, kind, now)).await,
        }
    }
}

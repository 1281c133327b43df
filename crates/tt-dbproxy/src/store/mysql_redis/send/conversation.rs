//! Step 1 of a send: the conversation — for a one-to-one send both
//! users' sessions and the pair's relation, for a group send the
//! sender's group session — remembered from an earlier send
//! (`store/mysql/send_ids.rs`; checked by the group commit), or found in
//! one statement on the primary and each created under its named lock only
//! when missing.

use crate::deadline::bounded;
use crate::store::mysql::PendingSend;
use crate::store::mysql::send_ids::{Conversation, Ids};
use crate::store::mysql_redis::MysqlRedisStore;
use crate::store::redis::SendRecord;
use crate::store::{SESSION_GROUP, SESSION_SINGLE, StoreResult};

impl MysqlRedisStore {
    /// Sender's and receiver's sessions and the relation of a one-to-one
    /// send, and whether they were remembered (`fresh`: look them up).
    pub(super) async fn single_conversation(
        &self,
        from: u32,
        to: u32,
        now: u32,
        fresh: bool,
    ) -> StoreResult<([u32; 2], u32, bool)> {
        let key = Conversation::Single(from, to);
        if !fresh && let Some(Ids::Single { sessions, relation }) = self.sql.send_ids().get(key) {
            return Ok((sessions, relation, true));
        }
        let [mine, theirs, rel] = bounded("a send", self.sql.single_send_ids(from, to)).await?;
        let mine = self.session(mine, from, to, SESSION_SINGLE, now).await?;
        let theirs = self.session(theirs, to, from, SESSION_SINGLE, now).await?;
        let rel = match rel {
            Some(id) => id,
            None => bounded("a send", self.sql.create_relation(from, to, now)).await?,
        };
        let ids = Ids::Single {
            sessions: [mine, theirs],
            relation: rel,
        };
        self.sql.send_ids().remember(key, ids);
        Ok(([mine, theirs], rel, false))
    }

    /// The sender's session of a group send, and whether it was
    /// remembered (`fresh`: look it up).
    pub(super) async fn group_conversation(
        &self,
        from: u32,
        g: u32,
        now: u32,
        fresh: bool,
    ) -> StoreResult<(u32, bool)> {
        let key = Conversation::Group(from, g);
        if !fresh && let Some(Ids::Group { session }) = self.sql.send_ids().get(key) {
            return Ok((session, true));
        }
        let found = bounded("a group send", self.sql.group_session_id(from, g)).await?;
        let session = self.session(found, from, g, SESSION_GROUP, now).await?;
        self.sql.send_ids().remember(key, Ids::Group { session });
        Ok((session, false))
    }

    /// A stale send with fresh session ids, if its conversation is still
    /// the one its id was allocated in (a group always is; a pair unless
    /// its relation changed).
    pub(super) async fn refreshed(
        &self,
        send: PendingSend,
        record: &SendRecord,
        now: u32,
    ) -> StoreResult<Option<PendingSend>> {
        Ok(match send {
            PendingSend::Single { row, .. } => {
                let (sessions, rel, _) = self
                    .single_conversation(record.from, record.to, now, true)
                    .await?;
                (rel == record.conversation).then_some(PendingSend::Single {
                    sessions,
                    row,
                    remembered: false,
                })
            }
            PendingSend::Group { row, .. } => {
                let (session, _) = self
                    .group_conversation(record.from, record.to, now, true)
                    .await?;
                Some(PendingSend::Group {
                    session,
                    row,
                    remembered: false,
                })
            }
        })
    }

    /// Forgets the remembered ids of a send found stale.
    pub(super) fn forget_conversation(&self, group: bool, from: u32, to: u32) {
        let key = if group {
            Conversation::Group(from, to)
        } else {
            Conversation::Single(from, to)
        };
        self.sql.send_ids().forget(key);
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

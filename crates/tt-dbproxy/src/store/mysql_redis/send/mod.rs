//! A send on MySQL + Redis, step by step; each step is a file of its own:
//!
//! 1. [`conversation`]: the sessions and relation (or the sender's group
//!    session), remembered from an earlier send or found in one statement,
//!    created only when missing;
//! 2. [`allocate`]: the id allocated together with the resend check and
//!    the send's pending entry, in one Redis round trip (a resend is
//!    answered with the stored id here);
//! 3. [`commit`]: the row committed in MySQL's group commit (which first
//!    checks remembered ids: a send whose rows are gone runs again from 1);
//! 4. [`resolve`]: a commit whose outcome is unknown, resolved or
//!    journaled (answered "not stored");
//! 5. [`apply`]: after the write position for read-your-writes, the
//!    pending entry applied: counters and resend memory, once.
//!
//! A crash between 3 and 5 leaves the pending entry, which the next
//! resend, read ack or recovery pass applies (`store/mysql_redis/pending.rs`).

mod allocate;
mod apply;
mod commit;
mod conversation;
mod resolve;

use allocate::NextId;
use commit::Committed;

use crate::store::mysql::PendingSend;
use crate::store::mysql_redis::MysqlRedisStore;
use crate::store::read_your_writes::Mark;
use crate::store::redis::SendRecord;
use crate::store::{GroupMessageRow, NewMessage, SingleMessageRow, StoreError, StoreResult};

impl MysqlRedisStore {
    /// Stores a message: `Ok(id)` once it is committed (or when it is a
    /// resend of a stored one). Each step is bounded by the deadline on
    /// its own, so a commit cut off by it is still resolved.
    pub(super) async fn send(&self, msg: NewMessage, now: u32) -> StoreResult<u32> {
        self.refused()?;
        self.settle_unresolved().await?;
        let resend = msg
            .resend
            .as_ref()
            .map(|k| (crate::store::resend::redis_key(&msg, k), k.window_s));
        let mut claimed = false;
        let mut stored = self
            .send_once(&msg, now, resend.as_ref(), &mut claimed, false)
            .await;
        if matches!(stored, Ok(None)) {
            // The conversation changed under remembered ids (a relation
            // deleted and created again): once more from a fresh lookup.
            stored = self
                .send_once(&msg, now, resend.as_ref(), &mut claimed, true)
                .await;
        }
        let stored = stored.and_then(|id| {
            id.ok_or_else(|| {
                StoreError::Unavailable("the conversation's rows changed during the send".into())
            })
        });
        if stored.is_err()
            && claimed
            && let Some((key, _)) = &resend
            && let Err(e) = self.redis.release_resend(key).await
        {
            // A claim without an id expires shortly after the deadline.
            tracing::debug!(error = %e, "resend claim not released");
        }
        stored
    }

    /// One run of the steps: `Ok(None)` when the conversation's
    /// remembered ids were stale (nothing stored); `fresh`: look them up.
    async fn send_once(
        &self,
        m: &NewMessage,
        now: u32,
        resend: Option<&(String, u32)>,
        claimed: &mut bool,
        fresh: bool,
    ) -> StoreResult<Option<u32>> {
        if m.group {
            self.store_group(m, now, resend, claimed, fresh).await
        } else {
            self.store_single(m, now, resend, claimed, fresh).await
        }
    }

    /// A one-to-one send: the sessions and relation (remembered, or looked
    /// up in one statement and created under their named locks only when
    /// missing), the id from Redis, and the session updates and the insert
    /// committed together.
    async fn store_single(
        &self,
        m: &NewMessage,
        now: u32,
        resend: Option<&(String, u32)>,
        claimed: &mut bool,
        fresh: bool,
    ) -> StoreResult<Option<u32>> {
        let (to, from) = (m.to_id, m.from_id);
        let (sessions, rel, remembered) = self.single_conversation(from, to, now, fresh).await?;
        let record = SendRecord {
            group: false,
            conversation: rel,
            msg_id: 0,
            from,
            to,
            resend: resend.cloned(),
        };
        let build = |msg_id| PendingSend::Single {
            sessions,
            row: SingleMessageRow {
                relation_id: rel,
                from_id: from,
                to_id: to,
                msg_id,
                msg_type: m.msg_type,
                content: m.content.clone(),
                created: m.created,
            },
            remembered,
        };
        let marks = [Mark::User(from), Mark::User(to)];
        self.allocate_and_finish(record, claimed, build, m, now, &marks)
            .await
    }

    /// A group send: the sender's session (remembered, or found or
    /// created), and its update, the insert and `lastChated` committed
    /// together.
    async fn store_group(
        &self,
        m: &NewMessage,
        now: u32,
        resend: Option<&(String, u32)>,
        claimed: &mut bool,
        fresh: bool,
    ) -> StoreResult<Option<u32>> {
        let (g, from) = (m.to_id, m.from_id);
        let (session, remembered) = self.group_conversation(from, g, now, fresh).await?;
        let record = SendRecord {
            group: true,
            conversation: g,
            msg_id: 0,
            from,
            to: g,
            resend: resend.cloned(),
        };
        let build = |msg_id| PendingSend::Group {
            session,
            row: GroupMessageRow {
                group_id: g,
                from_id: from,
                msg_id,
                msg_type: m.msg_type,
                content: m.content.clone(),
                created: m.created,
            },
            remembered,
        };
        let marks = [Mark::Group(g), Mark::User(from)];
        self.allocate_and_finish(record, claimed, build, m, now, &marks)
            .await
    }

    /// Steps 2 to 5 once the conversation is known: the id (a resend is
    /// answered with the stored one), then the writes `build` makes for
    /// it committed, and what follows a commit.
    async fn allocate_and_finish(
        &self,
        mut record: SendRecord,
        claimed: &mut bool,
        build: impl FnOnce(u32) -> PendingSend,
        m: &NewMessage,
        now: u32,
        marks: &[Mark],
    ) -> StoreResult<Option<u32>> {
        let (msg_id, _in_flight) = match self.next_msg_id(&mut record, claimed).await? {
            NextId::New(id, held) => (id, held),
            NextId::Resent(id) => return Ok(Some(id)),
        };
        let crash = crate::crash_point::armed(&m.content);
        self.finish(build(msg_id), &record, now, crash, marks).await
    }

    /// The steps after the id: the commit and its outcome, the crash point,
    /// the write position for read-your-writes (`marks`), then the counters
    /// and resend memory from the pending entry. Returns the message id,
    /// or `None` when the remembered ids were stale and the conversation
    /// itself changed (nothing stored; the caller starts again).
    async fn finish(
        &self,
        send: PendingSend,
        record: &SendRecord,
        now: u32,
        crash: bool,
        marks: &[Mark],
    ) -> StoreResult<Option<u32>> {
        let mut send = send;
        let mut refreshed = false;
        while let Committed::Stale(back) = self.commit(send, record, now).await? {
            self.forget_conversation(record.group, record.from, record.to);
            let fresh = match refreshed {
                false => self.refreshed(*back, record, now).await?,
                true => None,
            };
            let Some(fresh) = fresh else {
                self.give_up(record).await;
                return Ok(None);
            };
            // The same conversation with fresh sessions: the same id.
            send = fresh;
            refreshed = true;
        }
        crate::crash_point::after_commit(crash);
        self.wrote(marks).await;
        self.apply_counters(record).await;
        Ok(Some(record.msg_id))
    }
}

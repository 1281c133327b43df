//! A send on MySQL + Redis, step by step; each step is a file of its own:
//!
//! 1. [`conversation`]: the sessions and relation (or the sender's group
//!    session), found in one statement, created only when missing;
//! 2. [`allocate`]: the id allocated together with the resend check and
//!    the send's pending entry, in one Redis round trip (a resend is
//!    answered with the stored id here);
//! 3. [`commit`]: the row committed in MySQL's group commit;
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

use crate::store::mysql::PendingSend;
use crate::store::mysql_redis::MysqlRedisStore;
use crate::store::read_your_writes::Mark;
use crate::store::redis::SendRecord;
use crate::store::{GroupMessageRow, NewMessage, SingleMessageRow, StoreResult};

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
        let stored = if msg.group {
            self.store_group(msg, now, resend.as_ref(), &mut claimed)
                .await
        } else {
            self.store_single(msg, now, resend.as_ref(), &mut claimed)
                .await
        };
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

    /// A one-to-one send: the sessions and relation are looked up in one
    /// statement (created under their named locks only when missing), the
    /// id comes from Redis, and the session updates and the insert commit
    /// together.
    async fn store_single(
        &self,
        m: NewMessage,
        now: u32,
        resend: Option<&(String, u32)>,
        claimed: &mut bool,
    ) -> StoreResult<u32> {
        let (to, from) = (m.to_id, m.from_id);
        let (sessions, rel) = self.single_conversation(from, to, now).await?;
        let mut record = SendRecord {
            group: false,
            conversation: rel,
            msg_id: 0,
            from,
            to,
            resend: resend.cloned(),
        };
        let (msg_id, _in_flight) = match self.next_msg_id(&mut record, claimed).await? {
            NextId::New(id, held) => (id, held),
            NextId::Resent(id) => return Ok(id),
        };
        let crash = crate::crash_point::armed(&m.content);
        let row = SingleMessageRow {
            relation_id: rel,
            from_id: from,
            to_id: to,
            msg_id,
            msg_type: m.msg_type,
            content: m.content,
            created: m.created,
        };
        let send = PendingSend::Single { sessions, row };
        self.finish(
            send,
            &record,
            now,
            crash,
            &[Mark::User(from), Mark::User(to)],
        )
        .await
    }

    /// A group send: the sender's session is found (or created), and its
    /// update, the insert and `lastChated` commit together.
    async fn store_group(
        &self,
        m: NewMessage,
        now: u32,
        resend: Option<&(String, u32)>,
        claimed: &mut bool,
    ) -> StoreResult<u32> {
        let (g, from) = (m.to_id, m.from_id);
        let session = self.group_conversation(from, g, now).await?;
        let mut record = SendRecord {
            group: true,
            conversation: g,
            msg_id: 0,
            from,
            to: g,
            resend: resend.cloned(),
        };
        let (msg_id, _in_flight) = match self.next_msg_id(&mut record, claimed).await? {
            NextId::New(id, held) => (id, held),
            NextId::Resent(id) => return Ok(id),
        };
        let crash = crate::crash_point::armed(&m.content);
        let row = GroupMessageRow {
            group_id: g,
            from_id: from,
            msg_id,
            msg_type: m.msg_type,
            content: m.content,
            created: m.created,
        };
        let send = PendingSend::Group { session, row };
        self.finish(
            send,
            &record,
            now,
            crash,
            &[Mark::Group(g), Mark::User(from)],
        )
        .await
    }

    /// The steps after the id: the commit and its outcome, the crash point,
    /// the write position for read-your-writes (`marks`), then the counters
    /// and resend memory from the pending entry. Returns the message id.
    async fn finish(
        &self,
        send: PendingSend,
        record: &SendRecord,
        now: u32,
        crash: bool,
        marks: &[Mark],
    ) -> StoreResult<u32> {
        self.commit(send, record, now).await?;
        crate::crash_point::after_commit(crash);
        self.wrote(marks).await;
        self.apply_counters(record).await;
        Ok(record.msg_id)
    }
}

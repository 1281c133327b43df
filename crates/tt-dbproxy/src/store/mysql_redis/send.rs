//! A send on MySQL + Redis, step by step: sessions and relation found (or
//! created), the id allocated together with the resend check and the
//! send's pending entry in Redis, the row group-committed in MySQL, the
//! commit's outcome resolved, then the pending entry applied (counters and
//! resend memory). A crash between commit and apply leaves the entry,
//! which the next resend, read ack or recovery pass applies ([`super::pending`]).

use super::{MysqlRedisStore, NextId};
use crate::deadline::bounded;
use crate::rate_log::RateLimited;
use crate::store::mysql::{CommitFailure, PendingSend};
use crate::store::read_your_writes::Mark;
use crate::store::redis::{Allocation, RedisStore, SendRecord};
use crate::store::unresolved::Unresolved;
use crate::store::{
    GroupMessageRow, NewMessage, SESSION_GROUP, SESSION_SINGLE, SingleMessageRow, StoreError,
    StoreResult,
};

static OUTCOME_UNKNOWN: RateLimited = RateLimited::new("send outcome unknown");
static COUNTER_MISSED: RateLimited = RateLimited::new("counter not raised");

/// Extra time a pending entry is held past its request's deadline before
/// another request may resolve it: by then the send's own request has
/// answered or its process is gone.
const HOLD_MARGIN_MS: u64 = 1_000;

impl MysqlRedisStore {
    /// The next message id of a conversation — Redis counter, seeded from
    /// the primary's largest stored id when missing (after a flush), so an
    /// id is never handed out twice — checking, in the same round trip,
    /// whether the send is a resend, and recording the new id as pending
    /// (`record.msg_id` is set). `claimed`: a claim without an id is held
    /// on the resend key (released by the caller on failure).
    pub(super) async fn next_msg_id(
        &self,
        record: &mut SendRecord,
        claimed: &mut bool,
    ) -> StoreResult<NextId<'_>> {
        let (group, conv) = (record.group, record.conversation);
        let counter = RedisStore::counter_key(group, conv);
        let in_flight = self.failover_guard(group, conv, &counter).await?;
        let left =
            crate::deadline::effective().saturating_duration_since(tokio::time::Instant::now());
        let hold_ms = u64::try_from(left.as_millis())
            .unwrap_or(u64::MAX)
            .saturating_add(HOLD_MARGIN_MS);
        // An orphan found dropped is allocated again, once.
        for _ in 0..2 {
            let (verdict, epoch) = self.redis.allocate(&counter, record, hold_ms).await?;
            let id = match verdict {
                Allocation::Stored(id) => {
                    metrics::counter!(crate::metrics::RESENDS, "backend" => "mysql").increment(1);
                    return Ok(NextId::Resent(id));
                }
                Allocation::InFlight => {
                    return Err(StoreError::Unavailable(
                        "the same message is being stored by another request".into(),
                    ));
                }
                Allocation::Orphan(id) => {
                    let orphan = SendRecord {
                        msg_id: id,
                        ..record.clone()
                    };
                    if self.resolve(vec![orphan]).await? > 0 {
                        metrics::counter!(crate::metrics::RESENDS, "backend" => "mysql")
                            .increment(1);
                        return Ok(NextId::Resent(id));
                    }
                    continue;
                }
                Allocation::Missing => {
                    *claimed = record.resend.is_some();
                    self.settle_unresolved().await?;
                    let stored_max =
                        bounded("max message id", self.sql.max_msg_id(group, conv)).await?;
                    let id = self
                        .redis
                        .seed_and_allocate(&counter, record, hold_ms, stored_max)
                        .await?;
                    *claimed = false;
                    id
                }
                Allocation::New(id) => id,
            };
            record.msg_id = id;
            if in_flight.as_ref().is_some_and(|g| g.epoch() != epoch) {
                self.give_up(record).await;
                return Err(StoreError::Unavailable(
                    "the Redis master changed during the send".into(),
                ));
            }
            return Ok(NextId::New(id, in_flight));
        }
        Err(StoreError::Unavailable(
            "the same message is being resolved by another request".into(),
        ))
    }

    /// In Sentinel mode, the failover guard of [`crate::store::redis::InFlight`]'s
    /// module: on the counter's first use in the current master epoch it
    /// is raised to MySQL's largest stored id (after this process's sends
    /// of earlier epochs have finished), and the send is registered as
    /// holding an id of this epoch. `None` without Sentinels.
    async fn failover_guard(
        &self,
        group: bool,
        conv: u32,
        counter: &str,
    ) -> StoreResult<Option<crate::store::redis::InFlight<'_>>> {
        let Some(guard) = self.redis.reseed() else {
            return Ok(None);
        };
        let epoch = self.redis.master_epoch().await?;
        if !guard.is_seeded(counter, epoch) {
            guard.wait_for_older(epoch).await?;
            self.settle_unresolved().await?;
            let stored_max = bounded("max message id", self.sql.max_msg_id(group, conv)).await?;
            self.redis
                .raise_counter(guard, counter, stored_max, epoch)
                .await?;
        }
        Ok(Some(guard.begin(epoch)))
    }

    /// Drops the pending entry of a send answered "not stored" (its
    /// resend then allocates again); if Redis cannot be reached, the
    /// entry is dropped once its deadline has passed ([`Self::resolve`]).
    pub(super) async fn give_up(&self, record: &SendRecord) {
        if let Err(e) = self.redis.drop_pending(record, true).await {
            tracing::debug!(error = %e, "pending send not dropped; dropped after its deadline");
        }
    }

    /// A send whose `COMMIT` may or may not have landed: resolved by a
    /// locking read while the deadline allows (`Ok(())`: stored, ack it);
    /// otherwise recorded durably and answered "not stored", and its row,
    /// if any, is deleted before messages are read again.
    async fn resolve_commit(&self, u: Unresolved, cause: StoreError) -> StoreResult<()> {
        match bounded("resolving a commit", self.sql.message_committed(u)).await {
            Ok(true) => return Ok(()),
            Ok(false) => return Err(cause),
            Err(_) => {}
        }
        match self.unresolved.record(u).await {
            Ok(()) => {
                crate::warn_limited!(OUTCOME_UNKNOWN, ?u, error = %cause, "send outcome unknown; answered not stored, settled once MySQL answers");
            }
            Err(e) => {
                tracing::error!(?u, error = %e, "send outcome unknown and cannot be recorded; if its commit landed the message is stored although answered not stored")
            }
        }
        Err(cause)
    }

    /// Deletes the rows of every recorded unresolved send (see
    /// [`Self::resolve_commit`]); until that succeeds, message reads fail.
    pub(super) async fn settle_unresolved(&self) -> StoreResult<()> {
        if !self.unresolved.has_pending() {
            return Ok(());
        }
        if self.read_only {
            // Reads answer from what is there.
            return Ok(());
        }
        let _one = tokio::time::timeout_at(crate::deadline::effective(), self.settling.lock())
            .await
            .map_err(|_| crate::deadline::expired("settling unresolved sends"))?;
        let pending = self.unresolved.pending();
        let mut done = Vec::new();
        for u in pending {
            bounded("settling an unresolved send", self.sql.delete_message(u)).await?;
            done.push(u);
        }
        if !done.is_empty() {
            tracing::info!(count = done.len(), "unresolved sends settled");
        }
        self.unresolved.settled(&done).await
    }

    /// Commits a send's writes and resolves the outcome: `Ok` when the
    /// message is stored. Otherwise its pending entry is dropped.
    async fn commit(&self, send: PendingSend, record: &SendRecord, now: u32) -> StoreResult<()> {
        let u = Unresolved {
            group: record.group,
            conversation: record.conversation,
            msg_id: record.msg_id,
        };
        let stored = match self.sql.commit_send(send, now).await {
            Ok(()) => Ok(()),
            Err(CommitFailure::NotStored(e)) => Err(e),
            Err(CommitFailure::Unknown(e)) => self.resolve_commit(u, e).await,
        };
        if stored.is_err() {
            self.give_up(record).await;
        }
        stored
    }

    /// After the commit: the counters and the resend memory, from the
    /// pending entry (once, whoever applies it).
    async fn apply_counters(&self, record: &SendRecord) {
        if let Err(e) = self.redis.apply_pending(record).await {
            crate::warn_limited!(COUNTER_MISSED, error = %e, group = record.group, to = record.to, msg_id = record.msg_id, "message stored; its counters are applied once Redis answers (pending)");
        }
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

    /// A one-to-one send: the sessions and relation are looked up in one
    /// statement (created under their named locks only when missing), the
    /// id comes from Redis, and the session updates and the insert commit
    /// together.
    pub(super) async fn store_single(
        &self,
        m: NewMessage,
        now: u32,
        resend: Option<&(String, u32)>,
        claimed: &mut bool,
    ) -> StoreResult<u32> {
        let (to, from) = (m.to_id, m.from_id);
        let [mine, theirs, rel] = bounded("a send", self.sql.single_send_ids(from, to)).await?;
        let mine = self.session(mine, from, to, SESSION_SINGLE, now).await?;
        let theirs = self.session(theirs, to, from, SESSION_SINGLE, now).await?;
        let rel = match rel {
            Some(id) => id,
            None => bounded("a send", self.sql.create_relation(from, to, now)).await?,
        };
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
        let send = PendingSend::Single {
            sessions: [mine, theirs],
            row,
        };
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
    pub(super) async fn store_group(
        &self,
        m: NewMessage,
        now: u32,
        resend: Option<&(String, u32)>,
        claimed: &mut bool,
    ) -> StoreResult<u32> {
        let (g, from) = (m.to_id, m.from_id);
        let found = bounded("a group send", self.sql.group_session_id(from, g)).await?;
        let session = self.session(found, from, g, SESSION_GROUP, now).await?;
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
}

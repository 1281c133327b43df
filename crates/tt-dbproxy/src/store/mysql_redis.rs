//! [`MysqlRedisStore`]: the production backend. TeamTalk's tables in
//! MySQL/MariaDB (primary + read replicas) and the original's Redis keys,
//! data-compatible with the C++ servers.
//!
//! Group membership at run time lives in Redis (`group_member_<G>`) as in
//! the original, but when that hash is missing (groups created by the PHP
//! admin, or a flushed Redis) it is rebuilt from `IMGroupMember` instead of
//! the group silently not existing.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::mysql::read_at;
use super::mysql::{CommitFailure, MysqlPools, MysqlStore, PendingSend, schema};
use super::read_your_writes::{Mark, WriteMarks};
use super::redis::{Claim, InFlight, RedisStore};
use super::unresolved::{Journal, Unresolved};
use super::{
    AudioRow, DepartRecord, DeviceToken, GroupMessageRow, GroupRecord, LastMessage, MessageRow,
    NewGroup, NewMessage, NewUser, OfflineFile, Platform, SESSION_GROUP, SESSION_SINGLE,
    SessionRecord, SingleMessageRow, Store, StoreError, StoreResult, UserRecord, UserUpdate,
};
use crate::config::Config;
use crate::deadline::bounded;
use crate::rate_log::RateLimited;

static OUTCOME_UNKNOWN: RateLimited = RateLimited::new("send outcome unknown");
static COUNTER_MISSED: RateLimited = RateLimited::new("counter not raised");

/// A send's id: a new one (held in flight, in Sentinel mode, until the
/// send ends; see [`super::redis::InFlight`]), or the stored message's it
/// resends.
enum NextId<'a> {
    New(u32, Option<InFlight<'a>>),
    Resent(u32),
}

/// MySQL + Redis.
pub struct MysqlRedisStore {
    sql: Arc<MysqlStore>,
    redis: RedisStore,
    /// Sends whose commit outcome is unknown, settled before messages are
    /// read (in `storage.data_dir`).
    unresolved: Journal,
    /// One settling pass at a time.
    settling: tokio::sync::Mutex<()>,
    /// This process among the instances sharing the backends (the sync
    /// lease's holder name).
    instance: String,
    /// Makes this instance's throttle entries unique.
    instance_nonce: u64,
    failure_seq: std::sync::atomic::AtomicU64,
    /// The write positions reads on replicas must have applied.
    marks: WriteMarks,
}

impl MysqlRedisStore {
    /// Builds the pools from the configuration. Nothing connects yet: the
    /// server starts while MySQL or Redis is down and serves once they are
    /// back.
    pub fn new(config: &Config) -> StoreResult<Self> {
        let wait = Duration::from_millis(config.storage.acquire_timeout_ms);
        let mysql = config
            .mysql
            .as_ref()
            .ok_or_else(|| StoreError::Unavailable("no MySQL configured".into()))?;
        let redis = config
            .redis
            .as_ref()
            .ok_or_else(|| StoreError::Unavailable("no Redis configured".into()))?;
        let nonce: u64 = rand::random();
        Ok(Self {
            sql: Arc::new(MysqlStore::new(
                MysqlPools::new(mysql, wait),
                config.storage.batch_max,
            )),
            redis: RedisStore::new(redis, wait)?,
            unresolved: Journal::open(&config.storage.data_dir),
            settling: tokio::sync::Mutex::new(()),
            instance: format!("{}:{:016x}", std::process::id(), nonce),
            instance_nonce: nonce,
            failure_seq: std::sync::atomic::AtomicU64::new(0),
            marks: WriteMarks::new(mysql.max_replica_lag_s),
        })
    }

    /// Applies the reloadable settings of `config` to the pools.
    fn apply(&self, config: &Config) {
        let wait = Duration::from_millis(config.storage.acquire_timeout_ms);
        self.sql.set_batch_max(config.storage.batch_max);
        if let Some(m) = &config.mysql {
            self.sql.pools().reconfigure(m, wait);
            self.marks.set_max_lag(m.max_replica_lag_s);
        }
        if let Some(r) = &config.redis {
            self.redis.reconfigure(r, wait);
        }
    }

    /// Runs a read (bounded by the deadline) routed so that it sees every
    /// acknowledged write touching `marks` (none: every write).
    async fn read<T>(
        &self,
        what: &'static str,
        marks: &[Mark],
        f: impl Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        let at = self
            .marks
            .read_at(self.sql.pools(), &self.redis, marks)
            .await;
        read_at::scoped(at, bounded(what, f)).await
    }

    /// Runs a write (bounded by the deadline) and, once it succeeded,
    /// records its position for `marks`.
    async fn write<T>(
        &self,
        what: &'static str,
        marks: &[Mark],
        f: impl Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        let out = bounded(what, f).await?;
        self.wrote(marks).await;
        Ok(out)
    }

    /// Records the position of an acknowledged write touching `marks`.
    async fn wrote(&self, marks: &[Mark]) {
        self.marks.wrote(self.sql.pools(), &self.redis, marks).await;
    }

    /// Creates missing TeamTalk tables (never alters existing ones);
    /// returns the number of statements run.
    pub async fn migrate(&self) -> StoreResult<usize> {
        schema::migrate(self.sql.pools()).await
    }

    /// The next message id of a conversation — Redis counter, seeded from
    /// the primary's largest stored id when missing (after a flush), so an
    /// id is never handed out twice — checking, in the same round trip,
    /// whether the send is a resend (`resend`: its key and window; a new
    /// send's key is claimed, and `claimed` says so). Remaining window of
    /// the counter: a wipe while another send holds an allocated but not
    /// yet committed id.
    async fn next_msg_id(
        &self,
        group: bool,
        conv: u32,
        resend: Option<&(String, u32)>,
        claimed: &mut bool,
    ) -> StoreResult<NextId<'_>> {
        let counter = RedisStore::counter_key(group, conv);
        let in_flight = self.failover_guard(group, conv, &counter).await?;
        // Held until shortly after this request's deadline: by then the
        // send has an outcome, and a lost claim cannot block resends long.
        let left =
            crate::deadline::effective().saturating_duration_since(tokio::time::Instant::now());
        let claim_ms = u64::try_from(left.as_millis())
            .unwrap_or(u64::MAX)
            .saturating_add(1_000);
        let check = resend.map(|(key, _)| (key.as_str(), claim_ms));
        let (claim, id, epoch) = self.redis.claim_and_next_id(&counter, check).await?;
        if in_flight.as_ref().is_some_and(|g| g.epoch() != epoch) {
            *claimed = resend.is_some() && claim == Claim::Mine;
            return Err(StoreError::Unavailable(
                "the Redis master changed during the send".into(),
            ));
        }
        match claim {
            Claim::Stored(id) => {
                metrics::counter!(crate::metrics::RESENDS, "backend" => "mysql").increment(1);
                return Ok(NextId::Resent(id));
            }
            Claim::InFlight => {
                return Err(StoreError::Unavailable(
                    "the same message is being stored by another request".into(),
                ));
            }
            Claim::Mine => *claimed = resend.is_some(),
        }
        if let Some(id) = id {
            return Ok(NextId::New(id, in_flight));
        }
        self.settle_unresolved().await?;
        let stored_max = bounded("max message id", self.sql.max_msg_id(group, conv)).await?;
        Ok(NextId::New(
            self.redis.seed_msg_id(group, conv, stored_max).await?,
            in_flight,
        ))
    }

    /// In Sentinel mode, the failover guard of [`super::redis::InFlight`]'s
    /// module: on the counter's first use in the current master epoch it
    /// is raised to MySQL's largest stored id (after this process's sends
    /// of earlier epochs have finished), and the send is registered as
    /// holding an id of this epoch. `None` without Sentinels.
    async fn failover_guard(
        &self,
        group: bool,
        conv: u32,
        counter: &str,
    ) -> StoreResult<Option<InFlight<'_>>> {
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
    async fn settle_unresolved(&self) -> StoreResult<()> {
        if !self.unresolved.has_pending() {
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

    /// The outcome of a send's commit: `Ok` when the message is stored.
    async fn committed(
        &self,
        outcome: Result<(), CommitFailure>,
        u: Unresolved,
    ) -> StoreResult<()> {
        match outcome {
            Ok(()) => Ok(()),
            Err(CommitFailure::NotStored(e)) => Err(e),
            Err(CommitFailure::Unknown(e)) => self.resolve_commit(u, e).await,
        }
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
        let [mine, theirs, rel] = bounded("a send", self.sql.single_send_ids(from, to)).await?;
        let mine = match mine {
            Some(id) => id,
            None => {
                bounded(
                    "a send",
                    self.sql.add_session(from, to, SESSION_SINGLE, now),
                )
                .await?
            }
        };
        let theirs = match theirs {
            Some(id) => id,
            None => {
                bounded(
                    "a send",
                    self.sql.add_session(to, from, SESSION_SINGLE, now),
                )
                .await?
            }
        };
        let rel = match rel {
            Some(id) => id,
            None => bounded("a send", self.sql.create_relation(from, to, now)).await?,
        };
        let (msg_id, _in_flight) = match self.next_msg_id(false, rel, resend, claimed).await? {
            NextId::New(id, held) => (id, held),
            NextId::Resent(id) => return Ok(id),
        };
        let row = SingleMessageRow {
            relation_id: rel,
            from_id: from,
            to_id: to,
            msg_id,
            msg_type: m.msg_type,
            content: m.content,
            created: m.created,
        };
        let unresolved = Unresolved {
            group: false,
            conversation: rel,
            msg_id,
        };
        let send = PendingSend::Single {
            sessions: [mine, theirs],
            row,
        };
        let outcome = self.sql.commit_send(send, now).await;
        self.committed(outcome, unresolved).await?;
        self.wrote(&[Mark::User(from), Mark::User(to)]).await;
        let remember = resend.map(|(key, window)| (key.as_str(), msg_id, *window));
        if let Err(e) = self.redis.single_message_stored(to, from, remember).await {
            crate::warn_limited!(COUNTER_MISSED, error = %e, to, from, msg_id, "message stored but its unread count was not raised");
        }
        Ok(msg_id)
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
        let session = match bounded("a group send", self.sql.group_session_id(from, g)).await? {
            Some(id) => id,
            None => {
                bounded(
                    "a group send",
                    self.sql.add_session(from, g, SESSION_GROUP, now),
                )
                .await?
            }
        };
        let (msg_id, _in_flight) = match self.next_msg_id(true, g, resend, claimed).await? {
            NextId::New(id, held) => (id, held),
            NextId::Resent(id) => return Ok(id),
        };
        let row = GroupMessageRow {
            group_id: g,
            from_id: from,
            msg_id,
            msg_type: m.msg_type,
            content: m.content,
            created: m.created,
        };
        let unresolved = Unresolved {
            group: true,
            conversation: g,
            msg_id,
        };
        let send = PendingSend::Group { session, row };
        let outcome = self.sql.commit_send(send, now).await;
        self.committed(outcome, unresolved).await?;
        self.wrote(&[Mark::Group(g), Mark::User(from)]).await;
        let remember = resend.map(|(key, window)| (key.as_str(), msg_id, *window));
        if let Err(e) = self.redis.group_message_stored(g, from, remember).await {
            crate::warn_limited!(COUNTER_MISSED, error = %e, group = g, msg_id, "message stored but group counters not updated");
        }
        Ok(msg_id)
    }

    /// Checks that MySQL (primary) and Redis answer.
    pub async fn probe(&self) -> StoreResult<()> {
        bounded("probe", self.sql.push_shield(0)).await?;
        self.redis.gate().await.map(drop)
    }

    /// Closes the MySQL pools.
    pub async fn close(&self) {
        self.sql.pools().disconnect().await;
    }

    /// Members of a group from the Redis hash, rebuilt from `IMGroupMember`
    /// when the hash is missing. Returns whether the group has members.
    async fn ensure_group(&self, group_id: u32) -> StoreResult<bool> {
        if self.redis.group_hash_exists(group_id).await? {
            return Ok(true);
        }
        let members = self.sql.group_members(group_id).await?;
        self.redis.add_group_members(group_id, &members).await?;
        Ok(!members.is_empty())
    }
}

#[async_trait]
impl Store for MysqlRedisStore {
    async fn ready(&self) -> StoreResult<()> {
        self.probe().await
    }

    async fn reconfigure(&self, config: &Config) -> StoreResult<()> {
        self.apply(config);
        Ok(())
    }

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
        self.redis.set_gate(at).await
    }

    async fn add_department(&self, depart: DepartRecord) -> StoreResult<u32> {
        self.write("add department", &[], self.sql.add_department(depart))
            .await
    }

    async fn list_departments(&self) -> StoreResult<Vec<DepartRecord>> {
        self.read("list departments", &[], self.sql.departments(None))
            .await
    }

    async fn changed_departments(&self, since: u32) -> StoreResult<Vec<DepartRecord>> {
        self.read(
            "changed departments",
            &[],
            self.sql.departments(Some(since)),
        )
        .await
    }

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

    async fn insert_single_message(&self, row: SingleMessageRow) -> StoreResult<()> {
        let marks = [Mark::User(row.from_id), Mark::User(row.to_id)];
        self.write(
            "insert message",
            &marks,
            self.sql.insert_single_message(row),
        )
        .await
    }

    async fn insert_group_message(&self, row: GroupMessageRow) -> StoreResult<()> {
        let marks = [Mark::Group(row.group_id), Mark::User(row.from_id)];
        self.write(
            "insert group message",
            &marks,
            self.sql.insert_group_message(row),
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

    async fn store_message(&self, msg: NewMessage, now: u32) -> StoreResult<u32> {
        // Each step is bounded by the deadline on its own, so a commit cut
        // off by it is still resolved (see `resolve_commit`).
        self.settle_unresolved().await?;
        let resend = msg
            .resend
            .as_ref()
            .map(|k| (super::resend::redis_key(&msg, k), k.window_s));
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
            // The claim expires shortly after the deadline anyway.
            tracing::debug!(error = %e, "resend claim not released");
        }
        stored
    }

    async fn single_history(
        &self,
        user_id: u32,
        peer_id: u32,
        begin: u32,
        count: u32,
    ) -> StoreResult<Vec<MessageRow>> {
        self.settle_unresolved().await?;
        self.read(
            "history",
            &[Mark::User(user_id)],
            self.sql.single_history(user_id, peer_id, begin, count),
        )
        .await
    }

    async fn group_history(
        &self,
        group_id: u32,
        joined: u32,
        begin: u32,
        count: u32,
    ) -> StoreResult<Vec<MessageRow>> {
        self.settle_unresolved().await?;
        self.read(
            "group history",
            &[Mark::Group(group_id)],
            self.sql.group_history(group_id, joined, begin, count),
        )
        .await
    }

    async fn single_messages_by_id(
        &self,
        user_id: u32,
        peer_id: u32,
        ids: &[u32],
        limit: u32,
    ) -> StoreResult<Vec<MessageRow>> {
        self.settle_unresolved().await?;
        self.read(
            "messages by id",
            &[Mark::User(user_id)],
            self.sql.single_by_ids(user_id, peer_id, ids, limit),
        )
        .await
    }

    async fn group_messages_by_id(
        &self,
        group_id: u32,
        joined: u32,
        ids: &[u32],
        limit: u32,
    ) -> StoreResult<Vec<MessageRow>> {
        self.settle_unresolved().await?;
        self.read(
            "group messages by id",
            &[Mark::Group(group_id)],
            self.sql.group_by_ids(group_id, joined, ids, limit),
        )
        .await
    }

    async fn group_join_time(&self, group_id: u32, user_id: u32) -> StoreResult<Option<u32>> {
        if !bounded("group exists", self.ensure_group(group_id)).await? {
            return Ok(None);
        }
        self.redis.join_time(group_id, user_id).await
    }

    async fn add_audio(&self, audio: AudioRow) -> StoreResult<u32> {
        self.write("add audio", &[], self.sql.add_audio(audio))
            .await
    }

    async fn audio(&self, id: u32) -> StoreResult<Option<AudioRow>> {
        self.read("audio", &[], self.sql.audio(id)).await
    }

    async fn add_unread(&self, user_id: u32, peer_id: u32, n: u32) -> StoreResult<()> {
        self.redis.add_unread(user_id, peer_id, n).await
    }

    async fn clear_unread(&self, user_id: u32, peer_id: u32) -> StoreResult<()> {
        self.redis.clear_unread(user_id, peer_id).await
    }

    async fn unread_counts(&self, user_id: u32) -> StoreResult<Vec<(u32, u32)>> {
        self.redis.unread_counts(user_id).await
    }

    async fn incr_group_total(&self, group_id: u32) -> StoreResult<u32> {
        self.redis.incr_group_total(group_id).await
    }

    async fn mark_group_read(&self, user_id: u32, group_id: u32) -> StoreResult<()> {
        self.redis.mark_group_read(user_id, group_id).await
    }

    async fn group_counter(&self, user_id: u32, group_id: u32) -> StoreResult<Option<(u32, u32)>> {
        self.redis.group_counter(user_id, group_id).await
    }

    async fn group_counters(
        &self,
        user_id: u32,
        group_ids: &[u32],
    ) -> StoreResult<Vec<Option<(u32, u32)>>> {
        self.redis.group_counters(user_id, group_ids).await
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
        bounded("group exists", self.ensure_group(group_id)).await
    }

    async fn is_group_member(&self, group_id: u32, user_id: u32) -> StoreResult<bool> {
        Ok(bounded("group exists", self.ensure_group(group_id)).await?
            && self.redis.is_group_member(group_id, user_id).await?)
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
        if !bounded("group exists", self.ensure_group(group_id)).await? {
            return Ok(Vec::new());
        }
        self.redis.member_ids(group_id).await
    }

    async fn create_group(&self, group: NewGroup, now: u32) -> StoreResult<u32> {
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
        bounded("group exists", self.ensure_group(group_id)).await?;
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
        self.redis.set_sync_cursor(at).await
    }

    async fn set_group_push_shield(
        &self,
        group_id: u32,
        user_id: u32,
        status: u32,
    ) -> StoreResult<()> {
        self.redis
            .set_group_push_shield(group_id, user_id, status)
            .await
    }

    async fn group_push_shields(&self, group_id: u32) -> StoreResult<Vec<(u32, u32)>> {
        self.redis.group_push_shields(group_id).await
    }

    async fn register_device_token(
        &self,
        user_id: u32,
        platform: Platform,
        token: &str,
    ) -> StoreResult<()> {
        self.redis
            .register_device_token(user_id, platform, token)
            .await
    }

    async fn clear_device_token(&self, user_id: u32) -> StoreResult<()> {
        self.redis.clear_device_token(user_id).await
    }

    async fn device_tokens(&self, user_ids: &[u32]) -> StoreResult<Vec<DeviceToken>> {
        self.redis.device_tokens(user_ids).await
    }

    async fn add_offline_file(&self, file: OfflineFile, now: u32) -> StoreResult<()> {
        let (to, from) = (file.to_id, file.from_id);
        self.write(
            "add offline file",
            &[Mark::User(to), Mark::User(from)],
            self.sql.add_offline_file(file, now),
        )
        .await
    }

    async fn offline_files_for(&self, to_id: u32) -> StoreResult<Vec<OfflineFile>> {
        self.read(
            "offline files",
            &[Mark::User(to_id)],
            self.sql.offline_files_for(to_id),
        )
        .await
    }

    async fn delete_offline_file(
        &self,
        from_id: u32,
        to_id: u32,
        task_id: &str,
    ) -> StoreResult<u64> {
        self.write(
            "delete offline file",
            &[Mark::User(to_id), Mark::User(from_id)],
            self.sql.delete_offline_file(from_id, to_id, task_id),
        )
        .await
    }

    async fn shared_throttle_failures(&self, name: &[u8], now: u32) -> StoreResult<Option<u64>> {
        self.redis.throttle_failures(name, now).await.map(Some)
    }

    async fn shared_throttle_failure(&self, name: &[u8], now: u32) -> StoreResult<()> {
        let nonce = self
            .failure_seq
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ^ self.instance_nonce;
        self.redis.throttle_failure(name, now, nonce).await
    }

    async fn shared_throttle_clear(&self, name: &[u8]) -> StoreResult<()> {
        self.redis.throttle_clear(name).await
    }

    async fn sync_lease(&self, ttl_ms: u64) -> StoreResult<bool> {
        self.redis.sync_lease(&self.instance, ttl_ms).await
    }
}

#[async_trait]
impl super::export::Portable for MysqlRedisStore {
    async fn read_rows(
        &self,
        table: &super::export::Table,
        after: i64,
        limit: usize,
    ) -> StoreResult<Vec<super::export::Row>> {
        self.sql.export_rows(table, after, limit).await
    }

    async fn write_rows(
        &self,
        table: &super::export::Table,
        rows: Vec<super::export::Row>,
        replace: bool,
    ) -> StoreResult<()> {
        self.sql.import_rows(table, rows, replace).await
    }

    async fn read_state(&self) -> StoreResult<Vec<super::export::StateItem>> {
        self.redis.export_state().await
    }

    async fn write_state(
        &self,
        items: Vec<super::export::StateItem>,
        groups: &[u32],
    ) -> StoreResult<()> {
        self.redis.import_state(items, groups).await
    }
}

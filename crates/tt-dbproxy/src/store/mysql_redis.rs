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
use super::mysql::{MysqlPools, MysqlStore, schema};
use super::read_your_writes::{Mark, WriteMarks};
use super::redis::{InFlight, RedisStore};
use super::unresolved::Journal;
use super::{
    AudioRow, DepartRecord, DeviceToken, GroupMessageRow, GroupRecord, LastMessage, MessageRow,
    NewGroup, NewMessage, NewUser, OfflineFile, Platform, SESSION_GROUP, SessionRecord,
    SingleMessageRow, Store, StoreError, StoreResult, UserRecord, UserUpdate,
};
use crate::config::Config;
use crate::deadline::bounded;

mod pending;
mod send;

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
    /// Shadow mode: no write on a read path (no repair, no settling, no
    /// recovery); reads answer from what is there.
    read_only: bool,
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
            read_only: false,
        })
    }

    /// The same store with no write on a read path (`shadow`): no
    /// user-list gate set, no group membership rebuilt in Redis, no
    /// unresolved or pending send settled; reads answer from what is there.
    /// Writes are refused.
    pub fn into_read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// The error of a write refused in read-only mode.
    fn refused(&self) -> StoreResult<()> {
        if self.read_only {
            return Err(StoreError::Unavailable(
                "read-only store (shadow): write skipped".into(),
            ));
        }
        Ok(())
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
        self.refused()?;
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

    /// Checks that MySQL (primary) and Redis answer.
    pub async fn probe(&self) -> StoreResult<()> {
        bounded("probe", self.sql.push_shield(0)).await?;
        self.redis.gate().await.map(drop)
    }

    /// Closes the MySQL pools.
    pub async fn close(&self) {
        self.sql.pools().disconnect().await;
    }

    /// Where a group's members are read: `None` from the Redis hash;
    /// otherwise (the hash is missing: a group the PHP admin created, a
    /// flushed Redis) the `IMGroupMember` rows as (member, join time),
    /// written back to Redis unless read-only.
    async fn membership(&self, group_id: u32) -> StoreResult<Option<Vec<(u32, u32)>>> {
        if self.redis.group_hash_exists(group_id).await? {
            return Ok(None);
        }
        let members = self.sql.group_members(group_id).await?;
        if !self.read_only {
            self.redis.add_group_members(group_id, &members).await?;
        }
        Ok(Some(members))
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
        self.refused()?;
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
        self.refused()?;
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
            // A claim without an id expires shortly after the deadline.
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
        match bounded("group members", self.membership(group_id)).await? {
            None => self.redis.join_time(group_id, user_id).await,
            Some(rows) => Ok(rows.iter().find(|(u, _)| *u == user_id).map(|(_, t)| *t)),
        }
    }

    async fn add_audio(&self, audio: AudioRow) -> StoreResult<u32> {
        self.write("add audio", &[], self.sql.add_audio(audio))
            .await
    }

    async fn audio(&self, id: u32) -> StoreResult<Option<AudioRow>> {
        self.read("audio", &[], self.sql.audio(id)).await
    }

    async fn add_unread(&self, user_id: u32, peer_id: u32, n: u32) -> StoreResult<()> {
        self.refused()?;
        self.redis.add_unread(user_id, peer_id, n).await
    }

    async fn clear_unread(&self, user_id: u32, peer_id: u32) -> StoreResult<()> {
        self.refused()?;
        bounded("clear unread", self.clear_unread_resolved(user_id, peer_id)).await
    }

    async fn unread_counts(&self, user_id: u32) -> StoreResult<Vec<(u32, u32)>> {
        self.redis.unread_counts(user_id).await
    }

    async fn incr_group_total(&self, group_id: u32) -> StoreResult<u32> {
        self.refused()?;
        self.redis.incr_group_total(group_id).await
    }

    async fn mark_group_read(&self, user_id: u32, group_id: u32) -> StoreResult<()> {
        self.refused()?;
        bounded(
            "mark group read",
            self.mark_group_read_resolved(user_id, group_id),
        )
        .await
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
        self.refused()?;
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
        self.refused()?;
        self.redis.set_sync_cursor(at).await
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

    async fn register_device_token(
        &self,
        user_id: u32,
        platform: Platform,
        token: &str,
    ) -> StoreResult<()> {
        self.refused()?;
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
        self.refused()?;
        let nonce = self
            .failure_seq
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ^ self.instance_nonce;
        self.redis.throttle_failure(name, now, nonce).await
    }

    async fn shared_throttle_clear(&self, name: &[u8]) -> StoreResult<()> {
        self.refused()?;
        self.redis.throttle_clear(name).await
    }

    async fn sync_lease(&self, ttl_ms: u64) -> StoreResult<bool> {
        self.redis.sync_lease(&self.instance, ttl_ms).await
    }

    async fn recover_pending(&self) -> StoreResult<usize> {
        bounded("recovering pending sends", Self::recover_pending(self)).await
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

    async fn settle_for_export(&self) -> StoreResult<()> {
        Self::recover_pending(self).await?;
        match self.redis.pending_count().await? {
            0 => Ok(()),
            n => Err(StoreError::Unavailable(format!(
                "{n} sends are still being stored (is a server running on this store?); stop the servers and copy again"
            ))),
        }
    }
}

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

use super::mysql::read_at;
use super::mysql::{MysqlPools, MysqlStore, schema};
use super::read_your_writes::{Mark, WriteMarks};
use super::redis::RedisStore;
use super::unresolved::Journal;
use super::{StoreError, StoreResult};
use crate::config::Config;
use crate::deadline::bounded;

mod console;
mod counters;
mod departments;
mod devices;
mod export;
mod files;
mod groups;
mod messages;
mod pending;
mod readiness;
mod send;
mod sessions;
mod shared;
mod sync;
mod users;

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
                config.storage.send_cache_entries,
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

    /// How many conversations' send ids are remembered
    /// (`storage.send_cache_entries` at most).
    pub fn send_cache_len(&self) -> usize {
        self.sql.send_ids().len()
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

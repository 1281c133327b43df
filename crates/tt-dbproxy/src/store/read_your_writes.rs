//! Read-your-writes with lagging replicas, after ProxySQL's GTID causal
//! reads: after a write on the primary, its GTID position is remembered
//! for each user and conversation the write touched (in Redis, shared by
//! every instance, and in a small local cache); a read for a user or
//! conversation may then be served by a replica only once that replica
//! has applied the position ([`ReadAt::After`]), otherwise the primary
//! serves it. When Redis does not answer, reads go to the primary.
//!
//! Every write also moves the mark `all`, which reads that belong to no
//! particular user or conversation (user lists, departments, groups
//! scans) consult. Without replicas none of this runs: no extra round
//! trip on writes or reads.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::mysql::MysqlPools;
use super::mysql::gtid::GtidPos;
use super::mysql::read_at::ReadAt;
use super::redis::RedisStore;
use crate::rate_log::RateLimited;

static MARK_FAILED: RateLimited = RateLimited::new("write position not recorded");

/// Entries of the local cache before it is emptied.
const LOCAL_CAP: usize = 100_000;
/// Most ids of one read looked up one by one; more read at `all`.
const MAX_MARKS: usize = 100;

/// What a write touched, or a read must see the writes of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mark {
    /// A user's messages, sessions, profile, groups, files.
    User(u32),
    /// A group's messages, row and membership.
    Group(u32),
    /// Every write.
    All,
}

impl Mark {
    fn name(self) -> String {
        match self {
            Self::User(id) => format!("u:{id}"),
            Self::Group(id) => format!("g:{id}"),
            Self::All => "all".into(),
        }
    }

    /// The marks of many users (`all` when there are too many to look up).
    pub(crate) fn users(ids: &[u32]) -> Vec<Mark> {
        if ids.len() > MAX_MARKS {
            return vec![Self::All];
        }
        ids.iter().map(|id| Self::User(*id)).collect()
    }

    /// The marks of many groups (`all` when there are too many).
    pub(crate) fn groups(ids: &[u32]) -> Vec<Mark> {
        if ids.len() > MAX_MARKS {
            return vec![Self::All];
        }
        ids.iter().map(|id| Self::Group(*id)).collect()
    }
}

/// The remembered write positions.
pub(crate) struct WriteMarks {
    local: Mutex<HashMap<String, (GtidPos, Instant)>>,
    /// How long a mark is kept, in seconds: longer than any replica may
    /// lag and stay in rotation.
    ttl_s: AtomicU64,
    /// Until when this instance reads from the primary only (a write's
    /// position could not be shared), as ms since `epoch`.
    primary_until_ms: AtomicU64,
    epoch: Instant,
}

/// The mark TTL for a lag limit: twice the limit plus 10 s, at least 60 s.
fn ttl_for(max_lag_s: u64) -> u64 {
    max_lag_s.saturating_mul(2).saturating_add(10).max(60)
}

impl WriteMarks {
    /// Marks kept long enough for replicas allowed `max_lag_s` of lag.
    pub(crate) fn new(max_lag_s: u64) -> Self {
        Self {
            local: Mutex::new(HashMap::new()),
            ttl_s: AtomicU64::new(ttl_for(max_lag_s)),
            primary_until_ms: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    /// Applies a reloaded `mysql.max_replica_lag_s`.
    pub(crate) fn set_max_lag(&self, max_lag_s: u64) {
        self.ttl_s.store(ttl_for(max_lag_s), Ordering::Relaxed);
    }

    fn ttl(&self) -> Duration {
        Duration::from_secs(self.ttl_s.load(Ordering::Relaxed))
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Reads go to the primary for one TTL.
    fn primary_only(&self) {
        let ttl_ms = self.ttl_s.load(Ordering::Relaxed).saturating_mul(1000);
        let until = self.now_ms().saturating_add(ttl_ms);
        self.primary_until_ms.fetch_max(until, Ordering::Relaxed);
    }

    fn remember_locally(&self, names: &[String], pos: &GtidPos) {
        let Ok(mut local) = self.local.lock() else {
            return;
        };
        if local.len() >= LOCAL_CAP {
            let ttl = self.ttl();
            local.retain(|_, (_, at)| at.elapsed() < ttl);
            if local.len() >= LOCAL_CAP {
                local.clear();
            }
        }
        let now = Instant::now();
        for n in names {
            let e = local.entry(n.clone()).or_insert((GtidPos::default(), now));
            e.0.merge(pos);
            e.1 = now;
        }
    }

    fn local_position(&self, names: &[String]) -> GtidPos {
        let mut pos = GtidPos::default();
        let ttl = self.ttl();
        if let Ok(local) = self.local.lock() {
            for n in names {
                if let Some((p, at)) = local.get(n)
                    && at.elapsed() < ttl
                {
                    pos.merge(p);
                }
            }
        }
        pos
    }

    /// After an acknowledged write touching `marks`: records the
    /// primary's position for them (and `all`). If that fails, this
    /// instance reads from the primary for a while.
    pub(crate) async fn wrote(&self, pools: &MysqlPools, redis: &RedisStore, marks: &[Mark]) {
        if !pools.has_replicas() {
            return;
        }
        pools.ensure_poller();
        let pos = match pools.write_position().await {
            Ok(p) => p,
            Err(e) => {
                crate::warn_limited!(MARK_FAILED, error = %e, "the position of a write was not read; reads go to the primary for a while");
                self.primary_only();
                return;
            }
        };
        if pos.is_empty() {
            return;
        }
        let mut names: Vec<String> = marks.iter().map(|m| m.name()).collect();
        names.push(Mark::All.name());
        names.sort_unstable();
        names.dedup();
        self.remember_locally(&names, &pos);
        let ttl = self.ttl_s.load(Ordering::Relaxed);
        if let Err(e) = redis.remember_write(&names, &pos.to_string(), ttl).await {
            crate::warn_limited!(MARK_FAILED, error = %e, "the position of a write was not shared; reads go to the primary for a while");
            self.primary_only();
        }
    }

    /// Where a read that must see the writes touching `marks` may go
    /// (no marks: every write, `all`).
    pub(crate) async fn read_at(
        &self,
        pools: &MysqlPools,
        redis: &RedisStore,
        marks: &[Mark],
    ) -> ReadAt {
        if !pools.has_replicas() {
            return ReadAt::Anywhere;
        }
        if self.now_ms() < self.primary_until_ms.load(Ordering::Relaxed) {
            return ReadAt::Primary;
        }
        let mut names: Vec<String> = if marks.is_empty() {
            vec![Mark::All.name()]
        } else {
            marks.iter().map(|m| m.name()).collect()
        };
        names.sort_unstable();
        names.dedup();
        let mut pos = self.local_position(&names);
        match redis.written_at(&names).await {
            Ok(found) => {
                for text in found.into_iter().flatten() {
                    match GtidPos::parse(&text) {
                        Ok(p) => pos.merge(&p),
                        Err(_) => return ReadAt::Primary,
                    }
                }
            }
            Err(_) => return ReadAt::Primary,
        }
        if pos.is_empty() {
            ReadAt::Anywhere
        } else {
            ReadAt::After(pos)
        }
    }
}

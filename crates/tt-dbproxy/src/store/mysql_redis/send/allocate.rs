//! Step 2 of a send: the message id, allocated in one Redis round trip
//! together with the resend check and the send's pending entry (a resend
//! gets the stored message's id instead); the counter is seeded from
//! MySQL's largest stored id when missing, and in Sentinel mode raised
//! once per master epoch (the failover guard).

use crate::deadline::bounded;
use crate::store::mysql_redis::MysqlRedisStore;
use crate::store::redis::{Allocation, InFlight, RedisStore, SendRecord};
use crate::store::{StoreError, StoreResult};

/// Extra time a pending entry is held past its request's deadline before
/// another request may resolve it: by then the send's own request has
/// answered or its process is gone.
const HOLD_MARGIN_MS: u64 = 1_000;

/// A send's id: a new one (held in flight, in Sentinel mode, until the
/// send ends; see [`InFlight`]), or the stored message's it resends.
pub(super) enum NextId<'a> {
    /// A new id.
    New(u32, Option<InFlight<'a>>),
    /// The id the resent message was stored with.
    Resent(u32),
}

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

    /// In Sentinel mode, the failover guard of [`InFlight`]'s
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
}

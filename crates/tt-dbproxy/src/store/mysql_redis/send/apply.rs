//! Step 5 of a send, after its commit: the pending entry applied — the
//! unread counter or group total raised and the resend remembered, once,
//! whoever applies it (this request, or after a crash a resend, a read
//! ack or the recovery pass: `store/mysql_redis/pending.rs`).

use crate::rate_log::RateLimited;
use crate::store::mysql_redis::MysqlRedisStore;
use crate::store::redis::SendRecord;

static COUNTER_MISSED: RateLimited = RateLimited::new("counter not raised");

impl MysqlRedisStore {
    /// After the commit: the counters and the resend memory, from the
    /// pending entry (once, whoever applies it).
    pub(super) async fn apply_counters(&self, record: &SendRecord) {
        if let Err(e) = self.redis.apply_pending(record).await {
            crate::warn_limited!(COUNTER_MISSED, error = %e, group = record.group, to = record.to, msg_id = record.msg_id, "message stored; its counters are applied once Redis answers (pending)");
        }
    }
}

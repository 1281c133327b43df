//! What tt-dbproxy knows of each read replica's replication: its lag
//! (`Seconds_Behind_Master`, polled every [`POLL_INTERVAL`]), whether it
//! is in rotation (replicating, and at most `mysql.max_replica_lag_s`
//! behind), and the newest GTID position it is known to have applied.
//! [`ReplicaState::caught_up`] decides whether a read that must see a
//! write (a GTID position) may be served there.
//!
//! A configured "replica" that is not replicating (`SHOW SLAVE STATUS`
//! has no row: the primary itself, or a cluster node) counts as caught up
//! on lag; whether it has a write is checked on its `@@gtid_current_pos`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use mysql_async::Row;
use mysql_async::prelude::Queryable;

use super::error::map_err;
use super::gtid::GtidPos;
use crate::store::{StoreError, StoreResult};

/// How often each replica's status is polled.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// The longest wait on a replica for a write it has not applied yet
/// (`MASTER_GTID_WAIT`'s timeout) before the read goes to the primary.
pub const GTID_WAIT: Duration = Duration::from_millis(25);

/// The lag gauge's value while the lag is unknown: the SQL thread is
/// stopped (`Seconds_Behind_Master` is NULL) or the replica is unreachable.
pub const LAG_UNKNOWN: i64 = -1;

/// One replica's replication, as last seen.
pub struct ReplicaState {
    name: String,
    /// Seconds behind the primary, or [`LAG_UNKNOWN`].
    lag: AtomicI64,
    in_rotation: AtomicBool,
    /// Whether `SHOW SLAVE STATUS` had a row at the last poll.
    replicating: AtomicBool,
    /// A position the replica is known to have applied.
    applied: Mutex<GtidPos>,
}

/// What one poll found.
struct Status {
    /// `None`: not a replica (no slave status row).
    lag: Option<Option<i64>>,
    position: GtidPos,
}

impl ReplicaState {
    /// State of a new replica endpoint: in rotation until the first poll
    /// says otherwise (reads that must see a write are checked anyway).
    pub fn new(name: &str) -> Self {
        Self {
            name: name.to_string(),
            lag: AtomicI64::new(0),
            in_rotation: AtomicBool::new(true),
            replicating: AtomicBool::new(true),
            applied: Mutex::new(GtidPos::default()),
        }
    }

    /// Whether reads may go there.
    pub fn in_rotation(&self) -> bool {
        self.in_rotation.load(Ordering::Relaxed)
    }

    /// Seconds behind the primary, or [`LAG_UNKNOWN`].
    pub fn lag(&self) -> i64 {
        self.lag.load(Ordering::Relaxed)
    }

    fn applied(&self) -> GtidPos {
        self.applied.lock().map(|p| p.clone()).unwrap_or_default()
    }

    fn note_applied(&self, pos: &GtidPos) {
        if let Ok(mut p) = self.applied.lock() {
            p.merge(pos);
        }
    }

    fn publish(&self, lag: i64, in_rotation: bool) {
        let was = self.in_rotation.swap(in_rotation, Ordering::Relaxed);
        self.lag.store(lag, Ordering::Relaxed);
        if was != in_rotation {
            tracing::info!(replica = %self.name, lag, in_rotation, "replica rotation changed");
        }
        let name = self.name.clone();
        metrics::gauge!(crate::metrics::REPLICA_LAG, "replica" => name.clone()).set(lag as f64);
        metrics::gauge!(crate::metrics::REPLICA_IN_ROTATION, "replica" => name)
            .set(if in_rotation { 1.0 } else { 0.0 });
    }

    /// The replica could not be polled: out of rotation, lag unknown.
    pub fn unreachable(&self) {
        self.publish(LAG_UNKNOWN, false);
    }

    /// Polls the replica's status on `c` and updates lag and rotation.
    pub async fn poll(&self, c: &mut mysql_async::Conn, max_lag_s: u64) -> StoreResult<()> {
        let status = read_status(c).await?;
        self.note_applied(&status.position);
        let (lag, in_rotation) = match status.lag {
            None => {
                self.replicating.store(false, Ordering::Relaxed);
                (0, true)
            }
            Some(lag) => {
                self.replicating.store(true, Ordering::Relaxed);
                match lag {
                    Some(l) => (l, u64::try_from(l).is_ok_and(|l| l <= max_lag_s)),
                    None => (LAG_UNKNOWN, false),
                }
            }
        };
        self.publish(lag, in_rotation);
        Ok(())
    }

    /// Whether the replica on `c` has applied `pos`: known from an
    /// earlier check or poll (no round trip), else `MASTER_GTID_WAIT` for
    /// at most [`GTID_WAIT`] (a server that is not replicating: its
    /// current position).
    pub async fn caught_up(&self, c: &mut mysql_async::Conn, pos: &GtidPos) -> StoreResult<bool> {
        if self.applied().covers(pos) {
            return Ok(true);
        }
        let ok = if self.replicating.load(Ordering::Relaxed) {
            let got: Option<Option<i64>> = c
                .exec_first(
                    "SELECT MASTER_GTID_WAIT(?, ?)",
                    (pos.to_string(), GTID_WAIT.as_secs_f64()),
                )
                .await
                .map_err(map_err)?;
            got.flatten() == Some(0)
        } else {
            current_position(c).await?.covers(pos)
        };
        if ok {
            self.note_applied(pos);
        }
        Ok(ok)
    }
}

async fn current_position(c: &mut mysql_async::Conn) -> StoreResult<GtidPos> {
    let text: Option<Option<String>> = c
        .query_first("SELECT @@gtid_current_pos")
        .await
        .map_err(map_err)?;
    GtidPos::parse(&text.flatten().unwrap_or_default())
        .map_err(|e| StoreError::InvalidData(e.to_string()))
}

/// The primary's binlog position after a write: covers every
/// transaction committed so far, the caller's included.
pub async fn binlog_position(c: &mut mysql_async::Conn) -> StoreResult<GtidPos> {
    let text: Option<Option<String>> = c
        .query_first("SELECT @@gtid_binlog_pos")
        .await
        .map_err(map_err)?;
    GtidPos::parse(&text.flatten().unwrap_or_default())
        .map_err(|e| StoreError::InvalidData(e.to_string()))
}

async fn read_status(c: &mut mysql_async::Conn) -> StoreResult<Status> {
    let row: Option<Row> = c.query_first("SHOW SLAVE STATUS").await.map_err(map_err)?;
    let lag = row.map(|mut r| {
        r.take_opt::<Option<i64>, _>("Seconds_Behind_Master")
            .and_then(Result::ok)
            .flatten()
    });
    Ok(Status {
        lag,
        position: current_position(c).await?,
    })
}

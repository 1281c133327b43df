//! The sync center (messages spec §5): every few seconds, groups that
//! chatted since the last cycle get their members' recent sessions moved
//! up (or created), which is how a group conversation reaches members
//! other than the sender.
//!
//! Fixed against the original: the stored cursor is used at start-up (the
//! original ignored it), the next cursor is taken before the scan, and it
//! only advances when the scan succeeded.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::state::AppState;
use crate::store::StoreResult;

static CYCLE_FAILED: crate::rate_log::RateLimited =
    crate::rate_log::RateLimited::new("sync center cycle failed");
/// Time between cycles.
pub const SYNC_INTERVAL: Duration = Duration::from_secs(5);

/// The cursor to start from: the stored one, else now (stored).
pub async fn initial_cursor(state: &AppState) -> u32 {
    match state.sync_steps().group_sync_cursor().await {
        Ok(Some(c)) => c,
        other => {
            if let Err(e) = &other {
                warn!(error = %e, "sync center: cannot read its cursor; starting from now");
            }
            let now = state.clock.now_secs();
            if let Err(e) = state.sync_steps().set_group_sync_cursor(now).await {
                warn!(error = %e, "sync center: cannot store its cursor");
            }
            now
        }
    }
}

/// One cycle from `cursor`; on success returns the next cursor (taken
/// before the scan, so nothing stored during the scan is skipped).
pub async fn cycle(state: &AppState, cursor: u32) -> StoreResult<u32> {
    let (steps, groups_store) = (state.sync_steps(), state.groups());
    let next = state.clock.now_secs();
    let groups = steps.groups_chatted_since(cursor).await?;
    for (group, last_chated) in &groups {
        let members = match groups_store.group_members(*group).await {
            Ok(m) => m,
            Err(e) => {
                warn!(error = %e, group, "sync center: members unavailable; group retried next cycle");
                return Err(e);
            }
        };
        for user in members {
            steps
                .touch_group_session(user, *group, *last_chated, next)
                .await?;
        }
    }
    steps.set_group_sync_cursor(next).await?;
    debug!(groups = groups.len(), cursor = next, "sync center cycle");
    Ok(next)
}

/// How long a sync lease lasts: a holder that stops (crash, kill) is
/// replaced within this, and renewing every cycle keeps it held.
pub const LEASE_MS: u64 = 2 * SYNC_INTERVAL.as_millis() as u64;

/// Runs cycles until `shutdown` is cancelled; errors are logged and the
/// cursor stays put so the window is retried. With several instances on
/// one backend only the holder of the sync lease runs a cycle, from the
/// stored cursor (another instance may have moved it).
pub async fn run(state: Arc<AppState>, shutdown: CancellationToken) {
    let mut cursor = initial_cursor(&state).await;
    info!(cursor, "sync center started");
    let mut held = false;
    loop {
        let result = match state.shared().sync_lease(LEASE_MS).await {
            Ok(true) => {
                if !held {
                    // Taking over: start where the last holder stopped.
                    if let Ok(Some(stored)) = state.sync_steps().group_sync_cursor().await {
                        cursor = stored;
                    }
                    held = true;
                }
                match cycle(&state, cursor).await {
                    Ok(next) => {
                        cursor = next;
                        "ok"
                    }
                    Err(e) => {
                        crate::warn_limited!(CYCLE_FAILED, error = %e, cursor, "sync center cycle failed; cursor kept");
                        "failed"
                    }
                }
            }
            Ok(false) => {
                held = false;
                "skipped"
            }
            Err(e) => {
                held = false;
                crate::warn_limited!(CYCLE_FAILED, error = %e, "sync center: lease unavailable; cycle skipped");
                "failed"
            }
        };
        metrics::counter!(crate::metrics::SYNC_CYCLES, "result" => result).increment(1);
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(SYNC_INTERVAL) => {}
        }
    }
    info!("sync center stopped");
}

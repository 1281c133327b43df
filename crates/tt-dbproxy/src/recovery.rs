//! The recovery pass of pending sends (see
//! [`crate::store::Store::recover_pending`]): at start-up, then every
//! [`INTERVAL`], each serving instance counts what a killed process or a
//! failed backend left between a commit and its counters. Several
//! instances may run it at once: an entry is applied at most once.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::rate_log::RateLimited;
use crate::state::AppState;

/// Time between passes.
pub const INTERVAL: Duration = Duration::from_secs(1);

static PASS_FAILED: RateLimited = RateLimited::new("recovery pass failed");

/// Runs passes until `shutdown` is cancelled; a failed pass is logged and
/// retried at the next.
pub async fn run(state: Arc<AppState>, shutdown: CancellationToken) {
    loop {
        match state.readiness().recover_pending().await {
            Ok(0) => {}
            Ok(n) => {
                info!(
                    count = n,
                    "pending sends recovered: stored before a crash or a backend failure, now counted"
                );
                metrics::counter!(crate::metrics::SENDS_RECOVERED).increment(n as u64);
            }
            Err(e) => {
                crate::warn_limited!(PASS_FAILED, error = %e, "recovery of pending sends failed; retried");
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(INTERVAL) => {}
        }
    }
}

//! Reloading the configuration while serving (SIGHUP, `POST /reload`).
//!
//! The file is read again the way start-up read it (same source, same
//! `TT_DBPROXY_*` environment, which therefore still wins). An invalid file
//! is refused and the running configuration kept; otherwise the keys the
//! registry marks reloadable take their new values (log filter, limits,
//! timers, pool sizes, replica list) and every other change is logged as
//! needing a restart.

use serde::Serialize;
use tracing::{info, warn};

use crate::config;
use crate::config::merge::merge;
use crate::state::AppState;

/// Why a reload changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    /// The server was built without a configuration source (tests).
    #[error("reloading is not enabled for this server")]
    Disabled,
    /// The file cannot be read or is invalid.
    #[error("{0}")]
    Invalid(#[from] config::ConfigError),
    /// A new value was valid but could not be put into effect.
    #[error("cannot apply {key}: {reason}")]
    Apply {
        /// The key.
        key: &'static str,
        /// Why.
        reason: String,
    },
}

/// What a successful reload did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReloadOutcome {
    /// Keys that took their new values.
    pub applied: Vec<&'static str>,
    /// Keys that changed in the file but keep their running values until a
    /// restart.
    pub need_restart: Vec<&'static str>,
}

/// Re-reads the configuration and applies what can change live. A file
/// that cannot be read or is invalid changes nothing; a value that cannot
/// be put into effect is reported with its key (the running configuration
/// is then not replaced). The reason is logged and returned.
pub async fn reload(state: &AppState) -> Result<ReloadOutcome, ReloadError> {
    let result = try_reload(state).await;
    let outcome = if result.is_ok() { "ok" } else { "refused" };
    metrics::counter!(crate::metrics::RELOADS, "result" => outcome).increment(1);
    match &result {
        Ok(o) => {
            info!(applied = ?o.applied, "configuration reloaded");
            for key in &o.need_restart {
                warn!(
                    key,
                    "changed in the configuration but needs a restart; keeping the running value"
                );
            }
        }
        Err(e) => {
            // One log line, even for a list of problems.
            let reason: Vec<String> = e
                .to_string()
                .lines()
                .map(|l| l.trim().to_string())
                .collect();
            warn!(reason = %reason.join(" "), "reload refused; keeping the running configuration");
        }
    }
    result
}

async fn try_reload(state: &AppState) -> Result<ReloadOutcome, ReloadError> {
    let source = state.reload_source().ok_or(ReloadError::Disabled)?;
    let _guard = source.one_at_a_time.lock().await;
    let from = source.source.clone();
    let loaded = tokio::task::spawn_blocking(move || config::load(&from, &config::process_env))
        .await
        .map_err(|e| ReloadError::Apply {
            key: "(file)",
            reason: e.to_string(),
        })??;
    let merged = merge(&state.config(), &loaded);
    state
        .store
        .reconfigure(&merged.config)
        .await
        .map_err(|e| ReloadError::Apply {
            key: "storage",
            reason: e.to_string(),
        })?;
    if merged.applied.contains(&"log.level")
        && let Some(log) = &source.log
    {
        log.set(&merged.config.log.level)
            .map_err(|reason| ReloadError::Apply {
                key: "log.level",
                reason,
            })?;
    }
    state.replace_config(merged.config);
    Ok(ReloadOutcome {
        applied: merged.applied,
        need_restart: merged.need_restart,
    })
}

//! How a failed storage call is reported: counted by kind and logged, then
//! turned into "no value" for the caller to answer the way its spec answers
//! "database unavailable or query failed". Used by the handlers and by the
//! media client alike, so it lives with the store rather than above it.

use tracing::warn;

use super::StoreResult;

/// Logs a storage failure and turns the result into an `Option`.
pub fn logged<T>(what: &str, result: StoreResult<T>) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(e) => {
            metrics::counter!(crate::metrics::STORE_ERRORS, "kind" => e.kind()).increment(1);
            warn!(error = %e, kind = e.kind(), "{what}: storage failed");
            None
        }
    }
}

//! How a failed storage call is reported: counted by kind and logged, then
//! turned into "no value" for the caller to answer the way its spec answers
//! "database unavailable or query failed". Used by the handlers and by the
//! media client alike, so it lives with the store rather than above it.

use super::{StoreError, StoreResult};
use crate::rate_log::RateLimited;

static UNAVAILABLE: RateLimited = RateLimited::new("storage failed: unavailable");
static QUERY: RateLimited = RateLimited::new("storage failed: query");
static CONFLICT: RateLimited = RateLimited::new("storage failed: conflict");
static INVALID_DATA: RateLimited = RateLimited::new("storage failed: invalid data");
static DEADLINE: RateLimited = RateLimited::new("storage failed: deadline");
static INJECTED: RateLimited = RateLimited::new("storage failed: injected");

/// Registers the store error counter's series at zero, one per kind a real
/// backend reports.
pub fn register_zero_metrics() {
    for kind in super::StoreError::KINDS {
        metrics::counter!(crate::metrics::STORE_ERRORS, "kind" => kind).absolute(0);
    }
}

/// The log limit of one kind of failure: an outage fails every request the
/// same way, and one line a second says so as well as thousands would.
fn limit(e: &StoreError) -> &'static RateLimited {
    match e {
        StoreError::Unavailable(_) => &UNAVAILABLE,
        StoreError::Query(_) => &QUERY,
        StoreError::Conflict(_) => &CONFLICT,
        StoreError::InvalidData(_) => &INVALID_DATA,
        StoreError::Deadline(_) => &DEADLINE,
        StoreError::Injected(_) => &INJECTED,
    }
}

/// Logs a storage failure (a warning at most once a second per kind, the
/// others at debug level; the metric counts every one) and turns the
/// result into an `Option`.
pub fn logged<T>(what: &str, result: StoreResult<T>) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(e) => {
            metrics::counter!(crate::metrics::STORE_ERRORS, "kind" => e.kind()).increment(1);
            let logged = crate::warn_limited!(limit(&e), error = %e, kind = e.kind(), "{what}: storage failed");
            if !logged {
                // Every failure at debug level: a flood of one cause must
                // not hide another of the same kind from an operator
                // (or a test) looking closer.
                tracing::debug!(error = %e, kind = e.kind(), "{what}: storage failed");
            }
            None
        }
    }
}

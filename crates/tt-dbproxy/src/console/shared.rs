//! What every console page shares: [`Console`] (the server's state, the
//! http_msg_server client, the status figures) and the form helpers.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tracing::warn;

use super::html::Notice;
use super::msg_server::MsgServer;
use super::stats::Series;
use crate::state::AppState;
use crate::store::{AuditEntry, StoreError};

/// A submitted form's fields.
pub type Fields = HashMap<String, String>;

/// What every console handler shares.
pub struct Console {
    /// The server's state (store, clock, configuration).
    pub app: Arc<AppState>,
    /// Whether cookies are `Secure` (the console serves TLS).
    pub secure_cookies: bool,
    /// http_msg_server, when configured.
    pub msg_server: Option<MsgServer>,
    /// The status figures of the last minutes.
    pub stats: Arc<Series>,
}

impl Console {
    /// Records an audit entry (now); a failure to record is logged.
    pub async fn audit(&self, mut entry: AuditEntry) {
        entry.at = self.app.clock.now_secs();
        if let Err(e) = self.app.store.add_audit(entry).await {
            warn!(error = %e, "console: the audit entry was not recorded");
        }
    }
}

/// The page of a storage failure (503).
pub fn unavailable(e: &StoreError) -> Response {
    warn!(error = %e, "console: storage failed");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        format!("storage unavailable: {e}\n"),
    )
        .into_response()
}

/// A field of a form, trimmed ("" when missing).
pub fn field<'a>(form: &'a Fields, name: &str) -> &'a str {
    form.get(name).map_or("", |v| v.trim())
}

/// The notice a redirect left in the query (`done=` or `error=`).
pub fn notices(q: &Fields) -> Vec<Notice> {
    match (field(q, "done"), field(q, "error")) {
        ("", "") => vec![],
        (d, "") => vec![Notice::Done(d.into())],
        (_, e) => vec![Notice::Error(e.into())],
    }
}

/// A whole number field, or why it is refused.
pub fn number(form: &Fields, name: &str, label: &str) -> Result<u32, String> {
    let v = field(form, name);
    if v.is_empty() {
        return Ok(0);
    }
    v.parse()
        .map_err(|_| format!("{label} must be a whole number from 0 to 4294967295"))
}

/// Refuses text longer than `max` characters (the column's length).
pub fn check_len(value: &str, max: usize, label: &str) -> Result<(), String> {
    if value.chars().count() > max {
        return Err(format!("{label} is longer than {max} characters"));
    }
    Ok(())
}

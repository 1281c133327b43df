//! The status page (charts drawn by `console.js` from
//! `/console/api/stats`), the running configuration without secrets, and
//! the audit log.

use std::fmt::Write;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};

use super::html::{esc, page};
use super::session::Signed;
use super::shared::{Console, Fields, field, unavailable};

/// Audit entries per page.
const AUDIT_PAGE: u32 = 100;

/// The charts: (id, title, the point's field).
const CHARTS: &[(&str, &str, &str)] = &[
    ("chart-connections", "Connections", "connections"),
    ("chart-rps", "Requests per second", "rps"),
    ("chart-p99", "Slowest command p99 (ms)", "p99_ms"),
    ("chart-errors", "Storage errors per second", "errors_per_s"),
    ("chart-pool", "Pool connections in use", "pool_in_use"),
    ("chart-lag", "Replica lag (s)", "replica_lag"),
];

/// `GET /console/`: live status.
pub async fn dashboard(State(console): State<Arc<Console>>, signed: Signed) -> Response {
    let app = &console.app;
    let ready =
        match tokio::time::timeout(std::time::Duration::from_secs(2), app.store.ready()).await {
            Ok(Ok(())) => "ready".to_string(),
            Ok(Err(e)) => format!("not ready: {e}"),
            Err(_) => "not ready: the backends did not answer in time".into(),
        };
    let mut b = format!(
        r#"<p id="summary">Version {} · up {} s · {} open connection(s) · backend {:?} · <span id="ready">{}</span></p><div class="charts">"#,
        env!("CARGO_PKG_VERSION"),
        app.stats.started.elapsed().as_secs(),
        app.stats.open_connections(),
        app.config().storage.backend,
        esc(&ready),
    );
    for (id, title, key) in CHARTS {
        let _ = write!(
            b,
            r#"<figure class="chart"><figcaption>{title} <span class="last" id="{id}-last"></span></figcaption><svg id="{id}" data-key="{key}" viewBox="0 0 300 100" preserveAspectRatio="none" role="img" aria-label="{title}"></svg></figure>"#
        );
    }
    b.push_str(
        r#"</div><h2>Per command, last interval</h2><table id="commands"><thead><tr><th>command</th><th>requests/s</th><th>p50 ms</th><th>p99 ms</th></tr></thead><tbody></tbody></table><p class="muted">A point every 2 s from the figures <code>/metrics</code> exports, the last 10 minutes; <span id="points">0</span> point(s) so far.</p>"#,
    );
    page("Status", &signed.frame(), &[], &b)
}

/// `GET /console/api/stats`: the points as JSON.
pub async fn stats_json(State(console): State<Arc<Console>>, _signed: Signed) -> Response {
    axum::Json(serde_json::json!({ "points": console.stats.points() })).into_response()
}

/// `GET /console/config`: the running configuration, secrets masked.
pub async fn config(State(console): State<Arc<Console>>, signed: Signed) -> Response {
    let shown = console.app.config().show();
    let mut b = String::from(r#"<table id="config"><tbody>"#);
    for part in shown.split(' ') {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let _ = write!(b, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
    }
    b.push_str("</tbody></table>");
    page("Configuration", &signed.frame(), &[], &b)
}

/// `GET /console/audit?page=`: the audit log, newest first.
pub async fn audit(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Query(q): Query<Fields>,
) -> Response {
    let page_no: u32 = field(&q, "page").parse().unwrap_or(0);
    let entries = match console
        .app
        .store
        .audit_log(page_no.saturating_mul(AUDIT_PAGE), AUDIT_PAGE)
        .await
    {
        Ok(e) => e,
        Err(e) => return unavailable(&e),
    };
    let mut b = String::from(
        r#"<table id="audit"><thead><tr><th>when (UTC)</th><th>who</th><th>from</th><th>what</th></tr></thead><tbody>"#,
    );
    for e in &entries {
        let _ = write!(
            b,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            super::html::time(e.at),
            esc(&e.who),
            esc(&e.from),
            esc(&e.what)
        );
    }
    b.push_str("</tbody></table><p class=\"pager\">");
    if page_no > 0 {
        let _ = write!(
            b,
            r#"<a href="/console/audit?page={}">« newer</a> "#,
            page_no - 1
        );
    }
    if u32::try_from(entries.len()).unwrap_or(0) == AUDIT_PAGE {
        let _ = write!(
            b,
            r#"<a href="/console/audit?page={}">older »</a>"#,
            page_no + 1
        );
    }
    b.push_str("</p>");
    page("Audit log", &signed.frame(), &[], &b)
}

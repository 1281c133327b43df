//! The admin HTTP endpoint (default `127.0.0.1:10601`): `/metrics`
//! (Prometheus text), `/healthz` (the process answers), `/readyz` (the
//! storage backends answer; 503 otherwise), `/status` (JSON: version,
//! uptime, open connections, configuration without secrets) and
//! `POST /reload` (what SIGHUP does; JSON answer, 400 with the reason when
//! the file is refused). The web console joins them when it is on and
//! has no listener of its own ([`crate::console`]).

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use crate::state::AppState;

/// The admin routes over `state`.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/status", get(status))
        .route("/reload", post(reload))
        .route("/shadow", get(shadow))
        .with_state(state)
}

/// Serves the admin routes until `shutdown` is cancelled, probing the
/// backends for the readiness gauge meanwhile. With `console.enabled` and
/// no `console.listen` of its own, the web console is served here too
/// (`/console/`; 404 otherwise). Writes whose `Origin` is another site
/// are refused.
pub async fn serve(listener: TcpListener, state: Arc<AppState>, shutdown: CancellationToken) {
    crate::metrics::install();
    tokio::spawn(probe_readiness(state.clone(), shutdown.clone()));
    let mut app = router(state.clone());
    if state.config().console.listen.is_none()
        && let Some(console) = crate::console::router(state, false, &shutdown).await
    {
        app = app.merge(console);
    }
    let app = app
        .layer(axum::middleware::from_fn(
            crate::console::session::origin_guard,
        ))
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    if let Err(e) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
    {
        warn!(error = %e, "admin endpoint stopped");
    }
}

async fn metrics() -> Response {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        crate::metrics::render(),
    )
        .into_response()
}

/// Whether the backends answer within the probe interval; sets the
/// readiness gauge.
async fn check_ready(state: &AppState) -> Result<(), String> {
    let outcome = match tokio::time::timeout(
        crate::metrics::READY_PROBE_INTERVAL,
        state.readiness().ready(),
    )
    .await
    {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(_) => Err("the storage backends did not answer in time".into()),
    };
    metrics::gauge!(crate::metrics::BACKEND_READY).set(if outcome.is_ok() { 1.0 } else { 0.0 });
    outcome
}

/// Keeps `tt_dbproxy_backend_ready` current until `shutdown`.
async fn probe_readiness(state: Arc<AppState>, shutdown: CancellationToken) {
    loop {
        let _ = check_ready(&state).await;
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(crate::metrics::READY_PROBE_INTERVAL) => {}
        }
    }
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    match check_ready(&state).await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}\n")).into_response(),
    }
}

/// The findings of `tt-dbproxy shadow` (404 when this process serves).
async fn shadow() -> Response {
    match crate::shadow::stats() {
        Some(s) => axum::Json(s.summary()).into_response(),
        None => (StatusCode::NOT_FOUND, "not a shadow\n").into_response(),
    }
}

async fn status(State(state): State<Arc<AppState>>) -> Response {
    let body = serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "uptime_secs": state.stats.started.elapsed().as_secs(),
        "connections": state.stats.open_connections(),
        "backend": format!("{:?}", state.config().storage.backend),
        "config": state.config().show(),
    });
    axum::Json(body).into_response()
}

async fn reload(State(state): State<Arc<AppState>>) -> Response {
    match crate::reload::reload(&state).await {
        Ok(outcome) => axum::Json(outcome).into_response(),
        Err(e) => {
            let code = match e {
                crate::reload::ReloadError::Disabled => StatusCode::NOT_FOUND,
                _ => StatusCode::BAD_REQUEST,
            };
            (
                code,
                axum::Json(serde_json::json!({ "error": e.to_string() })),
            )
                .into_response()
        }
    }
}

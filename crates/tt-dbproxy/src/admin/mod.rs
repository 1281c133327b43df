//! The admin HTTP endpoint (default `127.0.0.1:10601`): `/metrics`
//! (Prometheus text), `/healthz` (the process answers), `/readyz` (the
//! storage backends answer; 503 otherwise), `/status` (JSON: version,
//! uptime, open connections, configuration without secrets) and
//! `POST /reload` (what SIGHUP does; JSON answer, 400 with the reason when
//! the file is refused).

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
        .with_state(state)
}

/// Serves the admin routes until `shutdown` is cancelled.
pub async fn serve(listener: TcpListener, state: Arc<AppState>, shutdown: CancellationToken) {
    crate::metrics::install();
    if let Err(e) = axum::serve(listener, router(state))
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

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    match state.store.ready().await {
        Ok(()) => (StatusCode::OK, "ready\n").into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}\n")).into_response(),
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

//! The web console under `/console/`: TeamTalk's PHP admin in the binary.
//! Users, departments, groups, discovery items, console accounts, the
//! audit log, live status and the running configuration, read and
//! written through the storage interface on either backend.
//!
//! Secure by default: off unless `console.enabled`; on the admin listener
//! (loopback) unless `console.listen` says otherwise, and then only with
//! TLS off loopback; sessions in the store behind HttpOnly SameSite=Strict
//! cookies; a CSRF token on every form; the `Host` checked (DNS
//! rebinding) and foreign `Origin`s refused; failed sign-ins throttled per
//! account and per address; every change in the audit log. Pages are
//! rendered on the server with every value escaped; the only script
//! draws the status charts.

mod accounts;
mod assets;
pub mod auth;
mod departs;
pub mod discovery;
mod groups;
pub mod html;
pub mod msg_server;
pub mod session;
mod shared;
mod signin;
mod stats;
mod status;
mod users;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use tokio_util::sync::CancellationToken;
use tracing::warn;

pub use shared::{Console, Fields};

use crate::state::AppState;

/// The console's routes (all under `/console`), or `None` when
/// `console.enabled` is off. Starts the status sampler until `shutdown`.
pub async fn router(
    app: Arc<AppState>,
    secure_cookies: bool,
    shutdown: &CancellationToken,
) -> Option<Router> {
    let config = app.config();
    if !config.console.enabled {
        return None;
    }
    if let Err(e) = app.store.prepare_console().await {
        warn!(error = %e, "console: its tables could not be prepared (retried on use)");
    }
    let msg_server =
        config.console.http_msg_server.as_ref().map(|url| {
            msg_server::MsgServer::new(url, config.console.http_msg_server_app_key.clone())
        });
    let stats = Arc::new(stats::Series::default());
    tokio::spawn(stats::sample(stats.clone(), shutdown.clone()));
    let console = Arc::new(Console {
        app,
        secure_cookies,
        msg_server,
        stats,
    });
    Some(
        Router::new()
            .route(
                "/console",
                get(|| async { session::redirect("/console/", Vec::new()) }),
            )
            .route("/console/", get(status::dashboard))
            .route("/console/api/stats", get(status::stats_json))
            .route("/console/config", get(status::config))
            .route("/console/audit", get(status::audit))
            .route("/console/assets/{name}", get(assets::serve))
            .route("/console/login", get(signin::form).post(signin::submit))
            .route("/console/logout", post(signin::logout))
            .route(
                "/console/password",
                get(signin::password_form).post(signin::password_submit),
            )
            .route("/console/users", get(users::list).post(users::add))
            .route(
                "/console/users/{id}",
                get(users::edit_form).post(users::edit),
            )
            .route("/console/users/{id}/password", post(users::reset_password))
            .route("/console/departs", get(departs::list).post(departs::add))
            .route(
                "/console/departs/{id}",
                get(departs::edit_form).post(departs::edit),
            )
            .route("/console/departs/{id}/delete", post(departs::delete))
            .route("/console/groups", get(groups::list).post(groups::create))
            .route("/console/groups/{id}", get(groups::show).post(groups::edit))
            .route("/console/groups/{id}/members", post(groups::members))
            .route(
                "/console/discovery",
                get(discovery::list).post(discovery::add),
            )
            .route(
                "/console/discovery/{id}",
                get(discovery::edit_form).post(discovery::edit),
            )
            .route("/console/discovery/{id}/delete", post(discovery::delete))
            .route("/console/accounts", get(accounts::list).post(accounts::add))
            .route("/console/accounts/{id}/status", post(accounts::set_status))
            .layer(axum::middleware::from_fn_with_state(
                console.clone(),
                session::host_guard,
            ))
            .with_state(console),
    )
}

/// Why the console's own listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// The certificate or key could not be read.
    #[error("console TLS: {0}")]
    Tls(String),
    /// The address could not be bound.
    #[error("console listener {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// Serves the console on its own listener (`console.listen`), with TLS
/// when `console.tls_cert`/`console.tls_key` are set, until `shutdown`.
/// Returns once it is listening; the address it listens on is returned.
pub async fn serve_own(
    app: Arc<AppState>,
    addr: SocketAddr,
    shutdown: CancellationToken,
) -> Result<SocketAddr, ListenError> {
    let config = app.config();
    if config.console.tls() {
        // ring: no C toolchain beyond a compiler, no cmake. (Deprecated in
        // favour of aws-lc-rs for post-quantum key exchange.)
        #[allow(deprecated)]
        let provider = rustls::crypto::ring::default_provider();
        let _ = provider.install_default();
    }
    let tls = match (&config.console.tls_cert, &config.console.tls_key) {
        (Some(cert), Some(key)) => Some(
            axum_server::tls_rustls::RustlsConfig::from_pem_file(cert, key)
                .await
                .map_err(|e| ListenError::Tls(e.to_string()))?,
        ),
        _ => None,
    };
    let listener =
        std::net::TcpListener::bind(addr).map_err(|source| ListenError::Bind { addr, source })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| ListenError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| ListenError::Bind { addr, source })?;
    let Some(router) = router(app, tls.is_some(), &shutdown).await else {
        return Ok(local);
    };
    let app = router
        .layer(axum::middleware::from_fn(session::origin_guard))
        .into_make_service_with_connect_info::<SocketAddr>();
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.cancelled().await;
        stopper.graceful_shutdown(Some(std::time::Duration::from_secs(2)));
    });
    match tls {
        Some(tls) => {
            let server = axum_server::from_tcp_rustls(listener, tls).handle(handle);
            tokio::spawn(async move {
                if let Err(e) = server.serve(app).await {
                    warn!(error = %e, "console listener stopped");
                }
            });
        }
        None => {
            let server = axum_server::from_tcp(listener).handle(handle);
            tokio::spawn(async move {
                if let Err(e) = server.serve(app).await {
                    warn!(error = %e, "console listener stopped");
                }
            });
        }
    }
    Ok(local)
}

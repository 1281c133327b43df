//! `tt-dbproxy serve`: load the configuration, open the store, listen,
//! serve until SIGTERM/SIGINT, drain, exit 0.

use std::process::ExitCode;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::{ConfigArgs, init_logging, load_config, open_store};
use crate::clock::Clock;
use crate::net::server::bind_all;
use crate::state::AppState;

pub(super) async fn serve(args: &ConfigArgs) -> anyhow::Result<ExitCode> {
    let (config, source) = load_config(args)?;
    init_logging(&config.log.level, config.log.format);
    info!(version = env!("CARGO_PKG_VERSION"), source = ?source, "starting: {}", config.show());
    let signals = crate::shutdown::Signals::register().context("cannot watch SIGTERM/SIGINT")?;
    let store = open_store(&config).await?;
    let listeners = bind_all(&config.server.listen)
        .await
        .context("cannot listen")?;
    crate::metrics::install();
    let admin = match config.admin_listen {
        Some(addr) => {
            let l = tokio::net::TcpListener::bind(addr).await.with_context(|| {
                format!("cannot listen on the admin address {addr} (admin.listen)")
            })?;
            if let Ok(a) = l.local_addr() {
                info!("admin endpoint on http://{a}");
            }
            Some(l)
        }
        None => None,
    };
    let state = AppState::new(config, store, Clock::system());
    let shutdown = CancellationToken::new();
    if let Some(l) = admin {
        tokio::spawn(crate::admin::serve(l, state.clone(), shutdown.clone()));
    }
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        let name = signals.wait().await;
        info!("{name} received; draining");
        trigger.cancel();
    });
    // Announced last: everything, signal handling included, is ready.
    for l in &listeners {
        if let Ok(addr) = l.local_addr() {
            info!("listening on {addr}");
        }
    }
    let sync = tokio::spawn(crate::sync::run(state.clone(), shutdown.clone()));
    crate::net::run(listeners, state, shutdown).await;
    if tokio::time::timeout(std::time::Duration::from_secs(1), sync)
        .await
        .is_err()
    {
        tracing::warn!("sync center did not stop within 1 s");
    }
    Ok(ExitCode::SUCCESS)
}

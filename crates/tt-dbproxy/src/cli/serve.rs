//! `tt-dbproxy serve`: load the configuration, open the store, listen,
//! serve until SIGTERM/SIGINT, drain, exit 0.

use std::process::ExitCode;

use anyhow::Context;
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::setup::ConfigArgs;
use super::startup::{self, Started};
use crate::clock::Clock;
use crate::config::ConfigSource;
use crate::state::AppState;
use crate::state::ReloadSource;

pub(super) async fn serve(args: &ConfigArgs) -> anyhow::Result<ExitCode> {
    let Started {
        config,
        source,
        log_filter,
        signals,
        store,
        listeners,
    } = startup::start(args, "starting", false).await?;
    let admin = startup::admin_listener(&config).await?;
    match &admin {
        Some(l) => {
            if let Ok(a) = l.local_addr() {
                info!("admin endpoint on http://{a}");
            }
        }
        None => match &source {
            ConfigSource::Legacy(path) => info!(
                "no admin endpoint (/metrics, /healthz, /readyz, /status, /reload): add a line such as AdminListen=127.0.0.1:10611 to {} to turn it on",
                path.display()
            ),
            _ => info!("no admin endpoint: admin.listen (TT_DBPROXY_ADMIN_LISTEN) is empty"),
        },
    }
    let discovery = match config.discovery_listen {
        Some(addr) => Some(
            crate::console::discovery::bind_public(addr)
                .await
                .with_context(|| {
                    format!("cannot listen on the discovery address {addr} (discovery.listen)")
                })?,
        ),
        None => None,
    };
    let console_own = config.console.listen.filter(|_| config.console.enabled);
    let console_on_admin = config.console.enabled && config.console.listen.is_none();
    let state = AppState::new(config, store, Clock::system());
    state.enable_reload(ReloadSource::new(source, log_filter));
    let shutdown = CancellationToken::new();
    if let Some(l) = admin {
        if console_on_admin && let Ok(a) = l.local_addr() {
            info!("web console on http://{a}/console/");
        }
        tokio::spawn(crate::admin::serve(l, state.clone(), shutdown.clone()));
    }
    if let Some(addr) = console_own {
        let at = crate::console::serve_own(state.clone(), addr, shutdown.clone()).await?;
        let scheme = if state.config().console.tls() {
            "https"
        } else {
            "http"
        };
        info!("web console on {scheme}://{at}/console/");
    }
    if let Some(l) = discovery {
        if let Ok(a) = l.local_addr() {
            info!("discovery endpoint on http://{a}/api/discovery");
        }
        tokio::spawn(crate::console::discovery::serve_public(
            l,
            state.clone(),
            shutdown.clone(),
        ));
    }
    let (stop, mut hangups) = signals.split();
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        let name = stop.wait().await;
        info!("{name} received; draining");
        crate::service::stopping();
        trigger.cancel();
    });
    let reloading = state.clone();
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            info!("SIGHUP received; reloading the configuration");
            crate::service::reloading();
            // The outcome (applied keys, or why the file was refused) is
            // logged by `reload`.
            let _ = crate::reload::reload(&reloading).await;
            crate::service::ready();
        }
    });
    // Announced last: everything, signal handling included, is ready.
    startup::announce(&listeners);
    crate::service::ready();
    let sync = tokio::spawn(crate::sync::run(state.clone(), shutdown.clone()));
    tokio::spawn(crate::recovery::run(state.clone(), shutdown.clone()));
    crate::net::run(listeners, state, shutdown).await;
    if tokio::time::timeout(std::time::Duration::from_secs(1), sync)
        .await
        .is_err()
    {
        tracing::warn!("sync center did not stop within 1 s");
    }
    Ok(ExitCode::SUCCESS)
}

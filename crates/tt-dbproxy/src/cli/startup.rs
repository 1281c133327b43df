//! What `serve` and `shadow` do before serving: configuration, logging,
//! signal handlers, the metrics recorder, the store and the listeners, in
//! that order, each failure a clear error.

use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;
use tracing::info;

use super::setup::{ConfigArgs, load_config, open_store_as};
use crate::config::{Config, ConfigSource};
use crate::logging::LogFilter;
use crate::net::server::bind_all;
use crate::shutdown::Signals;
use crate::store::Store;

/// A process ready to serve.
pub(super) struct Started {
    pub config: Config,
    pub source: ConfigSource,
    pub log_filter: Option<LogFilter>,
    pub signals: Signals,
    pub store: Arc<dyn Store>,
    pub listeners: Vec<TcpListener>,
}

/// Loads the configuration and sets up everything `what` (`"starting"`,
/// `"shadow starting"`) serves with; `read_only` for the shadow, whose
/// store never writes.
pub(super) async fn start(
    args: &ConfigArgs,
    what: &str,
    read_only: bool,
) -> anyhow::Result<Started> {
    let (config, source) = load_config(args)?;
    let log_filter = crate::logging::init(&config.log.level, config.log.format);
    info!(version = env!("CARGO_PKG_VERSION"), source = ?source, "{what}: {}", config.show());
    let signals = Signals::register().context("cannot watch SIGTERM/SIGINT/SIGHUP")?;
    // Before the store, so the pools' metric handles reach the recorder.
    crate::metrics::install();
    let store = open_store_as(&config, read_only).await?;
    let listeners = bind_all(&config.server.listen)
        .await
        .context("cannot listen")?;
    Ok(Started {
        config,
        source,
        log_filter,
        signals,
        store,
        listeners,
    })
}

/// The admin endpoint's listener, if one is configured.
pub(super) async fn admin_listener(config: &Config) -> anyhow::Result<Option<TcpListener>> {
    let Some(addr) = config.admin_listen else {
        return Ok(None);
    };
    let l = TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on the admin address {addr} (admin.listen)"))?;
    Ok(Some(l))
}

/// Logs every listener's address ("listening on …", which the tests and
/// operators look for).
pub(super) fn announce(listeners: &[TcpListener]) {
    for l in listeners {
        if let Ok(addr) = l.local_addr() {
            info!("listening on {addr}");
        }
    }
}

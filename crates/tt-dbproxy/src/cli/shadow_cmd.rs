//! `tt-dbproxy shadow --upstream HOST:PORT`: serve by forwarding to a
//! running original, comparing reads with this store (see
//! [`crate::shadow`]).

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::setup::ConfigArgs;
use super::startup::{self, Started};
use crate::clock::Clock;
use crate::shadow::Shadow;
use crate::state::AppState;

/// Arguments of `shadow`.
#[derive(Debug, Args)]
pub struct ShadowArgs {
    /// The store and listeners (as for `serve`; normally the original's
    /// MySQL + Redis).
    #[command(flatten)]
    config: ConfigArgs,
    /// The running original db_proxy_server every request is forwarded to.
    #[arg(long, value_name = "HOST:PORT")]
    upstream: String,
}

pub(super) async fn shadow(args: ShadowArgs) -> anyhow::Result<ExitCode> {
    let Started {
        mut config,
        signals,
        store,
        listeners,
        ..
    } = startup::start(&args.config, "shadow starting", true).await?;
    let upstream: SocketAddr = tokio::net::lookup_host(&args.upstream)
        .await
        .with_context(|| format!("cannot resolve the upstream {}", args.upstream))?
        .next()
        .with_context(|| format!("the upstream {} has no address", args.upstream))?;
    let admin = startup::admin_listener(&config).await?;
    // A shadow changes nothing: no console, whatever the file says.
    config.console.enabled = false;
    let state = AppState::new(config, store, Clock::system());
    let shadow = Shadow::new(state.clone(), upstream).context("protobuf descriptors")?;
    let shutdown = CancellationToken::new();
    if let Some(l) = admin {
        if let Ok(a) = l.local_addr() {
            info!("admin endpoint on http://{a} (GET /shadow for the findings)");
        }
        tokio::spawn(crate::admin::serve(l, state.clone(), shutdown.clone()));
    }
    let (stop, _hangups) = signals.split();
    let trigger = shutdown.clone();
    tokio::spawn(async move {
        let name = stop.wait().await;
        info!("{name} received; stopping");
        crate::service::stopping();
        trigger.cancel();
    });
    crate::shadow::announce(upstream);
    startup::announce(&listeners);
    crate::service::ready();
    shadow.run(listeners, shutdown).await;
    Ok(ExitCode::SUCCESS)
}

//! What the commands share: which configuration file to read, loading it,
//! and opening the configured store.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use crate::config::{self, BackendKind, Config, ConfigSource};
use crate::store::{MysqlRedisStore, SqliteStore, Store};

/// Which configuration file to read.
#[derive(Debug, Args, Clone, Default)]
pub struct ConfigArgs {
    /// A tt-dbproxy TOML configuration file.
    #[arg(
        long,
        value_name = "FILE",
        env = "TT_DBPROXY_CONFIG",
        conflicts_with = "legacy_config"
    )]
    pub config: Option<PathBuf>,
    /// An original TeamTalk dbproxyserver.conf.
    #[arg(long, value_name = "FILE", env = "TT_DBPROXY_LEGACY_CONFIG")]
    pub legacy_config: Option<PathBuf>,
}

/// Loads the configuration the way `serve` does.
pub(super) fn load_config(args: &ConfigArgs) -> anyhow::Result<(Config, ConfigSource)> {
    let cwd = std::env::current_dir().context("cannot determine the working directory")?;
    let source = ConfigSource::resolve(args.config.clone(), args.legacy_config.clone(), &cwd);
    let config = config::load(&source, &config::process_env).with_context(|| match &source {
        ConfigSource::Defaults => {
            "configuration (defaults and TT_DBPROXY_* environment)".to_string()
        }
        ConfigSource::Toml(p) | ConfigSource::Legacy(p) => format!("configuration {}", p.display()),
    })?;
    Ok((config, source))
}

/// Opens (and migrates) the embedded store `config` names, with its
/// options.
pub(super) async fn open_embedded(config: &Config) -> anyhow::Result<SqliteStore> {
    let options = crate::store::SqliteOptions::from_config(config);
    SqliteStore::open_with(&config.storage.data_dir, options)
        .await
        .with_context(|| {
            format!(
                "cannot open the embedded store in {}",
                config.storage.data_dir.display()
            )
        })
}

/// Opens the configured backend. The MySQL/Redis backend starts even when
/// they are down (requests fail until they are back); a warning says so.
pub(super) async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    open_store_as(config, false).await
}

/// [`open_store`], read-only (`shadow`) when `read_only`: no read ever
/// writes, and writes are refused.
pub(super) async fn open_store_as(
    config: &Config,
    read_only: bool,
) -> anyhow::Result<Arc<dyn Store>> {
    match config.storage.backend {
        BackendKind::Embedded => {
            let store = open_embedded(config).await?;
            Ok(Arc::new(if read_only {
                store.into_read_only()
            } else {
                store
            }))
        }
        BackendKind::Mysql => {
            let mut store =
                MysqlRedisStore::new(config).context("cannot set up the MySQL/Redis backend")?;
            if read_only {
                store = store.into_read_only();
            }
            if let Err(e) = store.probe().await {
                tracing::warn!(error = %e, "MySQL or Redis is not reachable yet; requests fail until it is");
            }
            Ok(Arc::new(store))
        }
    }
}

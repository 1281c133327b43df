//! The `tt-dbproxy` command line. Each subcommand module turns its
//! arguments into library calls; `anyhow` carries context to the exit.

mod admin;
mod backup_cmd;
mod bench;
mod call;
mod copy_cmd;
mod output;
mod serve;
mod shadow_cmd;
mod startup;

use migrate_cmd::migrate;
mod migrate_cmd;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{ArgAction, Args, Parser, Subcommand};

use crate::config::{self, BackendKind, Config, ConfigSource, LogFormat};
use crate::store::{MysqlRedisStore, SqliteStore, Store};

/// Command line of `tt-dbproxy`. With no subcommand it serves.
#[derive(Debug, Parser)]
#[command(
    name = "tt-dbproxy",
    version,
    about = "Drop-in replacement for TeamTalk's db_proxy_server",
    disable_version_flag = true,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Print the version and exit.
    #[arg(short = 'v', long = "version", action = ArgAction::Version)]
    version: Option<bool>,
    /// Options of `serve` when no subcommand is given.
    #[command(flatten)]
    serve: ConfigArgs,
    /// What to do (default: serve).
    #[command(subcommand)]
    command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the TeamTalk db_proxy protocol (the default).
    Serve(ConfigArgs),
    /// Manage data in the configured store (works while the server runs).
    Admin(admin::AdminArgs),
    /// Send one request to a server and print the reply as JSON.
    Call(call::CallArgs),
    /// Create the schema in the configured store (MySQL: the database if
    /// it is missing and the account may, then missing tables only;
    /// existing tables are never changed).
    Migrate(ConfigArgs),
    /// Load a server with a closed-loop workload and report throughput
    /// and latency percentiles.
    Bench(bench::BenchArgs),
    /// Write a consistent copy of the embedded store while it serves.
    Backup(backup_cmd::BackupArgs),
    /// Put a backup in place as the database of an empty data directory.
    Restore(backup_cmd::RestoreArgs),
    /// Forward every request to a running original and compare its read
    /// replies with this store's (rehearse the migration).
    Shadow(shadow_cmd::ShadowArgs),
    /// Copy a whole deployment between backends (embedded and MySQL +
    /// Redis, either way), optionally verifying it.
    Copy(copy_cmd::CopyArgs),
}

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

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let result = run_command(cli).await;
    match result {
        // `| head` read what it wanted: a success, as for any Unix filter.
        Err(e) if output::is_closed_stdout(&e) => Ok(ExitCode::SUCCESS),
        other => other,
    }
}

async fn run_command(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        None => serve::serve(&cli.serve).await,
        Some(Command::Serve(args)) => serve::serve(&args).await,
        Some(Command::Admin(args)) => {
            crate::logging::init("warn", LogFormat::Text);
            admin::run(args).await
        }
        Some(Command::Call(args)) => {
            crate::logging::init("warn", LogFormat::Text);
            call::run(args).await
        }
        Some(Command::Migrate(args)) => {
            crate::logging::init("warn", LogFormat::Text);
            migrate(&args).await
        }
        Some(Command::Bench(args)) => {
            crate::logging::init("warn", LogFormat::Text);
            bench::run_bench(args).await
        }
        Some(Command::Backup(args)) => {
            crate::logging::init("warn", LogFormat::Text);
            backup_cmd::backup(args).await
        }
        Some(Command::Shadow(args)) => shadow_cmd::shadow(args).await,
        Some(Command::Copy(args)) => {
            crate::logging::init("warn", LogFormat::Text);
            copy_cmd::run(args).await
        }
        Some(Command::Restore(args)) => {
            crate::logging::init("warn", LogFormat::Text);
            backup_cmd::restore(args).await
        }
    }
}

/// Loads the configuration the way `serve` does.
fn load_config(args: &ConfigArgs) -> anyhow::Result<(Config, ConfigSource)> {
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
async fn open_embedded(config: &Config) -> anyhow::Result<SqliteStore> {
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
async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    open_store_as(config, false).await
}

/// [`open_store`], read-only (`shadow`) when `read_only`: no read ever
/// writes, and writes are refused.
async fn open_store_as(config: &Config, read_only: bool) -> anyhow::Result<Arc<dyn Store>> {
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

//! `tt-dbproxy backup` and `tt-dbproxy restore`: an online, consistent
//! copy of the embedded store, and putting one back into a data directory.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;

use super::output::outln;
use super::{ConfigArgs, load_config};
use crate::config::BackendKind;
use crate::store::sqlite::backup;

/// Arguments of `backup`.
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Which store (as for `serve`).
    #[command(flatten)]
    config: ConfigArgs,
    /// The backup file to write (must not exist).
    #[arg(long, value_name = "FILE")]
    to: PathBuf,
}

/// Arguments of `restore`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// Which data directory to restore into (its `storage.data_dir`; it
    /// must hold no database, and no server may run on it).
    #[command(flatten)]
    config: ConfigArgs,
    /// The backup file written by `backup`.
    #[arg(long, value_name = "FILE")]
    from: PathBuf,
}

fn embedded_only(backend: BackendKind, what: &str) -> anyhow::Result<()> {
    if backend == BackendKind::Mysql {
        bail!(
            "{what} is for the embedded store; back MySQL up with its own tools (mariadb-dump, mariabackup) and Redis with its RDB/AOF files"
        );
    }
    Ok(())
}

pub(super) async fn backup(args: BackupArgs) -> anyhow::Result<ExitCode> {
    let (config, _) = load_config(&args.config)?;
    embedded_only(config.storage.backend, "backup")?;
    let dir = config.storage.data_dir.clone();
    let to = args.to.clone();
    let report = tokio::task::spawn_blocking(move || backup::backup(&dir, &to))
        .await
        .context("backup task failed")?
        .with_context(|| format!("backup to {} failed", args.to.display()))?;
    outln!(
        "backup written: {} ({} bytes, {} messages)",
        report.path.display(),
        report.bytes,
        report.messages
    )?;
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn restore(args: RestoreArgs) -> anyhow::Result<ExitCode> {
    let (config, _) = load_config(&args.config)?;
    embedded_only(config.storage.backend, "restore")?;
    let dir = config.storage.data_dir.clone();
    let from = args.from.clone();
    let report = tokio::task::spawn_blocking(move || backup::restore(&from, &dir))
        .await
        .context("restore task failed")?
        .with_context(|| format!("restore of {} failed", args.from.display()))?;
    outln!(
        "restored: {} ({} bytes, {} messages)",
        report.path.display(),
        report.bytes,
        report.messages
    )?;
    Ok(ExitCode::SUCCESS)
}

//! `tt-dbproxy backup` and `tt-dbproxy restore`: an online, consistent
//! copy of the embedded store, and putting one back into a data directory.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;

use super::output::outln;
use super::setup::{ConfigArgs, load_config};
use crate::config::BackendKind;
use crate::store::StoreResult;
use crate::store::sqlite::backup::{self, BackupReport};

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

/// Runs `op(data_dir, file)` on the configured embedded store, off the
/// runtime, and prints what it wrote after `done`.
async fn on_embedded(
    config: &ConfigArgs,
    what: &str,
    file: &Path,
    op: fn(&Path, &Path) -> StoreResult<BackupReport>,
    done: &str,
) -> anyhow::Result<ExitCode> {
    let (config, _) = load_config(config)?;
    embedded_only(config.storage.backend, what)?;
    let (dir, path) = (config.storage.data_dir.clone(), file.to_path_buf());
    let report = tokio::task::spawn_blocking(move || op(&dir, &path))
        .await
        .with_context(|| format!("{what} task failed"))?
        .with_context(|| format!("{what} failed ({})", file.display()))?;
    outln!(
        "{done}: {} ({} bytes, {} messages)",
        report.path.display(),
        report.bytes,
        report.messages
    )?;
    Ok(ExitCode::SUCCESS)
}

pub(super) async fn backup(args: BackupArgs) -> anyhow::Result<ExitCode> {
    on_embedded(
        &args.config,
        "backup",
        &args.to,
        backup::backup,
        "backup written",
    )
    .await
}

pub(super) async fn restore(args: RestoreArgs) -> anyhow::Result<ExitCode> {
    let restore: fn(&Path, &Path) -> StoreResult<BackupReport> =
        |dir, from| backup::restore(from, dir);
    on_embedded(&args.config, "restore", &args.from, restore, "restored").await
}

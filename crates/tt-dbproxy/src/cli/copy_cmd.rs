//! `tt-dbproxy copy`: copies a deployment from one configured store to
//! another (embedded ⇄ MySQL + Redis) and optionally verifies it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::Args;

use super::output::outln;
use crate::config::{self, BackendKind, Config, ConfigSource};
use crate::copy::{self, verify};
use crate::store::MysqlRedisStore;
use crate::store::export::Portable;

/// Arguments of `copy`.
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// Configuration of the store to copy from (tt-dbproxy TOML; the
    /// `TT_DBPROXY_*` environment does not apply).
    #[arg(long, value_name = "FILE")]
    from: PathBuf,
    /// `--from` is an original dbproxyserver.conf.
    #[arg(long)]
    from_legacy: bool,
    /// Configuration of the store to copy into (created or migrated as
    /// needed).
    #[arg(long, value_name = "FILE")]
    to: PathBuf,
    /// `--to` is an original dbproxyserver.conf.
    #[arg(long)]
    to_legacy: bool,
    /// Copy into a target that already holds data: rows and entries with
    /// the same ids or keys are replaced, others kept.
    #[arg(long)]
    overwrite: bool,
    /// Afterwards, compare what both stores answer for every user,
    /// conversation and group; exit 1 on any difference.
    #[arg(long)]
    verify: bool,
}

fn load(path: &Path, legacy: bool) -> anyhow::Result<Config> {
    let source = if legacy {
        ConfigSource::Legacy(path.to_path_buf())
    } else {
        ConfigSource::Toml(path.to_path_buf())
    };
    config::load(&source, &|_| None).with_context(|| format!("configuration {}", path.display()))
}

/// Where a configuration's data lives, to refuse copying a store onto
/// itself.
fn location(c: &Config) -> String {
    match (c.storage.backend, &c.mysql) {
        (BackendKind::Mysql, Some(m)) => format!(
            "MySQL {}:{}/{}",
            m.primary.host.to_ascii_lowercase(),
            m.primary.port,
            m.primary.database
        ),
        _ => {
            let dir = &c.storage.data_dir;
            let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone());
            format!("embedded store in {}", dir.display())
        }
    }
}

async fn open(c: &Config) -> anyhow::Result<Arc<dyn Portable>> {
    match c.storage.backend {
        BackendKind::Embedded => Ok(Arc::new(super::setup::open_embedded(c).await?)),
        BackendKind::Mysql => {
            let store = MysqlRedisStore::new(c).context("cannot set up the MySQL/Redis backend")?;
            // Missing tables first: the probe reads one.
            store
                .migrate()
                .await
                .context("cannot reach MySQL or create the TeamTalk tables")?;
            store
                .probe()
                .await
                .context("MySQL or Redis is not reachable")?;
            Ok(Arc::new(store))
        }
    }
}

pub(super) async fn run(args: CopyArgs) -> anyhow::Result<ExitCode> {
    let from = load(&args.from, args.from_legacy)?;
    let to = load(&args.to, args.to_legacy)?;
    let (a, b) = (location(&from), location(&to));
    if a == b {
        bail!("--from and --to name the same store ({a})");
    }
    let source = open(&from).await.context("source")?;
    let target = open(&to).await.context("target")?;
    eprintln!("copying from {a} to {b}");
    let report = copy::copy(
        source.as_ref(),
        target.as_ref(),
        args.overwrite,
        &mut |line| {
            eprintln!("  {line}");
        },
    )
    .await?;
    outln!(
        "copied {} rows and {} counter and setting entries from {a} to {b}",
        report.rows(),
        report.state_items
    )?;
    if !args.verify {
        return Ok(ExitCode::SUCCESS);
    }
    let v = verify::verify(source.as_ref(), target.as_ref())
        .await
        .context("verify")?;
    for d in &v.first {
        outln!(
            "difference in {}:\n  source: {}\n  target: {}",
            d.what,
            d.source,
            d.target
        )?;
    }
    outln!(
        "verified: {} answers compared ({} messages), {} differences",
        v.checked,
        v.messages,
        v.differences
    )?;
    Ok(if v.differences == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

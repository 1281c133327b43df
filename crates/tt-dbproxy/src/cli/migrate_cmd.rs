//! `tt-dbproxy migrate`: create the schema of the configured store.

use std::process::ExitCode;

use anyhow::Context;

use super::output::outln;
use super::{ConfigArgs, load_config};
use crate::config::BackendKind;
use crate::store::{MysqlRedisStore, SqliteStore};

pub(super) async fn migrate(args: &ConfigArgs) -> anyhow::Result<ExitCode> {
    let (config, _) = load_config(args)?;
    match config.storage.backend {
        BackendKind::Embedded => {
            let store = SqliteStore::open(&config.storage.data_dir).await?;
            outln!("embedded store {} is up to date", store.path().display())?;
        }
        BackendKind::Mysql => {
            let store = MysqlRedisStore::new(&config)?;
            let n = store.migrate().await.context("migration failed")?;
            store.close().await;
            outln!(
                "MySQL schema checked: {n} tables present (missing ones created, existing ones untouched)"
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

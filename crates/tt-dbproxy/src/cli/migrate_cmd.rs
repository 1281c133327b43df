//! `tt-dbproxy migrate`: create the schema of the configured store.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use super::output::outln;
use super::setup::{ConfigArgs, load_config};
use crate::config::BackendKind;
use crate::store::mysql::schema;
use crate::store::{MysqlRedisStore, SqliteStore};

pub(super) async fn migrate(args: &ConfigArgs) -> anyhow::Result<ExitCode> {
    let (config, _) = load_config(args)?;
    match config.storage.backend {
        BackendKind::Embedded => {
            let store = SqliteStore::open(&config.storage.data_dir).await?;
            outln!("embedded store {} is up to date", store.path().display())?;
        }
        BackendKind::Mysql => {
            if let Some(mysql) = &config.mysql {
                let wait = Duration::from_millis(config.storage.acquire_timeout_ms.max(5_000));
                if schema::ensure_database(&mysql.primary, wait)
                    .await
                    .context("migration failed")?
                {
                    outln!(
                        "created MySQL database `{}` (utf8mb4)",
                        mysql.primary.database
                    )?;
                }
            }
            let store = MysqlRedisStore::new(&config)?;
            let n = store.migrate().await.context("migration failed")?;
            // The web console's own tables (tt_admin_password, sessions,
            // sign-in failures, audit log).
            crate::store::ConsoleAccountStore::prepare_console(&store)
                .await
                .context("migration failed (console tables)")?;
            store.close().await;
            outln!(
                "MySQL schema checked: {n} tables present (missing ones created, existing ones untouched)"
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

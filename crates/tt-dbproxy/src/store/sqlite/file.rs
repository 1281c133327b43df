//! `IMTransmitFile`: pending offline files.

use rusqlite::{Connection, params};

use super::SqliteStore;
use super::user::{text_col, u32_col};
use crate::store::OfflineFile;
use crate::store::{FileStore, StoreResult};
use async_trait::async_trait;

pub(super) fn add(c: &Connection, f: &OfflineFile, now: u32) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO IMTransmitFile (fromId, toId, fileName, size, taskId, status, created, updated) \
         VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6, ?6)",
    )?
    .execute(params![f.from_id, f.to_id, f.file_name, f.size, f.task_id, now])?;
    Ok(())
}

pub(super) fn for_receiver(c: &Connection, to_id: u32) -> rusqlite::Result<Vec<OfflineFile>> {
    let mut stmt = c.prepare_cached(
        "SELECT fromId, toId, taskId, fileName, size, created FROM IMTransmitFile \
         WHERE toId = ?1 AND status = 0 ORDER BY created, id",
    )?;
    let rows = stmt.query_map(params![to_id], |r| {
        Ok(OfflineFile {
            from_id: u32_col(r, 0)?,
            to_id: u32_col(r, 1)?,
            task_id: text_col(r, 2)?,
            file_name: text_col(r, 3)?,
            size: u32_col(r, 4)?,
            created: u32_col(r, 5)?,
        })
    })?;
    rows.collect()
}

pub(super) fn delete(
    c: &Connection,
    from_id: u32,
    to_id: u32,
    task_id: &str,
) -> rusqlite::Result<u64> {
    let n = c
        .prepare_cached(
            "DELETE FROM IMTransmitFile WHERE fromId = ?1 AND toId = ?2 AND taskId = ?3",
        )?
        .execute(params![from_id, to_id, task_id])?;
    Ok(n as u64)
}

#[async_trait]
impl FileStore for SqliteStore {
    async fn add_offline_file(&self, f: OfflineFile, now: u32) -> StoreResult<()> {
        self.write_keeping(move |c| super::file::add(c, &f, now))
            .await
    }

    async fn offline_files_for(&self, to_id: u32) -> StoreResult<Vec<OfflineFile>> {
        self.read(move |c| super::file::for_receiver(c, to_id))
            .await
    }

    async fn delete_offline_file(
        &self,
        from_id: u32,
        to_id: u32,
        task_id: &str,
    ) -> StoreResult<u64> {
        let task_id = task_id.to_owned();
        self.write_keeping(move |c| super::file::delete(c, from_id, to_id, &task_id))
            .await
    }
}

//! Offline file statements of [`MysqlStore`]: `IMTransmitFile` rows.

use super::handle::MysqlStore;
use super::query::{change, int, params, rows, text};
use crate::store::{OfflineFile, StoreResult};

impl MysqlStore {
    pub(crate) async fn add_offline_file(&self, f: OfflineFile, now: u32) -> StoreResult<()> {
        let mut c = self.pools.primary().await?;
        let sql = "INSERT INTO IMTransmitFile (fromId, toId, fileName, size, taskId, status, created, updated) VALUES (?, ?, ?, ?, ?, 0, ?, ?)";
        let p = vec![
            f.from_id.into(),
            f.to_id.into(),
            f.file_name.into(),
            f.size.into(),
            f.task_id.into(),
            now.into(),
            now.into(),
        ];
        change(&mut c, sql, params(p)).await.map(drop)
    }

    pub(crate) async fn offline_files_for(&self, to_id: u32) -> StoreResult<Vec<OfflineFile>> {
        let mut c = self.pools.replica().await?;
        let sql = "SELECT fromId, toId, taskId, fileName, size, created FROM IMTransmitFile WHERE toId = ? AND status = 0 ORDER BY created, id";
        rows(&mut c, sql, params(vec![to_id.into()]))
            .await?
            .into_iter()
            .map(|mut r| {
                Ok(OfflineFile {
                    from_id: int(&mut r, 0)?,
                    to_id: int(&mut r, 1)?,
                    task_id: text(&mut r, 2)?,
                    file_name: text(&mut r, 3)?,
                    size: int(&mut r, 4)?,
                    created: int(&mut r, 5)?,
                })
            })
            .collect()
    }

    pub(crate) async fn delete_offline_file(
        &self,
        from_id: u32,
        to_id: u32,
        task_id: &str,
    ) -> StoreResult<u64> {
        let mut c = self.pools.primary().await?;
        let sql = "DELETE FROM IMTransmitFile WHERE fromId = ? AND toId = ? AND taskId = ?";
        change(
            &mut c,
            sql,
            params(vec![from_id.into(), to_id.into(), task_id.into()]),
        )
        .await
    }
}

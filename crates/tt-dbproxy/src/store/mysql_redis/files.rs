//! Offline files on MySQL + Redis: `IMTransmitFile` in MySQL.

use async_trait::async_trait;

use super::MysqlRedisStore;
use crate::store::read_your_writes::Mark;
use crate::store::{FileStore, OfflineFile, StoreResult};

#[async_trait]
impl FileStore for MysqlRedisStore {
    async fn add_offline_file(&self, file: OfflineFile, now: u32) -> StoreResult<()> {
        let (to, from) = (file.to_id, file.from_id);
        self.write(
            "add offline file",
            &[Mark::User(to), Mark::User(from)],
            self.sql.add_offline_file(file, now),
        )
        .await
    }

    async fn offline_files_for(&self, to_id: u32) -> StoreResult<Vec<OfflineFile>> {
        self.read(
            "offline files",
            &[Mark::User(to_id)],
            self.sql.offline_files_for(to_id),
        )
        .await
    }

    async fn delete_offline_file(
        &self,
        from_id: u32,
        to_id: u32,
        task_id: &str,
    ) -> StoreResult<u64> {
        self.write(
            "delete offline file",
            &[Mark::User(to_id), Mark::User(from_id)],
            self.sql.delete_offline_file(from_id, to_id, task_id),
        )
        .await
    }
}

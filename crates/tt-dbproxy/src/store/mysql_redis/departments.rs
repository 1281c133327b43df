//! Departments on MySQL + Redis: `IMDepart` in MySQL.

use async_trait::async_trait;

use super::MysqlRedisStore;
use crate::store::{DepartRecord, DepartmentStore, StoreResult};

#[async_trait]
impl DepartmentStore for MysqlRedisStore {
    async fn add_department(&self, depart: DepartRecord) -> StoreResult<u32> {
        self.write("add department", &[], self.sql.add_department(depart))
            .await
    }

    async fn list_departments(&self) -> StoreResult<Vec<DepartRecord>> {
        self.read("list departments", &[], self.sql.departments(None))
            .await
    }

    async fn changed_departments(&self, since: u32) -> StoreResult<Vec<DepartRecord>> {
        self.read(
            "changed departments",
            &[],
            self.sql.departments(Some(since)),
        )
        .await
    }
}

//! `IMDepart` statements.

use rusqlite::{Connection, Row, params};

use super::SqliteStore;
use super::user::{last_id, text_col, u32_col};
use crate::store::DepartRecord;
use crate::store::{DepartmentStore, StoreResult};
use async_trait::async_trait;

pub(super) const COLUMNS: &str = "id, departName, priority, parentId, status, created, updated";

pub(super) fn from_row(r: &Row<'_>) -> rusqlite::Result<DepartRecord> {
    Ok(DepartRecord {
        id: u32_col(r, 0)?,
        name: text_col(r, 1)?,
        priority: u32_col(r, 2)?,
        parent_id: u32_col(r, 3)?,
        status: u32_col(r, 4)?,
        created: u32_col(r, 5)?,
        updated: u32_col(r, 6)?,
    })
}

pub(super) fn insert(c: &Connection, d: &DepartRecord) -> rusqlite::Result<u32> {
    c.prepare_cached(
        "INSERT INTO IMDepart (departName, priority, parentId, status, created, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![d.name, d.priority, d.parent_id, d.status, d.created, d.updated])?;
    last_id(c)
}

pub(super) fn query(c: &Connection, since: Option<u32>) -> rusqlite::Result<Vec<DepartRecord>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM IMDepart WHERE updated > ?1 ORDER BY id"
    ))?;
    // `None` lists everything, including rows with `updated = 0`.
    let since = since.map_or(-1, i64::from);
    let rows = stmt.query_map(params![since], from_row)?;
    rows.collect()
}

#[async_trait]
impl DepartmentStore for SqliteStore {
    async fn add_department(&self, d: DepartRecord) -> StoreResult<u32> {
        self.write_keeping(move |c| super::depart::insert(c, &d))
            .await
    }

    async fn list_departments(&self) -> StoreResult<Vec<DepartRecord>> {
        self.read(|c| super::depart::query(c, None)).await
    }

    async fn changed_departments(&self, since: u32) -> StoreResult<Vec<DepartRecord>> {
        self.read(move |c| super::depart::query(c, Some(since)))
            .await
    }
}

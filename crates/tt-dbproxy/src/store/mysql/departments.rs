//! Department statements of [`MysqlStore`]: `IMDepart` rows.

use mysql_async::{Params, Row};

use super::handle::MysqlStore;
use super::query::{insert, int, params, rows, text};
use crate::store::{DepartRecord, StoreResult};

fn depart(mut r: Row) -> StoreResult<DepartRecord> {
    Ok(DepartRecord {
        id: int(&mut r, 0)?,
        name: text(&mut r, 1)?,
        priority: int(&mut r, 2)?,
        parent_id: int(&mut r, 3)?,
        status: int(&mut r, 4)?,
        created: int(&mut r, 5)?,
        updated: int(&mut r, 6)?,
    })
}

impl MysqlStore {
    pub(crate) async fn add_department(&self, d: DepartRecord) -> StoreResult<u32> {
        let mut c = self.pools.primary().await?;
        let sql = "INSERT INTO IMDepart (departName, priority, parentId, status, created, updated) VALUES (?, ?, ?, ?, ?, ?)";
        let p = vec![
            d.name.into(),
            d.priority.into(),
            d.parent_id.into(),
            d.status.into(),
            d.created.into(),
            d.updated.into(),
        ];
        insert(&mut c, sql, params(p)).await
    }

    pub(crate) async fn departments(&self, since: Option<u32>) -> StoreResult<Vec<DepartRecord>> {
        let mut c = self.pools.replica().await?;
        let base =
            "SELECT id, departName, priority, parentId, status, created, updated FROM IMDepart";
        let found = match since {
            Some(t) => {
                rows(
                    &mut c,
                    &format!("{base} WHERE updated > ? ORDER BY id"),
                    params(vec![t.into()]),
                )
                .await?
            }
            None => rows(&mut c, &format!("{base} ORDER BY id"), Params::Empty).await?,
        };
        found.into_iter().map(depart).collect()
    }
}

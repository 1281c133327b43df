//! Group statements of [`MysqlStore`]: `IMGroup` rows, membership changes,
//! the sync center's scan and session touch.

use mysql_async::Value;

use super::galera::{Create, create_certified};
use super::handle::MysqlStore;
use super::named_lock::{lock, unlock};
use super::query::{change, first, first_int, id_params, insert, int, params, rows, text};
use super::sessions::session_spec;
use crate::store::{GroupRecord, ID_CHUNK, NewGroup, SESSION_GROUP, StoreResult};

const GROUP_COLUMNS: &str =
    "id, name, avatar, creator, type, userCnt, status, version, lastChated, updated";

fn group_row(mut r: mysql_async::Row) -> StoreResult<GroupRecord> {
    Ok(GroupRecord {
        id: int(&mut r, 0)?,
        name: text(&mut r, 1)?,
        avatar: text(&mut r, 2)?,
        creator: int(&mut r, 3)?,
        group_type: int(&mut r, 4)?,
        user_count: int(&mut r, 5)?,
        status: int(&mut r, 6)?,
        version: int(&mut r, 7)?,
        last_chated: int(&mut r, 8)?,
        updated: int(&mut r, 9)?,
    })
}

impl MysqlStore {
    pub(crate) async fn groups_by_ids(&self, ids: &[u32]) -> StoreResult<Vec<GroupRecord>> {
        let mut c = self.pools.replica().await?;
        let mut out = Vec::new();
        for chunk in ids.chunks(ID_CHUNK) {
            let sql = format!(
                "SELECT {GROUP_COLUMNS} FROM IMGroup WHERE id IN ({})",
                crate::store::placeholders(chunk.len())
            );
            for r in rows(&mut c, &sql, id_params(chunk)).await? {
                out.push(group_row(r)?);
            }
        }
        out.sort_by_key(|g| std::cmp::Reverse((g.updated, g.id)));
        Ok(out)
    }

    pub(crate) async fn list_groups(&self) -> StoreResult<Vec<GroupRecord>> {
        let mut c = self.pools.replica().await?;
        let sql = format!("SELECT {GROUP_COLUMNS} FROM IMGroup ORDER BY id");
        rows(&mut c, &sql, mysql_async::Params::Empty)
            .await?
            .into_iter()
            .map(group_row)
            .collect()
    }

    /// Inserts the `IMGroup` row and clears membership rows a previous
    /// group with the same id left behind; returns the id.
    pub(crate) async fn insert_group(&self, g: &NewGroup, now: u32) -> StoreResult<u32> {
        let mut c = self.pools.primary().await?;
        let sql = "INSERT INTO IMGroup (name, avatar, creator, type, userCnt, status, version, lastChated, updated, created) \
                   VALUES (?, ?, ?, ?, ?, 0, 1, 0, ?, ?)";
        let count = u32::try_from(g.members.len()).unwrap_or(u32::MAX);
        let p = vec![
            g.name.clone().into(),
            g.avatar.clone().into(),
            g.creator.into(),
            g.group_type.into(),
            count.into(),
            now.into(),
            now.into(),
        ];
        let id = insert(&mut c, sql, params(p)).await?;
        change(
            &mut c,
            "DELETE FROM IMGroupMember WHERE groupId = ?",
            params(vec![id.into()]),
        )
        .await?;
        Ok(id)
    }

    /// Marks members as removed (the original does not bump `updated`).
    pub(crate) async fn remove_group_members(&self, g: u32, users: &[u32]) -> StoreResult<()> {
        let mut c = self.pools.primary().await?;
        for chunk in users.chunks(ID_CHUNK) {
            let sql = format!(
                "UPDATE IMGroupMember SET status = 1 WHERE groupId = ? AND status = 0 AND userId IN ({})",
                crate::store::placeholders(chunk.len())
            );
            let mut p: Vec<Value> = vec![g.into()];
            p.extend(chunk.iter().map(|u| Value::from(*u)));
            change(&mut c, &sql, params(p)).await?;
        }
        Ok(())
    }

    /// `userCnt` = current members, and `version + 1` when asked.
    pub(crate) async fn recount_group(&self, g: u32, bump_version: bool) -> StoreResult<()> {
        let mut c = self.pools.primary().await?;
        let bump = if bump_version {
            ", version = version + 1"
        } else {
            ""
        };
        let sql = format!(
            "UPDATE IMGroup SET userCnt = (SELECT COUNT(DISTINCT userId) FROM IMGroupMember WHERE groupId = ? AND status = 0){bump} WHERE id = ?"
        );
        change(&mut c, &sql, params(vec![g.into(), g.into()]))
            .await
            .map(drop)
    }

    pub(crate) async fn groups_chatted_since(&self, since: u32) -> StoreResult<Vec<(u32, u32)>> {
        let mut c = self.pools.replica().await?;
        let sql = "SELECT id, lastChated FROM IMGroup WHERE status = 0 AND lastChated >= ? AND lastChated <> 0 ORDER BY id";
        rows(&mut c, sql, params(vec![since.into()]))
            .await?
            .into_iter()
            .map(|mut r| Ok((int(&mut r, 0)?, int(&mut r, 1)?)))
            .collect()
    }

    pub(crate) async fn touch_group_session(
        &self,
        user: u32,
        g: u32,
        at: u32,
        now: u32,
    ) -> StoreResult<()> {
        let mut c = self.pools.primary().await?;
        let name = format!("tt_session_{user}_{g}_{SESSION_GROUP}");
        if self.galera.galera(&mut c).await? {
            let spec = Create {
                revive: Some(("updated = ?", vec![at.into()])),
                ..session_spec(user, g, SESSION_GROUP, now)
            };
            lock(&mut c, &name).await?;
            let result = create_certified(&mut c, &spec).await;
            unlock(&mut c, &name).await;
            return result.map(drop);
        }
        lock(&mut c, &name).await?;
        let sql = "SELECT id FROM IMRecentSession WHERE userId = ? AND peerId = ? AND type = ? ORDER BY id DESC LIMIT 1";
        let found = first(
            &mut c,
            sql,
            params(vec![user.into(), g.into(), SESSION_GROUP.into()]),
        )
        .await;
        let result = match found.and_then(first_int) {
            Ok(Some(id)) => change(
                &mut c,
                "UPDATE IMRecentSession SET updated = ? WHERE id = ?",
                params(vec![at.into(), id.into()]),
            )
            .await
            .map(drop),
            Ok(None) => {
                let sql = "INSERT INTO IMRecentSession (userId, peerId, type, status, created, updated) VALUES (?, ?, ?, 0, ?, ?)";
                insert(
                    &mut c,
                    sql,
                    params(vec![
                        user.into(),
                        g.into(),
                        SESSION_GROUP.into(),
                        now.into(),
                        now.into(),
                    ]),
                )
                .await
                .map(drop)
            }
            Err(e) => Err(e),
        };
        unlock(&mut c, &name).await;
        result
    }

    /// Adds or revives a membership row.
    pub(crate) async fn add_group_member(
        &self,
        group_id: u32,
        user_id: u32,
        now: u32,
    ) -> StoreResult<()> {
        let mut c = self.pools.primary().await?;
        let sql = "SELECT id FROM IMGroupMember WHERE groupId = ? AND userId = ? ORDER BY id DESC LIMIT 1";
        match first_int(first(&mut c, sql, params(vec![group_id.into(), user_id.into()])).await?)? {
            Some(id) => {
                let sql = "UPDATE IMGroupMember SET status = 0, updated = ? WHERE id = ?";
                change(&mut c, sql, params(vec![now.into(), id.into()]))
                    .await
                    .map(drop)
            }
            None => {
                let sql = "INSERT INTO IMGroupMember (groupId, userId, status, created, updated) VALUES (?, ?, 0, ?, ?)";
                insert(
                    &mut c,
                    sql,
                    params(vec![
                        group_id.into(),
                        user_id.into(),
                        now.into(),
                        now.into(),
                    ]),
                )
                .await
                .map(drop)
            }
        }
    }

    /// Current members of a group with their join time, from the primary
    /// (used to rebuild the Redis membership hash).
    pub(crate) async fn group_members(&self, group_id: u32) -> StoreResult<Vec<(u32, u32)>> {
        let mut c = self.pools.primary().await?;
        let sql = "SELECT userId, MAX(updated) FROM IMGroupMember WHERE groupId = ? AND status = 0 GROUP BY userId ORDER BY userId";
        rows(&mut c, sql, params(vec![group_id.into()]))
            .await?
            .into_iter()
            .map(|mut r| Ok((int(&mut r, 0)?, int(&mut r, 1)?)))
            .collect()
    }

    pub(crate) async fn user_groups(&self, user_id: u32) -> StoreResult<Vec<u32>> {
        let mut c = self.pools.replica().await?;
        let sql = "SELECT groupId FROM IMGroupMember WHERE userId = ? AND status = 0 ORDER BY updated DESC, id DESC";
        rows(&mut c, sql, params(vec![user_id.into()]))
            .await?
            .into_iter()
            .map(|mut r| int(&mut r, 0))
            .collect()
    }
}

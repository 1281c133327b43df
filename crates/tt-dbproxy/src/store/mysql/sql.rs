//! [`MysqlStore`]: the SQL statements of every storage operation that
//! lives in MySQL.

use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Params, Row, Value};

use super::error::map_err;
use super::pool::MysqlPools;
use crate::store::{
    DepartRecord, GroupMessageRow, ID_CHUNK, OfflineFile, SessionRecord, SingleMessageRow,
    StoreError, StoreResult, UserRecord, UserUpdate,
};

const USER_COLUMNS: &str = "id, sex, name, domain, nick, password, salt, phone, email, avatar, \
     departId, status, created, updated, push_shield_status, sign_info";

/// Integer column as `u32`; NULL is 0.
pub(super) fn int(row: &mut Row, i: usize) -> StoreResult<u32> {
    match row.take_opt::<Option<i64>, _>(i) {
        Some(Ok(v)) => u32::try_from(v.unwrap_or(0))
            .map_err(|_| StoreError::InvalidData(format!("column {i} out of range"))),
        Some(Err(e)) => Err(StoreError::InvalidData(e.to_string())),
        None => Err(StoreError::InvalidData(format!("column {i} missing"))),
    }
}

/// Text column; NULL is empty.
pub(super) fn text(row: &mut Row, i: usize) -> StoreResult<String> {
    match row.take_opt::<Option<String>, _>(i) {
        Some(Ok(v)) => Ok(v.unwrap_or_default()),
        Some(Err(e)) => Err(StoreError::InvalidData(e.to_string())),
        None => Err(StoreError::InvalidData(format!("column {i} missing"))),
    }
}

fn user(mut r: Row) -> StoreResult<UserRecord> {
    Ok(UserRecord {
        id: int(&mut r, 0)?,
        sex: int(&mut r, 1)?,
        name: text(&mut r, 2)?,
        domain: text(&mut r, 3)?,
        nick: text(&mut r, 4)?,
        password: text(&mut r, 5)?,
        salt: text(&mut r, 6)?,
        phone: text(&mut r, 7)?,
        email: text(&mut r, 8)?,
        avatar: text(&mut r, 9)?,
        depart_id: int(&mut r, 10)?,
        status: int(&mut r, 11)?,
        created: int(&mut r, 12)?,
        updated: int(&mut r, 13)?,
        push_shield_status: int(&mut r, 14)?,
        sign_info: text(&mut r, 15)?,
    })
}

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

pub(super) fn params(values: Vec<Value>) -> Params {
    Params::Positional(values)
}

pub(super) fn id_params(ids: &[u32]) -> Params {
    params(ids.iter().map(|i| Value::from(*i)).collect())
}

pub(super) async fn rows(conn: &mut Conn, sql: &str, p: Params) -> StoreResult<Vec<Row>> {
    conn.exec(sql, p).await.map_err(map_err)
}

pub(super) async fn first(conn: &mut Conn, sql: &str, p: Params) -> StoreResult<Option<Row>> {
    conn.exec_first(sql, p).await.map_err(map_err)
}

/// Runs a statement and returns the changed-row count.
pub(super) async fn change(conn: &mut Conn, sql: &str, p: Params) -> StoreResult<u64> {
    conn.exec_drop(sql, p).await.map_err(map_err)?;
    Ok(conn.affected_rows())
}

pub(super) async fn insert(conn: &mut Conn, sql: &str, p: Params) -> StoreResult<u32> {
    conn.exec_drop(sql, p).await.map_err(map_err)?;
    conn.last_insert_id()
        .and_then(|id| u32::try_from(id).ok())
        .ok_or_else(|| StoreError::InvalidData("no insert id".into()))
}

pub(super) fn first_int(row: Option<Row>) -> StoreResult<Option<u32>> {
    row.map(|mut r| int(&mut r, 0)).transpose()
}

/// The certified creation of a session row (Galera), as
/// [`MysqlStore::add_session`] creates it: the highest id is the session,
/// a found row is left as it is.
pub(super) fn session_spec(
    user_id: u32,
    peer_id: u32,
    kind: u32,
    now: u32,
) -> super::galera::Create<'static> {
    super::galera::Create {
        table: "IMRecentSession",
        matching: "userId = ? AND peerId = ? AND type = ?",
        key: vec![user_id.into(), peer_id.into(), kind.into()],
        order: "id DESC",
        revive: None,
        columns: "userId, peerId, type, status, created, updated",
        values: vec![
            user_id.into(),
            peer_id.into(),
            kind.into(),
            0.into(),
            now.into(),
            now.into(),
        ],
        what: "creating a session",
    }
}

/// Every MySQL-side storage operation.
pub struct MysqlStore {
    pub(super) pools: MysqlPools,
    pub(super) batch: super::batch::GroupCommit,
    /// Whether the primary is a Galera node ([`super::galera`]).
    pub(super) galera: super::galera::Detected,
}

impl MysqlStore {
    /// Wraps the pools; sends are group-committed at most `batch_max` at
    /// a time.
    pub fn new(pools: MysqlPools, batch_max: usize) -> Self {
        Self {
            pools,
            batch: super::batch::GroupCommit::new(batch_max),
            galera: super::galera::Detected::default(),
        }
    }

    /// The pools (for `migrate` and shutdown).
    pub fn pools(&self) -> &MysqlPools {
        &self.pools
    }

    pub(crate) async fn find_active_user_by_name(
        &self,
        name: &str,
    ) -> StoreResult<Option<UserRecord>> {
        let mut c = self.pools.replica().await?;
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM IMUser WHERE name = ? AND status = 0 ORDER BY id DESC LIMIT 1"
        );
        first(&mut c, &sql, params(vec![name.into()]))
            .await?
            .map(user)
            .transpose()
    }

    pub(crate) async fn add_user(&self, u: UserRecord) -> StoreResult<u32> {
        let mut c = self.pools.primary().await?;
        let sql = "INSERT INTO IMUser (sex, name, domain, nick, password, salt, phone, email, avatar, \
                   departId, status, created, updated, push_shield_status, sign_info) \
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
        let p = vec![
            u.sex.into(),
            u.name.into(),
            u.domain.into(),
            u.nick.into(),
            u.password.into(),
            u.salt.into(),
            u.phone.into(),
            u.email.into(),
            u.avatar.into(),
            u.depart_id.into(),
            u.status.into(),
            u.created.into(),
            u.updated.into(),
            u.push_shield_status.into(),
            u.sign_info.into(),
        ];
        insert(&mut c, sql, params(p)).await
    }

    async fn users(&self, where_clause: &str, p: Params) -> StoreResult<Vec<UserRecord>> {
        let mut c = self.pools.replica().await?;
        let sql = format!("SELECT {USER_COLUMNS} FROM IMUser {where_clause}");
        rows(&mut c, &sql, p).await?.into_iter().map(user).collect()
    }

    pub(crate) async fn list_users(&self) -> StoreResult<Vec<UserRecord>> {
        self.users("ORDER BY id", Params::Empty).await
    }

    pub(crate) async fn update_user(&self, id: u32, u: UserUpdate, now: u32) -> StoreResult<bool> {
        let mut sets = Vec::new();
        let mut p: Vec<Value> = Vec::new();
        if let Some(v) = u.nick {
            sets.push("nick = ?");
            p.push(v.into());
        }
        if let Some(v) = u.depart_id {
            sets.push("departId = ?");
            p.push(v.into());
        }
        if let Some(v) = u.status {
            sets.push("status = ?");
            p.push(v.into());
        }
        if let Some(v) = u.sign_info {
            sets.push("sign_info = ?");
            p.push(v.into());
        }
        if let Some((password, salt)) = u.password_and_salt {
            sets.push("password = ?");
            sets.push("salt = ?");
            p.push(password.into());
            p.push(salt.into());
        }
        sets.push("updated = ?");
        p.push(now.into());
        p.push(id.into());
        let sql = format!("UPDATE IMUser SET {} WHERE id = ?", sets.join(", "));
        let mut c = self.pools.primary().await?;
        Ok(change(&mut c, &sql, params(p)).await? > 0)
    }

    pub(crate) async fn set_push_shield(
        &self,
        id: u32,
        status: u32,
        now: u32,
    ) -> StoreResult<bool> {
        let mut c = self.pools.primary().await?;
        let sql = "UPDATE IMUser SET push_shield_status = ?, updated = ? WHERE id = ?";
        Ok(change(
            &mut c,
            sql,
            params(vec![status.into(), now.into(), id.into()]),
        )
        .await?
            > 0)
    }

    pub(crate) async fn push_shield(&self, id: u32) -> StoreResult<Option<u32>> {
        let mut c = self.pools.replica().await?;
        first_int(
            first(
                &mut c,
                "SELECT push_shield_status FROM IMUser WHERE id = ?",
                params(vec![id.into()]),
            )
            .await?,
        )
    }

    pub(crate) async fn users_by_ids(&self, ids: &[u32]) -> StoreResult<Vec<UserRecord>> {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(ID_CHUNK) {
            let clause = format!(
                "WHERE id IN ({}) ORDER BY id",
                crate::store::placeholders(chunk.len())
            );
            out.extend(self.users(&clause, id_params(chunk)).await?);
        }
        Ok(out)
    }

    pub(crate) async fn changed_users(&self, since: u32) -> StoreResult<Vec<UserRecord>> {
        if since == 0 {
            self.users(
                "WHERE status IS NOT NULL AND status != 3 ORDER BY id",
                Params::Empty,
            )
            .await
        } else {
            self.users("WHERE updated >= ? ORDER BY id", params(vec![since.into()]))
                .await
        }
    }

    pub(crate) async fn set_sign_info(
        &self,
        id: u32,
        sign_info: &str,
        now: u32,
    ) -> StoreResult<bool> {
        let mut c = self.pools.primary().await?;
        let sql = "UPDATE IMUser SET sign_info = ?, updated = ? WHERE id = ?";
        Ok(change(
            &mut c,
            sql,
            params(vec![sign_info.into(), now.into(), id.into()]),
        )
        .await?
            > 0)
    }

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

    pub(crate) async fn recent_sessions(
        &self,
        user_id: u32,
        since: u32,
        limit: u32,
    ) -> StoreResult<Vec<SessionRecord>> {
        let mut c = self.pools.replica().await?;
        let sql = "SELECT id, userId, peerId, type, status, updated FROM IMRecentSession \
                   WHERE userId = ? AND status = 0 AND updated > ? ORDER BY updated DESC, id DESC LIMIT ?";
        rows(
            &mut c,
            sql,
            params(vec![user_id.into(), since.into(), limit.into()]),
        )
        .await?
        .into_iter()
        .map(|mut r| {
            Ok(SessionRecord {
                id: int(&mut r, 0)?,
                user_id: int(&mut r, 1)?,
                peer_id: int(&mut r, 2)?,
                session_type: int(&mut r, 3)?,
                status: int(&mut r, 4)?,
                updated: int(&mut r, 5)?,
            })
        })
        .collect()
    }

    pub(crate) async fn find_session(
        &self,
        user_id: u32,
        peer_id: u32,
        kind: u32,
    ) -> StoreResult<Option<u32>> {
        let mut c = self.pools.replica().await?;
        let sql = "SELECT id FROM IMRecentSession WHERE userId = ? AND peerId = ? AND type = ? AND status = 0 ORDER BY id DESC LIMIT 1";
        first_int(
            first(
                &mut c,
                sql,
                params(vec![user_id.into(), peer_id.into(), kind.into()]),
            )
            .await?,
        )
    }

    pub(crate) async fn add_session(
        &self,
        user_id: u32,
        peer_id: u32,
        kind: u32,
        now: u32,
    ) -> StoreResult<u32> {
        let mut c = self.pools.primary().await?;
        // Fast path: the session exists (the common case) and only needs
        // reviving and touching; the lock only guards its creation.
        let sql = "SELECT id FROM IMRecentSession WHERE userId = ? AND peerId = ? AND type = ? ORDER BY id DESC LIMIT 1";
        if let Some(id) = first_int(
            first(
                &mut c,
                sql,
                params(vec![user_id.into(), peer_id.into(), kind.into()]),
            )
            .await?,
        )? {
            let sql = "UPDATE IMRecentSession SET status = 0, updated = ? WHERE id = ?";
            change(&mut c, sql, params(vec![now.into(), id.into()])).await?;
            return Ok(id);
        }
        let galera = self.galera.galera(&mut c).await?;
        let lock = format!("tt_session_{user_id}_{peer_id}_{kind}");
        // On Galera the lock only spares this node's creators a conflict.
        super::message::lock(&mut c, &lock).await?;
        let result = if galera {
            let spec = super::galera::Create {
                revive: Some(("status = 0, updated = ?", vec![now.into()])),
                ..session_spec(user_id, peer_id, kind, now)
            };
            super::galera::create_certified(&mut c, &spec).await
        } else {
            Self::add_session_locked(&mut c, user_id, peer_id, kind, now).await
        };
        super::message::unlock(&mut c, &lock).await;
        result
    }

    /// Create-or-revive under the session's named lock, so concurrent
    /// first messages create one row (the table has no unique key).
    async fn add_session_locked(
        c: &mut Conn,
        user_id: u32,
        peer_id: u32,
        kind: u32,
        now: u32,
    ) -> StoreResult<u32> {
        let sql = "SELECT id FROM IMRecentSession WHERE userId = ? AND peerId = ? AND type = ? ORDER BY id DESC LIMIT 1";
        match first_int(
            first(
                c,
                sql,
                params(vec![user_id.into(), peer_id.into(), kind.into()]),
            )
            .await?,
        )? {
            Some(id) => {
                let sql = "UPDATE IMRecentSession SET status = 0, updated = ? WHERE id = ?";
                change(c, sql, params(vec![now.into(), id.into()])).await?;
                Ok(id)
            }
            None => {
                let sql = "INSERT INTO IMRecentSession (userId, peerId, type, status, created, updated) VALUES (?, ?, ?, 0, ?, ?)";
                insert(
                    c,
                    sql,
                    params(vec![
                        user_id.into(),
                        peer_id.into(),
                        kind.into(),
                        now.into(),
                        now.into(),
                    ]),
                )
                .await
            }
        }
    }

    pub(crate) async fn remove_session(&self, id: u32, now: u32) -> StoreResult<bool> {
        let mut c = self.pools.primary().await?;
        let sql = "UPDATE IMRecentSession SET status = 1, updated = ? WHERE id = ?";
        Ok(change(&mut c, sql, params(vec![now.into(), id.into()])).await? > 0)
    }

    /// The user a session row belongs to, on the primary (to know whose
    /// reads must see its removal).
    pub(crate) async fn session_owner(&self, id: u32) -> StoreResult<Option<u32>> {
        let mut c = self.pools.primary().await?;
        let sql = "SELECT userId FROM IMRecentSession WHERE id = ?";
        first_int(first(&mut c, sql, params(vec![id.into()])).await?)
    }

    async fn relation_on(c: &mut Conn, a: u32, b: u32) -> StoreResult<Option<u32>> {
        if a == 0 || b == 0 {
            return Ok(None);
        }
        let sql = "SELECT id FROM IMRelationShip WHERE smallId = ? AND bigId = ? AND status = 0 ORDER BY id DESC LIMIT 1";
        first_int(first(c, sql, params(vec![a.min(b).into(), a.max(b).into()])).await?)
    }

    pub(crate) async fn relation_id(&self, a: u32, b: u32) -> StoreResult<Option<u32>> {
        let mut c = self.pools.replica().await?;
        Self::relation_on(&mut c, a, b).await
    }

    pub(crate) async fn create_relation(&self, a: u32, b: u32, now: u32) -> StoreResult<u32> {
        let mut c = self.pools.primary().await?;
        let (small, big) = (a.min(b), a.max(b));
        // Fast path: an active relation needs no change and no lock.
        if let Some(id) = Self::relation_on(&mut c, small, big).await? {
            return Ok(id);
        }
        let galera = self.galera.galera(&mut c).await?;
        let lock = format!("tt_relation_{small}_{big}");
        // On Galera the lock only spares this node's creators a conflict.
        super::message::lock(&mut c, &lock).await?;
        let result = if galera {
            let spec = super::galera::Create {
                table: "IMRelationShip",
                matching: "smallId = ? AND bigId = ?",
                key: vec![small.into(), big.into()],
                order: "id",
                // `updated` first: it reads `status` before it changes.
                revive: Some((
                    "updated = IF(status = 0, updated, ?), status = 0",
                    vec![now.into()],
                )),
                columns: "smallId, bigId, status, created, updated",
                values: vec![small.into(), big.into(), 0.into(), now.into(), now.into()],
                what: "creating a relation",
            };
            super::galera::create_certified(&mut c, &spec).await
        } else {
            Self::create_relation_locked(&mut c, small, big, now).await
        };
        super::message::unlock(&mut c, &lock).await;
        result
    }

    /// Find-or-create under the pair's named lock, so concurrent first
    /// messages create exactly one relation row.
    async fn create_relation_locked(
        c: &mut Conn,
        small: u32,
        big: u32,
        now: u32,
    ) -> StoreResult<u32> {
        let sql =
            "SELECT id FROM IMRelationShip WHERE smallId = ? AND bigId = ? ORDER BY id LIMIT 1";
        match first_int(first(c, sql, params(vec![small.into(), big.into()])).await?)? {
            Some(id) => {
                let sql = "UPDATE IMRelationShip SET status = 0, updated = ? WHERE id = ? AND status <> 0";
                change(c, sql, params(vec![now.into(), id.into()])).await?;
                Ok(id)
            }
            None => {
                let sql = "INSERT INTO IMRelationShip (smallId, bigId, status, created, updated) VALUES (?, ?, 0, ?, ?)";
                insert(
                    c,
                    sql,
                    params(vec![small.into(), big.into(), now.into(), now.into()]),
                )
                .await
            }
        }
    }

    pub(crate) async fn insert_single_message(&self, m: SingleMessageRow) -> StoreResult<()> {
        let mut c = self.pools.primary().await?;
        super::send::insert_single(&mut *c, m).await
    }

    pub(crate) async fn insert_group_message(&self, m: GroupMessageRow) -> StoreResult<()> {
        let mut c = self.pools.primary().await?;
        super::send::insert_group(&mut *c, m).await
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

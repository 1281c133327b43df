//! Recent-session and relation statements of [`MysqlStore`]: the
//! sessions of a user, create-or-revive of a session and of a pair's
//! relation (under a named lock, or certified on Galera).

use mysql_async::Conn;

use super::galera::{Create, create_certified, retrying_conflicts};
use super::handle::MysqlStore;
use super::named_lock;
use super::query::{change, first, first_int, insert, int, params, rows};
use crate::store::{SessionRecord, StoreResult};

/// The certified creation of a session row (Galera), as
/// [`MysqlStore::add_session`] creates it: the highest id is the session,
/// a found row is left as it is.
pub(super) fn session_spec(user_id: u32, peer_id: u32, kind: u32, now: u32) -> Create<'static> {
    Create {
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

impl MysqlStore {
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

    /// The session of `user_id` with `peer_id`, revived and touched, or
    /// created; run again when a deadlock (with a concurrent group commit
    /// touching the table) rolls a statement back.
    pub(crate) async fn add_session(
        &self,
        user_id: u32,
        peer_id: u32,
        kind: u32,
        now: u32,
    ) -> StoreResult<u32> {
        retrying_conflicts("create", || {
            self.add_session_once(user_id, peer_id, kind, now)
        })
        .await
    }

    async fn add_session_once(
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
        named_lock::lock(&mut c, &lock).await?;
        let result = if galera {
            let spec = Create {
                revive: Some(("status = 0, updated = ?", vec![now.into()])),
                ..session_spec(user_id, peer_id, kind, now)
            };
            create_certified(&mut c, &spec).await
        } else {
            Self::add_session_locked(&mut c, user_id, peer_id, kind, now).await
        };
        named_lock::unlock(&mut c, &lock).await;
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

    /// The active relation of `a` and `b`, revived or created; run again
    /// when a deadlock rolls a statement back.
    pub(crate) async fn create_relation(&self, a: u32, b: u32, now: u32) -> StoreResult<u32> {
        retrying_conflicts("create", || self.create_relation_once(a, b, now)).await
    }

    async fn create_relation_once(&self, a: u32, b: u32, now: u32) -> StoreResult<u32> {
        let mut c = self.pools.primary().await?;
        let (small, big) = (a.min(b), a.max(b));
        // Fast path: an active relation needs no change and no lock.
        if let Some(id) = Self::relation_on(&mut c, small, big).await? {
            return Ok(id);
        }
        let galera = self.galera.galera(&mut c).await?;
        let lock = format!("tt_relation_{small}_{big}");
        // On Galera the lock only spares this node's creators a conflict.
        named_lock::lock(&mut c, &lock).await?;
        let result = if galera {
            let spec = Create {
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
            create_certified(&mut c, &spec).await
        } else {
            Self::create_relation_locked(&mut c, small, big, now).await
        };
        named_lock::unlock(&mut c, &lock).await;
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
}

//! User statements of [`MysqlStore`]: `IMUser` rows by name, id and
//! change time, profile updates, push shield and signature.

use mysql_async::{Params, Value};

use super::handle::MysqlStore;
use super::query::{change, first, first_int, insert, params, rows};
use super::read_rows::{USER_COLUMNS, user};
use crate::store::{StoreResult, UserRecord, UserUpdate};

impl MysqlStore {
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
        self.shared.users_by_ids(ids).await
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
}

//! `IMUser` statements and the user-list change gate.

use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use super::SqliteStore;
use crate::store::{ID_CHUNK, UserRecord, UserUpdate};
use crate::store::{NewUser, StoreResult, UserStore};
use async_trait::async_trait;

pub(super) const USER_COLUMNS: &str = "id, sex, name, domain, nick, password, salt, phone, email, avatar, \
     departId, status, created, updated, push_shield_status, sign_info";

/// Name of the user-list change gate in `tt_state`.
pub(super) const GATE: &str = "user_list_gate";

fn out_of_range(idx: usize, e: std::num::TryFromIntError) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(idx, Type::Integer, Box::new(e))
}

/// Reads an integer column as `u32`; NULL is 0 (the original crashes).
pub(super) fn u32_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<u32> {
    let v: Option<i64> = row.get(idx)?;
    u32::try_from(v.unwrap_or(0)).map_err(|e| out_of_range(idx, e))
}

/// Reads a text column; NULL is the empty string.
pub(super) fn text_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<String> {
    Ok(row.get::<_, Option<String>>(idx)?.unwrap_or_default())
}

/// A new row's id as `u32`.
pub(super) fn last_id(c: &Connection) -> rusqlite::Result<u32> {
    u32::try_from(c.last_insert_rowid()).map_err(|e| out_of_range(0, e))
}

pub(super) fn user_from_row(row: &Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        id: u32_col(row, 0)?,
        sex: u32_col(row, 1)?,
        name: text_col(row, 2)?,
        domain: text_col(row, 3)?,
        nick: text_col(row, 4)?,
        password: text_col(row, 5)?,
        salt: text_col(row, 6)?,
        phone: text_col(row, 7)?,
        email: text_col(row, 8)?,
        avatar: text_col(row, 9)?,
        depart_id: u32_col(row, 10)?,
        status: u32_col(row, 11)?,
        created: u32_col(row, 12)?,
        updated: u32_col(row, 13)?,
        push_shield_status: u32_col(row, 14)?,
        sign_info: text_col(row, 15)?,
    })
}

fn query_users(
    c: &Connection,
    where_clause: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Vec<UserRecord>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM IMUser {where_clause}");
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map(params, user_from_row)?;
    rows.collect()
}

pub(super) fn find_active_by_name(
    c: &Connection,
    name: &str,
) -> rusqlite::Result<Option<UserRecord>> {
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM IMUser WHERE name = ?1 AND status = 0 ORDER BY id DESC LIMIT 1"
    );
    c.prepare_cached(&sql)?
        .query_row(params![name], user_from_row)
        .optional()
}

pub(super) fn insert(c: &Connection, u: &UserRecord) -> rusqlite::Result<u32> {
    let sql = "INSERT INTO IMUser (sex, name, domain, nick, password, salt, phone, email, avatar, \
               departId, status, created, updated, push_shield_status, sign_info) \
               VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";
    c.prepare_cached(sql)?.execute(params![
        u.sex,
        u.name,
        u.domain,
        u.nick,
        u.password,
        u.salt,
        u.phone,
        u.email,
        u.avatar,
        u.depart_id,
        u.status,
        u.created,
        u.updated,
        u.push_shield_status,
        u.sign_info,
    ])?;
    last_id(c)
}

pub(super) fn list(c: &Connection) -> rusqlite::Result<Vec<UserRecord>> {
    query_users(c, "ORDER BY id", [])
}

pub(super) fn by_ids(c: &Connection, ids: &[u32]) -> rusqlite::Result<Vec<UserRecord>> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(ID_CHUNK) {
        let marks = crate::store::placeholders(chunk.len());
        out.extend(query_users(
            c,
            &format!("WHERE id IN ({marks}) ORDER BY id"),
            params_from_iter(chunk),
        )?);
    }
    Ok(out)
}

pub(super) fn changed(c: &Connection, since: u32) -> rusqlite::Result<Vec<UserRecord>> {
    if since == 0 {
        query_users(
            c,
            "WHERE status IS NOT NULL AND status != 3 ORDER BY id",
            [],
        )
    } else {
        query_users(c, "WHERE updated >= ?1 ORDER BY id", params![since])
    }
}

/// Changed-rows semantics: the row only counts if a value differs.
pub(super) fn set_push_shield(
    c: &Connection,
    user_id: u32,
    status: u32,
    now: u32,
) -> rusqlite::Result<bool> {
    let sql = "UPDATE IMUser SET push_shield_status = ?1, updated = ?2 \
               WHERE id = ?3 AND (push_shield_status IS NOT ?1 OR updated IS NOT ?2)";
    Ok(c.prepare_cached(sql)?
        .execute(params![status, now, user_id])?
        > 0)
}

pub(super) fn push_shield(c: &Connection, user_id: u32) -> rusqlite::Result<Option<u32>> {
    c.prepare_cached("SELECT push_shield_status FROM IMUser WHERE id = ?1")?
        .query_row(params![user_id], |r| u32_col(r, 0))
        .optional()
}

pub(super) fn set_sign_info(
    c: &Connection,
    user_id: u32,
    sign_info: &str,
    now: u32,
) -> rusqlite::Result<bool> {
    let sql = "UPDATE IMUser SET sign_info = ?1, updated = ?2 \
               WHERE id = ?3 AND (sign_info IS NOT ?1 OR updated IS NOT ?2)";
    Ok(c.prepare_cached(sql)?
        .execute(params![sign_info, now, user_id])?
        > 0)
}

pub(super) fn update(
    c: &Connection,
    user_id: u32,
    u: &UserUpdate,
    now: u32,
) -> rusqlite::Result<bool> {
    let Some(mut row) = c
        .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM IMUser WHERE id = ?1"))?
        .query_row(params![user_id], user_from_row)
        .optional()?
    else {
        return Ok(false);
    };
    let before = row.clone();
    if let Some(v) = &u.nick {
        row.nick.clone_from(v);
    }
    if let Some(v) = u.depart_id {
        row.depart_id = v;
    }
    if let Some(v) = u.status {
        row.status = v;
    }
    if let Some(v) = &u.sign_info {
        row.sign_info.clone_from(v);
    }
    if let Some((password, salt)) = &u.password_and_salt {
        row.password.clone_from(password);
        row.salt.clone_from(salt);
    }
    row.updated = now;
    if row == before {
        return Ok(false);
    }
    c.execute(
        "UPDATE IMUser SET nick = ?1, departId = ?2, status = ?3, sign_info = ?4, password = ?5, \
         salt = ?6, updated = ?7 WHERE id = ?8",
        params![
            row.nick,
            row.depart_id,
            row.status,
            row.sign_info,
            row.password,
            row.salt,
            now,
            user_id
        ],
    )?;
    Ok(true)
}

/// Name of the sync center's cursor in `tt_state`.
pub(super) const GROUP_SYNC_CURSOR: &str = "last_update_group";

pub(super) fn state_value(c: &Connection, name: &str) -> rusqlite::Result<Option<u32>> {
    c.prepare_cached("SELECT value FROM tt_state WHERE name = ?1")?
        .query_row(params![name], |r| u32_col(r, 0))
        .optional()
}

pub(super) fn set_state_value(c: &Connection, name: &str, at: u32) -> rusqlite::Result<()> {
    c.prepare_cached("INSERT INTO tt_state (name, value) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET value = excluded.value")?
        .execute(params![name, at])?;
    Ok(())
}

pub(super) fn gate(c: &Connection) -> rusqlite::Result<Option<u32>> {
    state_value(c, GATE)
}

pub(super) fn set_gate(c: &Connection, at: u32) -> rusqlite::Result<()> {
    set_state_value(c, GATE, at)
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn find_active_user_by_name(&self, name: &str) -> StoreResult<Option<UserRecord>> {
        let name = name.to_owned();
        self.read(move |c| super::user::find_active_by_name(c, &name))
            .await
    }

    async fn add_user(&self, new: NewUser) -> StoreResult<u32> {
        self.write_keeping(move |c| super::user::insert(c, &new))
            .await
    }

    async fn list_users(&self) -> StoreResult<Vec<UserRecord>> {
        self.read(super::user::list).await
    }

    async fn update_user(&self, user_id: u32, update: UserUpdate, now: u32) -> StoreResult<bool> {
        self.write_keeping(move |c| super::user::update(c, user_id, &update, now))
            .await
    }

    async fn set_push_shield(
        &self,
        user_id: u32,
        shield_status: u32,
        now: u32,
    ) -> StoreResult<bool> {
        self.write_keeping(move |c| super::user::set_push_shield(c, user_id, shield_status, now))
            .await
    }

    async fn push_shield(&self, user_id: u32) -> StoreResult<Option<u32>> {
        self.read(move |c| super::user::push_shield(c, user_id))
            .await
    }

    async fn users_by_ids(&self, ids: &[u32]) -> StoreResult<Vec<UserRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = ids.to_vec();
        self.read(move |c| super::user::by_ids(c, &ids)).await
    }

    async fn changed_users(&self, since: u32) -> StoreResult<Vec<UserRecord>> {
        self.read(move |c| super::user::changed(c, since)).await
    }

    async fn set_sign_info(&self, user_id: u32, sign_info: &str, now: u32) -> StoreResult<bool> {
        let sign_info = sign_info.to_owned();
        self.write_keeping(move |c| super::user::set_sign_info(c, user_id, &sign_info, now))
            .await
    }

    async fn user_list_gate(&self) -> StoreResult<Option<u32>> {
        self.read(super::user::gate).await
    }

    async fn set_user_list_gate(&self, at: u32) -> StoreResult<()> {
        self.write_keeping(move |c| super::user::set_gate(c, at))
            .await
    }
}

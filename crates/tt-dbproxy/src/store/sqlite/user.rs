//! `IMUser` statements of the embedded store.

use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::store::UserRecord;

const USER_COLUMNS: &str = "id, sex, name, domain, nick, password, salt, phone, email, avatar, \
     departId, status, created, updated, push_shield_status, sign_info";

/// Reads an integer column as `u32`; NULL is 0 (the original crashes).
pub(super) fn u32_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<u32> {
    let v: Option<i64> = row.get(idx)?;
    let v = v.unwrap_or(0);
    u32::try_from(v)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(idx, Type::Integer, Box::new(e)))
}

/// Reads a text column; NULL is the empty string.
pub(super) fn text_col(row: &Row<'_>, idx: usize) -> rusqlite::Result<String> {
    Ok(row.get::<_, Option<String>>(idx)?.unwrap_or_default())
}

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<UserRecord> {
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

pub(super) fn insert(c: &mut Connection, u: &UserRecord) -> rusqlite::Result<u32> {
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
    let id = c.last_insert_rowid();
    u32::try_from(id)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, Type::Integer, Box::new(e)))
}

pub(super) fn list(c: &Connection) -> rusqlite::Result<Vec<UserRecord>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM IMUser ORDER BY id");
    let mut stmt = c.prepare_cached(&sql)?;
    let rows = stmt.query_map([], user_from_row)?;
    rows.collect()
}

/// Changed-rows semantics: the row only counts if a value differs.
pub(super) fn set_push_shield(
    c: &mut Connection,
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

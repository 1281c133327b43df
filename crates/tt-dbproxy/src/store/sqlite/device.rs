//! Push tokens. One row per user; a token belongs to at most one user.

use rusqlite::{Connection, params, params_from_iter};

use super::SqliteStore;
use super::user::{text_col, u32_col};
use crate::store::{DeviceStore, StoreResult};
use crate::store::{DeviceToken, ID_CHUNK, Platform};
use async_trait::async_trait;

pub(super) fn platform_name(p: Platform) -> &'static str {
    match p {
        Platform::Ios => "ios",
        Platform::Android => "android",
        Platform::Other => "other",
    }
}

pub(super) fn platform_of(name: &str) -> Platform {
    match name {
        "ios" => Platform::Ios,
        "android" => Platform::Android,
        _ => Platform::Other,
    }
}

pub(super) fn register(
    c: &Connection,
    user_id: u32,
    platform: Platform,
    token: &str,
) -> rusqlite::Result<()> {
    // A previous owner of this token stops receiving this device's pushes.
    c.execute(
        "DELETE FROM tt_device_token WHERE token = ?1 AND user_id != ?2",
        params![token, user_id],
    )?;
    c.execute(
        "INSERT INTO tt_device_token (user_id, platform, token) VALUES (?1, ?2, ?3) \
         ON CONFLICT (user_id) DO UPDATE SET platform = excluded.platform, token = excluded.token",
        params![user_id, platform_name(platform), token],
    )?;
    Ok(())
}

/// Removes the user's row: the token is nobody's afterwards (a token
/// belongs to at most one user, so no other row names it).
pub(super) fn clear(c: &Connection, user_id: u32) -> rusqlite::Result<()> {
    c.execute(
        "DELETE FROM tt_device_token WHERE user_id = ?1",
        params![user_id],
    )?;
    Ok(())
}

pub(super) fn tokens(c: &Connection, user_ids: &[u32]) -> rusqlite::Result<Vec<DeviceToken>> {
    let mut ids = user_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let mut out = Vec::new();
    for chunk in ids.chunks(ID_CHUNK) {
        let marks = crate::store::placeholders(chunk.len());
        let mut stmt = c.prepare_cached(&format!(
            "SELECT user_id, platform, token FROM tt_device_token WHERE user_id IN ({marks}) ORDER BY user_id"
        ))?;
        let rows = stmt.query_map(params_from_iter(chunk), |r| {
            Ok(DeviceToken {
                user_id: u32_col(r, 0)?,
                platform: platform_of(&text_col(r, 1)?),
                token: text_col(r, 2)?,
            })
        })?;
        for row in rows {
            out.push(row?);
        }
    }
    Ok(out)
}

#[async_trait]
impl DeviceStore for SqliteStore {
    async fn register_device_token(
        &self,
        user_id: u32,
        platform: Platform,
        token: &str,
    ) -> StoreResult<()> {
        let token = token.to_owned();
        self.write_keeping(move |c| super::device::register(c, user_id, platform, &token))
            .await
    }

    async fn clear_device_token(&self, user_id: u32) -> StoreResult<()> {
        self.write_keeping(move |c| super::device::clear(c, user_id))
            .await
    }

    async fn device_tokens(&self, user_ids: &[u32]) -> StoreResult<Vec<DeviceToken>> {
        let ids = user_ids.to_vec();
        self.read(move |c| super::device::tokens(c, &ids)).await
    }
}

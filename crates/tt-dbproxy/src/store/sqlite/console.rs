//! The web console's storage on the embedded store: `IMAdmin` with
//! `tt_admin_password`, sessions, sign-in failures and the audit log in
//! tables of our own, the operator's edits of `IMUser`, `IMDepart` and
//! `IMGroup`, and `IMDiscovery`.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::SqliteStore;
use super::user::{last_id, text_col, u32_col};
use crate::store::console_domain::{
    AUDIT_KEEP, AuditEntry, ConsoleAccount, ConsoleAccountStore, ConsoleSession,
    ConsoleSessionStore, DirectoryAdminStore, DiscoveryItem, DiscoveryStore, PWD_MARKER, UserEdit,
};
use crate::store::{DepartRecord, StoreResult, UserRecord};

/// A day: failures older than this are deleted.
const FAILURE_RETENTION: u32 = 86_400;

const ACCOUNT_SELECT: &str = "SELECT a.id, a.uname, a.pwd, p.hash, a.status, a.created, a.updated \
     FROM IMAdmin a LEFT JOIN tt_admin_password p ON p.admin_id = a.id";

fn account(r: &Row<'_>) -> rusqlite::Result<ConsoleAccount> {
    Ok(ConsoleAccount {
        id: u32_col(r, 0)?,
        name: text_col(r, 1)?,
        legacy_pwd: text_col(r, 2)?,
        hash: r.get(3)?,
        status: u32_col(r, 4)?,
        created: u32_col(r, 5)?,
        updated: u32_col(r, 6)?,
    })
}

fn session(r: &Row<'_>) -> rusqlite::Result<ConsoleSession> {
    Ok(ConsoleSession {
        token_hash: text_col(r, 0)?,
        account_id: u32_col(r, 1)?,
        csrf: text_col(r, 2)?,
        must_change: u32_col(r, 3)? != 0,
        expires: u32_col(r, 4)?,
    })
}

fn discovery(r: &Row<'_>) -> rusqlite::Result<DiscoveryItem> {
    Ok(DiscoveryItem {
        id: u32_col(r, 0)?,
        name: text_col(r, 1)?,
        url: text_col(r, 2)?,
        priority: u32_col(r, 3)?,
        status: u32_col(r, 4)?,
        created: u32_col(r, 5)?,
        updated: u32_col(r, 6)?,
    })
}

fn set_hash(c: &Connection, id: u32, hash: &str, now: u32) -> rusqlite::Result<bool> {
    let n = c.execute(
        "UPDATE IMAdmin SET pwd = ?1, updated = ?2 WHERE id = ?3",
        params![PWD_MARKER, now, id],
    )?;
    if n == 0 {
        return Ok(false);
    }
    c.execute(
        "INSERT INTO tt_admin_password (admin_id, hash, updated) VALUES (?1, ?2, ?3) \
         ON CONFLICT (admin_id) DO UPDATE SET hash = excluded.hash, updated = excluded.updated",
        params![id, hash, now],
    )?;
    Ok(true)
}

#[async_trait]
impl ConsoleAccountStore for SqliteStore {
    async fn prepare_console(&self) -> StoreResult<()> {
        Ok(())
    }

    async fn console_accounts(&self) -> StoreResult<Vec<ConsoleAccount>> {
        self.read(|c| {
            let mut s = c.prepare_cached(&format!("{ACCOUNT_SELECT} ORDER BY a.id"))?;
            let rows = s.query_map([], account)?;
            rows.collect()
        })
        .await
    }

    async fn console_account_by_name(&self, name: &str) -> StoreResult<Option<ConsoleAccount>> {
        let name = name.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "{ACCOUNT_SELECT} WHERE a.uname = ?1 ORDER BY a.id DESC LIMIT 1"
            ))?
            .query_row(params![name], account)
            .optional()
        })
        .await
    }

    async fn console_account(&self, id: u32) -> StoreResult<Option<ConsoleAccount>> {
        self.read(move |c| {
            c.prepare_cached(&format!("{ACCOUNT_SELECT} WHERE a.id = ?1"))?
                .query_row(params![id], account)
                .optional()
        })
        .await
    }

    async fn add_console_account(&self, name: &str, hash: &str, now: u32) -> StoreResult<u32> {
        let (name, hash) = (name.to_owned(), hash.to_owned());
        self.write(move |c| {
            c.execute(
                "INSERT INTO IMAdmin (uname, pwd, status, created, updated) VALUES (?1, ?2, 0, ?3, ?3)",
                params![name, PWD_MARKER, now],
            )?;
            let id = last_id(c)?;
            set_hash(c, id, &hash, now)?;
            Ok(id)
        })
        .await
    }

    async fn set_console_password(&self, id: u32, hash: &str, now: u32) -> StoreResult<bool> {
        let hash = hash.to_owned();
        self.write(move |c| set_hash(c, id, &hash, now)).await
    }

    async fn set_console_account_status(
        &self,
        id: u32,
        status: u32,
        now: u32,
    ) -> StoreResult<bool> {
        self.write(move |c| {
            Ok(c.execute(
                "UPDATE IMAdmin SET status = ?1, updated = ?2 WHERE id = ?3",
                params![status, now, id],
            )? > 0)
        })
        .await
    }
}

#[async_trait]
impl ConsoleSessionStore for SqliteStore {
    async fn create_console_session(&self, s: ConsoleSession, now: u32) -> StoreResult<()> {
        self.write(move |c| {
            c.execute(
                "DELETE FROM tt_console_session WHERE expires <= ?1",
                params![now],
            )?;
            c.execute(
                "INSERT INTO tt_console_session (token_hash, account_id, csrf, must_change, expires) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![s.token_hash, s.account_id, s.csrf, u32::from(s.must_change), s.expires],
            )?;
            Ok(())
        })
        .await
    }

    async fn console_session(
        &self,
        token_hash: &str,
        now: u32,
    ) -> StoreResult<Option<ConsoleSession>> {
        let token_hash = token_hash.to_owned();
        self.read(move |c| {
            c.prepare_cached(
                "SELECT token_hash, account_id, csrf, must_change, expires FROM tt_console_session \
                 WHERE token_hash = ?1 AND expires > ?2",
            )?
            .query_row(params![token_hash, now], session)
            .optional()
        })
        .await
    }

    async fn end_console_session(&self, token_hash: &str) -> StoreResult<()> {
        let token_hash = token_hash.to_owned();
        self.write(move |c| {
            c.execute(
                "DELETE FROM tt_console_session WHERE token_hash = ?1",
                params![token_hash],
            )
            .map(drop)
        })
        .await
    }

    async fn end_console_sessions_of(&self, account_id: u32) -> StoreResult<()> {
        self.write(move |c| {
            c.execute(
                "DELETE FROM tt_console_session WHERE account_id = ?1",
                params![account_id],
            )
            .map(drop)
        })
        .await
    }

    async fn console_failures(&self, key: &str, since: u32) -> StoreResult<u32> {
        let key = key.to_owned();
        self.read(move |c| {
            c.prepare_cached("SELECT COUNT(*) FROM tt_console_failure WHERE k = ?1 AND at >= ?2")?
                .query_row(params![key, since], |r| u32_col(r, 0))
        })
        .await
    }

    async fn record_console_failure(&self, key: &str, now: u32) -> StoreResult<()> {
        let key = key.to_owned();
        self.write(move |c| {
            c.execute(
                "DELETE FROM tt_console_failure WHERE at < ?1",
                params![now.saturating_sub(FAILURE_RETENTION)],
            )?;
            c.execute(
                "INSERT INTO tt_console_failure (k, at) VALUES (?1, ?2)",
                params![key, now],
            )
            .map(drop)
        })
        .await
    }

    async fn clear_console_failures(&self, key: &str) -> StoreResult<()> {
        let key = key.to_owned();
        self.write(move |c| {
            c.execute("DELETE FROM tt_console_failure WHERE k = ?1", params![key])
                .map(drop)
        })
        .await
    }

    async fn add_audit(&self, e: AuditEntry) -> StoreResult<()> {
        self.write(move |c| {
            c.execute(
                "INSERT INTO tt_console_audit (at, who, what, source) VALUES (?1, ?2, ?3, ?4)",
                params![e.at, e.who, e.what, e.from],
            )?;
            let newest = c.last_insert_rowid();
            c.execute(
                "DELETE FROM tt_console_audit WHERE id <= ?1",
                params![newest - i64::from(AUDIT_KEEP)],
            )
            .map(drop)
        })
        .await
    }

    async fn audit_log(&self, offset: u32, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        self.read(move |c| {
            let mut s = c.prepare_cached(
                "SELECT id, at, who, what, source FROM tt_console_audit ORDER BY id DESC LIMIT ?1 OFFSET ?2",
            )?;
            let rows = s.query_map(params![limit, offset], |r| {
                Ok(AuditEntry {
                    id: u64::from(u32_col(r, 0)?),
                    at: u32_col(r, 1)?,
                    who: text_col(r, 2)?,
                    what: text_col(r, 3)?,
                    from: text_col(r, 4)?,
                })
            })?;
            rows.collect()
        })
        .await
    }
}

/// `%search%` for `LIKE … ESCAPE '!'`.
pub(crate) fn like_pattern(search: &str) -> String {
    let mut p = String::from("%");
    for ch in search.chars() {
        if matches!(ch, '!' | '%' | '_') {
            p.push('!');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

#[async_trait]
impl DirectoryAdminStore for SqliteStore {
    async fn search_users(
        &self,
        search: &str,
        offset: u32,
        limit: u32,
    ) -> StoreResult<(Vec<UserRecord>, u64)> {
        let pattern = like_pattern(search);
        self.read(move |c| {
            let filter = "WHERE name LIKE ?1 ESCAPE '!' OR nick LIKE ?1 ESCAPE '!'";
            let total: i64 = c
                .prepare_cached(&format!("SELECT COUNT(*) FROM IMUser {filter}"))?
                .query_row(params![pattern], |r| r.get(0))?;
            let mut s = c.prepare_cached(&format!(
                "SELECT {} FROM IMUser {filter} ORDER BY id LIMIT ?2 OFFSET ?3",
                super::user::USER_COLUMNS
            ))?;
            let rows = s.query_map(params![pattern, limit, offset], super::user::user_from_row)?;
            Ok((
                rows.collect::<rusqlite::Result<Vec<_>>>()?,
                u64::try_from(total).unwrap_or(0),
            ))
        })
        .await
    }

    async fn edit_user(&self, user_id: u32, e: UserEdit, now: u32) -> StoreResult<bool> {
        self.write(move |c| {
            let n = c.execute(
                "UPDATE IMUser SET name = ?1, nick = ?2, sex = ?3, phone = ?4, email = ?5, avatar = ?6, \
                 domain = ?7, departId = ?8, status = ?9, updated = ?10 WHERE id = ?11",
                params![
                    e.name, e.nick, e.sex, e.phone, e.email, e.avatar, e.domain, e.depart_id,
                    e.status, now, user_id
                ],
            )?;
            if n > 0
                && let Some((password, salt)) = &e.password_and_salt
            {
                c.execute(
                    "UPDATE IMUser SET password = ?1, salt = ?2 WHERE id = ?3",
                    params![password, salt, user_id],
                )?;
            }
            Ok(n > 0)
        })
        .await
    }

    async fn department(&self, id: u32) -> StoreResult<Option<DepartRecord>> {
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {} FROM IMDepart WHERE id = ?1",
                super::depart::COLUMNS
            ))?
            .query_row(params![id], super::depart::from_row)
            .optional()
        })
        .await
    }

    async fn edit_department(&self, d: DepartRecord, now: u32) -> StoreResult<bool> {
        self.write(move |c| {
            Ok(c.execute(
                "UPDATE IMDepart SET departName = ?1, priority = ?2, parentId = ?3, updated = ?4 WHERE id = ?5",
                params![d.name, d.priority, d.parent_id, now, d.id],
            )? > 0)
        })
        .await
    }

    async fn department_references(&self, id: u32) -> StoreResult<(u64, u64)> {
        self.read(move |c| {
            let users: i64 = c.query_row(
                "SELECT COUNT(*) FROM IMUser WHERE departId = ?1 AND status = 0",
                params![id],
                |r| r.get(0),
            )?;
            let children: i64 = c.query_row(
                "SELECT COUNT(*) FROM IMDepart WHERE parentId = ?1 AND status = 0 AND id != ?1",
                params![id],
                |r| r.get(0),
            )?;
            Ok((
                u64::try_from(users).unwrap_or(0),
                u64::try_from(children).unwrap_or(0),
            ))
        })
        .await
    }

    async fn delete_department(&self, id: u32, now: u32) -> StoreResult<bool> {
        self.write(move |c| {
            Ok(c.execute(
                "UPDATE IMDepart SET status = 1, updated = ?1 WHERE id = ?2",
                params![now, id],
            )? > 0)
        })
        .await
    }

    async fn edit_group(&self, id: u32, name: &str, avatar: &str, now: u32) -> StoreResult<bool> {
        let (name, avatar) = (name.to_owned(), avatar.to_owned());
        self.write(move |c| {
            Ok(c.execute(
                "UPDATE IMGroup SET name = ?1, avatar = ?2, version = version + 1, updated = ?3 WHERE id = ?4",
                params![name, avatar, now, id],
            )? > 0)
        })
        .await
    }
}

#[async_trait]
impl DiscoveryStore for SqliteStore {
    async fn discovery_items(&self) -> StoreResult<Vec<DiscoveryItem>> {
        self.read(|c| {
            let mut s = c.prepare_cached(
                "SELECT id, itemName, itemUrl, itemPriority, status, created, updated FROM IMDiscovery \
                 ORDER BY itemPriority, id",
            )?;
            let rows = s.query_map([], discovery)?;
            rows.collect()
        })
        .await
    }

    async fn add_discovery_item(&self, i: DiscoveryItem) -> StoreResult<u32> {
        self.write(move |c| {
            c.execute(
                "INSERT INTO IMDiscovery (itemName, itemUrl, itemPriority, status, created, updated) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![i.name, i.url, i.priority, i.status, i.created, i.updated],
            )?;
            last_id(c)
        })
        .await
    }

    async fn edit_discovery_item(&self, i: DiscoveryItem, now: u32) -> StoreResult<bool> {
        self.write(move |c| {
            Ok(c.execute(
                "UPDATE IMDiscovery SET itemName = ?1, itemUrl = ?2, itemPriority = ?3, status = ?4, \
                 updated = ?5 WHERE id = ?6",
                params![i.name, i.url, i.priority, i.status, now, i.id],
            )? > 0)
        })
        .await
    }

    async fn delete_discovery_item(&self, id: u32) -> StoreResult<bool> {
        self.write(move |c| {
            Ok(c.execute("DELETE FROM IMDiscovery WHERE id = ?1", params![id])? > 0)
        })
        .await
    }
}

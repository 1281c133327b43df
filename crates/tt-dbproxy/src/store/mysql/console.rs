//! The web console's statements on MySQL: `IMAdmin` with
//! `tt_admin_password`, sessions, sign-in failures and the audit log in
//! tables of our own (created by [`MysqlStore::prepare_console`] where
//! missing), the operator's edits of `IMUser`, `IMDepart` and `IMGroup`,
//! and `IMDiscovery`. Everything here runs on the primary: a session just
//! created must be found by the next request.

use mysql_async::prelude::Queryable;
use mysql_async::{Params, Row, Value};

use super::error::map_err;
use super::handle::MysqlStore;
use super::query::{change, first, insert, int, params, rows, text};
use super::read_rows::{USER_COLUMNS, user};
use crate::store::console_domain::{
    AUDIT_KEEP, AuditEntry, ConsoleAccount, ConsoleSession, DiscoveryItem, PWD_MARKER, UserEdit,
};
use crate::store::{DepartRecord, StoreResult, UserRecord};

/// The console's own tables.
const TABLES: &[&str] = &[
    r"CREATE TABLE IF NOT EXISTS `tt_admin_password` (
  `admin_id` int(11) unsigned NOT NULL,
  `hash` varchar(255) NOT NULL,
  `updated` int(11) unsigned NOT NULL,
  PRIMARY KEY (`admin_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    r"CREATE TABLE IF NOT EXISTS `tt_console_session` (
  `token_hash` char(64) NOT NULL,
  `account_id` int(11) unsigned NOT NULL,
  `csrf` varchar(64) NOT NULL,
  `must_change` tinyint(3) unsigned NOT NULL,
  `expires` int(11) unsigned NOT NULL,
  PRIMARY KEY (`token_hash`),
  KEY `idx_account` (`account_id`),
  KEY `idx_expires` (`expires`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    r"CREATE TABLE IF NOT EXISTS `tt_console_failure` (
  `id` bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  `k` varchar(191) NOT NULL,
  `at` int(11) unsigned NOT NULL,
  PRIMARY KEY (`id`),
  KEY `idx_k_at` (`k`, `at`),
  KEY `idx_at` (`at`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    r"CREATE TABLE IF NOT EXISTS `tt_console_audit` (
  `id` bigint(20) unsigned NOT NULL AUTO_INCREMENT,
  `at` int(11) unsigned NOT NULL,
  `who` varchar(191) NOT NULL,
  `what` varchar(2048) NOT NULL,
  `source` varchar(64) NOT NULL,
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
];

const ACCOUNT_SELECT: &str = "SELECT a.id, a.uname, a.pwd, p.hash, a.status, a.created, a.updated \
     FROM IMAdmin a LEFT JOIN tt_admin_password p ON p.admin_id = a.id";

/// A day: sign-in failures older than this are deleted.
const FAILURE_RETENTION: u32 = 86_400;

fn account(mut r: Row) -> StoreResult<ConsoleAccount> {
    let hash = text(&mut r, 3)?;
    Ok(ConsoleAccount {
        id: int(&mut r, 0)?,
        name: text(&mut r, 1)?,
        legacy_pwd: text(&mut r, 2)?,
        hash: (!hash.is_empty()).then_some(hash),
        status: int(&mut r, 4)?,
        created: int(&mut r, 5)?,
        updated: int(&mut r, 6)?,
    })
}

fn discovery(mut r: Row) -> StoreResult<DiscoveryItem> {
    Ok(DiscoveryItem {
        id: int(&mut r, 0)?,
        name: text(&mut r, 1)?,
        url: text(&mut r, 2)?,
        priority: int(&mut r, 3)?,
        status: int(&mut r, 4)?,
        created: int(&mut r, 5)?,
        updated: int(&mut r, 6)?,
    })
}

fn count(row: Option<Row>) -> StoreResult<u64> {
    Ok(row
        .map(|mut r| int(&mut r, 0))
        .transpose()?
        .map_or(0, u64::from))
}

/// `%search%` for `LIKE … ESCAPE '!'`.
fn like_pattern(search: &str) -> String {
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

impl MysqlStore {
    /// Creates the console's tables where missing.
    pub(crate) async fn prepare_console(&self) -> StoreResult<()> {
        let mut c = self.pools.primary().await?;
        for sql in TABLES {
            c.query_drop(*sql).await.map_err(map_err)?;
        }
        Ok(())
    }

    async fn accounts_where(&self, tail: &str, p: Params) -> StoreResult<Vec<ConsoleAccount>> {
        let mut c = self.pools.primary().await?;
        let sql = format!("{ACCOUNT_SELECT} {tail}");
        rows(&mut c, &sql, p)
            .await?
            .into_iter()
            .map(account)
            .collect()
    }

    pub(crate) async fn console_accounts(&self) -> StoreResult<Vec<ConsoleAccount>> {
        self.accounts_where("ORDER BY a.id", Params::Empty).await
    }

    pub(crate) async fn console_account_by_name(
        &self,
        name: &str,
    ) -> StoreResult<Option<ConsoleAccount>> {
        let mut v = self
            .accounts_where(
                "WHERE BINARY a.uname = ? ORDER BY a.id DESC LIMIT 1",
                params(vec![name.into()]),
            )
            .await?;
        Ok(v.pop())
    }

    pub(crate) async fn console_account(&self, id: u32) -> StoreResult<Option<ConsoleAccount>> {
        let mut v = self
            .accounts_where("WHERE a.id = ?", params(vec![id.into()]))
            .await?;
        Ok(v.pop())
    }

    pub(crate) async fn add_console_account(
        &self,
        name: &str,
        hash: &str,
        now: u32,
    ) -> StoreResult<u32> {
        let mut c = self.pools.primary().await?;
        let id = insert(
            &mut c,
            "INSERT INTO IMAdmin (uname, pwd, status, created, updated) VALUES (?, ?, 0, ?, ?)",
            params(vec![name.into(), PWD_MARKER.into(), now.into(), now.into()]),
        )
        .await?;
        drop(c);
        self.set_console_password(id, hash, now).await?;
        Ok(id)
    }

    pub(crate) async fn set_console_password(
        &self,
        id: u32,
        hash: &str,
        now: u32,
    ) -> StoreResult<bool> {
        let mut c = self.pools.primary().await?;
        if first(
            &mut c,
            "SELECT id FROM IMAdmin WHERE id = ?",
            params(vec![id.into()]),
        )
        .await?
        .is_none()
        {
            return Ok(false);
        }
        change(
            &mut c,
            "INSERT INTO tt_admin_password (admin_id, hash, updated) VALUES (?, ?, ?) \
             ON DUPLICATE KEY UPDATE hash = VALUES(hash), updated = VALUES(updated)",
            params(vec![id.into(), hash.into(), now.into()]),
        )
        .await?;
        change(
            &mut c,
            "UPDATE IMAdmin SET pwd = ?, updated = ? WHERE id = ?",
            params(vec![PWD_MARKER.into(), now.into(), id.into()]),
        )
        .await?;
        Ok(true)
    }

    pub(crate) async fn set_console_account_status(
        &self,
        id: u32,
        status: u32,
        now: u32,
    ) -> StoreResult<bool> {
        let mut c = self.pools.primary().await?;
        change(
            &mut c,
            "UPDATE IMAdmin SET status = ?, updated = ? WHERE id = ?",
            params(vec![status.into(), now.into(), id.into()]),
        )
        .await?;
        Ok(first(
            &mut c,
            "SELECT id FROM IMAdmin WHERE id = ?",
            params(vec![id.into()]),
        )
        .await?
        .is_some())
    }

    pub(crate) async fn create_console_session(
        &self,
        s: ConsoleSession,
        now: u32,
    ) -> StoreResult<()> {
        let mut c = self.pools.primary().await?;
        change(
            &mut c,
            "DELETE FROM tt_console_session WHERE expires <= ?",
            params(vec![now.into()]),
        )
        .await?;
        change(
            &mut c,
            "INSERT INTO tt_console_session (token_hash, account_id, csrf, must_change, expires) \
             VALUES (?, ?, ?, ?, ?)",
            params(vec![
                s.token_hash.into(),
                s.account_id.into(),
                s.csrf.into(),
                u32::from(s.must_change).into(),
                s.expires.into(),
            ]),
        )
        .await
        .map(drop)
    }

    pub(crate) async fn console_session(
        &self,
        token_hash: &str,
        now: u32,
    ) -> StoreResult<Option<ConsoleSession>> {
        let mut c = self.pools.primary().await?;
        let row = first(
            &mut c,
            "SELECT token_hash, account_id, csrf, must_change, expires FROM tt_console_session \
             WHERE token_hash = ? AND expires > ?",
            params(vec![token_hash.into(), now.into()]),
        )
        .await?;
        row.map(|mut r| {
            Ok(ConsoleSession {
                token_hash: text(&mut r, 0)?,
                account_id: int(&mut r, 1)?,
                csrf: text(&mut r, 2)?,
                must_change: int(&mut r, 3)? != 0,
                expires: int(&mut r, 4)?,
            })
        })
        .transpose()
    }

    /// Runs one statement on the primary.
    pub(crate) async fn console_exec(&self, sql: &str, p: Vec<Value>) -> StoreResult<u64> {
        let mut c = self.pools.primary().await?;
        change(&mut c, sql, params(p)).await
    }

    pub(crate) async fn console_failures(&self, key: &str, since: u32) -> StoreResult<u32> {
        let mut c = self.pools.primary().await?;
        let row = first(
            &mut c,
            "SELECT COUNT(*) FROM tt_console_failure WHERE k = ? AND at >= ?",
            params(vec![key.into(), since.into()]),
        )
        .await?;
        Ok(u32::try_from(count(row)?).unwrap_or(u32::MAX))
    }

    pub(crate) async fn record_console_failure(&self, key: &str, now: u32) -> StoreResult<()> {
        let mut c = self.pools.primary().await?;
        change(
            &mut c,
            "DELETE FROM tt_console_failure WHERE at < ?",
            params(vec![now.saturating_sub(FAILURE_RETENTION).into()]),
        )
        .await?;
        change(
            &mut c,
            "INSERT INTO tt_console_failure (k, at) VALUES (?, ?)",
            params(vec![key.into(), now.into()]),
        )
        .await
        .map(drop)
    }

    pub(crate) async fn add_audit(&self, e: AuditEntry) -> StoreResult<()> {
        let mut c = self.pools.primary().await?;
        let id = insert(
            &mut c,
            "INSERT INTO tt_console_audit (at, who, what, source) VALUES (?, ?, ?, ?)",
            params(vec![
                e.at.into(),
                e.who.into(),
                e.what.into(),
                e.from.into(),
            ]),
        )
        .await?;
        change(
            &mut c,
            "DELETE FROM tt_console_audit WHERE id <= ?",
            params(vec![(i64::from(id) - i64::from(AUDIT_KEEP)).into()]),
        )
        .await
        .map(drop)
    }

    pub(crate) async fn audit_log(&self, offset: u32, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        let mut c = self.pools.primary().await?;
        rows(
            &mut c,
            "SELECT id, at, who, what, source FROM tt_console_audit ORDER BY id DESC LIMIT ? OFFSET ?",
            params(vec![limit.into(), offset.into()]),
        )
        .await?
        .into_iter()
        .map(|mut r| {
            Ok(AuditEntry {
                id: u64::from(int(&mut r, 0)?),
                at: int(&mut r, 1)?,
                who: text(&mut r, 2)?,
                what: text(&mut r, 3)?,
                from: text(&mut r, 4)?,
            })
        })
        .collect()
    }

    pub(crate) async fn search_users(
        &self,
        search: &str,
        offset: u32,
        limit: u32,
    ) -> StoreResult<(Vec<UserRecord>, u64)> {
        let pattern = like_pattern(search);
        let filter = "WHERE name LIKE ? ESCAPE '!' OR nick LIKE ? ESCAPE '!'";
        let mut c = self.pools.primary().await?;
        let total = count(
            first(
                &mut c,
                &format!("SELECT COUNT(*) FROM IMUser {filter}"),
                params(vec![pattern.clone().into(), pattern.clone().into()]),
            )
            .await?,
        )?;
        let list = rows(
            &mut c,
            &format!("SELECT {USER_COLUMNS} FROM IMUser {filter} ORDER BY id LIMIT ? OFFSET ?"),
            params(vec![
                pattern.clone().into(),
                pattern.into(),
                limit.into(),
                offset.into(),
            ]),
        )
        .await?
        .into_iter()
        .map(user)
        .collect::<StoreResult<Vec<_>>>()?;
        Ok((list, total))
    }

    /// Whether a row of `table` has this id.
    async fn exists(&self, table: &str, id: u32) -> StoreResult<bool> {
        let mut c = self.pools.primary().await?;
        Ok(first(
            &mut c,
            &format!("SELECT id FROM {table} WHERE id = ?"),
            params(vec![id.into()]),
        )
        .await?
        .is_some())
    }

    pub(crate) async fn edit_user(&self, id: u32, e: UserEdit, now: u32) -> StoreResult<bool> {
        let mut sets = String::from(
            "name = ?, nick = ?, sex = ?, phone = ?, email = ?, avatar = ?, domain = ?, \
             departId = ?, status = ?, updated = ?",
        );
        let mut p: Vec<Value> = vec![
            e.name.into(),
            e.nick.into(),
            e.sex.into(),
            e.phone.into(),
            e.email.into(),
            e.avatar.into(),
            e.domain.into(),
            e.depart_id.into(),
            e.status.into(),
            now.into(),
        ];
        if let Some((password, salt)) = e.password_and_salt {
            sets.push_str(", password = ?, salt = ?");
            p.push(password.into());
            p.push(salt.into());
        }
        p.push(id.into());
        let n = self
            .console_exec(&format!("UPDATE IMUser SET {sets} WHERE id = ?"), p)
            .await?;
        Ok(n > 0 || self.exists("IMUser", id).await?)
    }

    pub(crate) async fn department(&self, id: u32) -> StoreResult<Option<DepartRecord>> {
        let mut c = self.pools.primary().await?;
        first(
            &mut c,
            "SELECT id, departName, priority, parentId, status, created, updated FROM IMDepart WHERE id = ?",
            params(vec![id.into()]),
        )
        .await?
        .map(|mut r| {
            Ok(DepartRecord {
                id: int(&mut r, 0)?,
                name: text(&mut r, 1)?,
                priority: int(&mut r, 2)?,
                parent_id: int(&mut r, 3)?,
                status: int(&mut r, 4)?,
                created: int(&mut r, 5)?,
                updated: int(&mut r, 6)?,
            })
        })
        .transpose()
    }

    pub(crate) async fn edit_department(&self, d: DepartRecord, now: u32) -> StoreResult<bool> {
        let n = self
            .console_exec(
                "UPDATE IMDepart SET departName = ?, priority = ?, parentId = ?, updated = ? WHERE id = ?",
                vec![
                    d.name.into(),
                    d.priority.into(),
                    d.parent_id.into(),
                    now.into(),
                    d.id.into(),
                ],
            )
            .await?;
        Ok(n > 0 || self.exists("IMDepart", d.id).await?)
    }

    pub(crate) async fn department_references(&self, id: u32) -> StoreResult<(u64, u64)> {
        let mut c = self.pools.primary().await?;
        let users = count(
            first(
                &mut c,
                "SELECT COUNT(*) FROM IMUser WHERE departId = ? AND status = 0",
                params(vec![id.into()]),
            )
            .await?,
        )?;
        let children = count(
            first(
                &mut c,
                "SELECT COUNT(*) FROM IMDepart WHERE parentId = ? AND status = 0 AND id != ?",
                params(vec![id.into(), id.into()]),
            )
            .await?,
        )?;
        Ok((users, children))
    }

    pub(crate) async fn delete_department(&self, id: u32, now: u32) -> StoreResult<bool> {
        let n = self
            .console_exec(
                "UPDATE IMDepart SET status = 1, updated = ? WHERE id = ?",
                vec![now.into(), id.into()],
            )
            .await?;
        Ok(n > 0 || self.exists("IMDepart", id).await?)
    }

    pub(crate) async fn edit_group(
        &self,
        id: u32,
        name: &str,
        avatar: &str,
        now: u32,
    ) -> StoreResult<bool> {
        let n = self
            .console_exec(
                "UPDATE IMGroup SET name = ?, avatar = ?, version = version + 1, updated = ? WHERE id = ?",
                vec![name.into(), avatar.into(), now.into(), id.into()],
            )
            .await?;
        Ok(n > 0 || self.exists("IMGroup", id).await?)
    }

    pub(crate) async fn discovery_items(&self) -> StoreResult<Vec<DiscoveryItem>> {
        let mut c = self.pools.primary().await?;
        rows(
            &mut c,
            "SELECT id, itemName, itemUrl, itemPriority, status, created, updated FROM IMDiscovery \
             ORDER BY itemPriority, id",
            Params::Empty,
        )
        .await?
        .into_iter()
        .map(discovery)
        .collect()
    }

    pub(crate) async fn add_discovery_item(&self, i: DiscoveryItem) -> StoreResult<u32> {
        let mut c = self.pools.primary().await?;
        insert(
            &mut c,
            "INSERT INTO IMDiscovery (itemName, itemUrl, itemPriority, status, created, updated) \
             VALUES (?, ?, ?, ?, ?, ?)",
            params(vec![
                i.name.into(),
                i.url.into(),
                i.priority.into(),
                i.status.into(),
                i.created.into(),
                i.updated.into(),
            ]),
        )
        .await
    }

    pub(crate) async fn edit_discovery_item(
        &self,
        i: DiscoveryItem,
        now: u32,
    ) -> StoreResult<bool> {
        let n = self
            .console_exec(
                "UPDATE IMDiscovery SET itemName = ?, itemUrl = ?, itemPriority = ?, status = ?, \
                 updated = ? WHERE id = ?",
                vec![
                    i.name.into(),
                    i.url.into(),
                    i.priority.into(),
                    i.status.into(),
                    now.into(),
                    i.id.into(),
                ],
            )
            .await?;
        Ok(n > 0 || self.exists("IMDiscovery", i.id).await?)
    }
}

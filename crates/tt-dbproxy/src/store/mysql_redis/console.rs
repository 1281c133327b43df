//! The web console's storage on MySQL + Redis: everything in MySQL
//! (`store/mysql/console.rs`), on the primary, so every instance sees the
//! same accounts, sessions, throttle and audit log, and a restart keeps
//! them.

use async_trait::async_trait;

use super::MysqlRedisStore;
use crate::deadline::bounded;
use crate::store::console_domain::{
    AuditEntry, ConsoleAccount, ConsoleAccountStore, ConsoleSession, ConsoleSessionStore,
    DirectoryAdminStore, DiscoveryItem, DiscoveryStore, UserEdit,
};
use crate::store::read_your_writes::Mark;
use crate::store::{DepartRecord, StoreResult, UserRecord};

#[async_trait]
impl ConsoleAccountStore for MysqlRedisStore {
    async fn prepare_console(&self) -> StoreResult<()> {
        self.write("prepare console", &[], self.sql.prepare_console())
            .await
    }

    async fn console_accounts(&self) -> StoreResult<Vec<ConsoleAccount>> {
        bounded("console accounts", self.sql.console_accounts()).await
    }

    async fn console_account_by_name(&self, name: &str) -> StoreResult<Option<ConsoleAccount>> {
        bounded("console account", self.sql.console_account_by_name(name)).await
    }

    async fn console_account(&self, id: u32) -> StoreResult<Option<ConsoleAccount>> {
        bounded("console account", self.sql.console_account(id)).await
    }

    async fn add_console_account(&self, name: &str, hash: &str, now: u32) -> StoreResult<u32> {
        self.write(
            "add console account",
            &[],
            self.sql.add_console_account(name, hash, now),
        )
        .await
    }

    async fn set_console_password(&self, id: u32, hash: &str, now: u32) -> StoreResult<bool> {
        self.write(
            "console password",
            &[],
            self.sql.set_console_password(id, hash, now),
        )
        .await
    }

    async fn set_console_account_status(
        &self,
        id: u32,
        status: u32,
        now: u32,
    ) -> StoreResult<bool> {
        self.write(
            "console account status",
            &[],
            self.sql.set_console_account_status(id, status, now),
        )
        .await
    }
}

#[async_trait]
impl ConsoleSessionStore for MysqlRedisStore {
    async fn create_console_session(&self, session: ConsoleSession, now: u32) -> StoreResult<()> {
        self.write(
            "console session",
            &[],
            self.sql.create_console_session(session, now),
        )
        .await
    }

    async fn console_session(
        &self,
        token_hash: &str,
        now: u32,
    ) -> StoreResult<Option<ConsoleSession>> {
        bounded("console session", self.sql.console_session(token_hash, now)).await
    }

    async fn end_console_session(&self, token_hash: &str) -> StoreResult<()> {
        self.write(
            "end console session",
            &[],
            self.sql.console_exec(
                "DELETE FROM tt_console_session WHERE token_hash = ?",
                vec![token_hash.into()],
            ),
        )
        .await
        .map(drop)
    }

    async fn end_console_sessions_of(&self, account_id: u32) -> StoreResult<()> {
        self.write(
            "end console sessions",
            &[],
            self.sql.console_exec(
                "DELETE FROM tt_console_session WHERE account_id = ?",
                vec![account_id.into()],
            ),
        )
        .await
        .map(drop)
    }

    async fn console_failures(&self, key: &str, since: u32) -> StoreResult<u32> {
        bounded("console failures", self.sql.console_failures(key, since)).await
    }

    async fn record_console_failure(&self, key: &str, now: u32) -> StoreResult<()> {
        self.write(
            "console failure",
            &[],
            self.sql.record_console_failure(key, now),
        )
        .await
    }

    async fn clear_console_failures(&self, key: &str) -> StoreResult<()> {
        self.write(
            "clear console failures",
            &[],
            self.sql.console_exec(
                "DELETE FROM tt_console_failure WHERE k = ?",
                vec![key.into()],
            ),
        )
        .await
        .map(drop)
    }

    async fn add_audit(&self, entry: AuditEntry) -> StoreResult<()> {
        self.write("audit", &[], self.sql.add_audit(entry)).await
    }

    async fn audit_log(&self, offset: u32, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        bounded("audit log", self.sql.audit_log(offset, limit)).await
    }
}

#[async_trait]
impl DirectoryAdminStore for MysqlRedisStore {
    async fn search_users(
        &self,
        search: &str,
        offset: u32,
        limit: u32,
    ) -> StoreResult<(Vec<UserRecord>, u64)> {
        bounded("search users", self.sql.search_users(search, offset, limit)).await
    }

    async fn edit_user(&self, user_id: u32, edit: UserEdit, now: u32) -> StoreResult<bool> {
        self.write(
            "edit user",
            &[Mark::User(user_id)],
            self.sql.edit_user(user_id, edit, now),
        )
        .await
    }

    async fn department(&self, id: u32) -> StoreResult<Option<DepartRecord>> {
        bounded("department", self.sql.department(id)).await
    }

    async fn edit_department(&self, d: DepartRecord, now: u32) -> StoreResult<bool> {
        self.write("edit department", &[], self.sql.edit_department(d, now))
            .await
    }

    async fn department_references(&self, id: u32) -> StoreResult<(u64, u64)> {
        bounded("department references", self.sql.department_references(id)).await
    }

    async fn delete_department(&self, id: u32, now: u32) -> StoreResult<bool> {
        self.write(
            "delete department",
            &[],
            self.sql.delete_department(id, now),
        )
        .await
    }

    async fn edit_group(&self, id: u32, name: &str, avatar: &str, now: u32) -> StoreResult<bool> {
        self.write(
            "edit group",
            &[Mark::Group(id)],
            self.sql.edit_group(id, name, avatar, now),
        )
        .await
    }
}

#[async_trait]
impl DiscoveryStore for MysqlRedisStore {
    async fn discovery_items(&self) -> StoreResult<Vec<DiscoveryItem>> {
        bounded("discovery items", self.sql.discovery_items()).await
    }

    async fn add_discovery_item(&self, item: DiscoveryItem) -> StoreResult<u32> {
        self.write("add discovery item", &[], self.sql.add_discovery_item(item))
            .await
    }

    async fn edit_discovery_item(&self, item: DiscoveryItem, now: u32) -> StoreResult<bool> {
        self.write(
            "edit discovery item",
            &[],
            self.sql.edit_discovery_item(item, now),
        )
        .await
    }

    async fn delete_discovery_item(&self, id: u32) -> StoreResult<bool> {
        let n = self
            .write(
                "delete discovery item",
                &[],
                self.sql
                    .console_exec("DELETE FROM IMDiscovery WHERE id = ?", vec![id.into()]),
            )
            .await?;
        Ok(n > 0)
    }
}

//! The storage interface of the web console: console accounts and their
//! sessions, sign-in throttling and the audit log, the operator's edits
//! of users, departments and groups, and discovery items. Like
//! [`super::domain`], one small trait per domain, implemented by every
//! backend (`sqlite/console.rs`, `mysql_redis/console.rs`).

use async_trait::async_trait;

use super::{DepartRecord, StoreResult, UserRecord};

/// One `IMAdmin` row with its Argon2id hash (kept in `tt_admin_password`,
/// a table the original servers never read).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsoleAccount {
    /// `id`.
    pub id: u32,
    /// `uname`.
    pub name: String,
    /// `pwd`: the PHP admin's unsalted md5, or a marker no md5 matches
    /// once the account has an Argon2id hash.
    pub legacy_pwd: String,
    /// The Argon2id hash (PHC string), if the account has one.
    pub hash: Option<String>,
    /// `status`: 0 active, 1 disabled.
    pub status: u32,
    /// `created`.
    pub created: u32,
    /// `updated`.
    pub updated: u32,
}

/// A signed-in console session.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsoleSession {
    /// Hex SHA-256 of the cookie's token (the token itself is never
    /// stored).
    pub token_hash: String,
    /// The account.
    pub account_id: u32,
    /// The CSRF token of the session's forms.
    pub csrf: String,
    /// Whether the account must set a new password before anything else.
    pub must_change: bool,
    /// Expiry (Unix seconds).
    pub expires: u32,
}

/// One audit log entry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AuditEntry {
    /// Assigned by the store.
    pub id: u64,
    /// When (Unix seconds).
    pub at: u32,
    /// The console account's name (or the name tried, for a failed
    /// sign-in).
    pub who: String,
    /// What was done (`user.add id=7 name=alice`).
    pub what: String,
    /// The client's address.
    pub from: String,
}

/// One `IMDiscovery` row.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DiscoveryItem {
    /// `id` (assigned on insert).
    pub id: u32,
    /// `itemName`.
    pub name: String,
    /// `itemUrl`.
    pub url: String,
    /// `itemPriority`.
    pub priority: u32,
    /// `status`: 0 active.
    pub status: u32,
    /// `created`.
    pub created: u32,
    /// `updated`.
    pub updated: u32,
}

/// What `IMAdmin.pwd` holds once an account has an Argon2id hash: not
/// hex, so no md5 (what the PHP admin compares) ever matches it.
pub const PWD_MARKER: &str = "!argon2id:tt_admin_password";

/// Most audit entries kept; older ones are deleted as new ones arrive.
pub const AUDIT_KEEP: u32 = 10_000;

/// Console accounts (`IMAdmin` and `tt_admin_password`).
#[async_trait]
pub trait ConsoleAccountStore: Send + Sync + 'static {
    /// Creates the console's own tables where missing (a no-op where the
    /// schema's migrations already made them).
    async fn prepare_console(&self) -> StoreResult<()>;

    /// Every account, ordered by id.
    async fn console_accounts(&self) -> StoreResult<Vec<ConsoleAccount>>;

    /// The account named exactly `name` (the highest id if several).
    async fn console_account_by_name(&self, name: &str) -> StoreResult<Option<ConsoleAccount>>;

    /// The account with this id.
    async fn console_account(&self, id: u32) -> StoreResult<Option<ConsoleAccount>>;

    /// Inserts an account with an Argon2id `hash` (its `pwd` a marker no
    /// md5 matches); returns its id.
    async fn add_console_account(&self, name: &str, hash: &str, now: u32) -> StoreResult<u32>;

    /// Stores a new Argon2id `hash` for the account and overwrites `pwd`
    /// with the marker. `true` iff the account exists.
    async fn set_console_password(&self, id: u32, hash: &str, now: u32) -> StoreResult<bool>;

    /// Sets `status` (0 active, 1 disabled). `true` iff the account
    /// exists.
    async fn set_console_account_status(&self, id: u32, status: u32, now: u32)
    -> StoreResult<bool>;
}

/// Console sessions, sign-in throttling and the audit log, shared by
/// every instance on the same store.
#[async_trait]
pub trait ConsoleSessionStore: Send + Sync + 'static {
    /// Stores a new session (expired sessions are deleted on the way).
    async fn create_console_session(&self, session: ConsoleSession, now: u32) -> StoreResult<()>;

    /// The unexpired session whose token hashes to `token_hash`.
    async fn console_session(
        &self,
        token_hash: &str,
        now: u32,
    ) -> StoreResult<Option<ConsoleSession>>;

    /// Ends one session.
    async fn end_console_session(&self, token_hash: &str) -> StoreResult<()>;

    /// Ends every session of an account (sign-out elsewhere, a password
    /// change, a disabled account).
    async fn end_console_sessions_of(&self, account_id: u32) -> StoreResult<()>;

    /// Failed sign-ins recorded under `key` at or after `since`.
    async fn console_failures(&self, key: &str, since: u32) -> StoreResult<u32>;

    /// Records a failed sign-in under `key` (entries older than a day are
    /// deleted on the way).
    async fn record_console_failure(&self, key: &str, now: u32) -> StoreResult<()>;

    /// Forgets `key`'s failures (a successful sign-in).
    async fn clear_console_failures(&self, key: &str) -> StoreResult<()>;

    /// Appends to the audit log, keeping the newest [`AUDIT_KEEP`].
    async fn add_audit(&self, entry: AuditEntry) -> StoreResult<()>;

    /// Up to `limit` entries, newest first, skipping `offset`.
    async fn audit_log(&self, offset: u32, limit: u32) -> StoreResult<Vec<AuditEntry>>;
}

/// Every column of a user the console edits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserEdit {
    /// `name`.
    pub name: String,
    /// `nick`.
    pub nick: String,
    /// `sex`.
    pub sex: u32,
    /// `phone`.
    pub phone: String,
    /// `email`.
    pub email: String,
    /// `avatar`.
    pub avatar: String,
    /// `domain`.
    pub domain: String,
    /// `departId`.
    pub depart_id: u32,
    /// `status`.
    pub status: u32,
    /// New `password` and `salt` (already hashed), or keep them.
    pub password_and_salt: Option<(String, String)>,
}

/// What the console changes in users, departments and groups beyond
/// [`super::UserStore`], [`super::DepartmentStore`] and
/// [`super::GroupStore`].
#[async_trait]
pub trait DirectoryAdminStore: Send + Sync + 'static {
    /// Users whose name or nick contains `search` (every user when
    /// empty), ordered by id, `limit` from `offset`, and how many match.
    async fn search_users(
        &self,
        search: &str,
        offset: u32,
        limit: u32,
    ) -> StoreResult<(Vec<UserRecord>, u64)>;

    /// Sets every edited column of a user and `updated = now`. `true` iff
    /// the user exists.
    async fn edit_user(&self, user_id: u32, edit: UserEdit, now: u32) -> StoreResult<bool>;

    /// The department with this id.
    async fn department(&self, id: u32) -> StoreResult<Option<DepartRecord>>;

    /// Sets a department's name, priority and parent and `updated = now`.
    /// `true` iff it exists.
    async fn edit_department(&self, d: DepartRecord, now: u32) -> StoreResult<bool>;

    /// What still references a department: active users (status 0) in
    /// it, and active child departments (status 0).
    async fn department_references(&self, id: u32) -> StoreResult<(u64, u64)>;

    /// Marks a department deleted (status 1, `updated = now`). `true`
    /// iff it exists.
    async fn delete_department(&self, id: u32, now: u32) -> StoreResult<bool>;

    /// Sets a group's name and avatar, bumps its `version` (so clients'
    /// group info syncs fetch it again) and sets `updated = now`. `true`
    /// iff it exists.
    async fn edit_group(&self, id: u32, name: &str, avatar: &str, now: u32) -> StoreResult<bool>;
}

/// Discovery items (`IMDiscovery`).
#[async_trait]
pub trait DiscoveryStore: Send + Sync + 'static {
    /// Every item, ordered by priority then id.
    async fn discovery_items(&self) -> StoreResult<Vec<DiscoveryItem>>;

    /// Inserts an item; returns its id.
    async fn add_discovery_item(&self, item: DiscoveryItem) -> StoreResult<u32>;

    /// Sets an item's name, URL, priority and status, `updated = now`.
    /// `true` iff it exists.
    async fn edit_discovery_item(&self, item: DiscoveryItem, now: u32) -> StoreResult<bool>;

    /// Deletes an item. `true` iff it existed.
    async fn delete_discovery_item(&self, id: u32) -> StoreResult<bool>;
}

/// The console's domains together (part of [`super::Store`]).
pub trait ConsoleStores:
    ConsoleAccountStore + ConsoleSessionStore + DirectoryAdminStore + DiscoveryStore
{
}

impl<T: ConsoleAccountStore + ConsoleSessionStore + DirectoryAdminStore + DiscoveryStore>
    ConsoleStores for T
{
}

//! The storage interface every handler calls, and its backends.
//!
//! [`Store`] has one method per thing a handler needs ("find the active user
//! with this login name"), not per SQL statement, so each backend is free to
//! answer it its own way. A backend is chosen once at start-up and shared by
//! every handler as `Arc<dyn Store>`.
//!
//! Rules every backend follows:
//! - an update reports whether it *changed* a row, the way MySQL does
//!   without `CLIENT_FOUND_ROWS`: writing the values a row already has
//!   reports `false` (accounts spec §1.8);
//! - text is stored and returned byte-exact (quotes, NUL, emoji);
//! - state an operator may change while the server runs (users, groups,
//!   settings) is read from the backend on each request, never cached for
//!   more than a second.

pub mod faulty;
pub mod model;
pub mod sqlite;

use async_trait::async_trait;

pub use faulty::{FaultyStore, StoreOp};
pub use model::{NewUser, UserRecord};
pub use sqlite::SqliteStore;

/// What went wrong in a backend. Handlers map every variant to the reply
/// the spec gives for "database unavailable or query failed".
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend cannot be reached or has no free connection in time.
    #[error("storage backend unavailable: {0}")]
    Unavailable(String),
    /// A statement failed.
    #[error("storage query failed: {0}")]
    Query(String),
    /// A stored value cannot be represented (e.g. a negative id).
    #[error("stored data is invalid: {0}")]
    InvalidData(String),
    /// A failure injected by [`FaultyStore`] for tests.
    #[error("injected failure in {0:?}")]
    Injected(StoreOp),
}

impl StoreError {
    /// A short, stable label for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unavailable(_) => "unavailable",
            Self::Query(_) => "query",
            Self::InvalidData(_) => "invalid_data",
            Self::Injected(_) => "injected",
        }
    }
}

/// Result alias of the storage layer.
pub type StoreResult<T> = Result<T, StoreError>;

/// The domain-level storage interface: what handlers and `admin` need.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The user whose login name is exactly `name` (byte-wise, case
    /// sensitive) and whose `status` is 0. With several such rows, the one
    /// with the highest id wins.
    async fn find_active_user_by_name(&self, name: &str) -> StoreResult<Option<UserRecord>>;

    /// Inserts a user and returns its new id.
    async fn add_user(&self, user: NewUser) -> StoreResult<u32>;

    /// Every user, ordered by id (for `admin user list`).
    async fn list_users(&self) -> StoreResult<Vec<UserRecord>>;

    /// Sets a user's "do not disturb" flag and `updated = now`. `true` iff
    /// a row changed (unknown user, or the same values again, is `false`).
    async fn set_push_shield(
        &self,
        user_id: u32,
        shield_status: u32,
        now: u32,
    ) -> StoreResult<bool>;
}

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

pub mod backoff;
mod coalesce;
pub mod console_domain;
pub mod domain;
pub mod export;
mod failure;
pub mod faulty;
mod history;
pub mod model;
pub mod mysql;
pub mod mysql_redis;
mod pool_stats;
mod read_your_writes;
pub mod redis;
pub mod resend;
pub mod sqlite;
pub mod unresolved;

pub use console_domain::{
    AuditEntry, ConsoleAccount, ConsoleAccountStore, ConsoleSession, ConsoleSessionStore,
    DirectoryAdminStore, DiscoveryItem, DiscoveryStore, UserEdit,
};
pub use domain::{
    CounterStore, DepartmentStore, DeviceStore, FileStore, GroupStore, MessageStore, Readiness,
    SessionStore, SharedStore, Store, SyncStore, UserStore,
};
pub use failure::{logged, register_zero_metrics};

/// Every domain trait, for callers that use a backend's methods on its
/// concrete type (`use tt_dbproxy::store::prelude::*`).
pub mod prelude {
    pub use super::console_domain::{
        ConsoleAccountStore, ConsoleSessionStore, DirectoryAdminStore, DiscoveryStore,
    };
    pub use super::domain::{
        CounterStore, DepartmentStore, DeviceStore, FileStore, GroupStore, MessageStore, Readiness,
        SessionStore, SharedStore, Store, SyncStore, UserStore,
    };
}
pub use faulty::{FaultyStore, StoreOp};
pub use model::{
    AudioRow, DepartRecord, DeviceToken, GroupMessageRow, GroupRecord, LastMessage, MessageRow,
    NewGroup, NewMessage, NewUser, OfflineFile, Platform, ResendKey, SESSION_GROUP, SESSION_SINGLE,
    SessionRecord, SingleMessageRow, UserRecord, UserUpdate,
};
pub use mysql_redis::MysqlRedisStore;
pub use sqlite::{SqliteOptions, SqliteStore};

/// What went wrong in a backend. Handlers map every variant to the reply
/// the spec gives for "database unavailable or query failed".
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The backend cannot be reached or has no free connection in time.
    #[error("storage backend unavailable: {0}")]
    Unavailable(String),
    /// A statement failed.
    #[error("storage query failed: {0}")]
    Query(String),
    /// A statement (and its transaction) was rolled back by a conflict
    /// with another transaction (an InnoDB deadlock, a Galera
    /// certification failure): nothing of it took effect, and running it
    /// again may succeed.
    #[error("storage conflict, rolled back: {0}")]
    Conflict(String),
    /// A stored value cannot be represented (e.g. a negative id).
    #[error("stored data is invalid: {0}")]
    InvalidData(String),
    /// The request's deadline passed before the operation finished.
    #[error("request deadline passed during {0}")]
    Deadline(String),
    /// A failure injected by [`FaultyStore`] for tests.
    #[error("injected failure in {0:?}")]
    Injected(StoreOp),
}

impl StoreError {
    /// Every [`Self::kind`] a real backend reports (not the tests'
    /// `injected`), for registering the metric's series at start-up.
    pub const KINDS: [&'static str; 5] = [
        "unavailable",
        "query",
        "conflict",
        "invalid_data",
        "deadline",
    ];

    /// A short, stable label for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Unavailable(_) => "unavailable",
            Self::Query(_) => "query",
            Self::Conflict(_) => "conflict",
            Self::InvalidData(_) => "invalid_data",
            Self::Deadline(_) => "deadline",
            Self::Injected(_) => "injected",
        }
    }
}

/// Result alias of the storage layer.
pub type StoreResult<T> = Result<T, StoreError>;

/// Most ids one request may name; larger lists get the handler's empty or
/// failure reply. Backends query ids in chunks of [`ID_CHUNK`].
pub const MAX_IDS_PER_REQUEST: usize = 10_000;
/// Ids per `IN (...)` statement.
pub const ID_CHUNK: usize = 500;

/// `?,?,…` with `n` placeholders, for the `IN (...)` lists both SQL
/// backends build (always from a chunk of at most [`ID_CHUNK`] ids).
pub(crate) fn placeholders(n: usize) -> String {
    vec!["?"; n].join(",")
}

/// Shard count of `IMMessage_<n>` and `IMGroupMessage_<n>` (relation or
/// group id modulo 8).
pub const MESSAGE_SHARDS: u32 = 8;

#[cfg(test)]
mod tests {
    use super::StoreError;

    /// The kinds registered at start-up are exactly those the backends
    /// report.
    #[test]
    fn every_store_error_kind_is_registered() {
        let kinds: Vec<&str> = [
            StoreError::Unavailable(String::new()),
            StoreError::Query(String::new()),
            StoreError::Conflict(String::new()),
            StoreError::InvalidData(String::new()),
            StoreError::Deadline(String::new()),
        ]
        .iter()
        .map(StoreError::kind)
        .collect();
        assert_eq!(kinds, StoreError::KINDS);
    }
}

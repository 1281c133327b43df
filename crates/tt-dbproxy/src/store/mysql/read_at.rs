//! [`ReadAt`]: where the reads of one storage call may be served, set by
//! the combined backend for the duration of that call (a task-local, so
//! the statements of [`super::MysqlStore`] keep their signatures) and
//! consulted by [`super::MysqlPools::replica`].

use std::future::Future;

use super::gtid::GtidPos;

/// Where a read may be served.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ReadAt {
    /// Any replica in rotation: the read must see no particular write.
    #[default]
    Anywhere,
    /// A replica in rotation that has applied this position (the writes
    /// the read must see), else the primary.
    After(GtidPos),
    /// Only the primary (the writes to see are not known).
    Primary,
}

tokio::task_local! {
    static READ_AT: ReadAt;
}

/// Runs `f` with its reads routed by `at`.
pub async fn scoped<F: Future>(at: ReadAt, f: F) -> F::Output {
    READ_AT.scope(at, f).await
}

/// The routing of the current call ([`ReadAt::Anywhere`] outside
/// [`scoped`]).
pub(super) fn current() -> ReadAt {
    READ_AT.try_with(Clone::clone).unwrap_or_default()
}

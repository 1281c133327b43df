//! The MySQL/MariaDB half of the production backend: TeamTalk's tables,
//! reads on a replica (or the primary), writes on the primary, every
//! statement parameterised. Updates report changed rows (the client never
//! sets `CLIENT_FOUND_ROWS`), like the original.

mod batch;
mod console;
mod error;
mod export;
mod galera;
mod group;
pub mod gtid;
mod last;
mod message;
mod pool;
pub mod read_at;
pub mod replication;
pub mod schema;
mod send;
mod sql;

pub(crate) use batch::PendingSend;
pub use pool::{MysqlPools, PooledConn};
pub(crate) use send::CommitFailure;
pub use sql::MysqlStore;

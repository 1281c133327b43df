//! The MySQL/MariaDB half of the production backend: TeamTalk's tables,
//! reads on a replica (or the primary), writes on the primary, every
//! statement parameterised except a group commit's, whose values are
//! numbers and hexadecimal literals only ([`script`]). Updates report changed rows (the client never
//! sets `CLIENT_FOUND_ROWS`), like the original.

mod batch;
mod console;
mod departments;
mod error;
mod export;
mod files;
mod galera;
mod group;
pub mod gtid;
mod handle;
mod id_match;
mod last;
mod message;
mod named_lock;
mod outcome;
mod pending_send;
mod pool;
mod query;
pub mod read_at;
mod read_rows;
pub mod replication;
mod rows;
pub mod schema;
mod script;
mod send;
pub(crate) mod send_ids;
mod sessions;
mod shared_reads;
mod stale;
mod users;

pub use handle::MysqlStore;
pub(crate) use outcome::CommitFailure;
pub(crate) use pending_send::PendingSend;
pub use pool::{MysqlPools, PooledConn};

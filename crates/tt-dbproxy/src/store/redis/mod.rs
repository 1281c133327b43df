//! The Redis half of the production backend, with the original's five
//! pools (`unread`, `group_set`, `token`, `sync`, `group_member`) and key
//! layout, so C++ servers and tt-dbproxy can share one Redis.

mod keys;
mod messages;
mod ops;
mod pool;
mod resend;
mod shared;
mod write_marks;

pub use ops::RedisStore;
pub use pool::RedisPool;
pub(crate) use resend::Claim;

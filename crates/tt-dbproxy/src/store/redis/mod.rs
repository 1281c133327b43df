//! The Redis half of the production backend, with the original's five
//! pools (`unread`, `group_set`, `token`, `sync`, `group_member`) and key
//! layout, so C++ servers and tt-dbproxy can share one Redis.

mod batched;
mod export;
mod keys;
mod messages;
mod ops;
mod pending;
mod pool;
mod reseed;
mod resend;
mod send_record;
mod sentinel;
mod shared;
mod write_marks;

pub use ops::RedisStore;
pub use pool::RedisPool;
pub(crate) use reseed::InFlight;
pub(crate) use send_record::{Allocation, SendRecord};
pub use sentinel::MasterTracker;

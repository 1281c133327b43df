//! Faults under load, against backend processes of the test's own (the
//! harness in `common/faults.rs`): sends into shared conversations and a
//! group on several connections, plus reads, while MariaDB or Redis is
//! killed, restarted or stalled. After each scenario: every acknowledged
//! send is stored exactly once, nothing stored was reported as not stored,
//! no conversation has a duplicate id, ids sent on one connection into one
//! conversation increase, the unread counters match the stored rows (may
//! only undercount after Redis lost its data), the server never panicked
//! and serves again without a restart. Figures are printed, not asserted,
//! except wide time bounds.

#[path = "../common/mod.rs"]
mod common;
mod embedded;
mod harness;
mod mysql;

//! A test-only crash point: in debug builds, `TT_DBPROXY_CRASH_AFTER_COMMIT`
//! names a message text; the process aborts right after that message's
//! `COMMIT` succeeded, before anything else of the send happens (the
//! crash tests' deterministic case). Release builds have no crash point.

/// The environment variable naming the message text.
pub const ENV: &str = "TT_DBPROXY_CRASH_AFTER_COMMIT";

/// Whether the process is to stop after storing a message with `content`.
pub fn armed(content: &str) -> bool {
    cfg!(debug_assertions) && std::env::var(ENV).is_ok_and(|v| !v.is_empty() && v == content)
}

/// Aborts the process when `armed` (see [`armed`]).
pub fn after_commit(armed: bool) {
    if armed {
        eprintln!("{ENV}: stopping right after the commit");
        std::process::abort();
    }
}

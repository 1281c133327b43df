//! A pending send as a crash right after its commit leaves it in Redis on
//! MySQL + Redis: the entry of message `id` in relation `rel` from user 1
//! to user 2, past its deadline, no resend key.

/// Plants that entry.
pub fn plant_pending(r: &mut redis::Connection, rel: u32, id: u32) {
    let (hash, field) = ("tt_dbproxy:pending:s:2:1", format!("{rel}:{id}"));
    redis::cmd("HSET")
        .arg(hash)
        .arg(&field)
        .arg("1|1|0|")
        .exec(r)
        .unwrap();
    redis::cmd("ZADD")
        .arg("tt_dbproxy:pending")
        .arg(1)
        .arg(format!("{hash}|{field}"))
        .exec(r)
        .unwrap();
}

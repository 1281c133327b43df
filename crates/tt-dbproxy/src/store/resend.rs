//! Recognising a resend: a client that missed its ack sends the same
//! message again with the same client `msg_id` (msg_server passes it
//! through and rewrites only `create_time`). Within
//! `storage.resend_window_s` such a send gets the stored message's id and
//! stores nothing. Both backends remember recent sends durably and for
//! every instance: the embedded store in a table, MySQL + Redis in Redis
//! keys under [`REDIS_PREFIX`] that expire with the window.

use super::{NewMessage, ResendKey};

/// Prefix of the Redis keys of recent sends: the original uses no key
/// with a `:`, so these cannot clash with its keys.
pub const REDIS_PREFIX: &str = "tt_dbproxy:resend:";

/// A stable 64-bit FNV-1a hash of a message's data: the same on every
/// instance and version, since the memory of sends outlives a process.
pub fn data_hash(data: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    data.iter()
        .fold(OFFSET, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME))
}

/// The key of a send that may be resent, if resends are recognised
/// (`window_s > 0`) and the client gave an id (0 is never deduplicated).
pub fn key(client_msg_id: u32, data: &[u8], window_s: u32) -> Option<ResendKey> {
    (client_msg_id != 0 && window_s > 0).then(|| ResendKey {
        client_msg_id,
        data_hash: data_hash(data),
        window_s,
    })
}

/// The Redis key remembering `m` (which must carry a resend key).
pub fn redis_key(m: &NewMessage, k: &ResendKey) -> String {
    let kind = if m.group { 'g' } else { 's' };
    format!(
        "{REDIS_PREFIX}{}:{kind}{}:{}:{:016x}",
        m.from_id, m.to_id, k.client_msg_id, k.data_hash
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_stable_and_the_key_names_everything() {
        // FNV-1a test vectors.
        assert_eq!(data_hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(data_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(
            key(0, b"x", 120),
            None,
            "a msg_id of 0 is never deduplicated"
        );
        assert_eq!(key(7, b"x", 0), None, "a window of 0 turns it off");
        let k = key(7, b"hi", 120).unwrap();
        let m = NewMessage {
            from_id: 1,
            to_id: 2,
            group: true,
            msg_type: 17,
            content: "hi".into(),
            created: 0,
            resend: Some(k),
        };
        assert_eq!(
            redis_key(&m, &k),
            format!("tt_dbproxy:resend:1:g2:7:{:016x}", data_hash(b"hi"))
        );
    }
}

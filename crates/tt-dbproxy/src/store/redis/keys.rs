//! The original's Redis key names (messages spec §1.2, accounts spec §3.2).

/// `unread_<U>`: hash peer → one-to-one unread count (pool `unread`).
pub fn unread(user: u32) -> String {
    format!("unread_{user}")
}

/// `<G>_im_group_msg`: hash `count` → messages ever stored in G.
pub fn group_total(group: u32) -> String {
    format!("{group}_im_group_msg")
}

/// `<U>_<G>_im_user_group`: hash `count` → U's read mark in G.
pub fn group_mark(user: u32, group: u32) -> String {
    format!("{user}_{group}_im_user_group")
}

/// The user-list change gate, read from this key...
pub const GATE_READ: &str = "total_user_updated";
/// ...and written to both.
pub const GATE_WRITE: &str = "total_user_update";

/// `group_member_<G>`: hash member → join time (pool `group_member`).
pub fn group_members(group: u32) -> String {
    format!("group_member_{group}")
}

/// `group_set_<G>`: hash `<U>_1` → push shield (pool `group_set`).
pub fn group_settings(group: u32) -> String {
    format!("group_set_{group}")
}

/// The field of a member's push setting in `group_set_<G>`.
pub fn push_setting_field(user: u32) -> String {
    format!("{user}_1")
}

/// `device_<U>` (and `device_<token>`) in pool `token`.
pub fn device(user_or_token: &str) -> String {
    format!("device_{user_or_token}")
}

/// C `atoi`: leading decimal digits (after an optional sign), else 0.
pub fn atoi(s: &str) -> u32 {
    let digits: String = s
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap_or(0)
}

/// A stored unread count: a non-negative decimal integer (saturating at
/// `u32::MAX`), or `None` for anything else (which callers count as 0).
pub fn unread_count(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(
        s.parse::<u64>()
            .map_or(u32::MAX, |n| u32::try_from(n).unwrap_or(u32::MAX)),
    )
}

/// `msg_id_<R>`: last one-to-one message id of relation R (pool `unread`).
pub fn single_msg_id(relation: u32) -> String {
    format!("msg_id_{relation}")
}

/// `group_msg_id_<G>`: last message id of group G (pool `unread`).
pub fn group_msg_id(group: u32) -> String {
    format!("group_msg_id_{group}")
}

/// The sync center's cursor (seconds), pool `unread`.
pub const SYNC_CURSOR: &str = "last_update_group";

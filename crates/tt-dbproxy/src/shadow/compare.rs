//! Comparing two replies field by field, through the protobuf
//! descriptors: the paths where they differ, and whether every difference
//! is one tt-dbproxy makes on purpose.

use prost_reflect::{DynamicMessage, MessageDescriptor, ReflectMessage, Value};

/// Differing field paths of `a` and `b` (`list[2].field`; a list of
/// different length differs at `list.len`), at most `limit` of them.
pub fn differences(a: &DynamicMessage, b: &DynamicMessage, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    diff_message(a, b, "", &mut out, limit);
    out
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

fn diff_message(
    a: &DynamicMessage,
    b: &DynamicMessage,
    prefix: &str,
    out: &mut Vec<String>,
    limit: usize,
) {
    for field in a.descriptor().fields() {
        if out.len() >= limit {
            return;
        }
        let path = join(prefix, field.name());
        let (va, vb) = (a.get_field(&field), b.get_field(&field));
        // Presence matters for proto2 optional fields: an absent field
        // and one set to its default are different on the wire.
        if !field.is_list() && !field.is_map() && a.has_field(&field) != b.has_field(&field) {
            out.push(path);
            continue;
        }
        diff_value(&va, &vb, &path, out, limit);
    }
}

fn diff_value(a: &Value, b: &Value, path: &str, out: &mut Vec<String>, limit: usize) {
    match (a, b) {
        (Value::Message(ma), Value::Message(mb)) => diff_message(ma, mb, path, out, limit),
        (Value::List(la), Value::List(lb)) => {
            if la.len() != lb.len() {
                out.push(format!("{path}.len"));
                return;
            }
            for (i, (x, y)) in la.iter().zip(lb).enumerate() {
                if out.len() >= limit {
                    return;
                }
                diff_value(x, y, &format!("{path}[{i}]"), out, limit);
            }
        }
        (x, y) if x != y => out.push(path.to_string()),
        _ => {}
    }
}

/// `path` without list indices: `a[3].b` → `a[].b`.
pub fn pattern(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push('[');
            }
            ']' => {
                in_index = false;
                out.push(']');
            }
            _ if in_index => {}
            _ => out.push(c),
        }
    }
    out
}

/// Differences tt-dbproxy makes on purpose (the README's comparison
/// table), as (command id, field pattern): a reply that differs only
/// there is "expected".
const EXPECTED: &[(u16, &str)] = &[
    // The sender of a one-to-one last message is the real sender (the
    // original always names the peer).
    (0x0307, "unreadinfo_list[].latest_msg_from_user_id"),
    (0x0201, "contact_session_list[].latest_msg_from_user_id"),
    // Recent sessions without a last message are omitted (the original's
    // output for them is undefined), which shifts the list.
    (0x0201, "contact_session_list.len"),
];

/// Whether every path of `diffs` is an intended difference of `command_id`.
pub fn all_expected(command_id: u16, diffs: &[String]) -> bool {
    !diffs.is_empty()
        && diffs.iter().all(|d| {
            let p = pattern(d);
            EXPECTED.iter().any(|(c, e)| *c == command_id && *e == p)
        })
}

/// The ids a request or reply names: every top-level integer field whose
/// name says it is an id (`user_id`, `to_session_id`, `group_id`…), for
/// matching reads with writes to the same user or conversation.
pub fn ids(desc: &MessageDescriptor, body: &[u8]) -> Vec<u32> {
    let Ok(m) = DynamicMessage::decode(desc.clone(), body) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for field in desc.fields() {
        if !field.name().contains("id") {
            continue;
        }
        match m.get_field(&field).as_ref() {
            Value::U32(v) if *v != 0 => out.push(*v),
            Value::List(l) => out.extend(l.iter().filter_map(|v| v.as_u32()).filter(|v| *v != 0)),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_drop_indices() {
        assert_eq!(pattern("a[3].b[10].c"), "a[].b[].c");
        assert_eq!(pattern("x.len"), "x.len");
        assert!(all_expected(
            0x0307,
            &["unreadinfo_list[1].latest_msg_from_user_id".into()]
        ));
        assert!(!all_expected(
            0x0307,
            &["unreadinfo_list[1].latest_msg_data".into()]
        ));
        assert!(!all_expected(
            0x0309,
            &["unreadinfo_list[1].latest_msg_from_user_id".into()]
        ));
        assert!(!all_expected(0x0307, &[]));
    }
}

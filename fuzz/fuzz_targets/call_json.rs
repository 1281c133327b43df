//! `call`'s conversions (`tt_dbproxy::wire::json`).
//!
//! Input: byte 0 picks the direction (low bit) and a command of the table
//! (the other bits), used when the text names none.
//! - Encode: `COMMAND\nJSON`, where COMMAND is a CID name or id as `call`
//!   takes it. JSON that is accepted must give a body that renders back
//!   to JSON, and that JSON must be accepted again.
//! - Decode: the rest is a body of the command's reply type (its request
//!   type if it has no reply). A body that renders must render to JSON
//!   that is accepted as that type.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use prost_reflect::DescriptorPool;
use tt_dbproxy::wire::command::{self, COMMANDS};
use tt_dbproxy::wire::json::{decode_reply, descriptor_pool, encode_request};

fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    POOL.get_or_init(|| descriptor_pool().expect("the built-in descriptors decode"))
}

/// Rendered JSON must be accepted again as the same type.
fn reaccepted(message: &str, json: &str) {
    if let Err(e) = encode_request(pool(), message, json) {
        panic!("{message} rendered as {json} is refused: {e:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let fallback = &COMMANDS[usize::from(selector >> 1) % COMMANDS.len()];
    if selector & 1 == 0 {
        let text = String::from_utf8_lossy(rest);
        let text: &str = &text;
        let (name, json) = text.split_once('\n').unwrap_or(("", text));
        let spec = command::find(name).unwrap_or(fallback);
        if let Ok(body) = encode_request(pool(), spec.request, json) {
            match decode_reply(pool(), spec.request, &body) {
                Ok(rendered) => reaccepted(spec.request, &rendered),
                Err(e) => panic!(
                    "{} encoded from {json} does not decode: {e:?}",
                    spec.request
                ),
            }
        }
    } else {
        let message = fallback.reply.map_or(fallback.request, |r| r.message);
        if let Ok(rendered) = decode_reply(pool(), message, rest) {
            reaccepted(message, &rendered);
        }
    }
});

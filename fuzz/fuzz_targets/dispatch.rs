//! Dispatch of an arbitrary (command id, body) pair against an embedded
//! store seeded once per process with users, departments, groups,
//! messages, sessions, unread counts, tokens, shields and an offline file,
//! so that every handler has rows to find.
//!
//! Input: byte 0 below the table's length picks that command of
//! `wire::command::COMMANDS`; any other value takes the command id from
//! bytes 1..3 (big-endian). The rest is the body. `Command::parse` then
//! `Command::run` must not panic, and a reply must carry the ids the
//! table gives the command and decode as its declared type (text fields
//! may hold the request's non-UTF-8 bytes, as with the original).

#![no_main]

mod seed;

use libfuzzer_sys::fuzz_target;
use tt_dbproxy::handler::Command;
use tt_dbproxy::wire::command::{self, COMMANDS};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let (command_id, body) = match COMMANDS.get(usize::from(selector)) {
        Some(spec) => (spec.command_id, rest),
        None => match rest.split_first_chunk::<2>() {
            Some((id, body)) => (u16::from_be_bytes(*id), body),
            None => return,
        },
    };
    let world = seed::world();
    let reply = world
        .runtime
        .block_on(Command::parse(command_id, body).run(&world.state));
    let Some(reply) = reply else {
        return;
    };
    let spec = command::by_id(command_id).expect("only table commands reply");
    let declared = spec
        .reply
        .expect("a command the table says is unanswered replied");
    assert_eq!(
        (reply.service_id, reply.command_id),
        (declared.service_id, declared.command_id),
        "reply ids of {}",
        spec.name
    );
    let desc = world
        .pool
        .get_message_by_name(declared.message)
        .expect("reply type in the descriptors");
    // Text fields echo the request's bytes unchecked, as the original's
    // protobuf-lite runtime does (and msg_server expects), so a reply may
    // carry non-UTF-8 `string` fields; anything else must decode.
    if let Err(e) = prost_reflect::DynamicMessage::decode(desc, reply.body.as_slice()) {
        assert!(
            e.to_string().contains("not UTF-8"),
            "{} reply does not decode as {}: {e}",
            spec.name,
            declared.message
        );
    }
});

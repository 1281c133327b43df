//! The hot path counted in instructions (gungraun, under Valgrind's
//! callgrind), so a regression shows as a number that does not move with
//! machine noise: a frame's bytes decoded, dispatched to its handler, run
//! against a seeded embedded store, and the reply encoded.
//!
//! Run with `scripts/bench-instructions.sh` (installs the matching
//! `gungraun-runner`); CI only builds it (`cargo bench --no-run`).
//! Counted: the benchmark function's thread, the SQLite writer thread's
//! batches (`run_batch`) and the reads on tokio's blocking pool
//! (`on_reader`); building
//! and closing the store are setup and teardown, not counted.

use std::hint::black_box;
use std::sync::Arc;
use tt_dbproxy::store::prelude::*;

use bytes::BytesMut;
use gungraun::{
    Callgrind, LibraryBenchmarkConfig, library_benchmark, library_benchmark_group, main,
};
use prost::Message;
use tokio_util::codec::{Decoder, Encoder};
use tt_dbproxy::auth::password::{md5_hex, stored_hash};
use tt_dbproxy::clock::Clock;
use tt_dbproxy::config::Config;
use tt_dbproxy::handler::Command;
use tt_dbproxy::state::AppState;
use tt_dbproxy::store::{NewUser, SqliteStore};
use tt_dbproxy::wire::{Pdu, PduCodec};
use tt_proto::im::message::{ImMsgData, ImUnreadMsgCntReq};
use tt_proto::im::server::ImValidateReq;

const T0: u32 = 1_700_000_000;

/// A seeded embedded store and the frame to run against it.
struct Hot {
    runtime: tokio::runtime::Runtime,
    state: Arc<AppState>,
    frame: BytesMut,
    _dir: tempfile::TempDir,
}

fn frame(command_id: u16, body: Vec<u8>) -> BytesMut {
    let mut out = BytesMut::new();
    let pdu = Pdu::new(3, command_id, 1, body);
    PduCodec::new(1 << 20)
        .encode(pdu, &mut out)
        .expect("encode a request");
    out
}

/// Users 1 and 2 (password md5 of "123456"), a conversation of 20
/// messages, the request run a few times (statements prepared, caches
/// warm: the steady state is measured), then the frame of `command_id`
/// with `body(1000)` (`body(n)` may differ per run, e.g. a send's id).
/// The clock stays at `T0`.
fn setup(command_id: u16, body: fn(u32) -> Vec<u8>) -> Hot {
    setup_ticking(command_id, body, 0)
}

/// As [`setup`], the clock moved on by `tick` seconds before each run of
/// the request (the measured one included).
fn setup_ticking(command_id: u16, body: fn(u32) -> Vec<u8>, tick: u32) -> Hot {
    let dir = tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .expect("temporary directory");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut config = Config::default();
    config.storage.data_dir = dir.path().to_path_buf();
    let state = runtime.block_on(async {
        let store = SqliteStore::open(dir.path()).await.expect("store");
        for name in ["alice", "bob"] {
            let user = NewUser {
                name: name.into(),
                password: stored_hash("123456", "1234"),
                salt: "1234".into(),
                ..NewUser::default()
            };
            store.add_user(user).await.expect("user");
        }
        let state = AppState::new(config, Arc::new(store), Clock::manual(T0, 0));
        for i in 0..20 {
            run(&state, frame(0x0301, send_body(1, 2, i + 1)).as_ref()).await;
        }
        for i in 0..5 {
            state.clock.advance(tick);
            run(&state, frame(command_id, body(100 + i)).as_ref()).await;
        }
        state.clock.advance(tick);
        state
    });
    Hot {
        runtime,
        state,
        frame: frame(command_id, body(1000)),
        _dir: dir,
    }
}

fn send_body(from: u32, to: u32, client_id: u32) -> Vec<u8> {
    ImMsgData {
        from_user_id: Some(from),
        to_session_id: Some(to),
        msg_id: Some(client_id),
        create_time: Some(T0),
        msg_type: Some(1),
        msg_data: Some(format!("message {client_id}").into_bytes()),
        attach_data: None,
    }
    .encode_to_vec()
}

/// Decode → dispatch → handler → store → encode, once.
async fn run(state: &AppState, bytes: &[u8]) -> BytesMut {
    let mut codec = PduCodec::new(1 << 20);
    let mut input = BytesMut::from(bytes);
    let pdu = codec
        .decode(&mut input)
        .ok()
        .flatten()
        .expect("a whole frame");
    let mut out = BytesMut::new();
    if let Some(reply) = Command::parse(pdu.header.command_id, &pdu.body)
        .run(state)
        .await
    {
        let rsp = Pdu::new(reply.service_id, reply.command_id, 1, reply.body);
        codec.encode(rsp, &mut out).expect("encode the reply");
    }
    out
}

fn setup_unread() -> Hot {
    setup(0x0307, |_| {
        ImUnreadMsgCntReq {
            user_id: Some(2),
            attach_data: None,
        }
        .encode_to_vec()
    })
}

fn setup_send() -> Hot {
    setup(0x0301, |n| send_body(1, 2, n))
}

/// As `setup_send`, but each send a second after the one before: the
/// writer cannot skip the sessions' `UPDATE` (it does when it touched them
/// in the same second already), as for a conversation not in a burst.
fn setup_send_next_second() -> Hot {
    setup_ticking(0x0301, |n| send_body(1, 2, n), 1)
}

fn setup_login() -> Hot {
    setup(0x0703, |_| {
        ImValidateReq {
            user_name: Some(b"alice".to_vec()),
            password: Some(md5_hex(b"123456").into_bytes()),
            attach_data: None,
        }
        .encode_to_vec()
    })
}

/// Closes the store outside the measurement (its teardown is not counted).
fn close(done: (BytesMut, Hot)) {
    assert!(!done.0.is_empty(), "the request was answered");
    drop(done);
}

#[library_benchmark]
#[bench::unread(setup = setup_unread, teardown = close)]
#[bench::send(setup = setup_send, teardown = close)]
#[bench::send_next_second(setup = setup_send_next_second, teardown = close)]
#[bench::login(setup = setup_login, teardown = close)]
fn request(hot: Hot) -> (BytesMut, Hot) {
    let out = hot.runtime.block_on(run(&hot.state, &hot.frame));
    (black_box(out), hot)
}

// The same setups, no request: the part of `request`'s count that is
// setup.
#[library_benchmark]
#[bench::unread(setup = setup_unread, teardown = close_idle)]
#[bench::send(setup = setup_send, teardown = close_idle)]
#[bench::send_next_second(setup = setup_send_next_second, teardown = close_idle)]
#[bench::login(setup = setup_login, teardown = close_idle)]
fn setup_only(hot: Hot) -> Hot {
    black_box(hot)
}

fn close_idle(hot: Hot) {
    drop(hot);
}

library_benchmark_group!(name = hot_path; benchmarks = request, setup_only);

main!(
    config = LibraryBenchmarkConfig::default()
        .tool(Callgrind::with_args([
            "--toggle-collect=*writer*run_batch*",
            "--toggle-collect=*sqlite*on_reader*",
        ]));
    library_benchmark_groups = hot_path
);

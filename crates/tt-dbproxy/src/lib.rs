//! tt-dbproxy: a drop-in replacement for TeamTalk's `db_proxy_server`.
//!
//! # Layout
//!
//! - [`wire`]: the PDU protocol. 16-byte header, frame codec with a size
//!   limit, the table of commands, and bodies as JSON (for `call`).
//! - [`net`]: sockets. Accept loop with a connection limit, one task per
//!   connection (heartbeat, idle timeout, replies), ordered queues, drain.
//! - [`handler`]: parsing requests (proto2 rules) and one module per group
//!   of commands; handlers are async fns of `(&AppState, request)`.
//! - [`auth`]: TeamTalk's password scheme and the login throttle.
//! - [`store`]: the domain-level storage interface and its backends
//!   (embedded SQLite; MySQL/MariaDB + Redis), plus a fault-injecting
//!   wrapper for tests.
//! - [`config`]: defaults, TOML, `TT_DBPROXY_*` environment, the original
//!   `dbproxyserver.conf`, validation.
//! - [`copy`]: moving a whole deployment between backends, and checking
//!   that both answer the same.
//! - [`media`]: voice messages: the audio placeholder text and the media
//!   file server client.
//! - [`admin`]: the admin HTTP endpoint (`/metrics`, `/healthz`, `/readyz`,
//!   `/status`, `POST /reload`); [`metrics`]: metric names and the
//!   Prometheus recorder.
//! - [`bench`]: the built-in load generator, over the wire or `--direct`.
//! - [`clock`]: injectable "now" for stored times and the throttle;
//!   [`deadline`]: the per-request deadline every storage call honours.
//! - [`state`]: [`state::AppState`], shared by every connection.
//! - [`client`]: a small protocol client for `call`, benchmarks and tests.
//! - [`cli`]: the `tt-dbproxy` command line (`serve`, `admin`, `call`,
//!   `migrate`, `bench`, `backup`, `restore`, `shadow`, `copy`).
//! - [`sync`]: the sync center, propagating group chats into members'
//!   recent sessions.
//! - [`shutdown`]: reacting to SIGTERM and SIGINT (drain) and SIGHUP;
//!   [`service`]: telling systemd (`Type=notify`) when the server is
//!   ready, reloading or stopping.
//! - [`reload`]: applying a changed configuration while serving;
//!   [`logging`]: `tracing` output with a reloadable filter;
//!   [`semaphore`]: resizing the limits a reload changes;
//!   [`rate_log`]: at most one warning a second of one kind.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod admin;
pub mod auth;
pub mod bench;
pub mod cli;
pub mod client;
pub mod clock;
pub mod config;
pub mod console;
pub mod copy;
pub mod crash_point;
pub mod deadline;
pub mod handler;
pub mod logging;
pub mod media;
pub mod metrics;
pub mod net;
pub mod rate_log;
pub mod recovery;
pub mod reload;
pub mod semaphore;
pub mod service;
pub mod shadow;
pub mod shutdown;
pub mod state;
pub mod store;
pub mod sync;
pub mod wire;

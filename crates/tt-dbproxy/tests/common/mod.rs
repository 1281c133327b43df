//! Shared test harness: a real server on an ephemeral port, backed by a
//! real embedded store in a temporary directory behind a `FaultyStore`.
#![allow(dead_code)]

pub mod backends;
pub mod faults;
pub mod fixtures;
pub mod msfs;
pub mod pending;
pub mod process;
pub mod proxy;
pub mod sends;
pub mod upstream;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tt_dbproxy::client::Client;
use tt_dbproxy::clock::Clock;
use tt_dbproxy::config::Config;
use tt_dbproxy::state::AppState;
use tt_dbproxy::store::{FaultyStore, MysqlRedisStore, NewUser, SqliteStore, Store};
use tt_dbproxy::wire::Pdu;
use tt_proto::im::message::ImMsgData;
use tt_proto::im::server::{ImValidateReq, ImValidateRsp};

/// The spec's client-side password: md5("123456").
pub const GOOD_PASSWORD: &str = "e10adc3949ba59abbe56e057f20f883e";
/// Fixture "now" for the injected clock.
pub const T0: u32 = 1_700_000_000;

/// A storage backend the behaviour suite runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded SQLite store.
    Embedded,
    /// MariaDB + Redis (the local services, or `TT_TEST_*_URL`).
    MysqlRedis,
}

/// Runs each named `async fn(Backend)` as one test per backend, so the same
/// behaviour tests run unchanged on every backend.
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::common::Backend::Embedded).await
                }
            )*
        }
        mod mysql_redis {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if $crate::common::backends::skipped() {
                        return;
                    }
                    super::$name($crate::common::Backend::MysqlRedis).await
                }
            )*
        }
    };
}

/// A running server and the handles tests need.
pub struct TestServer {
    pub addr: SocketAddr,
    pub store: Arc<FaultyStore>,
    pub state: Arc<AppState>,
    pub clock: Clock,
    pub shutdown: CancellationToken,
    pub handle: JoinHandle<()>,
    pub data_dir: PathBuf,
    /// The MariaDB database (MySQL backend only), dropped with the server.
    pub mysql: Option<backends::TestDatabase>,
    /// The Redis db index (MySQL backend only), flushed with the server.
    pub redis: Option<backends::RedisLease>,
    _tmp: Option<tempfile::TempDir>,
}

/// Settings tuned for tests: loopback, ephemeral port.
pub fn test_config(data_dir: &Path) -> Config {
    let mut c = Config::default();
    c.server.listen = vec!["127.0.0.1:0".parse().unwrap()];
    c.storage.data_dir = data_dir.to_path_buf();
    c
}

impl TestServer {
    /// A server with default settings on a fresh store.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// A server on a fresh store of `backend`, seeded with the spec's
    /// three users.
    pub async fn seeded(backend: Backend) -> Self {
        Self::seeded_with(backend, |_| {}).await
    }

    /// As [`Self::seeded`], with `tweak` applied to its config.
    pub async fn seeded_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        let s = Self::start_on(backend, tweak).await;
        seed_spec_users(s.store.as_ref()).await;
        s
    }

    /// A server on a fresh store, with `tweak` applied to its config.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let mut s = Self::start_in(&dir, tweak).await;
        s._tmp = Some(tmp);
        s
    }

    /// A server on a fresh store of `backend`.
    pub async fn start_on(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        match backend {
            Backend::Embedded => Self::start_with(tweak).await,
            Backend::MysqlRedis => {
                let db = backends::TestDatabase::create().await;
                let lease = backends::RedisLease::acquire();
                let (mysql_url, redis_url) = (db.url(), lease.url());
                let mut s = Self::start_mysql(&mysql_url, &redis_url, true, tweak).await;
                s.mysql = Some(db);
                s.redis = Some(lease);
                s
            }
        }
    }

    /// A server on MySQL + Redis at the given URLs, the schema migrated
    /// first if `migrate`.
    pub async fn start_mysql(
        mysql_url: &str,
        redis_url: &str,
        migrate: bool,
        tweak: impl FnOnce(&mut Config),
    ) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let env = |k: &str| match k {
            "TT_DBPROXY_MYSQL_PRIMARY" => Some(mysql_url.to_string()),
            "TT_DBPROXY_REDIS_URL" => Some(redis_url.to_string()),
            "TT_DBPROXY_LISTEN" => Some("127.0.0.1:0".to_string()),
            _ => None,
        };
        let mut config = tt_dbproxy::config::from_toml_str("", &env).unwrap();
        config.storage.data_dir = tmp.path().to_path_buf();
        tweak(&mut config);
        let store = MysqlRedisStore::new(&config).unwrap();
        if migrate {
            store.migrate().await.unwrap();
        }
        let mut s = Self::serve(config, Arc::new(store), tmp.path()).await;
        s._tmp = Some(tmp);
        s
    }

    /// A server on the store in `dir` (kept after the server stops).
    pub async fn start_in(dir: &Path, tweak: impl FnOnce(&mut Config)) -> Self {
        let mut config = test_config(dir);
        tweak(&mut config);
        let sqlite = SqliteStore::open(dir).await.unwrap();
        Self::serve(config, Arc::new(sqlite), dir).await
    }

    /// Serves `config` on `inner` behind a `FaultyStore`.
    pub async fn serve(config: Config, inner: Arc<dyn Store>, dir: &Path) -> Self {
        let store = Arc::new(FaultyStore::new(inner));
        let clock = Clock::manual(T0, 8 * 3600);
        let listeners = tt_dbproxy::net::server::bind_all(&config.server.listen)
            .await
            .unwrap();
        let addr = listeners[0].local_addr().unwrap();
        let state = AppState::new(config, store.clone(), clock.clone());
        let shutdown = CancellationToken::new();
        let handle = tokio::spawn(tt_dbproxy::net::run(
            listeners,
            state.clone(),
            shutdown.clone(),
        ));
        Self {
            addr,
            store,
            state,
            clock,
            shutdown,
            handle,
            data_dir: dir.to_path_buf(),
            mysql: None,
            redis: None,
            _tmp: None,
        }
    }

    pub async fn client(&self) -> Client {
        Client::connect(self.addr).await.unwrap()
    }

    /// Stops the server and starts a new one (a new process would do the
    /// same) on the same data: the same data directory, or the same
    /// MariaDB database and Redis db index, with `tweak` applied.
    pub async fn restart(mut self, tweak: impl FnOnce(&mut Config)) -> Self {
        let (db, lease) = (self.mysql.take(), self.redis.take());
        let dir = self.data_dir.clone();
        let tmp = self.stop().await;
        let mut s = match (db, lease) {
            (Some(db), Some(lease)) => {
                let mut s = Self::start_mysql(&db.url(), &lease.url(), false, tweak).await;
                s.mysql = Some(db);
                s.redis = Some(lease);
                s
            }
            _ => Self::start_in(&dir, tweak).await,
        };
        if s._tmp.is_none() {
            s._tmp = tmp;
        }
        s
    }

    /// Cancels and waits for the server to finish draining.
    pub async fn stop(self) -> Option<tempfile::TempDir> {
        self.shutdown.cancel();
        self.handle.await.unwrap();
        self._tmp
    }
}

/// Inserts the three users of the spec's §9 fixture (ids 1, 2, 3).
pub async fn seed_spec_users(store: &dyn Store) {
    let users = [
        (
            "zhangyl",
            "b605e86d02eef8bfd0646f6a704c17c9",
            "1234",
            "张远龙",
            1,
            "zyl",
            "13900000001",
            "a@x.com",
            2,
            0,
            1000,
            0,
            "hello",
        ),
        (
            "test",
            "b605e86d02eef8bfd0646f6a704c17c9",
            "1234",
            "测试",
            2,
            "test",
            "",
            "",
            1,
            0,
            2000,
            1,
            "",
        ),
        (
            "gone",
            "b605e86d02eef8bfd0646f6a704c17c9",
            "0",
            "离职",
            1,
            "gone",
            "",
            "",
            1,
            3,
            3000,
            0,
            "",
        ),
    ];
    for (i, u) in users.into_iter().enumerate() {
        let id = store
            .add_user(NewUser {
                name: u.0.into(),
                password: u.1.into(),
                salt: u.2.into(),
                nick: u.3.into(),
                sex: u.4,
                domain: u.5.into(),
                phone: u.6.into(),
                email: u.7.into(),
                depart_id: u.8,
                status: u.9,
                updated: u.10,
                push_shield_status: u.11,
                sign_info: u.12.into(),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(id as usize, i + 1);
    }
}

/// A VALIDATE request body.
pub fn validate_body(name: &[u8], password: &[u8], attach: Option<&[u8]>) -> Vec<u8> {
    ImValidateReq {
        user_name: Some(name.to_vec()),
        password: Some(password.to_vec()),
        attach_data: attach.map(<[u8]>::to_vec),
    }
    .encode_to_vec()
}

/// Sends VALIDATE with `seq` 7 and attach "AB", checks the reply header,
/// and returns the decoded reply.
pub async fn login(client: &mut Client, name: &str, password: &str) -> ImValidateRsp {
    let body = validate_body(name.as_bytes(), password.as_bytes(), Some(b"AB"));
    let rsp = raw_request(client, 7, 0x0703, 7, body, 0x0704).await;
    ImValidateRsp::decode(rsp.body).unwrap()
}

/// Sends one frame with the given ids and checks the reply header:
/// version 1, flag 0, reserved 0, the request's seq, service 7.
pub async fn raw_request(
    client: &mut Client,
    service: u16,
    cmd: u16,
    seq: u16,
    body: Vec<u8>,
    reply_cmd: u16,
) -> Pdu {
    client
        .send_pdu(Pdu::new(service, cmd, seq, body))
        .await
        .unwrap();
    let rsp = tokio::time::timeout(Duration::from_secs(10), client.wait_reply(seq, reply_cmd))
        .await
        .expect("reply in time")
        .unwrap();
    assert_eq!(rsp.header.version, 1);
    assert_eq!(rsp.header.flag, 0);
    assert_eq!(rsp.header.reserved, 0);
    assert_eq!(rsp.header.seq_num, seq);
    rsp
}

/// Sends a request (seq 7) and returns the decoded reply after checking
/// the reply header's ids.
pub async fn call<R: Message + Default>(
    client: &mut Client,
    cmd: u16,
    req: &impl Message,
    reply_service: u16,
    reply_cmd: u16,
) -> R {
    let rsp = raw_request(client, 1, cmd, 7, req.encode_to_vec(), reply_cmd).await;
    assert_eq!(rsp.header.service_id, reply_service, "reply service id");
    R::decode(rsp.body).expect("reply decodes")
}

/// Sends a request that must get no reply, then proves the connection is
/// still served by a login that answers.
pub async fn assert_no_reply(client: &mut Client, cmd: u16, body: Vec<u8>) {
    client.send_pdu(Pdu::new(1, cmd, 7, body)).await.unwrap();
    let probe = validate_body(b"nobody", b"x", Some(b"probe"));
    client
        .send_pdu(Pdu::new(7, 0x0703, 8, probe))
        .await
        .unwrap();
    let next = next_frame(client).await.expect("connection open");
    assert_eq!(
        (next.header.command_id, next.header.seq_num),
        (0x0704, 8),
        "no reply to {cmd:#06x}"
    );
}

/// Sends a request that has no reply, waits until the store has finished
/// one more `op` call for it, then proves that no reply was sent (the next
/// frame answers a probe sent afterwards).
pub async fn send_and_wait(
    s: &TestServer,
    client: &mut Client,
    cmd: u16,
    body: Vec<u8>,
    op: tt_dbproxy::store::StoreOp,
) {
    let before = s.store.finished(op);
    client.send_pdu(Pdu::new(1, cmd, 7, body)).await.unwrap();
    eventually("the request's store call", || async {
        s.store.finished(op) > before
    })
    .await;
    let probe = validate_body(b"nobody", b"x", Some(b"probe"));
    client
        .send_pdu(Pdu::new(7, 0x0703, 8, probe))
        .await
        .unwrap();
    let next = next_frame(client).await.expect("connection open");
    assert_eq!(
        (next.header.command_id, next.header.seq_num),
        (0x0704, 8),
        "no reply to {cmd:#06x}"
    );
}

/// Waits (up to 5 s) until `check` holds: the effect of a request that
/// has no reply becomes visible asynchronously, since requests of one
/// connection run concurrently.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not within 5 s: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `"AB"`, the attach data every request of the spec's fixture carries.
pub fn ab() -> Option<Vec<u8>> {
    Some(b"AB".to_vec())
}

/// A text send from `from` to user or group `to` (`group`: MsgType 0x11,
/// else 1), as msg_server forwards it: `msg_id` 0, `create_time` 1000.
pub fn chat(from: u32, to: u32, group: bool, text: &str) -> ImMsgData {
    ImMsgData {
        from_user_id: Some(from),
        to_session_id: Some(to),
        msg_id: Some(0),
        create_time: Some(1000),
        msg_type: Some(if group { 0x11 } else { 1 }),
        msg_data: Some(text.as_bytes().to_vec()),
        attach_data: ab(),
    }
}

/// Waits for the next frame; `None` if the server closed the connection.
pub async fn next_frame(client: &mut Client) -> Option<Pdu> {
    match tokio::time::timeout(Duration::from_secs(10), client.next_frame()).await {
        Ok(Ok(frame)) => frame,
        Ok(Err(_)) => None,
        Err(_) => panic!("neither a frame nor a close within 10 s"),
    }
}

/// Asserts that the server closes the connection (EOF or reset).
pub async fn assert_closed(client: &mut Client) {
    loop {
        match next_frame(client).await {
            None => return,
            Some(p) if p.header.command_id == 0x0701 => continue,
            Some(p) => panic!("expected a close, got frame {:?}", p.header),
        }
    }
}

/// Asserts that no frame arrives within `ms` and the connection stays open.
pub async fn assert_silent(client: &mut Client, ms: u64) {
    match tokio::time::timeout(Duration::from_millis(ms), client.next_frame()).await {
        Err(_) => {}
        Ok(other) => panic!("expected silence, got {other:?}"),
    }
}

/// A seeded MySQL + Redis server, with this process's metrics recorder
/// installed (for tests that read `/metrics` samples); `None` when the
/// MySQL + Redis tests are skipped (never in CI).
pub async fn seeded_mysql_redis_with_metrics() -> Option<TestServer> {
    if backends::skipped() {
        return None;
    }
    tt_dbproxy::metrics::install();
    Some(TestServer::seeded(Backend::MysqlRedis).await)
}

/// MySQL conflicts retried as `op` ("create", "send") in this process so
/// far (`tt_dbproxy_mysql_conflict_retries_total`).
pub fn conflict_retries(op: &str) -> f64 {
    sample(
        &tt_dbproxy::metrics::render(),
        &format!("tt_dbproxy_mysql_conflict_retries_total{{op=\"{op}\"}}"),
    )
}

/// The value of a sample line `name{labels} value` (labels given exactly
/// as rendered, or "" for none); 0 when absent.
pub fn sample(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            l.strip_prefix(name_and_labels)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// (observations, their sum) of histogram `name` with `labels` (as
/// rendered, e.g. `{backend="mysql"}`) in this process's metrics now.
pub fn histogram_count_sum(name: &str, labels: &str) -> (f64, f64) {
    let text = tt_dbproxy::metrics::render();
    (
        sample(&text, &format!("{name}_count{labels}")),
        sample(&text, &format!("{name}_sum{labels}")),
    )
}

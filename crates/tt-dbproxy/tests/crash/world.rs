//! The crash test's world: its own backends (or the embedded store's
//! directory), the conversations, and what the checks read from them
//! (rows, unread counts, group totals, pending sends).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;
use tt_dbproxy::store::prelude::*;
use tt_dbproxy::store::{MysqlRedisStore, NewGroup, SqliteStore};
use tt_proto::im::message::ImMsgData;

use crate::common::faults::{OwnMariaDb, OwnRedis, have};
use crate::common::process::ServerProcess;

/// Where the server keeps its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// MySQL + Redis, one instance, killed.
    MysqlOne,
    /// MySQL + Redis, two instances; the first is killed, the second
    /// serves throughout.
    MysqlTwo,
    /// The embedded store.
    Embedded,
}

/// One conversation: a single sender writing to one reader (one-to-one)
/// or to a group of two.
#[derive(Debug, Clone, Copy)]
pub struct Conv {
    /// Index, in every message's text (`c<idx>-<seq>`).
    pub idx: usize,
    /// A group conversation.
    pub group: bool,
    /// The only sender.
    pub sender: u32,
    /// The receiver, or the group id.
    pub to: u32,
    /// The user whose unread count is checked.
    pub reader: u32,
}

impl Conv {
    /// The text of message `seq`.
    pub fn text(&self, seq: u32) -> String {
        format!("c{}-{seq}", self.idx)
    }

    /// Message `seq`: client `msg_id` = `seq`, so a resend is the same
    /// request again.
    pub fn message(&self, seq: u32) -> ImMsgData {
        ImMsgData {
            from_user_id: Some(self.sender),
            to_session_id: Some(self.to),
            msg_id: Some(seq),
            create_time: Some(1_700_000_000 + seq),
            msg_type: Some(if self.group { 17 } else { 1 }),
            msg_data: Some(self.text(seq).into_bytes()),
            attach_data: Some(Vec::new()),
        }
    }
}

/// The backends and the conversations.
pub struct World {
    setup: Setup,
    maria: Option<OwnMariaDb>,
    redis: Option<OwnRedis>,
    /// One working directory per instance.
    dirs: Vec<tempfile::TempDir>,
    /// The conversations: three one-to-one, two groups (last).
    pub convs: Vec<Conv>,
}

impl World {
    /// Starts the backends and creates the groups.
    pub async fn start(setup: Setup) -> Self {
        let dirs = vec![tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        let mut w = Self {
            setup,
            maria: None,
            redis: None,
            dirs,
            convs: Vec::new(),
        };
        let store: Arc<dyn Store> = if setup == Setup::Embedded {
            Arc::new(SqliteStore::open(&w.data_dir()).await.unwrap())
        } else {
            assert!(
                have("mariadbd") && have("mariadb-install-db") && have("redis-server"),
                "the crash test needs mariadbd, mariadb-install-db and redis-server"
            );
            w.maria = Some(OwnMariaDb::start());
            w.redis = Some(OwnRedis::start());
            let pool = mysql_async::Pool::new(w.maria().url("").as_str());
            let mut c = pool.get_conn().await.unwrap();
            c.query_drop("CREATE DATABASE tt CHARACTER SET utf8mb4")
                .await
                .unwrap();
            drop(c);
            pool.disconnect().await.unwrap();
            let envs = w.envs();
            let env = |k: &str| {
                envs.iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.clone())
            };
            let config = tt_dbproxy::config::from_toml_str("", &env).unwrap();
            let s = MysqlRedisStore::new(&config).unwrap();
            s.migrate().await.unwrap();
            Arc::new(s)
        };
        for (idx, n) in (0..3u32).enumerate() {
            w.convs.push(Conv {
                idx,
                group: false,
                sender: 11 + n,
                to: 21 + n,
                reader: 21 + n,
            });
        }
        for n in 0..2u32 {
            let (sender, reader) = (31 + n, 41 + n);
            let group = NewGroup {
                name: format!("g{n}"),
                avatar: String::new(),
                creator: sender,
                group_type: 1,
                members: vec![sender, reader],
            };
            let to = store.create_group(group, 1_700_000_000).await.unwrap();
            w.convs.push(Conv {
                idx: w.convs.len(),
                group: true,
                sender,
                to,
                reader,
            });
        }
        drop(store);
        w
    }

    fn maria(&self) -> &OwnMariaDb {
        self.maria.as_ref().expect("a MySQL setup")
    }

    fn data_dir(&self) -> PathBuf {
        self.dirs[0].path().join("data")
    }

    /// The server's environment.
    fn envs(&self) -> Vec<(String, String)> {
        let mut e = vec![
            ("TT_DBPROXY_REQUEST_TIMEOUT_MS".into(), "1000".into()),
            ("TT_DBPROXY_ACQUIRE_TIMEOUT_MS".into(), "400".into()),
        ];
        if self.setup != Setup::Embedded {
            e.push(("TT_DBPROXY_BACKEND".into(), "mysql".into()));
            e.push(("TT_DBPROXY_MYSQL_PRIMARY".into(), self.maria().url("tt")));
            let redis = self.redis.as_ref().expect("Redis");
            e.push(("TT_DBPROXY_REDIS_URL".into(), redis.url(0)));
        }
        e
    }

    /// Starts instance `i` (its own working and data directory).
    pub fn spawn(&self, i: usize) -> ServerProcess {
        self.spawn_with(i, &[])
    }

    /// Starts instance `i` with extra environment.
    pub fn spawn_with(&self, i: usize, extra: &[(&str, &str)]) -> ServerProcess {
        let owned = self.envs();
        let mut envs: Vec<(&str, &str)> = owned
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        envs.extend_from_slice(extra);
        ServerProcess::spawn(self.dirs[i].path(), &[], &envs)
    }

    async fn mysql_rows(&self, sql: String) -> Vec<(u32, u32, u32, String)> {
        let pool = mysql_async::Pool::new(self.maria().url("tt").as_str());
        let mut c = pool.get_conn().await.unwrap();
        let rows: Vec<(u32, u32, u32, String)> = c.query(sql).await.unwrap();
        drop(c);
        pool.disconnect().await.unwrap();
        rows
    }

    async fn sqlite_rows(&self, sql: String) -> Vec<(u32, u32, u32, String)> {
        let path = self.data_dir().join("tt-dbproxy.sqlite3");
        tokio::task::spawn_blocking(move || {
            let db = rusqlite::Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .unwrap();
            db.busy_timeout(Duration::from_secs(5)).unwrap();
            let mut stmt = db.prepare(&sql).unwrap();
            stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        })
        .await
        .unwrap()
    }

    /// Rows as (sender or group, receiver or 0, msgId, content).
    pub async fn rows(&self, filter: &str) -> Vec<(u32, u32, u32, String)> {
        let mut parts = Vec::new();
        for n in 0..8 {
            parts.push(format!(
                "SELECT fromId, toId, msgId, content FROM IMMessage_{n} WHERE {filter}"
            ));
            parts.push(format!(
                "SELECT groupId, 0, msgId, content FROM IMGroupMessage_{n} WHERE {filter}"
            ));
        }
        let sql = parts.join(" UNION ALL ");
        if self.setup == Setup::Embedded {
            self.sqlite_rows(sql).await
        } else {
            self.mysql_rows(sql).await
        }
    }

    /// Rows stored in `conv`.
    pub async fn rows_of(&self, conv: &Conv) -> u64 {
        let prefix = format!("c{}-%", conv.idx);
        self.rows(&format!("content LIKE '{prefix}'")).await.len() as u64
    }

    /// Whether message `seq` of `conv` is stored.
    pub async fn stored(&self, conv: &Conv, seq: u32) -> bool {
        let text = conv.text(seq);
        !self.rows(&format!("content = '{text}'")).await.is_empty()
    }

    async fn redis_int(&self, key: String, field: String) -> u32 {
        let redis = self.redis.as_ref().expect("Redis");
        let client = redis::Client::open(redis.url(0)).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        let v: Option<String> = redis::cmd("HGET")
            .arg(key)
            .arg(field)
            .query_async(&mut c)
            .await
            .unwrap();
        v.map(|s| s.parse().unwrap()).unwrap_or(0)
    }

    async fn sqlite_int(&self, sql: String) -> u32 {
        let path = self.data_dir().join("tt-dbproxy.sqlite3");
        tokio::task::spawn_blocking(move || {
            let db = rusqlite::Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
            )
            .unwrap();
            db.busy_timeout(Duration::from_secs(5)).unwrap();
            db.query_row(&sql, [], |r| r.get::<_, u32>(0)).unwrap_or(0)
        })
        .await
        .unwrap()
    }

    /// A group's total (messages ever counted).
    pub async fn group_total(&self, conv: &Conv) -> u32 {
        let g = conv.to;
        if self.setup == Setup::Embedded {
            self.sqlite_int(format!(
                "SELECT count FROM tt_group_total WHERE group_id = {g}"
            ))
            .await
        } else {
            self.redis_int(format!("{g}_im_group_msg"), "count".into())
                .await
        }
    }

    /// The reader's unread count in `conv`.
    pub async fn unread(&self, conv: &Conv) -> u32 {
        let (r, s, g) = (conv.reader, conv.sender, conv.to);
        if !conv.group {
            return if self.setup == Setup::Embedded {
                self.sqlite_int(format!(
                    "SELECT count FROM tt_unread WHERE user_id = {r} AND peer_id = {s}"
                ))
                .await
            } else {
                self.redis_int(format!("unread_{r}"), s.to_string()).await
            };
        }
        let mark = if self.setup == Setup::Embedded {
            self.sqlite_int(format!(
                "SELECT count FROM tt_group_read_mark WHERE user_id = {r} AND group_id = {g}"
            ))
            .await
        } else {
            self.redis_int(format!("{r}_{g}_im_user_group"), "count".into())
                .await
        };
        self.group_total(conv).await.saturating_sub(mark)
    }

    /// Waits (up to 30 s) until no send is left pending in Redis: every
    /// committed message's counters applied by whichever instance found it.
    pub async fn wait_settled(&self) {
        let Some(redis) = &self.redis else { return };
        let client = redis::Client::open(redis.url(0)).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            let n: u64 = redis::cmd("ZCARD")
                .arg("tt_dbproxy:pending")
                .query_async(&mut c)
                .await
                .unwrap();
            if n == 0 {
                return;
            }
            assert!(Instant::now() < end, "{n} sends still pending after 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

//! Real MariaDB and Redis for the behaviour suite: a database per test
//! server (dropped afterwards) and a Redis db index leased with a claim key
//! so parallel tests never share one (flushed before and after).
//!
//! `TT_TEST_MYSQL_URL` / `TT_TEST_REDIS_URL` override the local services.
//! `TT_TEST_SKIP_BACKENDS=1` skips these tests on a machine without them;
//! it is ignored when `CI=true`, where an unreachable service fails.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use mysql_async::prelude::Queryable;

/// Base URL of the MariaDB server (no database).
pub fn mysql_base() -> String {
    std::env::var("TT_TEST_MYSQL_URL").unwrap_or_else(|_| "mysql://root:@127.0.0.1:3306".into())
}

/// Base URL of the Redis server (no db index).
pub fn redis_base() -> String {
    std::env::var("TT_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Whether MySQL/Redis tests are switched off (never in CI).
pub fn skipped() -> bool {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let skip = std::env::var("TT_TEST_SKIP_BACKENDS").is_ok_and(|v| v == "1");
    if skip && !ci {
        eprintln!("TT_TEST_SKIP_BACKENDS=1: skipping a MySQL/Redis test");
        return true;
    }
    false
}

static NEXT_DB: AtomicU32 = AtomicU32::new(1);

/// A database created for one test server, dropped when this is dropped.
pub struct TestDatabase {
    pub name: String,
}

impl TestDatabase {
    pub async fn create() -> Self {
        let name = format!(
            "tt_test_{}_{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::Relaxed)
        );
        let mut conn = mysql_async::Conn::from_url(format!("{}/", mysql_base()))
            .await
            .unwrap_or_else(|e| {
                panic!("MariaDB at {} is required for this test: {e}", mysql_base())
            });
        conn.query_drop(format!("DROP DATABASE IF EXISTS `{name}`"))
            .await
            .unwrap();
        conn.query_drop(format!(
            "CREATE DATABASE `{name}` DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        ))
        .await
        .unwrap();
        let _ = conn.disconnect().await;
        Self { name }
    }

    /// `mysql://…/<name>`.
    pub fn url(&self) -> String {
        format!("{}/{}", mysql_base(), self.name)
    }

    /// Runs statements on this database.
    pub async fn exec(&self, statements: &[&str]) {
        let mut conn = mysql_async::Conn::from_url(self.url()).await.unwrap();
        for s in statements {
            conn.query_drop(*s)
                .await
                .unwrap_or_else(|e| panic!("{s}: {e}"));
        }
        let _ = conn.disconnect().await;
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS `{}`", self.name);
        // Drop runs inside the test's runtime; use a thread with its own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(mut c) = mysql_async::Conn::from_url(format!("{}/", mysql_base())).await {
                    let _ = c.query_drop(sql).await;
                    let _ = c.disconnect().await;
                }
            });
        })
        .join();
    }
}

/// One Redis db index (1..=15) held for one test server.
pub struct RedisLease {
    pub db: u32,
}

fn lease_key(db: u32) -> String {
    format!("tt-dbproxy:test-lease:{db}")
}

fn redis_conn(db: u32) -> redis::Connection {
    redis::Client::open(format!("{}/{db}", redis_base()))
        .and_then(|c| c.get_connection())
        .unwrap_or_else(|e| panic!("Redis at {} is required for this test: {e}", redis_base()))
}

impl RedisLease {
    pub fn acquire() -> Self {
        let mut admin = redis_conn(0);
        let owner = format!(
            "{}:{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::Relaxed)
        );
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            for db in 1..=15u32 {
                let got: Option<String> = redis::cmd("SET")
                    .arg(lease_key(db))
                    .arg(&owner)
                    .arg("NX")
                    .arg("EX")
                    .arg(600)
                    .query(&mut admin)
                    .unwrap();
                if got.is_some() {
                    let _: () = redis::cmd("FLUSHDB").query(&mut redis_conn(db)).unwrap();
                    return Self { db };
                }
            }
            assert!(
                Instant::now() < deadline,
                "no free Redis db index for 120 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `redis://…/<db>`.
    pub fn url(&self) -> String {
        format!("{}/{}", redis_base(), self.db)
    }

    /// A plain connection to the leased db, for fixtures and checks.
    pub fn conn(&self) -> redis::Connection {
        redis_conn(self.db)
    }
}

impl Drop for RedisLease {
    fn drop(&mut self) {
        let mut c = redis_conn(self.db);
        let _: Result<(), _> = redis::cmd("FLUSHDB").query(&mut c);
        let _: Result<(), _> = redis::cmd("DEL")
            .arg(lease_key(self.db))
            .query(&mut redis_conn(0));
    }
}

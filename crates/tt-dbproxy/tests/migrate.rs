//! `tt-dbproxy migrate` against a MySQL server where the configured
//! database does not exist yet: created when the account may, otherwise an
//! error that names the database and the statements to run.

mod common;

use common::backends::{RedisLease, TestDatabase, mysql_base, skipped};
use common::process::run;
use mysql_async::prelude::Queryable;

/// A database name nobody uses yet; dropped (if it came to exist) with
/// the returned guard.
fn fresh_database(tag: &str) -> TestDatabase {
    let nonce: u32 = rand::random();
    TestDatabase {
        name: format!("tt_test_{tag}_{}_{nonce:08x}", std::process::id()),
    }
}

async fn root() -> mysql_async::Conn {
    mysql_async::Conn::from_url(format!("{}/", mysql_base()))
        .await
        .unwrap()
}

/// TeamTalk tables present in `db`.
async fn tables(db: &str) -> Vec<String> {
    let mut c = root().await;
    let names: Vec<String> = c
        .exec(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY 1",
            (db,),
        )
        .await
        .unwrap();
    let _ = c.disconnect().await;
    names
}

async fn database_exists(db: &str) -> bool {
    let mut c = root().await;
    let n: Option<u64> = c
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = ?",
            (db,),
        )
        .await
        .unwrap();
    let _ = c.disconnect().await;
    n == Some(1)
}

fn migrate(url: &str, redis: &RedisLease) -> (bool, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &["migrate"],
        &[
            ("TT_DBPROXY_MYSQL_PRIMARY", url),
            ("TT_DBPROXY_REDIS_URL", &redis.url()),
        ],
    );
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_creates_a_missing_database() {
    if skipped() {
        return;
    }
    let db = fresh_database("migrate");
    let redis = RedisLease::acquire();
    assert!(!database_exists(&db.name).await);
    let (ok, stdout, stderr) = migrate(&db.url(), &redis);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("created MySQL database `{}`", db.name)),
        "{stdout}"
    );
    let got = tables(&db.name).await;
    for t in [
        "IMUser",
        "IMGroup",
        "IMMessage_0",
        "IMGroupMessage_7",
        "IMTransmitFile",
        "IMDiscovery",
        "tt_admin_password",
        "tt_console_session",
    ] {
        assert!(got.iter().any(|g| g == t), "{t} in {got:?}");
    }
    assert_eq!(got.len(), 26 + 4, "TeamTalk's and the console's: {got:?}");
    // A second run finds the database and creates nothing.
    let (ok, stdout, stderr) = migrate(&db.url(), &redis);
    assert!(ok, "{stdout}{stderr}");
    assert!(!stdout.contains("created MySQL database"), "{stdout}");
}

/// Drops the test's account (every host it was created for) when dropped.
struct TestUser {
    name: String,
}

const HOSTS: [&str; 3] = ["localhost", "127.0.0.1", "%"];

impl TestUser {
    /// An account that may only SELECT in `db` (no CREATE).
    async fn select_only(db: &str) -> Self {
        let nonce: u32 = rand::random();
        let name = format!("tt_nc_{nonce:08x}");
        let mut c = root().await;
        for host in HOSTS {
            c.query_drop(format!("CREATE USER '{name}'@'{host}' IDENTIFIED BY 'pw'"))
                .await
                .unwrap();
            c.query_drop(format!("GRANT SELECT ON `{db}`.* TO '{name}'@'{host}'"))
                .await
                .unwrap();
        }
        let _ = c.disconnect().await;
        Self { name }
    }

    /// `mysql://<user>:pw@<host:port of the test server>/<db>`.
    fn url(&self, db: &str) -> String {
        let base = mysql_base();
        let server = base.rsplit_once('@').map_or("127.0.0.1:3306", |(_, s)| s);
        format!("mysql://{}:pw@{server}/{db}", self.name)
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let name = self.name.clone();
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(mut c) = mysql_async::Conn::from_url(format!("{}/", mysql_base())).await {
                    for host in HOSTS {
                        let _ = c
                            .query_drop(format!("DROP USER IF EXISTS '{name}'@'{host}'"))
                            .await;
                    }
                    let _ = c.disconnect().await;
                }
            });
        })
        .join();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_without_create_privilege_says_what_to_run() {
    if skipped() {
        return;
    }
    let db = fresh_database("nocreate");
    let user = TestUser::select_only(&db.name).await;
    let redis = RedisLease::acquire();
    let (ok, stdout, stderr) = migrate(&user.url(&db.name), &redis);
    assert!(!ok, "{stdout}{stderr}");
    for expected in [
        format!("database `{}` does not exist", db.name),
        format!("CREATE DATABASE `{}` CHARACTER SET utf8mb4;", db.name),
        format!(
            "GRANT ALL PRIVILEGES ON `{}`.* TO '{}'@'%';",
            db.name, user.name
        ),
    ] {
        assert!(stderr.contains(&expected), "{expected:?} in {stderr}");
    }
    assert!(!database_exists(&db.name).await);

    // No privilege at all on the name: MySQL does not say whether it
    // exists; the error still names it and the statements.
    let other = fresh_database("nogrant");
    let (ok, stdout, stderr) = migrate(&user.url(&other.name), &redis);
    assert!(!ok, "{stdout}{stderr}");
    for expected in [
        format!("may not use database `{}`", other.name),
        format!(
            "CREATE DATABASE IF NOT EXISTS `{}` CHARACTER SET utf8mb4;",
            other.name
        ),
        format!("GRANT ALL PRIVILEGES ON `{}`.*", other.name),
    ] {
        assert!(stderr.contains(&expected), "{expected:?} in {stderr}");
    }
}

//! The fault harness: a MariaDB and a Redis of the test's own (temporary
//! data directory, free loopback port), so a test can kill -9, SIGSTOP,
//! SIGCONT and restart them under load. The machine's shared MariaDB and
//! Redis are never touched.
//!
//! Missing binaries skip these tests only with `TT_TEST_SKIP_BACKENDS=1`
//! and never under `CI=true` (see [`super::backends::skipped`]).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free loopback port (bound, then released for the child to take).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} {pid}");
}

fn wait_for_port(port: u16, what: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{what} did not listen on {port} within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether `binary` can be run (found on PATH or in /usr/sbin).
pub fn have(binary: &str) -> bool {
    which(binary).is_some()
}

fn which(binary: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .chain(["/usr/sbin", "/usr/bin", "/sbin"])
        .map(|d| Path::new(d).join(binary))
        .find(|p| p.is_file())
}

/// A backend child process a test can kill, pause and resume; killed (and
/// resumed first, if paused) when dropped.
#[derive(Default)]
pub struct Supervised {
    child: Option<Child>,
}

impl Supervised {
    fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// kill -9.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGSTOP: connections stay open, nothing is answered.
    pub fn pause(&self) {
        signal(self.pid(), "-STOP");
    }

    /// SIGCONT.
    pub fn resume(&self) {
        signal(self.pid(), "-CONT");
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill")
                .args(["-CONT", &c.id().to_string()])
                .status();
        }
        self.kill9();
    }
}

/// A `mariadbd` of the test's own.
pub struct OwnMariaDb {
    dir: tempfile::TempDir,
    pub port: u16,
    /// The running server.
    pub process: Supervised,
    /// Extra server options (binary log, server id, ...).
    extra: Vec<String>,
}

impl OwnMariaDb {
    /// Initialises a data directory with `mariadb-install-db` and starts
    /// the server (grant tables skipped: root without a password), without
    /// a binary log.
    pub fn start() -> Self {
        Self::start_with(&["--skip-log-bin"])
    }

    /// A replication primary: binary log on, GTIDs, server id `server_id`.
    pub fn start_primary(server_id: u32) -> Self {
        Self::start_with(&[
            "--log-bin=mariadb-bin",
            &format!("--server-id={server_id}"),
            "--binlog-format=ROW",
            "--gtid-strict-mode=1",
        ])
    }

    /// A replica (replication is started by the test: `CHANGE MASTER TO`),
    /// server id `server_id`, read-only for clients.
    pub fn start_replica(server_id: u32) -> Self {
        Self::start_with(&[
            "--skip-log-bin",
            &format!("--server-id={server_id}"),
            "--relay-log=relay-bin",
            "--gtid-strict-mode=1",
        ])
    }

    /// Like [`OwnMariaDb::start`], with `extra` server options.
    pub fn start_with(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let install = which("mariadb-install-db").expect("mariadb-install-db is required");
        let out = Command::new(install)
            .args([
                "--no-defaults",
                &format!("--datadir={}", dir.path().join("data").display()),
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ])
            // Its own temporary directory: two bootstraps at once clash
            // on the temporary tables' names in a shared /tmp.
            .env("TMPDIR", dir.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "mariadb-install-db: {out:?}");
        let mut db = Self {
            dir,
            port: free_port(),
            process: Supervised::default(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        db.spawn();
        db
    }

    fn spawn(&mut self) {
        let d = self.dir.path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("mariadbd.log"))
            .unwrap();
        let child = Command::new(which("mariadbd").expect("mariadbd is required"))
            .args([
                "--no-defaults".to_string(),
                format!("--datadir={}", d.join("data").display()),
                format!("--port={}", self.port),
                "--bind-address=127.0.0.1".to_string(),
                format!("--socket={}", d.join("sock").display()),
                format!("--pid-file={}", d.join("pid").display()),
                "--user=root".to_string(),
                "--skip-grant-tables".to_string(),
                "--innodb-buffer-pool-size=64M".to_string(),
                "--innodb-flush-log-at-trx-commit=1".to_string(),
                "--max-connections=500".to_string(),
            ])
            .args(&self.extra)
            .env("TMPDIR", d)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.process.child = Some(child);
        wait_for_port(self.port, "mariadbd", Duration::from_secs(60));
    }

    /// `mysql://root:@127.0.0.1:<port>/<database>`.
    pub fn url(&self, database: &str) -> String {
        format!("mysql://root:@127.0.0.1:{}/{database}", self.port)
    }

    /// kill -9 (no shutdown; InnoDB recovers at the next start).
    pub fn kill9(&mut self) {
        self.process.kill9();
    }

    /// Starts it again on the same data and port.
    pub fn restart(&mut self) {
        self.process.kill9();
        self.spawn();
    }
}

/// A `redis-server` of the test's own, keeping nothing on disk.
pub struct OwnRedis {
    pub port: u16,
    /// The running server.
    pub process: Supervised,
}

impl OwnRedis {
    /// Starts an empty Redis on a free port.
    pub fn start() -> Self {
        let mut r = Self {
            port: free_port(),
            process: Supervised::default(),
        };
        r.spawn();
        r
    }

    fn spawn(&mut self) {
        let child = Command::new(which("redis-server").expect("redis-server is required"))
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.process.child = Some(child);
        wait_for_port(self.port, "redis-server", Duration::from_secs(20));
    }

    /// `redis://127.0.0.1:<port>/<db>`.
    pub fn url(&self, db: u32) -> String {
        format!("redis://127.0.0.1:{}/{db}", self.port)
    }

    /// kill -9: every key is lost (nothing is persisted).
    pub fn kill9(&mut self) {
        self.process.kill9();
    }

    /// Starts it again, empty, on the same port.
    pub fn restart(&mut self) {
        self.process.kill9();
        self.spawn();
    }
}

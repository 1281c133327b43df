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
        install_db(&dir.path().join("data"), "root");
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
        let mut args = server_args(d, self.port, "root");
        args.extend(self.extra.iter().cloned());
        self.process.child = Some(spawn_mariadbd(d, &args));
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

/// Initialises `data` with `mariadb-install-db`, owned by `user`.
fn install_db(data: &Path, user: &str) {
    let install = which("mariadb-install-db").expect("mariadb-install-db is required");
    let mut cmd = Command::new(install);
    if user == "root" {
        // Its own temporary directory (the data dir's parent, which the
        // test owns): two bootstraps at once clash on the temporary
        // tables' names in a shared /tmp. (Another user could not write
        // there before the test hands the directory over.)
        cmd.env("TMPDIR", data.parent().unwrap_or(data));
    }
    let out = cmd
        .args([
            "--no-defaults",
            &format!("--datadir={}", data.display()),
            &format!("--user={user}"),
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "mariadb-install-db: {out:?}");
}

/// The arguments every test `mariadbd` runs with, in directory `d`.
fn server_args(d: &Path, port: u16, user: &str) -> Vec<String> {
    vec![
        "--no-defaults".to_string(),
        format!("--datadir={}", d.join("data").display()),
        format!("--port={port}"),
        "--bind-address=127.0.0.1".to_string(),
        format!("--socket={}", d.join("sock").display()),
        format!("--pid-file={}", d.join("pid").display()),
        format!("--user={user}"),
        "--skip-grant-tables".to_string(),
        "--innodb-buffer-pool-size=64M".to_string(),
        "--innodb-flush-log-at-trx-commit=1".to_string(),
        "--max-connections=500".to_string(),
    ]
}

/// Starts `mariadbd` with `args`, its log in `d/mariadbd.log`.
fn spawn_mariadbd(d: &Path, args: &[String]) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(d.join("mariadbd.log"))
        .unwrap();
    Command::new(which("mariadbd").expect("mariadbd is required"))
        .args(args)
        .env("TMPDIR", d)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

/// The Galera provider library (Debian's `galera-4`).
pub const GALERA_PROVIDER: &str = "/usr/lib/galera/libgalera_smm.so";

/// Whether a Galera cluster can be started here.
pub fn have_galera() -> bool {
    Path::new(GALERA_PROVIDER).is_file() && have("mariadbd") && have("rsync")
}

/// One node of an [`OwnGalera`] cluster.
pub struct GaleraNode {
    dir: PathBuf,
    /// Its MySQL port.
    pub port: u16,
    /// The running server.
    pub process: Supervised,
}

impl GaleraNode {
    /// `mysql://root:@127.0.0.1:<port>/<database>`.
    pub fn url(&self, database: &str) -> String {
        format!("mysql://root:@127.0.0.1:{}/{database}", self.port)
    }

    /// The last lines of its log (for a failure message).
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(self.dir.join("mariadbd.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

/// A three-node MariaDB Galera cluster of the test's own on loopback
/// ports: the first node bootstraps it (`--wsrep-new-cluster`), the
/// others join by rsync state transfer. As root the nodes run as the
/// `mysql` user on data it owns (rsync's daemon drops root privileges).
pub struct OwnGalera {
    _dir: tempfile::TempDir,
    /// The nodes, in start order.
    pub nodes: Vec<GaleraNode>,
    /// How long the cluster took to form (all nodes synced).
    pub formed_in: Duration,
}

impl OwnGalera {
    /// Starts the cluster and waits until every node is synced.
    pub async fn start() -> Self {
        let started = Instant::now();
        let dir = tempfile::tempdir().unwrap();
        let root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
        let user = if root { "mysql" } else { "" };
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let ports: Vec<[u16; 4]> = (0..3)
            .map(|_| [free_port(), free_port(), free_port(), free_port()])
            .collect();
        let members: Vec<String> = ports
            .iter()
            .map(|p| format!("127.0.0.1:{}", p[1]))
            .collect();
        let address = format!("gcomm://{}", members.join(","));
        let mut nodes = Vec::new();
        for (i, [port, gcomm, ist, sst]) in ports.into_iter().enumerate() {
            let d = dir.path().join(format!("node{i}"));
            std::fs::create_dir(&d).unwrap();
            install_db(&d.join("data"), if root { user } else { "root" });
            if root {
                let ok = Command::new("chown")
                    .args(["-R", "mysql:mysql", &d.display().to_string()])
                    .status()
                    .unwrap()
                    .success();
                assert!(ok, "chown {}", d.display());
            }
            let mut args = server_args(&d, port, if root { user } else { "root" });
            args.extend([
                "--binlog-format=ROW".to_string(),
                "--innodb-autoinc-lock-mode=2".to_string(),
                "--innodb-buffer-pool-size=32M".to_string(),
                "--wsrep-on=ON".to_string(),
                format!("--wsrep-provider={GALERA_PROVIDER}"),
                "--wsrep-cluster-name=tt_test".to_string(),
                format!("--wsrep-cluster-address={address}"),
                format!("--wsrep-node-name=node{i}"),
                format!("--wsrep-node-address=127.0.0.1:{gcomm}"),
                format!("--wsrep-node-incoming-address=127.0.0.1:{port}"),
                format!("--wsrep-sst-receive-address=127.0.0.1:{sst}"),
                "--wsrep-sst-method=rsync".to_string(),
                "--wsrep-slave-threads=2".to_string(),
                format!(
                    "--wsrep-provider-options=gmcast.listen_addr=tcp://127.0.0.1:{gcomm};\
                     ist.recv_addr=127.0.0.1:{ist};gcache.size=32M"
                ),
            ]);
            if i == 0 {
                args.push("--wsrep-new-cluster".to_string());
            }
            nodes.push(GaleraNode {
                dir: d,
                port,
                process: Supervised::default(),
            });
            let n = nodes.last_mut().unwrap();
            n.process.child = Some(spawn_mariadbd(&n.dir, &args));
            // The first node must be primary before the others join (they
            // then join together, each by its own state transfer).
            if i == 0 {
                wait_synced(n).await;
            }
        }
        for n in &nodes[1..] {
            wait_synced(n).await;
        }
        Self {
            _dir: dir,
            nodes,
            formed_in: started.elapsed(),
        }
    }
}

/// Waits (at most 90 s) until `node` answers and is `Synced`.
async fn wait_synced(node: &GaleraNode) {
    use mysql_async::prelude::Queryable;
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(mut c) = mysql_async::Conn::from_url(node.url("mysql")).await {
            let state: Option<(String, String)> = c
                .query_first("SHOW STATUS LIKE 'wsrep_local_state_comment'")
                .await
                .unwrap_or(None);
            let _ = c.disconnect().await;
            if state.is_some_and(|(_, v)| v == "Synced") {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "Galera node on {} not synced within 90 s:\n{}",
            node.port,
            node.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A `redis-server` of the test's own, keeping nothing on disk (or a
/// Sentinel, with [`OwnRedis::run`]).
pub struct OwnRedis {
    pub port: u16,
    /// The running server.
    pub process: Supervised,
    args: Vec<String>,
}

impl OwnRedis {
    /// Starts an empty Redis on a free port.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Like [`OwnRedis::start`], with `extra` server options
    /// (`--replicaof`, `--dir` …).
    pub fn start_with(extra: &[&str]) -> Self {
        let port = free_port();
        let args: Vec<String> = [
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ]
        .iter()
        .chain(extra)
        .map(ToString::to_string)
        .collect();
        Self::run(port, args)
    }

    /// `redis-server` with exactly `args`, listening on `port` (a
    /// Sentinel: its config file and `--sentinel`).
    pub fn run(port: u16, args: Vec<String>) -> Self {
        let mut r = Self {
            port,
            process: Supervised::default(),
            args,
        };
        r.spawn();
        r
    }

    fn spawn(&mut self) {
        let child = Command::new(which("redis-server").expect("redis-server is required"))
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.process.child = Some(child);
        wait_for_port(self.port, "redis-server", Duration::from_secs(20));
    }

    /// A plain connection to db 0 with a 2 s read timeout, for checks.
    pub fn conn(&self) -> redis::Connection {
        let c = redis::Client::open(self.url(0)).unwrap();
        let conn = c.get_connection().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        conn
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

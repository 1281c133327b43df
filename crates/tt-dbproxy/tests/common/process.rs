//! The real `tt-dbproxy` binary as a child process.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Path of the binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_tt-dbproxy")
}

/// Runs the binary to completion in `cwd`.
pub fn run(cwd: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(bin());
    cmd.current_dir(cwd).args(args);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run tt-dbproxy")
}

/// A serving `tt-dbproxy` process.
pub struct ServerProcess {
    child: Child,
    pub addr: SocketAddr,
    lines: mpsc::Receiver<String>,
    /// Lines printed up to "listening on", not yet handed out.
    startup: std::cell::RefCell<Vec<String>>,
}

impl ServerProcess {
    /// Starts `tt-dbproxy` in `cwd` listening on an ephemeral port and waits
    /// for its "listening on" log line.
    pub fn spawn(cwd: &Path, args: &[&str], envs: &[(&str, &str)]) -> Self {
        Self::spawn_with(Command::new(bin()), cwd, args, envs)
    }

    /// Like [`spawn`](Self::spawn) with a limit on open files.
    pub fn spawn_with_nofile(limit: u32, cwd: &Path, args: &[&str], envs: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("ulimit -n {limit} && exec \"$0\" \"$@\""))
            .arg(bin());
        Self::spawn_with(cmd, cwd, args, envs)
    }

    /// Like [`spawn`](Self::spawn), but listening where the configuration
    /// says (no ephemeral-port overrides for the PDU and admin addresses).
    pub fn spawn_as_configured(cwd: &Path, args: &[&str], envs: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(bin());
        cmd.env_remove("TT_DBPROXY_LISTEN")
            .env_remove("TT_DBPROXY_ADMIN_LISTEN");
        Self::start(cmd, cwd, args, envs)
    }

    fn spawn_with(mut cmd: Command, cwd: &Path, args: &[&str], envs: &[(&str, &str)]) -> Self {
        cmd.env("TT_DBPROXY_LISTEN", "127.0.0.1:0")
            .env("TT_DBPROXY_ADMIN_LISTEN", "127.0.0.1:0");
        Self::start(cmd, cwd, args, envs)
    }

    fn start(mut cmd: Command, cwd: &Path, args: &[&str], envs: &[(&str, &str)]) -> Self {
        cmd.current_dir(cwd)
            .args(args)
            .env("TT_DBPROXY_LOG_LEVEL", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn tt-dbproxy");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut startup = Vec::new();
        let addr = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = lines
                .recv_timeout(left)
                .expect("tt-dbproxy printed no \"listening on\" line");
            let addr = line
                .split("listening on ")
                .nth(1)
                .map(|rest| rest.trim().parse().expect("address after \"listening on\""));
            startup.push(line);
            if let Some(addr) = addr {
                break addr;
            }
        };
        Self {
            child,
            addr,
            lines,
            startup: std::cell::RefCell::new(startup),
        }
    }

    /// Process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Log lines printed so far (non-blocking).
    pub fn lines_so_far(&self) -> Vec<String> {
        let mut out: Vec<String> = self.startup.borrow_mut().drain(..).collect();
        out.extend(self.lines.try_iter());
        out
    }

    /// Waits for the process to exit (panics after `timeout`) and returns
    /// its status and the log lines it printed since start-up.
    pub fn wait(mut self, timeout: Duration) -> (ExitStatus, Vec<String>) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return (status, self.lines_so_far());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("tt-dbproxy did not exit within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A short `tt-dbproxy bench` against the server (the real binary).
pub async fn run_bench(addr: std::net::SocketAddr) {
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(bin())
            .args([
                "bench",
                "--addr",
                &addr.to_string(),
                "--duration",
                "5s",
                "--connections",
                "2",
            ])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

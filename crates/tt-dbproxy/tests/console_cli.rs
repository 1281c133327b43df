//! The console through the real binary: `console add-admin` reading the
//! password from standard input, the refusal to serve a non-loopback
//! address without TLS, and the console's own HTTPS listener (`curl`
//! and `openssl` from Debian; skipped with a message without them,
//! except under `CI=true`).

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::process::{ServerProcess, bin, run};
use tt_dbproxy::store::SqliteStore;
use tt_dbproxy::store::prelude::*;

fn add_admin(dir: &std::path::Path, name: &str, stdin: &str) -> std::process::Output {
    let mut child = Command::new(bin())
        .current_dir(dir)
        .args(["console", "add-admin", name])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn add_admin_reads_the_password_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let out = add_admin(dir.path(), "ops", "s3cure-pass\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("added console account ops"));
    let again = add_admin(dir.path(), "ops", "s3cure-pass\n");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists"));
    let weak = add_admin(dir.path(), "dev", "short\n");
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("at least 8"));
    let store = SqliteStore::open(&dir.path().join("data")).await.unwrap();
    let a = store.console_account_by_name("ops").await.unwrap().unwrap();
    let hash = a.hash.unwrap();
    assert!(hash.starts_with("$argon2id$"));
    assert!(!hash.contains("s3cure-pass"));
    assert!(
        store
            .console_account_by_name("dev")
            .await
            .unwrap()
            .is_none()
    );
    let log = store.audit_log(0, 5).await.unwrap();
    assert!(log[0].what.contains("account.add"));
}

#[test]
fn a_public_console_without_tls_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        dir.path(),
        &[],
        &[
            ("TT_DBPROXY_LISTEN", "127.0.0.1:0"),
            ("TT_DBPROXY_ADMIN_LISTEN", "127.0.0.1:0"),
            ("TT_DBPROXY_CONSOLE_ENABLED", "true"),
            ("TT_DBPROXY_CONSOLE_LISTEN", "0.0.0.0:0"),
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("without TLS"), "{err}");
}

fn tools_present() -> bool {
    let ok = ["openssl", "curl"].iter().all(|t| {
        Command::new(t)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok()
    });
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "openssl and curl are needed"
        );
        eprintln!("skipping: openssl and curl are needed for the TLS console test");
    }
    ok
}

#[test]
fn the_console_serves_https_with_secure_cookies() {
    if !tools_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(made.success());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let server = ServerProcess::spawn(
        dir.path(),
        &[],
        &[
            ("TT_DBPROXY_CONSOLE_ENABLED", "true"),
            ("TT_DBPROXY_CONSOLE_LISTEN", &listen),
            ("TT_DBPROXY_CONSOLE_TLS_CERT", cert.to_str().unwrap()),
            ("TT_DBPROXY_CONSOLE_TLS_KEY", key.to_str().unwrap()),
        ],
    );
    let lines = server.lines_so_far().join("\n");
    assert!(
        lines.contains(&format!("web console on https://{listen}/console/")),
        "{lines}"
    );
    let mut headers = String::new();
    for _ in 0..50 {
        let out = Command::new("curl")
            .args(["-sk", "-D", "-", "-o", "/dev/null"])
            .arg(format!("https://{listen}/console/login"))
            .output()
            .unwrap();
        headers = String::from_utf8_lossy(&out.stdout).to_string();
        if headers.starts_with("HTTP/") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        headers.starts_with("HTTP/1.1 200") || headers.starts_with("HTTP/2 200"),
        "{headers}"
    );
    let cookie = headers
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie"))
        .unwrap_or_default()
        .to_string();
    assert!(
        cookie.contains("Secure")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let plain = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("http://{listen}/console/login"))
        .output()
        .unwrap();
    assert_ne!(
        String::from_utf8_lossy(&plain.stdout),
        "200",
        "no plain HTTP there"
    );
}

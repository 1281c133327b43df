//! The Debian package and the systemd unit: `scripts/build-deb.sh` builds a
//! `.deb` (here of the test build's binary) holding the binary, the unit
//! and the conffile; `systemd-analyze verify` accepts the unit (a copy
//! whose `ExecStart` is the built binary); its offline security exposure
//! stays at or below 2.0 ("OK"; `--threshold=20`, the tool's tenths; a
//! unit without the hardening is refused at that threshold); the server sends `READY=1` to `NOTIFY_SOCKET` once
//! it listens and `STOPPING=1` when it drains.
//!
//! The tools (dpkg-deb, systemd-analyze) are Debian's; without them the
//! tests skip with a message, except under `CI=true`, where they fail.

mod common;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::process::{ServerProcess, bin};

const UNIT: &str = include_str!("../../../packaging/tt-dbproxy.service");

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Whether `tool` runs; if not, skipping is allowed only outside CI.
fn have(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{tool} is required in CI"
        );
        eprintln!("skipped: {tool} is not installed");
    }
    ok
}

fn unit_copy(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("tt-dbproxy.service");
    std::fs::write(&path, text.replace("/usr/bin/tt-dbproxy", bin())).unwrap();
    path
}

#[test]
fn the_deb_holds_the_binary_the_unit_and_the_conffile() {
    if !have("dpkg-deb") {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let built = Command::new("bash")
        .arg(repo().join("scripts/build-deb.sh"))
        .arg(bin())
        .arg(out.path())
        .env("DEB_COMPRESSION", "gzip")
        .output()
        .unwrap();
    assert!(built.status.success(), "{built:?}");
    let deb = String::from_utf8(built.stdout).unwrap().trim().to_string();
    assert!(
        deb.ends_with("_amd64.deb") || deb.ends_with(".deb"),
        "{deb}"
    );
    let list = Command::new("dpkg-deb")
        .args(["-c", &deb])
        .output()
        .unwrap();
    let list = String::from_utf8(list.stdout).unwrap();
    for path in [
        "./usr/bin/tt-dbproxy",
        "./lib/systemd/system/tt-dbproxy.service",
        "./etc/tt-dbproxy/tt-dbproxy.toml",
        "./usr/share/doc/tt-dbproxy/operations.md",
        "./usr/share/doc/tt-dbproxy/prometheus/tt-dbproxy-rules.yml",
    ] {
        assert!(
            list.lines().any(|l| l.ends_with(path)),
            "{path} missing:\n{list}"
        );
    }
    assert!(
        list.lines()
            .any(|l| l.starts_with("-rwxr-xr-x root/root") && l.ends_with("./usr/bin/tt-dbproxy")),
        "the binary is executable and owned by root:\n{list}"
    );
    let field = |name: &str| {
        let o = Command::new("dpkg-deb")
            .args(["-f", &deb, name])
            .output()
            .unwrap();
        String::from_utf8(o.stdout).unwrap().trim().to_string()
    };
    assert_eq!(field("Package"), "tt-dbproxy");
    assert_eq!(field("Version"), env!("CARGO_PKG_VERSION"));
    assert!(field("Depends").contains("adduser"));
    let info = tempfile::tempdir().unwrap();
    let control = Command::new("dpkg-deb")
        .args(["-e", &deb])
        .arg(info.path())
        .status()
        .unwrap();
    assert!(control.success());
    assert_eq!(
        std::fs::read_to_string(info.path().join("conffiles")).unwrap(),
        "/etc/tt-dbproxy/tt-dbproxy.toml\n"
    );
    let postinst = std::fs::read_to_string(info.path().join("postinst")).unwrap();
    assert!(postinst.contains("adduser --system"), "a system user");
    assert!(
        postinst.contains("/var/lib/tt-dbproxy"),
        "owning the data dir"
    );
    // The packaged configuration is valid and keeps its data there.
    let config = tt_dbproxy::config::from_toml_str(
        include_str!("../../../packaging/tt-dbproxy.toml"),
        &|_| None,
    )
    .unwrap();
    assert_eq!(config.storage.data_dir, Path::new("/var/lib/tt-dbproxy"));
}

#[test]
fn the_unit_verifies_and_is_hardened() {
    if !have("systemd-analyze") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_copy(dir.path(), UNIT);
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    assert!(verify.status.success(), "{verify:?}");
    for line in [
        "Type=notify",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/tt-dbproxy",
        "PrivateTmp=yes",
    ] {
        assert!(UNIT.lines().any(|l| l == line), "{line}");
    }
    let security = |path: &Path| {
        Command::new("systemd-analyze")
            .args(["security", "--offline=true", "--threshold=20"])
            .arg(path)
            .output()
            .unwrap()
    };
    let ours = security(&unit);
    assert!(
        ours.status.success(),
        "{}",
        String::from_utf8_lossy(&ours.stdout)
    );
    // The same unit without its hardening is refused at that threshold.
    let bare: String = UNIT
        .lines()
        .take_while(|l| !l.starts_with("# Hardening"))
        .chain(["", "[Install]", "WantedBy=multi-user.target"])
        .collect::<Vec<_>>()
        .join("\n");
    let weak_dir = tempfile::tempdir().unwrap();
    let weak = security(&unit_copy(weak_dir.path(), &bare));
    assert!(
        !weak.status.success(),
        "an unhardened unit must fail the threshold"
    );
}

#[test]
fn the_server_tells_systemd_when_it_is_ready_and_when_it_stops() {
    let dir = tempfile::tempdir().unwrap();
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let server = ServerProcess::spawn(
        dir.path(),
        &[],
        &[("NOTIFY_SOCKET", socket_path.to_str().unwrap())],
    );
    let mut buf = [0u8; 256];
    let n = socket.recv(&mut buf).expect("a notification");
    assert_eq!(&buf[..n], b"READY=1\n", "ready once it listens");
    // It really listens at that point.
    std::net::TcpStream::connect(server.addr).unwrap();
    server.terminate();
    let n = socket.recv(&mut buf).expect("a notification");
    assert_eq!(&buf[..n], b"STOPPING=1\n");
    let (status, _) = server.wait(Duration::from_secs(20));
    assert!(status.success());
}

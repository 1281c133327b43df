//! The Debian package and the systemd units: `scripts/build-deb.sh` builds a
//! `.deb` (here of the test build's binary) holding the binary, the unit,
//! the template unit for further instances, the conffile and an instance
//! configuration example; `systemd-analyze verify` accepts each unit (a
//! copy whose `ExecStart` is the built binary; the template as the
//! instance `tt-dbproxy@second.service`); each one's offline security
//! exposure stays at or below 2.0 ("OK"; `--threshold=20`, the tool's
//! tenths; a unit without the hardening is refused at that threshold); the
//! template is the main unit with per-instance paths and nothing else
//! changed; the example instance configuration is valid and takes none of
//! the packaged configuration's addresses or its data directory; the
//! server sends `READY=1` to `NOTIFY_SOCKET` once it listens and
//! `STOPPING=1` when it drains.
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
const TEMPLATE: &str = include_str!("../../../packaging/tt-dbproxy@.service");
const CONFIG: &str = include_str!("../../../packaging/tt-dbproxy.toml");
const INSTANCE_EXAMPLE: &str = include_str!("../../../packaging/instance-example.toml");

/// The offline exposure (in tenths, as `systemd-analyze` takes it) every
/// packaged unit stays at or below.
const SECURITY_THRESHOLD: &str = "--threshold=20";

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

/// Writes `text` as the unit file `name` in `dir`, its binary replaced by
/// the built one.
fn unit_copy(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text.replace("/usr/bin/tt-dbproxy", bin())).unwrap();
    path
}

/// Checks the unit `text`, copied as the unit file `name`:
/// `systemd-analyze verify` accepts it, its offline security exposure is
/// within [`SECURITY_THRESHOLD`], and the same unit without its hardening
/// section is refused at that threshold (so the check can fail).
fn verify_and_rate(name: &str, text: &str) {
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_copy(dir.path(), name, text);
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    assert!(verify.status.success(), "{name}: {verify:?}");
    let security = |path: &Path| {
        Command::new("systemd-analyze")
            .args(["security", "--offline=true", SECURITY_THRESHOLD])
            .arg(path)
            .output()
            .unwrap()
    };
    let ours = security(&unit);
    assert!(
        ours.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&ours.stdout)
    );
    let bare: String = text
        .lines()
        .take_while(|l| !l.starts_with("# Hardening"))
        .chain(["", "[Install]", "WantedBy=multi-user.target"])
        .collect::<Vec<_>>()
        .join("\n");
    let weak_dir = tempfile::tempdir().unwrap();
    let weak = security(&unit_copy(weak_dir.path(), name, &bare));
    assert!(
        !weak.status.success(),
        "{name}: an unhardened unit must fail the threshold"
    );
}

/// Asserts that `unit` has each of `lines` as a line of its own.
fn assert_lines(unit: &str, lines: &[&str]) {
    for line in lines {
        assert!(unit.lines().any(|l| l == *line), "{line}");
    }
}

#[test]
fn the_deb_holds_the_binary_the_units_and_the_conffile() {
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
        "./lib/systemd/system/tt-dbproxy@.service",
        "./etc/tt-dbproxy/tt-dbproxy.toml",
        "./usr/share/doc/tt-dbproxy/operations.md",
        "./usr/share/doc/tt-dbproxy/instance-example.toml",
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
    let prerm = std::fs::read_to_string(info.path().join("prerm")).unwrap();
    assert!(
        prerm.contains("systemctl stop 'tt-dbproxy@*.service'"),
        "removing the package stops the instances too:\n{prerm}"
    );
    // The packaged configuration is valid and keeps its data there.
    let config = tt_dbproxy::config::from_toml_str(CONFIG, &|_| None).unwrap();
    assert_eq!(config.storage.data_dir, Path::new("/var/lib/tt-dbproxy"));
}

#[test]
fn the_unit_verifies_and_is_hardened() {
    assert_lines(
        UNIT,
        &[
            "Type=notify",
            "ExecReload=/bin/kill -HUP $MAINPID",
            "Restart=on-failure",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "ReadWritePaths=/var/lib/tt-dbproxy",
            "PrivateTmp=yes",
        ],
    );
    if have("systemd-analyze") {
        verify_and_rate("tt-dbproxy.service", UNIT);
    }
}

#[test]
fn the_template_unit_verifies_and_is_hardened_as_an_instance() {
    if !have("systemd-analyze") {
        return;
    }
    verify_and_rate("tt-dbproxy@second.service", TEMPLATE);
}

#[test]
fn the_template_unit_is_the_main_unit_with_per_instance_paths() {
    assert_lines(
        TEMPLATE,
        &[
            "ExecStart=/usr/bin/tt-dbproxy serve --config /etc/tt-dbproxy/%i.toml",
            "WorkingDirectory=/var/lib/tt-dbproxy/%i",
            "StateDirectory=tt-dbproxy/%i",
            "ReadWritePaths=/var/lib/tt-dbproxy/%i",
        ],
    );
    // Everything else, the hardening included, is the main unit's: the
    // main unit with its paths made per instance is the template, from
    // `[Unit]` on, but for the description.
    let body = |unit: &str| -> Vec<String> {
        unit.lines()
            .skip_while(|l| *l != "[Unit]")
            .filter(|l| !l.starts_with("Description="))
            .map(str::to_string)
            .collect()
    };
    let per_instance: Vec<String> = body(UNIT)
        .into_iter()
        .map(|l| match l.as_str() {
            "StateDirectory=tt-dbproxy"
            | "WorkingDirectory=/var/lib/tt-dbproxy"
            | "ReadWritePaths=/var/lib/tt-dbproxy" => format!("{l}/%i"),
            _ => l.replace("/etc/tt-dbproxy/tt-dbproxy.toml", "/etc/tt-dbproxy/%i.toml"),
        })
        .collect();
    assert_eq!(body(TEMPLATE), per_instance);
}

#[test]
fn the_instance_example_takes_its_own_addresses_and_data_dir() {
    let main = tt_dbproxy::config::from_toml_str(CONFIG, &|_| None).unwrap();
    let second = tt_dbproxy::config::from_toml_str(INSTANCE_EXAMPLE, &|_| None).unwrap();
    assert!(
        second.admin_listen.is_some(),
        "the example has an admin endpoint"
    );
    // Every address of the two (PDU and admin) is bound once.
    let mut addresses: Vec<_> = [&main, &second]
        .iter()
        .flat_map(|c| c.server.listen.iter().copied().chain(c.admin_listen))
        .collect();
    let all = addresses.len();
    addresses.sort();
    addresses.dedup();
    assert_eq!(addresses.len(), all, "an address taken twice");
    // The one directory the template lets instance "second" write.
    assert_eq!(
        second.storage.data_dir,
        Path::new("/var/lib/tt-dbproxy/second")
    );
    assert_eq!(
        second.storage.backend,
        tt_dbproxy::config::BackendKind::Mysql,
        "a second instance of the same deployment needs MySQL + Redis"
    );
    assert!(
        INSTANCE_EXAMPLE.contains("systemctl enable --now tt-dbproxy@second"),
        "the example says how to start it"
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

//! Runs the `archcheck` binary on small fake crates written to a temporary
//! folder, and checks what it finds and how it exits.

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A crate folder under the system's temp dir, removed on drop.
struct FakeCrate {
    dir: PathBuf,
}

impl FakeCrate {
    fn new(test: &str) -> FakeCrate {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("archcheck-{test}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("src")).unwrap();
        fs::write(
            dir.join("Cargo.toml"),
            "[package]\nname = \"fake-crate\"\nversion = \"0.1.0\"\n",
        )
        .unwrap();
        FakeCrate { dir }
    }

    fn file(&self, rel: &str, text: &str) -> &FakeCrate {
        let path = self.dir.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
        self
    }

    fn run(&self, extra: &[&str]) -> (i32, String) {
        let out = Command::new(env!("CARGO_BIN_EXE_archcheck"))
            .arg(&self.dir)
            .args(extra)
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.is_empty(), "stderr: {stderr}");
        (out.status.code().unwrap(), stdout)
    }
}

impl Drop for FakeCrate {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// The lines of one section of the report (between its `==` header and the
/// next one).
fn section<'a>(out: &'a str, header: &str) -> &'a str {
    let start = out
        .find(header)
        .unwrap_or_else(|| panic!("no {header} in:\n{out}"));
    let rest = &out[start + header.len()..];
    &rest[..rest.find("\n== ").unwrap_or(rest.len())]
}

fn lines(n: usize) -> String {
    (0..n).map(|k| format!("// line {k}\n")).collect()
}

#[test]
fn planted_cycle_is_found_and_fails() {
    let c = FakeCrate::new("cycle");
    c.file("src/lib.rs", "pub mod a;\npub mod b;\n")
        .file("src/a.rs", "use crate::b::X;\npub struct Y;\n")
        .file("src/b.rs", "use crate::a::Y;\npub struct X;\n");
    let (code, out) = c.run(&[]);
    assert_eq!(code, 1, "{out}");
    let cycles = section(&out, "== 2. import cycles");
    assert!(cycles.contains("a.rs → b.rs → a.rs"), "{out}");
    assert!(cycles.contains("a.rs uses crate::b::X (line 1)"), "{out}");
    assert!(cycles.contains("b.rs uses crate::a::Y (line 1)"), "{out}");
}

#[test]
fn report_only_prints_but_exits_zero() {
    let c = FakeCrate::new("report-only");
    c.file("src/lib.rs", "pub mod a;\npub mod b;\n")
        .file("src/a.rs", "use crate::b::X;\npub struct Y;\n")
        .file("src/b.rs", "use crate::a::Y;\npub struct X;\n");
    let (code, out) = c.run(&["--report-only"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("a.rs → b.rs → a.rs"), "{out}");
    assert!(out.contains("FAIL"), "{out}");
}

#[test]
fn ring_of_three_through_a_mod_rs_reexport() {
    let c = FakeCrate::new("ring3");
    c.file("src/lib.rs", "pub mod store;\n")
        .file(
            "src/store/mod.rs",
            "pub mod model;\npub mod sqlite;\npub mod writer;\n\npub use model::{Other, Store};\n",
        )
        .file(
            "src/store/model.rs",
            "pub struct Store;\npub struct Other;\nfn f() { super::writer::flush(); }\n",
        )
        .file(
            "src/store/writer.rs",
            "use super::sqlite::Conn;\npub fn flush() {}\n",
        )
        .file(
            "src/store/sqlite.rs",
            "use crate::store::Store;\npub struct Conn;\n",
        );
    let (code, out) = c.run(&[]);
    assert_eq!(code, 1, "{out}");
    let cycles = section(&out, "== 2. import cycles");
    assert!(
        cycles.contains("store/model.rs → store/writer.rs → store/sqlite.rs → store/model.rs"),
        "{out}"
    );
    assert!(
        cycles.contains("store/sqlite.rs uses crate::store::Store"),
        "{out}"
    );
    assert!(
        cycles.contains("store/model.rs uses super::writer::flush (line 3)"),
        "{out}"
    );
    assert!(!cycles.contains("store/mod.rs"), "{out}");
}

#[test]
fn glob_reexport_resolves_to_its_module() {
    let c = FakeCrate::new("glob");
    c.file("src/lib.rs", "pub mod store;\n")
        .file(
            "src/store/mod.rs",
            "pub mod model;\npub mod pool;\npub use model::*;\n",
        )
        .file(
            "src/store/model.rs",
            "use super::pool::Pool;\npub struct Store;\n",
        )
        .file(
            "src/store/pool.rs",
            "pub struct Pool;\nfn f(_: crate::store::Store) {}\n",
        );
    let (code, out) = c.run(&[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        section(&out, "== 2. import cycles")
            .contains("store/model.rs → store/pool.rs → store/model.rs"),
        "{out}"
    );
}

#[test]
fn pub_use_in_mod_rs_alone_is_not_a_cycle() {
    let c = FakeCrate::new("reexport");
    c.file("src/lib.rs", "pub mod store;\npub mod handler;\n")
        .file(
            "src/store/mod.rs",
            "pub mod model;\npub use model::{Row, Store};\npub enum StoreError {}\n",
        )
        .file(
            "src/store/model.rs",
            "use super::StoreError;\npub struct Store;\npub struct Row;\n",
        )
        .file("src/handler.rs", "use crate::store::{Row, Store};\n");
    let (code, out) = c.run(&[]);
    assert_eq!(code, 0, "{out}");
    assert!(
        section(&out, "== 2. import cycles").contains("none"),
        "{out}"
    );
}

#[test]
fn file_of_601_lines_fails() {
    let c = FakeCrate::new("601");
    c.file("src/lib.rs", "pub mod wire;\n")
        .file("src/wire.rs", &lines(601));
    let (code, out) = c.run(&[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        section(&out, "== 1. files over 600 lines").contains("src/wire.rs: 601 lines"),
        "{out}"
    );
}

#[test]
fn file_of_600_lines_and_a_test_module_passes() {
    let mut text = lines(600);
    text.push_str("#[cfg(test)]\nmod tests {\n");
    text.push_str("    use crate::handler::Reply;\n");
    text.push_str(&lines(46));
    text.push_str("}\n");
    assert_eq!(text.lines().count(), 650);
    let c = FakeCrate::new("600");
    c.file("src/lib.rs", "pub mod wire;\npub mod handler;\n")
        .file("src/wire.rs", &text)
        .file(
            "src/handler.rs",
            "pub struct Reply;\nuse crate::wire::Pdu;\n",
        );
    let (code, out) = c.run(&[]);
    // The test module's import of a higher layer is not counted either.
    assert_eq!(code, 0, "{out}");
    assert!(
        section(&out, "== 1. files over 600 lines").contains("none"),
        "{out}"
    );
}

#[test]
fn test_files_count_whole() {
    let mut text = lines(560);
    text.push_str("#[cfg(test)]\nmod tests {\n");
    text.push_str(&lines(40));
    text.push_str("}\n");
    let c = FakeCrate::new("tests-whole");
    c.file("src/lib.rs", "pub mod wire;\n")
        .file("tests/big.rs", &text);
    let (code, out) = c.run(&[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("tests/big.rs: 603 lines"), "{out}");
}

#[test]
fn lower_layer_importing_a_higher_one_is_reported() {
    let c = FakeCrate::new("layers");
    c.file("src/lib.rs", "pub mod store;\npub mod handler;\n")
        .file("src/store/mod.rs", "pub mod sqlite;\npub struct Store;\n")
        .file(
            "src/store/sqlite.rs",
            "fn f() -> crate::handler::Reply { todo!() }\n",
        )
        .file(
            "src/handler.rs",
            "pub struct Reply;\nuse crate::store::Store;\n",
        );
    let (code, out) = c.run(&[]);
    assert_eq!(code, 1, "{out}");
    let layers = section(&out, "== 3. layers");
    assert!(
        layers.contains("store (layer 2 store) imports handler (layer 5 handler)"),
        "{out}"
    );
    assert!(
        layers.contains(
            "store/sqlite.rs → handler.rs: store/sqlite.rs uses crate::handler::Reply (line 1)"
        ),
        "{out}"
    );
    assert!(
        section(&out, "== 2. import cycles").contains("none"),
        "{out}"
    );
}

#[test]
fn module_missing_from_the_layer_table_is_reported() {
    let c = FakeCrate::new("unlayered");
    c.file("src/lib.rs", "pub mod store;\npub mod gadget;\n")
        .file("src/store.rs", "pub struct Store;\n")
        .file("src/gadget.rs", "use crate::store::Store;\n");
    let (code, out) = c.run(&[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("gadget is not in the layer table"), "{out}");
}

#[test]
fn strings_comments_and_test_modules_make_no_edges() {
    let c = FakeCrate::new("ignored");
    c.file("src/lib.rs", "pub mod a;\npub mod b;\n")
        .file(
            "src/a.rs",
            "// crate::b::X\n/* use crate::b::X; */\npub const S: &str = \"crate::b::X\";\n\
             pub struct Y;\n#[cfg(test)]\nmod tests {\n    use crate::b::X;\n}\n",
        )
        .file("src/b.rs", "use crate::a::Y;\npub struct X;\n");
    let (_, out) = c.run(&[]);
    assert!(
        section(&out, "== 2. import cycles").contains("none"),
        "{out}"
    );
}

#[test]
fn inline_paths_aliases_and_macros_make_edges() {
    let c = FakeCrate::new("inline");
    c.file("src/lib.rs", "pub mod a;\npub mod b;\npub mod c;\n")
        .file(
            "src/a.rs",
            "use super::b;\nfn f() { b::g(); }\npub fn h() {}\n",
        )
        .file("src/b.rs", "pub fn g() { crate::warn_limited!(); }\n")
        .file(
            "src/c.rs",
            "#[macro_export]\nmacro_rules! warn_limited { () => { $crate::a::h() } }\n",
        );
    let (_, out) = c.run(&[]);
    let cycles = section(&out, "== 2. import cycles");
    assert!(cycles.contains("a.rs → b.rs → c.rs → a.rs"), "{out}");
    assert!(
        cycles.contains("b.rs uses crate::warn_limited (line 1)"),
        "{out}"
    );
    assert!(cycles.contains("c.rs uses crate::a::h (line 2)"), "{out}");
}

#[test]
fn clean_crate_passes() {
    let c = FakeCrate::new("clean");
    c.file(
        "src/lib.rs",
        "pub mod wire;\npub mod store;\npub mod handler;\npub mod net;\npub mod cli;\n",
    )
    .file("src/wire/mod.rs", "mod codec;\npub use codec::Pdu;\n")
    .file("src/wire/codec.rs", "pub struct Pdu;\n")
    .file("src/store/mod.rs", "pub trait Store {}\n")
    .file(
        "src/handler/mod.rs",
        "pub mod login;\nuse crate::wire::Pdu;\npub fn run(_: Pdu) { login::check() }\n",
    )
    .file(
        "src/handler/login.rs",
        "use crate::store::Store;\npub fn check() {}\n",
    )
    .file(
        "src/net.rs",
        "use crate::{handler, wire::Pdu};\npub fn serve() {}\n",
    )
    .file("src/cli.rs", "pub fn main() { crate::net::serve() }\n")
    .file("src/main.rs", "fn main() { fake_crate::cli::main() }\n");
    let (code, out) = c.run(&["--modules"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("violations: none"), "{out}");
    assert!(out.contains("main → cli (1)"), "{out}");
    assert!(out.contains("handler → wire (1)"), "{out}");
    assert!(out.contains(": ok"), "{out}");
}

#[test]
fn missing_folder_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_archcheck"))
        .arg(std::env::temp_dir().join("archcheck-no-such-crate"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

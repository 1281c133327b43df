//! The crate as a tree of module files, and the file → file import graph.
//!
//! A path is resolved to the file of the deepest module it names. When a
//! segment is not a module file but a name the current module re-exports
//! (`pub use model::Store;`, `pub use x::*`), resolution continues at the
//! re-export's target, so an import of `crate::store::Store` is an edge to
//! `store/model.rs`, not to `store/mod.rs`.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::scan::{FileScan, scan};

/// One `.rs` file under `src/`.
#[derive(Debug, Clone)]
pub struct SrcFile {
    /// The path relative to `src/`, with `/` separators (`net/server.rs`).
    pub rel: String,
    /// Its module path from the crate root (`["net", "server"]`); empty for
    /// `lib.rs`. `None` for the binary root `main.rs`.
    pub modpath: Option<Vec<String>>,
    /// What the file says.
    pub scan: FileScan,
    /// Names brought into scope by its `use` leaves → absolute paths.
    aliases: HashMap<String, Vec<String>>,
}

impl SrcFile {
    /// The top-level module the file belongs to (`net` for
    /// `net/server.rs`); `main` for the binary root, `None` for `lib.rs`.
    pub fn top_module(&self) -> Option<&str> {
        match &self.modpath {
            None => Some("main"),
            Some(p) => p.first().map(String::as_str),
        }
    }

    /// Whether the file declares modules of its own (a `mod.rs`, `lib.rs`
    /// or `x.rs` beside an `x/` folder): its `pub use` are re-exports.
    fn owns_modules(&self) -> bool {
        self.modpath.as_ref().is_some_and(Vec::is_empty) || !self.scan.mods.is_empty()
    }
}

/// How one file comes to use another: the first place it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// The path as written, e.g. `crate::net::server::Ctx`.
    pub path: String,
    /// The line it is written on.
    pub line: usize,
}

/// A `.rs` file under `tests/`: only its size is checked.
#[derive(Debug, Clone)]
pub struct TestFile {
    /// The path relative to the crate directory (`tests/faults.rs`).
    pub rel: String,
    /// Its number of lines.
    pub lines: usize,
}

/// The crate: its files and the import graph between them.
#[derive(Debug, Clone)]
pub struct Crate {
    /// The files under `src/`, sorted by path.
    pub files: Vec<SrcFile>,
    /// The files under `tests/`, sorted by path.
    pub tests: Vec<TestFile>,
    /// Edges (from, to) between indices of `files`, with an example each.
    pub edges: BTreeMap<(usize, usize), Example>,
    by_mod: HashMap<Vec<String>, usize>,
    lib_root: Option<usize>,
    lib_name: String,
    macros: HashMap<String, usize>,
}

/// Every `.rs` file under `dir`, recursively, sorted.
fn rust_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn read(path: &Path) -> io::Result<String> {
    fs::read_to_string(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

fn relative(path: &Path, base: &Path) -> String {
    let rel = path.strip_prefix(base).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// The module path of a file given its path relative to `src/`.
fn module_path(rel: &str) -> Option<Vec<String>> {
    if rel == "main.rs" {
        return None;
    }
    let stem = rel.strip_suffix(".rs").unwrap_or(rel);
    let mut segs: Vec<String> = stem.split('/').map(str::to_owned).collect();
    if segs.last().is_some_and(|s| s == "mod") || (segs.len() == 1 && segs[0] == "lib") {
        segs.pop();
    }
    Some(segs)
}

/// The library's name as paths spell it: `[package] name` in Cargo.toml
/// with `-` as `_`, or the folder's name.
fn lib_name(dir: &Path) -> String {
    let from_manifest = fs::read_to_string(dir.join("Cargo.toml"))
        .ok()
        .and_then(|t| {
            let mut in_package = false;
            for line in t.lines() {
                let line = line.trim();
                if line.starts_with('[') {
                    in_package = line == "[package]";
                } else if in_package && let Some(rest) = line.strip_prefix("name") {
                    let value = rest.trim_start().strip_prefix('=')?.trim();
                    return Some(value.trim_matches('"').to_owned());
                }
            }
            None
        });
    let name = from_manifest.unwrap_or_else(|| {
        dir.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    name.replace('-', "_")
}

impl Crate {
    /// Reads the crate at `dir` (its `src/` and `tests/`) and builds the
    /// import graph.
    pub fn load(dir: &Path) -> io::Result<Crate> {
        let src_dir = dir.join("src");
        if !src_dir.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{}: no src/ folder", dir.display()),
            ));
        }
        let mut files = Vec::new();
        for path in rust_files(&src_dir)? {
            let rel = relative(&path, &src_dir);
            files.push(SrcFile {
                modpath: module_path(&rel),
                scan: scan(&read(&path)?),
                rel,
                aliases: HashMap::new(),
            });
        }
        let mut tests = Vec::new();
        for path in rust_files(&dir.join("tests"))? {
            let lines = read(&path)?.lines().count();
            tests.push(TestFile {
                rel: relative(&path, dir),
                lines,
            });
        }
        let mut by_mod = HashMap::new();
        let mut macros = HashMap::new();
        for (k, f) in files.iter().enumerate() {
            if let Some(p) = &f.modpath {
                by_mod.insert(p.clone(), k);
            }
            for m in &f.scan.macro_exports {
                macros.insert(m.clone(), k);
            }
        }
        let mut krate = Crate {
            lib_root: by_mod.get(&Vec::new()).copied(),
            files,
            tests,
            edges: BTreeMap::new(),
            by_mod,
            lib_name: lib_name(dir),
            macros,
        };
        for k in 0..krate.files.len() {
            krate.files[k].aliases = krate.aliases_of(k);
        }
        krate.edges = krate.build_edges();
        Ok(krate)
    }

    /// The names a file's `use` leaves bring into scope, in order, each
    /// made absolute with the names before it.
    fn aliases_of(&self, k: usize) -> HashMap<String, Vec<String>> {
        let mut aliases = HashMap::new();
        for u in &self.files[k].scan.uses {
            let Some(name) = &u.name else { continue };
            if let Some(abs) = self.absolute(k, &aliases, &u.inline, &u.segs) {
                aliases.insert(name.clone(), abs);
            }
        }
        aliases
    }

    /// Makes a path written in file `k` absolute (from the library root),
    /// or `None` if it points outside the library or into the binary.
    fn absolute(
        &self,
        k: usize,
        aliases: &HashMap<String, Vec<String>>,
        inline: &[String],
        segs: &[String],
    ) -> Option<Vec<String>> {
        let f = &self.files[k];
        let first = segs.first()?;
        if first == &self.lib_name && f.modpath.is_none() {
            return Some(segs[1..].to_vec());
        }
        let mut base = f.modpath.clone()?;
        base.extend(inline.iter().cloned());
        let rest: &[String] = match first.as_str() {
            "crate" => {
                base.clear();
                &segs[1..]
            }
            "self" => &segs[1..],
            "super" => {
                let supers = segs.iter().take_while(|s| *s == "super").count();
                for _ in 0..supers {
                    base.pop()?;
                }
                &segs[supers..]
            }
            name if inline.is_empty() && f.scan.mods.iter().any(|m| m == name) => segs,
            name => {
                let mut abs = aliases.get(name)?.clone();
                abs.extend(segs[1..].iter().cloned());
                return Some(abs);
            }
        };
        base.extend(rest.iter().cloned());
        Some(base)
    }

    /// Where a name re-exported by file `k` comes from: the absolute path
    /// of its target.
    fn reexport(&self, k: usize, name: &str, depth: usize) -> Option<Vec<String>> {
        let f = &self.files[k];
        let public = || {
            f.scan
                .uses
                .iter()
                .filter(|u| u.public && u.inline.is_empty())
        };
        for u in public() {
            if !u.glob && u.name.as_deref() == Some(name) {
                return self.absolute(k, &f.aliases, &[], &u.segs);
            }
        }
        if depth > 16 {
            return None;
        }
        for u in public().filter(|u| u.glob) {
            let Some(m) = self.absolute(k, &f.aliases, &[], &u.segs) else {
                continue;
            };
            let Some(&mk) = self.by_mod.get(&m) else {
                continue;
            };
            if self.files[mk].scan.defs.contains(name)
                || self.reexport(mk, name, depth + 1).is_some()
            {
                let mut t = m;
                t.push(name.to_owned());
                return Some(t);
            }
        }
        None
    }

    /// The file of the deepest module an absolute path names, following
    /// re-exports.
    pub fn resolve(&self, abs: &[String]) -> Option<usize> {
        self.resolve_at(abs, 0)
    }

    fn resolve_at(&self, abs: &[String], depth: usize) -> Option<usize> {
        let mut file = self.lib_root?;
        let mut prefix: Vec<String> = Vec::new();
        for (i, seg) in abs.iter().enumerate() {
            prefix.push(seg.clone());
            if let Some(&k) = self.by_mod.get(&prefix) {
                file = k;
                continue;
            }
            prefix.pop();
            if depth < 32
                && let Some(mut target) = self.reexport(file, seg, 0)
                && target[..] != abs[..=i]
            {
                target.extend(abs[i + 1..].iter().cloned());
                return self.resolve_at(&target, depth + 1);
            }
            if Some(file) == self.lib_root
                && let Some(&k) = self.macros.get(seg)
            {
                return Some(k);
            }
            break;
        }
        Some(file)
    }

    fn build_edges(&self) -> BTreeMap<(usize, usize), Example> {
        let mut edges: BTreeMap<(usize, usize), Example> = BTreeMap::new();
        for (k, f) in self.files.iter().enumerate() {
            let reexports_only = f.owns_modules();
            let uses = f
                .scan
                .uses
                .iter()
                .filter(|u| !(u.public && reexports_only))
                .map(|u| (&u.segs, u.line, &u.inline));
            let paths = f.scan.paths.iter().map(|p| (&p.segs, p.line, &p.inline));
            for (segs, line, inline) in uses.chain(paths) {
                let Some(abs) = self.absolute(k, &f.aliases, inline, segs) else {
                    continue;
                };
                let Some(to) = self.resolve(&abs) else {
                    continue;
                };
                if to == k {
                    continue;
                }
                let ex = Example {
                    path: segs.join("::"),
                    line,
                };
                edges
                    .entry((k, to))
                    .and_modify(|e| {
                        if line < e.line {
                            *e = ex.clone();
                        }
                    })
                    .or_insert(ex);
            }
        }
        edges
    }
}

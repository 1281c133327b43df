//! archcheck: keeps tt-dbproxy's architecture.
//!
//! Three checks over a crate's `src/` (and `tests/` for the first):
//!
//! 1. no file over [`MAX_LINES`] lines (in `src/`, a `#[cfg(test)]` module
//!    that runs to the end of the file does not count);
//! 2. no import cycle between files of `src/`: [`model::Crate`] builds the
//!    file → file graph from `use` trees and paths in code, resolving
//!    through `pub use` re-exports, and [`graph::Graph`] finds the
//!    strongly connected components;
//! 3. no import from a module to a module of a higher layer
//!    ([`layers::LAYERS`]).
//!
//! std only, so it builds in seconds in CI.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod graph;
pub mod layers;
pub mod lexer;
pub mod model;
pub mod report;
pub mod scan;

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use graph::Graph;
use model::{Crate, Example};

/// The most lines a file may have.
pub const MAX_LINES: usize = 600;

/// A file over [`MAX_LINES`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LongFile {
    /// The path relative to the crate (`src/config/mod.rs`).
    pub path: String,
    /// The lines that count.
    pub lines: usize,
    /// Whether a trailing test module was left out of the count.
    pub without_tests: bool,
}

/// One edge of the import graph, ready to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// The importing file, relative to `src/`.
    pub from: String,
    /// The imported file, relative to `src/`.
    pub to: String,
    /// The first place `from` names `to`.
    pub example: Example,
}

/// A strongly connected component of files, and rings through it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    /// The files of the component, relative to `src/`.
    pub files: Vec<String>,
    /// Rings that together use every edge of the component; each ring
    /// lists its edges in order, the last one closing it.
    pub rings: Vec<Vec<Edge>>,
}

/// An import against the layer table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerViolation {
    /// What is wrong, at module level.
    pub what: String,
    /// The import that shows it.
    pub edge: Edge,
}

/// Everything the checks found.
#[derive(Debug, Clone, Default)]
pub struct Findings {
    /// How many files were read under `src/` and `tests/`.
    pub files: (usize, usize),
    /// How many file → file edges the import graph has.
    pub edge_count: usize,
    /// Check 1: files over the limit.
    pub long_files: Vec<LongFile>,
    /// Check 2: import cycles.
    pub cycles: Vec<Cycle>,
    /// Check 3: imports against the layers.
    pub layer_violations: Vec<LayerViolation>,
    /// Module → module imports (top-level modules), with how many file
    /// edges make each, for `--modules`.
    pub module_edges: BTreeMap<(String, String), usize>,
}

impl Findings {
    /// Whether any check failed.
    pub fn failed(&self) -> bool {
        !self.long_files.is_empty() || !self.cycles.is_empty() || !self.layer_violations.is_empty()
    }
}

fn edge(krate: &Crate, from: usize, to: usize) -> Edge {
    Edge {
        from: krate.files[from].rel.clone(),
        to: krate.files[to].rel.clone(),
        example: krate.edges.get(&(from, to)).cloned().unwrap_or(Example {
            path: String::new(),
            line: 0,
        }),
    }
}

/// Runs the three checks on the crate at `dir`.
pub fn check(dir: &Path) -> io::Result<Findings> {
    let krate = Crate::load(dir)?;
    let mut found = Findings {
        files: (krate.files.len(), krate.tests.len()),
        edge_count: krate.edges.len(),
        ..Findings::default()
    };

    for f in &krate.files {
        let lines = f.scan.counted_lines();
        if lines > MAX_LINES {
            found.long_files.push(LongFile {
                path: format!("src/{}", f.rel),
                lines,
                without_tests: f.scan.test_module_line.is_some(),
            });
        }
    }
    for t in &krate.tests {
        if t.lines > MAX_LINES {
            found.long_files.push(LongFile {
                path: t.rel.clone(),
                lines: t.lines,
                without_tests: false,
            });
        }
    }

    let g = Graph::new(krate.files.len(), krate.edges.keys().copied());
    for comp in g.cycles() {
        let rings = g
            .rings(&comp)
            .iter()
            .map(|ring| {
                (0..ring.len())
                    .map(|k| edge(&krate, ring[k], ring[(k + 1) % ring.len()]))
                    .collect()
            })
            .collect();
        found.cycles.push(Cycle {
            files: comp.iter().map(|&k| krate.files[k].rel.clone()).collect(),
            rings,
        });
    }

    for &(from, to) in krate.edges.keys() {
        let (Some(a), Some(b)) = (krate.files[from].top_module(), krate.files[to].top_module())
        else {
            continue;
        };
        if a == b {
            continue;
        }
        *found
            .module_edges
            .entry((a.to_owned(), b.to_owned()))
            .or_default() += 1;
        if let Some(what) = layers::violation(a, b) {
            found.layer_violations.push(LayerViolation {
                what,
                edge: edge(&krate, from, to),
            });
        }
    }
    found
        .layer_violations
        .sort_by(|x, y| (&x.what, &x.edge.from).cmp(&(&y.what, &y.edge.from)));
    Ok(found)
}

//! Printing the findings.

use std::fmt::Write;

use crate::layers::LAYERS;
use crate::{Edge, Findings, MAX_LINES};

/// How an edge is shown: `a.rs uses crate::x::Y (line 12)`.
pub fn describe(e: &Edge) -> String {
    format!(
        "{} uses {} (line {})",
        e.from, e.example.path, e.example.line
    )
}

/// The layer table, one line a layer.
pub fn layer_table() -> String {
    let mut out = String::new();
    for l in LAYERS {
        let _ = writeln!(out, "  {} {:<16} {}", l.level, l.name, l.modules.join(", "));
    }
    out
}

/// The full report; `modules` adds the module → module import table.
pub fn render(crate_dir: &str, f: &Findings, modules: bool) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "archcheck {crate_dir}: {} files in src/, {} in tests/, {} file imports",
        f.files.0, f.files.1, f.edge_count
    );

    let _ = writeln!(out, "\n== 1. files over {MAX_LINES} lines ==");
    if f.long_files.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for l in &f.long_files {
        let note = if l.without_tests {
            " (without its test module)"
        } else {
            ""
        };
        let _ = writeln!(out, "  {}: {} lines{note}", l.path, l.lines);
    }

    let _ = writeln!(out, "\n== 2. import cycles between files in src/ ==");
    if f.cycles.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for (n, c) in f.cycles.iter().enumerate() {
        let _ = writeln!(
            out,
            "  cycle {} ({} files): {}",
            n + 1,
            c.files.len(),
            c.files.join(", ")
        );
        for ring in &c.rings {
            let mut names: Vec<&str> = ring.iter().map(|e| e.from.as_str()).collect();
            if let Some(first) = ring.first() {
                names.push(&first.from);
            }
            let _ = writeln!(out, "    {}", names.join(" → "));
            for e in ring {
                let _ = writeln!(out, "      {}", describe(e));
            }
        }
    }

    let _ = writeln!(out, "\n== 3. layers (lower never imports higher) ==");
    out.push_str(&layer_table());
    if f.layer_violations.is_empty() {
        let _ = writeln!(out, "  violations: none");
    } else {
        let _ = writeln!(out, "  violations:");
    }
    let mut last = "";
    for v in &f.layer_violations {
        if v.what != last {
            let _ = writeln!(out, "  {}:", v.what);
            last = &v.what;
        }
        let _ = writeln!(
            out,
            "    {} → {}: {}",
            v.edge.from,
            v.edge.to,
            describe(&v.edge)
        );
    }

    if modules {
        let _ = writeln!(out, "\n== module imports (file edges) ==");
        for ((a, b), n) in &f.module_edges {
            let _ = writeln!(out, "  {a} → {b} ({n})");
        }
    }

    let cycle_files: usize = f.cycles.iter().map(|c| c.files.len()).sum();
    let _ = writeln!(
        out,
        "\n== summary ==\n  {} files over {MAX_LINES} lines, {} cycles ({} files), {} layer violations: {}",
        f.long_files.len(),
        f.cycles.len(),
        cycle_files,
        f.layer_violations.len(),
        if f.failed() { "FAIL" } else { "ok" }
    );
    out
}

//! What one source file says about modules: its `mod` declarations, its
//! top-level item names, its `use` trees and the paths written in its code.

use std::collections::BTreeSet;

use crate::lexer::{Tok, Token, tokenize};

/// One leaf of a `use` tree, e.g. `crate::a::{b, c as d}` gives two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseItem {
    /// The full path as written, `self` leaves folded into their prefix.
    pub segs: Vec<String>,
    /// The name it brings into scope (`as` renames applied); `None` for a
    /// glob or `_`.
    pub name: Option<String>,
    /// Whether it is a glob (`path::*`).
    pub glob: bool,
    /// Whether it is a re-export (`pub use`, `pub(crate) use`, ...).
    pub public: bool,
    /// The line of the statement.
    pub line: usize,
    /// The inline modules (`mod x { .. }`) the statement is written in.
    pub inline: Vec<String>,
}

/// A path of two or more segments written in code, e.g. `super::keys::unread`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRef {
    /// The segments as written (`$crate` is given as `crate`).
    pub segs: Vec<String>,
    /// The line it is on.
    pub line: usize,
    /// The inline modules it is written in.
    pub inline: Vec<String>,
}

/// Everything archcheck needs from one file.
#[derive(Debug, Clone, Default)]
pub struct FileScan {
    /// The number of lines of the whole file.
    pub total_lines: usize,
    /// The line of the first attribute of a `#[cfg(test)]` inline module
    /// that runs to the end of the file, if there is one.
    pub test_module_line: Option<usize>,
    /// Modules declared at the top level (`mod x;` and `mod x { .. }`).
    pub mods: Vec<String>,
    /// Names of items defined at the top level.
    pub defs: BTreeSet<String>,
    /// Macros defined with `#[macro_export]` (they live at the crate root).
    pub macro_exports: Vec<String>,
    /// The `use` leaves, outside `#[cfg(test)]` modules.
    pub uses: Vec<UseItem>,
    /// Paths written in code, outside `use` and `#[cfg(test)]` modules.
    pub paths: Vec<PathRef>,
}

impl FileScan {
    /// The lines that count toward the size limit: the whole file, or the
    /// lines before a trailing `#[cfg(test)]` module.
    pub fn counted_lines(&self) -> usize {
        match self.test_module_line {
            Some(line) => line.saturating_sub(1),
            None => self.total_lines,
        }
    }
}

const ITEM_KEYWORDS: &[&str] = &[
    "fn", "struct", "enum", "trait", "type", "const", "static", "union", "mod",
];

/// The index of the token closing the group opened at `open`.
fn matching(toks: &[Token], open: usize, o: char, c: char) -> Option<usize> {
    let mut depth = 0usize;
    for (k, t) in toks.iter().enumerate().skip(open) {
        if t.is_punct(o) {
            depth += 1;
        } else if t.is_punct(c) {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                return Some(k);
            }
        }
    }
    None
}

/// The index of the token opening the group closed at `close`.
fn matching_back(toks: &[Token], close: usize, o: char, c: char) -> Option<usize> {
    let mut depth = 0usize;
    for k in (0..=close).rev() {
        if toks[k].is_punct(c) {
            depth += 1;
        } else if toks[k].is_punct(o) {
            depth = depth.saturating_sub(1);
            if depth == 0 {
                return Some(k);
            }
        }
    }
    None
}

/// Skips a visibility written before `idx` (`pub`, `pub(crate)`, ...);
/// returns the index just before it and whether there was one.
fn before_visibility(toks: &[Token], idx: usize) -> (usize, bool) {
    if idx >= 1 && toks[idx - 1].is_ident("pub") {
        return (idx - 1, true);
    }
    if idx >= 1
        && toks[idx - 1].is_punct(')')
        && let Some(open) = matching_back(toks, idx - 1, '(', ')')
        && open >= 1
        && toks[open - 1].is_ident("pub")
    {
        return (open - 1, true);
    }
    (idx, false)
}

/// The outer attributes written just before token `idx` (after skipping
/// `skip`-style prefixes already): (index of `#`, tokens inside `[..]`).
fn attributes_before(toks: &[Token], mut idx: usize) -> Vec<(usize, &[Token])> {
    let mut out = Vec::new();
    while idx >= 1 && toks[idx - 1].is_punct(']') {
        let Some(open) = matching_back(toks, idx - 1, '[', ']') else {
            break;
        };
        if open == 0 || !toks[open - 1].is_punct('#') {
            break;
        }
        out.push((open - 1, &toks[open + 1..idx - 1]));
        idx = open - 1;
    }
    out
}

fn is_cfg_test(inner: &[Token]) -> bool {
    inner.len() == 4
        && inner[0].is_ident("cfg")
        && inner[1].is_punct('(')
        && inner[2].is_ident("test")
        && inner[3].is_punct(')')
}

/// For the `mod` keyword at `idx`: the index of the first token of its
/// attributes if one of them is `#[cfg(test)]`.
fn cfg_test_start(toks: &[Token], idx: usize) -> Option<usize> {
    let (before, _) = before_visibility(toks, idx);
    let attrs = attributes_before(toks, before);
    if attrs.iter().any(|(_, inner)| is_cfg_test(inner)) {
        attrs.last().map(|(hash, _)| *hash)
    } else {
        None
    }
}

/// Parses a `use` tree starting at `*i`, appending its leaves to `out`.
fn use_tree(
    toks: &[Token],
    i: &mut usize,
    prefix: &[String],
    out: &mut Vec<(Vec<String>, Option<String>, bool)>,
) {
    if *i < toks.len() && toks[*i].tok == Tok::PathSep {
        // `::name`: an external crate path.
        *i += 1;
        let mut dummy = Vec::new();
        use_tree(toks, i, &["::".to_owned()], &mut dummy);
        return;
    }
    let mut segs: Vec<String> = prefix.to_vec();
    while *i < toks.len() {
        let t = &toks[*i];
        if t.is_punct('{') {
            *i += 1;
            loop {
                if *i >= toks.len() || toks[*i].is_punct('}') {
                    *i += 1;
                    return;
                }
                if toks[*i].is_punct(',') {
                    *i += 1;
                    continue;
                }
                let before = *i;
                use_tree(toks, i, &segs, out);
                if *i == before {
                    *i += 1;
                }
            }
        } else if t.is_punct('*') {
            *i += 1;
            out.push((segs, None, true));
            return;
        } else if let Some(word) = t.ident() {
            segs.push(word.to_owned());
            *i += 1;
            if *i < toks.len() && toks[*i].tok == Tok::PathSep {
                *i += 1;
                continue;
            }
            let mut name = Some(word.to_owned());
            if *i + 1 < toks.len() && toks[*i].is_ident("as") {
                name = toks[*i + 1].ident().map(str::to_owned);
                *i += 2;
            }
            if segs.last().is_some_and(|s| s == "self") {
                segs.pop();
                if name.as_deref() == Some("self") {
                    name = segs.last().cloned();
                }
            }
            if name.as_deref() == Some("_") {
                name = None;
            }
            out.push((segs, name, false));
            return;
        } else {
            return;
        }
    }
}

/// Scans one file's source.
pub fn scan(src: &str) -> FileScan {
    let toks = tokenize(src);
    let mut fs = FileScan {
        total_lines: src.lines().count(),
        ..FileScan::default()
    };
    let mut depth = 0usize;
    // Inline modules entered: (name, depth inside its braces).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut pending_inline: Option<String> = None;
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        if t.is_punct('{') {
            depth += 1;
            if let Some(name) = pending_inline.take() {
                inline.push((name, depth));
            }
            i += 1;
            continue;
        }
        if t.is_punct('}') {
            if inline.last().is_some_and(|(_, d)| *d == depth) {
                inline.pop();
            }
            depth = depth.saturating_sub(1);
            i += 1;
            continue;
        }
        let Some(word) = t.ident() else {
            i += 1;
            continue;
        };
        let at_top = depth == 0;
        let names: Vec<String> = inline.iter().map(|(n, _)| n.clone()).collect();
        if word == "mod"
            && let Some(name) = toks.get(i + 1).and_then(Token::ident)
        {
            let body = toks.get(i + 2).is_some_and(|t| t.is_punct('{'));
            if at_top {
                fs.mods.push(name.to_owned());
                fs.defs.insert(name.to_owned());
            }
            if body {
                if let Some(start) = cfg_test_start(&toks, i) {
                    // Test-only code is not part of the architecture.
                    let close = matching(&toks, i + 2, '{', '}').unwrap_or(toks.len() - 1);
                    if close == toks.len() - 1 {
                        fs.test_module_line = Some(toks[start].line);
                    }
                    i = close + 1;
                    continue;
                }
                pending_inline = Some(name.to_owned());
            }
            i += 2;
            continue;
        }
        if word == "use" && !toks.get(i + 1).is_some_and(|t| t.is_punct('<')) {
            let (_, public) = before_visibility(&toks, i);
            let line = t.line;
            let mut j = i + 1;
            let mut leaves = Vec::new();
            use_tree(&toks, &mut j, &[], &mut leaves);
            for (segs, name, glob) in leaves {
                fs.uses.push(UseItem {
                    segs,
                    name,
                    glob,
                    public,
                    line,
                    inline: names.clone(),
                });
            }
            while j < toks.len() && !toks[j].is_punct(';') {
                j += 1;
            }
            i = j + 1;
            continue;
        }
        if word == "macro_rules"
            && toks.get(i + 1).is_some_and(|t| t.is_punct('!'))
            && let Some(name) = toks.get(i + 2).and_then(Token::ident)
        {
            if at_top {
                fs.defs.insert(name.to_owned());
            }
            let exported = attributes_before(&toks, i)
                .iter()
                .any(|(_, inner)| inner.len() == 1 && inner[0].is_ident("macro_export"));
            if exported {
                fs.macro_exports.push(name.to_owned());
            }
            i += 3;
            continue;
        }
        if at_top
            && ITEM_KEYWORDS.contains(&word)
            && let Some(name) = toks.get(i + 1).and_then(Token::ident)
        {
            fs.defs.insert(name.to_owned());
        }
        let starts_path = i == 0 || toks[i - 1].tok != Tok::PathSep;
        let pub_in = i >= 3
            && toks[i - 1].is_ident("in")
            && toks[i - 2].is_punct('(')
            && toks[i - 3].is_ident("pub");
        if starts_path && !pub_in {
            let mut segs = vec![word.to_owned()];
            let mut j = i + 1;
            while j + 1 < toks.len() && toks[j].tok == Tok::PathSep {
                match toks[j + 1].ident() {
                    Some(s) => segs.push(s.to_owned()),
                    None => break,
                }
                j += 2;
            }
            if segs.len() >= 2 {
                fs.paths.push(PathRef {
                    segs,
                    line: t.line,
                    inline: names,
                });
                i = j;
                continue;
            }
        }
        i += 1;
    }
    fs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(src: &str) -> Vec<(String, Option<String>, bool)> {
        scan(src)
            .uses
            .into_iter()
            .map(|u| (u.segs.join("::"), u.name, u.glob))
            .collect()
    }

    #[test]
    fn nested_use_tree() {
        let got = leaves("use crate::a::{b, c::{self, d as e}, f::*};");
        assert_eq!(
            got,
            [
                ("crate::a::b".into(), Some("b".into()), false),
                ("crate::a::c".into(), Some("c".into()), false),
                ("crate::a::c::d".into(), Some("e".into()), false),
                ("crate::a::f".into(), None, true),
            ]
        );
    }

    #[test]
    fn visibility_and_precise_capture() {
        let fs = scan("pub(crate) use x::Y;\nfn f() -> impl Sized + use<> {}\nuse z::W;");
        let public: Vec<bool> = fs.uses.iter().map(|u| u.public).collect();
        assert_eq!(public, [true, false]);
    }

    #[test]
    fn trailing_test_module() {
        let src = "fn a() {}\n\n#[cfg(test)]\nmod tests {\n    use crate::x::Y;\n}\n";
        let fs = scan(src);
        assert_eq!(fs.test_module_line, Some(3));
        assert_eq!(fs.counted_lines(), 2);
        assert!(fs.uses.is_empty());
    }

    #[test]
    fn test_module_not_at_end_counts() {
        let src = "#[cfg(test)]\nmod tests {\n}\nfn a() {}\n";
        assert_eq!(scan(src).counted_lines(), 4);
    }

    #[test]
    fn inline_paths() {
        let fs = scan("fn f() { crate::metrics::install(); let s = \"crate::x::y\"; }");
        let paths: Vec<String> = fs.paths.iter().map(|p| p.segs.join("::")).collect();
        assert_eq!(paths, ["crate::metrics::install"]);
    }

    #[test]
    fn inline_module_names() {
        let fs = scan("pub mod sid { use super::X; }\nuse y::Z;");
        assert_eq!(fs.uses[0].inline, ["sid"]);
        assert!(fs.uses[1].inline.is_empty());
        assert_eq!(fs.mods, ["sid"]);
    }

    #[test]
    fn macro_export() {
        let fs = scan("#[macro_export]\nmacro_rules! warn_limited { () => {} }");
        assert_eq!(fs.macro_exports, ["warn_limited"]);
    }
}

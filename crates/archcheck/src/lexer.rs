//! A small Rust tokenizer: enough to find `use` trees, paths and module
//! declarations. Comments, string/char literals and lifetimes are dropped,
//! so a path written inside a string or a comment is never seen.

/// One token of the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tok {
    /// An identifier or keyword (`r#name` is given as `name`).
    Ident(String),
    /// The path separator `::`.
    PathSep,
    /// Any other single punctuation character.
    Punct(char),
    /// A literal (string, char, number); its text is not kept.
    Lit,
}

/// A token and the 1-based line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// What the token is.
    pub tok: Tok,
    /// The line it starts on, counting from 1.
    pub line: usize,
}

impl Token {
    /// Whether this token is the identifier or keyword `word`.
    pub fn is_ident(&self, word: &str) -> bool {
        matches!(&self.tok, Tok::Ident(s) if s == word)
    }

    /// Whether this token is the punctuation character `c`.
    pub fn is_punct(&self, c: char) -> bool {
        self.tok == Tok::Punct(c)
    }

    /// The identifier's text, if this is an identifier.
    pub fn ident(&self) -> Option<&str> {
        match &self.tok {
            Tok::Ident(s) => Some(s),
            _ => None,
        }
    }
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_continue(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
    line: usize,
    out: Vec<Token>,
}

impl Lexer {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    /// Advances one character, counting lines.
    fn bump(&mut self) {
        if self.peek(0) == Some('\n') {
            self.line += 1;
        }
        self.pos += 1;
    }

    fn push(&mut self, tok: Tok, line: usize) {
        self.out.push(Token { tok, line });
    }

    fn line_comment(&mut self) {
        while let Some(c) = self.peek(0) {
            if c == '\n' {
                break;
            }
            self.bump();
        }
    }

    fn block_comment(&mut self) {
        // Block comments nest in Rust.
        let mut depth = 0usize;
        while let Some(c) = self.peek(0) {
            if c == '/' && self.peek(1) == Some('*') {
                depth += 1;
                self.bump();
                self.bump();
            } else if c == '*' && self.peek(1) == Some('/') {
                self.bump();
                self.bump();
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return;
                }
            } else {
                self.bump();
            }
        }
    }

    /// A quoted literal with backslash escapes; `pos` is on the opening quote.
    fn quoted(&mut self, quote: char) {
        self.bump();
        while let Some(c) = self.peek(0) {
            if c == '\\' {
                self.bump();
                self.bump();
            } else if c == quote {
                self.bump();
                return;
            } else {
                self.bump();
            }
        }
    }

    /// A raw string; `pos` is on the first `#` or the opening quote.
    fn raw_string(&mut self) {
        let mut hashes = 0usize;
        while self.peek(0) == Some('#') {
            hashes += 1;
            self.bump();
        }
        // Opening quote.
        self.bump();
        while let Some(c) = self.peek(0) {
            self.bump();
            if c == '"' && (0..hashes).all(|k| self.peek(k) == Some('#')) {
                for _ in 0..hashes {
                    self.bump();
                }
                return;
            }
        }
    }

    /// After `'`: a char literal or a lifetime / label.
    fn quote_or_lifetime(&mut self, line: usize) {
        let next = self.peek(1);
        let char_lit = next == Some('\\') || (next.is_some() && self.peek(2) == Some('\''));
        if char_lit {
            self.quoted('\'');
            self.push(Tok::Lit, line);
        } else {
            // A lifetime: skip the quote and the name.
            self.bump();
            while self.peek(0).is_some_and(is_ident_continue) {
                self.bump();
            }
        }
    }

    /// A literal prefix (`r"`, `r#"`, `b"`, `b'`, `br"`, `c"`, `cr#"`), if
    /// one starts here; consumes it and returns true.
    fn prefixed_literal(&mut self, line: usize) -> bool {
        let c0 = self.peek(0);
        let c1 = self.peek(1);
        let raw_at = |p: usize| {
            self.peek(p) == Some('"')
                || (self.peek(p) == Some('#')
                    && (p + 1..p + 300)
                        .map(|k| self.peek(k))
                        .find(|c| *c != Some('#'))
                        .flatten()
                        == Some('"'))
        };
        match (c0, c1) {
            (Some('r'), _) if raw_at(1) => {
                self.bump();
                self.raw_string();
            }
            (Some('b' | 'c'), Some('r')) if raw_at(2) => {
                self.bump();
                self.bump();
                self.raw_string();
            }
            (Some('b' | 'c'), Some('"')) => {
                self.bump();
                self.quoted('"');
            }
            (Some('b'), Some('\'')) => {
                self.bump();
                self.quoted('\'');
            }
            _ => return false,
        }
        self.push(Tok::Lit, line);
        true
    }

    fn run(mut self) -> Vec<Token> {
        while let Some(c) = self.peek(0) {
            let line = self.line;
            if c.is_whitespace() {
                self.bump();
            } else if c == '/' && self.peek(1) == Some('/') {
                self.line_comment();
            } else if c == '/' && self.peek(1) == Some('*') {
                self.block_comment();
            } else if c == '"' {
                self.quoted('"');
                self.push(Tok::Lit, line);
            } else if c == '\'' {
                self.quote_or_lifetime(line);
            } else if is_ident_start(c) {
                if self.prefixed_literal(line) {
                    continue;
                }
                if c == 'r' && self.peek(1) == Some('#') && self.peek(2).is_some_and(is_ident_start)
                {
                    self.bump();
                    self.bump();
                }
                let start = self.pos;
                while self.peek(0).is_some_and(is_ident_continue) {
                    self.bump();
                }
                let word: String = self.chars[start..self.pos].iter().collect();
                self.push(Tok::Ident(word), line);
            } else if c.is_ascii_digit() {
                while self.peek(0).is_some_and(is_ident_continue) {
                    self.bump();
                }
                self.push(Tok::Lit, line);
            } else if c == ':' && self.peek(1) == Some(':') {
                self.bump();
                self.bump();
                self.push(Tok::PathSep, line);
            } else {
                self.bump();
                self.push(Tok::Punct(c), line);
            }
        }
        self.out
    }
}

/// Splits Rust source into tokens, dropping comments, literals' contents
/// and lifetimes.
pub fn tokenize(src: &str) -> Vec<Token> {
    Lexer {
        chars: src.chars().collect(),
        pos: 0,
        line: 1,
        out: Vec::new(),
    }
    .run()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idents(src: &str) -> Vec<String> {
        tokenize(src)
            .into_iter()
            .filter_map(|t| t.ident().map(str::to_owned))
            .collect()
    }

    #[test]
    fn comments_and_strings_are_dropped() {
        let src = "a // crate::x\n/* crate::y /* nested */ */ b \"crate::z\" r#\"crate::w\"# c";
        assert_eq!(idents(src), ["a", "b", "c"]);
    }

    #[test]
    fn lifetimes_and_chars() {
        let src = "fn f<'a>(x: &'a str) -> char { '\\'' ; 'x' } g";
        let ids = idents(src);
        assert!(!ids.contains(&"a".to_owned()));
        assert!(ids.contains(&"g".to_owned()));
    }

    #[test]
    fn lines_are_counted() {
        let toks = tokenize("a\n\"x\ny\"\nb");
        assert_eq!(toks.last().map(|t| t.line), Some(4));
    }

    #[test]
    fn path_separator() {
        let toks = tokenize("crate::a");
        assert_eq!(toks[1].tok, Tok::PathSep);
    }
}

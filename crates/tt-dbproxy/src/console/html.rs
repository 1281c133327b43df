//! HTML output: every value goes through [`esc`], pages share one frame
//! ([`page`]) and forms carry the session's CSRF token ([`csrf_field`]).

use std::fmt::Write;

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};

/// `s` with `& < > " '` escaped, safe in element content and in quoted
/// attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `s` escaped for a URL query value (`?q=`).
pub fn url_value(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The hidden CSRF field of a form.
pub fn csrf_field(token: &str) -> String {
    format!(
        r#"<input type="hidden" name="csrf" value="{}">"#,
        esc(token)
    )
}

/// A message shown above a page's content.
#[derive(Debug, Clone)]
pub enum Notice {
    /// Something was done.
    Done(String),
    /// Something was refused, and why.
    Error(String),
}

impl Notice {
    fn render(&self) -> String {
        match self {
            Self::Done(m) => format!(r#"<p class="notice done" role="status">{}</p>"#, esc(m)),
            Self::Error(m) => format!(r#"<p class="notice error" role="alert">{}</p>"#, esc(m)),
        }
    }
}

/// The navigation links, in order.
const NAV: &[(&str, &str)] = &[
    ("/console/", "Status"),
    ("/console/users", "Users"),
    ("/console/departs", "Departments"),
    ("/console/groups", "Groups"),
    ("/console/discovery", "Discovery"),
    ("/console/accounts", "Console accounts"),
    ("/console/audit", "Audit log"),
    ("/console/config", "Configuration"),
];

/// Who is signed in, for the page frame.
pub struct Frame<'a> {
    /// The account's name (`None` on the sign-in page).
    pub who: Option<&'a str>,
    /// The session's CSRF token (for the sign-out form).
    pub csrf: &'a str,
}

/// A whole page: head, navigation (when signed in), notices, `body`.
pub fn page(title: &str, frame: &Frame<'_>, notices: &[Notice], body: &str) -> Response {
    let mut html = String::with_capacity(body.len() + 2048);
    let _ = write!(
        html,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{} · tt-dbproxy console</title>
<link rel="stylesheet" href="/console/assets/console.css">
<script src="/console/assets/console.js" defer></script>
</head><body>
<header><span class="brand">tt-dbproxy console</span>"#,
        esc(title)
    );
    if let Some(who) = frame.who {
        html.push_str("<nav>");
        for (href, label) in NAV {
            let _ = write!(html, r#"<a href="{href}">{label}</a>"#);
        }
        let _ = write!(
            html,
            r#"</nav><form class="signout" method="post" action="/console/logout">{}<span id="who">{}</span> <button type="submit">Sign out</button></form>"#,
            csrf_field(frame.csrf),
            esc(who)
        );
    }
    let _ = write!(html, "</header><main><h1>{}</h1>", esc(title));
    for n in notices {
        html.push_str(&n.render());
    }
    html.push_str(body);
    html.push_str("</main></body></html>\n");
    (
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response()
}

/// A labelled text input.
pub fn input(label: &str, name: &str, value: &str, extra: &str) -> String {
    format!(
        r#"<label>{} <input name="{}" value="{}" {extra}></label>"#,
        esc(label),
        esc(name),
        esc(value)
    )
}

/// A `<select>` of `options` (value, label) with `selected` chosen.
pub fn select(label: &str, name: &str, options: &[(String, String)], selected: &str) -> String {
    let mut s = format!(r#"<label>{} <select name="{}">"#, esc(label), esc(name));
    for (v, l) in options {
        let sel = if v == selected { " selected" } else { "" };
        let _ = write!(s, r#"<option value="{}"{sel}>{}</option>"#, esc(v), esc(l));
    }
    s.push_str("</select></label>");
    s
}

/// A one-button form posting to `action` (with the CSRF token).
pub fn button_form(action: &str, csrf: &str, label: &str, hidden: &[(&str, &str)]) -> String {
    let mut s = format!(
        r#"<form class="inline" method="post" action="{}">{}"#,
        esc(action),
        csrf_field(csrf)
    );
    for (k, v) in hidden {
        let _ = write!(
            s,
            r#"<input type="hidden" name="{}" value="{}">"#,
            esc(k),
            esc(v)
        );
    }
    let _ = write!(s, r#"<button type="submit">{}</button></form>"#, esc(label));
    s
}

/// A Unix time as `YYYY-MM-DD HH:MM:SS` UTC (0 as "—").
pub fn time(secs: u32) -> String {
    if secs == 0 {
        return "—".into();
    }
    chrono::DateTime::from_timestamp(i64::from(secs), 0).map_or_else(
        || secs.to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            esc(r#"<script>alert("x")</script>&'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"
        );
        assert_eq!(url_value("a b&c"), "a%20b%26c");
        assert_eq!(time(0), "—");
        assert_eq!(time(1_700_000_000), "2023-11-14 22:13:20");
    }
}

//! Who is asking: the session cookie (HttpOnly, SameSite=Strict, Secure
//! under TLS, stored hashed in the store with an expiry), the CSRF token
//! every state-changing form carries, the `Host` check against DNS
//! rebinding, the `Origin` check of writes, and the sign-in throttle.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::header::{COOKIE, HOST, LOCATION, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::auth::constant_time_eq;
use super::html::{Frame, Notice};
use super::shared::{Console, unavailable};
use crate::store::{AuditEntry, ConsoleAccount, ConsoleSession, StoreResult};

/// The session cookie's name.
pub const COOKIE_NAME: &str = "tt_console";
/// The sign-in form's CSRF cookie (double submit: no session exists yet).
pub const LOGIN_COOKIE: &str = "tt_console_login";
/// How long a session lasts (seconds).
pub const SESSION_SECS: u32 = 8 * 3600;
/// The throttle's window (seconds).
pub const THROTTLE_WINDOW_SECS: u32 = 900;
/// Failed sign-ins of one account within the window before it is refused.
pub const MAX_ACCOUNT_FAILURES: u32 = 5;
/// Failed sign-ins from one address within the window before it is
/// refused.
pub const MAX_ADDRESS_FAILURES: u32 = 20;

/// A random token: 32 bytes as hex.
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    hex(&bytes)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// What the store keeps of a token: its SHA-256, hex.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, path `/console`,
/// `Secure` under TLS; `max_age` 0 deletes it.
pub fn set_cookie(name: &str, value: &str, max_age: u32, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!(
        "{name}={value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    );
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A 303 to `to`, with cookies to set.
pub fn redirect(to: &str, cookies: Vec<HeaderValue>) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(LOCATION, v);
    }
    for c in cookies {
        r.headers_mut().append(SET_COOKIE, c);
    }
    r
}

/// The client's address as text (for the audit log and the throttle).
pub fn client_addr(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".into(), |c| c.0.ip().to_string())
}

/// The host part of a `Host` header or of an origin's authority.
fn host_only(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    authority.split(':').next().unwrap_or("")
}

/// Whether a `Host` names a loopback address or `localhost`.
fn loopback_host(host: &str) -> bool {
    let h = host_only(host);
    h.eq_ignore_ascii_case("localhost")
        || h.parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether the console answers a request with this `Host`: the
/// configured `console.host` (with any port) or a loopback address.
pub fn host_allowed(host: Option<&str>, configured: Option<&str>) -> bool {
    let Some(host) = host else {
        return false;
    };
    loopback_host(host)
        || configured.is_some_and(|c| {
            host.eq_ignore_ascii_case(c) || host_only(host).eq_ignore_ascii_case(host_only(c))
        })
}

/// The host a request names: its `Host` header, or the URI's authority
/// (HTTP/2 sends `:authority` instead of `Host`).
pub fn request_host(req: &Request) -> Option<String> {
    req.headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_string()))
}

/// Whether a request's `Origin` is acceptable for a write: absent (curl,
/// scripts), or the same host as the request's (`host`).
pub fn origin_allowed(headers: &HeaderMap, host: Option<&str>) -> bool {
    let Some(origin) = headers.get(ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    let Some(authority) = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
    else {
        return false;
    };
    host.is_some_and(|h| h.eq_ignore_ascii_case(authority))
}

/// Middleware of the admin endpoint: a write (anything but GET/HEAD)
/// whose `Origin` is another site is refused with 403.
pub async fn origin_guard(req: Request, next: Next) -> Response {
    if !matches!(*req.method(), Method::GET | Method::HEAD)
        && !origin_allowed(req.headers(), request_host(&req).as_deref())
    {
        return (StatusCode::FORBIDDEN, "cross-site request refused\n").into_response();
    }
    next.run(req).await
}

/// Middleware of the console: a `Host` other than `console.host` or a
/// loopback address is refused with 421 (DNS rebinding).
pub async fn host_guard(
    axum::extract::State(console): axum::extract::State<Arc<Console>>,
    req: Request,
    next: Next,
) -> Response {
    let host = request_host(&req);
    if !host_allowed(
        host.as_deref(),
        console.app.config().console.host.as_deref(),
    ) {
        return (
            StatusCode::MISDIRECTED_REQUEST,
            "this console answers to its configured host name only\n",
        )
            .into_response();
    }
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    for (name, value) in [
        (
            "content-security-policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    r
}

/// A signed-in request: the session, its account, where it came from.
pub struct Signed {
    /// The session.
    pub session: ConsoleSession,
    /// Its account.
    pub account: ConsoleAccount,
    /// The client's address.
    pub from: String,
}

impl Signed {
    /// The page frame of this account's pages.
    pub fn frame(&self) -> Frame<'_> {
        Frame {
            who: Some(&self.account.name),
            csrf: &self.session.csrf,
        }
    }

    /// The refusal of a form without the session's CSRF token, if it
    /// lacks it.
    pub fn check_csrf(&self, form: &std::collections::HashMap<String, String>) -> Option<Response> {
        match form.get("csrf") {
            Some(t) if constant_time_eq(t.as_bytes(), self.session.csrf.as_bytes()) => None,
            _ => Some(
                (
                    StatusCode::FORBIDDEN,
                    "missing or wrong CSRF token: reload the page and try again\n",
                )
                    .into_response(),
            ),
        }
    }

    /// Records `what` in the audit log (a failure to record is logged).
    pub async fn audit(&self, console: &Console, what: String) {
        console
            .audit(AuditEntry {
                who: self.account.name.clone(),
                what,
                from: self.from.clone(),
                ..Default::default()
            })
            .await;
    }

    /// The answer to an edit the store has `saved` (true: the row was
    /// there): audited as `what` and the entity's `page` with "saved";
    /// a redirect to `gone` (the list, with its notice) when the row is
    /// not there; a 503 when storage failed.
    pub async fn after_edit(
        &self,
        console: &Console,
        saved: StoreResult<bool>,
        what: String,
        gone: &str,
        page: impl AsyncFnOnce(&[Notice]) -> Response,
    ) -> Response {
        match saved {
            Ok(true) => {
                self.audit(console, what).await;
                page(&[Notice::Done("saved".into())]).await
            }
            Ok(false) => redirect(gone, Vec::new()),
            Err(e) => unavailable(&e),
        }
    }
}

impl FromRequestParts<Arc<Console>> for Signed {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        console: &Arc<Console>,
    ) -> Result<Self, Self::Rejection> {
        let to_sign_in = || redirect("/console/login", Vec::new());
        let Some(token) = cookie(&parts.headers, COOKIE_NAME) else {
            return Err(to_sign_in());
        };
        let store = &console.app.store;
        let now = console.app.clock.now_secs();
        let session = match store.console_session(&token_hash(&token), now).await {
            Ok(Some(s)) => s,
            Ok(None) => return Err(to_sign_in()),
            Err(e) => return Err(super::shared::unavailable(&e)),
        };
        let account = match store.console_account(session.account_id).await {
            Ok(Some(a)) if a.status == 0 => a,
            Ok(_) => {
                let _ = store.end_console_sessions_of(session.account_id).await;
                return Err(to_sign_in());
            }
            Err(e) => return Err(super::shared::unavailable(&e)),
        };
        let path = parts.uri.path();
        if session.must_change && path != "/console/password" && path != "/console/logout" {
            return Err(redirect("/console/password", Vec::new()));
        }
        Ok(Self {
            session,
            account,
            from: client_addr(parts),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_origins() {
        assert!(host_allowed(Some("127.0.0.1:10601"), None));
        assert!(host_allowed(Some("[::1]:8080"), None));
        assert!(host_allowed(Some("localhost"), None));
        assert!(!host_allowed(Some("evil.example:10601"), None));
        assert!(host_allowed(
            Some("console.example:443"),
            Some("console.example")
        ));
        assert!(!host_allowed(None, Some("console.example")));
        let mut h = HeaderMap::new();
        let host = Some("127.0.0.1:10601");
        assert!(origin_allowed(&h, host), "no Origin: curl");
        h.insert(ORIGIN, HeaderValue::from_static("http://127.0.0.1:10601"));
        assert!(origin_allowed(&h, host));
        assert!(!origin_allowed(&h, None));
        h.insert(ORIGIN, HeaderValue::from_static("http://evil.example"));
        assert!(!origin_allowed(&h, host));
        h.insert(ORIGIN, HeaderValue::from_static("null"));
        assert!(!origin_allowed(&h, host));
    }

    #[test]
    fn cookies_are_parsed_and_set_strictly() {
        let mut h = HeaderMap::new();
        h.insert(COOKIE, HeaderValue::from_static("a=1; tt_console=abc; b=2"));
        assert_eq!(cookie(&h, COOKIE_NAME).as_deref(), Some("abc"));
        let c = set_cookie(COOKIE_NAME, "abc", 60, true);
        let c = c.to_str().unwrap();
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && c.contains("Secure"));
        assert_eq!(token_hash("x").len(), 64);
    }
}

//! Signing in and out, and changing the password (which an account on
//! the PHP admin's md5 password must do before anything else).

use std::sync::Arc;

use axum::Form;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::auth::{self, Matched};
use super::html::{Frame, Notice, csrf_field, esc, page};
use super::session::{
    COOKIE_NAME, LOGIN_COOKIE, MAX_ACCOUNT_FAILURES, MAX_ADDRESS_FAILURES, SESSION_SECS, Signed,
    THROTTLE_WINDOW_SECS, cookie, random_token, redirect, set_cookie, token_hash,
};
use super::shared::{Console, Fields, field, unavailable};
use crate::store::{AuditEntry, ConsoleSession};

fn sign_in_page(console: &Console, token: &str, name: &str, notices: &[Notice]) -> Response {
    let body = format!(
        r#"<form method="post" action="/console/login" class="card">{}
<label>Account <input name="name" value="{}" autocomplete="username" required autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit" id="sign-in">Sign in</button></form>"#,
        csrf_field(token),
        esc(name)
    );
    let mut r = page(
        "Sign in",
        &Frame {
            who: None,
            csrf: "",
        },
        notices,
        &body,
    );
    r.headers_mut().append(
        axum::http::header::SET_COOKIE,
        set_cookie(LOGIN_COOKIE, token, 3600, console.secure_cookies),
    );
    r
}

/// `GET /console/login`.
pub async fn form(State(console): State<Arc<Console>>) -> Response {
    sign_in_page(&console, &random_token(), "", &[])
}

/// `POST /console/login`: throttled per account and per address; a
/// success starts a session (forced to change the password when the
/// PHP admin's md5 matched).
pub async fn submit(
    State(console): State<Arc<Console>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<Fields>,
) -> Response {
    let name = field(&form, "name").to_string();
    let password = form.get("password").cloned().unwrap_or_default();
    let from = peer.ip().to_string();
    let again = |msg: &str| {
        sign_in_page(
            &console,
            &random_token(),
            &name,
            &[Notice::Error(msg.into())],
        )
    };
    let login_token = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if login_token.is_empty()
        || !auth::constant_time_eq(login_token.as_bytes(), field(&form, "csrf").as_bytes())
    {
        return again("the sign-in form expired: try again");
    }
    let store = &console.app.store;
    let now = console.app.clock.now_secs();
    let since = now.saturating_sub(THROTTLE_WINDOW_SECS);
    let (account_key, address_key) = (format!("account:{name}"), format!("address:{from}"));
    let counts = (
        store.console_failures(&account_key, since).await,
        store.console_failures(&address_key, since).await,
    );
    match counts {
        (Ok(a), Ok(b)) if a >= MAX_ACCOUNT_FAILURES || b >= MAX_ADDRESS_FAILURES => {
            console
                .audit(AuditEntry {
                    who: name.clone(),
                    what: "sign-in refused: throttled".into(),
                    from,
                    ..Default::default()
                })
                .await;
            return again("too many failed sign-ins: wait 15 minutes and try again");
        }
        (Ok(_), Ok(_)) => {}
        (Err(e), _) | (_, Err(e)) => return unavailable(&e),
    }
    let account = match store.console_account_by_name(&name).await {
        Ok(a) => a,
        Err(e) => return unavailable(&e),
    };
    let matched = account
        .as_ref()
        .filter(|a| a.status == 0)
        .and_then(|a| auth::verify(a, &password).map(|m| (a.clone(), m)));
    let Some((account, how)) = matched else {
        for key in [&account_key, &address_key] {
            if let Err(e) = store.record_console_failure(key, now).await {
                return unavailable(&e);
            }
        }
        console
            .audit(AuditEntry {
                who: name.clone(),
                what: "sign-in failed".into(),
                from,
                ..Default::default()
            })
            .await;
        return again("wrong account name or password, or the account is disabled");
    };
    let _ = store.clear_console_failures(&account_key).await;
    let must_change = how == Matched::Legacy;
    match start_session(&console, account.id, must_change).await {
        Ok(cookie) => {
            console
                .audit(AuditEntry {
                    who: account.name.clone(),
                    what: if must_change {
                        "signed in with the PHP admin's password: must change it".into()
                    } else {
                        "signed in".into()
                    },
                    from,
                    ..Default::default()
                })
                .await;
            let to = if must_change {
                "/console/password"
            } else {
                "/console/"
            };
            redirect(
                to,
                vec![
                    cookie,
                    set_cookie(LOGIN_COOKIE, "", 0, console.secure_cookies),
                ],
            )
        }
        Err(r) => r,
    }
}

/// Stores a new session and returns its cookie.
async fn start_session(
    console: &Console,
    account_id: u32,
    must_change: bool,
) -> Result<axum::http::HeaderValue, Response> {
    let token = random_token();
    let now = console.app.clock.now_secs();
    let session = ConsoleSession {
        token_hash: token_hash(&token),
        account_id,
        csrf: random_token(),
        must_change,
        expires: now.saturating_add(SESSION_SECS),
    };
    console
        .app
        .store
        .create_console_session(session, now)
        .await
        .map_err(|e| unavailable(&e))?;
    Ok(set_cookie(
        COOKIE_NAME,
        &token,
        SESSION_SECS,
        console.secure_cookies,
    ))
}

/// `POST /console/logout`: ends every session of the account.
pub async fn logout(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Form(form): Form<Fields>,
) -> Response {
    if let Some(r) = signed.check_csrf(&form) {
        return r;
    }
    if let Err(e) = console
        .app
        .store
        .end_console_sessions_of(signed.account.id)
        .await
    {
        return unavailable(&e);
    }
    signed.audit(&console, "signed out".into()).await;
    redirect(
        "/console/login",
        vec![set_cookie(COOKIE_NAME, "", 0, console.secure_cookies)],
    )
}

fn password_page(signed: &Signed, notices: &[Notice]) -> Response {
    let mut notes = notices.to_vec();
    if signed.session.must_change {
        notes.insert(
            0,
            Notice::Error(
                "this account still has the PHP admin's password: set a new one before anything else"
                    .into(),
            ),
        );
    }
    let body = format!(
        r#"<form method="post" action="/console/password" class="card">{}
<label>Current password <input name="current" type="password" autocomplete="current-password" required></label>
<label>New password <input name="new" type="password" autocomplete="new-password" required minlength="{}"></label>
<label>New password again <input name="confirm" type="password" autocomplete="new-password" required></label>
<button type="submit" id="change-password">Change password</button></form>"#,
        csrf_field(&signed.session.csrf),
        auth::MIN_PASSWORD_CHARS
    );
    page(
        "Change password",
        &Frame {
            who: Some(&signed.account.name),
            csrf: &signed.session.csrf,
        },
        &notes,
        &body,
    )
}

/// `GET /console/password`.
pub async fn password_form(signed: Signed) -> Response {
    password_page(&signed, &[])
}

/// `POST /console/password`: stores the new password with Argon2id,
/// overwrites `pwd`, ends every session of the account and starts a new
/// one here.
pub async fn password_submit(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Form(form): Form<Fields>,
) -> Response {
    if let Some(r) = signed.check_csrf(&form) {
        return r;
    }
    let current = form.get("current").cloned().unwrap_or_default();
    let new = form.get("new").cloned().unwrap_or_default();
    let confirm = form.get("confirm").cloned().unwrap_or_default();
    if auth::verify(&signed.account, &current).is_none() {
        return password_page(
            &signed,
            &[Notice::Error("the current password is wrong".into())],
        );
    }
    if new == current {
        return password_page(
            &signed,
            &[Notice::Error(
                "the new password must differ from the current one".into(),
            )],
        );
    }
    if let Err(m) = auth::check_new_password(&signed.account.name, &new, &confirm) {
        return password_page(&signed, &[Notice::Error(m)]);
    }
    let hash = match auth::hash(&new) {
        Ok(h) => h,
        Err(e) => return password_page(&signed, &[Notice::Error(e.to_string())]),
    };
    let store = &console.app.store;
    let now = console.app.clock.now_secs();
    if let Err(e) = store
        .set_console_password(signed.account.id, &hash, now)
        .await
    {
        return unavailable(&e);
    }
    if let Err(e) = store.end_console_sessions_of(signed.account.id).await {
        return unavailable(&e);
    }
    signed.audit(&console, "changed the password".into()).await;
    match start_session(&console, signed.account.id, false).await {
        Ok(cookie) => redirect("/console/?changed=1", vec![cookie]),
        Err(r) => r,
    }
}

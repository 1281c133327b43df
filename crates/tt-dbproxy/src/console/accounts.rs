//! Console accounts (`IMAdmin`): list, add (Argon2id from the start),
//! disable (status 1 cannot sign in; its sessions end) and enable again.

use std::fmt::Write;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;

use super::auth;
use super::html::{Frame, Notice, button_form, csrf_field, esc, input, page, url_value};
use super::session::{Signed, redirect};
use super::shared::{Console, Fields, field, unavailable};

async fn list_page(console: &Console, signed: &Signed, notices: &[Notice]) -> Response {
    let accounts = match console.app.store.console_accounts().await {
        Ok(a) => a,
        Err(e) => return unavailable(&e),
    };
    let csrf = &signed.session.csrf;
    let mut b = String::from(
        r#"<table id="accounts"><thead><tr><th>id</th><th>name</th><th>password</th><th>status</th><th>updated</th><th></th></tr></thead><tbody>"#,
    );
    for a in &accounts {
        let action = if a.id == signed.account.id {
            "(you)".to_string()
        } else if a.status == 0 {
            button_form(
                &format!("/console/accounts/{}/status", a.id),
                csrf,
                "Disable",
                &[("status", "1")],
            )
        } else {
            button_form(
                &format!("/console/accounts/{}/status", a.id),
                csrf,
                "Enable",
                &[("status", "0")],
            )
        };
        let _ = write!(
            b,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{action}</td></tr>"#,
            a.id,
            esc(&a.name),
            if a.hash.is_some() {
                "Argon2id"
            } else {
                "PHP admin md5 (must change at sign-in)"
            },
            if a.status == 0 { "active" } else { "disabled" },
            super::html::time(a.updated),
        );
    }
    let _ = write!(
        b,
        r#"</tbody></table><h2>Add an account</h2><form method="post" action="/console/accounts" class="card" id="add-account">{}{}<label>Password <input name="password" type="password" required minlength="{min}"></label><label>Password again <input name="confirm" type="password" required></label><button type="submit">Add account</button></form>"#,
        csrf_field(csrf),
        input("Name", "name", "", "required maxlength=\"40\""),
        min = auth::MIN_PASSWORD_CHARS
    );
    page(
        "Console accounts",
        &Frame {
            who: Some(&signed.account.name),
            csrf,
        },
        notices,
        &b,
    )
}

/// `GET /console/accounts`.
pub async fn list(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Query(q): Query<Fields>,
) -> Response {
    let n = match field(&q, "done") {
        "" => vec![],
        d => vec![Notice::Done(d.into())],
    };
    list_page(&console, &signed, &n).await
}

/// `POST /console/accounts`: adds an account.
pub async fn add(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Form(form): Form<Fields>,
) -> Response {
    if let Some(r) = signed.check_csrf(&form) {
        return r;
    }
    let name = field(&form, "name").to_string();
    let plain = form.get("password").cloned().unwrap_or_default();
    let confirm = form.get("confirm").cloned().unwrap_or_default();
    let checked = auth::check_account_name(&name)
        .and_then(|()| auth::check_new_password(&name, &plain, &confirm));
    if let Err(m) = checked {
        return list_page(&console, &signed, &[Notice::Error(m)]).await;
    }
    let store = &console.app.store;
    match store.console_account_by_name(&name).await {
        Ok(Some(_)) => {
            return list_page(
                &console,
                &signed,
                &[Notice::Error(format!("an account named {name} exists"))],
            )
            .await;
        }
        Ok(None) => {}
        Err(e) => return unavailable(&e),
    }
    let hash = match auth::hash(&plain) {
        Ok(h) => h,
        Err(e) => return list_page(&console, &signed, &[Notice::Error(e.to_string())]).await,
    };
    match store
        .add_console_account(&name, &hash, console.app.clock.now_secs())
        .await
    {
        Ok(id) => {
            signed
                .audit(&console, format!("account.add id={id} name={name}"))
                .await;
            redirect(
                &format!(
                    "/console/accounts?done={}",
                    url_value(&format!("added account {name}"))
                ),
                Vec::new(),
            )
        }
        Err(e) => unavailable(&e),
    }
}

/// `POST /console/accounts/{id}/status`: 1 disables (and ends the
/// account's sessions), 0 enables. An account cannot disable itself.
pub async fn set_status(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Path(id): Path<u32>,
    Form(form): Form<Fields>,
) -> Response {
    if let Some(r) = signed.check_csrf(&form) {
        return r;
    }
    let status = u32::from(field(&form, "status") == "1");
    if id == signed.account.id {
        return list_page(
            &console,
            &signed,
            &[Notice::Error("an account cannot disable itself".into())],
        )
        .await;
    }
    let store = &console.app.store;
    match store
        .set_console_account_status(id, status, console.app.clock.now_secs())
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            return list_page(
                &console,
                &signed,
                &[Notice::Error("no such account".into())],
            )
            .await;
        }
        Err(e) => return unavailable(&e),
    }
    if status == 1
        && let Err(e) = store.end_console_sessions_of(id).await
    {
        return unavailable(&e);
    }
    let verb = if status == 1 { "disable" } else { "enable" };
    signed
        .audit(&console, format!("account.{verb} id={id}"))
        .await;
    redirect(
        &format!(
            "/console/accounts?done={}",
            url_value(&format!("account {id}: {verb}d"))
        ),
        Vec::new(),
    )
}

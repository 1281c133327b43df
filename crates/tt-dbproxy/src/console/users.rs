//! Users (`IMUser`): a paged list searched by name or nick in the query,
//! add, edit every field the PHP admin edits, status 0 (active) or 3
//! (departed), reset the password. Passwords are stored as the PHP admin
//! stores them (`md5(md5(plain) + salt)`); a name an active user already
//! has is refused; every change moves the user-list change gate, as
//! `tt-dbproxy admin` does, so clients' incremental syncs see it.

use std::fmt::Write;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;

use super::html::{Frame, Notice, csrf_field, esc, input, page, select, url_value};
use super::session::{Signed, redirect};
use super::shared::{Console, Fields, check_len, field, number, unavailable};
use crate::auth::password;
use crate::store::{DepartRecord, NewUser, StoreError, UserEdit, UserRecord};

/// Users per page.
const PAGE: u32 = 50;

/// The status a user may be given: 0 active, 3 departed.
const STATUSES: [(u32, &str); 2] = [(0, "0 · active"), (3, "3 · departed")];

fn status_label(s: u32) -> String {
    STATUSES.iter().find(|(v, _)| *v == s).map_or_else(
        || format!("{s} · (kept as stored)"),
        |(_, l)| (*l).to_string(),
    )
}

fn status_options(current: u32) -> Vec<(String, String)> {
    let mut o: Vec<(String, String)> = STATUSES
        .iter()
        .map(|(v, l)| (v.to_string(), (*l).to_string()))
        .collect();
    if !STATUSES.iter().any(|(v, _)| *v == current) {
        o.push((current.to_string(), status_label(current)));
    }
    o
}

fn depart_options(departs: &[DepartRecord], current: u32) -> Vec<(String, String)> {
    let mut o = vec![("0".to_string(), "0 · none".to_string())];
    o.extend(
        departs
            .iter()
            .filter(|d| d.status == 0 || d.id == current)
            .map(|d| (d.id.to_string(), format!("{} · {}", d.id, d.name))),
    );
    o
}

/// The user fields of a form, checked against the columns.
fn user_fields(form: &Fields, departs: &[DepartRecord]) -> Result<UserEdit, String> {
    let name = field(form, "name").to_string();
    if name.is_empty() {
        return Err("the name must not be empty".into());
    }
    for (key, label, max) in [
        ("name", "the name", 32),
        ("nick", "the nick", 32),
        ("phone", "the phone", 11),
        ("email", "the email", 64),
        ("avatar", "the avatar URL", 255),
        ("domain", "the domain", 32),
    ] {
        check_len(field(form, key), max, label)?;
    }
    let sex = number(form, "sex", "sex")?;
    if sex > 2 {
        return Err("sex must be 0 (unknown), 1 (male) or 2 (female)".into());
    }
    let depart_id = number(form, "depart", "the department")?;
    if depart_id != 0 && !departs.iter().any(|d| d.id == depart_id) {
        return Err(format!("department {depart_id} does not exist"));
    }
    let status = number(form, "status", "the status")?;
    if status > 255 {
        return Err("the status must be 0 to 255".into());
    }
    Ok(UserEdit {
        nick: match field(form, "nick") {
            "" => name.clone(),
            n => n.to_string(),
        },
        name,
        sex,
        phone: field(form, "phone").to_string(),
        email: field(form, "email").to_string(),
        avatar: field(form, "avatar").to_string(),
        domain: field(form, "domain").to_string(),
        depart_id,
        status,
        password_and_salt: None,
    })
}

/// The stored form of a new password, or why it is refused.
fn password_fields(plain: &str) -> Result<(String, String), String> {
    if plain.is_empty() || plain.len() > 128 {
        return Err("the password needs 1 to 128 bytes".into());
    }
    let salt = password::random_salt();
    Ok((password::stored_hash(plain, &salt), salt))
}

/// Refuses `name` while an active user other than `except` has it.
async fn name_free(console: &Console, name: &str, except: u32) -> Result<(), String> {
    match console.app.store.find_active_user_by_name(name).await {
        Ok(Some(u)) if u.id != except => Err(format!(
            "an active user (id {}) already has the name {name}: logins take the name's row",
            u.id
        )),
        Ok(_) => Ok(()),
        Err(e) => Err(format!("storage failed: {e}")),
    }
}

fn user_form(u: &UserRecord, departs: &[DepartRecord], new: bool) -> String {
    let sexes = vec![
        ("0".to_string(), "unknown".to_string()),
        ("1".to_string(), "male".to_string()),
        ("2".to_string(), "female".to_string()),
    ];
    let mut s = String::new();
    s.push_str(&input("Name", "name", &u.name, "required maxlength=\"32\""));
    s.push_str(&input("Nick", "nick", &u.nick, "maxlength=\"32\""));
    if new {
        s.push_str(r#"<label>Password <input name="password" type="password" required></label>"#);
    }
    s.push_str(&select("Sex", "sex", &sexes, &u.sex.to_string()));
    s.push_str(&input("Phone", "phone", &u.phone, "maxlength=\"11\""));
    s.push_str(&input("Email", "email", &u.email, "maxlength=\"64\""));
    s.push_str(&input(
        "Avatar URL",
        "avatar",
        &u.avatar,
        "maxlength=\"255\"",
    ));
    s.push_str(&input(
        "Domain (pinyin)",
        "domain",
        &u.domain,
        "maxlength=\"32\"",
    ));
    s.push_str(&select(
        "Department",
        "depart",
        &depart_options(departs, u.depart_id),
        &u.depart_id.to_string(),
    ));
    s.push_str(&select(
        "Status",
        "status",
        &status_options(u.status),
        &u.status.to_string(),
    ));
    s
}

async fn list_page(
    console: &Console,
    signed: &Signed,
    q: &str,
    page_no: u32,
    notices: &[Notice],
) -> Response {
    let store = &console.app.store;
    let (users, total) = match store.search_users(q, page_no * PAGE, PAGE).await {
        Ok(r) => r,
        Err(e) => return unavailable(&e),
    };
    let departs = match store.list_departments().await {
        Ok(d) => d,
        Err(e) => return unavailable(&e),
    };
    let depart_name = |id: u32| {
        departs
            .iter()
            .find(|d| d.id == id)
            .map_or_else(|| id.to_string(), |d| d.name.clone())
    };
    let mut b = format!(
        r#"<form method="get" action="/console/users" class="search"><input name="q" value="{}" placeholder="name or nick"> <button type="submit">Search</button></form>
<p>{total} user(s)</p><table id="users"><thead><tr><th>id</th><th>name</th><th>nick</th><th>department</th><th>status</th><th></th></tr></thead><tbody>"#,
        esc(q)
    );
    for u in &users {
        let _ = write!(
            b,
            r#"<tr><td>{}</td><td class="name">{}</td><td class="nick">{}</td><td>{}</td><td>{}</td><td><a href="/console/users/{}">edit</a></td></tr>"#,
            u.id,
            esc(&u.name),
            esc(&u.nick),
            esc(&depart_name(u.depart_id)),
            esc(&status_label(u.status)),
            u.id
        );
    }
    b.push_str("</tbody></table><p class=\"pager\">");
    if page_no > 0 {
        let _ = write!(
            b,
            r#"<a href="/console/users?q={}&page={}">« previous</a> "#,
            url_value(q),
            page_no - 1
        );
    }
    if u64::from(page_no + 1) * u64::from(PAGE) < total {
        let _ = write!(
            b,
            r#"<a href="/console/users?q={}&page={}">next »</a>"#,
            url_value(q),
            page_no + 1
        );
    }
    let _ = write!(
        b,
        r#"</p><h2>Add a user</h2><form method="post" action="/console/users" class="card" id="add-user">{}{}<button type="submit">Add user</button></form>"#,
        csrf_field(&signed.session.csrf),
        user_form(&UserRecord::default(), &departs, true)
    );
    page(
        "Users",
        &Frame {
            who: Some(&signed.account.name),
            csrf: &signed.session.csrf,
        },
        notices,
        &b,
    )
}

/// `GET /console/users?q=&page=`.
pub async fn list(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Query(query): Query<Fields>,
) -> Response {
    let q = field(&query, "q").to_string();
    let page_no = field(&query, "page").parse().unwrap_or(0);
    let notice = match field(&query, "done") {
        "" => vec![],
        d => vec![Notice::Done(d.to_string())],
    };
    list_page(&console, &signed, &q, page_no, &notice).await
}

/// Moves the user-list change gate (clients' incremental syncs).
async fn move_gate(console: &Console, now: u32) -> Result<(), StoreError> {
    console.app.store.set_user_list_gate(now).await
}

/// The user list with why a change was refused.
async fn refused(console: &Console, signed: &Signed, m: String) -> Response {
    list_page(console, signed, "", 0, &[Notice::Error(m)]).await
}

/// `POST /console/users`: adds a user.
pub async fn add(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Form(form): Form<Fields>,
) -> Response {
    if let Some(r) = signed.check_csrf(&form) {
        return r;
    }
    let store = &console.app.store;
    let departs = match store.list_departments().await {
        Ok(d) => d,
        Err(e) => return unavailable(&e),
    };
    let edit = match user_fields(&form, &departs) {
        Ok(e) => e,
        Err(m) => return refused(&console, &signed, m).await,
    };
    let (hash, salt) = match password_fields(form.get("password").map_or("", |p| p.as_str())) {
        Ok(p) => p,
        Err(m) => return refused(&console, &signed, m).await,
    };
    if edit.status == 0
        && let Err(m) = name_free(&console, &edit.name, 0).await
    {
        return refused(&console, &signed, m).await;
    }
    let now = console.app.clock.now_secs();
    let user = NewUser {
        sex: edit.sex,
        name: edit.name.clone(),
        domain: edit.domain,
        nick: edit.nick,
        password: hash,
        salt,
        phone: edit.phone,
        email: edit.email,
        avatar: edit.avatar,
        depart_id: edit.depart_id,
        status: edit.status,
        created: now,
        updated: now,
        ..Default::default()
    };
    let id = match store.add_user(user).await {
        Ok(id) => id,
        Err(e) => return unavailable(&e),
    };
    if let Err(e) = move_gate(&console, now).await {
        return unavailable(&e);
    }
    signed
        .audit(&console, format!("user.add id={id} name={}", edit.name))
        .await;
    redirect(
        &format!(
            "/console/users?done={}",
            url_value(&format!("added user {} with id {id}", edit.name))
        ),
        Vec::new(),
    )
}

async fn edit_page(console: &Console, signed: &Signed, id: u32, notices: &[Notice]) -> Response {
    let store = &console.app.store;
    let user = match store.users_by_ids(&[id]).await {
        Ok(mut v) => v.pop(),
        Err(e) => return unavailable(&e),
    };
    let Some(u) = user else {
        return redirect("/console/users?done=no+such+user", Vec::new());
    };
    let departs = match store.list_departments().await {
        Ok(d) => d,
        Err(e) => return unavailable(&e),
    };
    let csrf = &signed.session.csrf;
    let body = format!(
        r#"<form method="post" action="/console/users/{id}" class="card" id="edit-user">{}{}<label>New password (empty: keep) <input name="password" type="password"></label><button type="submit">Save</button></form>
<h2>Reset the password</h2><form method="post" action="/console/users/{id}/password" class="card" id="reset-password">{}<label>New password <input name="password" type="password" required></label><button type="submit">Reset password</button></form>
<p>Created {}, updated {}.</p>"#,
        csrf_field(csrf),
        user_form(&u, &departs, false),
        csrf_field(csrf),
        super::html::time(u.created),
        super::html::time(u.updated),
    );
    page(
        &format!("User {} ({})", u.name, u.id),
        &Frame {
            who: Some(&signed.account.name),
            csrf,
        },
        notices,
        &body,
    )
}

/// `GET /console/users/{id}`.
pub async fn edit_form(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Path(id): Path<u32>,
) -> Response {
    edit_page(&console, &signed, id, &[]).await
}

/// `POST /console/users/{id}`: saves every field (the password only when
/// given).
pub async fn edit(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Path(id): Path<u32>,
    Form(form): Form<Fields>,
) -> Response {
    if let Some(r) = signed.check_csrf(&form) {
        return r;
    }
    let departs = match console.app.store.list_departments().await {
        Ok(d) => d,
        Err(e) => return unavailable(&e),
    };
    let mut edit = match user_fields(&form, &departs) {
        Ok(e) => e,
        Err(m) => return edit_page(&console, &signed, id, &[Notice::Error(m)]).await,
    };
    let plain = form.get("password").map_or("", |p| p.as_str());
    if !plain.is_empty() {
        match password_fields(plain) {
            Ok(p) => edit.password_and_salt = Some(p),
            Err(m) => return edit_page(&console, &signed, id, &[Notice::Error(m)]).await,
        }
    }
    if edit.status == 0
        && let Err(m) = name_free(&console, &edit.name, id).await
    {
        return edit_page(&console, &signed, id, &[Notice::Error(m)]).await;
    }
    let now = console.app.clock.now_secs();
    let what = format!(
        "user.edit id={id} name={} nick={} status={} depart={}{}",
        edit.name,
        edit.nick,
        edit.status,
        edit.depart_id,
        if edit.password_and_salt.is_some() {
            " password=reset"
        } else {
            ""
        }
    );
    // Saved, the user-list change gate moves before the answer.
    let saved = match console.app.store.edit_user(id, edit, now).await {
        Ok(true) => move_gate(&console, now).await.map(|()| true),
        other => other,
    };
    signed
        .after_edit(
            &console,
            saved,
            what,
            "/console/users?done=no+such+user",
            async |n| edit_page(&console, &signed, id, n).await,
        )
        .await
}

/// `POST /console/users/{id}/password`: sets a new password.
pub async fn reset_password(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Path(id): Path<u32>,
    Form(form): Form<Fields>,
) -> Response {
    if let Some(r) = signed.check_csrf(&form) {
        return r;
    }
    let pair = match password_fields(form.get("password").map_or("", |p| p.as_str())) {
        Ok(p) => p,
        Err(m) => return edit_page(&console, &signed, id, &[Notice::Error(m)]).await,
    };
    let now = console.app.clock.now_secs();
    let update = crate::store::UserUpdate {
        password_and_salt: Some(pair),
        ..Default::default()
    };
    match console.app.store.update_user(id, update, now).await {
        Ok(_) => {}
        Err(e) => return unavailable(&e),
    }
    if let Err(e) = move_gate(&console, now).await {
        return unavailable(&e);
    }
    signed
        .audit(&console, format!("user.password id={id}"))
        .await;
    edit_page(
        &console,
        &signed,
        id,
        &[Notice::Done("the password was reset".into())],
    )
    .await
}

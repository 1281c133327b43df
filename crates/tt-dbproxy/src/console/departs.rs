//! Departments (`IMDepart`): a tree by parent, add, edit, and delete as
//! the PHP admin does (status 1 and `updated` = now, so clients'
//! department syncs see it), refused with the reason while active users
//! or active child departments reference it.

use std::fmt::Write;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;

use super::html::{Notice, button_form, csrf_field, esc, input, page, select, url_value};
use super::session::{Signed, redirect};
use super::shared::{Console, Fields, check_len, field, notices, number, unavailable};
use crate::store::DepartRecord;

/// Longest department name (`departName varchar(64)`).
const MAX_NAME: usize = 64;

/// The children of `parent` as a nested list (deleted ones marked).
fn tree(all: &[DepartRecord], parent: u32, depth: usize, out: &mut String) {
    let children: Vec<&DepartRecord> = all
        .iter()
        .filter(|d| d.parent_id == parent && d.id != parent)
        .collect();
    if children.is_empty() || depth > 32 {
        return;
    }
    out.push_str("<ul>");
    for d in children {
        let deleted = if d.status == 1 {
            r#" <span class="muted">(deleted)</span>"#
        } else {
            ""
        };
        let _ = write!(
            out,
            r#"<li data-id="{}"><a href="/console/departs/{}">{}</a> <span class="muted">id {} · priority {}</span>{deleted}"#,
            d.id,
            d.id,
            esc(&d.name),
            d.id,
            d.priority
        );
        tree(all, d.id, depth + 1, out);
        out.push_str("</li>");
    }
    out.push_str("</ul>");
}

fn parent_options(all: &[DepartRecord], except: Option<u32>) -> Vec<(String, String)> {
    let mut o = vec![("0".to_string(), "0 · top level".to_string())];
    o.extend(
        all.iter()
            .filter(|d| d.status == 0 && Some(d.id) != except)
            .map(|d| (d.id.to_string(), format!("{} · {}", d.id, d.name))),
    );
    o
}

/// The name, priority and parent of a form, checked.
fn depart_fields(
    form: &Fields,
    all: &[DepartRecord],
    id: Option<u32>,
) -> Result<DepartRecord, String> {
    let name = field(form, "name").to_string();
    if name.is_empty() {
        return Err("the name must not be empty".into());
    }
    check_len(&name, MAX_NAME, "the name")?;
    let priority = number(form, "priority", "the priority")?;
    let parent_id = number(form, "parent", "the parent")?;
    if parent_id != 0 && !all.iter().any(|d| d.id == parent_id && d.status == 0) {
        return Err(format!("department {parent_id} does not exist"));
    }
    if let Some(me) = id {
        // No cycles: the new parent may not be the department or below it.
        let mut at = parent_id;
        for _ in 0..=all.len() {
            if at == 0 {
                break;
            }
            if at == me {
                return Err("a department cannot be placed under itself".into());
            }
            at = all.iter().find(|d| d.id == at).map_or(0, |d| d.parent_id);
        }
    }
    Ok(DepartRecord {
        id: id.unwrap_or(0),
        name,
        priority,
        parent_id,
        ..Default::default()
    })
}

async fn list_page(console: &Console, signed: &Signed, notices: &[Notice]) -> Response {
    let all = match console.app.store.list_departments().await {
        Ok(d) => d,
        Err(e) => return unavailable(&e),
    };
    let mut b = String::from(r#"<div id="departs" class="tree">"#);
    tree(&all, 0, 0, &mut b);
    let _ = write!(
        b,
        r#"</div><h2>Add a department</h2><form method="post" action="/console/departs" class="card" id="add-depart">{}{}{}{}<button type="submit">Add department</button></form>"#,
        csrf_field(&signed.session.csrf),
        input("Name", "name", "", "required maxlength=\"64\""),
        input("Priority", "priority", "0", "inputmode=\"numeric\""),
        select("Parent", "parent", &parent_options(&all, None), "0"),
    );
    page("Departments", &signed.frame(), notices, &b)
}

/// `GET /console/departs`.
pub async fn list(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Query(q): Query<Fields>,
) -> Response {
    list_page(&console, &signed, &notices(&q)).await
}

/// `POST /console/departs`: adds a department.
pub async fn add(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Form(form): Form<Fields>,
) -> Response {
    if let Some(r) = signed.check_csrf(&form) {
        return r;
    }
    let store = &console.app.store;
    let all = match store.list_departments().await {
        Ok(d) => d,
        Err(e) => return unavailable(&e),
    };
    let mut d = match depart_fields(&form, &all, None) {
        Ok(d) => d,
        Err(m) => return list_page(&console, &signed, &[Notice::Error(m)]).await,
    };
    let now = console.app.clock.now_secs();
    d.created = now;
    d.updated = now;
    let name = d.name.clone();
    match store.add_department(d).await {
        Ok(id) => {
            signed
                .audit(&console, format!("depart.add id={id} name={name}"))
                .await;
            redirect(
                &format!(
                    "/console/departs?done={}",
                    url_value(&format!("added department {name} with id {id}"))
                ),
                Vec::new(),
            )
        }
        Err(e) => unavailable(&e),
    }
}

async fn edit_page(console: &Console, signed: &Signed, id: u32, notices: &[Notice]) -> Response {
    let store = &console.app.store;
    let (d, all) = match (store.department(id).await, store.list_departments().await) {
        (Ok(Some(d)), Ok(all)) => (d, all),
        (Ok(None), _) => return redirect("/console/departs?error=no+such+department", Vec::new()),
        (Err(e), _) | (_, Err(e)) => return unavailable(&e),
    };
    let csrf = &signed.session.csrf;
    let body = format!(
        r#"<form method="post" action="/console/departs/{id}" class="card" id="edit-depart">{}{}{}{}<button type="submit">Save</button></form>
<h2>Delete</h2><p>Deleting marks the department deleted (status 1) so clients' department syncs drop it; it is refused while active users or active child departments reference it.</p>{}
<p>Status {}, created {}, updated {}.</p>"#,
        csrf_field(csrf),
        input("Name", "name", &d.name, "required maxlength=\"64\""),
        input(
            "Priority",
            "priority",
            &d.priority.to_string(),
            "inputmode=\"numeric\""
        ),
        select(
            "Parent",
            "parent",
            &parent_options(&all, Some(id)),
            &d.parent_id.to_string()
        ),
        button_form(
            &format!("/console/departs/{id}/delete"),
            csrf,
            "Delete department",
            &[]
        ),
        d.status,
        super::html::time(d.created),
        super::html::time(d.updated),
    );
    page(
        &format!("Department {} ({id})", d.name),
        &signed.frame(),
        notices,
        &body,
    )
}

/// `GET /console/departs/{id}`.
pub async fn edit_form(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Path(id): Path<u32>,
) -> Response {
    edit_page(&console, &signed, id, &[]).await
}

/// `POST /console/departs/{id}`: saves name, priority and parent.
pub async fn edit(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Path(id): Path<u32>,
    Form(form): Form<Fields>,
) -> Response {
    if let Some(r) = signed.check_csrf(&form) {
        return r;
    }
    let store = &console.app.store;
    let all = match store.list_departments().await {
        Ok(d) => d,
        Err(e) => return unavailable(&e),
    };
    let d = match depart_fields(&form, &all, Some(id)) {
        Ok(d) => d,
        Err(m) => return edit_page(&console, &signed, id, &[Notice::Error(m)]).await,
    };
    let what = format!(
        "depart.edit id={id} name={} priority={} parent={}",
        d.name, d.priority, d.parent_id
    );
    let saved = store.edit_department(d, console.app.clock.now_secs()).await;
    signed
        .after_edit(
            &console,
            saved,
            what,
            "/console/departs?error=no+such+department",
            async |n| edit_page(&console, &signed, id, n).await,
        )
        .await
}

/// `POST /console/departs/{id}/delete`: status 1, refused while
/// referenced.
pub async fn delete(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Path(id): Path<u32>,
    Form(form): Form<Fields>,
) -> Response {
    if let Some(r) = signed.check_csrf(&form) {
        return r;
    }
    let store = &console.app.store;
    match store.department_references(id).await {
        Ok((0, 0)) => {}
        Ok((users, children)) => {
            let m = format!(
                "department {id} cannot be deleted: {users} active user(s) and {children} active child department(s) reference it"
            );
            return edit_page(&console, &signed, id, &[Notice::Error(m)]).await;
        }
        Err(e) => return unavailable(&e),
    }
    match store
        .delete_department(id, console.app.clock.now_secs())
        .await
    {
        Ok(true) => {
            signed
                .audit(&console, format!("depart.delete id={id}"))
                .await;
            redirect(
                &format!(
                    "/console/departs?done={}",
                    url_value(&format!("deleted department {id}"))
                ),
                Vec::new(),
            )
        }
        Ok(false) => redirect("/console/departs?error=no+such+department", Vec::new()),
        Err(e) => unavailable(&e),
    }
}

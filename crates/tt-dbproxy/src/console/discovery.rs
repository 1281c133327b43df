//! Discovery items (`IMDiscovery`): the console's list, add, edit and
//! delete, and the public, read-only `GET /api/discovery` on its own
//! listener (`discovery.listen`): the PHP admin's JSON of the active
//! items, the URL login_server hands to clients (`discovery=`).

use std::fmt::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tracing::warn;

use super::html::{Notice, button_form, csrf_field, esc, input, page, select, url_value};
use super::session::{Signed, redirect};
use super::shared::{Console, Fields, check_len, field, notices, number, unavailable};
use crate::state::AppState;
use crate::store::DiscoveryItem;

/// Longest name and URL (`varchar(64)`).
const MAX_TEXT: usize = 64;

/// The PHP admin's JSON of the active items: `[{"itemName", "itemUrl",
/// "itemPriority"}]` (the priority as text, as PHP hands MySQL's integers
/// on), by priority.
pub fn public_json(items: &[DiscoveryItem]) -> serde_json::Value {
    serde_json::Value::Array(
        items
            .iter()
            .filter(|i| i.status == 0)
            .map(|i| {
                serde_json::json!({
                    "itemName": i.name,
                    "itemUrl": i.url,
                    "itemPriority": i.priority.to_string(),
                })
            })
            .collect(),
    )
}

async fn api(State(app): State<Arc<AppState>>) -> Response {
    match app.store.discovery_items().await {
        Ok(items) => (
            [
                (CONTENT_TYPE, "application/json; charset=utf-8"),
                (CACHE_CONTROL, "max-age=60"),
            ],
            public_json(&items).to_string(),
        )
            .into_response(),
        Err(e) => {
            warn!(error = %e, "discovery: storage failed");
            (StatusCode::SERVICE_UNAVAILABLE, "[]").into_response()
        }
    }
}

/// Serves `GET /api/discovery` (and nothing else) on `listener` until
/// `shutdown`.
pub async fn serve_public(listener: TcpListener, app: Arc<AppState>, shutdown: CancellationToken) {
    let router = Router::new()
        .route("/api/discovery", get(api))
        .with_state(app);
    if let Err(e) = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
    {
        warn!(error = %e, "discovery endpoint stopped");
    }
}

/// Binds `discovery.listen`.
pub async fn bind_public(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

fn item_fields(form: &Fields) -> Result<DiscoveryItem, String> {
    let name = field(form, "name").to_string();
    let url = field(form, "url").to_string();
    if name.is_empty() || url.is_empty() {
        return Err("name and URL must not be empty".into());
    }
    check_len(&name, MAX_TEXT, "the name")?;
    check_len(&url, MAX_TEXT, "the URL")?;
    let status = number(form, "status", "the status")?;
    if status > 1 {
        return Err("the status must be 0 (shown) or 1 (hidden)".into());
    }
    Ok(DiscoveryItem {
        name,
        url,
        priority: number(form, "priority", "the priority")?,
        status,
        ..Default::default()
    })
}

fn item_form(i: &DiscoveryItem) -> String {
    let statuses = vec![
        ("0".to_string(), "0 · shown".to_string()),
        ("1".to_string(), "1 · hidden".to_string()),
    ];
    format!(
        "{}{}{}{}",
        input("Name", "name", &i.name, "required maxlength=\"64\""),
        input("URL", "url", &i.url, "required maxlength=\"64\""),
        input(
            "Priority",
            "priority",
            &i.priority.to_string(),
            "inputmode=\"numeric\""
        ),
        select("Status", "status", &statuses, &i.status.to_string()),
    )
}

async fn list_page(console: &Console, signed: &Signed, notices: &[Notice]) -> Response {
    let items = match console.app.store.discovery_items().await {
        Ok(i) => i,
        Err(e) => return unavailable(&e),
    };
    let mut b = String::from(
        r#"<p class="muted">Clients read the shown items from <code>GET /api/discovery</code> on <code>discovery.listen</code>.</p><table id="discovery"><thead><tr><th>id</th><th>name</th><th>URL</th><th>priority</th><th>status</th><th></th></tr></thead><tbody>"#,
    );
    for i in &items {
        let _ = write!(
            b,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><a href="/console/discovery/{}">edit</a></td></tr>"#,
            i.id,
            esc(&i.name),
            esc(&i.url),
            i.priority,
            i.status,
            i.id
        );
    }
    let _ = write!(
        b,
        r#"</tbody></table><h2>Add an item</h2><form method="post" action="/console/discovery" class="card" id="add-discovery">{}{}<button type="submit">Add item</button></form>"#,
        csrf_field(&signed.session.csrf),
        item_form(&DiscoveryItem::default())
    );
    page("Discovery items", &signed.frame(), notices, &b)
}

/// `GET /console/discovery`.
pub async fn list(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Query(q): Query<Fields>,
) -> Response {
    list_page(&console, &signed, &notices(&q)).await
}

/// `POST /console/discovery`: adds an item.
pub async fn add(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Form(form): Form<Fields>,
) -> Response {
    if let Some(r) = signed.check_csrf(&form) {
        return r;
    }
    let mut item = match item_fields(&form) {
        Ok(i) => i,
        Err(m) => return list_page(&console, &signed, &[Notice::Error(m)]).await,
    };
    let now = console.app.clock.now_secs();
    item.created = now;
    item.updated = now;
    let what = format!("discovery.add name={} url={}", item.name, item.url);
    match console.app.store.add_discovery_item(item).await {
        Ok(id) => {
            signed.audit(&console, format!("{what} id={id}")).await;
            redirect(
                &format!(
                    "/console/discovery?done={}",
                    url_value(&format!("added item {id}"))
                ),
                Vec::new(),
            )
        }
        Err(e) => unavailable(&e),
    }
}

async fn edit_page(console: &Console, signed: &Signed, id: u32, notices: &[Notice]) -> Response {
    let item = match console.app.store.discovery_items().await {
        Ok(items) => items.into_iter().find(|i| i.id == id),
        Err(e) => return unavailable(&e),
    };
    let Some(item) = item else {
        return redirect("/console/discovery?error=no+such+item", Vec::new());
    };
    let csrf = &signed.session.csrf;
    let body = format!(
        r#"<form method="post" action="/console/discovery/{id}" class="card" id="edit-discovery">{}{}<button type="submit">Save</button></form><h2>Delete</h2>{}"#,
        csrf_field(csrf),
        item_form(&item),
        button_form(
            &format!("/console/discovery/{id}/delete"),
            csrf,
            "Delete item",
            &[]
        )
    );
    page(
        &format!("Discovery item {id}"),
        &signed.frame(),
        notices,
        &body,
    )
}

/// `GET /console/discovery/{id}`.
pub async fn edit_form(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Path(id): Path<u32>,
) -> Response {
    edit_page(&console, &signed, id, &[]).await
}

/// `POST /console/discovery/{id}`: saves an item.
pub async fn edit(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Path(id): Path<u32>,
    Form(form): Form<Fields>,
) -> Response {
    if let Some(r) = signed.check_csrf(&form) {
        return r;
    }
    let mut item = match item_fields(&form) {
        Ok(i) => i,
        Err(m) => return edit_page(&console, &signed, id, &[Notice::Error(m)]).await,
    };
    item.id = id;
    let what = format!(
        "discovery.edit id={id} name={} url={} priority={} status={}",
        item.name, item.url, item.priority, item.status
    );
    let saved = console
        .app
        .store
        .edit_discovery_item(item, console.app.clock.now_secs())
        .await;
    signed
        .after_edit(
            &console,
            saved,
            what,
            "/console/discovery?error=no+such+item",
            async |n| edit_page(&console, &signed, id, n).await,
        )
        .await
}

/// `POST /console/discovery/{id}/delete`.
pub async fn delete(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Path(id): Path<u32>,
    Form(form): Form<Fields>,
) -> Response {
    if let Some(r) = signed.check_csrf(&form) {
        return r;
    }
    match console.app.store.delete_discovery_item(id).await {
        Ok(_) => {
            signed
                .audit(&console, format!("discovery.delete id={id}"))
                .await;
            redirect(
                &format!(
                    "/console/discovery?done={}",
                    url_value(&format!("deleted item {id}"))
                ),
                Vec::new(),
            )
        }
        Err(e) => unavailable(&e),
    }
}

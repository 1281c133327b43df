//! Groups: list, create a fixed group with members, rename, change the
//! avatar, add and remove members. With `console.http_msg_server`,
//! creation and member changes go through its `/query` API (so online
//! members are notified) and nothing is written here when it fails;
//! without it they run through the group handlers themselves (the same
//! rules: member counts, versions, Redis membership), and online clients
//! see them at their next group sync.

use std::fmt::Write;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use prost::Message;
use tt_proto::im::base_define::{GroupModifyType, GroupType};
use tt_proto::im::group::{
    ImGroupChangeMemberReq, ImGroupChangeMemberRsp, ImGroupCreateReq, ImGroupCreateRsp,
};

use super::html::{Notice, button_form, csrf_field, esc, input, page, url_value};
use super::session::{Signed, redirect};
use super::shared::{Console, Fields, check_len, field, notices, unavailable};
use crate::handler::group::GROUP_TEMPORARY;
use crate::store::{GroupRecord, MAX_IDS_PER_REQUEST};

/// Longest group name and avatar (`varchar(256)`).
const MAX_TEXT: usize = 256;

/// User ids from `1, 2 3`, checked to exist.
async fn user_ids(console: &Console, text: &str) -> Result<Vec<u32>, String> {
    let mut ids = Vec::new();
    for part in text.split(|c: char| c == ',' || c.is_whitespace()) {
        if part.is_empty() {
            continue;
        }
        ids.push(
            part.parse::<u32>()
                .map_err(|_| format!("{part:?} is not a user id"))?,
        );
    }
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Err("give at least one user id".into());
    }
    if ids.len() > MAX_IDS_PER_REQUEST {
        return Err(format!("at most {MAX_IDS_PER_REQUEST} users at once"));
    }
    let found = console
        .app
        .store
        .users_by_ids(&ids)
        .await
        .map_err(|e| format!("storage failed: {e}"))?;
    let missing: Vec<String> = ids
        .iter()
        .filter(|id| !found.iter().any(|u| u.id == **id))
        .map(ToString::to_string)
        .collect();
    if !missing.is_empty() {
        return Err(format!("no such user: {}", missing.join(", ")));
    }
    Ok(ids)
}

fn notify_note(console: &Console) -> &'static str {
    if console.msg_server.is_some() {
        "Creation and member changes go through http_msg_server, which notifies online members."
    } else {
        "No http_msg_server is configured: changes are written directly and online clients see them at their next group sync."
    }
}

/// `GET /console/groups`.
pub async fn list(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Query(q): Query<Fields>,
) -> Response {
    list_page(&console, &signed, &notices(&q)).await
}

async fn list_page(console: &Console, signed: &Signed, notices: &[Notice]) -> Response {
    let groups = match console.app.store.list_groups().await {
        Ok(g) => g,
        Err(e) => return unavailable(&e),
    };
    let mut b = format!(
        r#"<p class="muted">{}</p><table id="groups"><thead><tr><th>id</th><th>name</th><th>type</th><th>members</th><th>version</th><th>creator</th><th>status</th></tr></thead><tbody>"#,
        notify_note(console)
    );
    for g in &groups {
        let _ = write!(
            b,
            r#"<tr><td>{}</td><td><a href="/console/groups/{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            g.id,
            g.id,
            esc(&g.name),
            if g.group_type == GROUP_TEMPORARY {
                "temporary"
            } else {
                "fixed"
            },
            g.user_count,
            g.version,
            g.creator,
            g.status
        );
    }
    let _ = write!(
        b,
        r#"</tbody></table><h2>Create a fixed group</h2><form method="post" action="/console/groups" class="card" id="add-group">{}{}{}{}{}<button type="submit">Create group</button></form>"#,
        csrf_field(&signed.session.csrf),
        input("Name", "name", "", "required maxlength=\"256\""),
        input("Avatar URL", "avatar", "", "maxlength=\"256\""),
        input(
            "Creator (user id)",
            "creator",
            "",
            "required inputmode=\"numeric\""
        ),
        input(
            "Members (user ids, comma-separated; the creator is added)",
            "members",
            "",
            "required"
        ),
    );
    page("Groups", &signed.frame(), notices, &b)
}

/// The group list with why a change was refused.
async fn refused(console: &Console, signed: &Signed, m: String) -> Response {
    list_page(console, signed, &[Notice::Error(m)]).await
}

/// `POST /console/groups`: creates a fixed group.
pub async fn create(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Form(form): Form<Fields>,
) -> Response {
    if let Some(r) = signed.check_csrf(&form) {
        return r;
    }
    let name = field(&form, "name").to_string();
    let avatar = field(&form, "avatar").to_string();
    if name.is_empty() {
        return refused(&console, &signed, "the group name must not be empty".into()).await;
    }
    if let Err(m) =
        check_len(&name, MAX_TEXT, "the name").and(check_len(&avatar, MAX_TEXT, "the avatar URL"))
    {
        return refused(&console, &signed, m).await;
    }
    let creator_text = field(&form, "creator").to_string();
    let creator = match user_ids(&console, &creator_text).await {
        Ok(v) if v.len() == 1 => v[0],
        Ok(_) => return refused(&console, &signed, "give one creator".into()).await,
        Err(m) => return refused(&console, &signed, format!("creator: {m}")).await,
    };
    let mut members = match user_ids(&console, field(&form, "members")).await {
        Ok(v) => v,
        Err(m) => return refused(&console, &signed, format!("members: {m}")).await,
    };
    if !members.contains(&creator) {
        members.push(creator);
        members.sort_unstable();
    }
    let id = if let Some(ms) = &console.msg_server {
        match ms.create_group(creator, &name, &avatar, &members).await {
            Ok(id) => id,
            Err(e) => return refused(&console, &signed, format!("{e}; nothing was written")).await,
        }
    } else {
        let req = ImGroupCreateReq {
            user_id: Some(creator),
            group_type: Some(GroupType::Normal as i32),
            group_name: Some(name.clone().into_bytes()),
            group_avatar: Some(avatar.clone().into_bytes()),
            member_id_list: members.clone(),
            attach_data: None,
        };
        let reply = crate::handler::group::create(&console.app, req).await;
        match ImGroupCreateRsp::decode(reply.body.as_slice()) {
            Ok(r) if r.result_code == Some(0) => r.group_id,
            _ => {
                return refused(
                    &console,
                    &signed,
                    "the group could not be created (see the log)".into(),
                )
                .await;
            }
        }
    };
    let shown = id.map_or_else(|| "?".into(), |i| i.to_string());
    signed
        .audit(
            &console,
            format!("group.create id={shown} name={name} creator={creator} members={members:?}"),
        )
        .await;
    redirect(
        &format!(
            "/console/groups?done={}",
            url_value(&format!("created group {name} with id {shown}"))
        ),
        Vec::new(),
    )
}

async fn group(console: &Console, id: u32) -> Result<Option<GroupRecord>, Response> {
    console
        .app
        .store
        .groups_by_ids(&[id])
        .await
        .map(|mut v| v.pop())
        .map_err(|e| unavailable(&e))
}

async fn show_page(console: &Console, signed: &Signed, id: u32, notices: &[Notice]) -> Response {
    let g = match group(console, id).await {
        Ok(Some(g)) => g,
        Ok(None) => return redirect("/console/groups?error=no+such+group", Vec::new()),
        Err(r) => return r,
    };
    let store = &console.app.store;
    let members = match store.group_members(id).await {
        Ok(m) => m,
        Err(e) => return unavailable(&e),
    };
    let users = match store.users_by_ids(&members).await {
        Ok(u) => u,
        Err(e) => return unavailable(&e),
    };
    let csrf = &signed.session.csrf;
    let mut b = format!(
        r#"<p class="muted">{}</p><form method="post" action="/console/groups/{id}" class="card" id="edit-group">{}{}{}<button type="submit">Save</button></form>
<h2>Members ({})</h2><table id="members"><thead><tr><th>id</th><th>name</th><th>nick</th><th></th></tr></thead><tbody>"#,
        notify_note(console),
        csrf_field(csrf),
        input("Name", "name", &g.name, "required maxlength=\"256\""),
        input("Avatar URL", "avatar", &g.avatar, "maxlength=\"256\""),
        users.len()
    );
    for u in &users {
        let _ = write!(
            b,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            u.id,
            esc(&u.name),
            esc(&u.nick),
            button_form(
                &format!("/console/groups/{id}/members"),
                csrf,
                "Remove",
                &[("action", "remove"), ("users", &u.id.to_string())]
            )
        );
    }
    let _ = write!(
        b,
        r#"</tbody></table><h2>Add members</h2><form method="post" action="/console/groups/{id}/members" class="card" id="add-members">{}<input type="hidden" name="action" value="add">{}<button type="submit">Add members</button></form>
<p>Type {}, version {}, creator {}, updated {}.</p>"#,
        csrf_field(csrf),
        input("User ids, comma-separated", "users", "", "required"),
        g.group_type,
        g.version,
        g.creator,
        super::html::time(g.updated),
    );
    page(
        &format!("Group {} ({id})", g.name),
        &signed.frame(),
        notices,
        &b,
    )
}

/// `GET /console/groups/{id}`: the group, its members, the forms.
pub async fn show(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Path(id): Path<u32>,
    Query(q): Query<Fields>,
) -> Response {
    show_page(&console, &signed, id, &notices(&q)).await
}

/// `POST /console/groups/{id}`: renames and changes the avatar.
pub async fn edit(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Path(id): Path<u32>,
    Form(form): Form<Fields>,
) -> Response {
    if let Some(r) = signed.check_csrf(&form) {
        return r;
    }
    let name = field(&form, "name").to_string();
    let avatar = field(&form, "avatar").to_string();
    if name.is_empty() {
        return show_page(
            &console,
            &signed,
            id,
            &[Notice::Error("the name must not be empty".into())],
        )
        .await;
    }
    if let Err(m) =
        check_len(&name, MAX_TEXT, "the name").and(check_len(&avatar, MAX_TEXT, "the avatar URL"))
    {
        return show_page(&console, &signed, id, &[Notice::Error(m)]).await;
    }
    let now = console.app.clock.now_secs();
    let saved = console.app.store.edit_group(id, &name, &avatar, now).await;
    signed
        .after_edit(
            &console,
            saved,
            format!("group.edit id={id} name={name} avatar={avatar}"),
            "/console/groups?error=no+such+group",
            async |n| show_page(&console, &signed, id, n).await,
        )
        .await
}

/// `POST /console/groups/{id}/members`: `action` add or remove `users`.
pub async fn members(
    State(console): State<Arc<Console>>,
    signed: Signed,
    Path(id): Path<u32>,
    Form(form): Form<Fields>,
) -> Response {
    if let Some(r) = signed.check_csrf(&form) {
        return r;
    }
    let add = field(&form, "action") == "add";
    let g = match group(&console, id).await {
        Ok(Some(g)) => g,
        Ok(None) => return redirect("/console/groups?error=no+such+group", Vec::new()),
        Err(r) => return r,
    };
    let users = match user_ids(&console, field(&form, "users")).await {
        Ok(u) => u,
        Err(m) => return show_page(&console, &signed, id, &[Notice::Error(m)]).await,
    };
    let outcome = if let Some(ms) = &console.msg_server {
        ms.change_members(g.creator, id, add, &users)
            .await
            .map(|()| users.clone())
            .map_err(|e| format!("{e}; nothing was written"))
    } else {
        let req = ImGroupChangeMemberReq {
            user_id: Some(0),
            change_type: Some(if add {
                GroupModifyType::Add as i32
            } else {
                GroupModifyType::Del as i32
            }),
            group_id: Some(id),
            member_id_list: users.clone(),
            attach_data: None,
        };
        let reply = crate::handler::group::change_members(&console.app, req).await;
        match ImGroupChangeMemberRsp::decode(reply.body.as_slice()) {
            Ok(r) if r.result_code == Some(0) => Ok(r.chg_user_id_list),
            _ => Err("the members could not be changed (see the log)".into()),
        }
    };
    match outcome {
        Ok(changed) => {
            let verb = if add { "add" } else { "remove" };
            signed
                .audit(
                    &console,
                    format!("group.members.{verb} id={id} users={changed:?}"),
                )
                .await;
            let msg = format!("{verb}: {} member(s) changed", changed.len());
            redirect(
                &format!("/console/groups/{id}?done={}", url_value(&msg)),
                Vec::new(),
            )
        }
        Err(m) => show_page(&console, &signed, id, &[Notice::Error(m)]).await,
    }
}

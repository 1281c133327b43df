//! The web console end to end, on the embedded store and on MariaDB +
//! Redis: a real server, the console on its admin listener, forms
//! submitted over HTTP as a browser submits them, and every change
//! checked where TeamTalk sees it: over the wire protocol (login, user
//! info, departments, group info) or the public `/api/discovery`.
//! `security.rs` holds the security cases.

#[path = "../common/mod.rs"]
mod common;
mod security;
mod web;

use common::*;
use tt_dbproxy::store::prelude::*;
use tt_proto::im::base_define::GroupVersionInfo;
use tt_proto::im::buddy::{ImDepartmentReq, ImDepartmentRsp, ImUsersInfoReq, ImUsersInfoRsp};
use tt_proto::im::group::{ImGroupInfoListReq, ImGroupInfoListRsp};
use web::{ADMIN_MD5, ConsoleServer, Web};

/// md5("123456"), what a client sends for that password.
const MD5_123456: &str = "e10adc3949ba59abbe56e057f20f883e";

async fn first_sign_in_forces_a_new_password(b: Backend) {
    let c = ConsoleServer::start(b, |_| {}).await;
    c.seed_php_admin().await;
    let mut w = Web::new(c.http);
    let r = w.sign_in("admin", "admin").await;
    assert_eq!(
        r.location.as_deref(),
        Some("/console/password"),
        "{}",
        r.body
    );
    for path in ["/console/", "/console/users", "/console/accounts"] {
        let r = w.get(path).await;
        assert_eq!(
            r.location.as_deref(),
            Some("/console/password"),
            "{path} before the password is changed"
        );
    }
    let r = w.get("/console/password").await;
    assert!(r.shows("PHP admin&#39;s password"), "{}", r.body);
    let r = w
        .post(
            "/console/password",
            &[("current", "admin"), ("new", "admin"), ("confirm", "admin")],
        )
        .await;
    assert!(r.shows("must differ"), "{}", r.body);
    let r = w
        .post(
            "/console/password",
            &[
                ("current", "admin"),
                ("new", "n3w-secret!"),
                ("confirm", "n3w-secret!"),
            ],
        )
        .await;
    assert_eq!(
        r.location.as_deref(),
        Some("/console/?changed=1"),
        "{}",
        r.body
    );
    assert_eq!(w.get("/console/users").await.status, 200);
    let account =
        c.s.store
            .console_account_by_name("admin")
            .await
            .unwrap()
            .unwrap();
    assert_ne!(account.legacy_pwd, ADMIN_MD5, "pwd overwritten");
    assert!(account.hash.unwrap().starts_with("$argon2id$"));
    let mut other = Web::new(c.http);
    let r = other.sign_in("admin", "admin").await;
    assert!(
        r.shows("wrong account name or password"),
        "old password refused"
    );
    let r = other.sign_in("admin", "n3w-secret!").await;
    assert_eq!(r.location.as_deref(), Some("/console/"));
}

async fn users_are_seen_over_the_wire(b: Backend) {
    let c = ConsoleServer::start(b, |_| {}).await;
    let mut w = c.signed_in("ops").await;
    w.get("/console/users").await;
    let r = w
        .post(
            "/console/users",
            &[
                ("name", "alice"),
                ("nick", "Alice"),
                ("password", "123456"),
                ("sex", "2"),
                ("phone", "13900000000"),
                ("email", "a@example.com"),
                ("avatar", "http://a/x.png"),
                ("domain", "alice"),
                ("depart", "0"),
                ("status", "0"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let mut client = c.s.client().await;
    let rsp = login(&mut client, "alice", MD5_123456).await;
    assert_eq!(rsp.result_code, Some(0), "the console's user logs in");
    let id = rsp.user_info.unwrap().user_id.unwrap();
    assert_eq!(
        c.s.store.user_list_gate().await.unwrap(),
        Some(T0),
        "gate moved"
    );
    let again = w.get("/console/users").await;
    assert!(again.shows(">alice<"));
    let r = w
        .post(
            "/console/users",
            &[("name", "alice"), ("password", "x"), ("status", "0")],
        )
        .await;
    assert!(r.shows("already has the name alice"), "{}", r.body);
    w.get(&format!("/console/users/{id}")).await;
    let edit = |nick: &'static str, status: &'static str| {
        vec![
            ("name", "alice"),
            ("nick", nick),
            ("sex", "2"),
            ("phone", "13900000000"),
            ("email", "a@example.com"),
            ("avatar", "http://a/x.png"),
            ("domain", "alice"),
            ("depart", "0"),
            ("status", status),
        ]
    };
    let r = w
        .post(
            &format!("/console/users/{id}"),
            &edit("<script>alert(1)</script>", "0"),
        )
        .await;
    assert!(r.shows("saved"), "{}", r.body);
    let info: ImUsersInfoRsp = call(
        &mut client,
        0x0204,
        &ImUsersInfoReq {
            user_id: Some(id),
            user_id_list: vec![id],
            attach_data: ab(),
        },
        2,
        0x0205,
    )
    .await;
    assert_eq!(
        info.user_info_list[0].user_nick_name.as_deref(),
        Some(&b"<script>alert(1)</script>"[..])
    );
    let list = w.get("/console/users?q=ali").await;
    assert!(list.shows("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!list.shows("<script>alert"), "the nick is text, not markup");
    assert!(w.get("/console/users?q=nobody").await.shows("0 user(s)"));
    let r = w
        .post(&format!("/console/users/{id}"), &edit("Alice", "3"))
        .await;
    assert!(r.shows("saved"), "{}", r.body);
    let rsp = login(&mut client, "alice", MD5_123456).await;
    assert_ne!(rsp.result_code, Some(0), "a departed user cannot log in");
}

async fn departments_are_seen_over_the_wire(b: Backend) {
    let c = ConsoleServer::start(b, |_| {}).await;
    let mut w = c.signed_in("ops").await;
    w.get("/console/departs").await;
    let r = w
        .post(
            "/console/departs",
            &[("name", "Ops"), ("priority", "3"), ("parent", "0")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let departs = c.s.store.list_departments().await.unwrap();
    let id = departs.iter().find(|d| d.name == "Ops").unwrap().id;
    let mut client = c.s.client().await;
    let req = ImDepartmentReq {
        user_id: Some(1),
        latest_update_time: Some(0),
        attach_data: ab(),
    };
    let rsp: ImDepartmentRsp = call(&mut client, 0x0210, &req, 2, 0x0211).await;
    let got = rsp
        .dept_list
        .iter()
        .find(|d| d.dept_id == Some(id))
        .unwrap();
    assert_eq!(got.dept_name.as_deref(), Some(&b"Ops"[..]));
    assert_eq!(got.priority, Some(3));
    w.get("/console/users").await;
    let dep = id.to_string();
    w.post(
        "/console/users",
        &[
            ("name", "bob"),
            ("password", "pw"),
            ("depart", &dep),
            ("status", "0"),
        ],
    )
    .await;
    w.get(&format!("/console/departs/{id}")).await;
    let r = w.post(&format!("/console/departs/{id}/delete"), &[]).await;
    assert!(r.shows("cannot be deleted: 1 active user(s)"), "{}", r.body);
    let bob =
        c.s.store
            .find_active_user_by_name("bob")
            .await
            .unwrap()
            .unwrap();
    w.get(&format!("/console/users/{}", bob.id)).await;
    w.post(
        &format!("/console/users/{}", bob.id),
        &[("name", "bob"), ("depart", &dep), ("status", "3")],
    )
    .await;
    c.s.clock.advance(5);
    let r = w.post(&format!("/console/departs/{id}/delete"), &[]).await;
    assert_eq!(r.status, 303, "{}", r.body);
    let since = ImDepartmentReq {
        latest_update_time: Some(T0),
        ..req
    };
    let rsp: ImDepartmentRsp = call(&mut client, 0x0210, &since, 2, 0x0211).await;
    let got = rsp
        .dept_list
        .iter()
        .find(|d| d.dept_id == Some(id))
        .unwrap();
    assert_eq!(
        got.dept_status,
        Some(1),
        "deleted: status 1, seen by a sync"
    );
}

async fn group_info(client: &mut tt_dbproxy::client::Client, group: u32) -> Vec<u32> {
    let req = ImGroupInfoListReq {
        user_id: Some(1),
        group_version_list: vec![GroupVersionInfo {
            group_id: Some(group),
            version: Some(0),
        }],
        attach_data: ab(),
    };
    let rsp: ImGroupInfoListRsp = call(client, 0x0403, &req, 4, 0x0404).await;
    let mut m = rsp.group_info_list[0].group_member_list.clone();
    m.sort_unstable();
    m
}

async fn groups_are_seen_over_the_wire(b: Backend) {
    let c = ConsoleServer::start(b, |_| {}).await;
    seed_spec_users(c.s.store.as_ref()).await;
    let mut w = c.signed_in("ops").await;
    let page = w.get("/console/groups").await;
    assert!(page.shows("next group sync"), "no http_msg_server: direct");
    let r = w
        .post(
            "/console/groups",
            &[
                ("name", "Team"),
                ("avatar", ""),
                ("creator", "1"),
                ("members", "2"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let g = c.s.store.list_groups().await.unwrap()[0].clone();
    assert_eq!(g.name, "Team");
    let mut client = c.s.client().await;
    assert_eq!(group_info(&mut client, g.id).await, vec![1, 2]);
    w.get(&format!("/console/groups/{}", g.id)).await;
    let r = w
        .post(
            &format!("/console/groups/{}/members", g.id),
            &[("action", "add"), ("users", "3")],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(group_info(&mut client, g.id).await, vec![1, 2, 3]);
    w.get(&format!("/console/groups/{}", g.id)).await;
    w.post(
        &format!("/console/groups/{}/members", g.id),
        &[("action", "remove"), ("users", "2")],
    )
    .await;
    assert_eq!(group_info(&mut client, g.id).await, vec![1, 3]);
    w.get(&format!("/console/groups/{}", g.id)).await;
    let r = w
        .post(
            &format!("/console/groups/{}", g.id),
            &[("name", "Renamed"), ("avatar", "http://a/g.png")],
        )
        .await;
    assert!(r.shows("saved"));
    let after = c.s.store.groups_by_ids(&[g.id]).await.unwrap();
    assert_eq!(
        (after[0].name.as_str(), after[0].avatar.as_str()),
        ("Renamed", "http://a/g.png")
    );
    assert_eq!(after[0].user_count, 2);
}

async fn discovery_items_reach_the_public_endpoint(b: Backend) {
    let c = ConsoleServer::start(b, |_| {}).await;
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public = l.local_addr().unwrap();
    tokio::spawn(tt_dbproxy::console::discovery::serve_public(
        l,
        c.s.state.clone(),
        c.token.clone(),
    ));
    let mut w = c.signed_in("ops").await;
    w.get("/console/discovery").await;
    let r = w
        .post(
            "/console/discovery",
            &[
                ("name", "Wiki"),
                ("url", "http://wiki.example"),
                ("priority", "2"),
                ("status", "0"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let api = reqwest::get(format!("http://{public}/api/discovery"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let json: serde_json::Value = serde_json::from_str(&api).unwrap();
    assert_eq!(
        json,
        serde_json::json!([{"itemName": "Wiki", "itemUrl": "http://wiki.example", "itemPriority": "2"}])
    );
    let not_console = reqwest::get(format!("http://{public}/console/"))
        .await
        .unwrap();
    assert_eq!(not_console.status(), 404, "only the public endpoint there");
    let id = c.s.store.discovery_items().await.unwrap()[0].id;
    w.get(&format!("/console/discovery/{id}")).await;
    w.post(&format!("/console/discovery/{id}/delete"), &[])
        .await;
    let api = reqwest::get(format!("http://{public}/api/discovery"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(api, "[]");
}

async fn status_charts_grow_under_load(b: Backend) {
    let c = ConsoleServer::start(b, |_| {}).await;
    seed_spec_users(c.s.store.as_ref()).await;
    let mut w = c.signed_in("ops").await;
    let page = w.get("/console/").await;
    assert!(page.shows(r#"data-key="rps""#));
    let points = |body: &str| -> (usize, f64) {
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        let p = v["points"].as_array().unwrap();
        let rps = p
            .iter()
            .map(|x| x["rps"].as_f64().unwrap_or(0.0))
            .fold(0.0, f64::max);
        (p.len(), rps)
    };
    let (before, _) = points(&w.get("/console/api/stats").await.body);
    common::process::run_bench(c.s.addr).await;
    let (after, rps) = points(&w.get("/console/api/stats").await.body);
    assert!(after >= before + 2, "points grow: {before} → {after}");
    assert!(rps > 0.0, "requests counted");
    let config = w.get("/console/config").await;
    assert!(config.shows("console.enabled") && !config.shows("1234567890123456789012"));
}

on_every_backend!(
    first_sign_in_forces_a_new_password,
    users_are_seen_over_the_wire,
    departments_are_seen_over_the_wire,
    groups_are_seen_over_the_wire,
    discovery_items_reach_the_public_endpoint,
    status_charts_grow_under_load,
);

//! The web console in a real browser (headless Debian Chromium over
//! WebDriver), on the embedded store and on MariaDB + Redis. Each step
//! fills and submits the console's own forms and checks the effect where
//! TeamTalk sees it: over the wire protocol or on the public discovery
//! endpoint. Screenshots of each page go to the target directory.

mod browser;
#[path = "../common/mod.rs"]
mod common;
#[path = "../console/web.rs"]
#[allow(dead_code)]
mod web;

use browser::Browser;
use common::*;
use fantoccini::Locator;
use tt_dbproxy::store::prelude::*;
use tt_proto::im::base_define::GroupVersionInfo;
use tt_proto::im::buddy::{ImDepartmentReq, ImDepartmentRsp, ImUsersInfoReq, ImUsersInfoRsp};
use tt_proto::im::group::{ImGroupInfoListReq, ImGroupInfoListRsp};
use web::{ConsoleServer, GOOD, stub};

const MD5_123456: &str = "e10adc3949ba59abbe56e057f20f883e";
const NEW_ADMIN_PASSWORD: &str = "br0wser-secret";

async fn members(client: &mut tt_dbproxy::client::Client, group: u32) -> Vec<u32> {
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

/// Every page, as an operator uses them.
async fn every_page_in_a_browser(b: Backend) {
    let label = format!("{b:?}").to_lowercase();
    let Some(mut br) = Browser::open(&label).await else {
        return;
    };
    let c = ConsoleServer::start(b, |_| {}).await;
    c.seed_php_admin().await;
    seed_spec_users(c.s.store.as_ref()).await;
    let base = format!("http://{}", c.http);
    let mut wire = c.s.client().await;

    // The shipped admin/admin must change its password first.
    br.goto(&format!("{base}/console/")).await;
    assert_eq!(br.path().await, "/console/login");
    br.shot("sign-in").await;
    br.submit("form", &[("name", "admin"), ("password", "admin")])
        .await;
    assert_eq!(br.path().await, "/console/password", "{}", br.text().await);
    br.goto(&format!("{base}/console/users")).await;
    assert_eq!(
        br.path().await,
        "/console/password",
        "nothing before the change"
    );
    br.shot("forced-password-change").await;
    br.submit(
        "form.card",
        &[
            ("current", "admin"),
            ("new", NEW_ADMIN_PASSWORD),
            ("confirm", NEW_ADMIN_PASSWORD),
        ],
    )
    .await;
    assert_eq!(br.path().await, "/console/");
    br.submit("form.signout", &[]).await;
    br.submit("form", &[("name", "admin"), ("password", "admin")])
        .await;
    assert!(br.text().await.contains("wrong account name or password"));
    br.submit(
        "form",
        &[("name", "admin"), ("password", NEW_ADMIN_PASSWORD)],
    )
    .await;
    assert_eq!(br.path().await, "/console/");

    // Users: add, log in over the wire, edit the nick, a duplicate, depart.
    br.goto(&format!("{base}/console/users")).await;
    let user = [
        ("name", "alice"),
        ("nick", "Alice"),
        ("password", "123456"),
        ("phone", "139"),
        ("email", "a@example.com"),
        ("depart", "0"),
        ("status", "0"),
    ];
    br.submit("#add-user", &user).await;
    assert!(br.text().await.contains("added user alice"));
    br.shot("users").await;
    let rsp = login(&mut wire, "alice", MD5_123456).await;
    assert_eq!(rsp.result_code, Some(0));
    let id = rsp.user_info.unwrap().user_id.unwrap();
    br.submit("#add-user", &user).await;
    assert!(br.text().await.contains("already has the name alice"));
    br.goto(&format!("{base}/console/users/{id}")).await;
    br.submit("#edit-user", &[("nick", "<script>alert(1)</script>")])
        .await;
    br.shot("user-edited").await;
    let info: ImUsersInfoRsp = call(
        &mut wire,
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
    br.goto(&format!("{base}/console/users?q=alice")).await;
    assert_eq!(
        br.text_of("#users td.nick").await,
        "<script>alert(1)</script>",
        "text, not markup"
    );
    br.goto(&format!("{base}/console/users/{id}")).await;
    br.submit("#edit-user", &[("status", "3")]).await;
    assert_ne!(
        login(&mut wire, "alice", MD5_123456).await.result_code,
        Some(0)
    );

    // Departments: add, seen by 0x0210, delete (refused while referenced:
    // the seeded users sit in departments 1 and 2).
    for name in ["Browser Ops", "Annex", "Browser Lab"] {
        br.goto(&format!("{base}/console/departs")).await;
        br.submit("#add-depart", &[("name", name), ("priority", "4")])
            .await;
    }
    br.shot("departments").await;
    let d = c.s.store.list_departments().await.unwrap();
    let id_of = |n: &str| d.iter().find(|x| x.name == n).unwrap().id;
    let (ops, dep) = (id_of("Browser Ops"), id_of("Browser Lab"));
    let req = ImDepartmentReq {
        user_id: Some(1),
        latest_update_time: Some(0),
        attach_data: ab(),
    };
    let rsp: ImDepartmentRsp = call(&mut wire, 0x0210, &req, 2, 0x0211).await;
    assert!(
        rsp.dept_list
            .iter()
            .any(|x| x.dept_id == Some(dep) && x.dept_status == Some(0))
    );
    br.goto(&format!("{base}/console/departs/{ops}")).await;
    br.submit(
        &format!("form[action=\"/console/departs/{ops}/delete\"]"),
        &[],
    )
    .await;
    let refused = br.text().await;
    assert!(
        refused.contains("cannot be deleted: 1 active user(s)"),
        "{refused}"
    );
    br.goto(&format!("{base}/console/departs/{dep}")).await;
    br.submit(
        &format!("form[action=\"/console/departs/{dep}/delete\"]"),
        &[],
    )
    .await;
    assert!(br.text().await.contains("deleted department"));
    let rsp: ImDepartmentRsp = call(&mut wire, 0x0210, &req, 2, 0x0211).await;
    assert!(
        rsp.dept_list
            .iter()
            .any(|x| x.dept_id == Some(dep) && x.dept_status == Some(1))
    );

    // Groups: create with members, add and remove one.
    br.goto(&format!("{base}/console/groups")).await;
    br.submit(
        "#add-group",
        &[("name", "Browsers"), ("creator", "1"), ("members", "2")],
    )
    .await;
    let g = c.s.store.list_groups().await.unwrap()[0].id;
    assert_eq!(members(&mut wire, g).await, vec![1, 2]);
    br.goto(&format!("{base}/console/groups/{g}")).await;
    br.submit("#add-members", &[("users", "3")]).await;
    assert_eq!(members(&mut wire, g).await, vec![1, 2, 3]);
    br.submit("form[action$=\"/members\"]:has(input[value=\"2\"])", &[])
        .await;
    assert_eq!(members(&mut wire, g).await, vec![1, 3]);
    br.shot("group").await;

    // Discovery: add an item, read it from the public endpoint.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let public = l.local_addr().unwrap();
    tokio::spawn(tt_dbproxy::console::discovery::serve_public(
        l,
        c.s.state.clone(),
        c.token.clone(),
    ));
    br.goto(&format!("{base}/console/discovery")).await;
    br.submit(
        "#add-discovery",
        &[
            ("name", "Docs"),
            ("url", "http://docs.example"),
            ("priority", "1"),
        ],
    )
    .await;
    br.shot("discovery").await;
    br.goto(&format!("http://{public}/api/discovery")).await;
    assert!(br.text().await.contains("\"itemName\":\"Docs\""));

    // Status: the charts' points grow while a load runs.
    br.goto(&format!("{base}/console/")).await;
    let count = |s: String| s.trim().parse::<u32>().unwrap_or(0);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let before = count(br.text_of("#points").await);
    common::process::run_bench(c.s.addr).await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let after = count(br.text_of("#points").await);
    assert!(after >= before + 2, "points grow: {before} → {after}");
    let drawn: String =
        br.c.find(Locator::Css("#chart-rps polyline"))
            .await
            .unwrap()
            .attr("points")
            .await
            .unwrap()
            .unwrap_or_default();
    assert!(
        drawn.split(' ').count() >= 2,
        "the chart has points: {drawn}"
    );
    br.shot("status").await;
    br.goto(&format!("{base}/console/config")).await;
    br.shot("config").await;
    br.goto(&format!("{base}/console/audit")).await;
    assert!(br.text().await.contains("user.add"));
    br.shot("audit").await;
    br.close().await;
}

/// The security steps a browser can show.
async fn security_in_a_browser(b: Backend) {
    let label = format!("{b:?}-security").to_lowercase();
    let Some(mut br) = Browser::open(&label).await else {
        return;
    };
    let c = ConsoleServer::start(b, |_| {}).await;
    c.account("ops").await;
    let other = c.account("temp").await;
    let base = format!("http://{}", c.http);
    br.goto(&format!("{base}/console/login")).await;
    br.submit("form", &[("name", "ops"), ("password", GOOD)])
        .await;

    // A write without the CSRF token is refused.
    br.goto(&format!("{base}/console/discovery")).await;
    br.c.execute(
        "document.querySelector('#add-discovery input[name=csrf]').remove()",
        vec![],
    )
    .await
    .unwrap();
    br.submit("#add-discovery", &[("name", "X"), ("url", "http://x")])
        .await;
    assert!(
        br.text().await.contains("CSRF"),
        "refused without the token"
    );
    br.shot("no-csrf").await;
    // A form on another site (Origin: null) is refused.
    let page = format!(
        "data:text/html,<form id=f method=post action='{base}/console/discovery'><input name=name value=Y><input name=url value=http://y></form><script>document.getElementById('f').submit()</script>"
    );
    br.c.execute("window.__ttOldPage = true;", vec![])
        .await
        .unwrap();
    br.goto(&page).await;
    br.wait_for_new_page().await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(br.text().await.contains("cross-site request refused"));
    assert!(c.s.store.discovery_items().await.unwrap().is_empty());
    // A disabled account cannot sign in.
    br.goto(&format!("{base}/console/accounts")).await;
    br.submit(
        &format!("form[action=\"/console/accounts/{other}/status\"]"),
        &[],
    )
    .await;
    assert!(br.text().await.contains("disabled"));
    br.submit("form.signout", &[]).await;
    br.submit("form", &[("name", "temp"), ("password", GOOD)])
        .await;
    assert!(br.text().await.contains("disabled"));
    // Repeated wrong passwords are throttled.
    for _ in 0..5 {
        br.submit("form", &[("name", "ops"), ("password", "wrong")])
            .await;
    }
    br.submit("form", &[("name", "ops"), ("password", GOOD)])
        .await;
    assert!(br.text().await.contains("too many failed sign-ins"));
    br.shot("throttled").await;
    // An expired session is sent back to sign-in.
    c.s.clock.advance(901);
    br.submit("form", &[("name", "ops"), ("password", GOOD)])
        .await;
    assert_eq!(br.path().await, "/console/");
    c.s.clock
        .advance(tt_dbproxy::console::session::SESSION_SECS + 1);
    br.goto(&format!("{base}/console/users")).await;
    assert_eq!(br.path().await, "/console/login", "expired");
    br.close().await;
}

/// Groups through a stub http_msg_server (the requests arrive in its
/// `/query` JSON), then through one that is down (the error shows and
/// nothing is written).
async fn http_msg_server_in_a_browser(b: Backend) {
    let label = format!("{b:?}-msg-server").to_lowercase();
    let Some(mut br) = Browser::open(&label).await else {
        return;
    };
    let (up, seen) = stub().await;
    let c = ConsoleServer::start(b, |c| {
        c.console.http_msg_server = Some(format!("http://{up}"));
        c.console.http_msg_server_app_key = Some("k3y".into());
    })
    .await;
    seed_spec_users(c.s.store.as_ref()).await;
    c.account("ops").await;
    let base = format!("http://{}", c.http);
    br.goto(&format!("{base}/console/login")).await;
    br.submit("form", &[("name", "ops"), ("password", GOOD)])
        .await;
    br.goto(&format!("{base}/console/groups")).await;
    assert!(br.text().await.contains("notifies online members"));
    br.submit(
        "#add-group",
        &[("name", "Via"), ("creator", "1"), ("members", "2")],
    )
    .await;
    assert!(br.text().await.contains("created group Via with id 99"));
    br.shot("msg-server-created").await;
    let calls = seen.lock().unwrap().clone();
    assert_eq!(calls[0].0, "CreateGroup");
    assert_eq!(calls[0].1["app_key"], "k3y");
    assert_eq!(calls[0].1["user_id_list"], serde_json::json!([1, 2]));
    assert!(
        c.s.store.list_groups().await.unwrap().is_empty(),
        "msg_server writes it, not the console"
    );
    let g =
        c.s.store
            .create_group(
                tt_dbproxy::store::NewGroup {
                    name: "g".into(),
                    creator: 1,
                    group_type: 1,
                    members: vec![1],
                    ..Default::default()
                },
                T0,
            )
            .await
            .unwrap();
    br.goto(&format!("{base}/console/groups/{g}")).await;
    br.submit("#add-members", &[("users", "3")]).await;
    let calls = seen.lock().unwrap().clone();
    assert_eq!(
        (calls[1].0.as_str(), &calls[1].1["user_id_list"]),
        ("ChangeMembers", &serde_json::json!([3]))
    );
    drop(c);

    let down = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let c = ConsoleServer::start(b, |c| {
        c.console.http_msg_server = Some(format!("http://{down}"));
    })
    .await;
    seed_spec_users(c.s.store.as_ref()).await;
    c.account("ops").await;
    let base = format!("http://{}", c.http);
    br.goto(&format!("{base}/console/login")).await;
    br.submit("form", &[("name", "ops"), ("password", GOOD)])
        .await;
    br.goto(&format!("{base}/console/groups")).await;
    br.submit(
        "#add-group",
        &[("name", "Down"), ("creator", "1"), ("members", "2")],
    )
    .await;
    let text = br.text().await;
    assert!(
        text.contains("could not be reached") && text.contains("nothing was written"),
        "{text}"
    );
    assert!(c.s.store.list_groups().await.unwrap().is_empty());
    br.shot("msg-server-down").await;
    br.close().await;
}

on_every_backend!(
    every_page_in_a_browser,
    security_in_a_browser,
    http_msg_server_in_a_browser,
);

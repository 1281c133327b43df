//! The console's security, end to end on both backends: CSRF, Origin,
//! Host, throttling, expiry, disabled accounts, the console off by
//! default, and http_msg_server (a stub speaking its `/query` JSON, and
//! one that is down).

use tt_dbproxy::store::prelude::*;

use crate::common::*;
use crate::web::{ConsoleServer, GOOD, Web, stub};

async fn writes_need_the_csrf_token_and_a_same_site_origin(b: Backend) {
    let c = ConsoleServer::start(b, |_| {}).await;
    let mut w = c.signed_in("ops").await;
    w.get("/console/discovery").await;
    let fields = [
        ("name", "X"),
        ("url", "http://x"),
        ("priority", "1"),
        ("status", "0"),
    ];
    let r = w.post_raw("/console/discovery", &fields).await;
    assert_eq!(r.status, 403, "no CSRF token");
    let mut with_bad = vec![("csrf", "0000")];
    with_bad.extend_from_slice(&fields);
    assert_eq!(
        w.post_raw("/console/discovery", &with_bad).await.status,
        403
    );
    w.headers = vec![("origin".into(), "http://evil.example".into())];
    assert_eq!(
        w.post("/console/discovery", &fields).await.status,
        403,
        "foreign Origin"
    );
    let reload = reqwest::Client::new()
        .post(format!("http://{}/reload", c.http))
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(reload.status(), 403, "/reload refuses a foreign Origin too");
    w.headers = vec![("origin".into(), format!("http://{}", c.http))];
    assert_eq!(
        w.post("/console/discovery", &fields).await.status,
        303,
        "same origin"
    );
    w.headers.clear();
    assert!(
        c.s.store.discovery_items().await.unwrap().len() == 1,
        "only the good one"
    );
    w.headers = vec![("host".into(), "evil.example".into())];
    assert_eq!(
        w.get("/console/").await.status,
        421,
        "DNS rebinding: Host refused"
    );
}

async fn failed_sign_ins_are_throttled(b: Backend) {
    let c = ConsoleServer::start(b, |_| {}).await;
    c.account("ops").await;
    let mut w = Web::new(c.http);
    for _ in 0..5 {
        let r = w.sign_in("ops", "wrong").await;
        assert!(r.shows("wrong account name or password"), "{}", r.body);
    }
    let r = w.sign_in("ops", GOOD).await;
    assert!(r.shows("too many failed sign-ins"), "{}", r.body);
    let audit = c.s.store.audit_log(0, 10).await.unwrap();
    assert!(audit.iter().any(|e| e.what.contains("throttled")));
    c.s.clock.advance(901);
    let r = w.sign_in("ops", GOOD).await;
    assert_eq!(r.location.as_deref(), Some("/console/"), "after the window");
}

async fn sessions_expire_and_end(b: Backend) {
    let c = ConsoleServer::start(b, |_| {}).await;
    let mut w = c.signed_in("ops").await;
    let cookie = w.cookies.get("tt_console").cloned().unwrap();
    assert_eq!(w.get("/console/users").await.status, 200);
    c.s.clock
        .advance(tt_dbproxy::console::session::SESSION_SECS + 1);
    let r = w.get("/console/users").await;
    assert_eq!(r.location.as_deref(), Some("/console/login"), "expired");
    c.s.clock.set(T0);
    let mut w = Web::new(c.http);
    w.sign_in("ops", GOOD).await;
    w.get("/console/").await;
    w.post("/console/logout", &[]).await;
    w.cookies.insert("tt_console".into(), cookie);
    let r = w.get("/console/users").await;
    assert_eq!(
        r.location.as_deref(),
        Some("/console/login"),
        "signed out everywhere"
    );
}

async fn a_disabled_account_cannot_sign_in(b: Backend) {
    let c = ConsoleServer::start(b, |_| {}).await;
    let mut admin = c.signed_in("ops").await;
    let other = c.account("temp").await;
    let mut w = Web::new(c.http);
    assert_eq!(
        w.sign_in("temp", GOOD).await.location.as_deref(),
        Some("/console/")
    );
    admin.get("/console/accounts").await;
    let r = admin
        .post(
            &format!("/console/accounts/{other}/status"),
            &[("status", "1")],
        )
        .await;
    assert_eq!(r.status, 303);
    let r = w.get("/console/users").await;
    assert_eq!(
        r.location.as_deref(),
        Some("/console/login"),
        "its session ended"
    );
    let r = w.sign_in("temp", GOOD).await;
    assert!(r.shows("disabled"), "{}", r.body);
    let page = admin.get("/console/accounts").await;
    assert!(page.shows("disabled"));
    let audit = admin.get("/console/audit").await;
    assert!(audit.shows("account.disable"), "{}", audit.body);
}

async fn the_console_is_off_by_default(b: Backend) {
    let s = TestServer::start_on(b, |_| {}).await;
    assert!(!s.state.config().console.enabled);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let token = tokio_util::sync::CancellationToken::new();
    tokio::spawn(tt_dbproxy::admin::serve(l, s.state.clone(), token.clone()));
    for path in ["/console/", "/console/login"] {
        let r = reqwest::get(format!("http://{addr}{path}")).await.unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    token.cancel();
}

async fn groups_go_through_http_msg_server(b: Backend) {
    let (addr, seen) = stub().await;
    let c = ConsoleServer::start(b, |c| {
        c.console.http_msg_server = Some(format!("http://{addr}"));
        c.console.http_msg_server_app_key = Some("k3y".into());
    })
    .await;
    seed_spec_users(c.s.store.as_ref()).await;
    let mut w = c.signed_in("ops").await;
    w.get("/console/groups").await;
    let r = w
        .post(
            "/console/groups",
            &[
                ("name", "Via"),
                ("avatar", ""),
                ("creator", "1"),
                ("members", "2,3"),
            ],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let calls = seen.lock().unwrap().clone();
    assert_eq!(calls[0].0, "CreateGroup");
    assert_eq!(calls[0].1["app_key"], "k3y");
    assert_eq!(calls[0].1["group_name"], "Via");
    assert_eq!(calls[0].1["user_id_list"], serde_json::json!([1, 2, 3]));
    assert!(
        c.s.store.list_groups().await.unwrap().is_empty(),
        "written by msg_server, not here"
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
    w.get(&format!("/console/groups/{g}")).await;
    w.post(
        &format!("/console/groups/{g}/members"),
        &[("action", "add"), ("users", "2")],
    )
    .await;
    let calls = seen.lock().unwrap().clone();
    assert_eq!(calls[1].0, "ChangeMembers");
    assert_eq!(calls[1].1["modify_type"], 1);
    assert_eq!(calls[1].1["group_id"], g);
}

async fn a_down_http_msg_server_writes_nothing(b: Backend) {
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let c = ConsoleServer::start(b, |c| {
        c.console.http_msg_server = Some(format!("http://{down}"));
    })
    .await;
    seed_spec_users(c.s.store.as_ref()).await;
    let mut w = c.signed_in("ops").await;
    w.get("/console/groups").await;
    let r = w
        .post(
            "/console/groups",
            &[("name", "Nope"), ("creator", "1"), ("members", "2")],
        )
        .await;
    assert!(r.shows("could not be reached"), "{}", r.body);
    assert!(r.shows("nothing was written"));
    assert!(c.s.store.list_groups().await.unwrap().is_empty());
}

crate::on_every_backend!(
    writes_need_the_csrf_token_and_a_same_site_origin,
    failed_sign_ins_are_throttled,
    sessions_expire_and_end,
    a_disabled_account_cannot_sign_in,
    the_console_is_off_by_default,
    groups_go_through_http_msg_server,
    a_down_http_msg_server_writes_nothing,
);

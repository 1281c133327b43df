//! The console's storage domains (accounts, sessions, throttle, audit,
//! the operator's edits, discovery items), one contract run on every
//! backend through the fault-injecting wrapper the server uses in tests.

mod common;

use common::*;
use tt_dbproxy::store::prelude::*;
use tt_dbproxy::store::{
    AuditEntry, ConsoleSession, DepartRecord, DiscoveryItem, NewGroup, UserEdit,
};

async fn store(b: Backend) -> TestServer {
    let s = TestServer::start_on(b, |_| {}).await;
    s.store.prepare_console().await.unwrap();
    s.store.prepare_console().await.unwrap();
    s
}

async fn accounts_keep_argon2_apart_from_pwd(b: Backend) {
    let s = store(b).await;
    let st = &s.store;
    assert!(
        st.console_accounts().await.unwrap().is_empty(),
        "a fresh install has none"
    );
    let id = st
        .add_console_account("ops", "$argon2id$x", 10)
        .await
        .unwrap();
    let a = st.console_account_by_name("ops").await.unwrap().unwrap();
    assert_eq!(
        (a.id, a.status, a.hash.as_deref()),
        (id, 0, Some("$argon2id$x"))
    );
    assert_eq!(a.legacy_pwd, tt_dbproxy::store::console_domain::PWD_MARKER);
    assert!(
        st.set_console_password(id, "$argon2id$y", 20)
            .await
            .unwrap()
    );
    assert!(
        !st.set_console_password(id + 9, "$argon2id$y", 20)
            .await
            .unwrap()
    );
    assert_eq!(
        st.console_account(id)
            .await
            .unwrap()
            .unwrap()
            .hash
            .as_deref(),
        Some("$argon2id$y")
    );
    assert!(st.set_console_account_status(id, 1, 30).await.unwrap());
    assert!(
        st.set_console_account_status(id, 1, 30).await.unwrap(),
        "exists, same values"
    );
    assert!(!st.set_console_account_status(id + 9, 1, 30).await.unwrap());
    let all = st.console_accounts().await.unwrap();
    assert_eq!((all.len(), all[0].status, all[0].updated), (1, 1, 30));
    assert_eq!(
        st.console_account_by_name("OPS").await.unwrap(),
        None,
        "exact name"
    );
}

async fn sessions_throttle_and_audit(b: Backend) {
    let s = store(b).await;
    let st = &s.store;
    let session = |token: &str, account, expires| ConsoleSession {
        token_hash: token.into(),
        account_id: account,
        csrf: "c".into(),
        must_change: true,
        expires,
    };
    st.create_console_session(session("a", 1, 100), 50)
        .await
        .unwrap();
    st.create_console_session(session("b", 1, 200), 50)
        .await
        .unwrap();
    st.create_console_session(session("c", 2, 200), 50)
        .await
        .unwrap();
    let found = st.console_session("a", 99).await.unwrap().unwrap();
    assert_eq!(found, session("a", 1, 100));
    assert_eq!(st.console_session("a", 100).await.unwrap(), None, "expired");
    st.end_console_session("b").await.unwrap();
    assert_eq!(st.console_session("b", 60).await.unwrap(), None);
    st.end_console_sessions_of(2).await.unwrap();
    assert_eq!(st.console_session("c", 60).await.unwrap(), None);
    assert!(st.console_session("a", 60).await.unwrap().is_some());
    st.create_console_session(session("d", 3, 500), 150)
        .await
        .unwrap();
    assert_eq!(
        st.console_session("a", 60).await.unwrap(),
        None,
        "expired rows are deleted"
    );

    for at in [100, 200, 300] {
        st.record_console_failure("account:ops", at).await.unwrap();
    }
    st.record_console_failure("address:1.2.3.4", 300)
        .await
        .unwrap();
    assert_eq!(st.console_failures("account:ops", 150).await.unwrap(), 2);
    assert_eq!(st.console_failures("account:ops", 0).await.unwrap(), 3);
    st.clear_console_failures("account:ops").await.unwrap();
    assert_eq!(st.console_failures("account:ops", 0).await.unwrap(), 0);
    assert_eq!(st.console_failures("address:1.2.3.4", 0).await.unwrap(), 1);

    for i in 0..3 {
        st.add_audit(AuditEntry {
            at: 10 + i,
            who: "ops".into(),
            what: format!("step {i} <b>"),
            from: "127.0.0.1".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let log = st.audit_log(0, 2).await.unwrap();
    assert_eq!(
        log.iter().map(|e| e.what.as_str()).collect::<Vec<_>>(),
        ["step 2 <b>", "step 1 <b>"]
    );
    assert_eq!(st.audit_log(2, 2).await.unwrap()[0].at, 10);
}

async fn users_departments_and_groups_edits(b: Backend) {
    let s = store(b).await;
    seed_spec_users(s.store.as_ref()).await;
    let st = &s.store;
    let (page, total) = st.search_users("", 1, 1).await.unwrap();
    assert_eq!((page[0].id, total), (2, 3), "paged in the query");
    let (found, total) = st.search_users("张", 0, 10).await.unwrap();
    assert_eq!((found[0].name.as_str(), total), ("zhangyl", 1), "by nick");
    assert_eq!(
        st.search_users("%", 0, 10).await.unwrap().1,
        0,
        "LIKE wildcards are text"
    );
    assert_eq!(st.search_users("es", 0, 10).await.unwrap().1, 1, "by name");
    let edit = UserEdit {
        name: "test".into(),
        nick: "Tester".into(),
        sex: 1,
        phone: "1".into(),
        email: "t@x".into(),
        avatar: "http://a".into(),
        domain: "t".into(),
        depart_id: 7,
        status: 3,
        password_and_salt: Some(("p".into(), "9".into())),
    };
    assert!(st.edit_user(2, edit.clone(), 500).await.unwrap());
    assert!(
        st.edit_user(2, edit.clone(), 500).await.unwrap(),
        "same values: exists"
    );
    assert!(!st.edit_user(99, edit, 500).await.unwrap());
    let u = &st.users_by_ids(&[2]).await.unwrap()[0];
    assert_eq!(
        (
            u.nick.as_str(),
            u.depart_id,
            u.status,
            u.password.as_str(),
            u.salt.as_str(),
            u.updated
        ),
        ("Tester", 7, 3, "p", "9", 500)
    );

    let parent = st
        .add_department(DepartRecord {
            name: "P".into(),
            created: 1,
            updated: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    let child = st
        .add_department(DepartRecord {
            name: "C".into(),
            parent_id: parent,
            created: 1,
            updated: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(st.department_references(parent).await.unwrap(), (0, 1));
    assert_eq!(
        st.department_references(2).await.unwrap(),
        (1, 0),
        "zhangyl in 2"
    );
    assert!(
        st.edit_department(
            DepartRecord {
                id: child,
                name: "C2".into(),
                priority: 5,
                parent_id: 0,
                ..Default::default()
            },
            600
        )
        .await
        .unwrap()
    );
    assert_eq!(st.department_references(parent).await.unwrap(), (0, 0));
    assert!(st.delete_department(parent, 700).await.unwrap());
    let d = st.department(parent).await.unwrap().unwrap();
    assert_eq!((d.status, d.updated), (1, 700));
    assert_eq!(st.department(child).await.unwrap().unwrap().name, "C2");
    assert!(!st.delete_department(999, 700).await.unwrap());

    let g = st
        .create_group(
            NewGroup {
                name: "g".into(),
                creator: 1,
                group_type: 1,
                members: vec![1],
                ..Default::default()
            },
            5,
        )
        .await
        .unwrap();
    let version = st.groups_by_ids(&[g]).await.unwrap()[0].version;
    assert!(st.edit_group(g, "renamed", "http://av", 800).await.unwrap());
    assert!(!st.edit_group(g + 9, "x", "", 800).await.unwrap());
    let gr = &st.groups_by_ids(&[g]).await.unwrap()[0];
    assert_eq!(
        (gr.name.as_str(), gr.avatar.as_str(), gr.updated, gr.version),
        ("renamed", "http://av", 800, version + 1),
        "a rename moves the version so clients fetch the group again"
    );
}

async fn discovery_items(b: Backend) {
    let s = store(b).await;
    let st = &s.store;
    let item = |name: &str, priority| DiscoveryItem {
        name: name.into(),
        url: format!("http://{name}"),
        priority,
        created: 1,
        updated: 1,
        ..Default::default()
    };
    let a = st.add_discovery_item(item("a", 5)).await.unwrap();
    let b2 = st.add_discovery_item(item("b", 1)).await.unwrap();
    let names: Vec<String> = st
        .discovery_items()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert_eq!(names, ["b", "a"], "by priority");
    assert!(
        st.edit_discovery_item(
            DiscoveryItem {
                id: a,
                status: 1,
                ..item("a2", 0)
            },
            9
        )
        .await
        .unwrap()
    );
    let all = st.discovery_items().await.unwrap();
    assert_eq!(
        (all[0].name.as_str(), all[0].status, all[0].updated),
        ("a2", 1, 9)
    );
    let json = tt_dbproxy::console::discovery::public_json(&all);
    assert_eq!(
        json,
        serde_json::json!([{"itemName": "b", "itemUrl": "http://b", "itemPriority": "1"}])
    );
    assert!(st.delete_discovery_item(b2).await.unwrap());
    assert!(!st.delete_discovery_item(b2).await.unwrap());
    assert_eq!(st.discovery_items().await.unwrap().len(), 1);
}

on_every_backend!(
    accounts_keep_argon2_apart_from_pwd,
    sessions_throttle_and_audit,
    users_departments_and_groups_edits,
    discovery_items,
);

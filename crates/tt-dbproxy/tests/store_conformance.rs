//! The storage interface's contract, run against every backend (today the
//! embedded SQLite store, directly and behind the fault-injecting wrapper).

use std::sync::Arc;

use tt_dbproxy::store::{FaultyStore, NewUser, SqliteStore, Store, StoreError, StoreOp};

async fn backends() -> Vec<(&'static str, Arc<dyn Store>, tempfile::TempDir)> {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let sqlite: Arc<dyn Store> = Arc::new(SqliteStore::open(a.path()).await.unwrap());
    let wrapped: Arc<dyn Store> = Arc::new(FaultyStore::new(Arc::new(
        SqliteStore::open(b.path()).await.unwrap(),
    )));
    vec![("sqlite", sqlite, a), ("faulty(sqlite)", wrapped, b)]
}

fn user(name: &str, status: u32) -> NewUser {
    NewUser {
        name: name.into(),
        nick: format!("nick of {name}"),
        password: "p".into(),
        salt: "1".into(),
        depart_id: 4,
        status,
        created: 10,
        updated: 20,
        ..Default::default()
    }
}

#[tokio::test]
async fn add_find_and_list_users() {
    for (label, store, _dir) in backends().await {
        let a = store.add_user(user("alice", 0)).await.unwrap();
        let b = store.add_user(user("bob", 3)).await.unwrap();
        assert_eq!((a, b), (1, 2), "{label}");
        let found = store
            .find_active_user_by_name("alice")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            found,
            NewUser {
                id: 1,
                ..user("alice", 0)
            },
            "{label}"
        );
        assert_eq!(
            store.find_active_user_by_name("bob").await.unwrap(),
            None,
            "{label}: departed"
        );
        assert_eq!(
            store.find_active_user_by_name("ALICE").await.unwrap(),
            None,
            "{label}: case"
        );
        assert_eq!(
            store.find_active_user_by_name("alice ").await.unwrap(),
            None,
            "{label}: exact"
        );
        let all = store.list_users().await.unwrap();
        assert_eq!(
            all.iter().map(|u| u.id).collect::<Vec<_>>(),
            vec![1, 2],
            "{label}"
        );
    }
}

#[tokio::test]
async fn duplicate_names_resolve_to_the_highest_id() {
    for (label, store, _dir) in backends().await {
        store.add_user(user("dup", 0)).await.unwrap();
        let second = store
            .add_user(NewUser {
                nick: "second".into(),
                ..user("dup", 0)
            })
            .await
            .unwrap();
        store
            .add_user(NewUser {
                nick: "departed".into(),
                ..user("dup", 3)
            })
            .await
            .unwrap();
        let found = store
            .find_active_user_by_name("dup")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (found.id, found.nick.as_str()),
            (second, "second"),
            "{label}"
        );
    }
}

#[tokio::test]
async fn text_is_stored_byte_exact() {
    for (label, store, _dir) in backends().await {
        for name in [
            "o'brien",
            "a\"b",
            "nul\0byte",
            "emoji 😀",
            "x' OR '1'='1",
            "DROP TABLE IMUser;--",
            "张远龙",
        ] {
            store
                .add_user(NewUser {
                    sign_info: format!("sign {name}"),
                    ..user(name, 0)
                })
                .await
                .unwrap();
            let found = store.find_active_user_by_name(name).await.unwrap().unwrap();
            assert_eq!(found.name, name, "{label}");
            assert_eq!(found.sign_info, format!("sign {name}"), "{label}");
        }
    }
}

#[tokio::test]
async fn updates_report_changed_rows_not_matched_rows() {
    for (label, store, _dir) in backends().await {
        let id = store.add_user(user("alice", 0)).await.unwrap();
        assert!(
            store.set_push_shield(id, 1, 100).await.unwrap(),
            "{label}: first write changes"
        );
        assert!(
            !store.set_push_shield(id, 1, 100).await.unwrap(),
            "{label}: same values change nothing"
        );
        assert!(
            store.set_push_shield(id, 1, 101).await.unwrap(),
            "{label}: a new time changes"
        );
        assert!(
            store.set_push_shield(id, 0, 101).await.unwrap(),
            "{label}: a new status changes"
        );
        assert!(
            !store.set_push_shield(999, 1, 100).await.unwrap(),
            "{label}: unknown user"
        );
        let u = store
            .find_active_user_by_name("alice")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((u.push_shield_status, u.updated), (0, 101), "{label}");
    }
}

#[tokio::test]
async fn data_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = SqliteStore::open(dir.path()).await.unwrap();
        store.add_user(user("alice", 0)).await.unwrap();
    }
    let store = SqliteStore::open(dir.path()).await.unwrap();
    assert_eq!(
        store
            .find_active_user_by_name("alice")
            .await
            .unwrap()
            .map(|u| u.id),
        Some(1)
    );
    assert_eq!(store.add_user(user("bob", 0)).await.unwrap(), 2);
}

#[tokio::test]
async fn faulty_store_fails_the_next_n_calls_then_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let store = FaultyStore::new(Arc::new(SqliteStore::open(dir.path()).await.unwrap()));
    store.add_user(user("alice", 0)).await.unwrap();
    store.fail_next(StoreOp::FindActiveUserByName, 2);
    for _ in 0..2 {
        assert!(matches!(
            store.find_active_user_by_name("alice").await,
            Err(StoreError::Injected(StoreOp::FindActiveUserByName))
        ));
    }
    assert!(
        store
            .find_active_user_by_name("alice")
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store.list_users().await.is_ok(),
        "other operations unaffected"
    );
    assert_eq!(store.calls(StoreOp::FindActiveUserByName), 3);
}

#[tokio::test]
async fn unusable_data_dir_is_an_error_not_a_panic() {
    let file = tempfile::NamedTempFile::new().unwrap();
    let err = SqliteStore::open(file.path()).await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err}");
}

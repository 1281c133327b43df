//! The storage interface's contract, run against every backend (today the
//! embedded SQLite store, directly and behind the fault-injecting wrapper).

use std::sync::Arc;
use tt_dbproxy::store::prelude::*;

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

#[tokio::test]
async fn sessions_find_revive_and_remove_with_changed_rows() {
    use tt_dbproxy::store::SESSION_SINGLE;
    for (label, store, _dir) in backends().await {
        let s = store.add_session(1, 2, SESSION_SINGLE, 100).await.unwrap();
        assert_eq!(
            store.find_session(1, 2, SESSION_SINGLE).await.unwrap(),
            Some(s),
            "{label}"
        );
        assert_eq!(
            store.find_session(2, 1, SESSION_SINGLE).await.unwrap(),
            None,
            "{label}: owned by user 1"
        );
        assert!(store.remove_session(s, 200).await.unwrap(), "{label}");
        assert!(
            !store.remove_session(s, 200).await.unwrap(),
            "{label}: no change the second time"
        );
        assert_eq!(
            store.find_session(1, 2, SESSION_SINGLE).await.unwrap(),
            None,
            "{label}"
        );
        assert_eq!(
            store.add_session(1, 2, SESSION_SINGLE, 300).await.unwrap(),
            s,
            "{label}: revived, same id"
        );
        let recent = store.recent_sessions(1, 0, 10).await.unwrap();
        assert_eq!(
            (recent.len(), recent[0].updated, recent[0].status),
            (1, 300, 0),
            "{label}"
        );
        assert!(
            store.recent_sessions(1, 300, 10).await.unwrap().is_empty(),
            "{label}: strictly after"
        );
    }
}

#[tokio::test]
async fn relations_are_per_unordered_pair() {
    for (label, store, _dir) in backends().await {
        assert_eq!(store.relation_id(1, 2).await.unwrap(), None, "{label}");
        let r = store.create_relation(2, 1, 10).await.unwrap();
        assert_eq!(store.create_relation(1, 2, 11).await.unwrap(), r, "{label}");
        assert_eq!(store.relation_id(1, 2).await.unwrap(), Some(r), "{label}");
        assert_eq!(store.relation_id(2, 1).await.unwrap(), Some(r), "{label}");
        assert_eq!(store.relation_id(0, 1).await.unwrap(), None, "{label}");
        assert_ne!(store.create_relation(1, 3, 10).await.unwrap(), r, "{label}");
    }
}

#[tokio::test]
async fn unread_counters_and_group_read_marks() {
    for (label, store, _dir) in backends().await {
        store.add_unread(1, 2, 1).await.unwrap();
        store.add_unread(1, 2, 2).await.unwrap();
        store.add_unread(1, 10, 1).await.unwrap();
        assert_eq!(
            store.unread_counts(1).await.unwrap(),
            vec![(2, 3), (10, 1)],
            "{label}"
        );
        store.clear_unread(1, 2).await.unwrap();
        store.clear_unread(1, 99).await.unwrap();
        assert_eq!(
            store.unread_counts(1).await.unwrap(),
            vec![(10, 1)],
            "{label}"
        );

        assert_eq!(
            store.group_counter(1, 5).await.unwrap(),
            None,
            "{label}: no total yet"
        );
        store.mark_group_read(1, 5).await.unwrap();
        assert_eq!(
            store.group_counter(1, 5).await.unwrap(),
            None,
            "{label}: marking without a total is a no-op"
        );
        assert_eq!(store.incr_group_total(5).await.unwrap(), 1, "{label}");
        assert_eq!(store.incr_group_total(5).await.unwrap(), 2, "{label}");
        assert_eq!(
            store.group_counter(1, 5).await.unwrap(),
            Some((2, 0)),
            "{label}"
        );
        store.mark_group_read(1, 5).await.unwrap();
        store.incr_group_total(5).await.unwrap();
        assert_eq!(
            store.group_counter(1, 5).await.unwrap(),
            Some((3, 2)),
            "{label}"
        );
        assert_eq!(
            store.group_counter(2, 5).await.unwrap(),
            Some((3, 0)),
            "{label}"
        );
        assert_eq!(
            store.group_counters(1, &[5, 6, 5]).await.unwrap(),
            vec![Some((3, 2)), None, Some((3, 2))],
            "{label}: batched, in the order given"
        );
        assert_eq!(
            store.group_counters(1, &[]).await.unwrap(),
            Vec::new(),
            "{label}"
        );
    }
}

#[tokio::test]
async fn group_membership_and_push_shields() {
    for (label, store, _dir) in backends().await {
        assert!(!store.group_exists(5).await.unwrap(), "{label}");
        store.add_group_member(5, 1, 100).await.unwrap();
        store.add_group_member(6, 1, 300).await.unwrap();
        store.add_group_member(5, 2, 100).await.unwrap();
        store.add_group_member(5, 1, 100).await.unwrap();
        assert!(store.group_exists(5).await.unwrap(), "{label}");
        assert!(store.is_group_member(5, 2).await.unwrap(), "{label}");
        assert!(!store.is_group_member(5, 3).await.unwrap(), "{label}");
        assert_eq!(
            store.user_groups(1).await.unwrap(),
            vec![6, 5],
            "{label}: newest first, once each"
        );
        store.set_group_push_shield(5, 2, 1).await.unwrap();
        store.set_group_push_shield(5, 1, 7).await.unwrap();
        store.set_group_push_shield(5, 2, 0).await.unwrap();
        assert_eq!(
            store.group_push_shields(5).await.unwrap(),
            vec![(1, 7), (2, 0)],
            "{label}"
        );
        assert!(
            store.group_push_shields(6).await.unwrap().is_empty(),
            "{label}"
        );
    }
}

#[tokio::test]
async fn device_tokens_have_one_owner_and_one_token_per_user() {
    use tt_dbproxy::store::{DeviceToken, Platform};
    for (label, store, _dir) in backends().await {
        store
            .register_device_token(1, Platform::Ios, "a")
            .await
            .unwrap();
        store
            .register_device_token(2, Platform::Android, "b")
            .await
            .unwrap();
        store
            .register_device_token(1, Platform::Android, "c")
            .await
            .unwrap();
        store
            .register_device_token(3, Platform::Ios, "b")
            .await
            .unwrap();
        let got = store.device_tokens(&[3, 1, 2, 1, 4]).await.unwrap();
        assert_eq!(
            got,
            vec![
                DeviceToken {
                    user_id: 1,
                    platform: Platform::Android,
                    token: "c".into()
                },
                DeviceToken {
                    user_id: 3,
                    platform: Platform::Ios,
                    token: "b".into()
                },
            ],
            "{label}"
        );
        store.clear_device_token(1).await.unwrap();
        store.clear_device_token(4).await.unwrap();
        let got = store.device_tokens(&[1, 3, 4]).await.unwrap();
        assert_eq!(
            got.iter().map(|t| t.user_id).collect::<Vec<_>>(),
            vec![3],
            "{label}: cleared"
        );
    }
}

#[tokio::test]
async fn departments_offline_files_and_user_updates() {
    use tt_dbproxy::store::{DepartRecord, OfflineFile, UserUpdate};
    for (label, store, _dir) in backends().await {
        for (name, updated) in [("a", 5), ("b", 0), ("c", 9)] {
            store
                .add_department(DepartRecord {
                    name: name.into(),
                    updated,
                    ..Default::default()
                })
                .await
                .unwrap();
        }
        assert_eq!(
            store.list_departments().await.unwrap().len(),
            3,
            "{label}: updated 0 listed too"
        );
        let changed: Vec<u32> = store
            .changed_departments(5)
            .await
            .unwrap()
            .iter()
            .map(|d| d.id)
            .collect();
        assert_eq!(changed, vec![3], "{label}");

        let f = |task: &str| OfflineFile {
            from_id: 1,
            to_id: 2,
            task_id: task.into(),
            file_name: "n".into(),
            size: 1,
            created: 0,
        };
        store.add_offline_file(f("x"), 20).await.unwrap();
        store.add_offline_file(f("y"), 10).await.unwrap();
        let tasks: Vec<String> = store
            .offline_files_for(2)
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.task_id)
            .collect();
        assert_eq!(tasks, vec!["y", "x"], "{label}: oldest first");
        assert_eq!(
            store.delete_offline_file(2, 1, "x").await.unwrap(),
            0,
            "{label}: direction matters"
        );
        assert_eq!(
            store.delete_offline_file(1, 2, "x").await.unwrap(),
            1,
            "{label}"
        );

        let id = store.add_user(user("u", 0)).await.unwrap();
        let update = UserUpdate {
            nick: Some("new".into()),
            ..Default::default()
        };
        assert!(
            store.update_user(id, update.clone(), 50).await.unwrap(),
            "{label}"
        );
        assert!(
            !store.update_user(id, update, 50).await.unwrap(),
            "{label}: same values"
        );
        assert!(
            !store
                .update_user(
                    999,
                    UserUpdate {
                        status: Some(3),
                        ..Default::default()
                    },
                    50
                )
                .await
                .unwrap(),
            "{label}"
        );
        assert!(store.set_sign_info(id, "s", 60).await.unwrap(), "{label}");
        assert!(
            !store.set_sign_info(id, "s", 60).await.unwrap(),
            "{label}: same values"
        );
        assert_eq!(store.user_list_gate().await.unwrap(), None, "{label}");
        store.set_user_list_gate(7).await.unwrap();
        store.set_user_list_gate(8).await.unwrap();
        assert_eq!(store.user_list_gate().await.unwrap(), Some(8), "{label}");
    }
}

//! Groups over real TCP (messages spec §9 cases 42–56) and the sync
//! center (cases 57–60), on every backend.

mod common;

use common::fixtures::exec_sql;
use common::*;
use tt_dbproxy::client::Client;
use tt_dbproxy::store::prelude::*;
use tt_dbproxy::store::{GroupMessageRow, NewGroup, StoreOp};
use tt_proto::im::base_define::{GroupInfo, GroupVersionInfo};
use tt_proto::im::group::*;
use tt_proto::im::message::ImMsgData;

/// Group `g5` (temporary, creator 1, members 1 and 2, version 3, name
/// "g5", avatar "a", one message) and `g6` (fixed, creator 3, members 1
/// and 3, version 1). Returns their ids.
async fn fixture(b: Backend) -> (TestServer, u32, u32) {
    let s = TestServer::seeded(b).await;
    let g5 = s
        .store
        .create_group(
            NewGroup {
                name: "g5".into(),
                avatar: "a".into(),
                creator: 1,
                group_type: 2,
                members: vec![1, 2],
            },
            T0,
        )
        .await
        .unwrap();
    let g6 = s
        .store
        .create_group(
            NewGroup {
                name: "fixed".into(),
                avatar: String::new(),
                creator: 3,
                group_type: 1,
                members: vec![1, 3],
            },
            T0,
        )
        .await
        .unwrap();
    exec_sql(
        &s,
        b,
        &format!("UPDATE IMGroup SET version = 3, updated = 50 WHERE id = {g5}"),
    )
    .await;
    exec_sql(
        &s,
        b,
        &format!("UPDATE IMGroup SET updated = 60 WHERE id = {g6}"),
    )
    .await;
    let row = GroupMessageRow {
        group_id: g5,
        from_id: 1,
        msg_id: 11,
        msg_type: 0x11,
        content: "g".into(),
        created: T0,
    };
    s.store.insert_group_message(row).await.unwrap();
    for _ in 0..11 {
        s.store.incr_group_total(g5).await.unwrap();
    }
    (s, g5, g6)
}

async fn change(
    c: &mut Client,
    user: u32,
    add: bool,
    group: u32,
    members: Vec<u32>,
) -> ImGroupChangeMemberRsp {
    let req = ImGroupChangeMemberReq {
        user_id: Some(user),
        change_type: Some(if add { 1 } else { 2 }),
        group_id: Some(group),
        member_id_list: members,
        attach_data: ab(),
    };
    let rsp: ImGroupChangeMemberRsp = call(c, 0x0407, &req, 4, 0x0408).await;
    assert_eq!(
        (rsp.user_id, rsp.group_id, rsp.attach_data.clone()),
        (Some(user), Some(group), ab())
    );
    rsp
}

async fn version(s: &TestServer, g: u32) -> u32 {
    s.store.groups_by_ids(&[g]).await.unwrap()[0].version
}

async fn case42_normal_list(b: Backend) {
    let (s, _g5, g6) = fixture(b).await;
    let mut c = s.client().await;
    let rsp: ImNormalGroupListRsp = call(
        &mut c,
        0x0401,
        &ImNormalGroupListReq {
            user_id: Some(1),
            attach_data: ab(),
        },
        4,
        0x0402,
    )
    .await;
    assert_eq!(
        rsp.group_version_list,
        vec![GroupVersionInfo {
            group_id: Some(g6),
            version: Some(1)
        }]
    );
}

async fn case43_44_info_with_versions_and_member_order(b: Backend) {
    let (s, g5, g6) = fixture(b).await;
    let mut c = s.client().await;
    let v = |g: u32, version: u32| GroupVersionInfo {
        group_id: Some(g),
        version: Some(version),
    };
    let req = ImGroupInfoListReq {
        user_id: Some(1),
        group_version_list: vec![v(g5, 0), v(g6, 1), v(77, 0)],
        attach_data: ab(),
    };
    let rsp: ImGroupInfoListRsp = call(&mut c, 0x0403, &req, 4, 0x0404).await;
    assert_eq!(
        rsp.group_info_list,
        vec![GroupInfo {
            group_id: Some(g5),
            version: Some(3),
            group_name: Some(b"g5".to_vec()),
            group_avatar: Some(b"a".to_vec()),
            group_creator_id: Some(1),
            group_type: Some(2),
            shield_status: Some(0),
            group_member_list: vec![1, 2],
        }]
    );
    s.store
        .change_group_members(g5, true, &[9, 10], T0)
        .await
        .unwrap();
    let req = ImGroupInfoListReq {
        user_id: Some(1),
        group_version_list: vec![v(g5, 0)],
        attach_data: ab(),
    };
    let rsp: ImGroupInfoListRsp = call(&mut c, 0x0403, &req, 4, 0x0404).await;
    assert_eq!(
        rsp.group_info_list[0].group_member_list,
        vec![1, 10, 2, 9],
        "ids in text order"
    );
}

async fn create(
    c: &mut Client,
    name: &str,
    members: Vec<u32>,
    group_type: i32,
) -> ImGroupCreateRsp {
    let req = ImGroupCreateReq {
        user_id: Some(1),
        group_type: Some(group_type),
        group_name: Some(name.as_bytes().to_vec()),
        group_avatar: Some(Vec::new()),
        member_id_list: members,
        attach_data: ab(),
    };
    call(c, 0x0405, &req, 4, 0x0406).await
}

async fn case45_to_48_create(b: Backend) {
    let (s, _, _) = fixture(b).await;
    let mut c = s.client().await;
    let rsp = create(&mut c, "t", vec![3, 1, 3], 2).await;
    assert_eq!(
        (
            rsp.result_code,
            rsp.group_name.as_deref(),
            rsp.user_id_list.clone()
        ),
        (Some(0), Some(&b"t"[..]), vec![1, 3])
    );
    let g = rsp.group_id.expect("group id on success");
    let row = &s.store.groups_by_ids(&[g]).await.unwrap()[0];
    assert_eq!(
        (
            row.creator,
            row.group_type,
            row.status,
            row.version,
            row.last_chated,
            row.user_count
        ),
        (1, 2, 0, 1, 0, 2)
    );
    let mut members = s.store.group_members(g).await.unwrap();
    members.sort_unstable();
    assert_eq!(members, vec![1, 3]);
    let empty_name = create(&mut c, "", vec![1], 2).await;
    assert_eq!(
        (
            empty_name.result_code,
            empty_name.group_id,
            empty_name.user_id_list
        ),
        (Some(1), None, vec![1])
    );
    assert_eq!(create(&mut c, "x", vec![], 2).await.result_code, Some(1));
    let bad_type = ImGroupCreateReq {
        user_id: Some(1),
        group_type: Some(3),
        group_name: Some(b"x".to_vec()),
        group_avatar: Some(vec![]),
        member_id_list: vec![1],
        attach_data: ab(),
    };
    assert_no_reply(&mut c, 0x0405, prost::Message::encode_to_vec(&bad_type)).await;
    assert_eq!(s.store.list_groups().await.unwrap().len(), 3);
}

async fn case49_to_52_add_members(b: Backend) {
    let (s, g5, g6) = fixture(b).await;
    let mut c = s.client().await;
    let rsp = change(&mut c, 1, true, g5, vec![3, 2]).await;
    assert_eq!(
        (
            rsp.result_code,
            rsp.cur_user_id_list.clone(),
            rsp.chg_user_id_list.clone()
        ),
        (Some(0), vec![1, 2, 3], vec![3])
    );
    assert_eq!(version(&s, g5).await, 4);
    assert_eq!(
        s.store.group_counter(3, g5).await.unwrap(),
        Some((11, 11)),
        "added members start read"
    );
    assert_eq!(s.store.groups_by_ids(&[g5]).await.unwrap()[0].user_count, 3);
    assert_eq!(
        change(&mut c, 4, true, g5, vec![4]).await.result_code,
        Some(0),
        "anyone may add to a temporary group"
    );
    let denied = change(&mut c, 1, true, g6, vec![2]).await;
    assert_eq!(
        (
            denied.result_code,
            denied.cur_user_id_list.len(),
            denied.chg_user_id_list.len()
        ),
        (Some(1), 0, 0)
    );
    let existing = change(&mut c, 1, true, g5, vec![2]).await;
    assert_eq!(
        (existing.result_code, existing.chg_user_id_list.len()),
        (Some(0), 0)
    );
    assert_eq!(existing.cur_user_id_list, vec![1, 2, 3, 4]);
    assert_eq!(version(&s, g5).await, 5, "no change, no new version");
}

async fn case53_to_55_remove_members(b: Backend) {
    let (s, g5, _) = fixture(b).await;
    s.store.add_session(2, g5, 2, T0).await.unwrap();
    let mut c = s.client().await;
    assert_eq!(
        change(&mut c, 2, false, g5, vec![1]).await.result_code,
        Some(1),
        "only the creator removes"
    );
    let rsp = change(&mut c, 1, false, g5, vec![2]).await;
    assert_eq!(
        (
            rsp.result_code,
            rsp.cur_user_id_list.clone(),
            rsp.chg_user_id_list.clone()
        ),
        (Some(0), vec![1], vec![2])
    );
    assert!(!s.store.is_group_member(g5, 2).await.unwrap());
    assert_eq!(s.store.find_session(2, g5, 2).await.unwrap(), None);
    assert_eq!(version(&s, g5).await, 4);
    assert_eq!(s.store.groups_by_ids(&[g5]).await.unwrap()[0].user_count, 1);
    let m = ImMsgData {
        from_user_id: Some(2),
        to_session_id: Some(g5),
        msg_id: Some(0),
        create_time: Some(1),
        msg_type: Some(0x11),
        msg_data: Some(b"x".to_vec()),
        attach_data: ab(),
    };
    let sent: ImMsgData = call(&mut c, 0x0301, &m, 3, 0x0301).await;
    assert_eq!(sent.msg_id, Some(0), "a removed member cannot send");
    let nobody = change(&mut c, 1, false, g5, vec![]).await;
    assert_eq!(
        (nobody.result_code, nobody.cur_user_id_list),
        (Some(0), vec![1])
    );
    assert_eq!(
        change(&mut c, 1, true, 77, vec![2]).await.result_code,
        Some(1),
        "unknown group answers"
    );
}

async fn case56_group_known_only_to_the_database_is_rebuilt(b: Backend) {
    let s = TestServer::seeded(b).await;
    exec_sql(&s, b, "INSERT INTO IMGroup (id, name, avatar, creator, type, userCnt, status, version, lastChated, updated, created) VALUES (800, 'php', '', 1, 1, 2, 0, 1, 0, 1, 1)").await;
    exec_sql(&s, b, "INSERT INTO IMGroupMember (groupId, userId, status, created, updated) VALUES (800, 1, 0, 5, 5), (800, 2, 0, 5, 5)").await;
    let mut c = s.client().await;
    let m = ImMsgData {
        from_user_id: Some(1),
        to_session_id: Some(800),
        msg_id: Some(0),
        create_time: Some(1),
        msg_type: Some(0x11),
        msg_data: Some(b"hi".to_vec()),
        attach_data: ab(),
    };
    let sent: ImMsgData = call(&mut c, 0x0301, &m, 3, 0x0301).await;
    assert_eq!(sent.msg_id, Some(1));
    if let Some(lease) = &s.redis {
        let members: Vec<String> = redis::cmd("HKEYS")
            .arg("group_member_800")
            .query(&mut lease.conn())
            .unwrap();
        assert_eq!(members.len(), 2, "the Redis membership was rebuilt");
    }
}

async fn case57_sync_center_reaches_other_members(b: Backend) {
    let (s, g5, _) = fixture(b).await;
    let stale = s.store.add_session(1, g5, 2, 5).await.unwrap();
    assert!(s.store.remove_session(stale, 5).await.unwrap());
    let mut c = s.client().await;
    s.clock.set(T0 + 100);
    let m = ImMsgData {
        from_user_id: Some(2),
        to_session_id: Some(g5),
        msg_id: Some(0),
        create_time: Some(1),
        msg_type: Some(0x11),
        msg_data: Some(b"x".to_vec()),
        attach_data: ab(),
    };
    let _: ImMsgData = call(&mut c, 0x0301, &m, 3, 0x0301).await;
    let cursor = tt_dbproxy::sync::initial_cursor(&s.state).await;
    assert_eq!(cursor, T0 + 100, "first start: now");
    let cursor = tt_dbproxy::sync::cycle(&s.state, T0).await.unwrap();
    assert_eq!(cursor, T0 + 100);
    // User 1's deleted session moved but stays deleted (as the original).
    assert_eq!(s.store.find_session(1, g5, 2).await.unwrap(), None);
    s.store.remove_session(stale, 1).await.unwrap();
    // A member without any session gets a new one.
    s.store
        .change_group_members(g5, true, &[4], T0)
        .await
        .unwrap();
    tt_dbproxy::sync::cycle(&s.state, T0).await.unwrap();
    let recent = s.store.recent_sessions(4, 0, 10).await.unwrap();
    assert_eq!((recent[0].peer_id, recent[0].status), (g5, 0));
}

async fn case58_59_cursor_restored_and_kept_on_failure(b: Backend) {
    let (s, g5, _) = fixture(b).await;
    s.store.set_group_sync_cursor(T0).await.unwrap();
    s.clock.set(T0 + 1);
    let mut c = s.client().await;
    let m = ImMsgData {
        from_user_id: Some(2),
        to_session_id: Some(g5),
        msg_id: Some(0),
        create_time: Some(1),
        msg_type: Some(0x11),
        msg_data: Some(b"x".to_vec()),
        attach_data: ab(),
    };
    let _: ImMsgData = call(&mut c, 0x0301, &m, 3, 0x0301).await;
    s.clock.set(T0 + 10);
    let cursor = tt_dbproxy::sync::initial_cursor(&s.state).await;
    assert_eq!(cursor, T0, "the stored cursor is used");
    s.store.fail_next(StoreOp::GroupsChattedSince, 1);
    assert!(tt_dbproxy::sync::cycle(&s.state, cursor).await.is_err());
    assert_eq!(
        s.store.group_sync_cursor().await.unwrap(),
        Some(T0),
        "not advanced"
    );
    assert_eq!(s.store.find_session(1, g5, 2).await.unwrap(), None);
    let next = tt_dbproxy::sync::cycle(&s.state, cursor).await.unwrap();
    assert_eq!(next, T0 + 10);
    let recent = s.store.recent_sessions(1, 0, 10).await.unwrap();
    assert_eq!(
        (recent[0].peer_id, recent[0].updated),
        (g5, T0 + 10),
        "a new session: updated = now"
    );
}

async fn case60_sync_center_stops_on_shutdown(b: Backend) {
    let (s, _, _) = fixture(b).await;
    let token = tokio_util::sync::CancellationToken::new();
    let task = tokio::spawn(tt_dbproxy::sync::run(s.state.clone(), token.clone()));
    eventually("first cycle", || async {
        s.store.finished(StoreOp::SetGroupSyncCursor) >= 2
    })
    .await;
    token.cancel();
    tokio::time::timeout(std::time::Duration::from_secs(1), task)
        .await
        .expect("stops within 1 s")
        .unwrap();
    let writes = s.store.finished(StoreOp::SetGroupSyncCursor);
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(
        s.store.finished(StoreOp::SetGroupSyncCursor),
        writes,
        "no writes after stopping"
    );
}

on_every_backend!(
    case42_normal_list,
    case43_44_info_with_versions_and_member_order,
    case45_to_48_create,
    case49_to_52_add_members,
    case53_to_55_remove_members,
    case56_group_known_only_to_the_database_is_rebuilt,
    case57_sync_center_reaches_other_members,
    case58_59_cursor_restored_and_kept_on_failure,
    case60_sync_center_stops_on_shutdown,
);

//! Push shield, user info, incremental user sync, departments and
//! sign-info over real TCP (accounts spec §9 cases 19–23a, 31–39), on
//! every backend.

mod common;

use common::*;
use tt_dbproxy::store::prelude::*;
use tt_dbproxy::store::{DepartRecord, StoreOp, UserRecord};
use tt_proto::im::buddy::*;
use tt_proto::im::login::*;

const NOW: u32 = T0;

fn user_ids(list: &[tt_proto::im::base_define::UserInfo]) -> Vec<u32> {
    list.iter().filter_map(|u| u.user_id).collect()
}

async fn case19_set_push_shield(b: Backend) {
    let s = TestServer::seeded(b).await;
    let mut c = s.client().await;
    let req = ImPushShieldReq {
        user_id: Some(1),
        shield_status: Some(1),
        attach_data: ab(),
    };
    let rsp: ImPushShieldRsp = call(&mut c, 0x010c, &req, 1, 0x010d).await;
    assert_eq!(
        rsp,
        ImPushShieldRsp {
            user_id: Some(1),
            result_code: Some(0),
            shield_status: Some(1),
            attach_data: ab()
        }
    );
    assert_eq!(s.store.push_shield(1).await.unwrap(), Some(1));
    assert_eq!(s.store.users_by_ids(&[1]).await.unwrap()[0].updated, NOW);
}

async fn case20_set_push_shield_unknown_user(b: Backend) {
    let s = TestServer::seeded(b).await;
    let mut c = s.client().await;
    let req = ImPushShieldReq {
        user_id: Some(999),
        shield_status: Some(1),
        attach_data: ab(),
    };
    let rsp: ImPushShieldRsp = call(&mut c, 0x010c, &req, 1, 0x010d).await;
    assert_eq!(
        rsp,
        ImPushShieldRsp {
            user_id: Some(999),
            result_code: Some(1),
            shield_status: None,
            attach_data: ab()
        }
    );
}

async fn push_shield_values_other_than_0_and_1_are_refused(b: Backend) {
    let s = TestServer::seeded(b).await;
    let mut c = s.client().await;
    let req = ImPushShieldReq {
        user_id: Some(1),
        shield_status: Some(256),
        attach_data: ab(),
    };
    let rsp: ImPushShieldRsp = call(&mut c, 0x010c, &req, 1, 0x010d).await;
    assert_eq!((rsp.result_code, rsp.shield_status), (Some(1), None));
    assert_eq!(s.store.push_shield(1).await.unwrap(), Some(0));
}

async fn case21_query_push_shield_golden_bytes(b: Backend) {
    let s = TestServer::seeded(b).await;
    let mut c = s.client().await;
    let req = ImQueryPushShieldReq {
        user_id: Some(2),
        attach_data: None,
    };
    let rsp = raw_request(
        &mut c,
        1,
        0x010e,
        7,
        prost::Message::encode_to_vec(&req),
        0x010f,
    )
    .await;
    assert_eq!(
        rsp.to_bytes().unwrap().as_ref(),
        &[
            0, 0, 0, 0x19, 0, 1, 0, 0, 0, 1, 1, 0x0f, 0, 7, 0, 0, 8, 2, 0x10, 0, 0x18, 1, 0xa2, 1,
            0
        ]
    );
}

async fn case22_query_push_shield_unknown_user(b: Backend) {
    let s = TestServer::seeded(b).await;
    let mut c = s.client().await;
    let req = ImQueryPushShieldReq {
        user_id: Some(999),
        attach_data: ab(),
    };
    let rsp: ImQueryPushShieldRsp = call(&mut c, 0x010e, &req, 1, 0x010f).await;
    assert_eq!(
        rsp,
        ImQueryPushShieldRsp {
            user_id: Some(999),
            result_code: Some(1),
            shield_status: None,
            attach_data: ab()
        }
    );
}

async fn case23_parse_failure_gives_no_reply(b: Backend) {
    let s = TestServer::seeded(b).await;
    let mut c = s.client().await;
    assert_no_reply(&mut c, 0x010c, vec![0x08, 0x01]).await;
    assert_eq!(s.store.calls(StoreOp::SetPushShield), 0);
}

async fn case23a_same_value_in_the_same_second_reports_failure(b: Backend) {
    let s = TestServer::seeded(b).await;
    let mut c = s.client().await;
    let req = ImPushShieldReq {
        user_id: Some(1),
        shield_status: Some(1),
        attach_data: ab(),
    };
    let first: ImPushShieldRsp = call(&mut c, 0x010c, &req, 1, 0x010d).await;
    let second: ImPushShieldRsp = call(&mut c, 0x010c, &req, 1, 0x010d).await;
    assert_eq!((first.result_code, first.shield_status), (Some(0), Some(1)));
    assert_eq!((second.result_code, second.shield_status), (Some(1), None));
    let sign = ImChangeSignInfoReq {
        user_id: Some(2),
        sign_info: Some(b"same".to_vec()),
        attach_data: ab(),
    };
    let first: ImChangeSignInfoRsp = call(&mut c, 0x0213, &sign, 2, 0x0214).await;
    let second: ImChangeSignInfoRsp = call(&mut c, 0x0213, &sign, 2, 0x0214).await;
    assert_eq!((first.result_code, second.result_code), (Some(0), Some(1)));
    // A second later the same value is a change again.
    s.clock.advance(1);
    let third: ImPushShieldRsp = call(&mut c, 0x010c, &req, 1, 0x010d).await;
    assert_eq!(third.result_code, Some(0));
}

async fn case31_user_info(b: Backend) {
    let s = TestServer::seeded(b).await;
    let mut c = s.client().await;
    let req = ImUsersInfoReq {
        user_id: Some(1),
        user_id_list: vec![3, 1, 1, 999],
        attach_data: ab(),
    };
    let rsp: ImUsersInfoRsp = call(&mut c, 0x0204, &req, 2, 0x0205).await;
    assert_eq!(rsp.user_id, Some(1));
    assert_eq!(user_ids(&rsp.user_info_list), vec![1, 3]);
    assert_eq!(rsp.user_info_list[1].status, Some(3));
    assert_eq!(
        rsp.user_info_list[0].user_nick_name.as_deref(),
        Some("张远龙".as_bytes())
    );
    assert_eq!(
        rsp.user_info_list[0].sign_info.as_deref(),
        Some(&b"hello"[..])
    );
    assert_eq!(rsp.attach_data, ab());
}

async fn case32_user_info_empty_list_runs_no_query(b: Backend) {
    let s = TestServer::seeded(b).await;
    let mut c = s.client().await;
    let req = ImUsersInfoReq {
        user_id: Some(1),
        user_id_list: vec![],
        attach_data: ab(),
    };
    let rsp: ImUsersInfoRsp = call(&mut c, 0x0204, &req, 2, 0x0205).await;
    assert_eq!(
        rsp,
        ImUsersInfoRsp {
            user_id: Some(1),
            user_info_list: vec![],
            attach_data: ab()
        }
    );
    assert_eq!(s.store.calls(StoreOp::UsersByIds), 0);
}

async fn user_info_returns_every_row_of_a_large_list_and_refuses_too_many(b: Backend) {
    let s = TestServer::seeded(b).await;
    let mut c = s.client().await;
    let mut ids: Vec<u32> = (1000..11_000).collect();
    ids.push(2);
    ids.truncate(10_000);
    ids.push(1);
    ids.remove(0);
    let req = ImUsersInfoReq {
        user_id: Some(1),
        user_id_list: ids,
        attach_data: ab(),
    };
    let rsp: ImUsersInfoRsp = call(&mut c, 0x0204, &req, 2, 0x0205).await;
    assert_eq!(
        user_ids(&rsp.user_info_list),
        vec![1],
        "10,000 ids are served, in chunks"
    );
    let too_many = ImUsersInfoReq {
        user_id: Some(1),
        user_id_list: (1..=10_001).collect(),
        attach_data: ab(),
    };
    let rsp: ImUsersInfoRsp = call(&mut c, 0x0204, &too_many, 2, 0x0205).await;
    assert!(rsp.user_info_list.is_empty());
}

/// User info for ids in every shape (runs of consecutive ids, which
/// MySQL reads as ranges, scattered ids, repeats, ids without a row, a
/// run past the last user): each existing user once, by id, its own row.
async fn user_info_for_runs_and_scattered_ids(b: Backend) {
    let s = TestServer::seeded(b).await;
    for i in 4..=40 {
        let id = s
            .store
            .add_user(UserRecord {
                name: format!("u{i}"),
                nick: format!("nick {i}"),
                depart_id: 1,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(id, i);
    }
    let mut c = s.client().await;
    let mut ids: Vec<u32> = (3..=14).collect(); // a run of 12
    ids.extend([20, 22, 22, 1, 9999]); // scattered, a repeat, no such user
    ids.extend(25..=33); // a run of 9
    ids.extend(36..=50); // a run past the last user (40)
    ids.extend([17, 18, 19]); // a short run
    let req = ImUsersInfoReq {
        user_id: Some(1),
        user_id_list: ids,
        attach_data: ab(),
    };
    let rsp: ImUsersInfoRsp = call(&mut c, 0x0204, &req, 2, 0x0205).await;
    let mut want: Vec<u32> = (3..=14)
        .chain([1, 17, 18, 19, 20, 22])
        .chain(25..=33)
        .chain(36..=40)
        .collect();
    want.sort_unstable();
    assert_eq!(user_ids(&rsp.user_info_list), want);
    for u in &rsp.user_info_list {
        let id = u.user_id.unwrap_or(0);
        if id < 4 {
            continue;
        }
        let nick = format!("nick {id}");
        assert_eq!(u.user_nick_name.as_deref(), Some(nick.as_bytes()));
    }
}

async fn all_users(c: &mut tt_dbproxy::client::Client, since: u32) -> ImAllUserRsp {
    let req = ImAllUserReq {
        user_id: Some(1),
        latest_update_time: Some(since),
        attach_data: ab(),
    };
    call(c, 0x0208, &req, 2, 0x0209).await
}

async fn case33_to_35_all_users_with_the_gate(b: Backend) {
    let s = TestServer::seeded(b).await;
    s.store.set_user_list_gate(5000).await.unwrap();
    let mut c = s.client().await;
    let full = all_users(&mut c, 0).await;
    assert_eq!(
        (user_ids(&full.user_list), full.latest_update_time),
        (vec![1, 2], Some(2000))
    );
    assert_eq!(full.attach_data, ab());
    let incr = all_users(&mut c, 2000).await;
    assert_eq!(
        (user_ids(&incr.user_list), incr.latest_update_time),
        (vec![2, 3], Some(3000))
    );
    assert_eq!(incr.user_list[1].status, Some(3));
    let before = s.store.calls(StoreOp::ChangedUsers);
    let closed = all_users(&mut c, 5000).await;
    assert_eq!(
        (closed.user_list.len(), closed.latest_update_time),
        (0, Some(5000))
    );
    assert_eq!(
        s.store.calls(StoreOp::ChangedUsers),
        before,
        "no query past the gate"
    );
}

async fn all_users_store_failure_echoes_the_clients_time(b: Backend) {
    let s = TestServer::seeded(b).await;
    s.store.set_user_list_gate(5000).await.unwrap();
    s.store.fail_next(StoreOp::ChangedUsers, 1);
    let mut c = s.client().await;
    let rsp = all_users(&mut c, 1500).await;
    assert_eq!(
        (rsp.user_list.len(), rsp.latest_update_time),
        (0, Some(1500))
    );
}

async fn case36_departments(b: Backend) {
    let s = TestServer::seeded(b).await;
    for (name, priority, status, updated) in
        [("研发", 1, 0, 100), ("销售", 2, 1, 200), ("x", 0, 7, 300)]
    {
        let d = DepartRecord {
            name: name.into(),
            priority,
            status,
            updated,
            ..Default::default()
        };
        s.store.add_department(d).await.unwrap();
    }
    let mut c = s.client().await;
    let req = ImDepartmentReq {
        user_id: Some(1),
        latest_update_time: Some(0),
        attach_data: ab(),
    };
    let rsp: ImDepartmentRsp = call(&mut c, 0x0210, &req, 2, 0x0211).await;
    assert_eq!(rsp.latest_update_time, Some(300));
    let got: Vec<_> = rsp
        .dept_list
        .iter()
        .map(|d| {
            (
                d.dept_id.unwrap(),
                d.priority.unwrap(),
                String::from_utf8(d.dept_name.clone().unwrap()).unwrap(),
                d.dept_status.unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![(1, 1, "研发".to_string(), 0), (2, 2, "销售".to_string(), 1)]
    );
    assert_eq!(rsp.dept_list[0].parent_dept_id, Some(0));
    let req = ImDepartmentReq {
        user_id: Some(1),
        latest_update_time: Some(300),
        attach_data: ab(),
    };
    let rsp: ImDepartmentRsp = call(&mut c, 0x0210, &req, 2, 0x0211).await;
    assert_eq!(
        (rsp.dept_list.len(), rsp.latest_update_time),
        (0, Some(300))
    );
}

async fn sign_info(
    c: &mut tt_dbproxy::client::Client,
    user: u32,
    text: &[u8],
) -> ImChangeSignInfoRsp {
    let req = ImChangeSignInfoReq {
        user_id: Some(user),
        sign_info: Some(text.to_vec()),
        attach_data: ab(),
    };
    call(c, 0x0213, &req, 2, 0x0214).await
}

async fn case37_sign_info_moves_the_gate(b: Backend) {
    let s = TestServer::seeded(b).await;
    s.store.set_user_list_gate(5000).await.unwrap();
    let mut c = s.client().await;
    let text = "新签名".as_bytes();
    let rsp = sign_info(&mut c, 2, text).await;
    assert_eq!(
        rsp,
        ImChangeSignInfoRsp {
            user_id: Some(2),
            result_code: Some(0),
            sign_info: Some(text.to_vec()),
            attach_data: ab()
        }
    );
    let row = &s.store.users_by_ids(&[2]).await.unwrap()[0];
    assert_eq!((row.sign_info.as_str(), row.updated), ("新签名", NOW));
    assert_eq!(s.store.user_list_gate().await.unwrap(), Some(NOW));
    let sync = all_users(&mut c, 4000).await;
    assert_eq!(user_ids(&sync.user_list), vec![2]);
    assert_eq!(sync.latest_update_time, Some(NOW));
}

async fn case38_sign_info_length_limit(b: Backend) {
    let s = TestServer::seeded(b).await;
    let mut c = s.client().await;
    let rsp = sign_info(&mut c, 2, &[b'a'; 129]).await;
    assert_eq!((rsp.result_code, rsp.sign_info), (Some(1), None));
    assert_eq!(s.store.users_by_ids(&[2]).await.unwrap()[0].sign_info, "");
    let rsp = sign_info(&mut c, 2, &[b'a'; 128]).await;
    assert_eq!(rsp.result_code, Some(0));
}

async fn case39_sign_info_with_quotes_is_stored_literally(b: Backend) {
    let s = TestServer::seeded(b).await;
    let mut c = s.client().await;
    for text in [
        "it's', nick='hacked",
        "x', nick='boss' WHERE id=1 -- ",
        "nul\0 and 😀",
    ] {
        assert_eq!(
            sign_info(&mut c, 2, text.as_bytes()).await.result_code,
            Some(0),
            "{text}"
        );
        assert_eq!(s.store.users_by_ids(&[2]).await.unwrap()[0].sign_info, text);
        s.clock.advance(1);
    }
    let nicks: Vec<String> = s
        .store
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.nick)
        .collect();
    assert_eq!(nicks, vec!["张远龙", "测试", "离职"]);
}

async fn sign_info_that_is_not_utf8_is_refused(b: Backend) {
    let s = TestServer::seeded(b).await;
    let mut c = s.client().await;
    assert_eq!(sign_info(&mut c, 2, b"\xff\xfe").await.result_code, Some(1));
    assert_eq!(s.store.calls(StoreOp::SetSignInfo), 0);
}

on_every_backend!(
    case19_set_push_shield,
    case20_set_push_shield_unknown_user,
    push_shield_values_other_than_0_and_1_are_refused,
    case21_query_push_shield_golden_bytes,
    case22_query_push_shield_unknown_user,
    case23_parse_failure_gives_no_reply,
    case23a_same_value_in_the_same_second_reports_failure,
    case31_user_info,
    case32_user_info_empty_list_runs_no_query,
    user_info_returns_every_row_of_a_large_list_and_refuses_too_many,
    user_info_for_runs_and_scattered_ids,
    case33_to_35_all_users_with_the_gate,
    all_users_store_failure_echoes_the_clients_time,
    case36_departments,
    case37_sign_info_moves_the_gate,
    case38_sign_info_length_limit,
    case39_sign_info_with_quotes_is_stored_literally,
    sign_info_that_is_not_utf8_is_refused,
);

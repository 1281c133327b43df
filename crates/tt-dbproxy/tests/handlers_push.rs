//! Device tokens and group push settings over real TCP (accounts spec §9
//! cases 40–50), on every backend.

mod common;

use common::*;
use tt_dbproxy::store::prelude::*;
use tt_dbproxy::store::{DeviceToken, Platform, StoreOp};
use tt_proto::im::base_define::{ShieldStatus, UserTokenInfo};
use tt_proto::im::group::{ImGroupShieldReq, ImGroupShieldRsp};
use tt_proto::im::login::{ImDeviceTokenReq, ImDeviceTokenRsp};
use tt_proto::im::server::{
    ImGetDeviceTokenReq, ImGetDeviceTokenRsp, ImGroupGetShieldReq, ImGroupGetShieldRsp,
};

/// Sets the server's clock to `hour:minute` local time (the test zone is
/// UTC+8) on the fixture's day.
fn at_local(s: &TestServer, hour: u32, minute: u32) {
    let offset = 8 * 3600;
    let midnight = T0 - (T0 + offset) % 86_400;
    s.clock.set(midnight + hour * 3600 + minute * 60);
    assert_eq!(s.clock.local_hour_minute(), (hour, minute));
}

async fn register(
    c: &mut tt_dbproxy::client::Client,
    user: u32,
    token: &[u8],
    client_type: Option<i32>,
) {
    let req = ImDeviceTokenReq {
        user_id: Some(user),
        device_token: Some(token.to_vec()),
        client_type,
        attach_data: ab(),
    };
    let rsp: ImDeviceTokenRsp = call(c, 0x0108, &req, 1, 0x0109).await;
    assert_eq!(
        rsp,
        ImDeviceTokenRsp {
            user_id: Some(user),
            attach_data: ab()
        }
    );
}

fn token(user_id: u32, platform: Platform, token: &str) -> DeviceToken {
    DeviceToken {
        user_id,
        platform,
        token: token.into(),
    }
}

async fn case40_to_42_register_tokens(b: Backend) {
    let s = TestServer::seeded(b).await;
    let mut c = s.client().await;
    register(&mut c, 1, b"abc", Some(0x11)).await;
    assert_eq!(
        s.store.device_tokens(&[1]).await.unwrap(),
        vec![token(1, Platform::Ios, "abc")]
    );
    register(&mut c, 1, b"def", Some(0x12)).await;
    assert_eq!(
        s.store.device_tokens(&[1]).await.unwrap(),
        vec![token(1, Platform::Android, "def")]
    );
    register(&mut c, 2, b"tok", None).await;
    assert_eq!(
        s.store.device_tokens(&[2]).await.unwrap(),
        vec![token(2, Platform::Other, "tok")]
    );
    // An undeclared client type reads as Windows: stored bare.
    register(&mut c, 3, b"win", Some(0x55)).await;
    assert_eq!(
        s.store.device_tokens(&[3]).await.unwrap(),
        vec![token(3, Platform::Other, "win")]
    );
}

async fn a_token_taken_over_by_another_user_leaves_its_old_owner(b: Backend) {
    let s = TestServer::seeded(b).await;
    let mut c = s.client().await;
    register(&mut c, 1, b"shared", Some(0x11)).await;
    register(&mut c, 2, b"shared", Some(0x11)).await;
    assert_eq!(
        s.store.device_tokens(&[1, 2]).await.unwrap(),
        vec![token(2, Platform::Ios, "shared")]
    );
}

async fn digit_only_and_non_utf8_tokens_are_not_stored(b: Backend) {
    let s = TestServer::seeded(b).await;
    let mut c = s.client().await;
    register(&mut c, 1, b"abc", Some(0x11)).await;
    for bad in [&b"42"[..], b"\xff\xfe"] {
        register(&mut c, 1, bad, Some(0x11)).await;
    }
    assert_eq!(
        s.store.device_tokens(&[1]).await.unwrap(),
        vec![token(1, Platform::Ios, "abc")]
    );
    assert_eq!(s.store.calls(StoreOp::RegisterDeviceToken), 1);
    assert_eq!(s.store.calls(StoreOp::ClearDeviceToken), 0);
}

/// A Redis string key of the MySQL+Redis backend (`None` when absent).
fn redis_get(s: &TestServer, key: &str) -> Option<String> {
    let lease = s.redis.as_ref().unwrap();
    redis::cmd("GET").arg(key).query(&mut lease.conn()).unwrap()
}

/// msg_server's logout (no client type) and duplicate-login kick (a
/// mobile type) send an empty token: whatever the type, the user has no
/// token afterwards, the reply is unchanged, and other users keep theirs.
async fn an_empty_token_unregisters_for_any_client_type(b: Backend) {
    let s = TestServer::seeded(b).await;
    at_local(&s, 12, 0);
    let mut c = s.client().await;
    register(&mut c, 2, b"other", Some(0x12)).await;
    for (i, client_type) in [None, Some(0x11), Some(0x12), Some(0x01), Some(0x55)]
        .into_iter()
        .enumerate()
    {
        // Old tokens of every platform: `ios:`, `android:` and bare values.
        let old = format!("tok{i}");
        let old_type = [Some(0x11), Some(0x12), None][i % 3];
        register(&mut c, 1, old.as_bytes(), old_type).await;
        assert_eq!(s.store.device_tokens(&[1]).await.unwrap().len(), 1);
        register(&mut c, 1, b"", client_type).await;
        assert_eq!(
            get_tokens(&mut c, vec![1, 2]).await.user_token_info,
            vec![info(2, 0x12, "other", 0)],
            "{client_type:?}"
        );
        assert_eq!(s.store.device_tokens(&[1]).await.unwrap(), vec![]);
        if s.redis.is_some() {
            assert_eq!(redis_get(&s, "device_1").as_deref(), Some(""));
            assert_eq!(redis_get(&s, &format!("device_{old}")).as_deref(), Some(""));
            assert_eq!(redis_get(&s, "device_other").as_deref(), Some("2"));
            assert_eq!(redis_get(&s, "device_"), None);
        }
    }
    // Unregistering twice, or without a token, changes nothing.
    register(&mut c, 1, b"", None).await;
    register(&mut c, 3, b"", Some(0x11)).await;
    assert_eq!(s.store.device_tokens(&[1, 3]).await.unwrap(), vec![]);
    // A new token registers as before.
    register(&mut c, 1, b"again", Some(0x12)).await;
    assert_eq!(
        get_tokens(&mut c, vec![1]).await.user_token_info,
        vec![info(1, 0x12, "again", 0)]
    );
    if s.redis.is_some() {
        assert_eq!(redis_get(&s, "device_"), None);
    }
}

/// The old token's reverse key is cleared only while it still names the
/// user: a key naming someone else (data the original left behind) stays.
async fn unregistering_leaves_a_token_that_names_another_user(b: Backend) {
    let s = TestServer::seeded(b).await;
    at_local(&s, 12, 0);
    let mut c = s.client().await;
    let Some(lease) = s.redis.as_ref() else {
        // One row per user: no token can name two users here.
        register(&mut c, 2, b"t2", Some(0x12)).await;
        register(&mut c, 3, b"t3", Some(0x12)).await;
        register(&mut c, 2, b"", Some(0x12)).await;
        assert_eq!(
            get_tokens(&mut c, vec![2, 3]).await.user_token_info,
            vec![info(3, 0x12, "t3", 0)]
        );
        return;
    };
    let _: () = redis::pipe()
        .cmd("SET")
        .arg("device_2")
        .arg("android:t2")
        .cmd("SET")
        .arg("device_3")
        .arg("android:t2")
        .cmd("SET")
        .arg("device_t2")
        .arg("3")
        .query(&mut lease.conn())
        .unwrap();
    register(&mut c, 2, b"", Some(0x12)).await;
    assert_eq!(redis_get(&s, "device_2").as_deref(), Some(""));
    assert_eq!(redis_get(&s, "device_t2").as_deref(), Some("3"));
    assert_eq!(redis_get(&s, "device_3").as_deref(), Some("android:t2"));
    assert_eq!(redis_get(&s, "device_"), None);
    assert_eq!(
        get_tokens(&mut c, vec![2, 3]).await.user_token_info,
        vec![info(3, 0x12, "t2", 0)]
    );
}

async fn get_tokens(c: &mut tt_dbproxy::client::Client, ids: Vec<u32>) -> ImGetDeviceTokenRsp {
    let req = ImGetDeviceTokenReq {
        user_id: ids,
        attach_data: ab(),
    };
    call(c, 0x0705, &req, 7, 0x0706).await
}

fn info(user_id: u32, user_type: i32, token: &str, push_count: u32) -> UserTokenInfo {
    UserTokenInfo {
        user_id: Some(user_id),
        user_type: Some(user_type),
        token: Some(token.as_bytes().to_vec()),
        push_count: Some(push_count),
        push_type: Some(1),
    }
}

async fn case43_tokens_in_daytime(b: Backend) {
    let s = TestServer::seeded(b).await;
    at_local(&s, 12, 0);
    let st = s.store.as_ref();
    st.register_device_token(1, Platform::Ios, "abc")
        .await
        .unwrap();
    st.register_device_token(10, Platform::Android, "def")
        .await
        .unwrap();
    st.register_device_token(2, Platform::Other, "tok")
        .await
        .unwrap();
    st.add_unread(1, 2, 3).await.unwrap();
    st.add_unread(1, 7, 2).await.unwrap();
    let mut c = s.client().await;
    let rsp = get_tokens(&mut c, vec![1, 2, 3, 10, 1]).await;
    assert_eq!(
        rsp.user_token_info,
        vec![info(1, 0x11, "abc", 5), info(10, 0x12, "def", 0)]
    );
    assert_eq!(rsp.attach_data, ab());
}

async fn push_count_adds_group_unread_and_never_a_negative(b: Backend) {
    let s = TestServer::seeded(b).await;
    at_local(&s, 12, 0);
    let st = s.store.as_ref();
    st.register_device_token(1, Platform::Android, "a1")
        .await
        .unwrap();
    st.add_unread(1, 2, 1).await.unwrap();
    // Group 5: 10 messages, user 1 read 4 of them.
    st.add_group_member(5, 1, 100).await.unwrap();
    for _ in 0..4 {
        st.incr_group_total(5).await.unwrap();
    }
    st.mark_group_read(1, 5).await.unwrap();
    for _ in 0..6 {
        st.incr_group_total(5).await.unwrap();
    }
    // Group 6: total 1 but the mark is ahead (stale data): counts 0, and
    // nothing is carried over from group 5.
    st.add_group_member(6, 1, 200).await.unwrap();
    for _ in 0..3 {
        st.incr_group_total(6).await.unwrap();
    }
    st.mark_group_read(1, 6).await.unwrap();
    // Group 7: member, no messages ever.
    st.add_group_member(7, 1, 300).await.unwrap();
    let mut c = s.client().await;
    let rsp = get_tokens(&mut c, vec![1]).await;
    assert_eq!(rsp.user_token_info, vec![info(1, 0x12, "a1", 1 + 6)]);
}

async fn case44_quiet_hours_leave_out_shielded_ios_users(b: Backend) {
    let s = TestServer::seeded(b).await;
    let st = s.store.as_ref();
    st.register_device_token(1, Platform::Ios, "abc")
        .await
        .unwrap();
    st.register_device_token(2, Platform::Ios, "t2")
        .await
        .unwrap();
    st.register_device_token(10, Platform::Android, "def")
        .await
        .unwrap();
    let mut c = s.client().await;
    let users = |r: ImGetDeviceTokenRsp| {
        r.user_token_info
            .iter()
            .filter_map(|i| i.user_id)
            .collect::<Vec<_>>()
    };
    for (h, m, expect) in [
        (23, 30, vec![1, 10]),
        (7, 30, vec![1, 10]),
        (8, 0, vec![1, 10, 2]),
        (21, 59, vec![1, 10, 2]),
    ] {
        at_local(&s, h, m);
        assert_eq!(
            users(get_tokens(&mut c, vec![1, 2, 10]).await),
            expect,
            "{h}:{m}"
        );
    }
}

async fn case45_empty_request_body(b: Backend) {
    let s = TestServer::seeded(b).await;
    let mut c = s.client().await;
    let rsp = raw_request(&mut c, 7, 0x0705, 7, vec![], 0x0706).await;
    assert_eq!(rsp.header.service_id, 7);
    assert_eq!(rsp.body.as_ref(), &[0xa2, 0x01, 0x00]);
}

async fn group_fixture(b: Backend) -> TestServer {
    let s = TestServer::seeded(b).await;
    s.store.add_group_member(5, 1, 100).await.unwrap();
    s.store.add_group_member(5, 2, 100).await.unwrap();
    s
}

async fn set_shield(
    c: &mut tt_dbproxy::client::Client,
    user: u32,
    group: u32,
    status: u32,
) -> ImGroupShieldRsp {
    let req = ImGroupShieldReq {
        user_id: Some(user),
        group_id: Some(group),
        shield_status: Some(status),
        attach_data: ab(),
    };
    call(c, 0x0409, &req, 4, 0x040a).await
}

async fn case46_to_48_set_group_shield(b: Backend) {
    let s = group_fixture(b).await;
    let mut c = s.client().await;
    let rsp = set_shield(&mut c, 1, 5, 1).await;
    assert_eq!(
        rsp,
        ImGroupShieldRsp {
            user_id: Some(1),
            group_id: Some(5),
            result_code: Some(0),
            attach_data: ab()
        }
    );
    assert_eq!(s.store.group_push_shields(5).await.unwrap(), vec![(1, 1)]);
    assert_eq!(
        set_shield(&mut c, 9, 5, 1).await.result_code,
        Some(1),
        "not a member"
    );
    assert_eq!(
        set_shield(&mut c, 1, 6, 1).await.result_code,
        Some(1),
        "unknown group answers"
    );
    assert_eq!(s.store.group_push_shields(5).await.unwrap(), vec![(1, 1)]);
    s.store.fail_next(StoreOp::GroupExists, 1);
    assert_eq!(
        set_shield(&mut c, 1, 5, 0).await.result_code,
        Some(1),
        "store down answers"
    );
}

async fn get_shield(
    c: &mut tt_dbproxy::client::Client,
    group: u32,
    users: Vec<u32>,
) -> ImGroupGetShieldRsp {
    let req = ImGroupGetShieldReq {
        group_id: Some(group),
        user_id: users,
        attach_data: ab(),
    };
    call(c, 0x0711, &req, 7, 0x0712).await
}

fn shield(user: u32, group: u32, status: u32) -> ShieldStatus {
    ShieldStatus {
        user_id: Some(user),
        group_id: Some(group),
        shield_status: Some(status),
    }
}

async fn case49_50_get_group_shield(b: Backend) {
    let s = group_fixture(b).await;
    s.store.set_group_push_shield(5, 1, 1).await.unwrap();
    let mut c = s.client().await;
    let rsp = get_shield(&mut c, 5, vec![1, 2, 2, 9]).await;
    assert_eq!(rsp.group_id, Some(5));
    assert_eq!(
        rsp.shield_status_list,
        vec![
            shield(1, 5, 1),
            shield(2, 5, 0),
            shield(2, 5, 0),
            shield(9, 5, 0)
        ]
    );
    assert_eq!(rsp.attach_data, ab());
    let unknown = get_shield(&mut c, 6, vec![1]).await;
    assert_eq!(
        (unknown.group_id, unknown.shield_status_list.len()),
        (Some(6), 0)
    );
    s.store.fail_next(StoreOp::GroupPushShields, 1);
    assert!(
        get_shield(&mut c, 5, vec![1])
            .await
            .shield_status_list
            .is_empty()
    );
}

on_every_backend!(
    case40_to_42_register_tokens,
    a_token_taken_over_by_another_user_leaves_its_old_owner,
    digit_only_and_non_utf8_tokens_are_not_stored,
    an_empty_token_unregisters_for_any_client_type,
    unregistering_leaves_a_token_that_names_another_user,
    case43_tokens_in_daytime,
    push_count_adds_group_unread_and_never_a_negative,
    case44_quiet_hours_leave_out_shielded_ios_users,
    case45_empty_request_body,
    case46_to_48_set_group_shield,
    case49_50_get_group_shield,
);

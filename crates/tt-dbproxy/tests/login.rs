//! CID_OTHER_VALIDATE_REQ over real TCP: accounts spec §9 cases 9–18 plus
//! input the original crashes or misbehaves on.

mod common;

use common::*;
use prost::Message;
use tt_dbproxy::handler::login::{MSG_AUTH_FAILED, MSG_INTERNAL, MSG_OK, MSG_THROTTLED};
use tt_dbproxy::store::StoreOp;
use tt_proto::im::base_define::UserInfo;
use tt_proto::im::server::ImValidateRsp;

async fn server() -> TestServer {
    let s = TestServer::start().await;
    seed_spec_users(s.store.as_ref()).await;
    s
}

fn assert_failed(rsp: &ImValidateRsp, name: &str, code: u32, msg: &str) {
    assert_eq!(rsp.user_name.as_deref(), Some(name.as_bytes()));
    assert_eq!(rsp.result_code, Some(code));
    assert_eq!(rsp.result_string.as_deref(), Some(msg.as_bytes()));
    assert_eq!(rsp.user_info, None);
    assert_eq!(rsp.attach_data.as_deref(), Some(&b"AB"[..]));
}

#[tokio::test]
async fn case09_correct_password() {
    let s = server().await;
    let mut c = s.client().await;
    let rsp = login(&mut c, "zhangyl", GOOD_PASSWORD).await;
    assert_eq!(rsp.user_name.as_deref(), Some(&b"zhangyl"[..]));
    assert_eq!(rsp.result_code, Some(0));
    assert_eq!(rsp.result_string.as_deref(), Some(MSG_OK.as_bytes()));
    assert_eq!(rsp.attach_data.as_deref(), Some(&b"AB"[..]));
    let s = |v: &str| Some(v.as_bytes().to_vec());
    assert_eq!(
        rsp.user_info,
        Some(UserInfo {
            user_id: Some(1),
            user_gender: Some(1),
            user_nick_name: s("张远龙"),
            avatar_url: s(""),
            department_id: Some(2),
            email: s("a@x.com"),
            user_real_name: s("zhangyl"),
            user_tel: s("13900000001"),
            user_domain: s("zyl"),
            status: Some(0),
            sign_info: s("hello"),
        })
    );
}

#[tokio::test]
async fn case10_wrong_password() {
    let s = server().await;
    let mut c = s.client().await;
    assert_failed(
        &login(&mut c, "zhangyl", "000").await,
        "zhangyl",
        1,
        MSG_AUTH_FAILED,
    );
}

#[tokio::test]
async fn case11_unknown_user() {
    let s = server().await;
    let mut c = s.client().await;
    assert_failed(
        &login(&mut c, "nobody", GOOD_PASSWORD).await,
        "nobody",
        1,
        MSG_AUTH_FAILED,
    );
}

#[tokio::test]
async fn case12_departed_user() {
    let s = server().await;
    let mut c = s.client().await;
    assert_failed(
        &login(&mut c, "gone", GOOD_PASSWORD).await,
        "gone",
        1,
        MSG_AUTH_FAILED,
    );
}

#[tokio::test]
async fn case13_sql_injection_attempt() {
    let s = server().await;
    let mut c = s.client().await;
    for name in ["x' or '1'='1", "zhangyl' --", "zhangyl\" OR 1=1 --"] {
        assert_failed(
            &login(&mut c, name, GOOD_PASSWORD).await,
            name,
            1,
            MSG_AUTH_FAILED,
        );
    }
}

#[tokio::test]
async fn case14_throttle_blocks_the_twelfth_attempt_until_the_window_passes() {
    let s = server().await;
    let mut c = s.client().await;
    for t in 0..11 {
        s.clock.set(T0 + t);
        assert_failed(
            &login(&mut c, "zhangyl", "000").await,
            "zhangyl",
            1,
            MSG_AUTH_FAILED,
        );
    }
    s.clock.set(T0 + 11);
    let lookups = s.store.calls(StoreOp::FindActiveUserByName);
    assert_failed(
        &login(&mut c, "zhangyl", GOOD_PASSWORD).await,
        "zhangyl",
        6,
        MSG_THROTTLED,
    );
    assert_eq!(
        s.store.calls(StoreOp::FindActiveUserByName),
        lookups,
        "no query when throttled"
    );
    s.clock.set(T0 + 1800);
    assert_eq!(
        login(&mut c, "zhangyl", GOOD_PASSWORD).await.result_code,
        Some(6)
    );
    s.clock.set(T0 + 1801);
    let rsp = login(&mut c, "zhangyl", GOOD_PASSWORD).await;
    assert_eq!(rsp.result_code, Some(0));
    assert!(rsp.user_info.is_some());
}

#[tokio::test]
async fn case15_success_resets_the_throttle() {
    let s = server().await;
    let mut c = s.client().await;
    for _ in 0..10 {
        assert_eq!(login(&mut c, "zhangyl", "000").await.result_code, Some(1));
    }
    assert_eq!(
        login(&mut c, "zhangyl", GOOD_PASSWORD).await.result_code,
        Some(0)
    );
    for _ in 0..11 {
        assert_eq!(login(&mut c, "zhangyl", "000").await.result_code, Some(1));
    }
    assert_failed(
        &login(&mut c, "zhangyl", GOOD_PASSWORD).await,
        "zhangyl",
        6,
        MSG_THROTTLED,
    );
}

#[tokio::test]
async fn case16_throttle_is_per_exact_name() {
    let s = server().await;
    let mut c = s.client().await;
    for _ in 0..11 {
        login(&mut c, "zhangyl", "000").await;
    }
    assert_eq!(
        login(&mut c, "zhangyl", GOOD_PASSWORD).await.result_code,
        Some(6)
    );
    assert_failed(
        &login(&mut c, "ZHANGYL", GOOD_PASSWORD).await,
        "ZHANGYL",
        1,
        MSG_AUTH_FAILED,
    );
    assert_eq!(
        login(&mut c, "zhangyl", GOOD_PASSWORD).await.result_code,
        Some(6)
    );
    // Another user is not affected.
    assert_eq!(
        login(&mut c, "test", GOOD_PASSWORD).await.result_code,
        Some(0)
    );
}

#[tokio::test]
async fn case17_missing_required_field() {
    let s = server().await;
    let mut c = s.client().await;
    let body = vec![0x0a, 0x07, 0x7a, 0x68, 0x61, 0x6e, 0x67, 0x79, 0x6c];
    let rsp = raw_request(&mut c, 7, 0x0703, 7, body, 0x0704).await;
    assert_eq!(rsp.header.service_id, 7);
    let decoded = ImValidateRsp::decode(rsp.body.clone()).unwrap();
    assert_eq!(
        decoded.user_name,
        Some(Vec::new()),
        "user_name present and empty"
    );
    assert_eq!(decoded.result_code, Some(2));
    assert_eq!(
        decoded.result_string.as_deref(),
        Some(MSG_INTERNAL.as_bytes())
    );
    assert_eq!(decoded.user_info, None);
    assert_eq!(decoded.attach_data, None);
    // Field 1 is on the wire (0a 00) first.
    assert_eq!(&rsp.body[..2], &[0x0a, 0x00]);
}

#[tokio::test]
async fn case18_store_down_answers_code_2_and_is_not_counted() {
    let s = server().await;
    let mut c = s.client().await;
    s.store.fail_next(StoreOp::FindActiveUserByName, 12);
    for _ in 0..12 {
        assert_failed(
            &login(&mut c, "zhangyl", GOOD_PASSWORD).await,
            "zhangyl",
            2,
            MSG_INTERNAL,
        );
    }
    let rsp = login(&mut c, "zhangyl", GOOD_PASSWORD).await;
    assert_eq!(rsp.result_code, Some(0));
    assert_eq!(rsp.user_info.map(|u| u.user_id), Some(Some(1)));
}

#[tokio::test]
async fn garbage_and_empty_bodies_get_code_2_and_the_server_keeps_serving() {
    let s = server().await;
    let mut c = s.client().await;
    for body in [
        vec![],
        vec![0xff, 0xff, 0xff],
        vec![0x0a, 0x50, 0x41],
        vec![0x12, 0x01, 0x41],
    ] {
        let rsp = raw_request(&mut c, 7, 0x0703, 7, body, 0x0704).await;
        assert_eq!(
            ImValidateRsp::decode(rsp.body).unwrap().result_code,
            Some(2)
        );
    }
    assert_eq!(
        login(&mut c, "zhangyl", GOOD_PASSWORD).await.result_code,
        Some(0)
    );
}

#[tokio::test]
async fn non_utf8_names_and_passwords_fail_cleanly_and_are_echoed() {
    let s = server().await;
    let mut c = s.client().await;
    let name = b"zhang\xffyl";
    let body = validate_body(name, b"\xfe\xff", Some(b"AB"));
    let rsp = raw_request(&mut c, 7, 0x0703, 7, body, 0x0704).await;
    let rsp = ImValidateRsp::decode(rsp.body).unwrap();
    assert_eq!(rsp.result_code, Some(1));
    assert_eq!(rsp.user_name.as_deref(), Some(&name[..]));
    let body = validate_body(b"zhangyl", b"\xfe\xff", Some(b"AB"));
    let rsp = raw_request(&mut c, 7, 0x0703, 7, body, 0x0704).await;
    assert_eq!(
        ImValidateRsp::decode(rsp.body).unwrap().result_code,
        Some(1)
    );
}

#[tokio::test]
async fn absent_attach_data_is_echoed_as_present_and_empty() {
    let s = server().await;
    let mut c = s.client().await;
    let body = validate_body(b"zhangyl", GOOD_PASSWORD.as_bytes(), None);
    let rsp = raw_request(&mut c, 7, 0x0703, 7, body, 0x0704).await;
    assert_eq!(&rsp.body[rsp.body.len() - 3..], &[0xa2, 0x01, 0x00]);
}

#[tokio::test]
async fn restart_keeps_users() {
    let dir = tempfile::tempdir().unwrap();
    let first = TestServer::start_in(dir.path(), |_| {}).await;
    seed_spec_users(first.store.as_ref()).await;
    first.stop().await;
    let second = TestServer::start_in(dir.path(), |_| {}).await;
    let mut c = second.client().await;
    assert_eq!(
        login(&mut c, "zhangyl", GOOD_PASSWORD).await.result_code,
        Some(0)
    );
}

//! Offline files over real TCP (accounts spec §9 cases 51–55), on every
//! backend.

mod common;

use common::*;
use tt_dbproxy::store::StoreOp;
use tt_dbproxy::store::prelude::*;
use tt_proto::im::base_define::OfflineFileInfo;
use tt_proto::im::file::{
    ImFileAddOfflineReq, ImFileDelOfflineReq, ImFileHasOfflineReq, ImFileHasOfflineRsp,
};

fn add_req(task: &str, name: &str, size: u32) -> ImFileAddOfflineReq {
    ImFileAddOfflineReq {
        from_user_id: Some(1),
        to_user_id: Some(2),
        task_id: Some(task.as_bytes().to_vec()),
        file_name: Some(name.as_bytes().to_vec()),
        file_size: Some(size),
    }
}

fn del_req(task: &str) -> ImFileDelOfflineReq {
    ImFileDelOfflineReq {
        from_user_id: Some(1),
        to_user_id: Some(2),
        task_id: Some(task.as_bytes().to_vec()),
    }
}

async fn has(c: &mut tt_dbproxy::client::Client, user: u32) -> ImFileHasOfflineRsp {
    let req = ImFileHasOfflineReq {
        user_id: Some(user),
        attach_data: ab(),
    };
    call(c, 0x0509, &req, 5, 0x050a).await
}

fn file(task: &str, name: &str, size: u32) -> OfflineFileInfo {
    OfflineFileInfo {
        from_user_id: Some(1),
        task_id: Some(task.as_bytes().to_vec()),
        file_name: Some(name.as_bytes().to_vec()),
        file_size: Some(size),
    }
}

async fn case51_52_add_list_delete(b: Backend) {
    let s = TestServer::seeded(b).await;
    let mut c = s.client().await;
    send_and_wait(
        &s,
        &mut c,
        0x050b,
        prost::Message::encode_to_vec(&add_req("t-1", "a.txt", 10)),
        StoreOp::AddOfflineFile,
    )
    .await;
    s.clock.advance(1);
    send_and_wait(
        &s,
        &mut c,
        0x050b,
        prost::Message::encode_to_vec(&add_req("t-2", "b.txt", 20)),
        StoreOp::AddOfflineFile,
    )
    .await;
    let stored = s.store.offline_files_for(2).await.unwrap();
    assert_eq!(
        stored.iter().map(|f| f.created).collect::<Vec<_>>(),
        vec![T0, T0 + 1]
    );
    let rsp = has(&mut c, 2).await;
    assert_eq!(rsp.user_id, Some(2));
    assert_eq!(
        rsp.offline_file_list,
        vec![file("t-1", "a.txt", 10), file("t-2", "b.txt", 20)]
    );
    assert!(rsp.ip_addr_list.is_empty());
    assert_eq!(rsp.attach_data, ab());
    assert!(has(&mut c, 1).await.offline_file_list.is_empty());

    send_and_wait(
        &s,
        &mut c,
        0x050c,
        prost::Message::encode_to_vec(&del_req("t-1")),
        StoreOp::DeleteOfflineFile,
    )
    .await;
    assert_eq!(
        has(&mut c, 2).await.offline_file_list,
        vec![file("t-2", "b.txt", 20)]
    );
}

async fn case53_delete_with_injection_deletes_nothing(b: Backend) {
    let s = TestServer::seeded(b).await;
    let mut c = s.client().await;
    send_and_wait(
        &s,
        &mut c,
        0x050b,
        prost::Message::encode_to_vec(&add_req("t-1", "a.txt", 10)),
        StoreOp::AddOfflineFile,
    )
    .await;
    send_and_wait(
        &s,
        &mut c,
        0x050c,
        prost::Message::encode_to_vec(&del_req("x' OR '1'='1")),
        StoreOp::DeleteOfflineFile,
    )
    .await;
    assert_eq!(has(&mut c, 2).await.offline_file_list.len(), 1);
}

async fn case54_parse_failure_is_silent(b: Backend) {
    let s = TestServer::seeded(b).await;
    let mut c = s.client().await;
    let mut req = add_req("t-1", "a.txt", 10);
    req.file_size = None;
    assert_no_reply(&mut c, 0x050b, prost::Message::encode_to_vec(&req)).await;
    assert!(has(&mut c, 2).await.offline_file_list.is_empty());
    assert_eq!(s.store.calls(StoreOp::AddOfflineFile), 0);
}

async fn case55_large_file_size_round_trips(b: Backend) {
    let s = TestServer::seeded(b).await;
    let mut c = s.client().await;
    send_and_wait(
        &s,
        &mut c,
        0x050b,
        prost::Message::encode_to_vec(&add_req("big", "iso", 3_000_000_000)),
        StoreOp::AddOfflineFile,
    )
    .await;
    send_and_wait(
        &s,
        &mut c,
        0x050b,
        prost::Message::encode_to_vec(&add_req("max", "iso", u32::MAX)),
        StoreOp::AddOfflineFile,
    )
    .await;
    let sizes: Vec<u32> = has(&mut c, 2)
        .await
        .offline_file_list
        .iter()
        .filter_map(|f| f.file_size)
        .collect();
    assert_eq!(sizes, vec![3_000_000_000, u32::MAX]);
}

async fn names_are_stored_byte_exact_and_non_utf8_refused(b: Backend) {
    let s = TestServer::seeded(b).await;
    let mut c = s.client().await;
    let name = "报告 'final' \"v2\" 😀.pdf";
    send_and_wait(
        &s,
        &mut c,
        0x050b,
        prost::Message::encode_to_vec(&add_req("t-1", name, 1)),
        StoreOp::AddOfflineFile,
    )
    .await;
    let mut bad = add_req("t-2", "x", 1);
    bad.file_name = Some(b"\xff".to_vec());
    assert_no_reply(&mut c, 0x050b, prost::Message::encode_to_vec(&bad)).await;
    assert_eq!(
        has(&mut c, 2).await.offline_file_list,
        vec![file("t-1", name, 1)]
    );
}

async fn store_failure_gives_an_empty_list(b: Backend) {
    let s = TestServer::seeded(b).await;
    let mut c = s.client().await;
    send_and_wait(
        &s,
        &mut c,
        0x050b,
        prost::Message::encode_to_vec(&add_req("t-1", "a", 1)),
        StoreOp::AddOfflineFile,
    )
    .await;
    s.store.fail_next(StoreOp::OfflineFilesFor, 1);
    assert!(has(&mut c, 2).await.offline_file_list.is_empty());
    assert_eq!(has(&mut c, 2).await.offline_file_list.len(), 1);
}

on_every_backend!(
    case51_52_add_list_delete,
    case53_delete_with_injection_deletes_nothing,
    case54_parse_failure_is_silent,
    case55_large_file_size_round_trips,
    names_are_stored_byte_exact_and_non_utf8_refused,
    store_failure_gives_an_empty_list,
);

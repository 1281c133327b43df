//! Voice messages against a real local HTTP server standing in for the
//! media file server (messages spec §9 cases 15–18, 27–28), on every
//! backend.

mod common;

use common::fixtures::messages_fixture;
use common::msfs::FakeMsfs;
use common::*;
use tt_dbproxy::store::prelude::*;
use tt_dbproxy::store::{AudioRow, SingleMessageRow};
use tt_proto::im::message::{ImGetMsgListReq, ImGetMsgListRsp, ImMsgData};

const PAYLOAD: &[u8] = &[0, 0, 0, 3, b'A', b'B', b'C', b'D', b'E', b'F'];

async fn setup(b: Backend) -> (TestServer, FakeMsfs) {
    let msfs = FakeMsfs::start().await;
    let site = msfs.site();
    let s = TestServer::seeded_with(b, move |c| c.media.msfs_site = site).await;
    messages_fixture(&s).await;
    (s, msfs)
}

fn audio_msg(from: u32, to: u32, msg_type: i32, data: &[u8]) -> ImMsgData {
    ImMsgData {
        from_user_id: Some(from),
        to_session_id: Some(to),
        msg_id: Some(0),
        create_time: Some(1000),
        msg_type: Some(msg_type),
        msg_data: Some(data.to_vec()),
        attach_data: ab(),
    }
}

async fn history(
    c: &mut tt_dbproxy::client::Client,
    user: u32,
    kind: i32,
    session: u32,
) -> ImGetMsgListRsp {
    let req = ImGetMsgListReq {
        user_id: Some(user),
        session_type: Some(kind),
        session_id: Some(session),
        msg_id_begin: Some(0),
        msg_cnt: Some(10),
        attach_data: ab(),
    };
    call(c, 0x0309, &req, 3, 0x030a).await
}

async fn case15_single_audio_is_uploaded_and_recorded(b: Backend) {
    let (s, msfs) = setup(b).await;
    let mut c = s.client().await;
    let rsp: ImMsgData = call(&mut c, 0x0301, &audio_msg(1, 2, 2, PAYLOAD), 3, 0x0301).await;
    assert_eq!(rsp.msg_id, Some(7));
    assert_eq!(rsp.msg_data.as_deref(), Some(PAYLOAD));
    let uploads = msfs.state.lock().unwrap().uploads.clone();
    assert_eq!(uploads.len(), 1);
    let body = String::from_utf8_lossy(&uploads[0]).to_string();
    assert!(
        body.contains("filename=\"1.audio\"") && body.contains("\r\n\r\nABCDEF\r\n"),
        "{body}"
    );
    let row = s.store.single_history(1, 2, 0, 1).await.unwrap().remove(0);
    assert_eq!((row.msg_type, row.msg_id), (2, 7));
    let audio = s
        .store
        .audio(row.content.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        audio,
        AudioRow {
            id: audio.id,
            from_id: 1,
            to_id: 2,
            path: "http://f/a1".into(),
            size: 6,
            duration: 3,
            created: 1000
        }
    );
}

async fn case16_17_short_payload_or_msfs_failure_is_not_acknowledged(b: Backend) {
    let (s, msfs) = setup(b).await;
    let mut c = s.client().await;
    let rsp: ImMsgData = call(
        &mut c,
        0x0301,
        &audio_msg(1, 2, 2, &[0, 0, 0, 3]),
        3,
        0x0301,
    )
    .await;
    assert_eq!(rsp.msg_id, Some(0));
    assert!(msfs.state.lock().unwrap().uploads.is_empty(), "no upload");
    msfs.state.lock().unwrap().upload_reply = r#"{"error_code":1}"#.into();
    let rsp: ImMsgData = call(&mut c, 0x0301, &audio_msg(1, 2, 2, PAYLOAD), 3, 0x0301).await;
    assert_eq!(rsp.msg_id, Some(0));
    assert_eq!(
        s.store.single_history(1, 2, 0, 1).await.unwrap()[0].msg_id,
        6,
        "nothing stored"
    );
}

async fn case18_group_audio_records_the_group(b: Backend) {
    let (s, _msfs) = setup(b).await;
    let mut c = s.client().await;
    let rsp: ImMsgData = call(&mut c, 0x0301, &audio_msg(2, 5, 0x12, PAYLOAD), 3, 0x0301).await;
    assert_eq!(rsp.msg_id, Some(12));
    let row = s.store.group_history(5, 0, 0, 1).await.unwrap().remove(0);
    assert_eq!(row.msg_type, 0x12);
    let audio = s
        .store
        .audio(row.content.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(audio.to_id, 5);
}

async fn case27_28_history_downloads_audio_or_keeps_the_id(b: Backend) {
    let (s, msfs) = setup(b).await;
    let url = msfs.serve("/a42", b"ABCDEF");
    let id = s
        .store
        .add_audio(AudioRow {
            from_id: 1,
            to_id: 2,
            path: url,
            size: 6,
            duration: 3,
            created: 300,
            ..AudioRow::default()
        })
        .await
        .unwrap();
    let rel = s.store.relation_id(1, 2).await.unwrap().unwrap();
    for (msg_id, content, created) in [(7, id.to_string(), 300), (8, "999".to_string(), 400)] {
        let row = SingleMessageRow {
            relation_id: rel,
            from_id: 1,
            to_id: 2,
            msg_id,
            msg_type: 2,
            content,
            created,
        };
        s.store.insert_single_message(row).await.unwrap();
    }
    let mut c = s.client().await;
    let list = history(&mut c, 1, 1, 2).await.msg_list;
    assert_eq!(
        list[0].msg_data.as_deref(),
        Some(&b"999"[..]),
        "no IMAudio row: the id text"
    );
    assert_eq!(
        list[1].msg_data.as_deref(),
        Some(PAYLOAD),
        "downloaded, duration first"
    );
    assert_eq!(list.len(), 4);
}

on_every_backend!(
    case15_single_audio_is_uploaded_and_recorded,
    case16_17_short_payload_or_msfs_failure_is_not_acknowledged,
    case18_group_audio_records_the_group,
    case27_28_history_downloads_audio_or_keeps_the_id,
);

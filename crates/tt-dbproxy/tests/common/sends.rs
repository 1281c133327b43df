//! Sending messages over the wire, as the handler tests do.

use tt_dbproxy::client::Client;
use tt_proto::im::message::ImMsgData;

use super::{TestServer, ab, call};
use tt_dbproxy::store::prelude::*;

/// A message from `from` to `to` of `msg_type` (created at 1000).
pub fn msg(from: u32, to: u32, msg_type: i32, data: &[u8]) -> ImMsgData {
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

/// Sends `m` and checks the reply is the request but for `msg_id`.
pub async fn send(c: &mut Client, m: &ImMsgData) -> ImMsgData {
    let rsp: ImMsgData = call(c, 0x0301, m, 3, 0x0301).await;
    assert_eq!(
        ImMsgData {
            msg_id: m.msg_id,
            ..rsp.clone()
        },
        *m,
        "reply is the request but for msg_id"
    );
    rsp
}

/// The id a send got (`u32::MAX` if the reply has none).
pub async fn send_id(c: &mut Client, m: &ImMsgData) -> u32 {
    send(c, m).await.msg_id.unwrap_or(u32::MAX)
}

/// The ids stored from `from` to `to` (up to 100), oldest first.
pub async fn stored_ids(s: &TestServer, from: u32, to: u32) -> Vec<u32> {
    s.store
        .single_history(from, to, 0, 100)
        .await
        .unwrap()
        .iter()
        .map(|m| m.msg_id)
        .rev()
        .collect()
}

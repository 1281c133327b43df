//! CID_MSG_DATA (0x0301): store a message (messages spec §4.1), with the
//! original's bugs fixed: the reply carries the id only once the row is
//! committed (`msg_id 0` otherwise), ids come from the conversation's
//! counter (never reused), both users' sessions are kept, and a group send
//! by a non-member or to an unknown group is answered with `msg_id 0`.

use tracing::warn;
use tt_proto::im::base_define::MsgType;
use tt_proto::im::message::ImMsgData;

use super::body::{OrderKey, Reply};
use crate::state::AppState;
use crate::store::NewMessage;
use crate::store::logged;
use crate::wire::command::sid;

/// Longest stored text, in characters (the column is `varchar(4096)`).
pub const MAX_CONTENT_CHARS: usize = 4096;

/// Sends into one conversation run in arrival order: the key of a
/// one-to-one conversation is its unordered pair, a group's is the group.
pub fn ordering_key(req: &ImMsgData) -> OrderKey {
    let (from, to) = (
        req.from_user_id.unwrap_or(0),
        req.to_session_id.unwrap_or(0),
    );
    if is_group(req.msg_type.unwrap_or(0)) {
        OrderKey(u64::from(to) << 32)
    } else {
        OrderKey((u64::from(from.min(to)) << 32) | u64::from(from.max(to)))
    }
}

fn is_group(msg_type: i32) -> bool {
    msg_type == MsgType::GroupText as i32 || msg_type == MsgType::GroupAudio as i32
}

/// Stores a message; the reply is the request with `msg_id` set to the new
/// id, or 0 when nothing was stored. An empty message gets no reply.
pub async fn send(state: &AppState, req: ImMsgData) -> Option<Reply> {
    if req.msg_data.as_deref().is_none_or(<[u8]>::is_empty) {
        warn!(from = req.from_user_id, "message: empty data; no reply");
        return None;
    }
    let msg_id = store(state, &req).await.unwrap_or(0);
    let rsp = ImMsgData {
        msg_id: Some(msg_id),
        ..req
    };
    Some(Reply::new(sid::MSG, 0x0301, &rsp))
}

/// The stored content of a message, or `None` (logged) if it cannot be
/// stored.
async fn content(state: &AppState, req: &ImMsgData, group: bool) -> Option<String> {
    let data = req.msg_data.as_deref().unwrap_or_default();
    let msg_type = req.msg_type.unwrap_or(0);
    if crate::handler::audio::is_audio(u32::try_from(msg_type).unwrap_or(0)) {
        return crate::handler::audio::save(state, req, group).await;
    }
    let Ok(text) = std::str::from_utf8(data) else {
        warn!(
            from = req.from_user_id,
            "message: text is not UTF-8; not stored"
        );
        return None;
    };
    if text.chars().count() > MAX_CONTENT_CHARS {
        warn!(
            from = req.from_user_id,
            "message: longer than 4096 characters; not stored"
        );
        return None;
    }
    Some(text.to_string())
}

async fn store(state: &AppState, req: &ImMsgData) -> Option<u32> {
    let from = req.from_user_id.unwrap_or(0);
    let to = req.to_session_id.unwrap_or(0);
    let msg_type = req.msg_type.unwrap_or(0);
    let group = is_group(msg_type);
    if from == 0 || to == 0 || (!group && from == to) {
        warn!(from, to, "message: invalid sender or receiver; not stored");
        return None;
    }
    if group {
        let member = logged("group exists", state.groups().group_exists(to).await)?
            && logged(
                "is group member",
                state.groups().is_group_member(to, from).await,
            )?;
        if !member {
            warn!(
                from,
                group = to,
                "message: unknown group or not a member; not stored"
            );
            return None;
        }
    }
    let content = content(state, req, group).await?;
    let msg = NewMessage {
        from_id: from,
        to_id: to,
        group,
        msg_type: u32::try_from(msg_type).unwrap_or(0),
        content,
        created: req.create_time.unwrap_or(0),
        resend: crate::store::resend::key(
            req.msg_id.unwrap_or(0),
            req.msg_data.as_deref().unwrap_or_default(),
            state.config().storage.resend_window_s,
        ),
    };
    logged(
        "store message",
        state
            .messages()
            .store_message(msg, state.clock.now_secs())
            .await,
    )
}

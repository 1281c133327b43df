//! CID_MSG_LIST_REQUEST (0x0309), CID_MSG_GET_BY_MSG_ID_REQ (0x030d) and
//! CID_MSG_GET_LATEST_MSG_ID_REQ (0x030b) (messages spec §4.2, §4.5, §4.6).

use tt_proto::im::base_define::{MsgInfo, MsgType};
use tt_proto::im::message::{
    ImGetLatestMsgIdReq, ImGetLatestMsgIdRsp, ImGetMsgByIdReq, ImGetMsgByIdRsp, ImGetMsgListReq,
    ImGetMsgListRsp,
};

use super::body::{Reply, attach};
use crate::state::AppState;
use crate::store::logged;
use crate::store::{MessageRow, SESSION_GROUP, SESSION_SINGLE};
use crate::wire::command::sid;

/// Most messages one history page returns (clients ask for 20–50; the
/// original had no bound).
pub const MAX_PAGE: u32 = 200;
/// Most messages a lookup by id returns (the original's `LIMIT 100`).
pub const MAX_BY_ID: u32 = 100;

/// Rows as `MsgInfo`, skipping undeclared types, audio expanded.
async fn infos(state: &AppState, rows: Vec<MessageRow>) -> Vec<MsgInfo> {
    let rows: Vec<MessageRow> = rows
        .into_iter()
        .filter(|r| MsgType::try_from(r.msg_type as i32).is_ok())
        .collect();
    crate::handler::audio::expand(state, rows).await
}

fn kind(session_type: Option<i32>) -> u32 {
    session_type
        .and_then(|t| u32::try_from(t).ok())
        .unwrap_or(0)
}

/// A page of history, newest first. A group page starts at the member's
/// join time; non-members get an empty page.
pub async fn list(state: &AppState, req: ImGetMsgListReq) -> Reply {
    let (user, peer) = (req.user_id.unwrap_or(0), req.session_id.unwrap_or(0));
    let begin = req.msg_id_begin.unwrap_or(0);
    let count = req.msg_cnt.unwrap_or(0).min(MAX_PAGE);
    let rows = match kind(req.session_type) {
        SESSION_SINGLE => logged(
            "history",
            state
                .messages()
                .single_history(user, peer, begin, count)
                .await,
        ),
        SESSION_GROUP => {
            match logged(
                "join time",
                state.groups().group_join_time(peer, user).await,
            )
            .flatten()
            {
                Some(joined) => logged(
                    "group history",
                    state
                        .messages()
                        .group_history(peer, joined, begin, count)
                        .await,
                ),
                None => None,
            }
        }
        _ => None,
    };
    let rsp = ImGetMsgListRsp {
        user_id: req.user_id,
        session_type: req.session_type,
        session_id: req.session_id,
        msg_id_begin: req.msg_id_begin,
        msg_list: infos(state, rows.unwrap_or_default()).await,
        attach_data: attach(req.attach_data),
    };
    Reply::new(sid::MSG, 0x030a, &rsp)
}

/// Messages by id, newest first, at most 100.
pub async fn by_id(state: &AppState, req: ImGetMsgByIdReq) -> Reply {
    let (user, peer) = (req.user_id.unwrap_or(0), req.session_id.unwrap_or(0));
    let ids = &req.msg_id_list;
    let rows = if ids.is_empty() || ids.len() > crate::store::MAX_IDS_PER_REQUEST {
        None
    } else {
        match kind(req.session_type) {
            SESSION_SINGLE => logged(
                "messages by id",
                state
                    .messages()
                    .single_messages_by_id(user, peer, ids, MAX_BY_ID)
                    .await,
            ),
            SESSION_GROUP => {
                match logged(
                    "join time",
                    state.groups().group_join_time(peer, user).await,
                )
                .flatten()
                {
                    Some(joined) => logged(
                        "group messages by id",
                        state
                            .messages()
                            .group_messages_by_id(peer, joined, ids, MAX_BY_ID)
                            .await,
                    ),
                    None => None,
                }
            }
            _ => None,
        }
    };
    let rsp = ImGetMsgByIdRsp {
        user_id: req.user_id,
        session_type: req.session_type,
        session_id: req.session_id,
        msg_list: infos(state, rows.unwrap_or_default()).await,
        attach_data: attach(req.attach_data),
    };
    Reply::new(sid::MSG, 0x030e, &rsp)
}

/// The id of the newest stored message (0 if none). Like the original,
/// a group's latest id is not restricted to members.
pub async fn latest_id(state: &AppState, req: ImGetLatestMsgIdReq) -> Reply {
    let (user, peer) = (req.user_id.unwrap_or(0), req.session_id.unwrap_or(0));
    let last = logged(
        "last message",
        state
            .sessions()
            .last_messages(user, &[(peer, kind(req.session_type))])
            .await,
    )
    .and_then(|mut v| v.pop().flatten());
    let rsp = ImGetLatestMsgIdRsp {
        user_id: req.user_id,
        session_type: req.session_type,
        session_id: req.session_id,
        latest_msg_id: Some(last.map_or(0, |m| m.msg_id)),
        attach_data: attach(req.attach_data),
    };
    Reply::new(sid::MSG, 0x030c, &rsp)
}

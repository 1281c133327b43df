//! CID_BUDDY_LIST_RECENT_CONTACT_SESSION_REQUEST (0x0201) and
//! CID_BUDDY_LIST_REMOVE_SESSION_REQ (0x0206) (accounts spec §5.4, §5.5).

use tracing::debug;
use tt_proto::im::base_define::{ContactSessionInfo, MsgType};
use tt_proto::im::buddy::{
    ImRecentContactSessionReq, ImRecentContactSessionRsp, ImRemoveSessionReq, ImRemoveSessionRsp,
};

use super::body::{Reply, attach};
use crate::handler::audio::preview;
use crate::state::AppState;
use crate::store::logged;
use crate::store::{SESSION_GROUP, SESSION_SINGLE};
use crate::wire::command::sid;

/// Sessions per reply, newest first (the original's `LIMIT 100`).
pub const RECENT_SESSION_LIMIT: u32 = 100;

/// Lists recent sessions with each one's last message. Sessions with no
/// retrievable last message are omitted (the original's output is
/// undefined there), and the sender of a one-to-one last message is the
/// real sender (the original always names the peer).
pub async fn recent(state: &AppState, req: ImRecentContactSessionReq) -> Reply {
    let user_id = req.user_id.unwrap_or(0);
    let since = req.latest_update_time.unwrap_or(0);
    let sessions: Vec<_> = logged(
        "recent sessions",
        state
            .sessions()
            .recent_sessions(user_id, since, RECENT_SESSION_LIMIT)
            .await,
    )
    .unwrap_or_default()
    .into_iter()
    .filter(|s| {
        let known = matches!(s.session_type, SESSION_SINGLE | SESSION_GROUP);
        if !known {
            debug!(
                session = s.id,
                kind = s.session_type,
                "recent sessions: unknown type skipped"
            );
        }
        known
    })
    .collect();
    let pairs: Vec<(u32, u32)> = sessions
        .iter()
        .map(|s| (s.peer_id, s.session_type))
        .collect();
    let last = if pairs.is_empty() {
        Vec::new()
    } else {
        logged(
            "last messages",
            state.sessions().last_messages(user_id, &pairs).await,
        )
        .unwrap_or_default()
    };
    let list = sessions
        .iter()
        .zip(last)
        .filter_map(|(s, last)| {
            let m = last?;
            MsgType::try_from(m.msg_type as i32).ok()?;
            let (msg_id, msg_type, from_id) = (m.msg_id, m.msg_type, m.from_id);
            let data = preview(state, m);
            Some(ContactSessionInfo {
                session_id: Some(s.peer_id),
                session_type: Some(s.session_type as i32),
                session_status: Some(s.status as i32),
                updated_time: Some(s.updated),
                latest_msg_id: Some(msg_id),
                latest_msg_data: Some(data),
                latest_msg_type: Some(msg_type as i32),
                latest_msg_from_user_id: Some(from_id),
            })
        })
        .collect();
    let rsp = ImRecentContactSessionRsp {
        user_id: Some(user_id),
        contact_session_list: list,
        attach_data: attach(req.attach_data),
    };
    Reply::new(sid::BUDDY_LIST, 0x0202, &rsp)
}

/// Removes a session and clears its unread count (a one-to-one count is
/// deleted; a group is marked read up to its current total).
pub async fn remove(state: &AppState, req: ImRemoveSessionReq) -> Reply {
    let user_id = req.user_id.unwrap_or(0);
    let kind = req.session_type.unwrap_or(0);
    let peer = req.session_id.unwrap_or(0);
    let kind_u32 = u32::try_from(kind).unwrap_or(0);
    let now = state.clock.now_secs();
    let removed = match logged(
        "find session",
        state.sessions().find_session(user_id, peer, kind_u32).await,
    )
    .flatten()
    {
        Some(id) => logged(
            "remove session",
            state.sessions().remove_session(id, now).await,
        )
        .unwrap_or(false),
        None => false,
    };
    if removed {
        let cleared = if kind_u32 == SESSION_SINGLE {
            state.counters().clear_unread(user_id, peer).await
        } else {
            state.counters().mark_group_read(user_id, peer).await
        };
        logged("clear unread after session removal", cleared);
    }
    let rsp = ImRemoveSessionRsp {
        user_id: Some(user_id),
        result_code: Some(u32::from(!removed)),
        session_type: Some(kind),
        session_id: Some(peer),
        attach_data: attach(req.attach_data),
    };
    Reply::new(sid::BUDDY_LIST, 0x0207, &rsp)
}

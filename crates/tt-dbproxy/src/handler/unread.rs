//! CID_MSG_UNREAD_CNT_REQUEST (0x0307) and CID_MSG_READ_ACK (0x0303)
//! (messages spec §4.3, §4.4).

use tt_proto::im::base_define::{MsgType, UnreadInfo};
use tt_proto::im::message::{ImMsgDataReadAck, ImUnreadMsgCntReq, ImUnreadMsgCntRsp};

use super::body::{Reply, attach};
use crate::handler::audio::preview;
use crate::state::AppState;
use crate::store::logged;
use crate::store::{LastMessage, SESSION_GROUP, SESSION_SINGLE};
use crate::wire::command::sid;

fn entry(
    state: &AppState,
    session: u32,
    kind: u32,
    count: u32,
    last: LastMessage,
) -> Option<UnreadInfo> {
    MsgType::try_from(last.msg_type as i32).ok()?;
    let (msg_id, msg_type, from_id) = (last.msg_id, last.msg_type, last.from_id);
    Some(UnreadInfo {
        session_id: Some(session),
        session_type: Some(kind as i32),
        unread_cnt: Some(count),
        latest_msg_id: Some(msg_id),
        latest_msg_data: Some(preview(state, last)),
        latest_msg_type: Some(msg_type as i32),
        latest_msg_from_user_id: Some(from_id),
    })
}

/// Unread counts with each conversation's last message: one-to-one peers
/// in the original's order (their ids compared as text), then groups.
/// Conversations without a retrievable last message are left out and not
/// counted, so `total_cnt` is the sum of the listed counts.
pub async fn summary(state: &AppState, req: ImUnreadMsgCntReq) -> Reply {
    let user = req.user_id.unwrap_or(0);
    let mut counts: Vec<(u32, u32, u32)> =
        logged("unread counts", state.counters().unread_counts(user).await)
            .unwrap_or_default()
            .into_iter()
            .map(|(peer, n)| (peer, SESSION_SINGLE, n))
            .collect();
    counts.sort_by_key(|(peer, _, _)| peer.to_string());
    // The user's groups and the one-to-one peers' last messages come
    // together (one round trip on MySQL); groups' last messages only for
    // groups with something unread.
    let peers: Vec<u32> = counts.iter().map(|(peer, _, _)| *peer).collect();
    let (groups, mut last) = logged(
        "groups and last messages",
        state
            .sessions()
            .groups_and_last_messages(user, &peers)
            .await,
    )
    .unwrap_or_else(|| (Vec::new(), vec![None; peers.len()]));
    if !groups.is_empty() {
        let counters = logged(
            "group counters",
            state.counters().group_counters(user, &groups).await,
        )
        .unwrap_or_default();
        let mut unread_groups = Vec::new();
        for (g, counter) in groups.into_iter().zip(counters) {
            if let Some((total, mark)) = counter {
                let n = total.saturating_sub(mark);
                if n > 0 {
                    counts.push((g, SESSION_GROUP, n));
                    unread_groups.push((g, SESSION_GROUP));
                }
            }
        }
        if !unread_groups.is_empty() {
            let group_last = logged(
                "last messages",
                state.sessions().last_messages(user, &unread_groups).await,
            )
            .unwrap_or_else(|| vec![None; unread_groups.len()]);
            last.extend(group_last);
        }
    }
    let list: Vec<UnreadInfo> = counts
        .iter()
        .zip(last)
        .filter_map(|(&(session, kind, n), last)| entry(state, session, kind, n, last?))
        .collect();
    let total = list
        .iter()
        .filter_map(|e| e.unread_cnt)
        .fold(0u32, u32::saturating_add);
    let rsp = ImUnreadMsgCntRsp {
        user_id: Some(user),
        total_cnt: Some(total),
        unreadinfo_list: list,
        attach_data: attach(req.attach_data),
    };
    Reply::new(sid::MSG, 0x0308, &rsp)
}

/// Marks a conversation read (never answered): a one-to-one count is
/// cleared, a group's read mark moves to its current total. `msg_id` is
/// ignored, as in the original (counters have no per-message position).
pub async fn read_ack(state: &AppState, req: ImMsgDataReadAck) {
    let (user, session) = (req.user_id.unwrap_or(0), req.session_id.unwrap_or(0));
    let result = if req.session_type == Some(SESSION_GROUP as i32) {
        state.counters().mark_group_read(user, session).await
    } else {
        state.counters().clear_unread(user, session).await
    };
    logged("read ack", result);
}

//! CID_BUDDY_LIST_USER_INFO_REQUEST (0x0204), CID_BUDDY_LIST_ALL_USER_REQUEST
//! (0x0208) and CID_BUDDY_LIST_CHANGE_SIGN_INFO_REQUEST (0x0213) (accounts
//! spec §5.6, §5.7, §5.9).

use tracing::warn;
use tt_proto::im::buddy::{
    ImAllUserReq, ImAllUserRsp, ImChangeSignInfoReq, ImChangeSignInfoRsp, ImUsersInfoReq,
    ImUsersInfoRsp,
};

use super::body::{Reply, attach};
use super::userinfo::user_info;
use crate::state::AppState;
use crate::store::MAX_IDS_PER_REQUEST;
use crate::store::logged;
use crate::wire::command::sid;

/// Longest sign-info in bytes (the original's limit).
pub const MAX_SIGN_INFO_BYTES: usize = 128;

/// Users by id, ordered by id, each once; ids without a row are absent.
pub async fn users_info(state: &AppState, req: ImUsersInfoReq) -> Reply {
    let ids = &req.user_id_list;
    let users = if ids.is_empty() {
        Vec::new()
    } else if ids.len() > MAX_IDS_PER_REQUEST {
        warn!(
            count = ids.len(),
            max = MAX_IDS_PER_REQUEST,
            "user info: too many ids"
        );
        Vec::new()
    } else {
        logged("users by ids", state.users().users_by_ids(ids).await).unwrap_or_default()
    };
    let rsp = ImUsersInfoRsp {
        user_id: req.user_id,
        user_info_list: users.into_iter().map(user_info).collect(),
        attach_data: attach(req.attach_data),
    };
    Reply::new(sid::BUDDY_LIST, 0x0205, &rsp)
}

/// The user-list change gate, read from the store on every request; a
/// store without one gets `now` (as the original does at start-up).
async fn gate(state: &AppState) -> Option<u32> {
    match logged("user list gate", state.users().user_list_gate().await)? {
        Some(g) => Some(g),
        None => {
            let now = state.clock.now_secs();
            logged(
                "init user list gate",
                state.users().set_user_list_gate(now).await,
            );
            Some(now)
        }
    }
}

/// Incremental user sync. Nothing when the gate is at or before the
/// client's time; on a store failure the client's time is echoed so no
/// change is skipped.
pub async fn all_users(state: &AppState, req: ImAllUserReq) -> Reply {
    let since = req.latest_update_time.unwrap_or(0);
    let mut latest = since;
    let mut list = Vec::new();
    if gate(state).await.is_some_and(|g| g > since)
        && let Some(users) = logged("changed users", state.users().changed_users(since).await)
    {
        latest = users.iter().map(|u| u.updated).fold(since, u32::max);
        list = users.into_iter().map(user_info).collect();
    }
    let rsp = ImAllUserRsp {
        user_id: req.user_id,
        latest_update_time: Some(latest),
        user_list: list,
        attach_data: attach(req.attach_data),
    };
    Reply::new(sid::BUDDY_LIST, 0x0209, &rsp)
}

/// Changes a user's sign-info (stored verbatim, never part of SQL text)
/// and moves the user-list gate.
pub async fn change_sign_info(state: &AppState, req: ImChangeSignInfoReq) -> Reply {
    let user_id = req.user_id.unwrap_or(0);
    let raw = req.sign_info.unwrap_or_default();
    let now = state.clock.now_secs();
    let changed = if raw.len() > MAX_SIGN_INFO_BYTES {
        warn!(user_id, len = raw.len(), "sign info: longer than 128 bytes");
        false
    } else if let Ok(text) = std::str::from_utf8(&raw) {
        logged(
            "set sign info",
            state.users().set_sign_info(user_id, text, now).await,
        )
        .unwrap_or(false)
    } else {
        warn!(user_id, "sign info: not UTF-8; nothing stored");
        false
    };
    if changed {
        logged(
            "move user list gate",
            state.users().set_user_list_gate(now).await,
        );
    }
    let rsp = ImChangeSignInfoRsp {
        user_id: Some(user_id),
        result_code: Some(u32::from(!changed)),
        sign_info: changed.then_some(raw),
        attach_data: attach(req.attach_data),
    };
    Reply::new(sid::BUDDY_LIST, 0x0214, &rsp)
}

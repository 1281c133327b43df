//! CID_LOGIN_REQ_PUSH_SHIELD (0x010c) and CID_LOGIN_REQ_QUERY_PUSH_SHIELD
//! (0x010e): a user's "do not disturb" flag (accounts spec §5.2, §5.3).

use tracing::warn;
use tt_proto::im::login::{
    ImPushShieldReq, ImPushShieldRsp, ImQueryPushShieldReq, ImQueryPushShieldRsp,
};

use super::body::{Reply, attach};
use crate::state::AppState;
use crate::store::logged;
use crate::wire::command::sid;

/// Sets the flag. Only 0 and 1 are accepted (the column is a flag; the
/// original wrote any value); writing the same values within one second
/// reports failure, as MySQL's changed-rows count does.
pub async fn set(state: &AppState, req: ImPushShieldReq) -> Reply {
    let user_id = req.user_id.unwrap_or(0);
    let status = req.shield_status.unwrap_or(0);
    let changed = if status > 1 {
        warn!(user_id, status, "push shield: status must be 0 or 1");
        false
    } else {
        let now = state.clock.now_secs();
        logged(
            "set push shield",
            state.users().set_push_shield(user_id, status, now).await,
        )
        .unwrap_or(false)
    };
    let rsp = ImPushShieldRsp {
        user_id: Some(user_id),
        result_code: Some(u32::from(!changed)),
        shield_status: changed.then_some(status),
        attach_data: attach(req.attach_data),
    };
    Reply::new(sid::LOGIN, 0x010d, &rsp)
}

/// Reads the flag; unknown user or store failure → result 1.
pub async fn query(state: &AppState, req: ImQueryPushShieldReq) -> Reply {
    let user_id = req.user_id.unwrap_or(0);
    let status = logged(
        "query push shield",
        state.users().push_shield(user_id).await,
    )
    .flatten();
    let rsp = ImQueryPushShieldRsp {
        user_id: Some(user_id),
        result_code: Some(u32::from(status.is_none())),
        shield_status: status,
        attach_data: attach(req.attach_data),
    };
    Reply::new(sid::LOGIN, 0x010f, &rsp)
}

//! CID_GROUP_SHIELD_GROUP_REQUEST (0x0409) and CID_OTHER_GET_SHIELD_REQ
//! (0x0711): per-member group push settings (accounts spec §5.12, §5.13).

use std::collections::HashMap;

use tracing::warn;
use tt_proto::im::base_define::ShieldStatus;
use tt_proto::im::group::{ImGroupShieldReq, ImGroupShieldRsp};
use tt_proto::im::server::{ImGroupGetShieldReq, ImGroupGetShieldRsp};

use super::body::{Reply, attach};
use crate::state::AppState;
use crate::store::MAX_IDS_PER_REQUEST;
use crate::store::logged;
use crate::wire::command::sid;

/// Mutes or unmutes a group's pushes for a member. An unknown group, a
/// non-member or a store failure answers result 1 (the original does not
/// answer an unknown group at all). The value is stored as given.
pub async fn set(state: &AppState, req: ImGroupShieldReq) -> Reply {
    let user_id = req.user_id.unwrap_or(0);
    let group_id = req.group_id.unwrap_or(0);
    let status = req.shield_status.unwrap_or(0);
    let ok = logged("group exists", state.groups().group_exists(group_id).await).unwrap_or(false)
        && logged(
            "is group member",
            state.groups().is_group_member(group_id, user_id).await,
        )
        .unwrap_or(false)
        && logged(
            "set group push shield",
            state
                .groups()
                .set_group_push_shield(group_id, user_id, status)
                .await,
        )
        .is_some();
    let rsp = ImGroupShieldRsp {
        user_id: Some(user_id),
        group_id: Some(group_id),
        result_code: Some(u32::from(!ok)),
        attach_data: attach(req.attach_data),
    };
    Reply::new(sid::GROUP, 0x040a, &rsp)
}

/// Push settings of the requested users, in request order (duplicates
/// kept, 0 when unset). An unknown group or a store failure answers an
/// empty list (the original does not answer an unknown group).
pub async fn get(state: &AppState, req: ImGroupGetShieldReq) -> Reply {
    let group_id = req.group_id.unwrap_or(0);
    let ids = &req.user_id;
    let mut list = Vec::new();
    if ids.len() > MAX_IDS_PER_REQUEST {
        warn!(
            count = ids.len(),
            max = MAX_IDS_PER_REQUEST,
            "group shield: too many ids"
        );
    } else if !ids.is_empty()
        && logged("group exists", state.groups().group_exists(group_id).await).unwrap_or(false)
        && let Some(shields) = logged(
            "group push shields",
            state.groups().group_push_shields(group_id).await,
        )
    {
        let by_user: HashMap<u32, u32> = shields.into_iter().collect();
        list = ids
            .iter()
            .map(|u| ShieldStatus {
                user_id: Some(*u),
                group_id: Some(group_id),
                shield_status: Some(by_user.get(u).copied().unwrap_or(0)),
            })
            .collect();
    }
    let rsp = ImGroupGetShieldRsp {
        group_id: Some(group_id),
        shield_status_list: list,
        attach_data: attach(req.attach_data),
    };
    Reply::new(sid::OTHER, 0x0712, &rsp)
}

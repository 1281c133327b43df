//! CID_GROUP_NORMAL_LIST_REQUEST (0x0401), CID_GROUP_INFO_REQUEST (0x0403),
//! CID_GROUP_CREATE_REQUEST (0x0405) and CID_GROUP_CHANGE_MEMBER_REQUEST
//! (0x0407) (messages spec §4.7–§4.10), with the recommended fixes:
//! `userCnt` equals the member count, adding only existing members or
//! removing nobody succeeds with the real member list, and a change to an
//! unknown group gets result 1 instead of no reply.

use std::collections::BTreeMap;

use tracing::warn;
use tt_proto::im::base_define::{GroupInfo, GroupModifyType, GroupVersionInfo};
use tt_proto::im::group::{
    ImGroupChangeMemberReq, ImGroupChangeMemberRsp, ImGroupCreateReq, ImGroupCreateRsp,
    ImGroupInfoListReq, ImGroupInfoListRsp, ImNormalGroupListReq, ImNormalGroupListRsp,
};

use super::body::{Reply, attach};
use crate::state::AppState;
use crate::store::logged;
use crate::store::{MAX_IDS_PER_REQUEST, NewGroup, SESSION_GROUP};
use crate::wire::command::sid;

/// `IMGroup.type` of a fixed group (created by the admin).
pub const GROUP_NORMAL: u32 = 1;
/// `IMGroup.type` of a temporary group (created by clients).
pub const GROUP_TEMPORARY: u32 = 2;

/// Members in the original's order: their ids compared as text.
async fn members(state: &AppState, group: u32) -> Vec<u32> {
    let mut m =
        logged("group members", state.groups().group_members(group).await).unwrap_or_default();
    m.sort_by_key(|u| u.to_string());
    m.dedup();
    m
}

fn distinct_ascending(ids: &[u32]) -> Vec<u32> {
    let mut v = ids.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

/// The user's fixed groups with their versions, most recently updated
/// first (temporary groups are found through recent sessions).
pub async fn normal_list(state: &AppState, req: ImNormalGroupListReq) -> Reply {
    let user = req.user_id.unwrap_or(0);
    let ids = logged("user groups", state.groups().user_groups(user).await).unwrap_or_default();
    let groups = if ids.is_empty() {
        Vec::new()
    } else {
        logged("groups", state.groups().groups_by_ids(&ids).await).unwrap_or_default()
    };
    let rsp = ImNormalGroupListRsp {
        user_id: Some(user),
        group_version_list: groups
            .iter()
            .filter(|g| g.group_type == GROUP_NORMAL)
            .map(|g| GroupVersionInfo {
                group_id: Some(g.id),
                version: Some(g.version),
            })
            .collect(),
        attach_data: attach(req.attach_data),
    };
    Reply::new(sid::GROUP, 0x0402, &rsp)
}

/// Details of the requested groups that are newer than the client's
/// version (`shield_status` always 0, as the original).
pub async fn info(state: &AppState, req: ImGroupInfoListReq) -> Reply {
    let mut wanted: BTreeMap<u32, u32> = BTreeMap::new();
    if req.group_version_list.len() <= MAX_IDS_PER_REQUEST {
        for v in &req.group_version_list {
            let g = v.group_id.unwrap_or(0);
            if logged("group exists", state.groups().group_exists(g).await).unwrap_or(false) {
                wanted.insert(g, v.version.unwrap_or(0));
            }
        }
    }
    let ids: Vec<u32> = wanted.keys().copied().collect();
    let rows = if ids.is_empty() {
        Vec::new()
    } else {
        logged("groups", state.groups().groups_by_ids(&ids).await).unwrap_or_default()
    };
    let mut list = Vec::new();
    for g in rows {
        let newer = wanted.get(&g.id).is_some_and(|v| *v < g.version);
        if !newer || !matches!(g.group_type, GROUP_NORMAL | GROUP_TEMPORARY) {
            continue;
        }
        list.push(GroupInfo {
            group_id: Some(g.id),
            version: Some(g.version),
            group_name: Some(g.name.into_bytes()),
            group_avatar: Some(g.avatar.into_bytes()),
            group_creator_id: Some(g.creator),
            group_type: Some(g.group_type as i32),
            shield_status: Some(0),
            group_member_list: members(state, g.id).await,
        });
    }
    let rsp = ImGroupInfoListRsp {
        user_id: req.user_id,
        group_info_list: list,
        attach_data: attach(req.attach_data),
    };
    Reply::new(sid::GROUP, 0x0404, &rsp)
}

/// Creates a group. The creator is not added implicitly (clients list
/// themselves).
pub async fn create(state: &AppState, req: ImGroupCreateReq) -> Reply {
    let user = req.user_id.unwrap_or(0);
    let members = distinct_ascending(&req.member_id_list);
    let raw_name = req.group_name.clone().unwrap_or_default();
    let group = match (
        String::from_utf8(raw_name.clone()),
        String::from_utf8(req.group_avatar.clone().unwrap_or_default()),
    ) {
        (Ok(name), Ok(avatar))
            if !name.is_empty() && !members.is_empty() && members.len() <= MAX_IDS_PER_REQUEST =>
        {
            Some(NewGroup {
                name,
                avatar,
                creator: user,
                group_type: u32::try_from(req.group_type.unwrap_or(0)).unwrap_or(0),
                members: members.clone(),
            })
        }
        _ => {
            warn!(user, "create group: empty or non-UTF-8 name, or no members");
            None
        }
    };
    let created = match group {
        Some(g) => logged(
            "create group",
            state.groups().create_group(g, state.clock.now_secs()).await,
        ),
        None => None,
    };
    let rsp = ImGroupCreateRsp {
        user_id: Some(user),
        result_code: Some(u32::from(created.is_none())),
        group_id: created,
        group_name: Some(raw_name),
        user_id_list: members,
        attach_data: attach(req.attach_data),
    };
    Reply::new(sid::GROUP, 0x0406, &rsp)
}

/// Whether `user` may make this change: internal callers (user 0), the
/// creator, and anyone adding to a temporary group (as the original).
async fn allowed(state: &AppState, user: u32, group: u32, add: bool) -> bool {
    if user == 0 {
        return true;
    }
    let Some(g) =
        logged("group", state.groups().groups_by_ids(&[group]).await).and_then(|mut v| v.pop())
    else {
        return false;
    };
    matches!(g.group_type, GROUP_NORMAL | GROUP_TEMPORARY)
        && ((g.group_type == GROUP_TEMPORARY && add) || g.creator == user)
}

async fn change(
    state: &AppState,
    user: u32,
    group: u32,
    add: bool,
    set: Vec<u32>,
) -> Option<(Vec<u32>, Vec<u32>)> {
    if !logged("group exists", state.groups().group_exists(group).await)?
        || !allowed(state, user, group, add).await
    {
        return None;
    }
    let current = members(state, group).await;
    let changed: Vec<u32> = set
        .into_iter()
        .filter(|u| current.contains(u) != add)
        .collect();
    if changed.is_empty() {
        return Some((current, Vec::new()));
    }
    let now = state.clock.now_secs();
    logged(
        "change members",
        state
            .groups()
            .change_group_members(group, add, &changed, now)
            .await,
    )?;
    for u in &changed {
        // Added users start with nothing unread; removed users' marks stop.
        logged(
            "mark group read",
            state.counters().mark_group_read(*u, group).await,
        );
        if !add
            && let Some(Some(s)) = logged(
                "find session",
                state
                    .sessions()
                    .find_session(*u, group, SESSION_GROUP)
                    .await,
            )
        {
            logged(
                "remove session",
                state.sessions().remove_session(s, now).await,
            );
        }
    }
    Some((members(state, group).await, changed))
}

/// Adds or removes members; the reply lists the current members and the
/// ones actually changed.
pub async fn change_members(state: &AppState, req: ImGroupChangeMemberReq) -> Reply {
    let user = req.user_id.unwrap_or(0);
    let group = req.group_id.unwrap_or(0);
    let add = req.change_type == Some(GroupModifyType::Add as i32);
    let set = distinct_ascending(&req.member_id_list);
    let outcome = if set.len() > MAX_IDS_PER_REQUEST {
        None
    } else {
        change(state, user, group, add, set).await
    };
    let (cur, chg) = outcome.clone().unwrap_or_default();
    let rsp = ImGroupChangeMemberRsp {
        user_id: Some(user),
        change_type: req.change_type,
        result_code: Some(u32::from(outcome.is_none())),
        group_id: Some(group),
        cur_user_id_list: cur,
        chg_user_id_list: chg,
        attach_data: attach(req.attach_data),
    };
    Reply::new(sid::GROUP, 0x0408, &rsp)
}

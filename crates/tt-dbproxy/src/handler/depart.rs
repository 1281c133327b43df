//! CID_BUDDY_LIST_DEPARTMENT_REQUEST (0x0210): departments changed since a
//! time (accounts spec §5.8).

use tt_proto::im::base_define::DepartInfo;
use tt_proto::im::buddy::{ImDepartmentReq, ImDepartmentRsp};

use super::body::{Reply, attach};
use crate::state::AppState;
use crate::store::logged;
use crate::wire::command::sid;

/// Departments with `updated` after the client's time. Rows whose status
/// is not 0 or 1 are skipped but still move the returned time; on a store
/// failure the client's time is echoed.
pub async fn departments(state: &AppState, req: ImDepartmentReq) -> Reply {
    let since = req.latest_update_time.unwrap_or(0);
    let rows = logged(
        "changed departments",
        state.departments().changed_departments(since).await,
    )
    .unwrap_or_default();
    let latest = rows.iter().map(|d| d.updated).fold(since, u32::max);
    let list = rows
        .iter()
        .filter(|d| d.status <= 1)
        .map(|d| DepartInfo {
            dept_id: Some(d.id),
            priority: Some(d.priority),
            dept_name: Some(d.name.clone().into_bytes()),
            parent_dept_id: Some(d.parent_id),
            dept_status: Some(d.status as i32),
        })
        .collect();
    let rsp = ImDepartmentRsp {
        user_id: req.user_id,
        latest_update_time: Some(latest),
        dept_list: list,
        attach_data: attach(req.attach_data),
    };
    Reply::new(sid::BUDDY_LIST, 0x0211, &rsp)
}

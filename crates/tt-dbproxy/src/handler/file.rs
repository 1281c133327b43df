//! CID_FILE_HAS_OFFLINE_REQ (0x0509), CID_FILE_ADD_OFFLINE_REQ (0x050b) and
//! CID_FILE_DEL_OFFLINE_REQ (0x050c): offline files (accounts spec §5.14–16).

use tracing::warn;
use tt_proto::im::base_define::OfflineFileInfo;
use tt_proto::im::file::{
    ImFileAddOfflineReq, ImFileDelOfflineReq, ImFileHasOfflineReq, ImFileHasOfflineRsp,
};

use super::body::{Reply, attach};
use crate::state::AppState;
use crate::store::OfflineFile;
use crate::store::logged;
use crate::wire::command::sid;

/// Pending files for the user, oldest first; `ip_addr_list` is left to
/// msg_server.
pub async fn has_offline(state: &AppState, req: ImFileHasOfflineReq) -> Reply {
    let user_id = req.user_id.unwrap_or(0);
    let files = logged(
        "offline files",
        state.files().offline_files_for(user_id).await,
    )
    .unwrap_or_default();
    let rsp = ImFileHasOfflineRsp {
        user_id: Some(user_id),
        offline_file_list: files
            .into_iter()
            .map(|f| OfflineFileInfo {
                from_user_id: Some(f.from_id),
                task_id: Some(f.task_id.into_bytes()),
                file_name: Some(f.file_name.into_bytes()),
                file_size: Some(f.size),
            })
            .collect(),
        ip_addr_list: Vec::new(),
        attach_data: attach(req.attach_data),
    };
    Reply::new(sid::FILE, 0x050a, &rsp)
}

/// Records a pending file (never answered). Sizes up to 4 GiB − 1 are
/// stored exactly; non-UTF-8 names are refused.
pub async fn add_offline(state: &AppState, req: ImFileAddOfflineReq) {
    let (Ok(task_id), Ok(file_name)) = (
        String::from_utf8(req.task_id.unwrap_or_default()),
        String::from_utf8(req.file_name.unwrap_or_default()),
    ) else {
        warn!("add offline file: task id or file name not UTF-8; nothing stored");
        return;
    };
    let file = OfflineFile {
        from_id: req.from_user_id.unwrap_or(0),
        to_id: req.to_user_id.unwrap_or(0),
        task_id,
        file_name,
        size: req.file_size.unwrap_or(0),
        created: 0,
    };
    let now = state.clock.now_secs();
    logged(
        "add offline file",
        state.files().add_offline_file(file, now).await,
    );
}

/// Deletes the files matching sender, receiver and task id exactly (never
/// answered; the task id is a value, never SQL text).
pub async fn del_offline(state: &AppState, req: ImFileDelOfflineReq) {
    let Ok(task_id) = String::from_utf8(req.task_id.unwrap_or_default()) else {
        warn!("delete offline file: task id not UTF-8; nothing deleted");
        return;
    };
    let (from, to) = (req.from_user_id.unwrap_or(0), req.to_user_id.unwrap_or(0));
    logged(
        "delete offline file",
        state.files().delete_offline_file(from, to, &task_id).await,
    );
}

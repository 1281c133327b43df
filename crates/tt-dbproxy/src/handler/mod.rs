//! Request handlers and the dispatch table.
//!
//! [`Command::parse`] turns a frame into a typed request (dispatch looks at
//! the command id only; the service id is ignored, as in the original),
//! [`Command::ordering_key`] says whether it must run in arrival order with
//! others of the same key, and [`Command::run`] executes it. Handlers are
//! plain async functions of `(&AppState, request)` returning the reply, so
//! they are testable without sockets.

pub mod audio;
mod body;
pub mod depart;
pub mod device;
pub mod file;
pub mod group;
pub mod group_shield;
pub mod history;
pub mod login;
pub mod message;
pub mod push_shield;
pub mod session;
pub mod unread;
pub mod user;
mod userinfo;

pub use body::{BodyError, Decoded, OrderKey, Reply, attach, decode};
use tracing::warn;
use tt_proto::im::{
    buddy, file as pb_file, group as pb_group, login as pb_login, message as pb_message, server,
};

use crate::state::AppState;
use crate::wire::command::cid;

/// A parsed request.
#[derive(Debug)]
pub enum Command {
    /// CID_OTHER_HEARTBEAT: swallowed.
    Heartbeat,
    /// A command id without a handler: logged and dropped.
    Unknown(u16),
    /// CID_OTHER_VALIDATE_REQ.
    Validate(Decoded<server::ImValidateReq>),
    /// CID_LOGIN_REQ_PUSH_SHIELD.
    PushShield(Decoded<pb_login::ImPushShieldReq>),
    /// CID_LOGIN_REQ_QUERY_PUSH_SHIELD.
    QueryPushShield(Decoded<pb_login::ImQueryPushShieldReq>),
    /// CID_BUDDY_LIST_RECENT_CONTACT_SESSION_REQUEST.
    RecentSessions(Decoded<buddy::ImRecentContactSessionReq>),
    /// CID_BUDDY_LIST_REMOVE_SESSION_REQ.
    RemoveSession(Decoded<buddy::ImRemoveSessionReq>),
    /// CID_BUDDY_LIST_USER_INFO_REQUEST.
    UsersInfo(Decoded<buddy::ImUsersInfoReq>),
    /// CID_BUDDY_LIST_ALL_USER_REQUEST.
    AllUsers(Decoded<buddy::ImAllUserReq>),
    /// CID_BUDDY_LIST_DEPARTMENT_REQUEST.
    Departments(Decoded<buddy::ImDepartmentReq>),
    /// CID_BUDDY_LIST_CHANGE_SIGN_INFO_REQUEST.
    ChangeSignInfo(Decoded<buddy::ImChangeSignInfoReq>),
    /// CID_LOGIN_REQ_DEVICETOKEN.
    DeviceToken(Decoded<pb_login::ImDeviceTokenReq>),
    /// CID_OTHER_GET_DEVICE_TOKEN_REQ.
    GetDeviceTokens(Decoded<server::ImGetDeviceTokenReq>),
    /// CID_GROUP_SHIELD_GROUP_REQUEST.
    GroupShield(Decoded<pb_group::ImGroupShieldReq>),
    /// CID_OTHER_GET_SHIELD_REQ.
    GetGroupShield(Decoded<server::ImGroupGetShieldReq>),
    /// CID_FILE_HAS_OFFLINE_REQ.
    HasOfflineFile(Decoded<pb_file::ImFileHasOfflineReq>),
    /// CID_FILE_ADD_OFFLINE_REQ.
    AddOfflineFile(Decoded<pb_file::ImFileAddOfflineReq>),
    /// CID_FILE_DEL_OFFLINE_REQ.
    DelOfflineFile(Decoded<pb_file::ImFileDelOfflineReq>),
    /// CID_MSG_DATA.
    MsgData(Decoded<pb_message::ImMsgData>),
    /// CID_MSG_LIST_REQUEST.
    MsgList(Decoded<pb_message::ImGetMsgListReq>),
    /// CID_MSG_GET_BY_MSG_ID_REQ.
    MsgById(Decoded<pb_message::ImGetMsgByIdReq>),
    /// CID_MSG_GET_LATEST_MSG_ID_REQ.
    LatestMsgId(Decoded<pb_message::ImGetLatestMsgIdReq>),
    /// CID_MSG_UNREAD_CNT_REQUEST.
    UnreadCount(Decoded<pb_message::ImUnreadMsgCntReq>),
    /// CID_MSG_READ_ACK.
    ReadAck(Decoded<pb_message::ImMsgDataReadAck>),
    /// CID_GROUP_NORMAL_LIST_REQUEST.
    GroupList(Decoded<pb_group::ImNormalGroupListReq>),
    /// CID_GROUP_INFO_REQUEST.
    GroupInfo(Decoded<pb_group::ImGroupInfoListReq>),
    /// CID_GROUP_CREATE_REQUEST.
    GroupCreate(Decoded<pb_group::ImGroupCreateReq>),
    /// CID_GROUP_CHANGE_MEMBER_REQUEST.
    GroupChangeMember(Decoded<pb_group::ImGroupChangeMemberReq>),
}

/// A decoded request, or `None` after logging why the body was refused
/// (every handler but login sends no reply then).
fn parsed<T>(name: &'static str, req: Decoded<T>) -> Option<T> {
    match req {
        Ok(r) => Some(r),
        Err(e) => {
            warn!(command = name, error = %e, "parse pb failed; no reply");
            None
        }
    }
}

/// Registers the request counters' series at zero, one per command (the
/// server does this when it starts: see [`crate::net::register_zero_metrics`]).
pub fn register_zero_metrics() {
    let commands = crate::wire::command::COMMANDS
        .iter()
        .map(|spec| Command::parse(spec.command_id, &[]).name())
        .chain(["heartbeat", "unknown"]);
    for name in commands {
        metrics::counter!(crate::metrics::REQUESTS, "command" => name).absolute(0);
        metrics::counter!(crate::metrics::DEADLINE_EXCEEDED, "command" => name).absolute(0);
    }
}

impl Command {
    /// Parses a request by command id (the service id is not looked at).
    pub fn parse(command_id: u16, body: &[u8]) -> Self {
        match command_id {
            cid::HEARTBEAT => Self::Heartbeat,
            cid::VALIDATE_REQ => Self::Validate(decode(body)),
            0x010c => Self::PushShield(decode(body)),
            0x010e => Self::QueryPushShield(decode(body)),
            0x0201 => Self::RecentSessions(decode(body)),
            0x0206 => Self::RemoveSession(decode(body)),
            0x0204 => Self::UsersInfo(decode(body)),
            0x0208 => Self::AllUsers(decode(body)),
            0x0210 => Self::Departments(decode(body)),
            0x0213 => Self::ChangeSignInfo(decode(body)),
            0x0108 => Self::DeviceToken(decode(body)),
            0x0705 => Self::GetDeviceTokens(decode(body)),
            0x0409 => Self::GroupShield(decode(body)),
            0x0711 => Self::GetGroupShield(decode(body)),
            0x0509 => Self::HasOfflineFile(decode(body)),
            0x050b => Self::AddOfflineFile(decode(body)),
            0x050c => Self::DelOfflineFile(decode(body)),
            0x0301 => Self::MsgData(decode(body)),
            0x0309 => Self::MsgList(decode(body)),
            0x030d => Self::MsgById(decode(body)),
            0x030b => Self::LatestMsgId(decode(body)),
            0x0307 => Self::UnreadCount(decode(body)),
            0x0303 => Self::ReadAck(decode(body)),
            0x0401 => Self::GroupList(decode(body)),
            0x0403 => Self::GroupInfo(decode(body)),
            0x0405 => Self::GroupCreate(decode(body)),
            0x0407 => Self::GroupChangeMember(decode(body)),
            other => Self::Unknown(other),
        }
    }

    /// The key that serialises this request with others, if any.
    pub fn ordering_key(&self) -> Option<OrderKey> {
        match self {
            Self::MsgData(Ok(req)) => Some(message::ordering_key(req)),
            _ => None,
        }
    }

    /// A name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Heartbeat => "heartbeat",
            Self::Unknown(_) => "unknown",
            Self::Validate(_) => "validate",
            Self::PushShield(_) => "push_shield",
            Self::QueryPushShield(_) => "query_push_shield",
            Self::RecentSessions(_) => "recent_sessions",
            Self::RemoveSession(_) => "remove_session",
            Self::UsersInfo(_) => "users_info",
            Self::AllUsers(_) => "all_users",
            Self::Departments(_) => "departments",
            Self::ChangeSignInfo(_) => "change_sign_info",
            Self::DeviceToken(_) => "device_token",
            Self::GetDeviceTokens(_) => "get_device_tokens",
            Self::GroupShield(_) => "group_shield",
            Self::GetGroupShield(_) => "get_group_shield",
            Self::HasOfflineFile(_) => "has_offline_file",
            Self::AddOfflineFile(_) => "add_offline_file",
            Self::DelOfflineFile(_) => "del_offline_file",
            Self::MsgData(_) => "msg_data",
            Self::MsgList(_) => "msg_list",
            Self::MsgById(_) => "msg_by_id",
            Self::LatestMsgId(_) => "latest_msg_id",
            Self::UnreadCount(_) => "unread_count",
            Self::ReadAck(_) => "read_ack",
            Self::GroupList(_) => "group_list",
            Self::GroupInfo(_) => "group_info",
            Self::GroupCreate(_) => "group_create",
            Self::GroupChangeMember(_) => "group_change_member",
        }
    }

    /// Runs the request; `None` means no reply is sent.
    pub async fn run(self, state: &AppState) -> Option<Reply> {
        let name = self.name();
        match self {
            Self::Heartbeat | Self::Unknown(_) => None,
            Self::Validate(req) => Some(login::validate(state, req).await),
            Self::PushShield(req) => Some(push_shield::set(state, parsed(name, req)?).await),
            Self::QueryPushShield(req) => Some(push_shield::query(state, parsed(name, req)?).await),
            Self::RecentSessions(req) => Some(session::recent(state, parsed(name, req)?).await),
            Self::RemoveSession(req) => Some(session::remove(state, parsed(name, req)?).await),
            Self::UsersInfo(req) => Some(user::users_info(state, parsed(name, req)?).await),
            Self::AllUsers(req) => Some(user::all_users(state, parsed(name, req)?).await),
            Self::Departments(req) => Some(depart::departments(state, parsed(name, req)?).await),
            Self::ChangeSignInfo(req) => {
                Some(user::change_sign_info(state, parsed(name, req)?).await)
            }
            Self::DeviceToken(req) => Some(device::register(state, parsed(name, req)?).await),
            Self::GetDeviceTokens(req) => Some(device::tokens(state, parsed(name, req)?).await),
            Self::GroupShield(req) => Some(group_shield::set(state, parsed(name, req)?).await),
            Self::GetGroupShield(req) => Some(group_shield::get(state, parsed(name, req)?).await),
            Self::HasOfflineFile(req) => Some(file::has_offline(state, parsed(name, req)?).await),
            Self::AddOfflineFile(req) => {
                // Parse failures of this command are silent, as in the original.
                file::add_offline(state, req.ok()?).await;
                None
            }
            Self::DelOfflineFile(req) => {
                file::del_offline(state, req.ok()?).await;
                None
            }
            Self::MsgData(req) => message::send(state, parsed(name, req)?).await,
            Self::MsgList(req) => Some(history::list(state, parsed(name, req)?).await),
            Self::MsgById(req) => Some(history::by_id(state, parsed(name, req)?).await),
            Self::LatestMsgId(req) => Some(history::latest_id(state, parsed(name, req)?).await),
            Self::UnreadCount(req) => Some(unread::summary(state, parsed(name, req)?).await),
            Self::ReadAck(req) => {
                unread::read_ack(state, parsed(name, req)?).await;
                None
            }
            Self::GroupList(req) => Some(self::group::normal_list(state, parsed(name, req)?).await),
            Self::GroupInfo(req) => Some(self::group::info(state, parsed(name, req)?).await),
            Self::GroupCreate(req) => Some(self::group::create(state, parsed(name, req)?).await),
            Self::GroupChangeMember(req) => {
                Some(self::group::change_members(state, parsed(name, req)?).await)
            }
        }
    }
}

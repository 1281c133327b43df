//! The commands tt-dbproxy serves: ids, names, message types and the reply
//! each one gets. One table, used by the `call` client (names and JSON
//! types), the load generator and the documentation.

/// The service id a TeamTalk request or reply carries.
pub mod sid {
    /// SID_LOGIN.
    pub const LOGIN: u16 = 0x0001;
    /// SID_BUDDY_LIST.
    pub const BUDDY_LIST: u16 = 0x0002;
    /// SID_MSG.
    pub const MSG: u16 = 0x0003;
    /// SID_GROUP.
    pub const GROUP: u16 = 0x0004;
    /// SID_FILE.
    pub const FILE: u16 = 0x0005;
    /// SID_OTHER.
    pub const OTHER: u16 = 0x0007;
}

/// Command ids the server itself sends or swallows.
pub mod cid {
    /// CID_OTHER_HEARTBEAT: swallowed on receipt, sent when idle.
    pub const HEARTBEAT: u16 = 0x0701;
    /// CID_OTHER_STOP_RECV_PACKET: sent to every connection on shutdown.
    pub const STOP_RECV_PACKET: u16 = 0x0702;
    /// CID_OTHER_VALIDATE_REQ.
    pub const VALIDATE_REQ: u16 = 0x0703;
    /// CID_OTHER_VALIDATE_RSP.
    pub const VALIDATE_RSP: u16 = 0x0704;
}

/// The reply a command gets: ids and protobuf message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplySpec {
    /// Reply command id.
    pub command_id: u16,
    /// Reply service id.
    pub service_id: u16,
    /// Fully qualified protobuf message name of the reply body.
    pub message: &'static str,
}

/// One request command of the TeamTalk db_proxy protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandSpec {
    /// The CID name, as in `IM.BaseDefine`.
    pub name: &'static str,
    /// Request command id.
    pub command_id: u16,
    /// Service id msg_server puts on the request.
    pub service_id: u16,
    /// Fully qualified protobuf message name of the request body.
    pub request: &'static str,
    /// The reply, or `None` for commands that are never answered.
    pub reply: Option<ReplySpec>,
}

const fn cmd(
    name: &'static str,
    command_id: u16,
    service_id: u16,
    request: &'static str,
    reply: Option<(u16, &'static str)>,
) -> CommandSpec {
    CommandSpec {
        name,
        command_id,
        service_id,
        request,
        reply: match reply {
            Some((command_id, message)) => Some(ReplySpec {
                command_id,
                service_id,
                message,
            }),
            None => None,
        },
    }
}

/// Every command of the db_proxy protocol, in the specs' order, plus the
/// heartbeat (accepted, never answered).
pub const COMMANDS: &[CommandSpec] = &[
    cmd(
        "CID_OTHER_VALIDATE_REQ",
        0x0703,
        sid::OTHER,
        "IM.Server.IMValidateReq",
        Some((0x0704, "IM.Server.IMValidateRsp")),
    ),
    cmd(
        "CID_LOGIN_REQ_PUSH_SHIELD",
        0x010c,
        sid::LOGIN,
        "IM.Login.IMPushShieldReq",
        Some((0x010d, "IM.Login.IMPushShieldRsp")),
    ),
    cmd(
        "CID_LOGIN_REQ_QUERY_PUSH_SHIELD",
        0x010e,
        sid::LOGIN,
        "IM.Login.IMQueryPushShieldReq",
        Some((0x010f, "IM.Login.IMQueryPushShieldRsp")),
    ),
    cmd(
        "CID_BUDDY_LIST_RECENT_CONTACT_SESSION_REQUEST",
        0x0201,
        sid::BUDDY_LIST,
        "IM.Buddy.IMRecentContactSessionReq",
        Some((0x0202, "IM.Buddy.IMRecentContactSessionRsp")),
    ),
    cmd(
        "CID_BUDDY_LIST_REMOVE_SESSION_REQ",
        0x0206,
        sid::BUDDY_LIST,
        "IM.Buddy.IMRemoveSessionReq",
        Some((0x0207, "IM.Buddy.IMRemoveSessionRsp")),
    ),
    cmd(
        "CID_BUDDY_LIST_USER_INFO_REQUEST",
        0x0204,
        sid::BUDDY_LIST,
        "IM.Buddy.IMUsersInfoReq",
        Some((0x0205, "IM.Buddy.IMUsersInfoRsp")),
    ),
    cmd(
        "CID_BUDDY_LIST_ALL_USER_REQUEST",
        0x0208,
        sid::BUDDY_LIST,
        "IM.Buddy.IMAllUserReq",
        Some((0x0209, "IM.Buddy.IMAllUserRsp")),
    ),
    cmd(
        "CID_BUDDY_LIST_DEPARTMENT_REQUEST",
        0x0210,
        sid::BUDDY_LIST,
        "IM.Buddy.IMDepartmentReq",
        Some((0x0211, "IM.Buddy.IMDepartmentRsp")),
    ),
    cmd(
        "CID_BUDDY_LIST_CHANGE_SIGN_INFO_REQUEST",
        0x0213,
        sid::BUDDY_LIST,
        "IM.Buddy.IMChangeSignInfoReq",
        Some((0x0214, "IM.Buddy.IMChangeSignInfoRsp")),
    ),
    cmd(
        "CID_LOGIN_REQ_DEVICETOKEN",
        0x0108,
        sid::LOGIN,
        "IM.Login.IMDeviceTokenReq",
        Some((0x0109, "IM.Login.IMDeviceTokenRsp")),
    ),
    cmd(
        "CID_OTHER_GET_DEVICE_TOKEN_REQ",
        0x0705,
        sid::OTHER,
        "IM.Server.IMGetDeviceTokenReq",
        Some((0x0706, "IM.Server.IMGetDeviceTokenRsp")),
    ),
    cmd(
        "CID_GROUP_SHIELD_GROUP_REQUEST",
        0x0409,
        sid::GROUP,
        "IM.Group.IMGroupShieldReq",
        Some((0x040a, "IM.Group.IMGroupShieldRsp")),
    ),
    cmd(
        "CID_OTHER_GET_SHIELD_REQ",
        0x0711,
        sid::OTHER,
        "IM.Server.IMGroupGetShieldReq",
        Some((0x0712, "IM.Server.IMGroupGetShieldRsp")),
    ),
    cmd(
        "CID_FILE_HAS_OFFLINE_REQ",
        0x0509,
        sid::FILE,
        "IM.File.IMFileHasOfflineReq",
        Some((0x050a, "IM.File.IMFileHasOfflineRsp")),
    ),
    cmd(
        "CID_FILE_ADD_OFFLINE_REQ",
        0x050b,
        sid::FILE,
        "IM.File.IMFileAddOfflineReq",
        None,
    ),
    cmd(
        "CID_FILE_DEL_OFFLINE_REQ",
        0x050c,
        sid::FILE,
        "IM.File.IMFileDelOfflineReq",
        None,
    ),
    cmd(
        "CID_MSG_DATA",
        0x0301,
        sid::MSG,
        "IM.Message.IMMsgData",
        Some((0x0301, "IM.Message.IMMsgData")),
    ),
    cmd(
        "CID_MSG_LIST_REQUEST",
        0x0309,
        sid::MSG,
        "IM.Message.IMGetMsgListReq",
        Some((0x030a, "IM.Message.IMGetMsgListRsp")),
    ),
    cmd(
        "CID_MSG_UNREAD_CNT_REQUEST",
        0x0307,
        sid::MSG,
        "IM.Message.IMUnreadMsgCntReq",
        Some((0x0308, "IM.Message.IMUnreadMsgCntRsp")),
    ),
    cmd(
        "CID_MSG_READ_ACK",
        0x0303,
        sid::MSG,
        "IM.Message.IMMsgDataReadAck",
        None,
    ),
    cmd(
        "CID_MSG_GET_BY_MSG_ID_REQ",
        0x030d,
        sid::MSG,
        "IM.Message.IMGetMsgByIdReq",
        Some((0x030e, "IM.Message.IMGetMsgByIdRsp")),
    ),
    cmd(
        "CID_MSG_GET_LATEST_MSG_ID_REQ",
        0x030b,
        sid::MSG,
        "IM.Message.IMGetLatestMsgIdReq",
        Some((0x030c, "IM.Message.IMGetLatestMsgIdRsp")),
    ),
    cmd(
        "CID_GROUP_NORMAL_LIST_REQUEST",
        0x0401,
        sid::GROUP,
        "IM.Group.IMNormalGroupListReq",
        Some((0x0402, "IM.Group.IMNormalGroupListRsp")),
    ),
    cmd(
        "CID_GROUP_INFO_REQUEST",
        0x0403,
        sid::GROUP,
        "IM.Group.IMGroupInfoListReq",
        Some((0x0404, "IM.Group.IMGroupInfoListRsp")),
    ),
    cmd(
        "CID_GROUP_CREATE_REQUEST",
        0x0405,
        sid::GROUP,
        "IM.Group.IMGroupCreateReq",
        Some((0x0406, "IM.Group.IMGroupCreateRsp")),
    ),
    cmd(
        "CID_GROUP_CHANGE_MEMBER_REQUEST",
        0x0407,
        sid::GROUP,
        "IM.Group.IMGroupChangeMemberReq",
        Some((0x0408, "IM.Group.IMGroupChangeMemberRsp")),
    ),
    cmd(
        "CID_OTHER_HEARTBEAT",
        cid::HEARTBEAT,
        sid::OTHER,
        "IM.Other.IMHeartBeat",
        None,
    ),
];

/// Looks a command up by its CID name (`CID_OTHER_VALIDATE_REQ`) or its id
/// written in hex (`0x0703`) or decimal (`1795`).
pub fn find(name_or_id: &str) -> Option<&'static CommandSpec> {
    let s = name_or_id.trim();
    let id = if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u16::from_str_radix(hex, 16).ok()
    } else {
        s.parse::<u16>().ok()
    };
    match id {
        Some(id) => by_id(id),
        None => COMMANDS.iter().find(|c| c.name.eq_ignore_ascii_case(s)),
    }
}

/// Looks a command up by its request command id.
pub fn by_id(command_id: u16) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|c| c.command_id == command_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_the_26_handlers_and_the_heartbeat() {
        assert_eq!(COMMANDS.len(), 27);
        let mut ids: Vec<u16> = COMMANDS.iter().map(|c| c.command_id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 27, "command ids are unique");
    }

    #[test]
    fn lookup_by_name_hex_and_decimal() {
        assert_eq!(
            find("CID_OTHER_VALIDATE_REQ").map(|c| c.command_id),
            Some(0x0703)
        );
        assert_eq!(
            find("cid_other_validate_req").map(|c| c.command_id),
            Some(0x0703)
        );
        assert_eq!(
            find("0x0703").map(|c| c.name),
            Some("CID_OTHER_VALIDATE_REQ")
        );
        assert_eq!(find("1795").map(|c| c.name), Some("CID_OTHER_VALIDATE_REQ"));
        assert!(find("0x0999").is_none());
        assert!(find("NOPE").is_none());
    }

    #[test]
    fn every_message_name_exists_in_the_descriptors() {
        let pool = prost_reflect::DescriptorPool::decode(tt_proto::FILE_DESCRIPTOR_SET).unwrap();
        for c in COMMANDS {
            assert!(
                pool.get_message_by_name(c.request).is_some(),
                "{}",
                c.request
            );
            if let Some(r) = c.reply {
                assert!(
                    pool.get_message_by_name(r.message).is_some(),
                    "{}",
                    r.message
                );
            }
        }
    }
}

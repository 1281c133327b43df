//! What `bench` sends: one request per workload kind, built for a user
//! taken from the prepared range.

use prost::Message;
use tt_proto::im::buddy::ImUsersInfoReq;
use tt_proto::im::message::{ImMsgData, ImUnreadMsgCntReq};
use tt_proto::im::server::ImValidateReq;

use crate::auth::password::md5_hex;
use crate::wire::command::sid;

/// Password of the users `--prepare` creates.
pub const BENCH_PASSWORD: &str = "bench";
/// Login-name prefix of the users `--prepare` creates.
pub const BENCH_USER_PREFIX: &str = "bench_";

/// A load shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// Unread-count requests.
    Unread,
    /// User info for 100 ids.
    Users,
    /// One-to-one text messages between prepared users.
    Send,
    /// Login validation.
    Login,
    /// A msg_server-like mix: 40 % unread, 30 % send, 20 % users, 10 % login.
    Mixed,
}

/// One request kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// CID_MSG_UNREAD_CNT_REQUEST.
    Unread,
    /// CID_BUDDY_LIST_USER_INFO_REQUEST with 100 ids.
    Users,
    /// CID_MSG_DATA.
    Send,
    /// CID_OTHER_VALIDATE_REQ.
    Login,
}

const MIX: [Kind; 10] = [
    Kind::Unread,
    Kind::Send,
    Kind::Unread,
    Kind::Users,
    Kind::Unread,
    Kind::Send,
    Kind::Login,
    Kind::Unread,
    Kind::Send,
    Kind::Users,
];

impl Workload {
    /// The kind of the `n`th request of a connection.
    pub fn kind(self, n: u64) -> Kind {
        match self {
            Self::Unread => Kind::Unread,
            Self::Users => Kind::Users,
            Self::Send => Kind::Send,
            Self::Login => Kind::Login,
            Self::Mixed => MIX[(n % MIX.len() as u64) as usize],
        }
    }
}

/// A number that differs between runs of the load generator.
fn run_nonce() -> u32 {
    static NONCE: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *NONCE.get_or_init(|| {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        t.subsec_nanos() ^ (t.as_secs() as u32) ^ std::process::id()
    })
}

/// The users a run uses: ids `first..first + count`, named
/// `bench_<i>` with password `bench`.
#[derive(Debug, Clone, Copy)]
pub struct Users {
    /// Id of `bench_0`.
    pub first: u32,
    /// How many.
    pub count: u32,
}

/// A request frame's ids and body, and the reply command it expects.
pub struct Request {
    /// Service id.
    pub service_id: u16,
    /// Command id.
    pub command_id: u16,
    /// Expected reply command id.
    pub reply_command_id: u16,
    /// Body.
    pub body: Vec<u8>,
}

impl Kind {
    /// A request of this kind from connection `conn`, its `n`th.
    pub fn request(self, users: Users, conn: u32, n: u64) -> Request {
        let count = users.count.max(2);
        let index = conn % count;
        let user = users.first + index;
        match self {
            Self::Unread => Request {
                service_id: sid::MSG,
                command_id: 0x0307,
                reply_command_id: 0x0308,
                body: ImUnreadMsgCntReq {
                    user_id: Some(user),
                    attach_data: None,
                }
                .encode_to_vec(),
            },
            Self::Users => Request {
                service_id: sid::BUDDY_LIST,
                command_id: 0x0204,
                reply_command_id: 0x0205,
                body: ImUsersInfoReq {
                    user_id: Some(user),
                    user_id_list: (0..100).map(|i| users.first + (i % count)).collect(),
                    attach_data: None,
                }
                .encode_to_vec(),
            },
            Self::Send => {
                let from = users.first + (2 * conn) % count;
                let to = users.first + (2 * conn + 1) % count;
                Request {
                    service_id: sid::MSG,
                    command_id: 0x0301,
                    reply_command_id: 0x0301,
                    body: ImMsgData {
                        from_user_id: Some(from),
                        to_session_id: Some(to),
                        // As a client numbers its messages; the data names
                        // the run, so no send repeats an earlier run's
                        // (which would be answered as a resend).
                        msg_id: Some(u32::try_from(n % u64::from(u32::MAX)).unwrap_or(0) + 1),
                        create_time: Some(u32::try_from(n).unwrap_or(u32::MAX)),
                        msg_type: Some(1),
                        msg_data: Some(format!("bench message {:08x}", run_nonce()).into_bytes()),
                        attach_data: Some(Vec::new()),
                    }
                    .encode_to_vec(),
                }
            }
            Self::Login => Request {
                service_id: sid::OTHER,
                command_id: 0x0703,
                reply_command_id: 0x0704,
                body: ImValidateReq {
                    user_name: Some(format!("{BENCH_USER_PREFIX}{index}").into_bytes()),
                    password: Some(md5_hex(BENCH_PASSWORD.as_bytes()).into_bytes()),
                    attach_data: None,
                }
                .encode_to_vec(),
            },
        }
    }

    /// Why a reply counts as an error, if it does: a refused login, or a
    /// send that was not stored.
    pub fn check(self, body: &[u8]) -> Option<&'static str> {
        match self {
            Self::Login => match tt_proto::im::server::ImValidateRsp::decode(body) {
                Ok(r) if r.result_code == Some(0) => None,
                _ => Some("login_refused"),
            },
            Self::Send => match ImMsgData::decode(body) {
                Ok(r) if r.msg_id.unwrap_or(0) != 0 => None,
                _ => Some("send_not_stored"),
            },
            Self::Unread | Self::Users => None,
        }
    }
}

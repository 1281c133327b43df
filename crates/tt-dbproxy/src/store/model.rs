//! Row types the storage interface hands to handlers, backend-neutral.

/// One `IMUser` row, NULL columns already mapped (integer 0, empty string).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserRecord {
    /// `id`.
    pub id: u32,
    /// `sex`: 0 unknown, 1 male, 2 female.
    pub sex: u32,
    /// `name`: the login name.
    pub name: String,
    /// `domain`: pinyin of the name.
    pub domain: String,
    /// `nick`.
    pub nick: String,
    /// `password`: lowercase hex `md5(md5(plain) + salt)`.
    pub password: String,
    /// `salt`: up to 4 characters, numeric when set by `admin`.
    pub salt: String,
    /// `phone`.
    pub phone: String,
    /// `email`.
    pub email: String,
    /// `avatar` (nullable column).
    pub avatar: String,
    /// `departId`.
    pub depart_id: u32,
    /// `status` (nullable column): 0 active, 3 departed, ...
    pub status: u32,
    /// `created`, Unix seconds.
    pub created: u32,
    /// `updated`, Unix seconds.
    pub updated: u32,
    /// `push_shield_status`: 1 when "do not disturb" is on.
    pub push_shield_status: u32,
    /// `sign_info`.
    pub sign_info: String,
}

/// The columns of a new `IMUser` row (`id` is assigned by the store).
pub type NewUser = UserRecord;

/// Changes `admin user set` can make; `None` leaves a column as it is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserUpdate {
    /// New `nick`.
    pub nick: Option<String>,
    /// New `departId`.
    pub depart_id: Option<u32>,
    /// New `status`.
    pub status: Option<u32>,
    /// New `sign_info`.
    pub sign_info: Option<String>,
    /// New `password` and `salt` (already hashed).
    pub password_and_salt: Option<(String, String)>,
}

/// One `IMDepart` row.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DepartRecord {
    /// `id` (assigned by the store on insert).
    pub id: u32,
    /// `departName`.
    pub name: String,
    /// `priority`.
    pub priority: u32,
    /// `parentId`.
    pub parent_id: u32,
    /// `status`: 0 ok, 1 deleted (other values are skipped by the handler).
    pub status: u32,
    /// `created`.
    pub created: u32,
    /// `updated`.
    pub updated: u32,
}

/// One `IMRecentSession` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionRecord {
    /// `id`.
    pub id: u32,
    /// `userId`: the owner.
    pub user_id: u32,
    /// `peerId`: user or group id.
    pub peer_id: u32,
    /// `type`: 1 single, 2 group (NULL reads as 0).
    pub session_type: u32,
    /// `status`: 0 normal, 1 deleted.
    pub status: u32,
    /// `updated`.
    pub updated: u32,
}

/// Session type 1: a one-to-one conversation.
pub const SESSION_SINGLE: u32 = 1;
/// Session type 2: a group conversation.
pub const SESSION_GROUP: u32 = 2;

/// The newest message of a conversation (`created DESC, id DESC`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LastMessage {
    /// `msgId`.
    pub msg_id: u32,
    /// `type` (MsgType).
    pub msg_type: u32,
    /// `content` as stored.
    pub content: String,
    /// Sender: `fromId` (one-to-one) or `userId` (group).
    pub from_id: u32,
}

/// A one-to-one message row for `IMMessage_<relation % 8>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SingleMessageRow {
    /// `relateId`.
    pub relation_id: u32,
    /// `fromId`.
    pub from_id: u32,
    /// `toId`.
    pub to_id: u32,
    /// `msgId`.
    pub msg_id: u32,
    /// `type`.
    pub msg_type: u32,
    /// `content`.
    pub content: String,
    /// `created` and `updated` (msg_server's time).
    pub created: u32,
}

/// A group message row for `IMGroupMessage_<group % 8>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupMessageRow {
    /// `groupId`.
    pub group_id: u32,
    /// `userId`: the sender.
    pub from_id: u32,
    /// `msgId`.
    pub msg_id: u32,
    /// `type`.
    pub msg_type: u32,
    /// `content`.
    pub content: String,
    /// `created` and `updated` (msg_server's time).
    pub created: u32,
}

/// The platform a push token belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// iOS (ClientType 0x11): stored as `ios:<token>`.
    Ios,
    /// Android (ClientType 0x12): stored as `android:<token>`.
    Android,
    /// Any other client type: stored bare, never returned for push.
    Other,
}

/// A registered push token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceToken {
    /// Owner.
    pub user_id: u32,
    /// Platform.
    pub platform: Platform,
    /// The token text.
    pub token: String,
}

/// One `IMTransmitFile` row (a pending offline file).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OfflineFile {
    /// `fromId`.
    pub from_id: u32,
    /// `toId`.
    pub to_id: u32,
    /// `taskId`.
    pub task_id: String,
    /// `fileName`.
    pub file_name: String,
    /// `size`.
    pub size: u32,
    /// `created`.
    pub created: u32,
}

/// A message to store: one-to-one (`group == false`, `to_id` = the peer)
/// or group (`to_id` = the group).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewMessage {
    /// Sender.
    pub from_id: u32,
    /// Receiver user or group.
    pub to_id: u32,
    /// Whether `to_id` is a group.
    pub group: bool,
    /// MsgType (1, 2, 0x11, 0x12).
    pub msg_type: u32,
    /// Stored content: the client's text, or the decimal audio id.
    pub content: String,
    /// msg_server's time, stored unchanged as `created` and `updated`.
    pub created: u32,
    /// Set when the send may be a resend of one stored shortly before
    /// (`storage.resend_window_s`): it then gets that message's id.
    pub resend: Option<ResendKey>,
}

/// What makes a send the resend of an earlier one: the same sender and
/// conversation (from [`NewMessage`]), the same non-zero client `msg_id`
/// and the same data, within the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResendKey {
    /// The `msg_id` the client put in the request (never 0).
    pub client_msg_id: u32,
    /// [`crate::store::resend::data_hash`] of the request's `msg_data`.
    pub data_hash: u64,
    /// How long (s) a send is remembered.
    pub window_s: u32,
}

/// A stored message as history returns it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageRow {
    /// `msgId`.
    pub msg_id: u32,
    /// Sender (`fromId` or `userId`).
    pub from_id: u32,
    /// `created`.
    pub created: u32,
    /// `type`.
    pub msg_type: u32,
    /// `content`.
    pub content: String,
}

/// One `IMAudio` row: where a voice message's bytes live on the media
/// server.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AudioRow {
    /// `id` (assigned on insert).
    pub id: u32,
    /// `fromId`.
    pub from_id: u32,
    /// `toId`: the receiver, or the group for group audio.
    pub to_id: u32,
    /// `path`: the media server's URL of the file.
    pub path: String,
    /// `size`: audio bytes.
    pub size: u32,
    /// `duration` in seconds.
    pub duration: u32,
    /// `created`.
    pub created: u32,
}

/// One `IMGroup` row.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupRecord {
    /// `id`.
    pub id: u32,
    /// `name`.
    pub name: String,
    /// `avatar`.
    pub avatar: String,
    /// `creator`.
    pub creator: u32,
    /// `type`: 1 normal (fixed), 2 temporary.
    pub group_type: u32,
    /// `userCnt`: members (informational).
    pub user_count: u32,
    /// `status`: 0 normal, 1 deleted.
    pub status: u32,
    /// `version`: +1 on each member change.
    pub version: u32,
    /// `lastChated`: db_proxy time of the last stored message.
    pub last_chated: u32,
    /// `updated`.
    pub updated: u32,
}

/// A group to create.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewGroup {
    /// `name`.
    pub name: String,
    /// `avatar`.
    pub avatar: String,
    /// `creator`.
    pub creator: u32,
    /// `type`.
    pub group_type: u32,
    /// Initial members (distinct).
    pub members: Vec<u32>,
}

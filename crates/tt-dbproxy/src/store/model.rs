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

//! The `IMUser` row to `UserInfo` mapping shared by login and the user
//! handlers (accounts spec §5.1, §5.6).

use tt_proto::im::base_define::UserInfo;

use crate::store::UserRecord;

/// Maps a user row, taking its text without copying it; `sign_info` is
/// always set (possibly empty).
pub fn user_info(u: UserRecord) -> UserInfo {
    UserInfo {
        user_id: Some(u.id),
        user_gender: Some(u.sex),
        user_nick_name: Some(u.nick.into_bytes()),
        avatar_url: Some(u.avatar.into_bytes()),
        department_id: Some(u.depart_id),
        email: Some(u.email.into_bytes()),
        user_real_name: Some(u.name.into_bytes()),
        user_tel: Some(u.phone.into_bytes()),
        user_domain: Some(u.domain.into_bytes()),
        status: Some(u.status),
        sign_info: Some(u.sign_info.into_bytes()),
    }
}

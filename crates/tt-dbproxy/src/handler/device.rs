//! CID_LOGIN_REQ_DEVICETOKEN (0x0108) and CID_OTHER_GET_DEVICE_TOKEN_REQ
//! (0x0705): push tokens (accounts spec §5.10, §5.11).

use tracing::{debug, warn};
use tt_proto::im::base_define::{ClientType, UserTokenInfo};
use tt_proto::im::login::{ImDeviceTokenReq, ImDeviceTokenRsp};
use tt_proto::im::server::{ImGetDeviceTokenReq, ImGetDeviceTokenRsp};

use super::body::{Reply, attach};
use crate::state::AppState;
use crate::store::logged;
use crate::store::{MAX_IDS_PER_REQUEST, Platform};
use crate::wire::command::sid;

/// Quiet hours, local time: from 22:00:00 to 07:59:59 (the original's
/// window, kept for compatibility).
pub fn is_quiet_hour(hour: u32) -> bool {
    hour >= 22 || hour <= 7
}

/// Registers a token. Always answered the same way. An empty token, with
/// any client type or none, unregisters the user's token: msg_server sends
/// one at logout and when it kicks a duplicate mobile login. Tokens made
/// only of digits (they would collide with `device_<user id>` keys) and
/// non-UTF-8 tokens are logged and not stored.
pub async fn register(state: &AppState, req: ImDeviceTokenReq) -> Reply {
    let user_id = req.user_id.unwrap_or(0);
    let raw = req.device_token.unwrap_or_default();
    let platform = match req.client_type {
        Some(t) if t == ClientType::Ios as i32 => Platform::Ios,
        Some(t) if t == ClientType::Android as i32 => Platform::Android,
        _ => Platform::Other,
    };
    match std::str::from_utf8(&raw) {
        Ok("") => {
            debug!(user_id, "device token: empty; unregistering");
            logged(
                "clear device token",
                state.devices().clear_device_token(user_id).await,
            );
        }
        Ok(t) if t.bytes().all(|b| b.is_ascii_digit()) => {
            warn!(user_id, "device token: only digits; not stored");
        }
        Ok(token) => {
            logged(
                "register device token",
                state
                    .devices()
                    .register_device_token(user_id, platform, token)
                    .await,
            );
        }
        Err(_) => warn!(user_id, "device token: not UTF-8; not stored"),
    }
    let rsp = ImDeviceTokenRsp {
        user_id: Some(user_id),
        attach_data: attach(req.attach_data),
    };
    Reply::new(sid::LOGIN, 0x0109, &rsp)
}

/// Unread messages a push notification announces: one-to-one counts plus,
/// per group, messages since the user's read mark (0 when the mark is
/// ahead; the original re-added the previous group's count there).
async fn push_count(state: &AppState, user_id: u32) -> u32 {
    let single: u32 = logged(
        "unread counts",
        state.counters().unread_counts(user_id).await,
    )
    .unwrap_or_default()
    .iter()
    .fold(0, |acc, (_, n)| acc.saturating_add(*n));
    let groups =
        logged("user groups", state.groups().user_groups(user_id).await).unwrap_or_default();
    let counters = if groups.is_empty() {
        Vec::new()
    } else {
        logged(
            "group counters",
            state.counters().group_counters(user_id, &groups).await,
        )
        .unwrap_or_default()
    };
    let group = counters
        .into_iter()
        .flatten()
        .fold(0u32, |acc, (total, mark)| {
            acc.saturating_add(total.saturating_sub(mark))
        });
    single.saturating_add(group)
}

/// Tokens to push to, ordered as the original's `device_<id>` key order.
/// iOS users with "do not disturb" are left out during quiet hours;
/// Android clients filter themselves; other platforms are never returned.
pub async fn tokens(state: &AppState, req: ImGetDeviceTokenReq) -> Reply {
    let ids = &req.user_id;
    let mut found = if ids.is_empty() {
        Vec::new()
    } else if ids.len() > MAX_IDS_PER_REQUEST {
        warn!(
            count = ids.len(),
            max = MAX_IDS_PER_REQUEST,
            "device tokens: too many ids"
        );
        Vec::new()
    } else {
        logged("device tokens", state.devices().device_tokens(ids).await).unwrap_or_default()
    };
    found.sort_by_key(|t| t.user_id.to_string());
    let quiet = is_quiet_hour(state.clock.local_hour_minute().0);
    let mut list = Vec::with_capacity(found.len());
    for t in found {
        let user_type = match t.platform {
            Platform::Ios => {
                if quiet
                    && logged("push shield", state.users().push_shield(t.user_id).await).flatten()
                        == Some(1)
                {
                    continue;
                }
                ClientType::Ios
            }
            Platform::Android => ClientType::Android,
            Platform::Other => continue,
        };
        list.push(UserTokenInfo {
            user_id: Some(t.user_id),
            user_type: Some(user_type as i32),
            token: Some(t.token.into_bytes()),
            push_count: Some(push_count(state, t.user_id).await),
            push_type: Some(1),
        });
    }
    let rsp = ImGetDeviceTokenRsp {
        user_token_info: list,
        attach_data: attach(req.attach_data),
    };
    Reply::new(sid::OTHER, 0x0706, &rsp)
}

#[cfg(test)]
mod tests {
    use super::is_quiet_hour;

    #[test]
    fn quiet_hours_run_from_22_to_0759() {
        let quiet: Vec<u32> = (0..24).filter(|h| is_quiet_hour(*h)).collect();
        assert_eq!(quiet, vec![0, 1, 2, 3, 4, 5, 6, 7, 22, 23]);
    }
}

//! CID_OTHER_VALIDATE_REQ (0x0703): login validation (accounts spec §5.1),
//! with the original's bugs fixed: the password is really checked, an
//! unknown or departed user fails, the name never reaches SQL text, and a
//! storage failure answers code 2 without counting as a wrong password.

use tracing::warn;
use tt_proto::im::server::{ImValidateReq, ImValidateRsp};

use super::body::{BodyError, Reply, attach};
use super::userinfo::user_info;
use crate::auth::password;
use crate::auth::throttle::MAX_FAILURES;
use crate::state::AppState;
use crate::store::logged;
use crate::wire::command::{cid, sid};

/// Result code: authenticated.
pub const CODE_OK: u32 = 0;
/// Result code: unknown user or wrong password.
pub const CODE_AUTH_FAILED: u32 = 1;
/// Result code: unparsable request or storage failure.
pub const CODE_INTERNAL: u32 = 2;
/// Result code: too many recent failures.
pub const CODE_THROTTLED: u32 = 6;

static SHARED_THROTTLE: crate::rate_log::RateLimited =
    crate::rate_log::RateLimited::new("shared login throttle unavailable");

/// `成功`
pub const MSG_OK: &str = "成功";
/// `用户名/密码错误`
pub const MSG_AUTH_FAILED: &str = "用户名/密码错误";
/// `服务端内部错误`
pub const MSG_INTERNAL: &str = "服务端内部错误";
/// `用户名/密码错误次数太多`
pub const MSG_THROTTLED: &str = "用户名/密码错误次数太多";

fn reply(rsp: &ImValidateRsp) -> Reply {
    Reply::new(sid::OTHER, cid::VALIDATE_RSP, rsp)
}

/// Whether the throttle refuses `name`: the one shared by every instance
/// (MySQL + Redis), or this process's own while that cannot be reached or
/// does not exist (the embedded store). Failures are recorded in both, so
/// the local one has the history when Redis goes away. Also says whether
/// the shared throttle is known to hold no failure of `name` (a success
/// then has nothing to clear there).
async fn blocked(state: &AppState, name: &[u8], now: u32) -> (bool, bool) {
    match state.shared().shared_throttle_failures(name, now).await {
        Ok(Some(n)) => (n > MAX_FAILURES as u64, n == 0),
        Ok(None) => (state.throttle.is_blocked(name, now), true),
        Err(e) => {
            crate::warn_limited!(SHARED_THROTTLE, error = %e, "validate: shared throttle unavailable; this process's applies");
            (state.throttle.is_blocked(name, now), false)
        }
    }
}

/// Validates a login. Always replies.
pub async fn validate(state: &AppState, req: Result<ImValidateReq, BodyError>) -> Reply {
    let req = match req {
        Ok(req) => req,
        Err(e) => {
            warn!(error = %e, "validate: unparsable request");
            // user_name is required in the reply: set it empty so the frame
            // is well-formed (the original omits it). No attach_data.
            return reply(&ImValidateRsp {
                user_name: Some(Vec::new()),
                result_code: Some(CODE_INTERNAL),
                result_string: Some(MSG_INTERNAL.into()),
                ..Default::default()
            });
        }
    };
    let name = req.user_name.unwrap_or_default();
    let client_password = req.password.unwrap_or_default();
    let mut rsp = ImValidateRsp {
        user_name: Some(name.clone()),
        attach_data: attach(req.attach_data),
        ..Default::default()
    };
    let now = state.clock.now_secs();

    let (refused, shared_clean) = blocked(state, &name, now).await;
    let (code, msg) = if refused {
        metrics::counter!(crate::metrics::THROTTLE_REJECTIONS).increment(1);
        (CODE_THROTTLED, MSG_THROTTLED)
    } else {
        // A name that is not UTF-8 cannot match any stored name.
        let found = match std::str::from_utf8(&name) {
            Ok(n) => state.users().find_active_user_by_name(n).await,
            Err(_) => Ok(None),
        };
        match logged("validate: store failed; not counted as a failure", found) {
            None => (CODE_INTERNAL, MSG_INTERNAL),
            Some(Some(user)) if password::verify(&client_password, &user.salt, &user.password) => {
                state.throttle.clear(&name);
                if !shared_clean && let Err(e) = state.shared().shared_throttle_clear(&name).await {
                    crate::warn_limited!(SHARED_THROTTLE, error = %e, "validate: shared throttle not cleared");
                }
                let mut info = user_info(user);
                info.status = Some(0);
                rsp.user_info = Some(info);
                (CODE_OK, MSG_OK)
            }
            Some(_) => {
                state.throttle.record_failure(&name, now);
                if let Err(e) = state.shared().shared_throttle_failure(&name, now).await {
                    crate::warn_limited!(SHARED_THROTTLE, error = %e, "validate: failure not recorded in the shared throttle");
                }
                (CODE_AUTH_FAILED, MSG_AUTH_FAILED)
            }
        }
    };
    rsp.result_code = Some(code);
    rsp.result_string = Some(msg.into());
    reply(&rsp)
}

//! Login validation pieces: TeamTalk's password scheme and the failed-login
//! throttle.

pub mod password;
pub mod throttle;

pub use throttle::LoginThrottle;

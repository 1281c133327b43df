//! Media: voice messages on TeamTalk's media file server, and the
//! placeholder text shown as the "last message" of a conversation whose
//! newest message is a voice message.

pub mod msfs;
pub mod placeholder;

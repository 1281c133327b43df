//! Media: the audio placeholder text shown as the "last message" of a
//! conversation whose newest message is a voice message.

pub mod placeholder;

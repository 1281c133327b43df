//! The TeamTalk PDU protocol: the 16-byte header, the frame codec, the
//! table of command ids and the JSON form of bodies. Nothing here touches
//! a socket.

pub mod codec;
pub mod command;
pub mod header;
pub mod json;

pub use codec::{FrameError, PduCodec};
pub use header::{HEADER_LEN, Pdu, PduHeader};

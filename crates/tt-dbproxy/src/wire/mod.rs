//! The TeamTalk PDU protocol: the 16-byte header, the frame codec and the
//! table of command ids. Nothing here touches a socket.

pub mod codec;
pub mod command;
pub mod header;

pub use codec::{FrameError, PduCodec};
pub use header::{HEADER_LEN, Pdu, PduHeader};

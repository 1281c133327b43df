//! Request handlers and the dispatch table.
//!
//! [`Command::parse`] turns a frame into a typed request (dispatch looks at
//! the command id only; the service id is ignored, as in the original),
//! [`Command::ordering_key`] says whether it must run in arrival order with
//! others of the same key, and [`Command::run`] executes it. Handlers are
//! plain async functions of `(&AppState, request)` returning the reply, so
//! they are testable without sockets.

pub mod login;
mod userinfo;

use prost::Message;
use tt_proto::{CheckRequired, MissingField};

use crate::state::AppState;
use crate::wire::command::cid;

/// A reply body with its ids; the connection adds the request's `seq_num`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Reply service id.
    pub service_id: u16,
    /// Reply command id.
    pub command_id: u16,
    /// Encoded protobuf body.
    pub body: Vec<u8>,
}

impl Reply {
    /// Encodes `msg` as the body of a reply.
    pub fn new(service_id: u16, command_id: u16, msg: &impl Message) -> Self {
        Self {
            service_id,
            command_id,
            body: msg.encode_to_vec(),
        }
    }
}

/// Why a request body was refused (the C++ parse would have failed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Not a valid protobuf encoding of the message.
    #[error("malformed body: {0}")]
    Malformed(#[from] prost::DecodeError),
    /// A required field is absent or carries an undeclared enum value.
    #[error(transparent)]
    MissingField(#[from] MissingField),
}

/// Decodes a request body with proto2 `required` checks.
pub fn decode<M: Message + Default + CheckRequired>(body: &[u8]) -> Result<M, BodyError> {
    let msg = M::decode(body)?;
    msg.check_required()?;
    Ok(msg)
}

/// Requests with the same key run one at a time, in arrival order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OrderKey(pub u64);

/// A parsed request.
#[derive(Debug)]
pub enum Command {
    /// CID_OTHER_HEARTBEAT: swallowed.
    Heartbeat,
    /// CID_OTHER_VALIDATE_REQ.
    Validate(Result<tt_proto::im::server::ImValidateReq, BodyError>),
    /// A command id without a handler: logged and dropped.
    Unknown(u16),
}

impl Command {
    /// Parses a request by command id.
    pub fn parse(command_id: u16, body: &[u8]) -> Self {
        match command_id {
            cid::HEARTBEAT => Self::Heartbeat,
            cid::VALIDATE_REQ => Self::Validate(decode(body)),
            other => Self::Unknown(other),
        }
    }

    /// The key that serialises this request with others, if any.
    pub fn ordering_key(&self) -> Option<OrderKey> {
        None
    }

    /// A name for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Heartbeat => "heartbeat",
            Self::Validate(_) => "validate",
            Self::Unknown(_) => "unknown",
        }
    }

    /// Runs the request; `None` means no reply is sent.
    pub async fn run(self, state: &AppState) -> Option<Reply> {
        match self {
            Self::Heartbeat | Self::Unknown(_) => None,
            Self::Validate(req) => Some(login::validate(state, req).await),
        }
    }
}

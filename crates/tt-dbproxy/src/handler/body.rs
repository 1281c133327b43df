//! What every handler shares: the reply, the decoding of a request body
//! with its required fields, the ordering key and the echoed attachment.

use prost::Message;
use tt_proto::{CheckRequired, MissingField};

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

/// A decoded request body, or why it could not be decoded.
pub type Decoded<T> = Result<T, BodyError>;

/// The echoed `attach_data`: always present, empty if the request had none.
pub fn attach(request_attach: Option<Vec<u8>>) -> Option<Vec<u8>> {
    Some(request_attach.unwrap_or_default())
}

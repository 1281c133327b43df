//! JSON to protobuf and back, through the unmodified descriptors.
//!
//! This is the conversion behind `tt-dbproxy call`: JSON uses the proto
//! field names (snake_case), `bytes` are base64, enums are names (numbers
//! accepted). It goes through prost-reflect, so every command works without
//! per-command code. It lives in the library, not in the CLI, so that the
//! fuzz targets (and any other client) can reach it; errors are typed here
//! and turned into messages at the CLI edge.

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, SerializeOptions};

/// Why a JSON request or a reply body could not be converted. The cause
/// is the error's `source` (not repeated in its text), so `{:#}` through
/// anyhow prints "what: why" once.
#[derive(Debug, thiserror::Error)]
pub enum JsonError {
    /// The message type is not in the descriptor pool.
    #[error("message {0} is missing from the descriptors")]
    UnknownMessage(String),
    /// The JSON does not describe a message of that type.
    #[error("the JSON is not a valid {message}")]
    BadJson {
        /// Fully qualified message name.
        message: String,
        /// What serde_json or prost-reflect reported.
        source: serde_json::Error,
    },
    /// A valid message is followed by more text.
    #[error("trailing characters after the {message} JSON")]
    Trailing {
        /// Fully qualified message name.
        message: String,
        /// Where the extra text starts.
        source: serde_json::Error,
    },
    /// The body is not a protobuf encoding of that type.
    #[error("the reply is not a valid {message}")]
    BadBody {
        /// Fully qualified message name.
        message: String,
        /// What prost reported.
        source: prost::DecodeError,
    },
    /// A decoded message could not be rendered as JSON.
    #[error("cannot render the {message} as JSON")]
    Render {
        /// Fully qualified message name.
        message: String,
        /// What serde_json reported.
        source: serde_json::Error,
    },
}

/// The descriptors of every TeamTalk message, as shipped by `tt-proto`.
///
/// Decoding them cannot fail for the set built into `tt-proto` (a unit
/// test proves it); the error is kept for a corrupted build.
pub fn descriptor_pool() -> Result<DescriptorPool, prost_reflect::DescriptorError> {
    DescriptorPool::decode(tt_proto::FILE_DESCRIPTOR_SET)
}

fn descriptor(pool: &DescriptorPool, name: &str) -> Result<MessageDescriptor, JsonError> {
    pool.get_message_by_name(name)
        .ok_or_else(|| JsonError::UnknownMessage(name.to_string()))
}

/// Builds a request body of type `message` (fully qualified) from JSON.
pub fn encode_request(
    pool: &DescriptorPool,
    message: &str,
    json: &str,
) -> Result<Vec<u8>, JsonError> {
    let desc = descriptor(pool, message)?;
    let mut de = serde_json::Deserializer::from_str(json);
    let msg = DynamicMessage::deserialize(desc, &mut de).map_err(|source| JsonError::BadJson {
        message: message.to_string(),
        source,
    })?;
    de.end().map_err(|source| JsonError::Trailing {
        message: message.to_string(),
        source,
    })?;
    Ok(msg.encode_to_vec())
}

/// Renders a body of type `message` as pretty JSON with proto field names.
pub fn decode_reply(
    pool: &DescriptorPool,
    message: &str,
    body: &[u8],
) -> Result<String, JsonError> {
    let desc = descriptor(pool, message)?;
    let msg = DynamicMessage::decode(desc, body).map_err(|source| JsonError::BadBody {
        message: message.to_string(),
        source,
    })?;
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::pretty(&mut out);
    msg.serialize_with_options(
        &mut ser,
        &SerializeOptions::new().use_proto_field_name(true),
    )
    .map_err(|source| JsonError::Render {
        message: message.to_string(),
        source,
    })?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_round_trips_through_json() {
        let pool = descriptor_pool().unwrap();
        let m = "IM.Server.IMValidateReq";
        let body = encode_request(&pool, m, r#"{"user_name":"a","password":"b"}"#).unwrap();
        let json = decode_reply(&pool, m, &body).unwrap();
        assert!(json.contains("\"user_name\": \"a\""), "{json}");
    }

    #[test]
    fn errors_name_the_message() {
        let pool = descriptor_pool().unwrap();
        let m = "IM.Server.IMValidateReq";
        let e = encode_request(&pool, m, "{} x").unwrap_err();
        assert!(matches!(e, JsonError::Trailing { .. }), "{e}");
        let e = encode_request(&pool, m, "[").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("the JSON is not a valid IM.Server")
        );
        let e = decode_reply(&pool, m, &[0xff]).unwrap_err();
        assert!(matches!(e, JsonError::BadBody { .. }), "{e}");
        let e = decode_reply(&pool, "IM.Nope", &[]).unwrap_err();
        assert!(matches!(e, JsonError::UnknownMessage(_)), "{e}");
    }
}

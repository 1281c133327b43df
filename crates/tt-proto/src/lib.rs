//! TeamTalk's protobuf messages, generated at build time from `proto/IM.*.proto`.
//!
//! Modules follow the proto packages: `IM.Server` is [`im::server`],
//! `IM.BaseDefine` is [`im::base_define`], and so on. Type names follow
//! prost's conventions (`IMValidateReq` becomes `ImValidateReq`).
//!
//! Three deliberate differences from plain prost output keep the C++
//! runtime's behaviour (see `build.rs`): every `required` field is an
//! `Option` checked by [`CheckRequired`], every proto `string` is a
//! `Vec<u8>` (no UTF-8 validation on decode), and required enum fields
//! with undeclared values count as missing.

#![allow(missing_docs, clippy::all, clippy::pedantic)]

include!(concat!(env!("OUT_DIR"), "/mod.rs"));

/// The name (`Message.field`) of the first required field that a decoded
/// message lacks, or whose enum value is not declared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingField(pub &'static str);

impl std::fmt::Display for MissingField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "required field {} is missing or invalid", self.0)
    }
}

impl std::error::Error for MissingField {}

/// proto2 `required` semantics, which prost does not enforce: decoding a
/// TeamTalk request must fail when a required field is absent, exactly as
/// the C++ protobuf-lite runtime does.
pub trait CheckRequired {
    /// Returns the first missing required field, recursing into nested
    /// messages that are present.
    fn check_required(&self) -> Result<(), MissingField>;
}

include!(concat!(env!("OUT_DIR"), "/checks.rs"));

/// The serialized `FileDescriptorSet` of the unmodified `.proto` files
/// (strings still `string`, required still `required`), for reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/teamtalk_fds.bin"));

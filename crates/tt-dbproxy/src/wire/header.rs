//! The 16-byte big-endian PDU header and the frame type built on it.

use bytes::{Buf, BufMut, Bytes, BytesMut};

/// Size of the fixed header that starts every frame.
pub const HEADER_LEN: usize = 16;

/// The header of a TeamTalk frame. `length` counts the whole frame,
/// header included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PduHeader {
    /// Whole frame length in bytes (header + body).
    pub length: u32,
    /// Protocol version; requests are not checked, replies carry 1.
    pub version: u16,
    /// Unused flag word; replies carry 0.
    pub flag: u16,
    /// Service id; ignored on requests (dispatch uses the command id).
    pub service_id: u16,
    /// Command id: selects the handler.
    pub command_id: u16,
    /// Sequence number, echoed unchanged in the reply.
    pub seq_num: u16,
    /// Reserved word; replies carry 0.
    pub reserved: u16,
}

impl PduHeader {
    /// Reads a header from the first 16 bytes of `buf`, or `None` if fewer
    /// bytes are available.
    pub fn read(mut buf: &[u8]) -> Option<Self> {
        if buf.len() < HEADER_LEN {
            return None;
        }
        Some(Self {
            length: buf.get_u32(),
            version: buf.get_u16(),
            flag: buf.get_u16(),
            service_id: buf.get_u16(),
            command_id: buf.get_u16(),
            seq_num: buf.get_u16(),
            reserved: buf.get_u16(),
        })
    }

    /// Appends the 16 header bytes to `out`.
    pub fn write(&self, out: &mut BytesMut) {
        out.put_u32(self.length);
        out.put_u16(self.version);
        out.put_u16(self.flag);
        out.put_u16(self.service_id);
        out.put_u16(self.command_id);
        out.put_u16(self.seq_num);
        out.put_u16(self.reserved);
    }
}

/// One decoded frame: its header and its protobuf body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdu {
    /// The header as received (or as it will be sent; `length` is
    /// recomputed by the encoder).
    pub header: PduHeader,
    /// The protobuf body (`length - 16` bytes).
    pub body: Bytes,
}

impl Pdu {
    /// A frame as the server builds it: version 1, flag 0, reserved 0.
    pub fn new(service_id: u16, command_id: u16, seq_num: u16, body: impl Into<Bytes>) -> Self {
        let body = body.into();
        Self {
            header: PduHeader {
                length: 0,
                version: 1,
                flag: 0,
                service_id,
                command_id,
                seq_num,
                reserved: 0,
            },
            body,
        }
    }

    /// The frame's bytes with a correct `length`, or `None` if the body is
    /// too large for the 32-bit length field.
    pub fn to_bytes(&self) -> Option<Bytes> {
        let length = u32::try_from(HEADER_LEN + self.body.len()).ok()?;
        let mut out = BytesMut::with_capacity(HEADER_LEN + self.body.len());
        PduHeader {
            length,
            ..self.header
        }
        .write(&mut out);
        out.extend_from_slice(&self.body);
        Some(out.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeat_bytes_match_the_spec() {
        let bytes = Pdu::new(7, 0x0701, 0, Bytes::new()).to_bytes().unwrap();
        assert_eq!(
            bytes.as_ref(),
            &[0, 0, 0, 0x10, 0, 1, 0, 0, 0, 7, 7, 1, 0, 0, 0, 0]
        );
    }

    #[test]
    fn header_round_trips() {
        let h = PduHeader {
            length: 0x0102_0304,
            version: 1,
            flag: 2,
            service_id: 3,
            command_id: 0x0703,
            seq_num: 0xfffe,
            reserved: 9,
        };
        let mut out = BytesMut::new();
        h.write(&mut out);
        assert_eq!(out.len(), HEADER_LEN);
        assert_eq!(PduHeader::read(&out), Some(h));
        assert_eq!(PduHeader::read(&out[..15]), None);
    }
}

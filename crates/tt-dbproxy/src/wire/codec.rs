//! [`PduCodec`]: frames on a byte stream, as a tokio-util codec.
//!
//! The length is checked as soon as its 4 bytes arrive, before any memory is
//! reserved for the body: `length < 16` (the original crashes on 1..=15) and
//! `length > max_frame_len` are errors that close the connection.

use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use super::header::{HEADER_LEN, Pdu, PduHeader};

/// Default upper bound on a frame, header included (16 MiB).
pub const DEFAULT_MAX_FRAME_LEN: usize = 16 * 1024 * 1024;

/// Why a byte stream cannot be framed; every variant closes the connection.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// `length` is smaller than the header itself (0 included).
    #[error("frame length {0} is shorter than the 16-byte header")]
    TooShort(u32),
    /// `length` exceeds the configured maximum.
    #[error("frame length {len} exceeds the limit of {max} bytes")]
    TooLong {
        /// The announced length.
        len: u64,
        /// The configured limit.
        max: usize,
    },
    /// The socket failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

/// Decodes and encodes TeamTalk frames with a maximum frame length.
#[derive(Debug, Clone, Copy)]
pub struct PduCodec {
    max_frame_len: usize,
}

impl PduCodec {
    /// A codec refusing frames longer than `max_frame_len` bytes.
    pub fn new(max_frame_len: usize) -> Self {
        Self { max_frame_len }
    }
}

impl Default for PduCodec {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_FRAME_LEN)
    }
}

impl Decoder for PduCodec {
    type Item = Pdu;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Pdu>, FrameError> {
        let Some(len_bytes) = src.first_chunk::<4>() else {
            return Ok(None);
        };
        let length = u32::from_be_bytes(*len_bytes);
        if (length as usize) < HEADER_LEN {
            return Err(FrameError::TooShort(length));
        }
        if length as usize > self.max_frame_len {
            return Err(FrameError::TooLong {
                len: u64::from(length),
                max: self.max_frame_len,
            });
        }
        if src.len() < length as usize {
            return Ok(None);
        }
        let mut frame = src.split_to(length as usize).freeze();
        let header = PduHeader::read(&frame).ok_or(FrameError::TooShort(length))?;
        frame.advance(HEADER_LEN);
        Ok(Some(Pdu {
            header,
            body: frame,
        }))
    }
}

impl Encoder<Pdu> for PduCodec {
    type Error = FrameError;

    fn encode(&mut self, item: Pdu, dst: &mut BytesMut) -> Result<(), FrameError> {
        let total = HEADER_LEN + item.body.len();
        let length = u32::try_from(total)
            .ok()
            .filter(|l| *l as usize <= self.max_frame_len)
            .ok_or(FrameError::TooLong {
                len: total as u64,
                max: self.max_frame_len,
            })?;
        dst.reserve(total);
        PduHeader {
            length,
            ..item.header
        }
        .write(dst);
        dst.extend_from_slice(&item.body);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use proptest::prelude::*;

    fn frame(cmd: u16, seq: u16, body: &[u8]) -> Vec<u8> {
        Pdu::new(7, cmd, seq, Bytes::copy_from_slice(body))
            .to_bytes()
            .unwrap()
            .to_vec()
    }

    #[test]
    fn partial_header_and_partial_body_wait() {
        let mut codec = PduCodec::default();
        let bytes = frame(0x0703, 1, b"abc");
        let mut buf = BytesMut::from(&bytes[..3]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(&bytes[3..17]);
        assert!(codec.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(&bytes[17..]);
        let pdu = codec.decode(&mut buf).unwrap().unwrap();
        assert_eq!(pdu.header.seq_num, 1);
        assert_eq!(pdu.body.as_ref(), b"abc");
        assert!(buf.is_empty());
    }

    #[test]
    fn two_frames_in_one_buffer() {
        let mut codec = PduCodec::default();
        let mut bytes = frame(0x0703, 1, b"a");
        bytes.extend(frame(0x0705, 2, b""));
        let mut buf = BytesMut::from(&bytes[..]);
        assert_eq!(codec.decode(&mut buf).unwrap().unwrap().header.seq_num, 1);
        let second = codec.decode(&mut buf).unwrap().unwrap();
        assert_eq!(second.header.command_id, 0x0705);
        assert!(second.body.is_empty());
        assert!(codec.decode(&mut buf).unwrap().is_none());
    }

    #[test]
    fn zero_and_short_lengths_are_errors() {
        for len in [0u32, 1, 8, 15] {
            let mut buf = BytesMut::from(&len.to_be_bytes()[..]);
            assert!(matches!(
                PduCodec::default().decode(&mut buf),
                Err(FrameError::TooShort(l)) if l == len
            ));
        }
    }

    #[test]
    fn oversize_is_refused_before_the_body_arrives() {
        let mut codec = PduCodec::new(1024);
        let mut buf = BytesMut::from(&1025u32.to_be_bytes()[..]);
        assert!(matches!(
            codec.decode(&mut buf),
            Err(FrameError::TooLong {
                len: 1025,
                max: 1024
            })
        ));
        let mut ok = BytesMut::from(&1024u32.to_be_bytes()[..]);
        assert!(codec.decode(&mut ok).unwrap().is_none());
        assert!(ok.capacity() < 1024, "no memory reserved for the body");
    }

    #[test]
    fn encoder_refuses_oversize_bodies() {
        let mut codec = PduCodec::new(20);
        let mut dst = BytesMut::new();
        let big = Pdu::new(1, 2, 3, vec![0u8; 5]);
        assert!(codec.encode(big, &mut dst).is_err());
        let ok = Pdu::new(1, 2, 3, vec![0u8; 4]);
        codec.encode(ok, &mut dst).unwrap();
        assert_eq!(dst.len(), 20);
    }

    fn arb_pdu() -> impl Strategy<Value = Pdu> {
        (
            any::<[u16; 6]>(),
            proptest::collection::vec(any::<u8>(), 0..300),
        )
            .prop_map(|(h, body)| Pdu {
                header: PduHeader {
                    length: (HEADER_LEN + body.len()) as u32,
                    version: h[0],
                    flag: h[1],
                    service_id: h[2],
                    command_id: h[3],
                    seq_num: h[4],
                    reserved: h[5],
                },
                body: Bytes::from(body),
            })
    }

    proptest! {
        #[test]
        fn round_trip(pdus in proptest::collection::vec(arb_pdu(), 1..8)) {
            let mut codec = PduCodec::default();
            let mut buf = BytesMut::new();
            for p in &pdus {
                codec.encode(p.clone(), &mut buf).unwrap();
            }
            for p in &pdus {
                let got = codec.decode(&mut buf).unwrap();
                prop_assert_eq!(got.as_ref(), Some(p));
            }
            prop_assert!(buf.is_empty());
        }

        #[test]
        fn arbitrary_splits_decode_the_same_frames(
            pdus in proptest::collection::vec(arb_pdu(), 1..6),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..10),
        ) {
            let mut codec = PduCodec::default();
            let mut stream = BytesMut::new();
            for p in &pdus {
                codec.encode(p.clone(), &mut stream).unwrap();
            }
            let mut points: Vec<usize> = cuts.iter().map(|i| i.index(stream.len() + 1)).collect();
            points.sort_unstable();
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            let mut last = 0;
            for p in points.into_iter().chain(std::iter::once(stream.len())) {
                buf.extend_from_slice(&stream[last..p]);
                last = p;
                while let Some(pdu) = codec.decode(&mut buf).unwrap() {
                    got.push(pdu);
                }
            }
            prop_assert_eq!(got, pdus);
        }

        #[test]
        fn arbitrary_bytes_never_panic(
            data in proptest::collection::vec(any::<u8>(), 0..2048),
            max in 0usize..4096,
        ) {
            let mut codec = PduCodec::new(max);
            let mut buf = BytesMut::from(&data[..]);
            while let Ok(Some(_)) = codec.decode(&mut buf) {}
        }
    }
}

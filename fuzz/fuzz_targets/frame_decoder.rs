//! The frame decoder over an arbitrary byte stream cut at arbitrary points.
//!
//! Input: byte 0 picks the frame limit, byte 1 the number `k` of cuts
//! (0..=31), the next `k` bytes are chunk lengths; the rest is the stream.
//! Decoding the whole stream at once and chunk by chunk must give the same
//! frames, the same error (the first one ends a connection), the same
//! leftover bytes when there is no error, and re-encoding the frames must give back the bytes
//! they were decoded from.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::{Decoder, Encoder};
use tt_dbproxy::wire::codec::DEFAULT_MAX_FRAME_LEN;
use tt_dbproxy::wire::{Pdu, PduCodec};

/// What decoding a stream produced.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    frames: Vec<Pdu>,
    /// The error that ended decoding, as text (`FrameError` has no `Eq`).
    error: Option<String>,
    /// `decode_eof` at the end of a stream that decoded without error.
    eof: Option<String>,
    /// Bytes left undecoded at the end of a stream without error (after
    /// an error the connection is closed and the rest is never read).
    leftover: Vec<u8>,
}

/// Decodes every complete frame in `buf`; `false` once an error ends it.
fn drain(codec: &mut PduCodec, buf: &mut BytesMut, out: &mut Outcome) -> bool {
    loop {
        match codec.decode(buf) {
            Ok(Some(pdu)) => out.frames.push(pdu),
            Ok(None) => return true,
            Err(e) => {
                out.error = Some(e.to_string());
                return false;
            }
        }
    }
}

fn decode(max: usize, chunks: &[&[u8]]) -> Outcome {
    let mut codec = PduCodec::new(max);
    let mut buf = BytesMut::new();
    let mut out = Outcome {
        frames: Vec::new(),
        error: None,
        eof: None,
        leftover: Vec::new(),
    };
    let mut open = true;
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        open = drain(&mut codec, &mut buf, &mut out);
        if !open {
            break;
        }
    }
    if open {
        let mut rest = buf.clone();
        out.eof = match codec.decode_eof(&mut rest) {
            Ok(Some(_)) => Some("a frame at eof that decode did not return".into()),
            Ok(None) => None,
            Err(e) => Some(e.to_string()),
        };
        out.leftover = buf.to_vec();
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&limit, rest)) = data.split_first() else {
        return;
    };
    let Some((&k, rest)) = rest.split_first() else {
        return;
    };
    let max = match limit {
        0 => DEFAULT_MAX_FRAME_LEN,
        255 => u32::MAX as usize,
        n => usize::from(n) * 4,
    };
    let k = usize::from(k % 32).min(rest.len());
    let (cuts, stream) = rest.split_at(k);

    let whole = decode(max, &[stream]);

    let mut chunks = Vec::with_capacity(k + 1);
    let mut at = 0;
    for &len in cuts {
        let end = (at + usize::from(len)).min(stream.len());
        chunks.push(&stream[at..end]);
        at = end;
    }
    chunks.push(&stream[at..]);
    let chunked = decode(max, &chunks);
    assert_eq!(whole, chunked, "chunking changed what was decoded");

    let mut again = BytesMut::new();
    let mut codec = PduCodec::new(max);
    for pdu in &whole.frames {
        codec
            .encode(pdu.clone(), &mut again)
            .expect("a decoded frame re-encodes within the same limit");
    }
    assert_eq!(
        &again[..],
        &stream[..again.len()],
        "re-encoded frames differ from the bytes they came from"
    );
    if whole.error.is_none() {
        assert_eq!(again.len() + whole.leftover.len(), stream.len());
    }
});

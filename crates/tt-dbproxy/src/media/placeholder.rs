//! The audio placeholder (accounts spec §1.9): `"[语音]"` encrypted with
//! TeamTalk's client-side text scheme so clients decrypt and show it like
//! any text message.
//!
//! Scheme: AES-256-ECB with the 32 ASCII bytes of `aesKey`; the plaintext is
//! zero-padded to whole 16-byte blocks, one extra block is added when
//! `len % 16 == 0` or `len % 16 > 12`, and the last 4 bytes of the last
//! block hold the plaintext length (big-endian u32); then standard Base64.

use aes::Aes256;
use aes::cipher::{BlockEncrypt, KeyInit, generic_array::GenericArray};
use base64::Engine;

/// UTF-8 of `[语音]`.
pub const AUDIO_TEXT: &str = "[语音]";

/// Why the placeholder cannot be computed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("aesKey must be exactly 32 bytes, got {0}")]
pub struct BadKey(pub usize);

/// Encrypts `plain` with TeamTalk's text scheme and returns the Base64 text.
pub fn encrypt_text(key: &[u8], plain: &[u8]) -> Result<String, BadKey> {
    if key.len() != 32 {
        return Err(BadKey(key.len()));
    }
    let cipher = Aes256::new(GenericArray::from_slice(key));
    let rem = plain.len() % 16;
    let mut blocks = plain.len() / 16 + 1;
    if rem == 0 || rem > 12 {
        blocks += 1;
    }
    let mut buf = vec![0u8; blocks * 16];
    buf[..plain.len()].copy_from_slice(plain);
    let len = u32::try_from(plain.len()).unwrap_or(u32::MAX).to_be_bytes();
    let end = buf.len();
    buf[end - 4..].copy_from_slice(&len);
    for block in buf.chunks_exact_mut(16) {
        cipher.encrypt_block(GenericArray::from_mut_slice(block));
    }
    Ok(base64::engine::general_purpose::STANDARD.encode(buf))
}

/// The placeholder for `aes_key`.
pub fn audio_placeholder(aes_key: &str) -> Result<String, BadKey> {
    encrypt_text(aes_key.as_bytes(), AUDIO_TEXT.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_key_gives_the_spec_value() {
        assert_eq!(
            audio_placeholder(crate::config::DEFAULT_AES_KEY).unwrap(),
            "QhGXlpFjvMFUNrtl1aaPzA=="
        );
    }

    #[test]
    fn block_counts_follow_the_padding_rule() {
        let key = [7u8; 32];
        let blocks = |n: usize| {
            let b64 = encrypt_text(&key, &vec![b'a'; n]).unwrap();
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap()
                .len()
                / 16
        };
        assert_eq!(blocks(0), 2);
        assert_eq!(blocks(8), 1);
        assert_eq!(blocks(12), 1);
        assert_eq!(blocks(13), 2);
        assert_eq!(blocks(16), 3);
        assert_eq!(blocks(20), 2);
    }

    #[test]
    fn wrong_key_length_is_an_error() {
        assert_eq!(audio_placeholder("short"), Err(BadKey(5)));
    }
}

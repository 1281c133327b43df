//! TeamTalk's password scheme.
//!
//! Clients send `md5_hex(plain)`; `IMUser.password` holds
//! `md5_hex(md5_hex(plain) ++ salt)` with a numeric salt (0..=9999), which is
//! what the PHP admin writes and what `tt-dbproxy admin user add` writes.

use md5::{Digest, Md5};

/// Lowercase hex MD5 of `data`.
pub fn md5_hex(data: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Md5::digest(data);
    let mut out = String::with_capacity(32);
    for b in digest.iter() {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0x0f)] as char);
    }
    out
}

/// `md5_hex(client_password ++ salt)`: what a stored password must equal.
pub fn salted(client_password: &[u8], salt: &str) -> String {
    let mut buf = Vec::with_capacity(client_password.len() + salt.len());
    buf.extend_from_slice(client_password);
    buf.extend_from_slice(salt.as_bytes());
    md5_hex(&buf)
}

/// The `IMUser.password` value for a plain-text password and salt.
pub fn stored_hash(plain: &str, salt: &str) -> String {
    salted(md5_hex(plain.as_bytes()).as_bytes(), salt)
}

/// Whether the password a client sent matches the stored hash
/// (byte-exact comparison, as the spec requires).
pub fn verify(client_password: &[u8], salt: &str, stored: &str) -> bool {
    salted(client_password, salt) == stored
}

/// A random numeric salt, as TeamTalk's admin generates.
pub fn random_salt() -> String {
    use rand::Rng;
    rand::rng().random_range(0..10_000u32).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_fixture_hashes() {
        assert_eq!(md5_hex(b"123456"), "e10adc3949ba59abbe56e057f20f883e");
        assert_eq!(
            stored_hash("123456", "1234"),
            "b605e86d02eef8bfd0646f6a704c17c9"
        );
        assert!(verify(
            b"e10adc3949ba59abbe56e057f20f883e",
            "1234",
            "b605e86d02eef8bfd0646f6a704c17c9"
        ));
        assert!(!verify(b"000", "1234", "b605e86d02eef8bfd0646f6a704c17c9"));
        assert!(!verify(
            b"E10ADC3949BA59ABBE56E057F20F883E",
            "1234",
            "b605e86d02eef8bfd0646f6a704c17c9"
        ));
    }

    #[test]
    fn salts_are_numeric_and_short() {
        for _ in 0..100 {
            let s = random_salt();
            assert!(s.len() <= 4 && s.parse::<u32>().is_ok(), "{s}");
        }
    }
}

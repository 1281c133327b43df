//! Console passwords: Argon2id for the console's own accounts, the PHP
//! admin's unsalted md5 accepted only to move an account to Argon2id, and
//! the rules a new password must meet.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::auth::password::md5_hex;
use crate::store::ConsoleAccount;

/// Shortest password the console accepts.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest password the console accepts (bytes; Argon2 takes any, this
/// bounds the work of one sign-in).
pub const MAX_PASSWORD_BYTES: usize = 256;
/// Longest account name (`IMAdmin.uname` is `varchar(40)`).
pub const MAX_NAME_CHARS: usize = 40;

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// How a sign-in's password matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matched {
    /// The account's Argon2id hash.
    Argon2,
    /// The PHP admin's md5 `pwd`: the account must set a new password
    /// before anything else.
    Legacy,
}

/// The Argon2id PHC string of `plain` with a fresh random salt.
pub fn hash(plain: &str) -> Result<String, HashError> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| HashError(e.to_string()))?;
    Argon2::default()
        .hash_password(plain.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Whether `plain` signs `account` in, and how. An account with an
/// Argon2id hash never matches its `pwd` column.
pub fn verify(account: &ConsoleAccount, plain: &str) -> Option<Matched> {
    match &account.hash {
        Some(h) => {
            let parsed = PasswordHash::new(h).ok()?;
            Argon2::default()
                .verify_password(plain.as_bytes(), &parsed)
                .ok()
                .map(|()| Matched::Argon2)
        }
        None => {
            let stored = account.legacy_pwd.trim().to_ascii_lowercase();
            (stored.len() == 32
                && constant_time_eq(md5_hex(plain.as_bytes()).as_bytes(), stored.as_bytes()))
            .then_some(Matched::Legacy)
        }
    }
}

/// Byte-wise equality in time independent of where the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Why a new password is refused, if it is.
pub fn check_new_password(name: &str, plain: &str, confirm: &str) -> Result<(), String> {
    if plain != confirm {
        return Err("the two new passwords differ".into());
    }
    if plain.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!(
            "the new password needs at least {MIN_PASSWORD_CHARS} characters"
        ));
    }
    if plain.len() > MAX_PASSWORD_BYTES {
        return Err(format!(
            "the new password is longer than {MAX_PASSWORD_BYTES} bytes"
        ));
    }
    if plain == name || plain == "admin" || plain.eq_ignore_ascii_case("password") {
        return Err("choose a password that is not the account's name or a default".into());
    }
    Ok(())
}

/// Why an account name is refused, if it is: 1 to 40 letters, digits,
/// `_ . - @`.
pub fn check_account_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(format!("the name needs 1 to {MAX_NAME_CHARS} characters"));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "_.-@".contains(c))
    {
        return Err("the name may hold letters, digits and _ . - @ only".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2_round_trip_and_the_legacy_md5() {
        let h = hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        let mut a = ConsoleAccount {
            legacy_pwd: md5_hex(b"admin"),
            ..Default::default()
        };
        assert_eq!(verify(&a, "admin"), Some(Matched::Legacy));
        assert_eq!(verify(&a, "wrong"), None);
        a.hash = Some(h);
        assert_eq!(verify(&a, "admin"), None, "md5 no longer accepted");
        assert_eq!(verify(&a, "correct horse"), Some(Matched::Argon2));
        a.hash = Some("garbage".into());
        assert_eq!(verify(&a, "correct horse"), None);
    }

    #[test]
    fn new_passwords_and_names_are_checked() {
        assert!(check_new_password("root", "abc", "abc").is_err());
        assert!(check_new_password("root", "abcdefgh", "abcdefgx").is_err());
        assert!(check_new_password("rootroot", "rootroot", "rootroot").is_err());
        assert!(check_new_password("root", "s3cure-enough", "s3cure-enough").is_ok());
        assert!(check_account_name("ops-1").is_ok());
        assert!(check_account_name("").is_err());
        assert!(check_account_name("<b>").is_err());
    }
}

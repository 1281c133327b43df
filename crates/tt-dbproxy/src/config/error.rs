//! Why a configuration is refused: each [`Problem`], and [`ConfigError`].

use std::path::PathBuf;

/// One invalid or missing configuration value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The key as the operator wrote it (TOML path, legacy name or env var).
    pub key: String,
    /// Why it is refused.
    pub reason: String,
}

impl Problem {
    /// A problem with `key`.
    pub fn new(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.reason)
    }
}

/// Why a configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The i/o error.
        source: std::io::Error,
    },
    /// The TOML file is not valid TOML.
    #[error("config file {path} is not valid TOML: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// Parser message with line and column.
        message: String,
    },
    /// One or more values are invalid; all of them are listed.
    #[error("invalid configuration:\n{}", .0.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Problem>),
}

/// How keys are named in messages: after the file the operator wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyNaming {
    /// TOML paths (`media.aes_key`).
    Toml,
    /// Names of `dbproxyserver.conf` (`aesKey`) where one exists.
    Legacy,
}

//! Configuration: the [`Config`] every part of the server reads, its
//! defaults, validation and a printable summary.
//!
//! Layering: built-in defaults < one file (TOML, or the original
//! `dbproxyserver.conf` through [`legacy`]) < `TT_DBPROXY_*` environment
//! variables. Every key is described once in [`keys`], which also drives
//! the environment overlay and `docs/config.md`. Invalid values are
//! collected, not reported one at a time: start-up names every bad key.

pub mod cidr;
mod console_keys;
mod error;
mod key_spec;
pub mod keys;
pub mod legacy;
mod load;
pub mod merge;
mod model;
mod validate;

pub use error::{ConfigError, KeyNaming, Problem};
pub use load::{ConfigSource, from_legacy_str, from_toml_str, load, process_env};
pub use model::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        assert_eq!(Config::default().validate(KeyNaming::Toml), vec![]);
    }

    #[test]
    fn show_masks_secrets() {
        let c = Config {
            mysql: Some(MysqlConfig {
                primary: MysqlEndpoint {
                    name: "teamtalk_master".into(),
                    host: "db".into(),
                    port: 3306,
                    database: "teamtalk".into(),
                    user: "u".into(),
                    password: "hunter2".into(),
                    max_connections: 4,
                },
                replicas: vec![],
                max_replica_lag_s: DEFAULT_MAX_REPLICA_LAG_S,
            }),
            ..Config::default()
        };
        let shown = c.show();
        assert!(!shown.contains(DEFAULT_AES_KEY));
        assert!(!shown.contains("hunter2"));
        assert!(shown.contains("aes_key=<32 bytes>"));
        assert!(shown.contains(" allow_peers=any "), "{shown}");
        let mut c = Config::default();
        c.server.allow_peers = vec!["10.0.0.0/8".parse().unwrap(), "::1".parse().unwrap()];
        assert!(c.show().contains(" allow_peers=10.0.0.0/8,::1 "));
    }
}

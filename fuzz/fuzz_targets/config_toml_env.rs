//! The TOML loader with `TT_DBPROXY_*` environment overrides.
//!
//! Input: TOML text, then optionally a NUL byte and environment lines
//! `NAME=VALUE`. A NAME is a variable of `config::keys::all()`, written in
//! full (`TT_DBPROXY_LISTEN`) or without its prefix (`LISTEN`); other lines
//! are ignored, so the environment holds only the loader's own variables.
//! Loading must return a configuration or problems, never panic.

#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use tt_dbproxy::config::keys;

fuzz_target!(|data: &[u8]| {
    let (toml, env_part) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let toml = String::from_utf8_lossy(toml);
    let env_text = String::from_utf8_lossy(env_part);
    let names: Vec<&'static str> = keys::all().iter().map(|k| k.env).collect();
    let mut env: HashMap<&'static str, String> = HashMap::new();
    for line in env_text.split('\n') {
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let known = names
            .iter()
            .find(|n| **n == name || n.strip_prefix("TT_DBPROXY_") == Some(name));
        if let Some(&n) = known {
            env.insert(n, value.to_string());
        }
    }
    let lookup = |name: &str| env.get(name).cloned();
    if let Ok(config) = tt_dbproxy::config::from_toml_str(&toml, &lookup) {
        let _ = config.show();
    }
});

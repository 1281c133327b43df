//! The original `dbproxyserver.conf` parser on arbitrary text, with no
//! environment: it must return a configuration or a list of problems,
//! never panic, and an accepted configuration must render.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = tt_dbproxy::config::legacy::parse(&text);
    if let Ok(config) = tt_dbproxy::config::from_legacy_str(&text, &|_| None) {
        let _ = config.show();
    }
});

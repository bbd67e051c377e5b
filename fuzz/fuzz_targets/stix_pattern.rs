//! STIX patterns, and the indicators read out of them.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(pattern) = rexist_stix::pattern::parse_pattern(&text) {
        let _ = rexist_stix::pattern::indicators(&pattern);
    }
});

//! ThreatConnect v3 indicator and group pages.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rexist_formats::threatconnect;

fuzz_target!(|data: &[u8]| {
    let _ = threatconnect::parse_indicators(data);
    let _ = threatconnect::parse_groups(data);
});

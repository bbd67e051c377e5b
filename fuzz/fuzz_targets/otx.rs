//! OTX pulses and indicator exports.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rexist_formats::otx;

fuzz_target!(|data: &[u8]| {
    let _ = otx::parse_pulses(data);
    let _ = otx::parse_indicator_export(data);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = otx::map_type(s);
    }
});

//! CISA KEV catalogue, JSON and CSV.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rexist_formats::kev;

fuzz_target!(|data: &[u8]| {
    let _ = kev::parse_json(data);
    let _ = kev::parse_csv(data);
});

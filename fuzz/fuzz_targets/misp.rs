//! MISP events (REST answers and feed files), feed manifests and hashes.csv.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rexist_formats::misp;

fuzz_target!(|data: &[u8]| {
    let _ = misp::parse_events(data);
    let _ = misp::parse_manifest(data);
    let _ = misp::parse_hashes(data);
});

//! STIX 2.x bundles and TAXII 2.1 envelopes (objects, `more`, `next`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rexist_stix::parse_objects(data);
});

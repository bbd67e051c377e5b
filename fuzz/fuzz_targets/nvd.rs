//! NVD CVE API 2.0 pages.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rexist_formats::nvd::parse_page(data);
});

//! JVN iPedia MyJVN overview pages (RSS 1.0 / RDF with sec: elements).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rexist_formats::jvn::parse_overview(data);
});

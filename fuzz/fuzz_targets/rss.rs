//! RSS 2.0, Atom and RDF news feeds.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rexist_formats::rss::parse(data);
});

//! Mastodon, Bluesky and X answers, and `Link` paging headers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rexist_formats::social;

fuzz_target!(|data: &[u8]| {
    let _ = social::parse_mastodon(data);
    let _ = social::parse_bluesky(data);
    let _ = social::parse_x(data);
    let text = String::from_utf8_lossy(data);
    let _ = social::parse_link_header(&text);
    let _ = rexist_formats::html::to_text(&text);
});

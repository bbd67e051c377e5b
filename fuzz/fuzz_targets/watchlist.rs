//! Watchlists (values, CIDRs, wildcards, one per line).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = rexist_query::parse_watchlist(&text);
});

//! Hunt queries: parsed, then matched against text made of the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (query, doc) = text.split_once('\n').unwrap_or((&text, "log4j CVE-2021-44228 脆弱性"));
    if let Ok(q) = rexist_query::parse(query) {
        let _ = rexist_query::test(&q, doc);
    }
    let _ = rexist_query::normalize(&text);
});

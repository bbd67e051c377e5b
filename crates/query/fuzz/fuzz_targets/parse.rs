//! Arbitrary bytes as a query, then as the text it runs over. Fails only on a broken law:
//! a panic, or an error position outside the query or off a character boundary.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rexist_query::{Doc, HuntSet, parse, test};

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    let (query, text) = input.split_once('\u{1}').unwrap_or((&*input, &*input));
    match parse(query) {
        Err(e) => assert!(query.is_char_boundary(e.position), "{e}"),
        Ok(q) => {
            let single = test(&q, text);
            let set = HuntSet::new([(7, q)]);
            let doc = Doc::body(text);
            let hits = set.matches(&doc);
            assert_eq!(single, hits.into_iter().next().map(|h| h.terms));
        }
    }
});

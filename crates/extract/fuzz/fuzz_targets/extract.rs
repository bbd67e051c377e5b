//! Arbitrary bytes through every public entry point. Fails only on a broken law: a
//! panic, a span outside the input or off a character boundary, matches out of order,
//! or a value that is not the canonical value of its type.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rexist_extract::{canonicalize, defang, extract, refang};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut prev = 0;
    for m in extract(&text) {
        assert!(m.start < m.end && m.end <= text.len(), "{m:?}");
        assert!(text.is_char_boundary(m.start) && text.is_char_boundary(m.end), "{m:?}");
        assert!(m.start >= prev, "{m:?}");
        prev = m.start;
        assert_eq!(canonicalize(m.kind, &m.value).as_deref(), Some(m.value.as_str()), "{m:?}");
    }
    let _ = refang(&text);
    let _ = defang(&text);
});

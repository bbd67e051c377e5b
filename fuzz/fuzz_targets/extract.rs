//! The IOC extractor on any text: no panic, every match lies on character
//! boundaries inside the text, in order, and the CLI's allocation-free JSON path
//! prints exactly those matches.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut last_end = 0;
    let matches = rexist_extract::extract(&text);
    let (mut direct, mut via) = (Vec::new(), Vec::new());
    rexist_extract::Extractor::default().extract_jsonl(&text, 0, &mut direct);
    rexist_extract::write_jsonl(&matches, None, &mut via);
    assert!(direct == via, "extract_jsonl differs from write_jsonl(extract)");
    for m in matches {
        assert!(m.start < m.end && m.end <= text.len(), "span {}..{}", m.start, m.end);
        assert!(text.is_char_boundary(m.start) && text.is_char_boundary(m.end));
        assert!(m.start >= last_end, "matches overlap or go backwards");
        assert!(!m.value.is_empty());
        last_end = m.end;
    }
    let _ = rexist_extract::refang(&text);
    let _ = rexist_extract::defang(&text);
});

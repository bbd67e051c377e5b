//! The list, CSV, JSON and NDJSON feed reader behind every blocklist source.
//! The first byte picks the layout and the charset, the rest is the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rexist_connectors::feed::{FeedFormat, Layout, read_feed};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let layout = match pick % 6 {
        0 => Layout::Lines,
        1 => Layout::Index(usize::from(pick >> 4)),
        2 => Layout::Header("ip".to_owned()),
        3 => Layout::Json {
            array: String::new(),
            field: String::new(),
        },
        4 => Layout::Json {
            array: "data".to_owned(),
            field: "ioc.value".to_owned(),
        },
        _ => Layout::Ndjson {
            field: "value".to_owned(),
        },
    };
    let mut format = FeedFormat::new(layout);
    format.delimiter = if pick & 0x40 == 0 { b',' } else { b'\t' };
    format.encoding = match pick >> 6 {
        1 => Some("shift_jis".to_owned()),
        2 => Some("utf-16le".to_owned()),
        _ => None,
    };
    format.confidence_column = Some("2".to_owned());
    format.label_columns = vec!["tags".to_owned()];
    let mut seen = 0u64;
    let _ = read_feed(body, &format, |_| {
        seen += 1;
        true
    });
});

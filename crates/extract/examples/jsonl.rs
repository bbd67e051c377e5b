//! `rexist extract --jsonl` on one thread and without the rest of the binary: reads a
//! file (or stdin), extracts in the CLI's blocks cut at line breaks and prints the same
//! JSON lines, so one core's throughput can be measured and profiled after a quick
//! `cargo build --release -p rexist-extract --example jsonl`.
//!
//!     target/release/examples/jsonl target/ioc-20MB-seed7.txt | wc -l

use std::io::{self, Read, Write};

fn main() -> io::Result<()> {
    let mut data = Vec::new();
    match std::env::args_os().nth(1) {
        Some(path) => data = std::fs::read(path)?,
        None => {
            io::stdin().read_to_end(&mut data)?;
        }
    }
    let extractor = rexist_extract::Extractor::default();
    let mut stdout = io::stdout().lock();
    let mut out = Vec::new();
    let mut base = 0;
    while base < data.len() {
        // the CLI's blocks: about 256 KiB, cut after the last line break
        let limit = (base + (1 << 18)).min(data.len());
        let cut = if limit == data.len() {
            limit
        } else {
            data[base..limit]
                .iter()
                .rposition(|&c| c == b'\n')
                .map_or(limit, |i| base + i + 1)
        };
        let block = &data[base..cut];
        let text = match std::str::from_utf8(block) {
            Ok(t) => std::borrow::Cow::Borrowed(t),
            Err(_) => String::from_utf8_lossy(block),
        };
        out.clear();
        extractor.extract_jsonl(&text, base, &mut out);
        stdout.write_all(&out)?;
        base = cut;
    }
    stdout.flush()
}

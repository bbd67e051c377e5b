//! `rexist extract`, `rexist refang`, `rexist defang`: stdin → stdout filters
//! over the extractor crate (the scorer's contract, see
//! `../shared/ioc-corpus/README.md`).
//!
//! `extract --jsonl` streams: it reads about 1 MiB at a time and cuts at the
//! last line break, which is exact because no indicator and no context cue the
//! extractor uses spans a line break; offsets are those of the whole input.
//! Blocks are extracted in parallel, one thread per core, and written in order.

use std::io::{self, BufRead, BufWriter, Read, Write};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// Arguments of `extract`.
#[derive(Debug, clap::Args)]
pub struct ExtractArgs {
    /// Text on stdin; one `{"type","value","start","end","defanged"}` line per indicator.
    #[arg(long, conflicts_with = "batch")]
    jsonl: bool,
    /// JSON lines `{"id","text"}` on stdin; one `{"id","type","value",…}` line per indicator.
    #[arg(long)]
    batch: bool,
    /// Accept names under this top-level domain too (repeatable), beside the
    /// public ones and the configuration's `[extract] extra_tlds`.
    #[arg(long = "extra-tld", value_name = "TLD")]
    extra_tlds: Vec<String>,
}

/// Bytes read per step of `--jsonl`.
const CHUNK: usize = 1 << 20;

/// Runs `extract` with the extractor the configuration gives ingest
/// (`[extract] extra_tlds`) and `--extra-tld`.
pub fn extract(config: &crate::config::Config, args: &ExtractArgs) -> Result<ExitCode> {
    for tld in &args.extra_tlds {
        let t = tld.trim().trim_start_matches('.');
        if !rexist_extract::is_tld_label(&t.to_ascii_lowercase()) {
            bail!("--extra-tld {tld:?} is not a top-level domain (2-63 letters, or punycode)");
        }
    }
    let extractor = config.extractor().with_extra_tlds(&args.extra_tlds);
    if args.batch {
        batch(&extractor, io::stdin().lock(), &mut io::stdout().lock())?;
    } else {
        jsonl(&extractor, io::stdin().lock(), io::stdout())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Most extraction threads `--jsonl` starts, whatever the machine has.
const MAX_WORKERS: usize = 8;

/// Extracts one block that starts at byte `base` of the input and appends its JSON
/// lines to `out`.
fn extract_block(
    extractor: &rexist_extract::Extractor,
    base: usize,
    block: &[u8],
    out: &mut String,
) {
    // Validating is several times faster than the lossy pass, which only invalid
    // UTF-8 needs; it is replaced, and offsets then refer to the repaired text.
    let text = match std::str::from_utf8(block) {
        Ok(t) => std::borrow::Cow::Borrowed(t),
        Err(_) => String::from_utf8_lossy(block),
    };
    let mut matches = extractor.extract(&text);
    for m in &mut matches {
        m.start += base;
        m.end += base;
    }
    out.reserve(matches.len() * 96);
    rexist_extract::write_jsonl(&matches, None, out);
}

/// Streams `input` to `output` as JSON lines. Blocks cut at line breaks are extracted
/// in parallel, one worker per core: blocks are independent, and extraction, not I/O,
/// is what limits throughput. Block `k` goes to worker `k % n` and the writer takes
/// results in the same rotation, so output keeps input order with no reordering
/// buffer; bounded channels keep memory at a few blocks per worker. Input and output
/// buffers go back to be filled again: fresh megabyte buffers cost a page fault per
/// 4 KiB, a quarter of the run's time.
fn jsonl<W: Write + Send>(
    extractor: &rexist_extract::Extractor,
    mut input: impl Read,
    mut output: W,
) -> Result<W> {
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(MAX_WORKERS);
    let (free_tx, free_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    std::thread::scope(|scope| {
        let mut jobs = Vec::with_capacity(workers);
        let mut results = Vec::with_capacity(workers);
        let mut spent = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (job_tx, job_rx) = std::sync::mpsc::sync_channel::<(usize, Vec<u8>)>(2);
            let (out_tx, out_rx) = std::sync::mpsc::sync_channel::<String>(2);
            let (spent_tx, spent_rx) = std::sync::mpsc::channel::<String>();
            let free_tx = free_tx.clone();
            scope.spawn(move || {
                for (base, block) in job_rx {
                    let mut out = spent_rx.try_recv().unwrap_or_default();
                    extract_block(extractor, base, &block, &mut out);
                    let _ = free_tx.send(block); // the reader may be done
                    if out_tx.send(out).is_err() {
                        break; // the writer failed; its error is reported below
                    }
                }
            });
            jobs.push(job_tx);
            results.push(out_rx);
            spent.push(spent_tx);
        }
        drop(free_tx);
        // A worker's channel closes only after its last block, and blocks are handed
        // out in rotation, so the first closed channel in turn is the end of the output.
        let writer = scope.spawn(move || -> io::Result<W> {
            for k in (0..workers).cycle() {
                let Ok(mut block) = results[k].recv() else {
                    break;
                };
                output.write_all(block.as_bytes())?;
                block.clear();
                let _ = spent[k].send(block); // the worker may be done
            }
            output.flush()?;
            Ok(output)
        });
        let read = dispatch(&mut input, &jobs, &free_rx);
        drop(jobs);
        let written = writer
            .join()
            .map_err(|_| anyhow::anyhow!("stdout writer thread panicked"))?
            .context("writing stdout");
        read?;
        written
    })
}

/// Reads `input` in blocks of about [`CHUNK`] bytes cut after their last line break
/// and hands them to `jobs` in rotation, each with its offset in the input, filling
/// buffers from `free` when there are any. Stops early, without error, when a worker
/// is gone (the writer failed).
fn dispatch(
    input: &mut impl Read,
    jobs: &[std::sync::mpsc::SyncSender<(usize, Vec<u8>)>],
    free: &std::sync::mpsc::Receiver<Vec<u8>>,
) -> Result<()> {
    let mut carry: Vec<u8> = Vec::new();
    let mut base = 0;
    let mut k = 0;
    loop {
        let mut block = if carry.len() >= CHUNK {
            // a line longer than a block grows in place, not copied at each step
            std::mem::take(&mut carry)
        } else {
            let mut b = free.try_recv().unwrap_or_default();
            b.clear();
            b.extend_from_slice(&carry);
            carry.clear();
            b
        };
        block.reserve(CHUNK);
        let from = block.len();
        let n = input
            .take(CHUNK as u64)
            .read_to_end(&mut block)
            .context("reading stdin")?;
        if n > 0 {
            // Cut after the last line break; a block without one waits for more.
            let Some(i) = block[from..].iter().rposition(|&c| c == b'\n') else {
                carry = block;
                continue;
            };
            carry.extend_from_slice(&block[from + i + 1..]);
            block.truncate(from + i + 1);
        } else if block.is_empty() {
            return Ok(());
        }
        let len = block.len();
        if jobs[k].send((base, block)).is_err() {
            return Ok(());
        }
        base += len;
        k = (k + 1) % jobs.len();
        if n == 0 {
            return Ok(());
        }
    }
}

#[derive(Deserialize)]
struct Doc {
    id: serde_json::Value,
    text: String,
}

fn batch(
    extractor: &rexist_extract::Extractor,
    input: impl BufRead,
    output: &mut impl Write,
) -> Result<()> {
    let mut w = BufWriter::new(output);
    let mut out = String::new();
    for (n, line) in input.lines().enumerate() {
        let line = line.with_context(|| format!("reading stdin line {}", n + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let doc: Doc = match serde_json::from_str(&line) {
            Ok(d) => d,
            Err(e) => bail!("stdin line {}: expected {{\"id\", \"text\"}}: {e}", n + 1),
        };
        // The id is echoed as a string, whatever JSON type it came as.
        let id = match &doc.id {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.clear();
        rexist_extract::write_jsonl(&extractor.extract(&doc.text), Some(&id), &mut out);
        w.write_all(out.as_bytes()).context("writing stdout")?;
    }
    w.flush().context("writing stdout")?;
    Ok(())
}

/// Runs `refang` (or `defang` when `defang` is true) over stdin, line by line.
pub fn fang(defang: bool) -> Result<ExitCode> {
    let stdin = io::stdin().lock();
    let mut w = BufWriter::new(io::stdout().lock());
    for (n, line) in stdin.split(b'\n').enumerate() {
        let line = line.with_context(|| format!("reading stdin line {}", n + 1))?;
        let text = String::from_utf8_lossy(&line);
        let rewritten = if defang {
            rexist_extract::defang(&text)
        } else {
            rexist_extract::refang(&text)
        };
        w.write_all(rewritten.as_bytes())
            .context("writing stdout")?;
        w.write_all(b"\n").context("writing stdout")?;
    }
    w.flush().context("writing stdout")?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_offsets_span_chunks() {
        let mut text = "x\n".repeat(CHUNK);
        let start = text.len();
        text.push_str("beacon to evil[.]com now\n");
        let out = jsonl(
            &rexist_extract::Extractor::default(),
            std::io::Cursor::new(text.into_bytes()),
            Vec::new(),
        )
        .unwrap();
        let line = String::from_utf8(out).unwrap();
        let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
        assert_eq!(v["value"], "evil.com");
        assert_eq!(v["start"], start + 10);
        assert_eq!(v["defanged"], true);
    }

    #[test]
    fn jsonl_keeps_order_and_offsets_over_many_blocks() {
        // more blocks than workers, and one line longer than a block
        let mut text = String::new();
        let mut want = Vec::new();
        for i in 0..40_000u32 {
            text.push_str(&"filler ".repeat(usize::try_from(i % 23).unwrap()));
            want.push((
                text.len(),
                format!(
                    "11.{}.{}.{}",
                    1 + i / 62_500,
                    1 + i / 250 % 250,
                    1 + i % 250
                ),
            ));
            text.push_str(&want.last().unwrap().1);
            text.push('\n');
        }
        text.push_str(&"y".repeat(CHUNK + 7));
        want.push((text.len() + 1, "198.51.100.7".to_owned()));
        text.push_str(" 198.51.100.7");
        let out = jsonl(
            &rexist_extract::Extractor::default(),
            std::io::Cursor::new(text.into_bytes()),
            Vec::new(),
        )
        .unwrap();
        let got: Vec<(usize, String)> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                let start = usize::try_from(v["start"].as_u64().unwrap()).unwrap();
                (start, v["value"].as_str().unwrap().to_owned())
            })
            .collect();
        assert_eq!(got.len(), want.len());
        assert_eq!(got, want);
    }

    #[test]
    fn batch_echoes_ids_and_names_bad_lines() {
        let input =
            "{\"id\": 7, \"text\": \"see 203.0.113.9\"}\n\n{\"id\": \"b\", \"text\": \"none\"}\n";
        let mut out = Vec::new();
        batch(
            &rexist_extract::Extractor::default(),
            input.as_bytes(),
            &mut out,
        )
        .unwrap();
        let v: serde_json::Value =
            serde_json::from_str(String::from_utf8(out).unwrap().trim()).unwrap();
        assert_eq!(v["id"], "7");
        assert_eq!(v["value"], "203.0.113.9");
        let err = batch(
            &rexist_extract::Extractor::default(),
            "{\"text\": 1}\n".as_bytes(),
            &mut Vec::new(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("stdin line 1"), "{err}");
    }
}

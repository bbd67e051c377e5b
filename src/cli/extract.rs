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
const CHUNK: usize = 1 << 18;

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
        jsonl(&extractor, raw_stdin()?, io::stdout())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Standard input without `Stdin`'s 8 KiB buffer, which blocks read straight into
/// would only pass through as an extra copy.
#[cfg(unix)]
fn raw_stdin() -> Result<std::fs::File> {
    use std::os::fd::AsFd;
    let fd = io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .context("reading stdin")?;
    Ok(std::fs::File::from(fd))
}

/// Standard input, where it is no file descriptor.
#[cfg(not(unix))]
fn raw_stdin() -> Result<io::StdinLock<'static>> {
    Ok(io::stdin().lock())
}

/// Most extraction threads `--jsonl` starts, whatever the machine has.
const MAX_WORKERS: usize = 8;

/// Extracts one block that starts at byte `base` of the input and appends its JSON
/// lines to `out`.
fn extract_block(
    extractor: &rexist_extract::Extractor,
    base: usize,
    block: &[u8],
    out: &mut Vec<u8>,
) {
    // Validating is several times faster than repairing, which only invalid UTF-8
    // needs.
    let text = match std::str::from_utf8(block) {
        Ok(t) => std::borrow::Cow::Borrowed(t),
        Err(_) => std::borrow::Cow::Owned(repair_utf8(block)),
    };
    extractor.extract_jsonl(&text, base, out);
}

/// `block` with each byte of invalid UTF-8 replaced by SUB (0x1A), which begins and
/// continues no indicator: unlike U+FFFD (three bytes), it keeps every offset that of
/// the input, whichever block an invalid byte falls in.
fn repair_utf8(block: &[u8]) -> String {
    let mut out = String::with_capacity(block.len());
    for chunk in block.utf8_chunks() {
        out.push_str(chunk.valid());
        out.extend(std::iter::repeat_n('\u{1a}', chunk.invalid().len()));
    }
    out
}

/// Streams `input` to `output` as JSON lines. Blocks cut at line breaks are extracted
/// in parallel, one worker per core: blocks are independent, and extraction, not I/O,
/// is what limits throughput. Workers take the next block from one shared queue, so a
/// worker slowed by the rest of the machine holds up one block, not every other one;
/// the writer puts results back in input order. A fixed pool of input buffers bounds
/// memory: a buffer goes back to the reader only once its block is written, so at
/// most [`IN_FLIGHT`] blocks per worker exist at a time, also when one block is slow.
/// Buffers are reused rather than freed: fresh buffers cost a page fault per 4 KiB.
fn jsonl<W: Write + Send>(
    extractor: &rexist_extract::Extractor,
    mut input: impl Read,
    mut output: W,
) -> Result<W> {
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(MAX_WORKERS);
    let (free_tx, free_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    for _ in 0..workers * IN_FLIGHT {
        let _ = free_tx.send(Vec::new());
    }
    let (job_tx, job_rx) = std::sync::mpsc::channel::<Job>();
    let job_rx = std::sync::Mutex::new(job_rx);
    let (done_tx, done_rx) = std::sync::mpsc::channel::<(Job, Option<Vec<u8>>)>();
    let (spent_tx, spent_rx) = std::sync::mpsc::channel::<Vec<u8>>();
    let spent_rx = std::sync::Mutex::new(spent_rx);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let done_tx = done_tx.clone();
            let (job_rx, spent_rx) = (&job_rx, &spent_rx);
            scope.spawn(move || {
                loop {
                    // the lock is held only to take a block, never while extracting
                    let job = match job_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => break,
                    };
                    let Ok(job) = job else { break };
                    let mut out = spent_rx
                        .lock()
                        .ok()
                        .and_then(|rx| rx.try_recv().ok())
                        .unwrap_or_default();
                    // a panic would leave a hole in the output the writer waits on
                    // forever: it is reported as the block's failure instead
                    let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        extract_block(extractor, job.base, &job.block, &mut out);
                    }))
                    .is_ok();
                    if done_tx.send((job, ok.then_some(out))).is_err() {
                        break; // the writer failed; its error is reported below
                    }
                }
            });
        }
        drop(done_tx);
        let writer = scope.spawn(move || -> io::Result<W> {
            // results that came before their turn, by sequence number
            let mut waiting = std::collections::BTreeMap::new();
            let mut next = 0;
            for (job, out) in done_rx {
                let Some(out) = out else {
                    return Err(io::Error::other(format!(
                        "extraction failed on the block at byte {} of stdin",
                        job.base
                    )));
                };
                waiting.insert(job.seq, (job.block, out));
                while let Some((block, mut out)) = waiting.remove(&next) {
                    output.write_all(&out)?;
                    out.clear();
                    let _ = spent_tx.send(out);
                    let _ = free_tx.send(block); // the reader may be done
                    next += 1;
                }
            }
            output.flush()?;
            Ok(output)
        });
        let read = dispatch(&mut input, &job_tx, &free_rx);
        drop(job_tx);
        let written = writer
            .join()
            .map_err(|_| anyhow::anyhow!("stdout writer thread panicked"))?
            .context("writing stdout");
        read?;
        written
    })
}

/// Blocks per worker that may be read, extracted or waiting to be written at a time.
const IN_FLIGHT: usize = 3;

/// One block of the input: its place in the output order and its offset in the input.
struct Job {
    seq: usize,
    base: usize,
    block: Vec<u8>,
}

/// Reads `input` in blocks of about [`CHUNK`] bytes cut after their last line break
/// and queues them, each with its offset in the input, in buffers taken from `free`.
/// Stops early, without error, when the buffers stop coming back or the workers are
/// gone (the writer failed).
fn dispatch(
    input: &mut impl Read,
    jobs: &std::sync::mpsc::Sender<Job>,
    free: &std::sync::mpsc::Receiver<Vec<u8>>,
) -> Result<()> {
    let mut carry: Vec<u8> = Vec::new();
    let mut base = 0;
    let mut seq = 0;
    loop {
        let mut block = if carry.len() >= CHUNK {
            // a line longer than a block grows in place, not copied at each step
            std::mem::take(&mut carry)
        } else {
            let Ok(mut b) = free.recv() else {
                return Ok(());
            };
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
        if jobs.send(Job { seq, base, block }).is_err() {
            return Ok(());
        }
        base += len;
        seq += 1;
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
    let mut out = Vec::new();
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
        w.write_all(&out).context("writing stdout")?;
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
    fn offsets_after_invalid_utf8_are_those_of_the_input() {
        // invalid bytes early in the input, in a block of their own, and next to an
        // indicator: every offset is a byte offset into what was read
        let mut input = b"a \xff\xfe b\n".repeat(CHUNK / 8);
        input.extend_from_slice(b"see \xc3 evil[.]com\xff and 198.51.100.7\n");
        let out = jsonl(
            &rexist_extract::Extractor::default(),
            std::io::Cursor::new(input.clone()),
            Vec::new(),
        )
        .unwrap();
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "{lines:?}");
        for (v, written) in lines.iter().zip(["evil[.]com", "198.51.100.7"]) {
            let start = usize::try_from(v["start"].as_u64().unwrap()).unwrap();
            let end = usize::try_from(v["end"].as_u64().unwrap()).unwrap();
            assert_eq!(&input[start..end], written.as_bytes(), "{v}");
        }
        assert_eq!(repair_utf8(b"x\xffy\xe2\x82"), "x\u{1a}y\u{1a}\u{1a}");
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

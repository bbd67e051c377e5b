//! `rexist extract`, `rexist refang`, `rexist defang`: stdin → stdout filters
//! over the extractor crate (the scorer's contract, see
//! `../shared/ioc-corpus/README.md`).
//!
//! `extract --jsonl` streams: it reads about 1 MiB at a time and cuts at the
//! last line break, which is exact because no indicator and no context cue the
//! extractor uses spans a line break; offsets are those of the whole input.

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
        jsonl(&extractor, io::stdin(), io::stdout())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads `input` on its own thread in blocks, so the producer of a pipe keeps
/// writing while this thread extracts; blocks arrive in order, `None` at the end.
fn spawn_reader(
    mut input: impl Read + Send + 'static,
) -> std::sync::mpsc::Receiver<io::Result<Vec<u8>>> {
    let (tx, rx) = std::sync::mpsc::sync_channel(4);
    std::thread::spawn(move || {
        loop {
            let mut block = Vec::with_capacity(CHUNK);
            match (&mut input).take(CHUNK as u64).read_to_end(&mut block) {
                Ok(0) => break,
                Ok(_) => {
                    if tx.send(Ok(block)).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                    break;
                }
            }
        }
    });
    rx
}

/// Writes blocks on its own thread, so a slow reader of the pipe does not stall
/// extraction; returns the sender and the thread, which hands back the writer.
fn spawn_writer<W: Write + Send + 'static>(
    mut output: W,
) -> (
    std::sync::mpsc::SyncSender<String>,
    std::thread::JoinHandle<io::Result<W>>,
) {
    let (tx, rx) = std::sync::mpsc::sync_channel::<String>(4);
    let handle = std::thread::spawn(move || {
        for block in rx {
            output.write_all(block.as_bytes())?;
        }
        output.flush()?;
        Ok(output)
    });
    (tx, handle)
}

fn jsonl<W: Write + Send + 'static>(
    extractor: &rexist_extract::Extractor,
    input: impl Read + Send + 'static,
    output: W,
) -> Result<W> {
    let blocks = spawn_reader(input);
    let (sink, writer) = spawn_writer(output);
    let mut buf: Vec<u8> = Vec::with_capacity(2 * CHUNK);
    let mut base = 0;
    let mut eof = false;
    while !eof || !buf.is_empty() {
        if !eof {
            match blocks.recv() {
                Ok(block) => buf.extend_from_slice(&block.context("reading stdin")?),
                Err(_) => eof = true,
            }
        }
        // Cut after the last line break; at the end, take the rest.
        let cut = if eof {
            buf.len()
        } else {
            match buf.iter().rposition(|&c| c == b'\n') {
                Some(i) => i + 1,
                None => continue,
            }
        };
        // Invalid UTF-8 is replaced; offsets then refer to the repaired text.
        let text = String::from_utf8_lossy(&buf[..cut]);
        let mut matches = extractor.extract(&text);
        for m in &mut matches {
            m.start += base;
            m.end += base;
        }
        let mut out = String::with_capacity(matches.len() * 96);
        rexist_extract::write_jsonl(&matches, None, &mut out);
        if sink.send(out).is_err() {
            break; // the writer failed; its error is reported below
        }
        base += cut;
        buf.drain(..cut);
    }
    drop(sink);
    let output = writer
        .join()
        .map_err(|_| anyhow::anyhow!("stdout writer thread panicked"))?
        .context("writing stdout")?;
    Ok(output)
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

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
}

/// Bytes read per step of `--jsonl`.
const CHUNK: usize = 1 << 20;

/// Runs `extract`.
pub fn extract(args: &ExtractArgs) -> Result<ExitCode> {
    if args.batch {
        batch(io::stdin().lock(), &mut io::stdout().lock())?;
    } else {
        jsonl(io::stdin().lock(), &mut io::stdout().lock())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn jsonl(mut input: impl Read, output: &mut impl Write) -> Result<()> {
    let mut w = BufWriter::new(output);
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK);
    let mut out = String::with_capacity(CHUNK);
    let mut base = 0;
    let mut eof = false;
    while !eof || !buf.is_empty() {
        // Fill to CHUNK, and beyond while no line break is in sight (one huge line).
        let want = (CHUNK.max(buf.len() + CHUNK / 4) - buf.len()) as u64;
        if !eof
            && (&mut input)
                .take(want)
                .read_to_end(&mut buf)
                .context("reading stdin")?
                == 0
        {
            eof = true;
        }
        let cut = if eof {
            buf.len()
        } else {
            match buf.iter().rposition(|&c| c == b'\n') {
                Some(i) => i + 1,
                None => continue,
            }
        };
        let chunk = &buf[..cut];
        // Invalid UTF-8 is replaced; offsets then refer to the repaired text.
        let text = String::from_utf8_lossy(chunk);
        let mut matches = rexist_extract::extract(&text);
        for m in &mut matches {
            m.start += base;
            m.end += base;
        }
        out.clear();
        rexist_extract::write_jsonl(&matches, None, &mut out);
        w.write_all(out.as_bytes()).context("writing stdout")?;
        base += cut;
        buf.drain(..cut);
    }
    w.flush().context("writing stdout")?;
    Ok(())
}

#[derive(Deserialize)]
struct Doc {
    id: serde_json::Value,
    text: String,
}

fn batch(input: impl BufRead, output: &mut impl Write) -> Result<()> {
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
        rexist_extract::write_jsonl(&rexist_extract::extract(&doc.text), Some(&id), &mut out);
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
        let mut out = Vec::new();
        jsonl(text.as_bytes(), &mut out).unwrap();
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
        batch(input.as_bytes(), &mut out).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(String::from_utf8(out).unwrap().trim()).unwrap();
        assert_eq!(v["id"], "7");
        assert_eq!(v["value"], "203.0.113.9");
        let err = batch("{\"text\": 1}\n".as_bytes(), &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("stdin line 1"), "{err}");
    }
}

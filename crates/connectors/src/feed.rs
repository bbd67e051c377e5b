//! Generic, declarative feeds: plain lists, CSV columns and JSON fields that a
//! user adds by configuration alone, and on which the built-in catalogue is
//! built. Also what `rexist ingest file` reads.
//!
//! A bad value is an [`Entry::Rejected`] with its line and reason, never an
//! abort: the rest of the feed is stored (see intelmq's `ParserBot`). Real
//! lists carry comment banners, trailing comments (`192.0.2.1 # note`,
//! `10.0.0.0/8 ; SBL123`), headers kept in the banner's last comment line
//! (abuse.ch), `", "` separators (ThreatFox), `ip:port` values, defanged
//! values and stray non-UTF-8 bytes; each is handled here.

use std::io::{BufRead, BufReader, Read};

use rexist_core::{Indicator, IndicatorType};

/// Where the values of a feed are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// One value per line.
    Lines,
    /// One CSV column, by zero-based index.
    Index(usize),
    /// One CSV column, by header name (the header may sit in the comment banner).
    Header(String),
    /// A JSON document: the array at `array` (dot path; the document itself if
    /// empty), and in each element the value at `field` (dot path; the element
    /// itself if empty).
    Json {
        /// Dot path to the array.
        array: String,
        /// Dot path to the value in each element.
        field: String,
    },
    /// One JSON object per line, the value at `field` (dot path).
    Ndjson {
        /// Dot path to the value in each line's object.
        field: String,
    },
}

/// How to read a feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedFormat {
    /// Where the values are.
    pub layout: Layout,
    /// CSV field delimiter.
    pub delimiter: u8,
    /// Indicator type of every value; detected per value when `None`.
    pub kind: Option<IndicatorType>,
}

/// One value of a feed, read or rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A valid indicator and the line it came from.
    Indicator {
        /// 1-based line of the input.
        line: u64,
        /// The canonical indicator.
        indicator: Indicator,
    },
    /// A value that is not an indicator of the expected type.
    Rejected {
        /// 1-based line of the input.
        line: u64,
        /// Why, short and countable.
        reason: String,
    },
}

/// Why reading a feed stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The input could not be read.
    #[error("read error at line {line}: {source}")]
    Read {
        /// Last line read.
        line: u64,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The named column is in no header.
    #[error("no column named {name:?} in the header (columns: {columns})")]
    NoColumn {
        /// The column asked for.
        name: String,
        /// The header's columns, comma-joined.
        columns: String,
    },
    /// A JSON document that does not parse, or has no array where configured.
    #[error("invalid JSON: {0}")]
    Json(String),
}

/// Parses one raw value into an indicator, or says why not.
///
/// A value that does not parse as written is refanged and tried again, so
/// lists with `192.0.2[.]1` or `hxxp://evil[.]com/` load, and `host:port` is
/// reduced to its host; clean values, nearly all of a list, pay for neither.
pub fn parse_value(raw: &str, kind: Option<IndicatorType>) -> Result<Indicator, String> {
    // One pair of quotes around the value (ThreatFox's `", "` separators
    // leave ` "value"`); a quote that ends the value itself (URLhaus's
    // `ref="x"`) stays.
    let trimmed = raw.trim();
    let value = trimmed
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(trimmed)
        .trim();
    let parse = |v: &str| match kind {
        Some(k) => Indicator::parse(k, v),
        None => Indicator::detect(v),
    };
    let first = match parse(value) {
        Ok(i) => return Ok(i),
        Err(e) => e,
    };
    let refanged = rexist_extract::refang(value);
    if refanged != value {
        if let Ok(i) = parse(&refanged) {
            return Ok(i);
        }
    }
    if let Some(host) = host_of_host_port(&refanged) {
        if let Ok(i) = parse(host) {
            return Ok(i);
        }
    }
    Err(first.reason())
}

/// `192.0.2.1:443` → `192.0.2.1`, `[2001:db8::1]:8080` → `2001:db8::1`.
fn host_of_host_port(v: &str) -> Option<&str> {
    if let Some(rest) = v.strip_prefix('[') {
        let (host, port) = rest.split_once("]:")?;
        return port.bytes().all(|b| b.is_ascii_digit()).then_some(host);
    }
    let (host, port) = v.rsplit_once(':')?;
    let plain = !host.contains(':') && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit());
    plain.then_some(host)
}

fn is_comment(line: &str) -> bool {
    let t = line.trim_start();
    t.is_empty() || t.starts_with('#') || t.starts_with("//") || t.starts_with(';')
}

/// The value of a list line: the line without a trailing comment that
/// follows white space. Indicator values never contain white space, so this
/// cannot cut a value.
fn strip_trailing_comment(line: &str) -> &str {
    let bytes = line.as_bytes();
    let cut = (1..bytes.len()).find(|&i| {
        bytes[i - 1].is_ascii_whitespace()
            && (bytes[i] == b'#' || bytes[i] == b';' || line[i..].starts_with("//"))
    });
    cut.map_or(line, |i| &line[..i]).trim()
}

/// Reads the comment banner at the top of a CSV file and returns the first
/// data line, the last comment line (abuse.ch keeps the header there), how
/// many lines were skipped, and the reader positioned after the data line.
fn skip_banner<R: BufRead>(mut reader: R) -> std::io::Result<(Vec<u8>, Option<String>, u64, R)> {
    let mut last_comment = None;
    let mut line = Vec::new();
    let mut skipped = 0u64;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok((Vec::new(), last_comment, skipped, reader));
        }
        let text = String::from_utf8_lossy(&line);
        let trimmed = text.trim();
        if trimmed.is_empty() {
            skipped += 1;
            continue;
        }
        match trimmed.strip_prefix('#') {
            Some(comment) => {
                skipped += 1;
                last_comment = Some(comment.trim().to_owned());
            }
            None => return Ok((line, last_comment, skipped, reader)),
        }
    }
}

/// The fields of one CSV line, trimmed of white space and quotes.
fn fields(line: &[u8], delimiter: u8) -> Vec<String> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(line);
    reader
        .byte_records()
        .next()
        .and_then(Result::ok)
        .map(|r| {
            r.iter()
                .map(|f| {
                    String::from_utf8_lossy(f)
                        .trim()
                        .trim_matches('"')
                        .trim()
                        .to_owned()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Reads a feed, calling `emit` for every value until the input ends or
/// `emit` returns false.
pub fn read_feed(
    input: impl Read,
    format: &FeedFormat,
    mut emit: impl FnMut(Entry) -> bool,
) -> Result<(), FeedError> {
    let kind = format.kind;
    let mut push = |line: u64, raw: Result<&str, String>| -> bool {
        emit(match raw.and_then(|v| parse_value(v, kind)) {
            Ok(indicator) => Entry::Indicator { line, indicator },
            Err(reason) => Entry::Rejected { line, reason },
        })
    };
    match &format.layout {
        Layout::Lines => read_lines(input, &mut push),
        Layout::Index(_) | Layout::Header(_) => read_csv(input, format, &mut push),
        Layout::Json { array, field } => read_json(input, array, field, &mut push),
        Layout::Ndjson { field } => read_ndjson(input, field, &mut push),
    }
}

fn read_lines(
    input: impl Read,
    push: &mut impl FnMut(u64, Result<&str, String>) -> bool,
) -> Result<(), FeedError> {
    let mut reader = BufReader::with_capacity(1 << 16, input);
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(source) => {
                return Err(FeedError::Read {
                    line: line_no,
                    source,
                });
            }
        }
        line_no += 1;
        let Ok(line) = std::str::from_utf8(&buf) else {
            if !push(line_no, Err(NOT_UTF8.to_owned())) {
                return Ok(());
            }
            continue;
        };
        let line = line.trim_end_matches(['\n', '\r']);
        if is_comment(line) {
            continue;
        }
        if !push(line_no, Ok(strip_trailing_comment(line))) {
            return Ok(());
        }
    }
}

/// Reason of a line or field whose bytes are not UTF-8.
const NOT_UTF8: &str = "not UTF-8";

fn read_csv(
    input: impl Read,
    format: &FeedFormat,
    push: &mut impl FnMut(u64, Result<&str, String>) -> bool,
) -> Result<(), FeedError> {
    let delimiter = format.delimiter;
    let (first, banner_header, skipped, rest) =
        skip_banner(BufReader::with_capacity(1 << 16, input))
            .map_err(|source| FeedError::Read { line: 0, source })?;
    let banner = banner_header
        .as_deref()
        .map(|h| fields(h.as_bytes(), delimiter));
    let header = fields(&first, delimiter);
    // The header is the commented line above the data when it names the
    // column, else the first data line.
    let (index, first_is_header) = match &format.layout {
        Layout::Header(name) => {
            let in_banner = banner
                .as_ref()
                .and_then(|b| b.iter().position(|f| f == name));
            match (in_banner, header.iter().position(|f| f == name)) {
                (Some(i), _) => (i, false),
                (None, Some(i)) => (i, true),
                (None, None) => {
                    return Err(FeedError::NoColumn {
                        name: name.clone(),
                        columns: header.join(", "),
                    });
                }
            }
        }
        Layout::Index(i) => (*i, false),
        _ => (0, false),
    };
    // Rows must have the header's width: a short row or an unterminated last
    // line is rejected, not half-read. Without a header, the first row sets it.
    let mut width = match (&format.layout, first_is_header) {
        (_, true) => Some(header.len()),
        (Layout::Header(_), false) => banner.as_ref().map(Vec::len),
        _ => None,
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(first_is_header)
        .flexible(true)
        .comment(Some(b'#'))
        .from_reader(std::io::Cursor::new(first).chain(rest));
    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map_or(0, csv::Position::line) + skipped;
                if let csv::ErrorKind::Io(_) = e.kind() {
                    return Err(FeedError::Read {
                        line,
                        source: std::io::Error::other(e.to_string()),
                    });
                }
                if !push(line, Err("malformed CSV record".to_owned())) {
                    return Ok(());
                }
                continue;
            }
        }
        let line = record.position().map_or(0, csv::Position::line) + skipped;
        let expected = *width.get_or_insert(record.len());
        let value = if record.len() == expected {
            record.get(index).map(std::str::from_utf8)
        } else {
            None
        };
        let keep_going = match value {
            Some(Ok(v)) if v.trim().is_empty() => true,
            Some(Ok(v)) => push(line, Ok(v)),
            Some(Err(_)) => push(line, Err(NOT_UTF8.to_owned())),
            None if record.len() != expected => push(
                line,
                Err(format!(
                    "expected {expected} fields, found {}",
                    record.len()
                )),
            ),
            None => push(line, Err(format!("no column {}", index + 1))),
        };
        if !keep_going {
            return Ok(());
        }
    }
}

/// The value at a dot path (`data.0.url`; empty = the value itself).
fn at_path<'a>(mut v: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    for part in path.split('.').filter(|p| !p.is_empty()) {
        v = match v {
            serde_json::Value::Object(map) => map.get(part)?,
            serde_json::Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(v)
}

fn json_text(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn read_json(
    input: impl Read,
    array: &str,
    field: &str,
    push: &mut impl FnMut(u64, Result<&str, String>) -> bool,
) -> Result<(), FeedError> {
    let doc: serde_json::Value = serde_json::from_reader(BufReader::new(input))
        .map_err(|e| FeedError::Json(e.to_string()))?;
    let items = at_path(&doc, array)
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| {
            FeedError::Json(format!(
                "no array at {:?}",
                if array.is_empty() { "." } else { array }
            ))
        })?;
    for (i, item) in items.iter().enumerate() {
        // JSON has no lines worth naming: the element's position stands in.
        let pos = i as u64 + 1;
        let keep_going = match at_path(item, field).and_then(json_text) {
            Some(v) => push(pos, Ok(&v)),
            None => push(pos, Err(format!("no field {field}"))),
        };
        if !keep_going {
            break;
        }
    }
    Ok(())
}

fn read_ndjson(
    input: impl Read,
    field: &str,
    push: &mut impl FnMut(u64, Result<&str, String>) -> bool,
) -> Result<(), FeedError> {
    let reader = BufReader::new(input);
    for (i, line) in reader.split(b'\n').enumerate() {
        let line_no = i as u64 + 1;
        let line = line.map_err(|source| FeedError::Read {
            line: line_no,
            source,
        })?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let keep_going = match serde_json::from_slice::<serde_json::Value>(&line) {
            // Spamhaus ends its NDJSON with a metadata object that has a `type`.
            Ok(v) if v.get("type").is_some() && at_path(&v, field).is_none() => true,
            Ok(v) => match at_path(&v, field).and_then(json_text) {
                Some(value) => push(line_no, Ok(&value)),
                None => push(line_no, Err(format!("no field {field}"))),
            },
            Err(_) => push(line_no, Err("invalid JSON line".to_owned())),
        };
        if !keep_going {
            break;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, layout: Layout) -> (Vec<String>, Vec<(u64, String)>, Option<String>) {
        let format = FeedFormat {
            layout,
            delimiter: b',',
            kind: None,
        };
        let (mut ok, mut bad) = (Vec::new(), Vec::new());
        let result = read_feed(text.as_bytes(), &format, |e| {
            match e {
                Entry::Indicator { indicator, .. } => ok.push(indicator.value().to_owned()),
                Entry::Rejected { line, reason } => bad.push((line, reason)),
            }
            true
        });
        (ok, bad, result.err().map(|e| e.to_string()))
    }

    #[test]
    fn values_parse_by_type_detection_refang_and_port() {
        assert_eq!(
            parse_value(" \"1.2.3.4\" ", None).unwrap().value(),
            "1.2.3.4"
        );
        assert_eq!(
            parse_value("EVIL.com", Some(IndicatorType::Domain))
                .unwrap()
                .value(),
            "evil.com"
        );
        assert!(
            parse_value("1.2.3.999", Some(IndicatorType::Ipv4))
                .unwrap_err()
                .contains("invalid ipv4")
        );
        assert_eq!(
            parse_value("what is this", None).unwrap_err(),
            "unrecognised value"
        );
        assert_eq!(
            parse_value("http://evil.com/d.php?ref=\"x\"", Some(IndicatorType::Url))
                .unwrap()
                .value(),
            parse_value(
                "\"http://evil.com/d.php?ref=\"x\"\"",
                Some(IndicatorType::Url)
            )
            .unwrap()
            .value(),
            "a quote ending the value is kept"
        );
        assert_ne!(
            parse_value("http://evil.com/d.php?ref=\"x\"", Some(IndicatorType::Url)),
            parse_value("http://evil.com/d.php?ref=\"x", Some(IndicatorType::Url)),
            "the closing quote is part of the URL"
        );
        assert_eq!(
            parse_value("192.0.2[.]133", None).unwrap().value(),
            "192.0.2.133"
        );
        assert_eq!(
            parse_value("192.0.2.70:443", None).unwrap().value(),
            "192.0.2.70"
        );
        assert_eq!(
            parse_value("[2001:db8::1]:8080", None).unwrap().value(),
            "2001:db8::1"
        );
        assert_eq!(
            parse_value("hxxps://evil[.]com/a", Some(IndicatorType::Url))
                .unwrap()
                .value(),
            "https://evil.com/a"
        );
    }

    #[test]
    fn lines_skip_comments_and_report_bad_lines() {
        let (ok, bad, err) = read(
            "# banner\n1.2.3.4 # seen twice\n\nnot-an-ioc\r\n10.0.0.0/8 ; SBL1\n; note\n",
            Layout::Lines,
        );
        assert_eq!(ok, ["1.2.3.4", "10.0.0.0/8"]);
        assert_eq!(bad, [(4, "unrecognised value".to_owned())]);
        assert!(err.is_none());
        let bytes = b"1.2.3.4\n\xff\xfe\n";
        let mut rejected = Vec::new();
        read_feed(
            &bytes[..],
            &FeedFormat {
                layout: Layout::Lines,
                delimiter: b',',
                kind: None,
            },
            |e| {
                if let Entry::Rejected { line, reason } = e {
                    rejected.push((line, reason));
                }
                true
            },
        )
        .unwrap();
        assert_eq!(rejected, [(2, "not UTF-8".to_owned())]);
    }

    #[test]
    fn csv_columns_by_index_and_name_and_banner_header() {
        let text = "# URLhaus banner\nid,url,status\n1,http://evil.com/a,online\n2,\"http://x.org/b,c\",offline\n3,garbage,online\n4,short\n";
        let (ok, bad, _) = read(text, Layout::Header("url".into()));
        assert_eq!(ok, ["http://evil.com/a", "http://x.org/b,c"]);
        assert_eq!(
            bad,
            [
                (5, "unrecognised value".to_owned()),
                (6, "expected 3 fields, found 2".to_owned())
            ]
        );
        let (_, _, err) = read(text, Layout::Header("nope".into()));
        assert!(err.unwrap().contains("no column named \"nope\""));
        let banner = "# \"first\", \"ioc_value\", \"ioc_type\"\n\"2025\", \"192.0.2.70:443\", \"ip:port\"\n\"2025\", \"c2.malicious.example\", \"domain\"\n";
        let (ok, bad, _) = read(banner, Layout::Header("ioc_value".into()));
        assert_eq!(ok, ["192.0.2.70", "c2.malicious.example"], "{bad:?}");
        let (ok, bad, _) = read("1,evil.com\n2\n", Layout::Index(1));
        assert_eq!(ok, ["evil.com"]);
        assert_eq!(bad, [(2, "expected 2 fields, found 1".to_owned())]);
    }

    #[test]
    fn json_and_ndjson_fields() {
        let doc =
            r#"{"data": [{"ioc": "evil.com"}, {"ioc": 7}, {"other": 1}, {"ioc": "192.0.2.1"}]}"#;
        let (ok, bad, err) = read(
            doc,
            Layout::Json {
                array: "data".into(),
                field: "ioc".into(),
            },
        );
        assert!(err.is_none());
        assert_eq!(ok, ["evil.com", "192.0.2.1"]);
        assert_eq!(
            bad,
            [
                (2, "unrecognised value".to_owned()),
                (3, "no field ioc".to_owned())
            ]
        );
        let (_, _, err) = read(
            "[1,",
            Layout::Json {
                array: String::new(),
                field: String::new(),
            },
        );
        assert!(err.unwrap().starts_with("invalid JSON"));
        let nd = "{\"cidr\":\"192.0.2.0/24\",\"sblid\":\"SBL1\"}\n{\"cidr\":\"nope\"}\n{bad\n{\"type\":\"metadata\",\"records\":2}\n";
        let (ok, bad, _) = read(
            nd,
            Layout::Ndjson {
                field: "cidr".into(),
            },
        );
        assert_eq!(ok, ["192.0.2.0/24"]);
        assert_eq!(bad.len(), 2);
        assert_eq!(bad[1], (3, "invalid JSON line".to_owned()));
    }
}

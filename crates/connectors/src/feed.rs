//! Generic, declarative feeds: plain lists, CSV columns and JSON fields that a
//! user adds by configuration alone, and on which the built-in catalogue is
//! built. Also what `rexist ingest file` reads.
//!
//! A bad value is an [`Entry::Rejected`] with its line and reason, never an
//! abort: the rest of the feed is stored (see intelmq's `ParserBot`). Real
//! lists carry comment banners, trailing comments (`192.0.2.1 # note`,
//! `10.0.0.0/8 ; SBL123`), headers kept in the banner's last comment line
//! (abuse.ch), `", "` separators with quoted multi-value cells (ThreatFox,
//! MalwareBazaar), `ip:port` values, defanged values, other charsets and stray
//! bytes that decode in none; each is handled here (INTERFACES.md §6).
//!
//! # Reading, in order
//!
//! 1. **Charset.** A byte order mark (UTF-8, UTF-16LE/BE) wins; else
//!    [`FeedFormat::encoding`] (a WHATWG label from configuration or the HTTP
//!    `Content-Type`, see [`charset_of_content_type`]); else the `encoding` of
//!    an `<?xml …?>` declaration; else UTF-8. A body that is not UTF-8 is
//!    transcoded as it streams; a byte sequence the charset cannot decode
//!    becomes a marker that fails the line's UTF-8 check, so it is a decode
//!    error of that line, never a replacement character inside a value.
//! 2. **Lines.** List, CSV and NDJSON input is read one line at a time and
//!    never held whole. Comment lines are recognised on bytes, before their
//!    text is decoded, so a banner in another charset is skipped, not counted.
//! 3. **Values.** Only CSV quoting removes quotes from a CSV cell; a list
//!    value loses one pair of quotes only when they wrap it whole
//!    (`"http://a.example/?q="x""` → `http://a.example/?q="x"`); JSON
//!    strings are taken as they are.
//! 4. **Metadata.** [`FeedFormat::confidence_column`] and
//!    [`FeedFormat::label_columns`] give each entry its own confidence and
//!    labels (ThreatFox `confidence_level`, `threat_type`, `tags`). A row
//!    whose value or metadata cell does not decode is a decode error as a
//!    whole; other cells are never decoded.
//!
//! A CSV record never spans lines: the feeds read here have none that do,
//! and a stray quote must cost one row, not swallow the rest of the file.

use std::io::{BufRead, BufReader, Read};

use encoding_rs::{DecoderResult, Encoding, UTF_8, UTF_16BE, UTF_16LE};
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
    /// Charset of the body as a WHATWG label (`utf-8`, `shift_jis`, `euc-jp`,
    /// `latin1`, `windows-1252`, `utf-16le`), from the source's `encoding`
    /// key or the HTTP `Content-Type` charset. A byte order mark overrides
    /// it; when `None`, an XML declaration's `encoding`, else UTF-8.
    pub encoding: Option<String>,
    /// Where each entry's confidence (an integer 0–100) is: for CSV a header
    /// name or a 1-based column number, for JSON and NDJSON a dot path in the
    /// entry. A cell that is no such number gives no confidence; a column
    /// missing from the header is ignored. Lists have none.
    pub confidence_column: Option<String>,
    /// Where each entry's labels are (addressed like `confidence_column`).
    /// A cell is split on `,`; parts are trimmed and lower-cased, and empty
    /// ones, `None` and `n/a` dropped. A JSON array gives one cell per string.
    /// Columns missing from the header are ignored.
    pub label_columns: Vec<String>,
}

impl FeedFormat {
    /// A format with `layout`, `,` as delimiter, types detected per value,
    /// the charset from the body (BOM, XML declaration) or UTF-8, and no
    /// metadata columns.
    pub fn new(layout: Layout) -> Self {
        Self {
            layout,
            delimiter: b',',
            kind: None,
            encoding: None,
            confidence_column: None,
            label_columns: Vec::new(),
        }
    }

    /// Checks the format without reading anything: a charset label that
    /// names a charset, and no metadata column numbered 0.
    pub fn validate(&self) -> Result<(), String> {
        if let Some(label) = &self.encoding {
            if encoding_for_label(label).is_none() {
                return Err(format!(
                    "encoding {:?} is not a known charset label (e.g. utf-8, shift_jis, euc-jp, windows-1252, utf-16le)",
                    truncate(label, 40)
                ));
            }
        }
        for column in self.confidence_column.iter().chain(&self.label_columns) {
            let c = column.trim();
            if c.is_empty() {
                return Err("metadata columns must not be empty".to_owned());
            }
            if c.bytes().all(|b| b.is_ascii_digit()) && c.parse::<usize>().ok() == Some(0) {
                return Err(format!("column {c}: columns count from 1"));
            }
        }
        Ok(())
    }
}

/// One value of a feed, read or rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A valid indicator and the line it came from.
    Indicator {
        /// 1-based line of the input (for JSON, the element's 1-based position).
        line: u64,
        /// The canonical indicator.
        indicator: Indicator,
        /// Confidence 0–100 from [`FeedFormat::confidence_column`], if the
        /// entry has one.
        confidence: Option<u8>,
        /// Labels from [`FeedFormat::label_columns`]: lower-case, without
        /// duplicates, in column order.
        labels: Vec<String>,
    },
    /// A value that is not an indicator of the expected type, a row of the
    /// wrong width, or a line that does not decode.
    Rejected {
        /// 1-based line of the input.
        line: u64,
        /// Why, short and countable.
        reason: String,
    },
}

/// What a read saw: the run contract's counts and whether the input ended
/// where it should.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedSummary {
    /// Entries emitted, indicators and rejections alike.
    pub values: u64,
    /// Of those, [`Entry::Rejected`] ones.
    pub rejected: u64,
    /// Of the rejected, lines or rows whose bytes do not decode in the
    /// charset read (reason `invalid UTF-8`, `invalid Shift_JIS`, …).
    pub decode_errors: u64,
    /// Lines of the (decoded) input, comments and blank lines included; a
    /// last line without a newline counts. When `emit` stopped the read, the
    /// line of the last entry emitted.
    pub lines: u64,
    /// Whether the input ended cleanly, so that it was not cut short in
    /// transit. Lists, CSV and NDJSON: the input is empty or ends with a
    /// newline; a body cut mid-line is `false`. JSON: the document parsed
    /// whole (a cut or otherwise invalid document is not a summary at all but
    /// [`FeedError::Json`], and no entry was emitted before it). Also `false`
    /// when `emit` stopped the read before the end.
    pub terminated: bool,
    /// Name of the charset read (`UTF-8`, `Shift_JIS`, `UTF-16LE`, …).
    pub encoding: &'static str,
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
    /// A JSON document that does not parse (cut short included), or has no
    /// array where configured.
    #[error("invalid JSON: {0}")]
    Json(String),
    /// [`FeedFormat::encoding`] names no charset.
    #[error("unknown encoding {label:?}")]
    UnknownEncoding {
        /// The label, truncated.
        label: String,
    },
}

/// The charset of a `Content-Type` header value, lower-cased:
/// `text/csv; charset="Shift_JIS"` → `shift_jis`. `None` when there is no
/// `charset` parameter or it names no charset WHATWG knows, so that a
/// server's nonsense falls back to the BOM, or UTF-8, instead of failing.
pub fn charset_of_content_type(ct: &str) -> Option<String> {
    ct.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value)
            .trim();
        encoding_for_label(value).map(|_| value.to_ascii_lowercase())
    })
}

/// The charset a WHATWG label names, if a feed can be read in it (the
/// `replacement` encoding, which decodes nothing, is refused).
fn encoding_for_label(label: &str) -> Option<&'static Encoding> {
    Encoding::for_label(label.trim().as_bytes()).filter(|e| *e != encoding_rs::REPLACEMENT)
}

fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", s.get(..i).unwrap_or_default()),
        None => s.to_owned(),
    }
}

/// Parses one raw value into an indicator, or says why not.
///
/// Surrounding white space goes, and one pair of double quotes when it wraps
/// the whole value; quotes inside a value are its own (`…&ref="x"` stays).
/// A value that does not parse as written is refanged and tried again, so
/// lists with `192.0.2[.]1` or `hxxp://evil[.]com/` load, and `host:port` is
/// reduced to its host; clean values, nearly all of a list, pay for neither.
pub fn parse_value(raw: &str, kind: Option<IndicatorType>) -> Result<Indicator, String> {
    parse_unquoted(unwrap_quotes(raw.trim()), kind)
}

/// `"v"` → `v`; anything not wrapped whole in one pair of quotes is returned as is.
fn unwrap_quotes(v: &str) -> &str {
    v.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .map_or(v, str::trim)
}

/// [`parse_value`] of a value whose quoting is already resolved (a CSV cell).
fn parse_unquoted(value: &str, kind: Option<IndicatorType>) -> Result<Indicator, String> {
    let value = value.trim();
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

/// A list comment or blank line, judged on bytes so that it needs no decoding.
fn is_list_comment(line: &[u8]) -> bool {
    let t = line.trim_ascii_start();
    t.is_empty() || t.starts_with(b"#") || t.starts_with(b";") || t.starts_with(b"//")
}

/// A CSV comment or blank line. Only `#`: `;` may be a CSV delimiter before
/// an empty first cell, and `//` may start a protocol-relative URL.
fn is_csv_comment(line: &[u8]) -> bool {
    let t = line.trim_ascii_start();
    t.is_empty() || t.starts_with(b"#")
}

/// The line without its `\n` or `\r\n`.
fn line_body(buf: &[u8]) -> &[u8] {
    let buf = buf.strip_suffix(b"\n").unwrap_or(buf);
    buf.strip_suffix(b"\r").unwrap_or(buf)
}

/// The value of a list line: the line without a trailing comment that
/// follows white space. Indicator values never contain white space, so this
/// cannot cut a value. On bytes, like comment lines, so that a note in
/// another charset costs nothing.
fn strip_trailing_comment(line: &[u8]) -> &[u8] {
    let cut = (1..line.len()).find(|&i| {
        line.get(i - 1).is_some_and(u8::is_ascii_whitespace)
            && line.get(i..).is_some_and(|rest| {
                rest.starts_with(b"#") || rest.starts_with(b";") || rest.starts_with(b"//")
            })
    });
    cut.and_then(|i| line.get(..i)).unwrap_or(line).trim_ascii()
}

/// Metadata of one entry.
#[derive(Debug, Default)]
struct Meta {
    confidence: Option<u8>,
    labels: Vec<String>,
}

/// Labels longer than this are dropped: no malware name or tag is, and a
/// hostile cell must not become a megabyte label on every sighting.
const MAX_LABEL_BYTES: usize = 100;
/// At most this many labels per entry, for the same reason.
const MAX_LABELS: usize = 32;

impl Meta {
    /// Adds the labels of one cell.
    fn add_labels(&mut self, cell: &str) {
        for part in cell.split(',') {
            let part = part.trim();
            if part.is_empty()
                || part.len() > MAX_LABEL_BYTES
                || part.eq_ignore_ascii_case("none")
                || part.eq_ignore_ascii_case("n/a")
                || self.labels.len() >= MAX_LABELS
            {
                continue;
            }
            let label = part.to_lowercase();
            if !self.labels.contains(&label) {
                self.labels.push(label);
            }
        }
    }
}

/// An integer 0–100, or none.
fn parse_confidence(cell: &str) -> Option<u8> {
    cell.trim().parse::<u8>().ok().filter(|c| *c <= 100)
}

/// Where entries go: counts them into the summary and remembers whether the
/// caller asked to stop.
struct Sink<F> {
    emit: F,
    kind: Option<IndicatorType>,
    summary: FeedSummary,
    /// Reason of a decode error, naming the charset.
    decode_reason: String,
    /// Set when `emit` returned false.
    stopped: bool,
}

impl<F: FnMut(Entry) -> bool> Sink<F> {
    fn send(&mut self, entry: Entry) -> bool {
        let line = match &entry {
            Entry::Indicator { line, .. } => *line,
            Entry::Rejected { line, .. } => {
                self.summary.rejected += 1;
                *line
            }
        };
        self.summary.values += 1;
        self.summary.lines = line;
        let go = (self.emit)(entry);
        self.stopped = !go;
        go
    }

    /// A value whose quoting is resolved.
    fn value(&mut self, line: u64, value: &str, meta: Meta) -> bool {
        let entry = match parse_unquoted(value, self.kind) {
            Ok(indicator) => Entry::Indicator {
                line,
                indicator,
                confidence: meta.confidence,
                labels: meta.labels,
            },
            Err(reason) => Entry::Rejected { line, reason },
        };
        self.send(entry)
    }

    fn reject(&mut self, line: u64, reason: String) -> bool {
        self.send(Entry::Rejected { line, reason })
    }

    fn decode_error(&mut self, line: u64) -> bool {
        self.summary.decode_errors += 1;
        let reason = self.decode_reason.clone();
        self.reject(line, reason)
    }
}

/// Reads a feed, calling `emit` for every value until the input ends or
/// `emit` returns false, and says what it saw.
///
/// Lists, CSV and NDJSON stream line by line; a JSON document is parsed
/// whole before its first entry is emitted.
pub fn read_feed(
    input: impl Read,
    format: &FeedFormat,
    emit: impl FnMut(Entry) -> bool,
) -> Result<FeedSummary, FeedError> {
    let mut input = input;
    let prefix = sniff(&mut input).map_err(|source| FeedError::Read { line: 0, source })?;
    let (encoding, bom) = choose_encoding(&prefix, format.encoding.as_deref())?;
    let mut start = std::io::Cursor::new(prefix);
    start.set_position(u64::try_from(bom).expect("a BOM is at most 3 bytes"));
    let raw = start.chain(input);
    let decoded = if encoding == UTF_8 {
        Decoded::Utf8(raw)
    } else {
        Decoded::Transcoded(Box::new(Transcoder::new(raw, encoding)))
    };
    let mut tracked = Tracked {
        inner: decoded,
        bytes: 0,
        newlines: 0,
        last: None,
    };
    let mut sink = Sink {
        emit,
        kind: format.kind,
        summary: FeedSummary {
            encoding: encoding.name(),
            ..FeedSummary::default()
        },
        decode_reason: format!("invalid {}", encoding.name()),
        stopped: false,
    };
    match &format.layout {
        Layout::Lines => read_lines(BufReader::with_capacity(1 << 16, &mut tracked), &mut sink)?,
        Layout::Index(i) => read_csv(
            BufReader::with_capacity(1 << 16, &mut tracked),
            format,
            ValueColumn::Index(*i),
            &mut sink,
        )?,
        Layout::Header(name) => read_csv(
            BufReader::with_capacity(1 << 16, &mut tracked),
            format,
            ValueColumn::Name(name),
            &mut sink,
        )?,
        Layout::Json { array, field } => {
            read_json(
                BufReader::new(&mut tracked),
                array,
                field,
                format,
                &mut sink,
            )?;
        }
        Layout::Ndjson { field } => read_ndjson(
            BufReader::with_capacity(1 << 16, &mut tracked),
            field,
            format,
            &mut sink,
        )?,
    }
    let mut summary = sink.summary;
    if sink.stopped {
        summary.terminated = false;
    } else {
        summary.lines = tracked.newlines + u64::from(tracked.last.is_some_and(|b| b != b'\n'));
        summary.terminated = match format.layout {
            // The document parsed: it is whole.
            Layout::Json { .. } => true,
            _ => tracked.last.is_none_or(|b| b == b'\n'),
        };
    }
    Ok(summary)
}

/// Bytes read before choosing the charset: enough for a BOM and an XML declaration.
const SNIFF_BYTES: usize = 1024;

fn sniff(input: &mut impl Read) -> std::io::Result<Vec<u8>> {
    let mut prefix = Vec::with_capacity(SNIFF_BYTES);
    input
        .take(u64::try_from(SNIFF_BYTES).expect("a small constant"))
        .read_to_end(&mut prefix)?;
    Ok(prefix)
}

/// The charset to read in and the length of the BOM to skip.
fn choose_encoding(
    prefix: &[u8],
    declared: Option<&str>,
) -> Result<(&'static Encoding, usize), FeedError> {
    if let Some(found) = Encoding::for_bom(prefix) {
        return Ok(found);
    }
    if let Some(label) = declared {
        return encoding_for_label(label).map(|e| (e, 0)).ok_or_else(|| {
            FeedError::UnknownEncoding {
                label: truncate(label, 40),
            }
        });
    }
    let from_xml = xml_declared_encoding(prefix)
        .and_then(|label| encoding_for_label(&label))
        // A declaration readable as ASCII is not UTF-16, whatever it says (WHATWG).
        .map(|e| {
            if e == UTF_16LE || e == UTF_16BE {
                UTF_8
            } else {
                e
            }
        });
    Ok((from_xml.unwrap_or(UTF_8), 0))
}

/// The `encoding="…"` of an XML declaration at the start of `body`.
fn xml_declared_encoding(body: &[u8]) -> Option<String> {
    let decl = body.strip_prefix(b"<?xml")?;
    let end = decl.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(decl.get(..end)?).ok()?;
    let at = decl.find("encoding")?;
    let rest = decl.get(at + "encoding".len()..)?.trim_start();
    let rest = rest.strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = rest.get(1..)?;
    let close = value.find(quote)?;
    Some(value.get(..close)?.to_owned())
}

/// Marker written for a byte sequence the charset cannot decode: never part
/// of UTF-8, so the line holding it fails its UTF-8 check.
const MALFORMED: u8 = 0xFF;

/// The body in UTF-8: as is, or transcoded.
enum Decoded<R> {
    Utf8(R),
    Transcoded(Box<Transcoder<R>>),
}

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Self::Utf8(r) => r.read(buf),
            Self::Transcoded(t) => t.read(buf),
        }
    }
}

/// A streaming charset → UTF-8 decoder, writing [`MALFORMED`] for what does
/// not decode.
struct Transcoder<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    input: Vec<u8>,
    /// Undecoded bytes are `input[start..end]`.
    start: usize,
    end: usize,
    /// The inner reader is exhausted.
    eof: bool,
    /// The decoder was told the input ended and has flushed.
    done: bool,
    output: Vec<u8>,
    /// Bytes of `output` already handed out.
    pos: usize,
}

const TRANSCODE_CHUNK: usize = 1 << 15;

impl<R> Transcoder<R> {
    fn new(inner: R, encoding: &'static Encoding) -> Self {
        Self {
            inner,
            decoder: encoding.new_decoder_without_bom_handling(),
            input: vec![0; TRANSCODE_CHUNK],
            start: 0,
            end: 0,
            eof: false,
            done: false,
            output: Vec::with_capacity(TRANSCODE_CHUNK * 3 + 16),
            pos: 0,
        }
    }
}

impl<R: Read> Read for Transcoder<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let pending = self.output.get(self.pos..).unwrap_or_default();
            if !pending.is_empty() {
                let n = pending.len().min(buf.len());
                if let (Some(to), Some(from)) = (buf.get_mut(..n), pending.get(..n)) {
                    to.copy_from_slice(from);
                }
                self.pos += n;
                return Ok(n);
            }
            if self.done || buf.is_empty() {
                return Ok(0);
            }
            if self.start >= self.end && !self.eof {
                let n = self.inner.read(&mut self.input)?;
                self.start = 0;
                self.end = n;
                self.eof = n == 0;
            }
            let src = self.input.get(self.start..self.end).unwrap_or_default();
            self.output.clear();
            self.output.resize(TRANSCODE_CHUNK * 3 + 16, 0);
            self.pos = 0;
            let (result, read, written) =
                self.decoder
                    .decode_to_utf8_without_replacement(src, &mut self.output, self.eof);
            self.start += read;
            self.output.truncate(written);
            match result {
                DecoderResult::InputEmpty => self.done = self.eof,
                DecoderResult::OutputFull => {}
                DecoderResult::Malformed(..) => self.output.push(MALFORMED),
            }
        }
    }
}

/// Counts what passes: newlines, bytes, and the last byte.
struct Tracked<R> {
    inner: R,
    bytes: u64,
    newlines: u64,
    last: Option<u8>,
}

impl<R: Read> Read for Tracked<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let got = buf.get(..n).unwrap_or_default();
        self.bytes += u64::try_from(n).unwrap_or(u64::MAX);
        // A loop the compiler vectorises; not worth the bytecount crate.
        #[allow(clippy::naive_bytecount)]
        let newlines = got.iter().filter(|&&b| b == b'\n').count();
        self.newlines += u64::try_from(newlines).unwrap_or(u64::MAX);
        if let Some(&b) = got.last() {
            self.last = Some(b);
        }
        Ok(n)
    }
}

/// Reads the next line into `buf` (emptied first); false at the end.
fn next_line(reader: &mut impl BufRead, buf: &mut Vec<u8>, line: u64) -> Result<bool, FeedError> {
    buf.clear();
    match reader.read_until(b'\n', buf) {
        Ok(n) => Ok(n > 0),
        Err(source) => Err(FeedError::Read { line, source }),
    }
}

fn read_lines<F: FnMut(Entry) -> bool>(
    mut reader: impl BufRead,
    sink: &mut Sink<F>,
) -> Result<(), FeedError> {
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    while next_line(&mut reader, &mut buf, line_no)? {
        line_no += 1;
        let bytes = line_body(&buf);
        if is_list_comment(bytes) {
            continue;
        }
        let keep_going = match std::str::from_utf8(strip_trailing_comment(bytes)) {
            Ok(value) => sink.value(line_no, unwrap_quotes(value), Meta::default()),
            Err(_) => sink.decode_error(line_no),
        };
        if !keep_going {
            break;
        }
    }
    Ok(())
}

/// The value column of a CSV feed.
#[derive(Clone, Copy)]
enum ValueColumn<'a> {
    Index(usize),
    Name(&'a str),
}

/// Where a field is in the state machine of a CSV line, as the csv crate
/// parses it (RFC 4180: a quote opens a quoted field only as its first byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CsvState {
    FieldStart,
    Unquoted,
    Quoted,
    QuoteInQuoted,
}

/// Splits CSV lines with the csv crate, one line a record.
///
/// abuse.ch separates cells with `", "`, and the csv crate opens a quoted
/// field only at its first byte, so ` "elf,mirai"` would split at its comma.
/// Spaces and tabs that start a field are dropped first (Python's
/// `skipinitialspace`), then the line is parsed by one reused csv reader,
/// reset per line through `seek_raw` so that it builds its tables once.
struct CsvLines {
    delimiter: u8,
    reader: csv::Reader<std::io::Cursor<Vec<u8>>>,
    record: csv::ByteRecord,
}

impl CsvLines {
    fn new(delimiter: u8) -> Self {
        let reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            // Line ends were cut off before: a stray `\r` is data.
            .terminator(csv::Terminator::Any(b'\n'))
            .from_reader(std::io::Cursor::new(Vec::new()));
        Self {
            delimiter,
            reader,
            record: csv::ByteRecord::new(),
        }
    }

    /// Parses one line (without its line end) into `self.record`; errs with
    /// a reason when the line is not one CSV record.
    fn parse(&mut self, line: &[u8]) -> Result<&csv::ByteRecord, &'static str> {
        let cleaned = self.reader.get_mut().get_mut();
        cleaned.clear();
        // Without quotes, leading spaces are trimmed with the cells anyway.
        let state = if line.contains(&b'"') {
            skip_initial_space(line, self.delimiter, cleaned)
        } else {
            cleaned.extend_from_slice(line);
            CsvState::Unquoted
        };
        if state == CsvState::Quoted {
            return Err("unterminated quoted field");
        }
        self.reader
            .seek_raw(std::io::SeekFrom::Start(0), csv::Position::new())
            .map_err(|_| "malformed CSV record")?;
        match self.reader.read_byte_record(&mut self.record) {
            Ok(true) => Ok(&self.record),
            Ok(false) => {
                self.record.clear();
                Ok(&self.record)
            }
            Err(_) => Err("malformed CSV record"),
        }
    }

    /// The trimmed cells of a header line, as text for matching names.
    fn header(&mut self, line: &[u8]) -> Vec<String> {
        self.parse(line).map_or_else(
            |_| Vec::new(),
            |r| {
                r.iter()
                    .map(|f| String::from_utf8_lossy(f.trim_ascii()).into_owned())
                    .collect()
            },
        )
    }
}

/// Copies a CSV line to `out` without the spaces and tabs that start a
/// field, and returns the state at its end.
fn skip_initial_space(line: &[u8], delimiter: u8, out: &mut Vec<u8>) -> CsvState {
    let mut state = CsvState::FieldStart;
    for &b in line {
        let (keep, next) = match state {
            CsvState::Quoted if b == b'"' => (true, CsvState::QuoteInQuoted),
            CsvState::Quoted => (true, CsvState::Quoted),
            _ if b == delimiter => (true, CsvState::FieldStart),
            CsvState::FieldStart if b == b' ' || b == b'\t' => (false, CsvState::FieldStart),
            // Opens a quoted field, or is the second of `""` inside one.
            CsvState::FieldStart | CsvState::QuoteInQuoted if b == b'"' => (true, CsvState::Quoted),
            // Anything else is unquoted text; a quote in it is literal.
            CsvState::FieldStart | CsvState::Unquoted | CsvState::QuoteInQuoted => {
                (true, CsvState::Unquoted)
            }
        };
        if keep {
            out.push(b);
        }
        state = next;
    }
    state
}

/// The index of a column: a 1-based number, or a name in `header`.
fn column_index(column: &str, header: Option<&[String]>) -> Option<usize> {
    let column = column.trim();
    if !column.is_empty() && column.bytes().all(|b| b.is_ascii_digit()) {
        return column.parse::<usize>().ok()?.checked_sub(1);
    }
    header?.iter().position(|h| h == column)
}

/// A metadata column named (not numbered), so needing a header.
fn is_named(column: &str) -> bool {
    !column.trim().bytes().all(|b| b.is_ascii_digit())
}

fn read_csv<F: FnMut(Entry) -> bool>(
    mut reader: impl BufRead,
    format: &FeedFormat,
    value_column: ValueColumn<'_>,
    sink: &mut Sink<F>,
) -> Result<(), FeedError> {
    let mut csv = CsvLines::new(format.delimiter);
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    // The banner: comment lines before the first data line; abuse.ch keeps
    // the header in the last of them (`# id,dateadded,url,…`).
    let mut banner_header: Option<Vec<u8>> = None;
    loop {
        if !next_line(&mut reader, &mut buf, line_no)? {
            return Ok(());
        }
        line_no += 1;
        let body = line_body(&buf);
        if !is_csv_comment(body) {
            break;
        }
        if let Some(comment) = body.trim_ascii_start().strip_prefix(b"#") {
            banner_header = Some(comment.trim_ascii().to_vec());
        }
    }
    let banner = banner_header.map(|h| csv.header(&h));
    let first = csv.header(line_body(&buf));
    let metadata: Vec<&str> = format
        .confidence_column
        .iter()
        .chain(&format.label_columns)
        .map(String::as_str)
        .collect();
    let names_any = |header: &[String]| {
        metadata
            .iter()
            .any(|c| is_named(c) && header.iter().any(|h| h == c.trim()))
    };
    // The header is the commented line above the data when it names the
    // value column, else the first line; by index, whichever names a
    // metadata column, if any.
    let (index, header, first_is_header) = match value_column {
        ValueColumn::Name(name) => {
            let in_banner = banner
                .as_ref()
                .and_then(|b| b.iter().position(|f| f == name));
            match (in_banner, first.iter().position(|f| f == name)) {
                (Some(i), _) => (i, banner, false),
                (None, Some(i)) => (i, Some(first), true),
                (None, None) => {
                    return Err(FeedError::NoColumn {
                        name: name.to_owned(),
                        columns: truncate(&first.join(", "), 200),
                    });
                }
            }
        }
        ValueColumn::Index(i) => match banner {
            Some(b) if names_any(&b) => (i, Some(b), false),
            _ if names_any(&first) => (i, Some(first), true),
            _ => (i, None, false),
        },
    };
    let confidence_index = format
        .confidence_column
        .as_deref()
        .and_then(|c| column_index(c, header.as_deref()));
    let label_indexes: Vec<usize> = format
        .label_columns
        .iter()
        .filter_map(|c| column_index(c, header.as_deref()))
        .collect();
    // Rows must have the header's width: a short or long row is misaligned
    // and rejected, not half-read. Without a header, the first row sets it.
    let mut width = header.as_ref().map(Vec::len);
    // `buf` holds the first data line, unless that line is the header.
    let mut have_line = !first_is_header;
    loop {
        if !have_line {
            if !next_line(&mut reader, &mut buf, line_no)? {
                return Ok(());
            }
            line_no += 1;
        }
        have_line = false;
        let body = line_body(&buf);
        if is_csv_comment(body) {
            continue;
        }
        let row = csv_row(
            &mut csv,
            body,
            index,
            confidence_index,
            &label_indexes,
            &mut width,
        );
        let keep_going = match row {
            Row::Value(value, meta) => sink.value(line_no, &value, meta),
            Row::Empty => true,
            Row::Undecodable => sink.decode_error(line_no),
            Row::Bad(reason) => sink.reject(line_no, reason),
        };
        if !keep_going {
            return Ok(());
        }
    }
}

/// What one CSV data line holds.
enum Row {
    Value(String, Meta),
    /// The value cell is empty: nothing to emit.
    Empty,
    /// A cell read does not decode.
    Undecodable,
    Bad(String),
}

fn csv_row(
    csv: &mut CsvLines,
    line: &[u8],
    index: usize,
    confidence_index: Option<usize>,
    label_indexes: &[usize],
    width: &mut Option<usize>,
) -> Row {
    let record = match csv.parse(line) {
        Ok(r) => r,
        Err(reason) => return Row::Bad(reason.to_owned()),
    };
    let expected = *width.get_or_insert(record.len());
    if record.len() != expected {
        return Row::Bad(format!(
            "expected {expected} fields, found {}",
            record.len()
        ));
    }
    // Cells are trimmed here rather than by the csv crate's `Trim`, which
    // copies every record.
    let cell = |i: usize| record.get(i).map(|f| std::str::from_utf8(f.trim_ascii()));
    let value = match cell(index) {
        None => return Row::Bad(format!("no column {}", index + 1)),
        Some(Err(_)) => return Row::Undecodable,
        Some(Ok("")) => return Row::Empty,
        Some(Ok(v)) => v,
    };
    let mut meta = Meta::default();
    if let Some(i) = confidence_index {
        match cell(i) {
            Some(Ok(c)) => meta.confidence = parse_confidence(c),
            Some(Err(_)) => return Row::Undecodable,
            None => {}
        }
    }
    for &i in label_indexes {
        match cell(i) {
            Some(Ok(c)) => meta.add_labels(c),
            Some(Err(_)) => return Row::Undecodable,
            None => {}
        }
    }
    Row::Value(value.to_owned(), meta)
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

/// Confidence and labels of one JSON entry.
fn json_meta(item: &serde_json::Value, format: &FeedFormat) -> Meta {
    let mut meta = Meta::default();
    if let Some(path) = &format.confidence_column {
        meta.confidence = match at_path(item, path) {
            Some(serde_json::Value::Number(n)) => n
                .as_u64()
                .and_then(|c| u8::try_from(c).ok())
                .filter(|c| *c <= 100),
            Some(serde_json::Value::String(s)) => parse_confidence(s),
            _ => None,
        };
    }
    for path in &format.label_columns {
        match at_path(item, path) {
            Some(serde_json::Value::String(s)) => meta.add_labels(s),
            Some(serde_json::Value::Array(items)) => {
                for s in items.iter().filter_map(serde_json::Value::as_str) {
                    meta.add_labels(s);
                }
            }
            _ => {}
        }
    }
    meta
}

fn read_json<F: FnMut(Entry) -> bool>(
    input: impl Read,
    array: &str,
    field: &str,
    format: &FeedFormat,
    sink: &mut Sink<F>,
) -> Result<(), FeedError> {
    let doc: serde_json::Value =
        serde_json::from_reader(input).map_err(|e| FeedError::Json(e.to_string()))?;
    let items = at_path(&doc, array)
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| {
            FeedError::Json(format!(
                "no array at {:?}",
                if array.is_empty() { "." } else { array }
            ))
        })?;
    for (pos, item) in (1u64..).zip(items) {
        // JSON has no lines worth naming: the element's position stands in.
        let keep_going = match at_path(item, field).and_then(json_text) {
            Some(v) => sink.value(pos, &v, json_meta(item, format)),
            None => sink.reject(pos, format!("no field {field}")),
        };
        if !keep_going {
            break;
        }
    }
    Ok(())
}

fn read_ndjson<F: FnMut(Entry) -> bool>(
    mut reader: impl BufRead,
    field: &str,
    format: &FeedFormat,
    sink: &mut Sink<F>,
) -> Result<(), FeedError> {
    let mut buf = Vec::new();
    let mut line_no = 0u64;
    while next_line(&mut reader, &mut buf, line_no)? {
        line_no += 1;
        let body = line_body(&buf);
        if body.trim_ascii().is_empty() {
            continue;
        }
        let Ok(text) = std::str::from_utf8(body) else {
            if !sink.decode_error(line_no) {
                break;
            }
            continue;
        };
        let keep_going = match serde_json::from_str::<serde_json::Value>(text) {
            // Spamhaus ends its NDJSON with a metadata object that has a `type`.
            Ok(v) if v.get("type").is_some() && at_path(&v, field).is_none() => true,
            Ok(v) => match at_path(&v, field).and_then(json_text) {
                Some(value) => sink.value(line_no, &value, json_meta(&v, format)),
                None => sink.reject(line_no, format!("no field {field}")),
            },
            Err(_) => sink.reject(line_no, "invalid JSON line".to_owned()),
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

    /// Values read, rejections, and the summary or the error's text.
    #[allow(clippy::type_complexity)] // destructured at once by every test
    fn read_with(
        bytes: &[u8],
        format: &FeedFormat,
    ) -> (Vec<String>, Vec<(u64, String)>, Result<FeedSummary, String>) {
        let (mut ok, mut bad) = (Vec::new(), Vec::new());
        let result = read_feed(bytes, format, |e| {
            match e {
                Entry::Indicator { indicator, .. } => ok.push(indicator.value().to_owned()),
                Entry::Rejected { line, reason } => bad.push((line, reason)),
            }
            true
        });
        (ok, bad, result.map_err(|e| e.to_string()))
    }

    fn read(text: &str, layout: Layout) -> (Vec<String>, Vec<(u64, String)>, Option<String>) {
        let (ok, bad, result) = read_with(text.as_bytes(), &FeedFormat::new(layout));
        (ok, bad, result.err())
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
    fn a_values_own_quotes_are_kept() {
        let url = r#"http://dl.malicious.example/download.php?file=a.exe&ref="x""#;
        assert_eq!(parse_value(url, None).unwrap().value(), url);
        assert_eq!(
            parse_value(&format!("\"{url}\""), None).unwrap().value(),
            url,
            "one wrapping pair goes"
        );
        // A list line: its own quotes stay, one wrapping pair goes.
        let list = format!("{url}\n\"http://a.example/?q=\"x\"\"\n\"http://b.example/\n");
        let (ok, bad, _) = read(&list, Layout::Lines);
        assert_eq!(ok, [url, r#"http://a.example/?q="x""#]);
        assert_eq!(bad.len(), 1, "a lone quote is the value's: {bad:?}");
        // A CSV cell: only CSV quoting goes; `""` is one quote.
        let csv = "id,url\n1,\"http://a.example/?ref=\"\"x\"\"\"\n2,http://c.example/?a=\"b\"\n";
        let (ok, bad, _) = read(csv, Layout::Header("url".into()));
        assert_eq!(
            ok,
            [r#"http://a.example/?ref="x""#, r#"http://c.example/?a="b""#],
            "{bad:?}"
        );
        // JSON strings are taken as they are.
        let json = serde_json::json!([{ "u": url }]).to_string();
        let (ok, _, _) = read(
            &json,
            Layout::Json {
                array: String::new(),
                field: "u".into(),
            },
        );
        assert_eq!(ok, [url]);
    }

    #[test]
    fn lines_skip_comments_and_report_bad_lines() {
        let (ok, bad, err) = read(
            "# banner\n1.2.3.4 # seen twice\n\nnot-an-ioc\r\n10.0.0.0/8 ; SBL1\n; note\n// too\n",
            Layout::Lines,
        );
        assert_eq!(ok, ["1.2.3.4", "10.0.0.0/8"]);
        assert_eq!(bad, [(4, "unrecognised value".to_owned())]);
        assert!(err.is_none());
    }

    #[test]
    fn undeclared_bad_utf8_is_a_decode_error_and_the_rest_loads() {
        let bytes =
            b"# caf\xe9 banner in latin-1\n1.2.3.4\n\xff\xfe\nhttp://a.example/\xe9\n192.0.2.9\n";
        let (ok, bad, summary) = read_with(bytes, &FeedFormat::new(Layout::Lines));
        let summary = summary.unwrap();
        assert_eq!(ok, ["1.2.3.4", "192.0.2.9"]);
        assert_eq!(
            bad,
            [
                (3, "invalid UTF-8".to_owned()),
                (4, "invalid UTF-8".to_owned())
            ]
        );
        assert_eq!(
            (summary.values, summary.rejected, summary.decode_errors),
            (4, 2, 2),
            "the banner is no error"
        );
        assert_eq!((summary.lines, summary.terminated), (5, true));
        assert_eq!(summary.encoding, "UTF-8");
        // The same in CSV and NDJSON.
        let csv = b"id,url\n1,http://a.example/\n2,http://b.example/\xff\n";
        let (ok, bad, s) = read_with(csv, &FeedFormat::new(Layout::Header("url".into())));
        assert_eq!(ok, ["http://a.example/"]);
        assert_eq!(bad, [(3, "invalid UTF-8".to_owned())]);
        assert_eq!(s.unwrap().decode_errors, 1);
        let nd = b"{\"v\":\"192.0.2.1\"}\n{\"v\":\"\xff\"}\n";
        let (ok, bad, s) = read_with(nd, &FeedFormat::new(Layout::Ndjson { field: "v".into() }));
        assert_eq!(ok, ["192.0.2.1"]);
        assert_eq!(bad, [(2, "invalid UTF-8".to_owned())]);
        assert_eq!(s.unwrap().decode_errors, 1);
    }

    fn with_encoding(layout: Layout, encoding: &str) -> FeedFormat {
        FeedFormat {
            encoding: Some(encoding.to_owned()),
            ..FeedFormat::new(layout)
        }
    }

    #[test]
    fn shift_jis_list_decodes_with_a_banner_in_shift_jis() {
        let text = "# 悪性URL一覧（毎時更新）\n; コメント\nhttp://bad.example/ダウンロード.exe\n192.0.2.44 # 観測\n";
        let (bytes, _, unmappable) = encoding_rs::SHIFT_JIS.encode(text);
        assert!(!unmappable);
        assert!(std::str::from_utf8(&bytes).is_err(), "really not UTF-8");
        let (ok, bad, summary) = read_with(&bytes, &with_encoding(Layout::Lines, "shift_jis"));
        assert_eq!(ok, ["http://bad.example/ダウンロード.exe", "192.0.2.44"]);
        assert!(bad.is_empty(), "{bad:?}");
        let summary = summary.unwrap();
        assert_eq!((summary.encoding, summary.decode_errors), ("Shift_JIS", 0));
        // Undeclared: the banner still is no error; the data line with
        // Shift_JIS bytes is a decode error, not mojibake.
        let (ok, bad, summary) = read_with(&bytes, &FeedFormat::new(Layout::Lines));
        assert_eq!(ok, ["192.0.2.44"]);
        assert_eq!(bad, [(3, "invalid UTF-8".to_owned())]);
        assert_eq!(summary.unwrap().decode_errors, 1);
        // Declared, but a line holds bytes that are not Shift_JIS: only that
        // line is lost, and a banner that does not decode is still a comment.
        let mut broken = b"# \x82\n".to_vec();
        broken.extend_from_slice(&bytes);
        broken.extend_from_slice(b"http://bad.example/\x82\n192.0.2.45\n");
        let (ok, bad, summary) = read_with(&broken, &with_encoding(Layout::Lines, "sjis"));
        assert_eq!(ok.len(), 3, "{ok:?}");
        assert_eq!(bad, [(6, "invalid Shift_JIS".to_owned())]);
        assert_eq!(summary.unwrap().decode_errors, 1);
    }

    #[test]
    fn latin1_and_euc_jp_lists_decode() {
        let text = "# Liste über böse Hosts — Stand: März\nhttp://bad.example/café\n192.0.2.8\n";
        let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(text);
        assert!(std::str::from_utf8(&bytes).is_err());
        for label in ["latin1", "iso-8859-1", "windows-1252"] {
            let (ok, bad, summary) = read_with(&bytes, &with_encoding(Layout::Lines, label));
            assert_eq!(ok, ["http://bad.example/café", "192.0.2.8"], "{label}");
            assert!(bad.is_empty());
            assert_eq!(summary.unwrap().encoding, "windows-1252");
        }
        let text = "# 不正サイト\nhttp://bad.example/不正\n";
        let (bytes, _, _) = encoding_rs::EUC_JP.encode(text);
        let (ok, _, _) = read_with(&bytes, &with_encoding(Layout::Lines, "euc-jp"));
        assert_eq!(ok, ["http://bad.example/不正"]);
    }

    fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
        let mut out = if big_endian {
            vec![0xFE, 0xFF]
        } else {
            vec![0xFF, 0xFE]
        };
        for unit in text.encode_utf16() {
            out.extend_from_slice(&if big_endian {
                unit.to_be_bytes()
            } else {
                unit.to_le_bytes()
            });
        }
        out
    }

    #[test]
    fn byte_order_marks_choose_the_charset() {
        let text = "# ブロックリスト\nid,url\n1,http://bad.example/パス\n2,192.0.2.5\n";
        for big_endian in [false, true] {
            let bytes = utf16(text, big_endian);
            // A BOM wins over a declared charset.
            let format = with_encoding(Layout::Header("url".into()), "shift_jis");
            let (ok, bad, summary) = read_with(&bytes, &format);
            assert_eq!(ok, ["http://bad.example/パス", "192.0.2.5"], "{bad:?}");
            let summary = summary.unwrap();
            assert_eq!(
                summary.encoding,
                if big_endian { "UTF-16BE" } else { "UTF-16LE" }
            );
            assert_eq!((summary.lines, summary.terminated), (4, true));
        }
        // A UTF-8 BOM does not stick to the first header cell.
        let bom = b"\xEF\xBB\xBF\"first_seen_utc\",\"dst_ip\"\n\"2025\",\"192.0.2.60\"\n";
        let (ok, bad, _) = read_with(
            bom,
            &FeedFormat::new(Layout::Header("first_seen_utc".into())),
        );
        assert_eq!(bad, [(2, "unrecognised value".to_owned())]);
        assert!(ok.is_empty());
        // An odd byte at the end of UTF-16 is a decode error of its line.
        let mut cut = utf16("192.0.2.1\n192.0.2.2", false);
        cut.push(0x41);
        let (ok, bad, summary) = read_with(&cut, &FeedFormat::new(Layout::Lines));
        assert_eq!(ok, ["192.0.2.1"]);
        assert_eq!(bad, [(2, "invalid UTF-16LE".to_owned())]);
        assert!(!summary.unwrap().terminated);
    }

    #[test]
    fn xml_declarations_and_content_types_name_charsets() {
        let decl = br#"<?xml version="1.0" encoding="Shift_JIS"?><rdf/>"#;
        assert_eq!(
            choose_encoding(decl, None).unwrap().0,
            encoding_rs::SHIFT_JIS
        );
        assert_eq!(
            choose_encoding(decl, Some("euc-jp")).unwrap().0,
            encoding_rs::EUC_JP,
            "the declared charset wins over the document's"
        );
        let single = b"<?xml version='1.0' encoding='utf-16'?>";
        assert_eq!(choose_encoding(single, None).unwrap().0, UTF_8);
        assert_eq!(
            choose_encoding(b"<?xml version=\"1.0\"?>", None).unwrap().0,
            UTF_8
        );
        assert!(matches!(
            choose_encoding(b"", Some("klingon")),
            Err(FeedError::UnknownEncoding { .. })
        ));
        let (sjis, _, _) = encoding_rs::SHIFT_JIS
            .encode("<?xml version=\"1.0\" encoding=\"Shift_JIS\"?>\nhttp://bad.example/資料\n");
        let (ok, bad, _) = read_with(&sjis, &FeedFormat::new(Layout::Lines));
        assert_eq!(ok, ["http://bad.example/資料"]);
        assert_eq!(bad.len(), 1, "the declaration itself is no indicator");

        assert_eq!(
            charset_of_content_type("text/csv; charset=Shift_JIS").as_deref(),
            Some("shift_jis")
        );
        assert_eq!(
            charset_of_content_type("text/plain;foo=bar; CHARSET=\"ISO-8859-1\"").as_deref(),
            Some("iso-8859-1")
        );
        assert_eq!(charset_of_content_type("text/plain"), None);
        assert_eq!(charset_of_content_type("text/plain; charset=binary"), None);
        assert_eq!(
            charset_of_content_type("charset=utf-8"),
            None,
            "no media type"
        );
        assert_eq!(
            charset_of_content_type("text/plain; charset=iso-2022-kr"),
            None
        );
    }

    #[test]
    fn summary_says_whether_the_input_was_cut() {
        let lines = FeedFormat::new(Layout::Lines);
        let s = read_with(b"192.0.2.1\n192.0.2.2\n", &lines).2.unwrap();
        assert_eq!((s.values, s.lines, s.terminated), (2, 2, true));
        let s = read_with(b"192.0.2.1\n192.0.2", &lines).2.unwrap();
        assert_eq!((s.values, s.lines, s.terminated), (2, 2, false));
        let s = read_with(b"", &lines).2.unwrap();
        assert_eq!((s.values, s.lines, s.terminated), (0, 0, true));
        let s = read_with(b"# only a banner\r\n", &lines).2.unwrap();
        assert_eq!((s.values, s.lines, s.terminated), (0, 1, true));
        let csv = FeedFormat::new(Layout::Index(1));
        let s = read_with(b"1,192.0.2.1\n2,192.0.2.2", &csv).2.unwrap();
        assert_eq!((s.values, s.terminated), (2, false));
        let nd = FeedFormat::new(Layout::Ndjson { field: "v".into() });
        let (ok, bad, s) = read_with(b"{\"v\":\"192.0.2.1\"}\n{\"v\":\"192.0", &nd);
        assert_eq!((ok.len(), bad.len(), s.unwrap().terminated), (1, 1, false));
        let json = FeedFormat::new(Layout::Json {
            array: "data".into(),
            field: "v".into(),
        });
        let s = read_with(b"{\"data\":[{\"v\":\"192.0.2.1\"}]}", &json)
            .2
            .unwrap();
        assert_eq!((s.values, s.terminated), (1, true), "no newline needed");
        let (ok, _, err) = read_with(b"{\"data\":[{\"v\":\"192.0.2.1\"},", &json);
        assert!(ok.is_empty());
        assert!(
            err.unwrap_err().starts_with("invalid JSON"),
            "cut JSON is an error"
        );
        // A caller that stops early did not see the end.
        let mut seen = 0;
        let s = read_feed(&b"192.0.2.1\n192.0.2.2\n192.0.2.3\n"[..], &lines, |_| {
            seen += 1;
            seen < 2
        })
        .unwrap();
        assert_eq!((s.values, s.lines, s.terminated), (2, 2, false));
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
    fn comma_space_separators_keep_quoted_commas() {
        let text = "# \"ioc\", \"tags\", \"conf\"\n\"192.0.2.70:443\", \"elf,mirai\", \"90\"\n  \"c2.malicious.example\" ,\t\"None\", \"101\"\n\"192.0.2.71\", \"a, b\"\n\"192.0.2.72\", \"x\", \"1\n";
        let format = FeedFormat {
            confidence_column: Some("conf".into()),
            label_columns: vec!["tags".into()],
            ..FeedFormat::new(Layout::Header("ioc".into()))
        };
        let mut entries = Vec::new();
        let summary = read_feed(text.as_bytes(), &format, |e| {
            entries.push(e);
            true
        })
        .unwrap();
        let indicator = |value: &str, confidence, labels: &[&str], line| Entry::Indicator {
            line,
            indicator: Indicator::detect(value).unwrap(),
            confidence,
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        };
        assert_eq!(
            entries,
            [
                indicator("192.0.2.70", Some(90), &["elf", "mirai"], 2),
                indicator("c2.malicious.example", None, &[], 3),
                Entry::Rejected {
                    line: 4,
                    reason: "expected 3 fields, found 2".into()
                },
                Entry::Rejected {
                    line: 5,
                    reason: "unterminated quoted field".into()
                },
            ]
        );
        assert_eq!((summary.values, summary.rejected), (4, 2));
    }

    #[test]
    fn labels_are_split_trimmed_lowered_and_deduplicated() {
        let mut meta = Meta::default();
        meta.add_labels(" Elf, MIRAI ,,None, n/a ,elf");
        meta.add_labels("Mirai");
        meta.add_labels(&"x".repeat(MAX_LABEL_BYTES + 1));
        assert_eq!(meta.labels, ["elf", "mirai"]);
        assert_eq!(parse_confidence(" 75 "), Some(75));
        assert_eq!(parse_confidence("101"), None);
        assert_eq!(parse_confidence("-1"), None);
        assert_eq!(parse_confidence("high"), None);
    }

    #[test]
    fn formats_validate_without_io() {
        assert!(FeedFormat::new(Layout::Lines).validate().is_ok());
        let bad = with_encoding(Layout::Lines, "klingon");
        assert!(bad.validate().unwrap_err().contains("klingon"));
        let zero = FeedFormat {
            label_columns: vec!["0".into()],
            ..FeedFormat::new(Layout::Index(0))
        };
        assert!(zero.validate().unwrap_err().contains("count from 1"));
        let numbered = FeedFormat {
            confidence_column: Some("10".into()),
            ..with_encoding(Layout::Index(0), "EUC-JP")
        };
        assert!(numbered.validate().is_ok());
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

    #[test]
    fn json_metadata_from_paths_and_arrays() {
        let nd = r#"{"ioc":"192.0.2.70:443","c":100,"t":"botnet_cc","tags":["CobaltStrike","c2"]}
{"ioc":"c2.malicious.example","c":"75","t":"botnet_cc","tags":null}
{"ioc":"192.0.2.9","c":250,"tags":"a,B"}
"#;
        let format = FeedFormat {
            confidence_column: Some("c".into()),
            label_columns: vec!["t".into(), "tags".into()],
            ..FeedFormat::new(Layout::Ndjson {
                field: "ioc".into(),
            })
        };
        let mut got = Vec::new();
        read_feed(nd.as_bytes(), &format, |e| {
            if let Entry::Indicator {
                confidence, labels, ..
            } = e
            {
                got.push((confidence, labels));
            }
            true
        })
        .unwrap();
        let labels = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            got,
            [
                (Some(100), labels(&["botnet_cc", "cobaltstrike", "c2"])),
                (Some(75), labels(&["botnet_cc"])),
                (None, labels(&["a", "b"])),
            ]
        );
    }

    proptest::proptest! {
        /// Cells written as RFC 4180 with `,` or `", "` between them come
        /// back as written (up to the trimming every cell gets).
        #[test]
        fn csv_lines_read_back_what_was_written(
            cells in proptest::collection::vec("[a-c\"#, \t;]{0,6}", 1..6),
            spaced in proptest::collection::vec(proptest::prelude::any::<bool>(), 6),
        ) {
            let mut line = Vec::new();
            for (i, cell) in cells.iter().enumerate() {
                if i > 0 {
                    line.extend_from_slice(if spaced[i] { b", " } else { b"," });
                }
                if cell.contains(['"', ',']) || cell.starts_with([' ', '\t']) || spaced[i] {
                    line.push(b'"');
                    line.extend_from_slice(cell.replace('"', "\"\"").as_bytes());
                    line.push(b'"');
                } else {
                    line.extend_from_slice(cell.as_bytes());
                }
            }
            // An empty line is a blank line, skipped before parsing.
            proptest::prop_assume!(!line.is_empty());
            let mut csv = CsvLines::new(b',');
            let record = csv.parse(&line).map_err(proptest::test_runner::TestCaseError::fail)?;
            let got: Vec<&[u8]> = record.iter().map(<[u8]>::trim_ascii).collect();
            let want: Vec<&[u8]> = cells.iter().map(|c| c.as_bytes().trim_ascii()).collect();
            proptest::prop_assert_eq!(got, want, "{}", String::from_utf8_lossy(&line));
        }
    }

    /// Inputs built from the bytes that steer the readers: quotes,
    /// separators, comment marks, line ends, BOM and non-UTF-8 bytes.
    fn hostile() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            Just(b"\"".to_vec()),
            Just(b", ".to_vec()),
            Just(b",".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"# ".to_vec()),
            Just(b";".to_vec()),
            Just(b"//".to_vec()),
            Just(b" ".to_vec()),
            Just(b"\xEF\xBB\xBF".to_vec()),
            Just(b"\xFF\xFE".to_vec()),
            Just(b"\x82".to_vec()),
            Just(b"{\"v\":".to_vec()),
            Just(b"}".to_vec()),
            Just(b"[".to_vec()),
            Just(b"192.0.2.1".to_vec()),
            Just(b"http://a.example/?q=".to_vec()),
            Just(b"<?xml encoding=\"shift_jis\"?>".to_vec()),
            proptest::collection::vec(any::<u8>(), 0..8),
        ];
        proptest::collection::vec(piece, 0..40).prop_map(|p| p.concat())
    }

    fn layouts() -> Vec<FeedFormat> {
        let meta = |layout| FeedFormat {
            confidence_column: Some("2".into()),
            label_columns: vec!["tags".into(), "1".into()],
            ..FeedFormat::new(layout)
        };
        vec![
            FeedFormat::new(Layout::Lines),
            meta(Layout::Index(0)),
            meta(Layout::Header("v".into())),
            meta(Layout::Json {
                array: String::new(),
                field: "v".into(),
            }),
            meta(Layout::Ndjson { field: "v".into() }),
            with_encoding(Layout::Lines, "shift_jis"),
            with_encoding(Layout::Index(1), "utf-16be"),
            with_encoding(Layout::Ndjson { field: "v".into() }, "euc-jp"),
        ]
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config::with_cases(256))]

        #[test]
        fn no_input_panics_and_counts_hold(
            bytes in proptest::prop_oneof![
                hostile(),
                proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            ]
        ) {
            for format in layouts() {
                let mut emitted = 0u64;
                if let Ok(s) = read_feed(&bytes[..], &format, |_| { emitted += 1; true }) {
                    proptest::prop_assert_eq!(s.values, emitted);
                    proptest::prop_assert!(s.decode_errors <= s.rejected, "decode errors are rejections");
                    proptest::prop_assert!(s.rejected <= s.values, "rejections are values");
                    let json = matches!(format.layout, Layout::Json { .. });
                    proptest::prop_assert!(json || s.lines >= s.values, "more values than lines");
                }
            }
        }
    }
}

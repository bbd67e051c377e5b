//! Lists of indicators: text, CSV, JSON and NDJSON feeds (blocklists,
//! abuse.ch exports, Spamhaus DROP, …), fetched whole, conditionally, and
//! streamed from a spool through the sink in bounded memory.
//!
//! A *snapshot* list is the whole set the upstream lists now, so what it no
//! longer carries is retired (`delisted`) — but only from a complete,
//! trusted answer ([`crate::contract`]): not empty, not an HTML page, not
//! cut short, not mostly rejected or undecodable, and not shrunk by more
//! than `max_shrink` against the last good run. Anything else stores what it
//! read, delists nothing, and keeps the cursor so the next run fetches the
//! whole list again.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use rexist_core::{RunCounts, RunOutcome};
use serde::{Deserialize, Serialize};

use crate::contract::{self, Expect, SNIFF_BYTES, SnapshotLimits, Untrusted};
use crate::engine::{Connector, RunContext, RunReport, Sink};
use crate::feed::{FeedFormat, Layout};
use crate::http::{Streamed, Validators};

/// A list source.
#[derive(Debug, Clone)]
pub struct List {
    /// Where the list is.
    pub url: String,
    /// How to read it.
    pub format: FeedFormat,
    /// Whether each answer is the whole list.
    pub snapshot: bool,
    /// When an answer is trusted to replace the listed set.
    pub limits: SnapshotLimits,
}

/// The cursor of a list: the validators of the last good answer and, for a
/// snapshot, how many values it listed (the yardstick of `max_shrink`). The
/// validators are flattened, so cursors stored before `listed` existed still
/// read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListCursor {
    /// `ETag` / `Last-Modified` of the last good answer.
    #[serde(flatten)]
    pub validators: Validators,
    /// Values the last good snapshot listed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listed: Option<u64>,
}

impl List {
    fn expect(&self) -> Expect {
        match self.format.layout {
            Layout::Json { .. } => Expect::Json,
            _ => Expect::Text,
        }
    }

    /// Whether the body's last bytes close it: a newline for lines, CSV and
    /// NDJSON, `}` or `]` for a JSON document.
    fn terminated(&self, tail: &[u8]) -> Result<(), Untrusted> {
        match self.format.layout {
            Layout::Json { .. } if contract::json_truncated(tail) => Err(Untrusted::Truncated(
                "the JSON document does not end with } or ]".to_owned(),
            )),
            Layout::Json { .. } => Ok(()),
            _ if tail.last() == Some(&b'\n') => Ok(()),
            _ => Err(Untrusted::cut_line()),
        }
    }
}

#[async_trait]
impl Connector for List {
    async fn run(&self, ctx: &RunContext<'_>, sink: &mut dyn Sink) -> RunReport {
        let previous: ListCursor = ctx
            .previous
            .and_then(|c| serde_json::from_str(c).ok())
            .unwrap_or_default();
        let mut counts = RunCounts::default();
        let (mut spool, validators, headers) = match ctx
            .fetcher
            .get_spooled(&self.url, ctx.headers, Some(&previous.validators))
            .await
        {
            Ok(Streamed::NotModified) => return RunReport::not_modified(ctx, counts),
            Ok(Streamed::Body(spool, validators, headers)) => (spool, validators, headers),
            Err(e) => return RunReport::failed(ctx, counts, e.to_string()),
        };
        counts.fetched = spool.len();
        let content_type = headers
            .iter()
            .find(|(k, _)| k == "content-type")
            .map(|(_, v)| v.clone());
        let tail = match spool.tail(16) {
            Ok(t) => t,
            Err(e) => {
                return RunReport::failed(
                    ctx,
                    counts,
                    format!("cannot read the spooled body: {e}"),
                );
            }
        };
        let truncated = self.terminated(&tail).err();
        let len = spool.len();
        let mut reader = match spool.into_reader() {
            Ok(r) => r,
            Err(e) => {
                return RunReport::failed(
                    ctx,
                    counts,
                    format!("cannot read the spooled body: {e}"),
                );
            }
        };
        let mut head = Vec::with_capacity(SNIFF_BYTES);
        if let Err(e) = (&mut reader)
            .take(SNIFF_BYTES as u64)
            .read_to_end(&mut head)
        {
            return RunReport::failed(ctx, counts, format!("cannot read the spooled body: {e}"));
        }
        if let Err(e) = contract::sniff(&head, len, content_type.as_deref(), self.expect()) {
            return RunReport::failed(ctx, counts, e.to_string());
        }
        let mut input: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(head).chain(reader));
        let cut = Arc::new(AtomicBool::new(false));
        if truncated.is_some() && !matches!(self.format.layout, Layout::Json { .. }) {
            // A cut last line is not a value: `198.51.100.1` of a cut
            // `198.51.100.111` would be a valid, wrong indicator. It is
            // counted as a rejected row instead.
            input = Box::new(WholeLines::new(input, Arc::clone(&cut)));
        }
        let seen_at = rexist_core::model::now();
        let mut format = self.format.clone();
        if format.encoding.is_none() {
            // The charset the server declares, unless the source names one
            // (a BOM in the body still wins).
            format.encoding = content_type
                .as_deref()
                .and_then(crate::feed::charset_of_content_type)
                .filter(|c| c != "utf-8");
        }
        let loaded = sink.load_feed(input, format, seen_at).await;
        counts.add(&loaded.counts);
        if cut.load(Ordering::Relaxed) {
            counts.parsed += 1;
            counts.reject("last line cut short");
        }
        let listed = counts.parsed.saturating_sub(counts.rejected);
        let problem: Option<String> = loaded
            .failure
            .or_else(|| truncated.map(|t| t.to_string()))
            .or_else(|| {
                // Undecodable values are rejected values too (counted by reason).
                contract::check_rejected(counts.rejected, counts.parsed, &self.limits)
                    .err()
                    .map(|e| e.to_string())
            })
            .or_else(|| {
                self.snapshot
                    .then(|| contract::check_shrink(previous.listed, listed, &self.limits).err())
                    .flatten()
                    .map(|e| e.to_string())
            });
        if let Some(reason) = problem {
            tracing::warn!(reason = %reason, "answer not trusted; nothing delisted");
            let reason = if self.snapshot && !reason.contains("nothing delisted") {
                format!("{reason}; nothing delisted")
            } else {
                reason
            };
            return RunReport::stopped(ctx, counts, reason);
        }
        if self.snapshot {
            match sink.delist(seen_at).await {
                Ok(n) => counts.updated += n,
                Err(e) => return RunReport::stopped(ctx, counts, e),
            }
        }
        let cursor = ListCursor {
            validators,
            listed: self.snapshot.then_some(listed),
        };
        RunReport {
            outcome: RunOutcome::Success,
            counts,
            cursor: serde_json::to_string(&cursor).ok(),
            error: None,
        }
    }
}

/// Reads its input up to the last newline: the bytes after it (a line cut
/// short) never reach the parser, and `cut` says whether there were any.
struct WholeLines<R> {
    inner: R,
    cut: Arc<AtomicBool>,
    /// Bytes read and not yet given out; `held[..ready]` ends with a newline.
    held: Vec<u8>,
    ready: usize,
    given: usize,
}

impl<R: Read> WholeLines<R> {
    fn new(inner: R, cut: Arc<AtomicBool>) -> Self {
        Self {
            inner,
            cut,
            held: Vec::new(),
            ready: 0,
            given: 0,
        }
    }
}

impl<R: Read> Read for WholeLines<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.given < self.ready {
                let n = out.len().min(self.ready - self.given);
                out[..n].copy_from_slice(&self.held[self.given..self.given + n]);
                self.given += n;
                return Ok(n);
            }
            self.held.drain(..self.ready);
            (self.ready, self.given) = (0, 0);
            let mut chunk = [0u8; 1 << 14];
            let n = self.inner.read(&mut chunk)?;
            if n == 0 {
                // What is left has no newline: the cut line, dropped.
                if !self.held.is_empty() {
                    self.cut.store(true, Ordering::Relaxed);
                }
                self.held.clear();
                return Ok(0);
            }
            self.held.extend_from_slice(&chunk[..n]);
            self.ready = self
                .held
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |i| i + 1);
        }
    }
}

/// The keys of a list source table (`kind` = `text`, `csv`, `json`,
/// `ndjson`, or a catalogue list such as `urlhaus` or `feodo`, whose entry
/// gives the defaults). Which keys apply depends on the layout
/// ([`ListParams::keys`]).
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListParams {
    /// The indicator type of every value (detected per value if unset).
    #[serde(default, rename = "type")]
    pub indicator_type: Option<rexist_core::IndicatorType>,
    /// `csv`: the column, a 1-based number or a header name (a commented
    /// banner header counts).
    #[serde(default)]
    pub column: Option<String>,
    /// `csv`: the field delimiter (default `,`).
    #[serde(default)]
    pub delimiter: Option<char>,
    /// `json`: dot path to the array of entries (the document itself if unset).
    #[serde(default)]
    pub array: Option<String>,
    /// `json`, `ndjson`: dot path to the value in each entry.
    #[serde(default)]
    pub field: Option<String>,
    /// `csv`, `json`, `ndjson`: where each entry's confidence (an integer
    /// 0–100) is, a header name or 1-based column number (JSON: a dot path);
    /// it overrides the source's `confidence` for that entry.
    #[serde(default)]
    pub confidence_column: Option<String>,
    /// `csv`, `json`, `ndjson`: columns (or dot paths) whose values become
    /// labels of each entry, split on `,`, lower-cased, `None`/`n/a` dropped;
    /// replaces the catalogue's list (`[]` turns it off).
    #[serde(default)]
    pub label_columns: Option<Vec<String>>,
    /// The body's charset as a WHATWG label (`shift_jis`, `euc-jp`,
    /// `latin1`, `windows-1252`, `utf-16le`); a byte order mark wins. Unset:
    /// a byte order mark, the server's declared charset, else UTF-8.
    #[serde(default)]
    pub encoding: Option<String>,
    /// Whether each fetch is the whole list, so a value missing from a
    /// complete, trusted answer is retired as delisted (kept, not deleted).
    #[serde(default)]
    pub snapshot: Option<bool>,
    /// Snapshot lists: the largest share (0–1) the list may shrink by
    /// against the last good run before a run delists nothing and says why
    /// (default 0.5).
    #[serde(default)]
    pub max_shrink: Option<f64>,
    /// The largest share (0–1) of values that may be rejected or
    /// undecodable before an answer is not trusted (default 0.5).
    #[serde(default)]
    pub max_rejected: Option<f64>,
}

/// Keys every list layout takes.
const LIST_KEYS: &[&str] = &["type", "encoding", "snapshot", "max_shrink", "max_rejected"];

impl ListParams {
    /// The keys that apply to lists of `layout` (`text`, `csv`, `json`, `ndjson`).
    pub fn keys(layout: &str) -> Vec<&'static str> {
        let own: &[&str] = match layout {
            "csv" => &["column", "delimiter", "confidence_column", "label_columns"],
            "json" => &["array", "field", "confidence_column", "label_columns"],
            "ndjson" => &["field", "confidence_column", "label_columns"],
            _ => &[],
        };
        LIST_KEYS.iter().chain(own).copied().collect()
    }

    /// The keys set in this table, by name.
    fn set(&self) -> Vec<&'static str> {
        [
            ("type", self.indicator_type.is_some()),
            ("column", self.column.is_some()),
            ("delimiter", self.delimiter.is_some()),
            ("array", self.array.is_some()),
            ("field", self.field.is_some()),
            ("confidence_column", self.confidence_column.is_some()),
            ("label_columns", self.label_columns.is_some()),
            ("encoding", self.encoding.is_some()),
            ("snapshot", self.snapshot.is_some()),
            ("max_shrink", self.max_shrink.is_some()),
            ("max_rejected", self.max_rejected.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, set)| set.then_some(k))
        .collect()
    }

    /// A key set in the table that lists of `layout` do not take, if any.
    pub fn misplaced(&self, layout: &str) -> Option<&'static str> {
        let keys = Self::keys(layout);
        self.set().into_iter().find(|k| !keys.contains(k))
    }

    /// These keys with the catalogue entry's defaults under them.
    #[must_use]
    pub fn with_defaults(mut self, entry: &crate::source::CatalogueEntry) -> Self {
        let owned = |v: Option<&str>| v.map(str::to_owned);
        self.column = self.column.or_else(|| owned(entry.column));
        self.indicator_type = self.indicator_type.or(entry.indicator_type);
        self.confidence_column = self
            .confidence_column
            .or_else(|| owned(entry.confidence_column));
        self.label_columns = self.label_columns.or_else(|| {
            Some(
                entry
                    .label_columns
                    .iter()
                    .map(|c| (*c).to_owned())
                    .collect(),
            )
        });
        self.snapshot = self.snapshot.or(Some(entry.snapshot));
        self
    }

    /// The list these keys describe, at `url`, for lists of `layout`; the
    /// error names the key that is wrong.
    pub fn list(&self, layout: &str, url: String) -> Result<List, String> {
        let column = self.column.clone();
        let delimiter = match self.delimiter {
            Some(c) if c.is_ascii() => u8::try_from(u32::from(c))
                .map_err(|_| format!("delimiter {c:?} must be one ASCII character"))?,
            Some(c) => return Err(format!("delimiter {c:?} must be one ASCII character")),
            None => b',',
        };
        let layout = match layout {
            "text" => Layout::Lines,
            "csv" => match column.as_deref() {
                Some(c) if c.bytes().all(|b| b.is_ascii_digit()) => {
                    let n: usize = c
                        .parse()
                        .map_err(|_| format!("column {c:?} is not a number"))?;
                    if n == 0 {
                        return Err("column 0: columns count from 1".to_owned());
                    }
                    Layout::Index(n - 1)
                }
                Some(c) => Layout::Header(c.to_owned()),
                None => {
                    return Err("csv needs column (a 1-based number or a header name)".to_owned());
                }
            },
            "json" => Layout::Json {
                array: self.array.clone().unwrap_or_default(),
                field: self.field.clone().or(column).unwrap_or_default(),
            },
            _ => Layout::Ndjson {
                field: self
                    .field
                    .clone()
                    .or(column)
                    .ok_or_else(|| "ndjson needs field".to_owned())?,
            },
        };
        let format = FeedFormat {
            layout,
            delimiter,
            kind: self.indicator_type,
            encoding: self.encoding.clone(),
            confidence_column: self.confidence_column.clone(),
            label_columns: self.label_columns.clone().unwrap_or_default(),
        };
        format.validate()?;
        let share = |key: &str, v: Option<f64>| match v {
            None => Ok(0.5),
            Some(x) if (0.0..=1.0).contains(&x) => Ok(x),
            Some(x) => Err(format!(
                "{key} {x} must be a share from 0 to 1 (0.5 = 50 %)"
            )),
        };
        Ok(List {
            url,
            format,
            snapshot: self.snapshot.unwrap_or(false),
            limits: SnapshotLimits {
                max_shrink: share("max_shrink", self.max_shrink)?,
                max_rejected: share("max_rejected", self.max_rejected)?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_last_line_is_dropped() {
        let cut = Arc::new(AtomicBool::new(false));
        let mut out = String::new();
        WholeLines::new(&b"192.0.2.1\n198.51.100.1"[..], Arc::clone(&cut))
            .read_to_string(&mut out)
            .unwrap_or_default();
        assert_eq!(out, "192.0.2.1\n");
        assert!(cut.load(Ordering::Relaxed));
        let whole = Arc::new(AtomicBool::new(false));
        WholeLines::new(&b"192.0.2.1\n"[..], Arc::clone(&whole))
            .read_to_string(&mut out)
            .unwrap_or_default();
        assert!(!whole.load(Ordering::Relaxed));
        let long: Vec<u8> = (0..40_000u32)
            .flat_map(|i| format!("{i}\n").into_bytes())
            .chain(*b"cut")
            .collect();
        let mut whole = Vec::new();
        WholeLines::new(&long[..], Arc::default())
            .read_to_end(&mut whole)
            .unwrap_or_default();
        assert_eq!(whole, &long[..long.len() - 3]);
    }

    #[test]
    fn old_cursors_still_read() {
        let c: ListCursor = serde_json::from_str(r#"{"etag":"\"v1\""}"#).unwrap_or_default();
        assert_eq!(c.validators.etag.as_deref(), Some("\"v1\""));
        assert_eq!(c.listed, None);
        let round = ListCursor {
            listed: Some(3),
            ..c
        };
        let text = serde_json::to_string(&round).unwrap_or_default();
        assert_eq!(serde_json::from_str::<ListCursor>(&text).ok(), Some(round));
    }
}

//! CSV reading shared by the KEV and Exploit-DB parsers: rows with a header,
//! each row either its fields by column name or a rejection with its line.

use std::collections::HashMap;

use rexist_core::Rejected;

use crate::error::{FormatError, truncate};

/// A CSV body with a header row.
pub(crate) struct Rows {
    columns: HashMap<String, usize>,
    width: usize,
    /// Good rows: 1-based line where the row starts, and its fields.
    pub good: Vec<(u64, Vec<String>)>,
    /// Bad rows: wrong field count, bytes that are not UTF-8, broken quoting.
    pub rejected: Vec<Rejected>,
}

impl Rows {
    /// The field `name` of `row`, trimmed; empty when the column is absent.
    pub fn get<'r>(&self, row: &'r [String], name: &str) -> &'r str {
        self.columns
            .get(name)
            .and_then(|i| row.get(*i))
            .map_or("", |s| s.trim())
    }
}

/// Reads `body`; the header must name every column of `required`.
pub(crate) fn read(
    format: &'static str,
    body: &[u8],
    required: &[&str],
) -> Result<Rows, FormatError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(body);
    let header = reader
        .byte_headers()
        .map_err(|e| FormatError::CsvHeader {
            format,
            what: truncate(&e.to_string(), 120),
        })?
        .clone();
    let columns: HashMap<String, usize> = header
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let name = String::from_utf8_lossy(name);
            // A UTF-8 BOM sticks to the first column name.
            (name.trim_start_matches('\u{feff}').trim().to_owned(), i)
        })
        .collect();
    for name in required {
        if !columns.contains_key(*name) {
            return Err(FormatError::CsvHeader {
                format,
                what: format!("no column {name:?}"),
            });
        }
    }
    let width = header.len();
    let mut out = Rows {
        columns,
        width,
        good: Vec::new(),
        rejected: Vec::new(),
    };
    let mut record = csv::ByteRecord::new();
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(0, csv::Position::line);
                let at = format!("line {line}");
                if record.len() == 1 && record.get(0).is_some_and(<[u8]>::is_empty) {
                    continue; // a blank line
                }
                if record.len() != out.width {
                    out.rejected.push(Rejected::new(
                        at,
                        format!("expected {} fields, got {}", out.width, record.len()),
                    ));
                    continue;
                }
                let fields: Result<Vec<String>, usize> = record
                    .iter()
                    .enumerate()
                    .map(|(i, f)| std::str::from_utf8(f).map(str::to_owned).map_err(|_| i + 1))
                    .collect();
                match fields {
                    Ok(fields) => out.good.push((line, fields)),
                    Err(column) => out
                        .rejected
                        .push(Rejected::new(at, format!("field {column} is not utf-8"))),
                }
            }
            Err(e) => {
                // Byte records from memory with `flexible` set do not fail;
                // should one ever, stop here rather than risk a loop.
                let line = e.position().map_or(0, csv::Position::line);
                out.rejected.push(Rejected::new(
                    format!("line {line}"),
                    format!("malformed row: {}", truncate(&e.to_string(), 80)),
                ));
                break;
            }
        }
    }
    Ok(out)
}

//! MISP feed export (INTERFACES.md §1.4): a directory of `manifest.json`,
//! one `<uuid>.json` per event and `hashes.csv`.
//!
//! Rows are grouped into one event per source name (a row reported by
//! several sources is in each source's event; a row with none is in a
//! `rexist` event). Every uuid is deterministic (`UUIDv5` in
//! [`rexist_stix::write::REXIST_NAMESPACE`]): an event's over `event:<export
//! name>:<source>`, an attribute's over `attribute:<event uuid>:<type>:<value>`,
//! so a regenerated feed keeps its uuids and clients update in place.

use std::collections::BTreeMap;
use std::io::{self, Seek, Write};
use std::path::Path;

use md5::{Digest, Md5};
use rexist_core::{ExportRow, IndicatorStatus, IndicatorType, Tlp};
use rexist_stix::write::REXIST_NAMESPACE;
use serde_json::{Value, json};
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};
use uuid::Uuid;

use crate::Options;
use crate::writer::clean_comment;

/// The name of the event holding rows with no source.
pub const NO_SOURCE: &str = "rexist";

/// The MISP attribute type and category of an indicator type.
pub fn misp_type(kind: IndicatorType) -> (&'static str, &'static str) {
    use IndicatorType as T;
    match kind {
        // MISP writes networks as ip-dst with a CIDR value.
        T::Ipv4 | T::Ipv6 | T::Cidr => ("ip-dst", "Network activity"),
        T::Domain => ("domain", "Network activity"),
        T::Url => ("url", "Network activity"),
        T::Asn => ("AS", "Network activity"),
        T::Email => ("email-src", "Payload delivery"),
        T::Md5 => ("md5", "Payload delivery"),
        T::Sha1 => ("sha1", "Payload delivery"),
        T::Sha256 => ("sha256", "Payload delivery"),
        T::Sha512 => ("sha512", "Payload delivery"),
        T::Cve => ("vulnerability", "External analysis"),
        T::Btc => ("btc", "Financial fraud"),
    }
}

/// The MISP tag of a TLP level (`tlp:clear`, …, `tlp:amber+strict`).
pub fn tlp_tag(tlp: Tlp) -> Value {
    let colour = match tlp {
        Tlp::Clear => "#ffffff",
        Tlp::Green => "#339900",
        Tlp::Amber | Tlp::AmberStrict => "#ffc000",
        Tlp::Red => "#ff0000",
    };
    json!({ "name": format!("tlp:{}", tlp.as_str()), "colour": colour })
}

/// The uuid of rexist's MISP organisation (`Orgc`).
pub fn orgc_uuid() -> Uuid {
    Uuid::new_v5(&REXIST_NAMESPACE, b"misp-orgc:rexist")
}

/// The deterministic uuid of the event of `source` in export `name`.
pub fn event_uuid(name: &str, source: &str) -> Uuid {
    Uuid::new_v5(
        &REXIST_NAMESPACE,
        format!("event:{name}:{source}").as_bytes(),
    )
}

/// One event of the feed.
#[derive(Debug, Clone, PartialEq)]
pub struct MispEvent {
    /// Event uuid (and file name, `<uuid>.json`).
    pub uuid: String,
    /// The source its rows came from ([`NO_SOURCE`] for none).
    pub source: String,
    /// Number of attributes.
    pub attributes: usize,
    /// The whole `{"Event": {…}}` document.
    pub document: Value,
}

/// A MISP feed built from export rows.
#[derive(Debug, Clone, PartialEq)]
pub struct MispFeed {
    events: BTreeMap<String, MispEvent>,
}

fn epoch(t: OffsetDateTime) -> String {
    t.unix_timestamp().to_string()
}

fn iso_micros(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    t.format(format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]+00:00"
    ))
    .unwrap_or_else(|_| epoch(t))
}

fn date(t: OffsetDateTime) -> String {
    let t = t.to_offset(UtcOffset::UTC);
    t.format(format_description!("[year]-[month]-[day]"))
        .unwrap_or_else(|_| "1970-01-01".to_owned())
}

impl MispFeed {
    /// Groups `rows` into events (see the module docs).
    pub fn new(rows: &[ExportRow], options: &Options) -> Self {
        let name = clean_comment(&options.name);
        let mut by_source: BTreeMap<String, Vec<&ExportRow>> = BTreeMap::new();
        for row in rows {
            for s in row_sources(row) {
                by_source.entry(s.to_owned()).or_default().push(row);
            }
        }
        let events = by_source
            .into_iter()
            .map(|(source, rows)| {
                let e = build_event(&name, &source, &rows, options.generated);
                (e.uuid.clone(), e)
            })
            .collect();
        Self { events }
    }

    /// The events, ordered by uuid.
    pub fn events(&self) -> impl Iterator<Item = &MispEvent> {
        self.events.values()
    }

    /// The event file `<uuid>.json`, if the feed has that event.
    pub fn event_json(&self, uuid: &str) -> Option<Vec<u8>> {
        let e = self.events.get(uuid)?;
        Some(serde_json::to_vec(&e.document).expect("a JSON value always serialises"))
    }

    /// `manifest.json`: event uuid → `info`, `Orgc`, `timestamp`, `date`,
    /// `analysis`, `threat_level_id`, `Tag`.
    pub fn manifest(&self) -> Value {
        let mut m = serde_json::Map::new();
        for (uuid, e) in &self.events {
            m.insert(uuid.clone(), manifest_entry(&e.document));
        }
        Value::Object(m)
    }

    /// `hashes.csv`: `<md5 of attribute value>,<event uuid>` per attribute.
    pub fn hashes_csv(&self) -> String {
        let mut out = String::new();
        for (uuid, e) in &self.events {
            let attrs = e.document["Event"]["Attribute"]
                .as_array()
                .map_or(&[][..], Vec::as_slice);
            for a in attrs {
                if let Some(v) = a["value"].as_str() {
                    hash_line(&mut out, v, uuid);
                }
            }
        }
        out
    }

    /// Writes `manifest.json`, every `<uuid>.json` and `hashes.csv` into
    /// `dir` (which must exist).
    pub fn write_dir(&self, dir: &Path) -> io::Result<()> {
        for uuid in self.events.keys() {
            let body = self.event_json(uuid).expect("the uuid is a key");
            std::fs::write(dir.join(format!("{uuid}.json")), body)?;
        }
        let manifest = serde_json::to_vec_pretty(&self.manifest()).map_err(io::Error::other)?;
        std::fs::write(dir.join("manifest.json"), manifest)?;
        std::fs::write(dir.join("hashes.csv"), self.hashes_csv())?;
        Ok(())
    }
}

fn threat_level(max_score: u8) -> &'static str {
    match max_score {
        80.. => "1",
        50..=79 => "2",
        _ => "3",
    }
}

/// What an event's header says about its rows: computed while they stream.
#[derive(Debug, Clone, Copy)]
struct Aggregate {
    newest: Option<OffsetDateTime>,
    oldest: Option<OffsetDateTime>,
    tlp: Tlp,
    max_score: u8,
}

impl Aggregate {
    fn new() -> Self {
        Self {
            newest: None,
            oldest: None,
            tlp: Tlp::default(),
            max_score: 0,
        }
    }

    fn add(&mut self, row: &ExportRow) {
        let r = &row.record;
        let last = r.last_seen.max(r.first_seen);
        self.newest = Some(self.newest.map_or(last, |n| n.max(last)));
        self.oldest = Some(self.oldest.map_or(r.first_seen, |o| o.min(r.first_seen)));
        self.tlp = self.tlp.max(r.tlp);
        self.max_score = self.max_score.max(r.score);
    }
}

/// The MISP attribute of `row` in the event `event_uuid`.
fn attribute(event_uuid: &str, row: &ExportRow) -> Value {
    let r = &row.record;
    let (kind, category) = misp_type(r.kind);
    let mut tags = vec![tlp_tag(r.tlp)];
    tags.extend(
        row.labels
            .iter()
            .filter(|l| !l.trim().is_empty())
            .map(|l| json!({ "name": l })),
    );
    let last = r.last_seen.max(r.first_seen);
    json!({
        "uuid": Uuid::new_v5(
            &REXIST_NAMESPACE,
            format!("attribute:{event_uuid}:{kind}:{}", r.value).as_bytes(),
        ).to_string(),
        "type": kind,
        "category": category,
        "value": r.value,
        "to_ids": r.status == IndicatorStatus::Active,
        "comment": format!("score {}, {} sightings, {}", r.score, r.sightings, r.status.as_str()),
        "deleted": false,
        "disable_correlation": false,
        "timestamp": epoch(last),
        "first_seen": iso_micros(r.first_seen),
        "last_seen": iso_micros(last),
        "Tag": tags,
    })
}

/// The `{"Event": {…}}` document of `source` with `attributes`.
fn event_document(
    name: &str,
    source: &str,
    uuid: &str,
    agg: &Aggregate,
    attributes: &[Value],
    generated: OffsetDateTime,
) -> Value {
    let newest = agg.newest.unwrap_or(generated);
    let oldest = agg.oldest.unwrap_or(generated);
    json!({
        "Event": {
            "uuid": uuid,
            "info": format!("rexist export {name}: {}", clean_comment(source)),
            "threat_level_id": threat_level(agg.max_score),
            "analysis": "2",
            "timestamp": epoch(newest),
            "publish_timestamp": epoch(newest),
            "published": true,
            "date": date(oldest),
            "extends_uuid": "",
            "Orgc": { "name": "rexist", "uuid": orgc_uuid().to_string() },
            "Tag": [tlp_tag(agg.tlp)],
            "Attribute": attributes,
            "Object": [],
        }
    })
}

fn manifest_entry(document: &Value) -> Value {
    let ev = &document["Event"];
    json!({
        "info": ev["info"],
        "Orgc": ev["Orgc"],
        "timestamp": ev["timestamp"],
        "date": ev["date"],
        "analysis": ev["analysis"],
        "threat_level_id": ev["threat_level_id"],
        "Tag": ev["Tag"],
    })
}

fn hash_line(out: &mut String, value: &str, uuid: &str) {
    out.push_str(&rexist_core::indicator::hex(&Md5::digest(value.as_bytes())));
    out.push(',');
    out.push_str(uuid);
    out.push('\n');
}

fn build_event(
    name: &str,
    source: &str,
    rows: &[&ExportRow],
    generated: OffsetDateTime,
) -> MispEvent {
    let uuid = event_uuid(name, source).to_string();
    let mut agg = Aggregate::new();
    for r in rows {
        agg.add(r);
    }
    let attributes: Vec<Value> = rows.iter().map(|row| attribute(&uuid, row)).collect();
    let count = attributes.len();
    let document = event_document(name, source, &uuid, &agg, &attributes, generated);
    MispEvent {
        uuid,
        source: source.to_owned(),
        attributes: count,
        document,
    }
}

/// The sources whose events a row goes in: its own (each once), or [`NO_SOURCE`].
fn row_sources(row: &ExportRow) -> Vec<&str> {
    let mut sources: Vec<&str> = Vec::with_capacity(row.sources.len());
    for s in row.sources.iter().map(String::as_str) {
        if !s.trim().is_empty() && !sources.contains(&s) {
            sources.push(s);
        }
    }
    if sources.is_empty() {
        sources.push(NO_SOURCE);
    }
    sources
}

/// JSON of an event document up to its first attribute. `serde_json` orders
/// object keys (no `preserve_order`), so `Attribute` always comes first and
/// everything that depends on all rows (dates, TLP, threat level) after it.
const EVENT_PREFIX: &[u8] = b"{\"Event\":{\"Attribute\":[";

/// One event being written.
struct OpenEvent {
    source: String,
    uuid: String,
    file: io::BufWriter<std::fs::File>,
    /// This event's `hashes.csv` lines, kept on disk until the end so the
    /// file lists them event by event, as [`MispFeed::hashes_csv`] does.
    hashes: io::BufWriter<std::fs::File>,
    agg: Aggregate,
    attributes: usize,
}

/// Per-event buffers: a few hundred sources stay within a few MiB.
const EVENT_BUFFER: usize = 16 * 1024;

/// Writes a MISP feed into a directory as rows stream in, holding only one
/// open file and a few numbers per event: the same files [`MispFeed`] makes
/// (`<uuid>.json` per source, `manifest.json`, `hashes.csv`), byte for
/// byte, without keeping any row. For exports of millions of indicators.
pub struct MispFeedWriter {
    dir: std::path::PathBuf,
    name: String,
    generated: OffsetDateTime,
    events: BTreeMap<String, OpenEvent>,
    written: u64,
}

impl MispFeedWriter {
    /// Starts a feed in `dir` (which must exist); files are created as
    /// their events get their first row.
    pub fn new(dir: &Path, options: &Options) -> Self {
        Self {
            dir: dir.to_path_buf(),
            name: clean_comment(&options.name),
            generated: options.generated,
            events: BTreeMap::new(),
            written: 0,
        }
    }

    /// Adds rows to their sources' events.
    pub fn write_rows(&mut self, rows: &[ExportRow]) -> io::Result<()> {
        let mut line = String::with_capacity(64);
        for row in rows {
            for source in row_sources(row) {
                if !self.events.contains_key(source) {
                    let uuid = event_uuid(&self.name, source).to_string();
                    let path = self.dir.join(format!("{uuid}.json"));
                    let mut file =
                        io::BufWriter::with_capacity(EVENT_BUFFER, std::fs::File::create(path)?);
                    file.write_all(EVENT_PREFIX)?;
                    let hashes =
                        io::BufWriter::with_capacity(EVENT_BUFFER, tempfile_in(&self.dir)?);
                    self.events.insert(
                        source.to_owned(),
                        OpenEvent {
                            source: source.to_owned(),
                            uuid,
                            file,
                            hashes,
                            agg: Aggregate::new(),
                            attributes: 0,
                        },
                    );
                }
                let event = self
                    .events
                    .get_mut(source)
                    .expect("the event was opened just above");
                if event.attributes > 0 {
                    event.file.write_all(b",")?;
                }
                serde_json::to_writer(&mut event.file, &attribute(&event.uuid, row))?;
                event.attributes += 1;
                event.agg.add(row);
                line.clear();
                hash_line(&mut line, &row.record.value, &event.uuid);
                event.hashes.write_all(line.as_bytes())?;
            }
            self.written += 1;
        }
        Ok(())
    }

    /// Rows written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Closes every event, then writes `manifest.json` and `hashes.csv`;
    /// returns the events as (uuid, source, attributes).
    pub fn finish(self) -> io::Result<Vec<(String, String, usize)>> {
        let mut by_uuid: BTreeMap<String, OpenEvent> = self
            .events
            .into_values()
            .map(|e| (e.uuid.clone(), e))
            .collect();
        let mut manifest = serde_json::Map::new();
        let mut hashes = io::BufWriter::new(std::fs::File::create(self.dir.join("hashes.csv"))?);
        let mut out = Vec::with_capacity(by_uuid.len());
        for (uuid, mut e) in std::mem::take(&mut by_uuid) {
            let document =
                event_document(&self.name, &e.source, &uuid, &e.agg, &[], self.generated);
            let whole = serde_json::to_vec(&document)?;
            let rest = whole
                .strip_prefix(EVENT_PREFIX)
                .ok_or_else(|| io::Error::other("event JSON does not start with its attributes"))?;
            e.file.write_all(rest)?;
            e.file.flush()?;
            manifest.insert(uuid.clone(), manifest_entry(&document));
            let mut spooled = e
                .hashes
                .into_inner()
                .map_err(io::IntoInnerError::into_error)?;
            spooled.seek(io::SeekFrom::Start(0))?;
            io::copy(&mut spooled, &mut hashes)?;
            out.push((uuid, e.source, e.attributes));
        }
        hashes.flush()?;
        std::fs::write(
            self.dir.join("manifest.json"),
            serde_json::to_vec(&Value::Object(manifest))?,
        )?;
        Ok(out)
    }
}

/// An unnamed temporary file beside the feed (gone when closed).
fn tempfile_in(dir: &Path) -> io::Result<std::fs::File> {
    tempfile::tempfile_in(dir)
}

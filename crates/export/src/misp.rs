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
use std::io;
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
            let sources: Vec<&str> = row
                .sources
                .iter()
                .map(String::as_str)
                .filter(|s| !s.trim().is_empty())
                .collect();
            if sources.is_empty() {
                by_source.entry(NO_SOURCE.to_owned()).or_default().push(row);
            }
            for s in sources {
                let list = by_source.entry(s.to_owned()).or_default();
                // A source listed twice on one row gives one attribute.
                if !list.last().is_some_and(|r| std::ptr::eq(*r, row)) {
                    list.push(row);
                }
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
            let ev = &e.document["Event"];
            m.insert(
                uuid.clone(),
                json!({
                    "info": ev["info"],
                    "Orgc": ev["Orgc"],
                    "timestamp": ev["timestamp"],
                    "date": ev["date"],
                    "analysis": ev["analysis"],
                    "threat_level_id": ev["threat_level_id"],
                    "Tag": ev["Tag"],
                }),
            );
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
                    out.push_str(&rexist_core::indicator::hex(&Md5::digest(v.as_bytes())));
                    out.push(',');
                    out.push_str(uuid);
                    out.push('\n');
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

fn build_event(
    name: &str,
    source: &str,
    rows: &[&ExportRow],
    generated: OffsetDateTime,
) -> MispEvent {
    let uuid = event_uuid(name, source).to_string();
    let newest = rows
        .iter()
        .map(|r| r.record.last_seen.max(r.record.first_seen))
        .max()
        .unwrap_or(generated);
    let oldest = rows
        .iter()
        .map(|r| r.record.first_seen)
        .min()
        .unwrap_or(generated);
    let tlp = rows.iter().map(|r| r.record.tlp).max().unwrap_or_default();
    let max_score = rows.iter().map(|r| r.record.score).max().unwrap_or(0);
    let attributes: Vec<Value> = rows
        .iter()
        .map(|row| {
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
                    format!("attribute:{uuid}:{kind}:{}", r.value).as_bytes(),
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
        })
        .collect();
    let count = attributes.len();
    let document = json!({
        "Event": {
            "uuid": uuid,
            "info": format!("rexist export {name}: {}", clean_comment(source)),
            "threat_level_id": threat_level(max_score),
            "analysis": "2",
            "timestamp": epoch(newest),
            "publish_timestamp": epoch(newest),
            "published": true,
            "date": date(oldest),
            "extends_uuid": "",
            "Orgc": { "name": "rexist", "uuid": orgc_uuid().to_string() },
            "Tag": [tlp_tag(tlp)],
            "Attribute": attributes,
            "Object": [],
        }
    });
    MispEvent {
        uuid,
        source: source.to_owned(),
        attributes: count,
        document,
    }
}

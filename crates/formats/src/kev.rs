//! The CISA Known Exploited Vulnerabilities catalogue, JSON and CSV
//! (INTERFACES.md §6.10).
//!
//! Each entry becomes an [`ItemRecord`] of kind `Vuln` (`external_id`
//! `kev:CVE-…`) with its `cve` sighting. The JSON carries `catalogVersion`:
//! a connector compares it with the last run's and skips an unchanged
//! catalogue. The CSV has no version; its bad rows (the `-bad` fixture: an
//! unterminated quote, a short row, a Latin-1 byte) are rejected by line.

use rexist_core::{
    Indicator, IndicatorType, ItemKind, ItemRecord, NewItem, NewSighting, Rejected, Tlp,
};
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use crate::csv_rows;
use crate::dates;
use crate::error::{FormatError, truncate};

/// A parsed catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct KevCatalog {
    /// `catalogVersion` (JSON only): unchanged means nothing to do.
    pub catalog_version: Option<String>,
    /// `dateReleased` (JSON only), as given.
    pub date_released: Option<String>,
    /// `count` as the catalogue states it (JSON only).
    pub count: Option<u64>,
    /// One item per usable entry.
    pub records: Vec<ItemRecord>,
    /// Entries that could not be used (`at` = `vulnerability 3` or `line 4`).
    pub rejected: Vec<Rejected>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCatalog {
    #[serde(default)]
    catalog_version: Option<String>,
    #[serde(default)]
    date_released: Option<String>,
    #[serde(default)]
    count: Option<u64>,
    vulnerabilities: Vec<Value>,
}

/// One catalogue entry, as both serialisations carry it.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Entry {
    #[serde(rename = "cveID")]
    cve_id: String,
    #[serde(default)]
    vendor_project: String,
    #[serde(default)]
    product: String,
    #[serde(default)]
    vulnerability_name: String,
    #[serde(default)]
    date_added: String,
    #[serde(default)]
    short_description: String,
    #[serde(default)]
    required_action: String,
    #[serde(default)]
    due_date: String,
    #[serde(default)]
    known_ransomware_campaign_use: String,
    #[serde(default)]
    notes: String,
    #[serde(default, deserialize_with = "de_cwes")]
    cwes: Vec<String>,
}

/// `cwes` is a list in the JSON; tolerate a string too (the CSV joins with `, `).
fn de_cwes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Value::String(s) => split_cwes(&s),
        _ => Vec::new(),
    })
}

fn split_cwes(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Parses `known_exploited_vulnerabilities.json`.
pub fn parse_json(body: &[u8]) -> Result<KevCatalog, FormatError> {
    const FORMAT: &str = "kev json";
    let raw: RawCatalog =
        serde_json::from_slice(body).map_err(|e| FormatError::json(FORMAT, &e))?;
    let mut out = KevCatalog {
        catalog_version: raw.catalog_version,
        date_released: raw.date_released,
        count: raw.count,
        records: Vec::with_capacity(raw.vulnerabilities.len()),
        rejected: Vec::new(),
    };
    for (n, value) in raw.vulnerabilities.into_iter().enumerate() {
        let at = format!("vulnerability {}", n + 1);
        let converted = serde_json::from_value::<Entry>(value)
            .map_err(|e| format!("bad entry: {}", truncate(&e.to_string(), 120)))
            .and_then(|e| convert(&e));
        match converted {
            Ok(record) => out.records.push(record),
            Err(reason) => out.rejected.push(Rejected::new(at, reason)),
        }
    }
    Ok(out)
}

/// Parses `known_exploited_vulnerabilities.csv`.
pub fn parse_csv(body: &[u8]) -> Result<KevCatalog, FormatError> {
    const FORMAT: &str = "kev csv";
    let rows = csv_rows::read(FORMAT, body, &["cveID"])?;
    let mut out = KevCatalog {
        catalog_version: None,
        date_released: None,
        count: None,
        records: Vec::with_capacity(rows.good.len()),
        rejected: rows.rejected.clone(),
    };
    for (line, row) in &rows.good {
        let get = |name| rows.get(row, name).to_owned();
        let entry = Entry {
            cve_id: get("cveID"),
            vendor_project: get("vendorProject"),
            product: get("product"),
            vulnerability_name: get("vulnerabilityName"),
            date_added: get("dateAdded"),
            short_description: get("shortDescription"),
            required_action: get("requiredAction"),
            due_date: get("dueDate"),
            known_ransomware_campaign_use: get("knownRansomwareCampaignUse"),
            notes: get("notes"),
            cwes: split_cwes(rows.get(row, "cwes")),
        };
        match convert(&entry) {
            Ok(record) => out.records.push(record),
            Err(reason) => out
                .rejected
                .push(Rejected::new(format!("line {line}"), reason)),
        }
    }
    Ok(out)
}

fn convert(e: &Entry) -> Result<ItemRecord, String> {
    let indicator = Indicator::parse(IndicatorType::Cve, &e.cve_id).map_err(|e| e.reason())?;
    let title = [
        e.vendor_project.trim(),
        e.product.trim(),
        e.vulnerability_name.trim(),
    ]
    .into_iter()
    .filter(|p| !p.is_empty())
    .collect::<Vec<_>>()
    .join(" / ");
    let mut body = e.short_description.trim().to_owned();
    if !e.required_action.trim().is_empty() {
        if !body.is_empty() {
            body.push_str("\n\n");
        }
        body.push_str("Required action: ");
        body.push_str(e.required_action.trim());
    }
    let added = dates::date(&e.date_added);
    let ransomware = e.known_ransomware_campaign_use.trim();
    let mut tags = vec!["kev".to_owned()];
    if ransomware.eq_ignore_ascii_case("known") {
        tags.push("ransomware".to_owned());
    }
    let extra = json!({
        "kev": true,
        "vendor_project": e.vendor_project,
        "product": e.product,
        "vulnerability_name": e.vulnerability_name,
        "date_added": e.date_added,
        "due_date": e.due_date,
        "known_ransomware_campaign_use": ransomware,
        "notes": e.notes,
        "cwes": e.cwes,
    });
    let seen_at = added.unwrap_or_else(rexist_core::model::now);
    Ok(ItemRecord {
        item: NewItem {
            kind: ItemKind::Vuln,
            external_id: format!("kev:{}", indicator.value()),
            title: if title.is_empty() {
                indicator.value().to_owned()
            } else {
                title
            },
            body,
            url: Some(format!(
                "https://nvd.nist.gov/vuln/detail/{}",
                indicator.value()
            )),
            lang: Some("en".to_owned()),
            published_at: added,
            tlp: Tlp::Clear,
            tags,
            extra,
        },
        sightings: vec![NewSighting::new(indicator, seen_at)],
        relations: Vec::new(),
        // Descriptions and notes hold vendor advisory links, not indicators.
        extract: false,
    })
}

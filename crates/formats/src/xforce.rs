//! IBM X-Force Exchange bodies (INTERFACES.md §3).
//!
//! [`parse_casefiles`] reads `/casefiles/public` and `/casefiles/shared`
//! listings (`{"casefiles":[…]}`) and a single collection
//! (`/casefiles/{id}`, one casefile object): each collection becomes an
//! `Event` item (`external_id` `xforce:casefile:{caseFileID}`) whose text is
//! searched for indicators (`extract: true`; X-Force's structured report
//! shape is not documented, so no structured IOCs are mapped).
//! [`CaseFiles::max_updated`] is the polling cursor.
//!
//! [`parse_vulnerabilities`] reads `/vulnerabilities/fulltext` pages
//! (`{"rows", "total_rows", "bookmark"}`), `/vulnerabilities/search/{cve}`
//! and `/vulnerabilities` (bare arrays): each entry becomes a `Vuln` item
//! (`xforce:vuln:{xfdbid}`) with a `cve` sighting per `CVE-…` in `stdcode`.
//!
//! [`entitlement_error`] recognises the 402/403 bodies that mean "your tier
//! does not include this endpoint": the connector skips that endpoint.

use rexist_core::{
    Indicator, IndicatorType, ItemKind, ItemRecord, NewItem, NewSighting, Rejected, Tlp,
};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::dates;
use crate::error::{FormatError, truncate};

const FORMAT_CASEFILES: &str = "xforce casefiles";
const FORMAT_VULNS: &str = "xforce vulnerabilities";

/// A casefile listing or one casefile.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CaseFiles {
    /// One `Event` item per usable collection.
    pub records: Vec<ItemRecord>,
    /// Collections that could not be used (`at` = `casefile 2`).
    pub rejected: Vec<Rejected>,
    /// Newest `updated` (or `created`) seen: diff the next poll against it.
    pub max_updated: Option<OffsetDateTime>,
}

/// A page of vulnerabilities.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Vulnerabilities {
    /// One `Vuln` item per usable entry.
    pub records: Vec<ItemRecord>,
    /// Entries that could not be used (`at` = `vulnerability 2`).
    pub rejected: Vec<Rejected>,
    /// `total_rows` (fulltext only).
    pub total_rows: Option<u64>,
    /// `bookmark` for the next fulltext page (fulltext only). X-Force keeps
    /// returning a bookmark on the last page: stop when a page has no rows.
    pub bookmark: Option<String>,
    /// Number of entries in the body, usable or not.
    pub result_count: usize,
}

/// `Some(message)` when `body` is X-Force's "not entitled" answer (402
/// Payment Required, 403 Forbidden / not authorised); `None` otherwise
/// (including 404 `Not found.`).
pub fn entitlement_error(body: &[u8]) -> Option<String> {
    let root: Value = serde_json::from_slice(body).ok()?;
    let message = root
        .get("error")
        .or_else(|| root.get("message"))
        .and_then(Value::as_str)?;
    let lower = message.to_ascii_lowercase();
    [
        "payment",
        "forbidden",
        "entitle",
        "not authorized",
        "not authorised",
        "access denied",
    ]
    .iter()
    .any(|k| lower.contains(k))
    .then(|| truncate(message, 200))
}

fn upstream_error(format: &'static str, root: &Value) -> Option<FormatError> {
    let message = root.get("error").and_then(Value::as_str)?;
    Some(FormatError::Upstream {
        format,
        code: "error".into(),
        message: truncate(message, 200),
    })
}

fn text<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    m.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Parses a casefile listing or a single casefile.
pub fn parse_casefiles(body: &[u8]) -> Result<CaseFiles, FormatError> {
    let root: Value =
        serde_json::from_slice(body).map_err(|e| FormatError::json(FORMAT_CASEFILES, &e))?;
    if let Some(err) = upstream_error(FORMAT_CASEFILES, &root) {
        return Err(err);
    }
    let list = match root {
        Value::Object(mut map) => match map.remove("casefiles") {
            Some(Value::Array(list)) => list,
            Some(_) => {
                return Err(FormatError::Shape {
                    format: FORMAT_CASEFILES,
                    what: "\"casefiles\" is not a list".into(),
                });
            }
            None if map.contains_key("caseFileID") => vec![Value::Object(map)],
            None => {
                return Err(FormatError::Shape {
                    format: FORMAT_CASEFILES,
                    what: "neither \"casefiles\" nor a casefile".into(),
                });
            }
        },
        Value::Array(list) => list,
        _ => {
            return Err(FormatError::Shape {
                format: FORMAT_CASEFILES,
                what: "body is neither an object nor a list".into(),
            });
        }
    };
    let mut out = CaseFiles::default();
    for (n, value) in list.into_iter().enumerate() {
        let at = format!("casefile {}", n + 1);
        let Value::Object(m) = value else {
            out.rejected
                .push(Rejected::new(at, "casefile is not an object"));
            continue;
        };
        let Some(id) = text(&m, "caseFileID") else {
            out.rejected.push(Rejected::new(at, "missing caseFileID"));
            continue;
        };
        let created = text(&m, "created").and_then(dates::any);
        let updated = text(&m, "updated").and_then(dates::any).or(created);
        if let Some(t) = updated {
            out.max_updated = Some(out.max_updated.map_or(t, |o| o.max(t)));
        }
        let tags: Vec<String> = m
            .get("tags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|t| {
                t.get("value")
                    .or_else(|| t.get("entityName"))
                    .and_then(Value::as_str)
            })
            .map(str::to_owned)
            .collect();
        let contents = m.get("contents");
        let body = contents
            .and_then(|c| c.get("plainText"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| {
                contents
                    .and_then(|c| c.get("wiki").or_else(|| c.get("html")))
                    .and_then(Value::as_str)
                    .map(crate::html::to_text)
            })
            .unwrap_or_default();
        let group = m
            .get("group")
            .and_then(|g| g.get("type"))
            .and_then(Value::as_str);
        let tlp = if group == Some("public") {
            Tlp::Clear
        } else {
            Tlp::Amber
        };
        let title = text(&m, "title").unwrap_or(id).to_owned();
        out.records.push(ItemRecord {
            item: NewItem {
                kind: ItemKind::Event,
                external_id: format!("xforce:casefile:{id}"),
                title,
                body: body.trim().to_owned(),
                url: Some(format!(
                    "https://exchange.xforce.ibmcloud.com/collection/{id}"
                )),
                lang: None,
                published_at: created,
                tlp,
                tags,
                extra: json!({
                    "case_file_id": id,
                    "owner": m.get("owner").and_then(|o| o.get("name")),
                    "group": group,
                    "updated": text(&m, "updated"),
                    "report_count": m.get("stats").and_then(|s| s.pointer("/reports/count")),
                }),
            },
            sightings: Vec::new(),
            relations: Vec::new(),
            extract: true,
        });
    }
    Ok(out)
}

/// Parses a fulltext page, a search answer or the recent list.
pub fn parse_vulnerabilities(body: &[u8]) -> Result<Vulnerabilities, FormatError> {
    let root: Value =
        serde_json::from_slice(body).map_err(|e| FormatError::json(FORMAT_VULNS, &e))?;
    if let Some(err) = upstream_error(FORMAT_VULNS, &root) {
        return Err(err);
    }
    let mut out = Vulnerabilities::default();
    let rows = match root {
        Value::Array(list) => list,
        Value::Object(mut map) => {
            out.total_rows = map.get("total_rows").and_then(Value::as_u64);
            out.bookmark = map
                .get("bookmark")
                .and_then(Value::as_str)
                .filter(|b| !b.is_empty())
                .map(str::to_owned);
            match map.remove("rows") {
                Some(Value::Array(list)) => list,
                _ => {
                    return Err(FormatError::Shape {
                        format: FORMAT_VULNS,
                        what: "missing \"rows\" list".into(),
                    });
                }
            }
        }
        _ => {
            return Err(FormatError::Shape {
                format: FORMAT_VULNS,
                what: "body is neither an object nor a list".into(),
            });
        }
    };
    out.result_count = rows.len();
    for (n, value) in rows.into_iter().enumerate() {
        let at = format!("vulnerability {}", n + 1);
        let Value::Object(m) = value else {
            out.rejected
                .push(Rejected::new(at, "vulnerability is not an object"));
            continue;
        };
        match convert_vuln(&m) {
            Ok(r) => out.records.push(r),
            Err(reason) => out.rejected.push(Rejected::new(at, reason)),
        }
    }
    Ok(out)
}

fn convert_vuln(m: &Map<String, Value>) -> Result<ItemRecord, String> {
    let id = match m.get("xfdbid") {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
        _ => return Err("missing xfdbid".into()),
    };
    let reported = text(m, "reported").and_then(dates::any);
    let stdcode: Vec<&str> = m
        .get("stdcode")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let mut sightings: Vec<NewSighting> = Vec::new();
    for code in &stdcode {
        if !code.trim().to_ascii_uppercase().starts_with("CVE-") {
            continue;
        }
        let ind = Indicator::parse(IndicatorType::Cve, code)
            .map_err(|e| format!("invalid cve: {}", e.reason()))?;
        if !sightings.iter().any(|s| s.indicator == ind) {
            sightings.push(NewSighting::new(
                ind,
                reported.unwrap_or_else(rexist_core::model::now),
            ));
        }
    }
    let title = text(m, "title").unwrap_or(&id).to_owned();
    let mut body = text(m, "description").unwrap_or("").to_owned();
    if let Some(remedy) = text(m, "remedy") {
        body.push_str("\n\nRemedy: ");
        body.push_str(remedy);
    }
    let tags = text(m, "tagname")
        .map(|t| vec![t.to_owned()])
        .unwrap_or_default();
    Ok(ItemRecord {
        item: NewItem {
            kind: ItemKind::Vuln,
            external_id: format!("xforce:vuln:{id}"),
            title,
            body: body.trim().to_owned(),
            url: Some(format!(
                "https://exchange.xforce.ibmcloud.com/vulnerabilities/{id}"
            )),
            lang: Some("en".to_owned()),
            published_at: reported,
            tlp: Tlp::Clear,
            tags,
            extra: json!({
                "xfdbid": m.get("xfdbid"),
                "risk_level": m.get("risk_level"),
                "cvss": m.get("cvss"),
                "stdcode": stdcode,
                "platforms_affected": m.get("platforms_affected"),
                "exploitability": m.get("exploitability"),
                "consequences": m.get("consequences"),
                "references": m.get("references"),
                "cwe": m.get("cwe"),
                "report_confidence": m.get("report_confidence"),
            }),
        },
        sightings,
        relations: Vec::new(),
        extract: false,
    })
}

//! NVD CVE API 2.0 pages (INTERFACES.md §6.11).
//!
//! Each CVE becomes an [`ItemRecord`] of kind `Vuln` with one `cve` sighting;
//! CVSS, CWE ids, references and the CISA KEV fields go into `extra`. Paging
//! is by `startIndex` until it reaches `totalResults`: [`NvdPage::next_start`].
//! Unknown keys are ignored (the fixtures carry a non-API `affected` block).

use rexist_core::{
    Indicator, IndicatorType, ItemKind, ItemRecord, NewItem, NewSighting, Rejected, Tlp,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::dates;
use crate::error::{FormatError, truncate};

const FORMAT: &str = "nvd cves";

/// Length of the description part of an item title.
const TITLE_DESCRIPTION_CHARS: usize = 100;

/// One page of the CVE API.
#[derive(Debug, Clone, PartialEq)]
pub struct NvdPage {
    /// Total matches of the query, over all pages.
    pub total_results: u64,
    /// 0-based index of this page's first CVE.
    pub start_index: u64,
    /// Page size the server used.
    pub results_per_page: u64,
    /// The API's `timestamp` of the response, as given.
    pub timestamp: Option<String>,
    /// One item per usable CVE.
    pub records: Vec<ItemRecord>,
    /// CVEs that could not be used (`at` = `vulnerability 3`).
    pub rejected: Vec<Rejected>,
}

impl NvdPage {
    /// The `startIndex` of the next page, or `None` when this was the last.
    pub fn next_start(&self) -> Option<u64> {
        let seen = self.results_per_page.max(1);
        let next = self.start_index.saturating_add(seen);
        (next < self.total_results).then_some(next)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPage {
    #[serde(default)]
    results_per_page: u64,
    #[serde(default)]
    start_index: u64,
    #[serde(default)]
    total_results: u64,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    vulnerabilities: Option<Vec<Value>>,
}

#[derive(Deserialize)]
struct RawWrapper {
    cve: RawCve,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawCve {
    id: String,
    #[serde(default)]
    published: Option<String>,
    #[serde(default)]
    last_modified: Option<String>,
    #[serde(default)]
    vuln_status: Option<String>,
    #[serde(default)]
    descriptions: Vec<LangValue>,
    #[serde(default)]
    metrics: Option<RawMetrics>,
    #[serde(default)]
    weaknesses: Vec<RawWeakness>,
    #[serde(default)]
    references: Vec<RawReference>,
    #[serde(default)]
    cisa_exploit_add: Option<String>,
    #[serde(default)]
    cisa_action_due: Option<String>,
    #[serde(default)]
    cisa_required_action: Option<String>,
    #[serde(default)]
    cisa_vulnerability_name: Option<String>,
}

#[derive(Deserialize)]
struct LangValue {
    #[serde(default)]
    lang: String,
    #[serde(default)]
    value: String,
}

#[derive(Deserialize, Default)]
struct RawMetrics {
    #[serde(default, rename = "cvssMetricV40")]
    v40: Vec<RawMetric>,
    #[serde(default, rename = "cvssMetricV31")]
    v31: Vec<RawMetric>,
    #[serde(default, rename = "cvssMetricV30")]
    v30: Vec<RawMetric>,
    #[serde(default, rename = "cvssMetricV2")]
    v2: Vec<RawMetric>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMetric {
    #[serde(default)]
    source: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    cvss_data: RawCvss,
    /// v2 keeps its severity beside `cvssData`, v3 inside it.
    #[serde(default)]
    base_severity: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RawCvss {
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    vector_string: Option<String>,
    #[serde(default)]
    base_score: Option<f64>,
    #[serde(default)]
    base_severity: Option<String>,
}

#[derive(Deserialize)]
struct RawWeakness {
    #[serde(default)]
    description: Vec<LangValue>,
}

#[derive(Deserialize)]
struct RawReference {
    url: String,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
}

/// Parses one CVE API 2.0 response page.
pub fn parse_page(body: &[u8]) -> Result<NvdPage, FormatError> {
    let raw: RawPage = serde_json::from_slice(body).map_err(|e| FormatError::json(FORMAT, &e))?;
    let Some(vulnerabilities) = raw.vulnerabilities else {
        return Err(FormatError::Shape {
            format: FORMAT,
            what: "no \"vulnerabilities\" list".into(),
        });
    };
    let mut page = NvdPage {
        total_results: raw.total_results,
        start_index: raw.start_index,
        results_per_page: raw.results_per_page,
        timestamp: raw.timestamp,
        records: Vec::with_capacity(vulnerabilities.len()),
        rejected: Vec::new(),
    };
    for (n, value) in vulnerabilities.into_iter().enumerate() {
        let at = format!("vulnerability {}", n + 1);
        match serde_json::from_value::<RawWrapper>(value) {
            Ok(w) => match convert(w.cve) {
                Ok(record) => page.records.push(record),
                Err(reason) => page.rejected.push(Rejected::new(at, reason)),
            },
            Err(e) => page.rejected.push(Rejected::new(
                at,
                format!("bad cve: {}", truncate(&e.to_string(), 120)),
            )),
        }
    }
    Ok(page)
}

fn convert(cve: RawCve) -> Result<ItemRecord, String> {
    let indicator = Indicator::parse(IndicatorType::Cve, &cve.id).map_err(|e| e.reason())?;
    let description = cve
        .descriptions
        .iter()
        .find(|d| d.lang.eq_ignore_ascii_case("en"))
        .or_else(|| cve.descriptions.first())
        .map(|d| d.value.trim().to_owned())
        .unwrap_or_default();
    let title = if description.is_empty() {
        indicator.value().to_owned()
    } else {
        format!(
            "{}: {}",
            indicator.value(),
            short(&description, TITLE_DESCRIPTION_CHARS)
        )
    };
    let published_at = cve.published.as_deref().and_then(dates::any);
    let last_modified = cve.last_modified.as_deref().and_then(dates::any);
    let metrics = cve.metrics.unwrap_or_default();
    let mut cwes: Vec<String> = Vec::new();
    for w in &cve.weaknesses {
        for d in &w.description {
            if d.value.starts_with("CWE-") && !cwes.contains(&d.value) {
                cwes.push(d.value.clone());
            }
        }
    }
    let references: Vec<Value> = cve
        .references
        .iter()
        .map(|r| json!({"url": r.url, "source": r.source, "tags": r.tags}))
        .collect();
    // The item's severity: the best version available, primary source first.
    let headline = [&metrics.v40, &metrics.v31, &metrics.v30, &metrics.v2]
        .into_iter()
        .find_map(|list| primary(list));
    let mut tags = Vec::new();
    if let Some(sev) = headline.and_then(severity) {
        tags.push(sev.to_ascii_lowercase());
    }
    let kev = cve.cisa_exploit_add.is_some();
    if kev {
        tags.push("kev".to_owned());
    }
    let extra = json!({
        "vuln_status": cve.vuln_status,
        "published": cve.published,
        "last_modified": cve.last_modified,
        "last_modified_at": last_modified.map(time::OffsetDateTime::unix_timestamp),
        "cvss_v40": primary(&metrics.v40).map(cvss_json),
        "cvss_v31": primary(&metrics.v31).map(cvss_json),
        "cvss_v30": primary(&metrics.v30).map(cvss_json),
        "cvss_v2": primary(&metrics.v2).map(cvss_json),
        "base_score": headline.and_then(|m| m.cvss_data.base_score),
        "severity": headline.and_then(severity),
        "cwes": cwes,
        "references": references,
        "kev": kev,
        "cisa_exploit_add": cve.cisa_exploit_add,
        "cisa_action_due": cve.cisa_action_due,
        "cisa_required_action": cve.cisa_required_action,
        "cisa_vulnerability_name": cve.cisa_vulnerability_name,
    });
    let seen_at = last_modified
        .or(published_at)
        .unwrap_or_else(rexist_core::model::now);
    let url = format!("https://nvd.nist.gov/vuln/detail/{}", indicator.value());
    Ok(ItemRecord {
        item: NewItem {
            kind: ItemKind::Vuln,
            external_id: indicator.value().to_owned(),
            title,
            body: description,
            url: Some(url),
            lang: Some("en".to_owned()),
            published_at,
            tlp: Tlp::Clear,
            tags,
            extra,
        },
        sightings: vec![NewSighting::new(indicator, seen_at)],
        relations: Vec::new(),
        // The description names products and versions, not indicators worth
        // a sighting; the CVE itself is stated.
        extract: false,
    })
}

/// The `Primary` metric of a list (NVD's own), else the first.
fn primary(list: &[RawMetric]) -> Option<&RawMetric> {
    list.iter()
        .find(|m| m.kind.as_deref() == Some("Primary"))
        .or_else(|| list.first())
}

fn severity(m: &RawMetric) -> Option<&str> {
    m.cvss_data
        .base_severity
        .as_deref()
        .or(m.base_severity.as_deref())
}

fn cvss_json(m: &RawMetric) -> Value {
    json!({
        "version": m.cvss_data.version,
        "vector": m.cvss_data.vector_string,
        "base_score": m.cvss_data.base_score,
        "severity": severity(m),
        "source": m.source,
    })
}

/// The first `max` characters of `s`, cut at a word when possible.
fn short(s: &str, max: usize) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let cut: String = flat.chars().take(max).collect();
    let cut = cut.rsplit_once(' ').map_or(cut.as_str(), |(head, _)| head);
    format!("{}…", cut.trim_end_matches([',', '.', ';', ':']))
}

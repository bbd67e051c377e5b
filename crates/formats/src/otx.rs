//! OTX (`AlienVault` Open Threat Exchange) `DirectConnect` pages (INTERFACES.md §2).
//!
//! [`parse_pulses`] reads a `/api/v1/pulses/subscribed` page (also the
//! `/pulses/my`, `/pulses/user/{name}` and `/search/pulses` pages, which share
//! the envelope): each pulse becomes an [`ItemRecord`] of kind `Event`
//! (`external_id` `otx:{id}`) whose sightings are its indicators.
//! [`parse_indicator_export`] reads `/api/v1/indicators/export` pages: bare
//! indicators, returned as [`Record::Sighting`]s.
//!
//! Indicator types ([`map_type`]): `IPv4`, `IPv6`, `CIDR`, `domain` and
//! `hostname` (both rexist `domain`), `URL`, `URI` (only when it is a full
//! URL; a bare path is kept as "other"), `email`, `FileHash-MD5`/`SHA1`/
//! `SHA256`/`SHA512`, `CVE`, `BitcoinAddress`. Every other type (`YARA`,
//! `JA3`, `Mutex`, `FilePath`, `FileHash-PEHASH`, `FileHash-IMPHASH`,
//! `SSLCertFingerprint`, `osquery`, …) is kept in the item's
//! `extra.other_indicators` as `{type, indicator}`, never dropped. A value of
//! a modelled type that does not parse is a [`Rejected`] (`pulse {id}
//! indicator {n}`), and the rest of the pulse is kept. An indicator with
//! `is_active: 0` is not a sighting; it is kept in `extra.inactive_indicators`.
//!
//! Paging: follow [`OtxPulses::next`] until `None`; store
//! [`OtxPulses::max_modified`] and pass it as `modified_since` next run.

use std::str::FromStr;

use rexist_core::{
    Indicator, IndicatorType, ItemKind, ItemRecord, NewItem, NewSighting, Record, Rejected,
    RetractReason, Retraction, Tlp,
};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::dates;
use crate::error::{FormatError, truncate};

const FORMAT_PULSES: &str = "otx pulses";
const FORMAT_EXPORT: &str = "otx indicators export";

/// One page of pulses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OtxPulses {
    /// One `Event` item per usable pulse, with its indicators as sightings.
    pub records: Vec<ItemRecord>,
    /// Pulses or indicators that could not be used (`at` = `pulse 2`,
    /// `pulse {id} indicator {indicator id}`).
    pub rejected: Vec<Rejected>,
    /// `count` as stated (total over all pages).
    pub count: Option<u64>,
    /// `next`: absolute URL of the next page, `None` on the last.
    pub next: Option<String>,
    /// Number of entries in `results`, usable or not.
    pub result_count: usize,
    /// Newest pulse `modified` on the page (UTC): the `modified_since` cursor.
    pub max_modified: Option<OffsetDateTime>,
    /// Indicators the pulses withdraw (`is_active: 0`); an `expiration`
    /// becomes the sighting's `valid_until` instead.
    pub retractions: Vec<Retraction>,
}

/// One page of the indicator export.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OtxIndicators {
    /// One [`Record::Sighting`] per usable indicator.
    pub records: Vec<Record>,
    /// Indicators of a modelled type whose value does not parse
    /// (`at` = `indicator {n}`).
    pub rejected: Vec<Rejected>,
    /// Indicators of a type rexist does not model, as `(type, value)`.
    pub other: Vec<(String, String)>,
    /// `count` as stated.
    pub count: Option<u64>,
    /// `next` page URL, `None` on the last.
    pub next: Option<String>,
}

#[derive(Deserialize)]
struct RawPage {
    results: Vec<Value>,
    #[serde(default)]
    count: Option<u64>,
    #[serde(default)]
    next: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawPulse {
    id: Option<Value>,
    name: Option<String>,
    description: Option<String>,
    author_name: Option<String>,
    created: Option<String>,
    modified: Option<String>,
    adversary: Option<String>,
    #[serde(alias = "TLP")]
    tlp: Option<String>,
    tags: Option<Vec<Value>>,
    references: Option<Vec<Value>>,
    targeted_countries: Option<Vec<Value>>,
    industries: Option<Vec<Value>>,
    malware_families: Option<Vec<Value>>,
    attack_ids: Option<Vec<Value>>,
    indicators: Option<Vec<Value>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawIndicator {
    #[serde(alias = "_id")]
    id: Option<Value>,
    indicator: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    created: Option<String>,
    title: Option<String>,
    role: Option<String>,
    is_active: Option<Value>,
    expiration: Option<String>,
}

/// The rexist type an OTX indicator type maps to; `None` for a type rexist
/// does not model (kept as "other"). `URI` maps to `url` but is only used
/// when the value parses as one.
pub fn map_type(otx_type: &str) -> Option<IndicatorType> {
    Some(match otx_type.trim().to_ascii_lowercase().as_str() {
        "ipv4" => IndicatorType::Ipv4,
        "ipv6" => IndicatorType::Ipv6,
        "cidr" => IndicatorType::Cidr,
        "domain" | "hostname" => IndicatorType::Domain,
        "url" | "uri" => IndicatorType::Url,
        "email" => IndicatorType::Email,
        "filehash-md5" => IndicatorType::Md5,
        "filehash-sha1" => IndicatorType::Sha1,
        "filehash-sha256" => IndicatorType::Sha256,
        "filehash-sha512" => IndicatorType::Sha512,
        "cve" => IndicatorType::Cve,
        "bitcoinaddress" => IndicatorType::Btc,
        "asn" => IndicatorType::Asn,
        _ => return None,
    })
}

/// What one OTX indicator turned into.
enum Mapped {
    Indicator(Indicator),
    Other,
    Bad(String),
}

fn map_indicator(otx_type: &str, value: &str) -> Mapped {
    let Some(kind) = map_type(otx_type) else {
        return Mapped::Other;
    };
    match Indicator::parse(kind, value) {
        Ok(ind) => Mapped::Indicator(ind),
        // A URI is often a bare path: not a rexist indicator, but kept.
        Err(_) if otx_type.eq_ignore_ascii_case("uri") => Mapped::Other,
        Err(e) => Mapped::Bad(format!("invalid {otx_type}: {}", e.reason())),
    }
}

/// Parses a subscribed-pulses (or other pulse list) page.
pub fn parse_pulses(body: &[u8]) -> Result<OtxPulses, FormatError> {
    let page: RawPage = read_page(FORMAT_PULSES, body)?;
    let mut out = OtxPulses {
        count: page.count,
        next: page.next.filter(|n| !n.trim().is_empty()),
        result_count: page.results.len(),
        ..OtxPulses::default()
    };
    for (n, value) in page.results.into_iter().enumerate() {
        let at = format!("pulse {}", n + 1);
        let raw: RawPulse = match serde_json::from_value(value) {
            Ok(raw) => raw,
            Err(e) => {
                out.rejected.push(Rejected::new(
                    at,
                    format!("bad pulse: {}", truncate(&e.to_string(), 120)),
                ));
                continue;
            }
        };
        if let Some(m) = raw.modified.as_deref().and_then(dates::any) {
            out.max_modified = Some(out.max_modified.map_or(m, |old| old.max(m)));
        }
        match convert_pulse(raw, &mut out.rejected, &mut out.retractions) {
            Ok(record) => out.records.push(record),
            Err(reason) => out.rejected.push(Rejected::new(at, reason)),
        }
    }
    Ok(out)
}

fn read_page(format: &'static str, body: &[u8]) -> Result<RawPage, FormatError> {
    let root: Value = serde_json::from_slice(body).map_err(|e| FormatError::json(format, &e))?;
    if let Some(detail) = root.get("detail").and_then(Value::as_str)
        && root.get("results").is_none()
    {
        return Err(FormatError::Upstream {
            format,
            code: "detail".into(),
            message: truncate(detail, 200),
        });
    }
    serde_json::from_value(root).map_err(|e| FormatError::Shape {
        format,
        what: truncate(&e.to_string(), 200),
    })
}

fn id_string(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Names from a list of strings or of `{display_name|name|id}` objects.
fn names(list: Option<&Vec<Value>>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in list.into_iter().flatten() {
        let name = match v {
            Value::String(s) => Some(s.as_str()),
            Value::Object(m) => ["display_name", "name", "id"]
                .iter()
                .find_map(|k| m.get(*k).and_then(Value::as_str)),
            _ => None,
        };
        if let Some(name) = name.map(str::trim).filter(|s| !s.is_empty())
            && !out.iter().any(|o| o == name)
        {
            out.push(name.to_owned());
        }
    }
    out
}

/// ATT&CK ids (`T1071`) from strings or `{id, …}` objects.
fn attack_ids(list: Option<&Vec<Value>>) -> Vec<String> {
    list.into_iter()
        .flatten()
        .filter_map(|v| match v {
            Value::String(s) => Some(s.trim().to_owned()),
            Value::Object(m) => m.get("id").and_then(Value::as_str).map(str::to_owned),
            _ => None,
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// The threat entities a pulse names: its adversary, malware families and
/// ATT&CK techniques.
fn pulse_entities(adversary: Option<&str>, families: &[String], techniques: &[String]) -> Value {
    use rexist_core::entity::{EntityMention, to_extra};
    let mut out: Vec<EntityMention> = Vec::new();
    out.extend(adversary.and_then(|a| EntityMention::named(ItemKind::ThreatActor, a)));
    out.extend(
        families
            .iter()
            .filter_map(|f| EntityMention::named(ItemKind::Malware, f)),
    );
    out.extend(techniques.iter().filter_map(|t| {
        let mut m = EntityMention::named(ItemKind::AttackPattern, t)?;
        m.attack_id = rexist_core::attack::is_attack_id(t).then(|| t.clone());
        Some(m)
    }));
    to_extra(&out)
}

fn is_active(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Number(n)) => n.as_i64() != Some(0),
        Some(Value::Bool(b)) => *b,
        _ => true,
    }
}

fn convert_pulse(
    raw: RawPulse,
    rejected: &mut Vec<Rejected>,
    retractions: &mut Vec<Retraction>,
) -> Result<ItemRecord, String> {
    let id = id_string(raw.id.as_ref()).ok_or("missing id")?;
    let name = raw.name.unwrap_or_default().trim().to_owned();
    let created = raw.created.as_deref().and_then(dates::any);
    let modified = raw.modified.as_deref().and_then(dates::any);
    let tlp = raw
        .tlp
        .as_deref()
        .and_then(|t| Tlp::from_str(t).ok())
        .unwrap_or(Tlp::Clear);
    let tags = names(raw.tags.as_ref());
    let families = names(raw.malware_families.as_ref());
    let references: Vec<String> = names(raw.references.as_ref());
    let url = references
        .iter()
        .find(|r| r.starts_with("http://") || r.starts_with("https://"))
        .cloned()
        .unwrap_or_else(|| format!("https://otx.alienvault.com/pulse/{id}"));
    let seen_default = modified.or(created).unwrap_or_else(rexist_core::model::now);

    let mut labels = tags.clone();
    for f in &families {
        if !labels.contains(f) {
            labels.push(f.clone());
        }
    }

    let mut sightings: Vec<NewSighting> = Vec::new();
    let mut other = Vec::new();
    let mut inactive = Vec::new();
    for (n, value) in raw.indicators.unwrap_or_default().into_iter().enumerate() {
        let ind: RawIndicator = match serde_json::from_value(value) {
            Ok(i) => i,
            Err(e) => {
                rejected.push(Rejected::new(
                    format!("pulse {id} indicator {}", n + 1),
                    format!("bad indicator: {}", truncate(&e.to_string(), 120)),
                ));
                continue;
            }
        };
        let at = format!(
            "pulse {id} indicator {}",
            id_string(ind.id.as_ref()).unwrap_or_else(|| (n + 1).to_string())
        );
        let kind = ind.kind.unwrap_or_default();
        let Some(text) = ind.indicator.filter(|v| !v.trim().is_empty()) else {
            rejected.push(Rejected::new(at, "missing indicator value"));
            continue;
        };
        let mapped = map_indicator(&kind, &text);
        // An expiration becomes the sighting's expiry (retired by the store
        // when it passes, kept for lookups); `is_active: 0` withdraws it now.
        let expiration = ind.expiration.as_deref().and_then(dates::any);
        if !is_active(ind.is_active.as_ref()) && !matches!(mapped, Mapped::Bad(_)) {
            if let Mapped::Indicator(indicator) = mapped {
                retractions.push(Retraction {
                    indicator,
                    reason: RetractReason::Inactive,
                    at: seen_default,
                });
            }
            inactive.push(json!({"type": kind, "indicator": text}));
            continue;
        }
        match mapped {
            Mapped::Indicator(indicator) => {
                let seen_at = ind
                    .created
                    .as_deref()
                    .and_then(dates::any)
                    .unwrap_or(seen_default);
                if let Some(existing) = sightings.iter_mut().find(|s| s.indicator == indicator) {
                    existing.seen_at = existing.seen_at.min(seen_at);
                    continue;
                }
                let mut s = NewSighting::new(indicator, seen_at);
                s.tlp = Some(tlp);
                s.valid_until = expiration;
                s.labels.clone_from(&labels);
                for extra in [ind.role.as_deref(), ind.title.as_deref()]
                    .into_iter()
                    .flatten()
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                {
                    if !s.labels.iter().any(|l| l == extra) {
                        s.labels.push(extra.to_owned());
                    }
                }
                sightings.push(s);
            }
            Mapped::Other => other.push(json!({"type": kind, "indicator": text})),
            Mapped::Bad(reason) => rejected.push(Rejected::new(at, reason)),
        }
    }

    let adversary = raw.adversary.filter(|a| !a.trim().is_empty());
    let techniques = attack_ids(raw.attack_ids.as_ref());
    let entities = pulse_entities(adversary.as_deref(), &families, &techniques);
    let extra = json!({
        "id": id,
        "author_name": raw.author_name,
        "entities": entities,
        "adversary": adversary,
        "targeted_countries": names(raw.targeted_countries.as_ref()),
        "industries": names(raw.industries.as_ref()),
        "malware_families": families,
        "attack_ids": techniques,
        "references": references,
        "modified": raw.modified,
        "other_indicators": other,
        "inactive_indicators": inactive,
    });
    Ok(ItemRecord {
        item: NewItem {
            kind: ItemKind::Event,
            external_id: format!("otx:{id}"),
            title: if name.is_empty() { id.clone() } else { name },
            body: raw.description.unwrap_or_default().trim().to_owned(),
            url: Some(url),
            lang: None,
            published_at: created,
            tlp,
            tags,
            extra,
        },
        sightings,
        relations: Vec::new(),
        // Indicators are stated; descriptions often restate them defanged.
        extract: false,
    })
}

/// Parses an `/api/v1/indicators/export` page.
pub fn parse_indicator_export(body: &[u8]) -> Result<OtxIndicators, FormatError> {
    let page: RawPage = read_page(FORMAT_EXPORT, body)?;
    let mut out = OtxIndicators {
        count: page.count,
        next: page.next.filter(|n| !n.trim().is_empty()),
        ..OtxIndicators::default()
    };
    for (n, value) in page.results.into_iter().enumerate() {
        let at = format!("indicator {}", n + 1);
        let ind: RawIndicator = match serde_json::from_value(value) {
            Ok(i) => i,
            Err(e) => {
                out.rejected.push(Rejected::new(
                    at,
                    format!("bad indicator: {}", truncate(&e.to_string(), 120)),
                ));
                continue;
            }
        };
        let kind = ind.kind.unwrap_or_default();
        let Some(text) = ind.indicator.filter(|v| !v.trim().is_empty()) else {
            out.rejected
                .push(Rejected::new(at, "missing indicator value"));
            continue;
        };
        match map_indicator(&kind, &text) {
            Mapped::Indicator(indicator) => {
                let seen_at = ind
                    .created
                    .as_deref()
                    .and_then(dates::any)
                    .unwrap_or_else(rexist_core::model::now);
                let mut s = NewSighting::new(indicator, seen_at);
                if let Some(title) = ind.title.filter(|t| !t.trim().is_empty()) {
                    s.labels.push(title.trim().to_owned());
                }
                out.records.push(Record::Sighting(s));
            }
            Mapped::Other => out.other.push((kind, text)),
            Mapped::Bad(reason) => out.rejected.push(Rejected::new(at, reason)),
        }
    }
    Ok(out)
}

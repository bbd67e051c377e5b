//! ThreatConnect v3 API pages (INTERFACES.md §4) and its HMAC signature.
//!
//! [`parse_indicators`] reads `GET /v3/indicators` (and
//! `/v3/indicators/deleted`) pages: `{"status", "data":[…], "next"?}`. Each
//! indicator becomes one [`Record::Sighting`] per value it carries (a `File`
//! carries up to three: md5, sha1, sha256), labelled with the owner name and
//! its tags. Types: `Address` (`ip`), `Host` (`hostName`), `URL` (`text`),
//! `EmailAddress` (`address`), `File` (`md5`/`sha1`/`sha256`), `CIDR`
//! (`Block`), `ASN` (`AS Number`); the value field falls back to `summary`.
//! Types rexist does not model (`Mutex`, `EmailSubject`, `Hashtag`,
//! `Registry Key`, `User Agent`) are counted in [`TcIndicators::skipped`]
//! as `type {name}`.
//!
//! Confidence ([`confidence`]): ThreatConnect gives a threat `rating` 0–5 and
//! a `confidence` 0–100, where 0 means "not rated". Both set: the mean of
//! `confidence` and `rating × 20`, rounded; one set: that one (rating × 20);
//! neither: `None` (the source's default applies).
//!
//! Withdrawn upstream, so not sightings but [`TcIndicators::retractions`]
//! (and counted by reason in [`TcIndicators::skipped`]): `active: false`
//! ([`RetractReason::Inactive`], `inactive`), `falsePositiveFlag: true`
//! ([`RetractReason::FalsePositive`], `false positive`), and entries with a
//! `deletedDate` — what the `/v3/indicators/deleted` endpoint lists
//! ([`RetractReason::Deleted`], `deleted`). A retraction's time is the
//! `deletedDate`, else the `lastModified`, else now.
//!
//! [`parse_groups`] reads `GET /v3/groups?fields=associatedIndicators`
//! pages: each group (Incident, Report, Adversary, Campaign, …) becomes an
//! `Event` item whose sightings are its associated indicators. TLP comes from
//! expanded `securityLabels` (`TLP:…` names); a group without one is
//! `amber` (ThreatConnect data is not public by default), an indicator
//! without one leaves the sighting's TLP to the source default.
//! [`hmac_authorization`] builds the `Authorization` header for Access ID +
//! secret authentication.

use std::collections::BTreeMap;

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use rexist_core::{
    Indicator, IndicatorType, ItemKind, ItemRecord, NewItem, NewSighting, Record, Rejected,
    RetractReason, Retraction, Tlp,
};
use serde_json::{Map, Value, json};
use sha2::Sha256;
use time::OffsetDateTime;

use crate::dates;
use crate::error::{FormatError, truncate};

const FORMAT_INDICATORS: &str = "threatconnect indicators";
const FORMAT_GROUPS: &str = "threatconnect groups";

/// The `Authorization` header value for HMAC authentication:
/// `TC {access_id}:{base64(HMAC-SHA256(secret, "{path_and_query}:{METHOD}:{timestamp}"))}`.
///
/// `path_and_query` must be byte-identical to what goes on the wire: the
/// path including the `/api` prefix and the already URL-encoded query
/// (`/api/v3/indicators?tql=…&resultStart=0`). The method is upper-cased.
/// Send `timestamp` as the `Timestamp` header too (within 5 minutes of the
/// server clock). Re-sign every request, including `next` pages.
pub fn hmac_authorization(
    access_id: &str,
    secret: &str,
    path_and_query: &str,
    method: &str,
    timestamp: i64,
) -> String {
    let signing = format!(
        "{path_and_query}:{}:{timestamp}",
        method.to_ascii_uppercase()
    );
    // HMAC accepts keys of any length; this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("hmac takes any key length"));
    mac.update(signing.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    format!("TC {access_id}:{signature}")
}

/// The confidence rexist gives an indicator from ThreatConnect's `rating`
/// (0–5) and `confidence` (0–100); see the module documentation.
pub fn confidence(rating: Option<f64>, confidence: Option<f64>) -> Option<u8> {
    let rating = rating
        .filter(|r| r.is_finite() && *r > 0.0)
        .map(|r| r.min(5.0) * 20.0);
    let conf = confidence
        .filter(|c| c.is_finite() && *c > 0.0)
        .map(|c| c.min(100.0));
    let value = match (rating, conf) {
        (Some(r), Some(c)) => f64::midpoint(r, c),
        (Some(v), None) | (None, Some(v)) => v,
        (None, None) => return None,
    };
    // 0 < value <= 100 here.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    Some(value.round().clamp(0.0, 100.0) as u8)
}

/// One page of indicators.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TcIndicators {
    /// One [`Record::Sighting`] per usable indicator value.
    pub records: Vec<Record>,
    /// Indicators that could not be used (`at` = `indicator {id}`).
    pub rejected: Vec<Rejected>,
    /// Indicators skipped on purpose, counted by reason (`inactive`,
    /// `false positive`, `type Mutex`, `deleted`).
    pub skipped: BTreeMap<String, u64>,
    /// Values withdrawn upstream: deleted (entries with `deletedDate`),
    /// inactive or marked a false positive.
    pub retractions: Vec<Retraction>,
    /// `next`: absolute URL of the next page (re-sign it), `None` on the last.
    pub next: Option<String>,
    /// Number of entries in `data`, usable or not.
    pub result_count: usize,
    /// Newest `lastModified` on the page: the incremental cursor.
    pub max_last_modified: Option<OffsetDateTime>,
}

/// One page of groups.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TcGroups {
    /// One `Event` item per usable group.
    pub records: Vec<ItemRecord>,
    /// Groups or associated indicators that could not be used.
    pub rejected: Vec<Rejected>,
    /// Associated indicators skipped on purpose, counted by reason.
    pub skipped: BTreeMap<String, u64>,
    /// `next` page URL, `None` on the last.
    pub next: Option<String>,
    /// Newest `lastModified` on the page.
    pub max_last_modified: Option<OffsetDateTime>,
}

/// Reads the envelope; a `Failure` status is an upstream error.
fn envelope(
    format: &'static str,
    body: &[u8],
) -> Result<(Vec<Value>, Option<String>), FormatError> {
    let root: Value = serde_json::from_slice(body).map_err(|e| FormatError::json(format, &e))?;
    let Value::Object(mut map) = root else {
        return Err(FormatError::Shape {
            format,
            what: "body is not an object".into(),
        });
    };
    let status = map.get("status").and_then(Value::as_str).unwrap_or("");
    if status.eq_ignore_ascii_case("failure") {
        return Err(FormatError::Upstream {
            format,
            code: "Failure".into(),
            message: truncate(
                map.get("message").and_then(Value::as_str).unwrap_or(""),
                200,
            ),
        });
    }
    let data = match map.remove("data") {
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(FormatError::Shape {
                format,
                what: "\"data\" is not a list".into(),
            });
        }
        None => {
            return Err(FormatError::Shape {
                format,
                what: "missing \"data\"".into(),
            });
        }
    };
    let next = map
        .get("next")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .map(str::to_owned);
    Ok((data, next))
}

fn text<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    m.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

fn num(m: &Map<String, Value>, key: &str) -> Option<f64> {
    match m.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn flag(m: &Map<String, Value>, key: &str) -> Option<bool> {
    match m.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) => Some(s.eq_ignore_ascii_case("true")),
        _ => None,
    }
}

fn tag_names(m: &Map<String, Value>) -> Vec<String> {
    m.get("tags")
        .and_then(|t| t.get("data"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|t| t.get("name").and_then(Value::as_str))
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// `(rexist type, value)` pairs of one indicator object; `Err` names an
/// unmodelled type.
fn values(m: &Map<String, Value>) -> Result<Vec<(IndicatorType, String)>, String> {
    let kind = text(m, "type").unwrap_or("");
    let one = |t: IndicatorType, field: &str| {
        text(m, field)
            .or_else(|| text(m, "summary"))
            .map(|v| vec![(t, v.to_owned())])
            .unwrap_or_default()
    };
    Ok(match kind {
        "Address" => {
            let v = text(m, "ip").or_else(|| text(m, "summary")).unwrap_or("");
            let t = if v.contains(':') {
                IndicatorType::Ipv6
            } else {
                IndicatorType::Ipv4
            };
            vec![(t, v.to_owned())]
        }
        "Host" => one(IndicatorType::Domain, "hostName"),
        "URL" => one(IndicatorType::Url, "text"),
        "EmailAddress" => one(IndicatorType::Email, "address"),
        "CIDR" => one(IndicatorType::Cidr, "Block"),
        "ASN" => one(IndicatorType::Asn, "AS Number"),
        "File" => {
            let mut out: Vec<(IndicatorType, String)> = [
                (IndicatorType::Md5, "md5"),
                (IndicatorType::Sha1, "sha1"),
                (IndicatorType::Sha256, "sha256"),
            ]
            .into_iter()
            .filter_map(|(t, f)| text(m, f).map(|v| (t, v.to_owned())))
            .collect();
            if out.is_empty() {
                // `summary` is `md5 : sha1 : sha256`, any part optional.
                for part in text(m, "summary").unwrap_or("").split(" : ") {
                    let part = part.trim();
                    let t = match part.len() {
                        32 => IndicatorType::Md5,
                        40 => IndicatorType::Sha1,
                        64 => IndicatorType::Sha256,
                        _ => continue,
                    };
                    out.push((t, part.to_owned()));
                }
            }
            out
        }
        other => return Err(format!("type {}", truncate(other, 40))),
    })
}

/// ASN values come as `ASN64496`; rexist wants `AS64496`.
fn normalise(kind: IndicatorType, value: &str) -> String {
    if kind == IndicatorType::Asn
        && let Some(rest) = value
            .strip_prefix("ASN")
            .or_else(|| value.strip_prefix("asn"))
    {
        return format!("AS{rest}");
    }
    value.to_owned()
}

fn indicators_of(m: &Map<String, Value>) -> Result<Result<Vec<Indicator>, String>, String> {
    let pairs = values(m)?;
    if pairs.is_empty() {
        return Ok(Err("missing value".into()));
    }
    let mut out = Vec::with_capacity(pairs.len());
    for (kind, value) in pairs {
        match Indicator::parse(kind, &normalise(kind, &value)) {
            Ok(i) => out.push(i),
            Err(e) => return Ok(Err(format!("invalid {}: {}", kind.as_str(), e.reason()))),
        }
    }
    Ok(Ok(out))
}

/// TLP from expanded `securityLabels` (`{data:[{name:"TLP:AMBER"}]}`).
fn security_tlp(m: &Map<String, Value>) -> Option<Tlp> {
    m.get("securityLabels")
        .and_then(|t| t.get("data"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|l| l.get("name").and_then(Value::as_str))
        .filter_map(|n| n.parse::<Tlp>().ok())
        .max()
}

fn bump(map: &mut BTreeMap<String, u64>, reason: impl Into<String>) {
    *map.entry(reason.into()).or_default() += 1;
}

/// Parses a `/v3/indicators` or `/v3/indicators/deleted` page.
pub fn parse_indicators(body: &[u8]) -> Result<TcIndicators, FormatError> {
    let (data, next) = envelope(FORMAT_INDICATORS, body)?;
    let mut out = TcIndicators {
        next,
        result_count: data.len(),
        ..TcIndicators::default()
    };
    for (n, value) in data.into_iter().enumerate() {
        let Value::Object(m) = value else {
            out.rejected.push(Rejected::new(
                format!("indicator {}", n + 1),
                "indicator is not an object",
            ));
            continue;
        };
        let at = match m.get("id") {
            Some(Value::Number(id)) => format!("indicator {id}"),
            _ => format!("indicator {}", n + 1),
        };
        let last_modified = text(&m, "lastModified").and_then(dates::any);
        if let Some(t) = last_modified {
            out.max_last_modified = Some(out.max_last_modified.map_or(t, |o| o.max(t)));
        }
        let inds = match indicators_of(&m) {
            Err(skip) => {
                bump(&mut out.skipped, skip);
                continue;
            }
            Ok(Err(reason)) => {
                out.rejected.push(Rejected::new(at, reason));
                continue;
            }
            Ok(Ok(inds)) => inds,
        };
        let withdrawn = if m.contains_key("deletedDate") {
            Some((RetractReason::Deleted, "deleted"))
        } else if flag(&m, "active") == Some(false) {
            Some((RetractReason::Inactive, "inactive"))
        } else if flag(&m, "falsePositiveFlag") == Some(true) {
            Some((RetractReason::FalsePositive, "false positive"))
        } else {
            None
        };
        if let Some((reason, name)) = withdrawn {
            bump(&mut out.skipped, name);
            let at = text(&m, "deletedDate")
                .and_then(dates::any)
                .or(last_modified)
                .unwrap_or_else(rexist_core::model::now);
            out.retractions
                .extend(inds.into_iter().map(|indicator| Retraction {
                    indicator,
                    reason,
                    at,
                }));
            continue;
        }
        let seen_at = last_modified
            .or_else(|| text(&m, "dateAdded").and_then(dates::any))
            .unwrap_or_else(rexist_core::model::now);
        let conf = confidence(num(&m, "rating"), num(&m, "confidence"));
        let tlp = security_tlp(&m);
        let mut labels = Vec::new();
        if let Some(owner) = text(&m, "ownerName") {
            labels.push(owner.to_owned());
        }
        for tag in tag_names(&m) {
            if !labels.contains(&tag) {
                labels.push(tag);
            }
        }
        for indicator in inds {
            let mut s = NewSighting::new(indicator, seen_at);
            s.confidence = conf;
            s.tlp = tlp;
            s.labels.clone_from(&labels);
            out.records.push(Record::Sighting(s));
        }
    }
    Ok(out)
}

/// The group itself as a threat entity, when its type is one (an
/// Adversary, a Campaign, …): ThreatConnect's groups are its entities.
fn group_entity(kind: &str, name: &str, description: &str) -> Value {
    use rexist_core::entity::{EntityMention, to_extra};
    let entity_kind = match kind.to_ascii_lowercase().as_str() {
        "adversary" | "threat" => ItemKind::ThreatActor,
        "intrusion set" => ItemKind::IntrusionSet,
        "malware" => ItemKind::Malware,
        "tool" => ItemKind::Tool,
        "campaign" => ItemKind::Campaign,
        "attack pattern" => ItemKind::AttackPattern,
        _ => return Value::Array(Vec::new()),
    };
    let Some(mut m) = EntityMention::named(entity_kind, name) else {
        return Value::Array(Vec::new());
    };
    m.is_item = true;
    m.description = Some(description.trim().to_owned()).filter(|d| !d.is_empty());
    to_extra(&[m])
}

/// Parses a `/v3/groups` page (ask for `fields=associatedIndicators` and
/// `fields=tags` to get indicators and tags).
pub fn parse_groups(body: &[u8]) -> Result<TcGroups, FormatError> {
    let (data, next) = envelope(FORMAT_GROUPS, body)?;
    let mut out = TcGroups {
        next,
        ..TcGroups::default()
    };
    for (n, value) in data.into_iter().enumerate() {
        let Value::Object(m) = value else {
            out.rejected.push(Rejected::new(
                format!("group {}", n + 1),
                "group is not an object",
            ));
            continue;
        };
        let Some(id) = m.get("id").and_then(Value::as_i64) else {
            out.rejected
                .push(Rejected::new(format!("group {}", n + 1), "missing id"));
            continue;
        };
        let last_modified = text(&m, "lastModified").and_then(dates::any);
        if let Some(t) = last_modified {
            out.max_last_modified = Some(out.max_last_modified.map_or(t, |o| o.max(t)));
        }
        let kind = text(&m, "type").unwrap_or("Group").to_owned();
        let name = text(&m, "name")
            .or_else(|| text(&m, "summary"))
            .unwrap_or("");
        let published = text(&m, "dateAdded").and_then(dates::any);
        let seen_at = last_modified
            .or(published)
            .unwrap_or_else(rexist_core::model::now);
        let tags = tag_names(&m);
        let mut labels = vec![kind.clone()];
        if let Some(owner) = text(&m, "ownerName") {
            labels.push(owner.to_owned());
        }
        labels.extend(tags.iter().cloned());
        let mut sightings: Vec<NewSighting> = Vec::new();
        let associated = m
            .get("associatedIndicators")
            .and_then(|a| a.get("data"))
            .and_then(Value::as_array);
        for (k, a) in associated.into_iter().flatten().enumerate() {
            let Value::Object(am) = a else { continue };
            let at = format!("group {id} indicator {}", k + 1);
            match indicators_of(am) {
                Err(skip) => bump(&mut out.skipped, skip),
                Ok(Err(reason)) => out.rejected.push(Rejected::new(at, reason)),
                Ok(Ok(inds)) => {
                    let conf = confidence(num(am, "rating"), num(am, "confidence"));
                    for indicator in inds {
                        if sightings.iter().any(|s| s.indicator == indicator) {
                            continue;
                        }
                        let mut s = NewSighting::new(indicator, seen_at);
                        s.confidence = conf;
                        s.labels.clone_from(&labels);
                        sightings.push(s);
                    }
                }
            }
        }
        let body = text(&m, "description").unwrap_or("").to_owned();
        let entities = group_entity(&kind, name, &body);
        out.records.push(ItemRecord {
            item: NewItem {
                kind: ItemKind::Event,
                external_id: format!("threatconnect:group:{id}"),
                title: if name.is_empty() {
                    format!("{kind} {id}")
                } else {
                    name.to_owned()
                },
                body,
                url: text(&m, "webLink").map(str::to_owned),
                lang: None,
                published_at: published,
                tlp: security_tlp(&m).unwrap_or(Tlp::Amber),
                tags,
                extra: json!({
                    "group_type": kind,
                    "entities": entities,
                    "id": id,
                    "owner_name": text(&m, "ownerName"),
                    "last_modified": text(&m, "lastModified"),
                }),
            },
            sightings,
            relations: Vec::new(),
            extract: true,
        });
    }
    Ok(out)
}

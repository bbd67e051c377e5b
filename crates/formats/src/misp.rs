//! MISP core JSON (INTERFACES.md §1.3) and the MISP feed files (§1.4).
//!
//! [`parse_events`] reads every event container MISP produces: a restSearch
//! page `{"response":[{"Event":…}]}`, a feed event file `{"Event":…}`, a bare
//! event object (`GET /events/view` after `PyMISP` strips the wrapper) and a
//! bare list. Each event becomes an [`ItemRecord`] of kind `Event`; its
//! attributes (top level and inside objects) become sightings; object
//! references between indicators become relations. [`parse_manifest`] and
//! [`parse_hashes`] read a feed's `manifest.json` and `hashes.csv`.
//!
//! What MISP withdraws becomes a [`Retraction`]: a deleted attribute (or an
//! attribute of a deleted object or event) is `Deleted`, instead of a
//! sighting; an attribute whose `to_ids` is explicitly off (`false`, `0`,
//! `"0"`) is kept as a low-confidence sighting (context, still found by
//! lookups) *and* withdrawn as `FalsePositive`, so it stays out of the
//! active set and a later version of an event that turns `to_ids` off
//! retires what an earlier version reported. An attribute that does not say
//! `to_ids` at all is an ordinary (low-confidence) sighting. A
//! retraction of an indicator that the same body also reports as active is
//! dropped: the body as a whole still reports it.
//!
//! MISP quirks handled here: numbers arrive as JSON strings or numbers
//! ("string-or-number", §1.3), flags as booleans or `0`/`1`, arrays may be
//! `null`, composite types carry two values split by `|`, defanged values
//! appear in OSINT events.

use std::collections::{BTreeMap, HashMap};

use rexist_core::{
    Indicator, IndicatorType, ItemKind, ItemRecord, NewItem, NewRelation, NewSighting, Rejected,
    RetractReason, Retraction, Tlp,
};
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::dates;
use crate::error::{FormatError, truncate};

const FORMAT: &str = "misp events";

/// Confidence of a sighting whose attribute is flagged `to_ids` (meant for
/// detection) and of one that does not say (context only); an attribute
/// whose `to_ids` is off is a retraction, not a sighting.
pub const CONFIDENCE_IDS: u8 = 80;
/// See [`CONFIDENCE_IDS`].
pub const CONFIDENCE_CONTEXT: u8 = 30;

/// Cap on relations produced by one object reference: a reference between two
/// large objects would otherwise multiply out.
const MAX_RELATIONS_PER_REFERENCE: usize = 64;

/// The events of one MISP body, with what a connector needs to go on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MispEvents {
    /// One item per usable event, with its sightings and relations.
    pub records: Vec<ItemRecord>,
    /// Events or attributes that could not be used (`at` = `event 2`,
    /// `event <uuid> attribute <uuid>`).
    pub rejected: Vec<Rejected>,
    /// Attributes skipped on purpose, counted by reason: an unmodelled MISP
    /// type (`type filename`), a deleted attribute or object (`deleted`), a
    /// deleted event (`deleted event`).
    pub skipped: BTreeMap<String, u64>,
    /// Indicators the body withdraws: those of deleted attributes, objects
    /// and events (`Deleted`) and of attributes with `to_ids` off
    /// (`FalsePositive`), less any the body also reports as active.
    pub retractions: Vec<Retraction>,
    /// Number of event containers in the body, usable or not: a restSearch
    /// page with fewer than `limit` is the last (§1.2).
    pub event_count: usize,
    /// Highest event `timestamp` seen: the incremental cursor (§1.2, pull with
    /// `timestamp` = this + 1).
    pub max_timestamp: Option<i64>,
    /// Indicators of attributes that report them for IDS use (`to_ids` on
    /// or unstated), while parsing: their retractions elsewhere in the body
    /// are dropped.
    reported: std::collections::HashSet<Indicator>,
}

/// Parses a MISP events body: restSearch page, feed event file, bare event
/// or list of events.
pub fn parse_events(body: &[u8]) -> Result<MispEvents, FormatError> {
    let root: Value = serde_json::from_slice(body).map_err(|e| FormatError::json(FORMAT, &e))?;
    let containers: Vec<Value> = match root {
        Value::Object(mut map) => {
            if let Some(response) = map.remove("response") {
                match response {
                    Value::Array(list) => list,
                    // `/attributes/restSearch` answers `{"response":{"Attribute":[…]}}`.
                    _ => {
                        return Err(FormatError::Shape {
                            format: FORMAT,
                            what: "\"response\" is not a list of events".into(),
                        });
                    }
                }
            } else {
                vec![Value::Object(map)]
            }
        }
        Value::Array(list) => list,
        _ => {
            return Err(FormatError::Shape {
                format: FORMAT,
                what: "body is neither an object nor a list".into(),
            });
        }
    };
    let mut out = MispEvents {
        event_count: containers.len(),
        ..MispEvents::default()
    };
    for (n, container) in containers.into_iter().enumerate() {
        let at = format!("event {}", n + 1);
        let Value::Object(mut map) = container else {
            out.rejected
                .push(Rejected::new(at, "event is not an object"));
            continue;
        };
        let event = map.remove("Event").unwrap_or(Value::Object(map));
        let raw: RawEvent = match serde_json::from_value(event) {
            Ok(raw) => raw,
            Err(e) => {
                out.rejected.push(Rejected::new(
                    at,
                    format!("bad event: {}", truncate(&e.to_string(), 120)),
                ));
                continue;
            }
        };
        if let Some(ts) = raw.timestamp {
            out.max_timestamp = Some(out.max_timestamp.map_or(ts, |m| m.max(ts)));
        }
        match convert_event(raw, &mut out) {
            Ok(Some(record)) => out.records.push(record),
            Ok(None) => {}
            Err(reason) => out.rejected.push(Rejected::new(at, reason)),
        }
    }
    keep_withdrawn(&mut out);
    Ok(out)
}

/// Drops retractions of indicators the body also reports as active (an
/// attribute deleted in one event and present in another, the same value
/// with and without `to_ids`), and repeats.
fn keep_withdrawn(out: &mut MispEvents) {
    let active = std::mem::take(&mut out.reported);
    let mut unique = std::collections::HashSet::new();
    out.retractions.retain(|r| {
        !active.contains(&r.indicator) && unique.insert((r.indicator.clone(), r.reason))
    });
}

/// One event → its item; `None` for a deleted event, whose indicators are
/// retracted instead.
fn convert_event(raw: RawEvent, out: &mut MispEvents) -> Result<Option<ItemRecord>, String> {
    let uuid = raw
        .uuid
        .filter(|u| !u.trim().is_empty())
        .ok_or("missing uuid")?;
    let info = raw.info.unwrap_or_default();
    let event_time = raw
        .timestamp
        .and_then(dates::from_epoch)
        .or_else(|| raw.date.as_deref().and_then(dates::date));
    let published_at = raw
        .publish_timestamp
        .filter(|t| *t > 0)
        .and_then(dates::from_epoch)
        .or_else(|| raw.date.as_deref().and_then(dates::date));
    let tag_names: Vec<String> = raw.tags.iter().filter_map(|t| t.name.clone()).collect();
    let tagged_tlp = tlp_of(&tag_names);
    let mut tags = tag_names.clone();
    let mut entities = Vec::new();
    for galaxy in &raw.galaxies {
        for cluster in &galaxy.clusters {
            if let Some(value) = &cluster.value {
                push_unique(&mut tags, value.clone());
                let kind = cluster.kind.as_deref().or(galaxy.kind.as_deref());
                let synonyms = cluster.meta.as_ref().map_or(&[][..], |m| &m.synonyms[..]);
                entities.extend(kind.and_then(|k| {
                    rexist_core::entity::from_misp_cluster(
                        k,
                        value,
                        synonyms,
                        cluster.description.as_deref(),
                    )
                }));
            }
        }
    }
    let ctx = EventContext {
        uuid: &uuid,
        seen_at: event_time.unwrap_or_else(rexist_core::model::now),
        tlp: tagged_tlp,
        deleted: raw.deleted.0,
    };

    let mut sightings = Vec::new();
    let mut relations = Vec::new();
    // uuid → indicators, for object references (attributes and objects).
    let mut by_uuid: HashMap<String, Vec<Indicator>> = HashMap::new();
    let mut narrative = Vec::new();
    // MISP servers send the count; feeds and exports leave it out.
    let attribute_count = raw.attribute_count.unwrap_or_else(|| {
        let in_objects: usize = raw
            .objects
            .iter()
            .map(|o| {
                o.get("Attribute")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len)
            })
            .sum();
        i64::try_from(raw.attributes.len() + in_objects).unwrap_or(i64::MAX)
    });
    for value in raw.attributes {
        let found = attribute(
            value,
            &ctx,
            false,
            out,
            &mut sightings,
            &mut relations,
            &mut narrative,
        );
        if let Some((attr_uuid, inds)) = found {
            by_uuid.insert(attr_uuid, inds);
        }
    }
    let mut objects = Vec::new();
    for value in raw.objects {
        let object: RawObject = match serde_json::from_value(value) {
            Ok(o) => o,
            Err(e) => {
                out.rejected.push(Rejected::new(
                    format!("event {uuid} object"),
                    format!("bad object: {}", truncate(&e.to_string(), 120)),
                ));
                continue;
            }
        };
        if object.deleted.0 {
            // Its attributes are withdrawn with it.
            *out.skipped.entry("deleted".into()).or_default() += 1;
            for value in object.attributes {
                attribute(
                    value,
                    &ctx,
                    true,
                    out,
                    &mut sightings,
                    &mut relations,
                    &mut narrative,
                );
            }
            continue;
        }
        let mut object_inds: Vec<(Option<String>, Indicator)> = Vec::new();
        for value in object.attributes {
            let relation_name = value
                .get("object_relation")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let found = attribute(
                value,
                &ctx,
                false,
                out,
                &mut sightings,
                &mut relations,
                &mut narrative,
            );
            if let Some((attr_uuid, inds)) = found {
                object_inds.extend(inds.iter().cloned().map(|i| (relation_name.clone(), i)));
                by_uuid.insert(attr_uuid, inds);
            }
        }
        // A `domain-ip` object states that its domain resolved to its addresses.
        if object.name.as_deref() == Some("domain-ip") {
            let seen_at = object
                .timestamp
                .and_then(dates::from_epoch)
                .unwrap_or(ctx.seen_at);
            let (domains, ips): (Vec<_>, Vec<_>) = object_inds
                .iter()
                .map(|(_, i)| i)
                .filter(|i| is_domain_or_ip(i))
                .partition(|i| i.kind() == IndicatorType::Domain);
            for d in &domains {
                for ip in &ips {
                    relations.push(relation(d, ip, "resolves-to", seen_at));
                }
            }
        }
        if let Some(object_uuid) = &object.uuid {
            by_uuid.insert(
                object_uuid.clone(),
                object_inds.iter().map(|(_, i)| i.clone()).collect(),
            );
        }
        objects.push((object.uuid, object.timestamp, object.references));
    }
    for (object_uuid, object_ts, references) in objects {
        let Some(object_uuid) = object_uuid else {
            continue;
        };
        let Some(from) = by_uuid.get(&object_uuid) else {
            continue;
        };
        for reference in references {
            let (Some(target), Some(kind)) = (&reference.referenced_uuid, &reference.relationship)
            else {
                continue;
            };
            let Some(to) = by_uuid.get(target) else {
                continue;
            };
            let seen_at = reference
                .timestamp
                .or(object_ts)
                .and_then(dates::from_epoch)
                .unwrap_or(ctx.seen_at);
            let kind = kind.trim().to_lowercase();
            relations.extend(
                from.iter()
                    .flat_map(|f| to.iter().map(move |t| (f, t)))
                    .filter(|(f, t)| f != t)
                    .take(MAX_RELATIONS_PER_REFERENCE)
                    .map(|(f, t)| relation(f, t, &kind, seen_at)),
            );
        }
    }

    if ctx.deleted {
        *out.skipped.entry("deleted event".into()).or_default() += 1;
        return Ok(None);
    }
    dedupe(&mut sightings, &mut relations);
    let org = raw.org.and_then(|o| o.name);
    let orgc = raw.orgc.and_then(|o| o.name);
    let body = summary(&SummaryParts {
        info: &info,
        orgc: orgc.as_deref(),
        date: raw.date.as_deref(),
        threat_level: raw.threat_level_id.and_then(threat_level),
        analysis: raw.analysis.and_then(analysis),
        tags: &tags,
        indicators: sightings.len(),
        narrative: &narrative,
    });
    let extra = json!({
        "misp_id": raw.id,
        "org": org,
        "orgc": orgc,
        "date": raw.date,
        "threat_level_id": raw.threat_level_id,
        "threat_level": raw.threat_level_id.and_then(threat_level),
        "analysis_id": raw.analysis,
        "analysis": raw.analysis.and_then(analysis),
        "published": raw.published.0,
        "timestamp": raw.timestamp,
        "publish_timestamp": raw.publish_timestamp,
        "attribute_count": attribute_count,
        "entities": rexist_core::entity::to_extra(&entities),
    });
    Ok(Some(ItemRecord {
        item: NewItem {
            kind: ItemKind::Event,
            external_id: uuid,
            title: info,
            body,
            url: None,
            lang: None,
            published_at,
            tlp: tagged_tlp.unwrap_or_default(),
            tags,
            extra,
        },
        sightings,
        relations,
        // MISP states its indicators; extracting from the narrative would turn
        // reference links and prose into low-quality sightings.
        extract: false,
    }))
}

struct EventContext<'a> {
    uuid: &'a str,
    seen_at: OffsetDateTime,
    tlp: Option<Tlp>,
    /// The event is deleted: every attribute of it is withdrawn.
    deleted: bool,
}

/// Converts one attribute into sightings, or into retractions when it is
/// withdrawn (deleted itself, or in a deleted object or event: `Deleted`;
/// `to_ids` off: `FalsePositive`). Returns its uuid and indicators when it
/// has both and is not deleted (object references may point at it).
#[allow(clippy::too_many_arguments)] // the event's collections, each filled here
fn attribute(
    value: Value,
    ctx: &EventContext<'_>,
    in_deleted_object: bool,
    out: &mut MispEvents,
    sightings: &mut Vec<NewSighting>,
    relations: &mut Vec<NewRelation>,
    narrative: &mut Vec<String>,
) -> Option<(String, Vec<Indicator>)> {
    let attr: RawAttribute = match serde_json::from_value(value) {
        Ok(a) => a,
        Err(e) => {
            out.rejected.push(Rejected::new(
                format!("event {} attribute", ctx.uuid),
                format!("bad attribute: {}", truncate(&e.to_string(), 120)),
            ));
            return None;
        }
    };
    let at = || {
        format!(
            "event {} attribute {}",
            ctx.uuid,
            attr.uuid.as_deref().unwrap_or("?")
        )
    };
    if attr.deleted.0 {
        *out.skipped.entry("deleted".into()).or_default() += 1;
    }
    let deleted = attr.deleted.0 || in_deleted_object || ctx.deleted;
    let withdrawn = if deleted {
        Some(RetractReason::Deleted)
    } else if attr.to_ids.is_some_and(|f| !f.0) {
        Some(RetractReason::FalsePositive)
    } else {
        None
    };
    let kind = attr.kind.as_deref().unwrap_or("").trim();
    let raw_value = attr.value.as_deref().unwrap_or("");
    if !deleted && matches!(kind, "text" | "comment") && !raw_value.trim().is_empty() {
        narrative.push(raw_value.trim().to_owned());
    }
    let Some(targets) = map_type(kind) else {
        if !deleted {
            *out.skipped.entry(format!("type {kind}")).or_default() += 1;
        }
        return None;
    };
    let parts: Vec<&str> = if kind.contains('|') {
        raw_value.splitn(2, '|').collect()
    } else {
        vec![raw_value]
    };
    let seen_at = attr
        .timestamp
        .and_then(dates::from_epoch)
        .unwrap_or(ctx.seen_at);
    let attr_tags: Vec<String> = attr.tags.iter().filter_map(|t| t.name.clone()).collect();
    let tlp = tlp_of(&attr_tags).or(ctx.tlp);
    let mut labels = Vec::new();
    if let Some(category) = attr.category.as_deref().filter(|c| !c.is_empty()) {
        labels.push(category.to_owned());
    }
    for tag in &attr_tags {
        if !tag.to_ascii_lowercase().starts_with("tlp:") {
            push_unique(&mut labels, tag.clone());
        }
    }
    let mut inds = Vec::new();
    for (target, part) in targets.iter().zip(parts) {
        let Some(target) = target else { continue };
        let part = part.trim();
        let parsed = match target {
            Target::Ip => parse_ip(part),
            Target::Uri => {
                let Ok(i) = parse_network(IndicatorType::Url, part) else {
                    // A `uri` is often only a path (`/gate.php`): no indicator.
                    if !deleted {
                        *out.skipped
                            .entry("type uri (not absolute)".into())
                            .or_default() += 1;
                    }
                    continue;
                };
                Ok(i)
            }
            Target::Type(t) => parse_network(*t, part),
        };
        match parsed {
            Ok(ind) => inds.push(ind),
            // A value that was never usable withdraws nothing.
            Err(_) if deleted => {}
            Err(reason) => out.rejected.push(Rejected::new(at(), reason)),
        }
    }
    if deleted {
        out.retractions
            .extend(inds.into_iter().map(|indicator| Retraction {
                indicator,
                reason: RetractReason::Deleted,
                at: seen_at,
            }));
        return None;
    }
    // `domain|ip` states a resolution, like a `domain-ip` object.
    if kind == "domain|ip" {
        if let [domain, ip] = inds.as_slice() {
            relations.push(relation(domain, ip, "resolves-to", seen_at));
        }
    }
    // `to_ids` off: the attribute is kept (a low-confidence sighting, as
    // context) and withdrawn from the active set, so a later version that
    // turns `to_ids` off retires what an earlier one reported.
    if let Some(reason) = withdrawn {
        out.retractions.extend(inds.iter().map(|i| Retraction {
            indicator: i.clone(),
            reason,
            at: seen_at,
        }));
    } else {
        out.reported.extend(inds.iter().cloned());
    }
    for ind in &inds {
        let mut s = NewSighting::new(ind.clone(), seen_at);
        s.confidence = Some(if attr.to_ids.is_some_and(|f| f.0) {
            CONFIDENCE_IDS
        } else {
            CONFIDENCE_CONTEXT
        });
        s.tlp = tlp;
        s.labels.clone_from(&labels);
        sightings.push(s);
    }
    let uuid = attr.uuid?;
    (!inds.is_empty()).then_some((uuid, inds))
}

#[derive(Debug, Clone, Copy)]
enum Target {
    /// An address of either family, or a network (`ip-src` `198.51.100.0/24`).
    Ip,
    /// A URL, skipped when it is only a path.
    Uri,
    Type(IndicatorType),
}

/// What each part of a MISP attribute type becomes; `None` for an
/// unmodelled type, `[Some, None]` for a composite whose second part is not an
/// indicator (`ip-dst|port`), `[None, Some]` for `filename|md5`.
fn map_type(kind: &str) -> Option<[Option<Target>; 2]> {
    use IndicatorType as T;
    let one = |t: Target| Some([Some(t), None]);
    let hash = |name: &str| match name {
        "md5" => Some(T::Md5),
        "sha1" => Some(T::Sha1),
        "sha256" => Some(T::Sha256),
        "sha512" => Some(T::Sha512),
        _ => None,
    };
    match kind {
        "ip-src" | "ip-dst" | "ip-src|port" | "ip-dst|port" => one(Target::Ip),
        "domain" | "hostname" | "hostname|port" => one(Target::Type(T::Domain)),
        "domain|ip" => Some([Some(Target::Type(T::Domain)), Some(Target::Ip)]),
        "url" => one(Target::Type(T::Url)),
        "uri" => one(Target::Uri),
        "email"
        | "email-src"
        | "email-dst"
        | "email-reply-to"
        | "whois-registrant-email"
        | "dns-soa-email"
        | "target-email" => one(Target::Type(T::Email)),
        "vulnerability" => one(Target::Type(T::Cve)),
        "AS" => one(Target::Type(T::Asn)),
        "btc" => one(Target::Type(T::Btc)),
        "malware-sample" => Some([None, Some(Target::Type(T::Md5))]),
        _ => {
            if let Some(t) = hash(kind) {
                return one(Target::Type(t));
            }
            let h = kind.strip_prefix("filename|").and_then(hash)?;
            Some([None, Some(Target::Type(h))])
        }
    }
}

/// Parses an address or network value of `ip-src`/`ip-dst`.
fn parse_ip(raw: &str) -> Result<Indicator, String> {
    let raw = refang(raw);
    let raw = raw.trim();
    let kind = if raw.contains('/') {
        IndicatorType::Cidr
    } else if raw.contains(':') {
        IndicatorType::Ipv6
    } else {
        IndicatorType::Ipv4
    };
    Indicator::parse(kind, raw).map_err(|e| e.reason())
}

/// Parses `raw` as `kind`, refanging network values first: OSINT events
/// carry defanged URLs (`hxxp://a[.]b`, see the restSearch page 2 fixture).
fn parse_network(kind: IndicatorType, raw: &str) -> Result<Indicator, String> {
    let value = match kind {
        IndicatorType::Url | IndicatorType::Domain | IndicatorType::Email => refang(raw),
        _ => raw.to_owned(),
    };
    Indicator::parse(kind, &value).map_err(|e| e.reason())
}

/// Undoes the usual defanging of one whole value (`hxxp://a[.]b` →
/// `http://a.b`). A value is a single indicator, so plain replacement is
/// safe here, unlike in free text.
fn refang(raw: &str) -> String {
    let mut v = raw.trim().to_owned();
    for (from, to) in [
        ("[.]", "."),
        ("(.)", "."),
        ("{.}", "."),
        ("[dot]", "."),
        ("[:]", ":"),
        ("[://]", "://"),
        ("[@]", "@"),
        ("[at]", "@"),
    ] {
        v = v.replace(from, to);
    }
    for (from, to) in [
        ("hxxps://", "https://"),
        ("hxxp://", "http://"),
        ("fxp://", "ftp://"),
    ] {
        if v.get(..from.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(from))
        {
            v = format!("{to}{}", v.get(from.len()..).unwrap_or(""));
        }
    }
    v
}

fn is_domain_or_ip(i: &Indicator) -> bool {
    matches!(
        i.kind(),
        IndicatorType::Domain | IndicatorType::Ipv4 | IndicatorType::Ipv6
    )
}

fn relation(from: &Indicator, to: &Indicator, kind: &str, seen_at: OffsetDateTime) -> NewRelation {
    NewRelation {
        from: from.clone(),
        to: to.clone(),
        kind: kind.to_owned(),
        seen_at,
    }
}

/// One sighting per indicator per event (the same domain may sit in two
/// objects): the first keeps its place and takes the highest confidence and
/// every label; relations are kept once each.
fn dedupe(sightings: &mut Vec<NewSighting>, relations: &mut Vec<NewRelation>) {
    let mut seen: HashMap<Indicator, usize> = HashMap::new();
    let mut kept: Vec<NewSighting> = Vec::with_capacity(sightings.len());
    for s in sightings.drain(..) {
        if let Some(first) = seen.get(&s.indicator).and_then(|i| kept.get_mut(*i)) {
            first.confidence = first.confidence.max(s.confidence);
            for label in s.labels {
                push_unique(&mut first.labels, label);
            }
        } else {
            seen.insert(s.indicator.clone(), kept.len());
            kept.push(s);
        }
    }
    *sightings = kept;
    let mut unique = std::collections::HashSet::new();
    relations.retain(|r| unique.insert((r.from.clone(), r.to.clone(), r.kind.clone())));
}

/// The most restrictive `tlp:*` tag, if any (an event may carry several).
fn tlp_of(tags: &[String]) -> Option<Tlp> {
    tags.iter()
        .filter(|t| t.to_ascii_lowercase().starts_with("tlp:"))
        .filter_map(|t| t.parse::<Tlp>().ok())
        .max()
}

fn push_unique(list: &mut Vec<String>, value: String) {
    if !list.contains(&value) {
        list.push(value);
    }
}

fn threat_level(id: i64) -> Option<&'static str> {
    match id {
        1 => Some("high"),
        2 => Some("medium"),
        3 => Some("low"),
        4 => Some("undefined"),
        _ => None,
    }
}

fn analysis(id: i64) -> Option<&'static str> {
    match id {
        0 => Some("initial"),
        1 => Some("ongoing"),
        2 => Some("complete"),
        _ => None,
    }
}

struct SummaryParts<'a> {
    info: &'a str,
    orgc: Option<&'a str>,
    date: Option<&'a str>,
    threat_level: Option<&'a str>,
    analysis: Option<&'a str>,
    tags: &'a [String],
    indicators: usize,
    narrative: &'a [String],
}

/// A readable body: what the event is, who made it, how serious, and the
/// free text its `text`/`comment` attributes carry.
fn summary(p: &SummaryParts<'_>) -> String {
    let mut lines = vec![p.info.to_owned(), String::new()];
    if let Some(orgc) = p.orgc {
        lines.push(format!("Creator: {orgc}"));
    }
    if let Some(date) = p.date {
        lines.push(format!("Date: {date}"));
    }
    if let Some(level) = p.threat_level {
        lines.push(format!("Threat level: {level}"));
    }
    if let Some(analysis) = p.analysis {
        lines.push(format!("Analysis: {analysis}"));
    }
    if !p.tags.is_empty() {
        lines.push(format!("Tags: {}", p.tags.join(", ")));
    }
    lines.push(format!("Indicators: {}", p.indicators));
    for text in p.narrative {
        lines.push(String::new());
        lines.push(text.replace("\r\n", "\n"));
    }
    lines.join("\n")
}

// --- wire shapes -----------------------------------------------------------

#[derive(Debug, Deserialize)]
struct RawEvent {
    #[serde(default, deserialize_with = "de_text")]
    id: Option<String>,
    #[serde(default, deserialize_with = "de_text")]
    uuid: Option<String>,
    #[serde(default, deserialize_with = "de_text")]
    info: Option<String>,
    #[serde(default, deserialize_with = "de_text")]
    date: Option<String>,
    #[serde(default, deserialize_with = "de_num")]
    timestamp: Option<i64>,
    #[serde(default, deserialize_with = "de_num")]
    publish_timestamp: Option<i64>,
    #[serde(default)]
    published: Flag,
    #[serde(default)]
    deleted: Flag,
    #[serde(default, deserialize_with = "de_num")]
    threat_level_id: Option<i64>,
    #[serde(default, deserialize_with = "de_num")]
    analysis: Option<i64>,
    #[serde(default, deserialize_with = "de_num")]
    attribute_count: Option<i64>,
    #[serde(default, rename = "Org", deserialize_with = "de_opt_lenient")]
    org: Option<RawOrg>,
    #[serde(default, rename = "Orgc", deserialize_with = "de_opt_lenient")]
    orgc: Option<RawOrg>,
    #[serde(default, rename = "Tag", deserialize_with = "de_list")]
    tags: Vec<RawTag>,
    #[serde(default, rename = "Galaxy", deserialize_with = "de_list")]
    galaxies: Vec<RawGalaxy>,
    #[serde(default, rename = "Attribute", deserialize_with = "de_list")]
    attributes: Vec<Value>,
    #[serde(default, rename = "Object", deserialize_with = "de_list")]
    objects: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct RawOrg {
    #[serde(default, deserialize_with = "de_text")]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawTag {
    #[serde(default, deserialize_with = "de_text")]
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawGalaxy {
    #[serde(default, rename = "type", deserialize_with = "de_text")]
    kind: Option<String>,
    #[serde(default, rename = "GalaxyCluster", deserialize_with = "de_list")]
    clusters: Vec<RawCluster>,
}

#[derive(Debug, Deserialize)]
struct RawCluster {
    #[serde(default, deserialize_with = "de_text")]
    value: Option<String>,
    #[serde(default, rename = "type", deserialize_with = "de_text")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "de_text")]
    description: Option<String>,
    #[serde(default)]
    meta: Option<RawClusterMeta>,
}

/// A cluster's `meta`; only `synonyms` is read, and a malformed `meta`
/// (MISP instances differ) is ignored rather than failing the event.
#[derive(Debug, Default)]
struct RawClusterMeta {
    synonyms: Vec<String>,
}

impl<'de> Deserialize<'de> for RawClusterMeta {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        let synonyms = v
            .get("synonyms")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        Ok(Self { synonyms })
    }
}

#[derive(Debug, Deserialize)]
struct RawAttribute {
    #[serde(default, deserialize_with = "de_text")]
    uuid: Option<String>,
    #[serde(default, rename = "type", deserialize_with = "de_text")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "de_text")]
    category: Option<String>,
    #[serde(default, deserialize_with = "de_text")]
    value: Option<String>,
    /// `None` when the attribute does not say (or says null).
    #[serde(default)]
    to_ids: Option<Flag>,
    #[serde(default)]
    deleted: Flag,
    #[serde(default, deserialize_with = "de_num")]
    timestamp: Option<i64>,
    #[serde(default, rename = "Tag", deserialize_with = "de_list")]
    tags: Vec<RawTag>,
}

#[derive(Debug, Deserialize)]
struct RawObject {
    #[serde(default, deserialize_with = "de_text")]
    uuid: Option<String>,
    #[serde(default, deserialize_with = "de_text")]
    name: Option<String>,
    #[serde(default, deserialize_with = "de_num")]
    timestamp: Option<i64>,
    #[serde(default)]
    deleted: Flag,
    #[serde(default, rename = "Attribute", deserialize_with = "de_list")]
    attributes: Vec<Value>,
    #[serde(default, rename = "ObjectReference", deserialize_with = "de_list")]
    references: Vec<RawReference>,
}

#[derive(Debug, Deserialize)]
struct RawReference {
    #[serde(default, deserialize_with = "de_text")]
    referenced_uuid: Option<String>,
    #[serde(default, rename = "relationship_type", deserialize_with = "de_text")]
    relationship: Option<String>,
    #[serde(default, deserialize_with = "de_num")]
    timestamp: Option<i64>,
}

/// A MISP flag: `true`/`false`, `0`/`1`, `"0"`/`"1"`, or null (false).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Flag(bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Flag(match Value::deserialize(d)? {
            Value::Bool(b) => b,
            Value::Number(n) => n.as_i64().is_some_and(|n| n != 0),
            Value::String(s) => matches!(s.trim(), "1" | "true" | "True"),
            _ => false,
        }))
    }
}

/// A number that may be a JSON string (`"1513948642"`) or number (§1.3);
/// empty strings, null and anything else are `None`.
fn de_num<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// Text that may arrive as a string, a number or a boolean; null is `None`.
fn de_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

/// A list that may be `null` or missing; entries of the wrong shape are
/// dropped rather than failing the event.
fn de_list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect(),
        _ => Vec::new(),
    })
}

/// An optional object that may be of the wrong shape (then `None`).
fn de_opt_lenient<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    Ok(serde_json::from_value(Value::deserialize(d)?).ok())
}

// --- feed manifest and hashes ------------------------------------------------

/// One event listed in a feed's `manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestEntry {
    /// Event uuid: the key, and the name of `<uuid>.json`.
    pub uuid: String,
    /// Event title.
    pub info: String,
    /// Last change, epoch seconds: fetch the event when it is newer than the
    /// stored one (§1.4 client algorithm).
    pub timestamp: i64,
    /// Event date, `YYYY-MM-DD`.
    pub date: Option<String>,
    /// Creator organisation name.
    pub orgc: Option<String>,
    /// Tag names.
    pub tags: Vec<String>,
    /// `integrity:sha256`, hex digest of the event file, when given.
    pub sha256: Option<String>,
}

/// A parsed `manifest.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// Usable entries, ordered by uuid.
    pub entries: Vec<ManifestEntry>,
    /// Entries without a usable `timestamp` (`at` = `manifest <uuid>`).
    pub rejected: Vec<Rejected>,
}

impl Manifest {
    /// Entries changed after `since` (epoch seconds): the event files to fetch.
    pub fn changed_since(&self, since: i64) -> impl Iterator<Item = &ManifestEntry> {
        self.entries.iter().filter(move |e| e.timestamp > since)
    }

    /// Highest timestamp listed: the cursor after fetching every entry.
    pub fn max_timestamp(&self) -> Option<i64> {
        self.entries.iter().map(|e| e.timestamp).max()
    }
}

#[derive(Debug, Deserialize)]
struct RawManifestEntry {
    #[serde(default, deserialize_with = "de_text")]
    info: Option<String>,
    #[serde(default, deserialize_with = "de_num")]
    timestamp: Option<i64>,
    #[serde(default, deserialize_with = "de_text")]
    date: Option<String>,
    #[serde(default, rename = "Orgc", deserialize_with = "de_opt_lenient")]
    orgc: Option<RawOrg>,
    #[serde(default, rename = "Tag", deserialize_with = "de_list")]
    tags: Vec<RawTag>,
    #[serde(default, rename = "integrity:sha256", deserialize_with = "de_text")]
    sha256: Option<String>,
}

/// Parses a MISP feed `manifest.json` (uuid → {timestamp, info, …}).
pub fn parse_manifest(body: &[u8]) -> Result<Manifest, FormatError> {
    const FORMAT: &str = "misp manifest";
    let root: BTreeMap<String, Value> =
        serde_json::from_slice(body).map_err(|e| FormatError::json(FORMAT, &e))?;
    let mut out = Manifest::default();
    for (uuid, value) in root {
        let at = format!("manifest {}", truncate(&uuid, 40));
        let raw: RawManifestEntry = match serde_json::from_value(value) {
            Ok(r) => r,
            Err(e) => {
                out.rejected.push(Rejected::new(
                    at,
                    format!("bad entry: {}", truncate(&e.to_string(), 120)),
                ));
                continue;
            }
        };
        let Some(timestamp) = raw.timestamp else {
            out.rejected.push(Rejected::new(at, "missing timestamp"));
            continue;
        };
        out.entries.push(ManifestEntry {
            uuid,
            info: raw.info.unwrap_or_default(),
            timestamp,
            date: raw.date,
            orgc: raw.orgc.and_then(|o| o.name),
            tags: raw.tags.into_iter().filter_map(|t| t.name).collect(),
            sha256: raw.sha256,
        });
    }
    Ok(out)
}

/// One line of a feed's `hashes.csv`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedHash {
    /// MD5 (lower-case hex) of one attribute value (or one part of a composite).
    pub value_md5: String,
    /// The event holding it.
    pub event_uuid: String,
}

/// A parsed `hashes.csv`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedHashes {
    /// Usable lines.
    pub hashes: Vec<FeedHash>,
    /// Bad lines (`at` = `line N`).
    pub rejected: Vec<Rejected>,
}

/// Parses a MISP feed `hashes.csv` (`<md5 of value>,<event uuid>` per line).
/// Never fails: every line stands alone, and a bad one is rejected.
pub fn parse_hashes(body: &[u8]) -> FeedHashes {
    let mut out = FeedHashes::default();
    for (n, line) in body.split(|b| *b == b'\n').enumerate() {
        let at = || format!("line {}", n + 1);
        let Ok(line) = std::str::from_utf8(line) else {
            out.rejected.push(Rejected::new(at(), "not utf-8"));
            continue;
        };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some((md5, uuid)) = line.split_once(',') else {
            out.rejected.push(Rejected::new(at(), "expected md5,uuid"));
            continue;
        };
        let md5 = md5.trim().trim_matches('"');
        let uuid = uuid.trim().trim_matches('"');
        if md5.len() != 32 || !md5.bytes().all(|b| b.is_ascii_hexdigit()) {
            out.rejected.push(Rejected::new(at(), "invalid md5"));
            continue;
        }
        if uuid.is_empty() || uuid.contains(',') {
            out.rejected.push(Rejected::new(at(), "invalid event uuid"));
            continue;
        }
        out.hashes.push(FeedHash {
            value_md5: md5.to_ascii_lowercase(),
            event_uuid: uuid.to_owned(),
        });
    }
    out
}

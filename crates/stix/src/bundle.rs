//! STIX 2.1 objects, from a bundle, a TAXII 2.1 envelope or a bare array, to
//! rexist records.
//!
//! - `indicator` → an `Event` item (`external_id` = the STIX id) whose
//!   sightings are the indicators its pattern names ([`crate::indicators`]),
//!   each valid until the indicator's `valid_until`; a pattern that is not
//!   exactly "any of these indicators" (or not a STIX pattern, or not
//!   parseable) is kept verbatim in the body and in `extra`. A `revoked`
//!   indicator's item is kept, but its indicators are retractions
//!   (`Revoked`, at its `modified`) instead of sightings; a retraction of an
//!   indicator the same page reports as active is dropped.
//! - `report`, `malware`, `threat-actor`, `intrusion-set`, `campaign`,
//!   `attack-pattern`, `tool`, `infrastructure`, `grouping` → `Event` items;
//!   `vulnerability` → a `Vuln` item with its CVE sighting.
//! - SCOs `ipv4-addr`, `ipv6-addr`, `domain-name`, `url`, `email-addr`,
//!   `autonomous-system`, `file` (MD5/SHA-1/SHA-256/SHA-512) → sightings.
//! - `relationship` → a relation when both ends are in the page and stand for
//!   one indicator each; otherwise noted in `extra.relationships` of the
//!   items at its ends.
//! - `object_marking_refs` → TLP through the TLP 1.0 / 2.0 marking ids (and
//!   TLP marking definitions in the page); no marking leaves sightings'
//!   `tlp` `None` and items at `Tlp::default()`, with `extra.tlp_marked`.
//!
//! Items keep the whole object (less `name` and `description`) in `extra`.

use std::collections::HashMap;

use rexist_core::entity::EntityMention;
use rexist_core::{
    Indicator, IndicatorType, ItemKind, ItemRecord, NewItem, NewRelation, NewSighting, Record,
    Rejected, RetractReason, Retraction, Tlp,
};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::StixError;
use crate::pattern::{self, hash_kind};

/// One page of STIX objects turned into records.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// Items, sightings and relations, in page order (relations last).
    pub records: Vec<Record>,
    /// Objects that could not be used (`at` = the STIX id or `object 3`).
    pub rejected: Vec<Rejected>,
    /// Objects read but not turned into records (identities, marking
    /// definitions, unsupported types, relationships with no end here).
    pub ignored: Vec<Rejected>,
    /// Indicators withdrawn by revoked indicator objects (`Revoked`), less
    /// any the page also reports as active.
    pub retractions: Vec<Retraction>,
    /// TAXII envelope `more` (false for bundles and arrays).
    pub more: bool,
    /// TAXII envelope `next` token.
    pub next: Option<String>,
    /// Latest `date_added` in the page (manifest entries carry it; object
    /// envelopes do not: use the `X-TAXII-Date-Added-Last` header).
    pub newest_added: Option<OffsetDateTime>,
    /// Latest `modified` (else `created`) of the page's objects.
    pub newest_modified: Option<OffsetDateTime>,
}

/// The TLP of a well-known marking-definition id (TLP 1.0 and TLP 2.0).
pub fn tlp_of_marking(id: &str) -> Option<Tlp> {
    Some(match id.strip_prefix("marking-definition--")? {
        "613f2e26-407d-48c7-9eca-b8e91df99dc9" | "94868c89-83c2-464b-929b-a1a8aa3c8487" => {
            Tlp::Clear
        }
        "34098fce-860f-48ae-8e50-ebd3cc5e41da" | "bab4a63c-aed9-4cf5-a766-dfca5abac2bb" => {
            Tlp::Green
        }
        "f88d31f6-486f-44da-b317-01333bde0b82" | "55d920b0-5e8b-4f79-9ee9-91f868d9b421" => {
            Tlp::Amber
        }
        "939a9414-2ddd-4d32-a0cd-375ea402b003" => Tlp::AmberStrict,
        "5e57c739-391a-4eb3-b6be-7d15ca92d5ed" | "e828b379-4e03-4974-9ac4-e53a884c97c1" => Tlp::Red,
        _ => return None,
    })
}

fn tlp_of_name(name: &str) -> Option<Tlp> {
    let n = name.trim().to_ascii_lowercase();
    Some(match n.strip_prefix("tlp:").unwrap_or(&n) {
        "white" | "clear" => Tlp::Clear,
        "green" => Tlp::Green,
        "amber" => Tlp::Amber,
        "amber+strict" => Tlp::AmberStrict,
        "red" => Tlp::Red,
        _ => return None,
    })
}

fn rank(t: Tlp) -> u8 {
    match t {
        Tlp::Clear => 0,
        Tlp::Green => 1,
        Tlp::Amber => 2,
        Tlp::AmberStrict => 3,
        Tlp::Red => 4,
    }
}

/// A TLP marking definition in the page (TLP 1.0 `definition.tlp`, TLP 2.0
/// extension `tlp_2_0`, or a `TLP:…` name).
fn page_marking(obj: &Map<String, Value>) -> Option<Tlp> {
    if let Some(t) = obj
        .get("definition")
        .and_then(|d| d.get("tlp"))
        .and_then(Value::as_str)
    {
        return tlp_of_name(t);
    }
    let ext = obj.get("extensions").and_then(Value::as_object)?;
    let tlp2 = ext
        .values()
        .find_map(|e| e.get("tlp_2_0").and_then(Value::as_str));
    tlp2.and_then(tlp_of_name).or_else(|| {
        obj.get("name")
            .and_then(Value::as_str)
            .and_then(tlp_of_name)
    })
}

fn timestamp(obj: &Map<String, Value>, key: &str) -> Option<OffsetDateTime> {
    obj.get(key)
        .and_then(Value::as_str)
        .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
}

fn strings(obj: &Map<String, Value>, key: &str) -> Vec<String> {
    obj.get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn text(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Per-page context: marking ids to TLP.
struct Ctx {
    markings: HashMap<String, Tlp>,
}

impl Ctx {
    fn tlp(&self, obj: &Map<String, Value>) -> Option<Tlp> {
        strings(obj, "object_marking_refs")
            .iter()
            .filter_map(|id| {
                self.markings
                    .get(id)
                    .copied()
                    .or_else(|| tlp_of_marking(id))
            })
            .max_by_key(|t| rank(*t))
    }
}

/// What one object became.
enum Out {
    Item(Box<ItemRecord>, Vec<Indicator>),
    Sightings(Vec<NewSighting>),
    Relationship(Map<String, Value>),
    Ignored(String),
}

/// Parse a STIX bundle, a TAXII 2.1 envelope or a bare array of objects.
pub fn parse_objects(json: &[u8]) -> Result<Parsed, StixError> {
    let value: Value = serde_json::from_slice(json)?;
    let mut more = false;
    let mut next = None;
    let objects = match value {
        Value::Array(a) => a,
        Value::Object(mut m) => {
            let is_bundle = m.get("type").and_then(Value::as_str) == Some("bundle");
            // An empty envelope may be `{}` (TAXII 2.1 §3.7; medallion sends it).
            if !is_bundle && (m.is_empty() || m.contains_key("objects") || m.contains_key("more")) {
                more = m.get("more").and_then(Value::as_bool).unwrap_or(false);
                next = match m.get("next") {
                    Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                    Some(Value::Number(n)) => Some(n.to_string()),
                    _ => None,
                };
            } else if !is_bundle {
                return Err(StixError::Shape(
                    "object without type bundle, objects or more".into(),
                ));
            }
            match m.remove("objects") {
                Some(Value::Array(a)) => a,
                None | Some(Value::Null) => Vec::new(),
                Some(_) => return Err(StixError::Shape("objects is not an array".into())),
            }
        }
        _ => return Err(StixError::Shape("not an object or array".into())),
    };

    let mut ctx = Ctx {
        markings: HashMap::new(),
    };
    for o in &objects {
        if let Some(obj) = o.as_object()
            && obj.get("type").and_then(Value::as_str) == Some("marking-definition")
            && let (Some(id), Some(t)) = (obj.get("id").and_then(Value::as_str), page_marking(obj))
        {
            ctx.markings.insert(id.to_owned(), t);
        }
    }

    let mut parsed = Parsed {
        records: Vec::new(),
        rejected: Vec::new(),
        ignored: Vec::new(),
        retractions: Vec::new(),
        more,
        next,
        newest_added: None,
        newest_modified: None,
    };
    // STIX id → index of its item in `records`, and the indicators it stands for.
    let mut items: HashMap<String, usize> = HashMap::new();
    let mut stands_for: HashMap<String, Vec<Indicator>> = HashMap::new();
    let mut relationships = Vec::new();

    for (n, o) in objects.into_iter().enumerate() {
        let Value::Object(obj) = o else {
            parsed
                .rejected
                .push(Rejected::new(format!("object {n}"), "not a json object"));
            continue;
        };
        if let Some(t) = timestamp(&obj, "date_added") {
            parsed.newest_added = parsed.newest_added.max(Some(t));
        }
        if let Some(t) = timestamp(&obj, "modified").or_else(|| timestamp(&obj, "created")) {
            parsed.newest_modified = parsed.newest_modified.max(Some(t));
        }
        if !obj.contains_key("type") && obj.contains_key("date_added") {
            let at = obj
                .get("id")
                .and_then(Value::as_str)
                .map_or_else(|| format!("object {n}"), str::to_owned);
            parsed.ignored.push(Rejected::new(at, "manifest entry"));
            continue;
        }
        let (Some(kind), Some(id)) = (
            obj.get("type").and_then(Value::as_str).map(str::to_owned),
            obj.get("id").and_then(Value::as_str).map(str::to_owned),
        ) else {
            let at = obj
                .get("id")
                .and_then(Value::as_str)
                .map_or_else(|| format!("object {n}"), str::to_owned);
            parsed
                .rejected
                .push(Rejected::new(at, "missing type or id"));
            continue;
        };
        if id
            .strip_prefix(kind.as_str())
            .and_then(|r| r.strip_prefix("--"))
            .is_none_or(str::is_empty)
        {
            parsed
                .rejected
                .push(Rejected::new(id, format!("id does not match type {kind}")));
            continue;
        }
        match object(&ctx, &kind, &id, obj, &mut parsed.retractions) {
            Ok(Out::Item(record, inds)) => {
                items.insert(id.clone(), parsed.records.len());
                stands_for.insert(id, inds);
                parsed.records.push(Record::Item(*record));
            }
            Ok(Out::Sightings(s)) => {
                stands_for.insert(id, s.iter().map(|s| s.indicator.clone()).collect());
                parsed.records.extend(s.into_iter().map(Record::Sighting));
            }
            Ok(Out::Relationship(obj)) => relationships.push((id, obj)),
            Ok(Out::Ignored(why)) => parsed.ignored.push(Rejected::new(id, why)),
            Err(why) => parsed.rejected.push(Rejected::new(id, why)),
        }
    }
    for (id, obj) in relationships {
        relationship(&id, &obj, &items, &stands_for, &mut parsed);
    }
    name_entities(&mut parsed);
    keep_withdrawn(&mut parsed);
    Ok(parsed)
}

/// Adds to each item the threat entities of the page it refers to: a
/// report's `object_refs`, an indicator's `indicates` relationship to a
/// malware. (An entity object in another page is not seen here.)
fn name_entities(parsed: &mut Parsed) {
    let mut by_id: HashMap<String, EntityMention> = HashMap::new();
    for record in &parsed.records {
        if let Record::Item(r) = record
            && let Some(m) = r
                .item
                .extra
                .get(rexist_core::entity::EXTRA_KEY)
                .and_then(Value::as_array)
                .and_then(|a| a.first())
                .and_then(|v| serde_json::from_value::<EntityMention>(v.clone()).ok())
        {
            by_id.insert(
                r.item.external_id.clone(),
                EntityMention {
                    is_item: false,
                    ..m
                },
            );
        }
    }
    if by_id.is_empty() {
        return;
    }
    for record in &mut parsed.records {
        let Record::Item(r) = record else { continue };
        let own = r.item.external_id.clone();
        let Some(extra) = r.item.extra.as_object_mut() else {
            continue;
        };
        let mut refs: Vec<&str> = strings_in(extra.get("object_refs"));
        for rel in extra
            .get("relationships")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for end in ["source_ref", "target_ref"] {
                refs.extend(rel.get(end).and_then(Value::as_str));
            }
        }
        let mut named: Vec<EntityMention> = extra
            .get(rexist_core::entity::EXTRA_KEY)
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default();
        let before = named.len();
        for r in refs.into_iter().filter(|r| *r != own) {
            if let Some(m) = by_id.get(r)
                && !named.iter().any(|n| n.kind == m.kind && n.name == m.name)
            {
                named.push(m.clone());
            }
        }
        if named.len() > before {
            extra.insert(
                rexist_core::entity::EXTRA_KEY.into(),
                rexist_core::entity::to_extra(&named),
            );
        }
    }
}

fn strings_in(v: Option<&Value>) -> Vec<&str> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// The object as a threat entity, when its type is one.
fn entity_of(
    kind: &str,
    obj: &Map<String, Value>,
    name: &str,
    body: &str,
) -> Option<EntityMention> {
    let kind: ItemKind = kind.parse().ok().filter(|k: &ItemKind| k.is_entity())?;
    let mut m = EntityMention::named(kind, name)?;
    m.is_item = true;
    m.aliases = strings(obj, "aliases");
    m.aliases.extend(strings(obj, "x_mitre_aliases"));
    m.aliases.retain(|a| a != name);
    m.description = Some(body.trim().to_owned()).filter(|d| !d.is_empty());
    m.attack_id = obj
        .get("external_references")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|r| {
            r.get("source_name")
                .and_then(Value::as_str)
                .is_some_and(|s| s.starts_with("mitre-"))
        })
        .find_map(|r| r.get("external_id").and_then(Value::as_str))
        .filter(|id| rexist_core::attack::is_attack_id(id))
        .map(str::to_owned);
    Some(m)
}

/// Drops retractions of indicators the page also reports as active (another,
/// unrevoked indicator object with the same value), and repeats. An SCO is
/// no such report: it describes an observable and cannot be revoked itself,
/// and a publisher that revokes an indicator (rexist among them) still
/// serves the observable it was based on.
fn keep_withdrawn(parsed: &mut Parsed) {
    let mut active = std::collections::HashSet::new();
    for record in &parsed.records {
        if let Record::Item(r) = record {
            active.extend(r.sightings.iter().map(|s| s.indicator.clone()));
        }
    }
    let mut unique = std::collections::HashSet::new();
    parsed
        .retractions
        .retain(|r| !active.contains(&r.indicator) && unique.insert(r.indicator.clone()));
}

/// A relationship: a relation between two single indicators, else a note in
/// the items at its ends.
fn relationship(
    id: &str,
    obj: &Map<String, Value>,
    items: &HashMap<String, usize>,
    stands_for: &HashMap<String, Vec<Indicator>>,
    parsed: &mut Parsed,
) {
    let (Some(kind), Some(source), Some(target)) = (
        text(obj, "relationship_type"),
        text(obj, "source_ref"),
        text(obj, "target_ref"),
    ) else {
        parsed.rejected.push(Rejected::new(
            id,
            "missing relationship_type, source_ref or target_ref",
        ));
        return;
    };
    let single = |r: &str| match stands_for.get(r).map(Vec::as_slice) {
        Some([one]) => Some(one.clone()),
        _ => None,
    };
    if let (Some(from), Some(to)) = (single(&source), single(&target)) {
        parsed.records.push(Record::Relation(NewRelation {
            from,
            to,
            kind,
            seen_at: seen_at(obj),
        }));
        return;
    }
    let note = json!({
        "id": id,
        "relationship_type": kind,
        "source_ref": source,
        "target_ref": target,
        "description": obj.get("description"),
    });
    let mut noted = false;
    for end in [&source, &target] {
        if let Some(Record::Item(r)) = items.get(end).and_then(|i| parsed.records.get_mut(*i))
            && let Some(extra) = r.item.extra.as_object_mut()
        {
            let list = extra
                .entry("relationships")
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Some(list) = list.as_array_mut() {
                list.push(note.clone());
                noted = true;
            }
        }
    }
    if !noted {
        parsed
            .ignored
            .push(Rejected::new(id, "relationship with no end in the page"));
    }
}

/// `modified`, else `created`, else now (SCOs carry no time).
fn seen_at(obj: &Map<String, Value>) -> OffsetDateTime {
    timestamp(obj, "modified")
        .or_else(|| timestamp(obj, "created"))
        .unwrap_or_else(rexist_core::model::now)
}

const ITEM_TYPES: [&str; 10] = [
    "report",
    "malware",
    "threat-actor",
    "intrusion-set",
    "campaign",
    "attack-pattern",
    "vulnerability",
    "tool",
    "infrastructure",
    "grouping",
];

/// Convert one object; `Err` is the rejection reason. A revoked indicator
/// adds to `retractions`.
fn object(
    ctx: &Ctx,
    kind: &str,
    id: &str,
    obj: Map<String, Value>,
    retractions: &mut Vec<Retraction>,
) -> Result<Out, String> {
    match kind {
        "relationship" => Ok(Out::Relationship(obj)),
        "indicator" => indicator(ctx, id, obj, retractions),
        k if ITEM_TYPES.contains(&k) => Ok(sdo(ctx, k, id, obj)),
        "ipv4-addr" | "ipv6-addr" | "domain-name" | "url" | "email-addr" | "autonomous-system"
        | "file" => sco(ctx, kind, &obj),
        "marking-definition" => Ok(Out::Ignored("marking definition".into())),
        other => Ok(Out::Ignored(format!("unsupported type {other}"))),
    }
}

/// Item fields common to SDOs.
fn item(ctx: &Ctx, kind: &str, id: &str, mut obj: Map<String, Value>) -> NewItem {
    let tlp = ctx.tlp(&obj);
    let title = text(&obj, "name").unwrap_or_else(|| id.to_owned());
    let body = text(&obj, "description").unwrap_or_default();
    let url = obj
        .get("external_references")
        .and_then(Value::as_array)
        .and_then(|refs| {
            refs.iter()
                .find_map(|r| r.get("url").and_then(Value::as_str))
        })
        .map(str::to_owned);
    let mut tags = strings(&obj, "labels");
    for key in [
        "indicator_types",
        "malware_types",
        "report_types",
        "threat_actor_types",
        "tool_types",
        "infrastructure_types",
    ] {
        for t in strings(&obj, key) {
            if !tags.contains(&t) {
                tags.push(t);
            }
        }
    }
    let published_at = timestamp(&obj, "published")
        .or_else(|| timestamp(&obj, "created"))
        .or_else(|| timestamp(&obj, "modified"));
    let lang = text(&obj, "lang");
    if let Some(m) = entity_of(kind, &obj, &title, &body) {
        obj.insert(
            rexist_core::entity::EXTRA_KEY.into(),
            rexist_core::entity::to_extra(&[m]),
        );
    }
    obj.remove("name");
    obj.remove("description");
    obj.insert("tlp_marked".into(), Value::Bool(tlp.is_some()));
    NewItem {
        kind: if kind == "vulnerability" {
            ItemKind::Vuln
        } else {
            ItemKind::Event
        },
        external_id: id.to_owned(),
        title,
        body,
        url,
        lang,
        published_at,
        tlp: tlp.unwrap_or_default(),
        tags,
        extra: Value::Object(obj),
    }
}

fn sighting(
    ctx: &Ctx,
    obj: &Map<String, Value>,
    indicator: Indicator,
    at: OffsetDateTime,
) -> NewSighting {
    let mut s = NewSighting::new(indicator, at);
    s.tlp = ctx.tlp(obj);
    s.confidence = obj
        .get("confidence")
        .and_then(Value::as_u64)
        .filter(|c| *c <= 100)
        .and_then(|c| u8::try_from(c).ok());
    for key in ["indicator_types", "labels"] {
        for l in strings(obj, key) {
            if !s.labels.contains(&l) {
                s.labels.push(l);
            }
        }
    }
    s
}

fn sdo(ctx: &Ctx, kind: &str, id: &str, obj: Map<String, Value>) -> Out {
    let mut sightings = Vec::new();
    if kind == "vulnerability" {
        let at = seen_at(&obj);
        let mut cves: Vec<&str> = obj
            .get("external_references")
            .and_then(Value::as_array)
            .map(|refs| {
                refs.iter()
                    .filter(|r| {
                        r.get("source_name")
                            .and_then(Value::as_str)
                            .is_some_and(|s| s.eq_ignore_ascii_case("cve"))
                    })
                    .filter_map(|r| r.get("external_id").and_then(Value::as_str))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(name) = obj.get("name").and_then(Value::as_str) {
            cves.push(name);
        }
        for c in cves {
            if let Ok(i) = Indicator::parse(IndicatorType::Cve, c)
                && !sightings.iter().any(|s: &NewSighting| s.indicator == i)
            {
                sightings.push(sighting(ctx, &obj, i, at));
            }
        }
    }
    let inds = sightings.iter().map(|s| s.indicator.clone()).collect();
    let record = ItemRecord {
        item: item(ctx, kind, id, obj),
        sightings,
        relations: Vec::new(),
        extract: kind == "report",
    };
    Out::Item(Box::new(record), inds)
}

fn indicator(
    ctx: &Ctx,
    id: &str,
    obj: Map<String, Value>,
    retractions: &mut Vec<Retraction>,
) -> Result<Out, String> {
    let Some(pattern) = obj
        .get("pattern")
        .and_then(Value::as_str)
        .map(str::to_owned)
    else {
        return Err("indicator without pattern".into());
    };
    let at = match obj.get("valid_from") {
        Some(Value::String(s)) => {
            OffsetDateTime::parse(s, &Rfc3339).map_err(|_| "invalid valid_from".to_owned())?
        }
        _ => timestamp(&obj, "modified")
            .or_else(|| timestamp(&obj, "created"))
            .ok_or("indicator without valid_from")?,
    };
    let pattern_type = text(&obj, "pattern_type").unwrap_or_else(|| "stix".into());
    let (reduction, error) = if pattern_type == "stix" {
        match pattern::parse_pattern(&pattern) {
            Ok(p) => (pattern::indicators(&p), None),
            Err(e) => (pattern::Reduction::default(), Some(e.to_string())),
        }
    } else {
        (pattern::Reduction::default(), None)
    };
    let revoked = obj.get("revoked").and_then(Value::as_bool) == Some(true);
    let valid_until = timestamp(&obj, "valid_until");
    let sightings: Vec<NewSighting> = if revoked {
        let at = seen_at(&obj);
        retractions.extend(reduction.indicators.iter().map(|i| Retraction {
            indicator: i.clone(),
            reason: RetractReason::Revoked,
            at,
        }));
        Vec::new()
    } else {
        reduction
            .indicators
            .iter()
            .map(|i| NewSighting {
                valid_until,
                ..sighting(ctx, &obj, i.clone(), at)
            })
            .collect()
    };
    let fallback_title = if obj
        .get("name")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.trim().is_empty())
    {
        None
    } else {
        Some(rexist_core::indicator::truncate(&pattern, 200))
    };
    let mut item = item(ctx, "indicator", id, obj);
    if let Some(t) = fallback_title {
        item.title = t;
    }
    if !reduction.complete {
        if !item.body.is_empty() {
            item.body.push_str("\n\n");
        }
        item.body.push_str(&pattern_type);
        item.body.push_str(" pattern: ");
        item.body.push_str(&pattern);
    }
    if let Some(extra) = item.extra.as_object_mut() {
        extra.insert("pattern_complete".into(), Value::Bool(reduction.complete));
        if let Some(e) = error {
            extra.insert("pattern_error".into(), Value::String(e));
        }
    }
    // A revoked indicator stands for nothing: no relation is drawn to it.
    let stands_for = if revoked {
        Vec::new()
    } else {
        reduction.indicators
    };
    Ok(Out::Item(
        Box::new(ItemRecord {
            item,
            sightings,
            relations: Vec::new(),
            extract: false,
        }),
        stands_for,
    ))
}

fn sco(ctx: &Ctx, kind: &str, obj: &Map<String, Value>) -> Result<Out, String> {
    let at = seen_at(obj);
    let mut found: Vec<(IndicatorType, String)> = Vec::new();
    match kind {
        "file" => {
            if let Some(hashes) = obj.get("hashes").and_then(Value::as_object) {
                for (alg, v) in hashes {
                    if let (Some(k), Some(v)) = (hash_kind(alg), v.as_str()) {
                        found.push((k, v.to_owned()));
                    }
                }
            }
            if found.is_empty() {
                return Ok(Out::Ignored("file without md5/sha hashes".into()));
            }
        }
        "autonomous-system" => {
            let n = obj
                .get("number")
                .and_then(Value::as_u64)
                .ok_or("autonomous-system without number")?;
            found.push((IndicatorType::Asn, format!("AS{n}")));
        }
        _ => {
            let v = text(obj, "value").ok_or_else(|| format!("{kind} without value"))?;
            let k = match kind {
                "ipv4-addr" | "ipv6-addr" if v.contains('/') => IndicatorType::Cidr,
                "ipv4-addr" => IndicatorType::Ipv4,
                "ipv6-addr" => IndicatorType::Ipv6,
                "domain-name" => IndicatorType::Domain,
                "url" => IndicatorType::Url,
                _ => IndicatorType::Email,
            };
            found.push((k, v));
        }
    }
    let mut out = Vec::new();
    for (k, v) in found {
        let i = Indicator::parse(k, &v).map_err(|e| e.to_string())?;
        out.push(sighting(ctx, obj, i, at));
    }
    Ok(Out::Sightings(out))
}

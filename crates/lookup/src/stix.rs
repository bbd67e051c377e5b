//! Check IOC in STIX: a lookup's answer as STIX 2.1 objects.
//!
//! For one value:
//!
//! - the value itself: when stored, exactly the objects an export or TAXII
//!   serves for it (the `indicator` or, for a CVE, the `vulnerability`, its
//!   SCO, `observed-data` and `based-on` relationship: same ids, same
//!   versions); when not stored, its SCO only;
//! - per reporting source, a `sighting` of the indicator (`count`,
//!   `first_seen`, `last_seen`, the source's confidence and TLP) whose
//!   `where_sighted_refs` names the source as an `identity`;
//! - a `note` with rexist's verdict (status and reason, score and the
//!   factors behind it, warning lists, hunts), and a `note` per enrichment
//!   provider asked (its normalised answer);
//! - per related indicator, its SCO and a `related-to` relationship whose
//!   `description` gives the reason, its score, status and sources.
//!
//! [`bundle`] puts the objects of one or more values into a bundle with
//! rexist's identity and the TLP marking definitions they use. Every
//! object passes `stix2-validator --strict`.

use std::collections::HashSet;
use std::fmt::Write as _;

use rexist_core::Tlp;
use rexist_stix::write::{
    StixIds, row_objects, sco_object, timestamp, tlp_marking, tlp_marking_id,
};
use rexist_store::ExportQuery;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::{Answer, Lookup, LookupError};

/// Most `count` a STIX sighting may carry.
const MAX_COUNT: usize = 999_999_999;

impl Lookup {
    /// The STIX objects for `answer` (see the module docs), as a reader
    /// cleared up to `max_tlp` may see them; `now` dates the notes and
    /// relationships this lookup makes.
    pub async fn stix_objects(
        &self,
        answer: &Answer,
        ids: &StixIds,
        max_tlp: Option<Tlp>,
        now: OffsetDateTime,
    ) -> Result<Vec<Value>, LookupError> {
        let mut out = Vec::new();
        if answer.known
            && let Some(rec) = self.store.indicator(answer.kind, &answer.value).await?
        {
            let rows = self
                .store
                .export_indicators(&ExportQuery {
                    ids: Some(vec![rec.id]),
                    max_tlp,
                    with_retired: true,
                    with_context: true,
                    limit: 1,
                    ..ExportQuery::default()
                })
                .await?;
            if let Some(row) = rows.first() {
                out = row_objects(ids, row);
            }
        }
        let verdict_tlp = answer.tlp.unwrap_or(Tlp::Clear);
        let stored = !out.is_empty();
        let target = if let Some(sdo) = out.first() {
            sdo["id"].as_str().unwrap_or_default().to_owned()
        } else if let Some(sco) = sco_object(answer.kind, &answer.value, verdict_tlp) {
            let id = sco["id"].as_str().unwrap_or_default().to_owned();
            out.push(sco);
            id
        } else {
            // An unknown CVE or wallet: nothing to hang a note on.
            return Ok(out);
        };
        let stamp = timestamp(now);
        if stored {
            for s in &answer.sources {
                out.push(ids.source_identity_object(&s.source, &s.kind));
                out.push(sighting(ids, &target, s));
            }
        }
        out.push(verdict_note(ids, answer, &target, verdict_tlp, &stamp));
        for e in &answer.enrichment {
            let mut content = serde_json::to_string_pretty(&e.summary).unwrap_or_default();
            if let Some(err) = &e.error {
                let _ = write!(content, "\nerror: {err}");
            }
            out.push(note(
                ids,
                &target,
                &format!("enrichment:{}", e.provider),
                &format!(
                    "{} ({}): {}",
                    e.provider,
                    e.kind,
                    serde_json::to_value(e.status)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default()
                ),
                &content,
                verdict_tlp,
                &stamp,
            ));
        }
        for r in &answer.related {
            let Some(sco) = sco_object(r.kind, &r.value, verdict_tlp) else {
                continue;
            };
            let sco_id = sco["id"].as_str().unwrap_or_default().to_owned();
            out.push(sco);
            let mut description = format!(
                "{}: {}; score {}, {}",
                r.relation,
                r.reason,
                r.score,
                r.status.as_str()
            );
            if !r.sources.is_empty() {
                let _ = write!(description, "; sources: {}", r.sources.join(", "));
            }
            out.push(json!({
                "type": "relationship",
                "spec_version": "2.1",
                "id": ids.relationship("related-to", &target, &sco_id),
                "created": stamp,
                "modified": stamp,
                "created_by_ref": ids.identity_id(),
                "relationship_type": "related-to",
                "source_ref": target,
                "target_ref": sco_id,
                "description": description,
                "object_marking_refs": [tlp_marking_id(verdict_tlp)],
            }));
        }
        Ok(out)
    }
}

/// A source's sighting of the indicator.
fn sighting(ids: &StixIds, target: &str, s: &crate::SourceReport) -> Value {
    let first = timestamp(s.first_seen);
    let last = timestamp(s.last_seen.max(s.first_seen));
    let mut description = format!("reported by {} ({})", s.source, s.kind);
    if let (Some(reason), Some(at)) = (s.retired_reason, s.retired_at) {
        let _ = write!(
            description,
            "; withdrawn ({}) at {}",
            reason.as_str(),
            timestamp(at)
        );
    } else if !s.listed {
        description.push_str("; no longer listed");
    }
    let mut obj = Map::new();
    obj.insert("type".into(), "sighting".into());
    obj.insert("spec_version".into(), "2.1".into());
    obj.insert("id".into(), ids.sighting(target, &s.source).into());
    obj.insert("created".into(), first.clone().into());
    obj.insert("modified".into(), last.clone().into());
    obj.insert("created_by_ref".into(), ids.identity_id().into());
    obj.insert("first_seen".into(), first.into());
    obj.insert("last_seen".into(), last.into());
    obj.insert("count".into(), s.sightings.min(MAX_COUNT).into());
    obj.insert("sighting_of_ref".into(), target.into());
    obj.insert(
        "where_sighted_refs".into(),
        json!([ids.source_identity(&s.source)]),
    );
    obj.insert("confidence".into(), s.confidence.min(100).into());
    obj.insert("description".into(), description.into());
    let labels: Vec<&String> = s.labels.iter().filter(|l| !l.trim().is_empty()).collect();
    if !labels.is_empty() {
        obj.insert("labels".into(), json!(labels));
    }
    obj.insert("object_marking_refs".into(), json!([tlp_marking_id(s.tlp)]));
    Value::Object(obj)
}

/// rexist's verdict on the value, in words.
fn verdict_note(ids: &StixIds, a: &Answer, target: &str, tlp: Tlp, stamp: &str) -> Value {
    let mut content = format!("status: {}", a.status.as_str());
    if let Some(r) = &a.status_reason {
        let _ = write!(content, " ({r})");
    }
    let _ = write!(content, "\nscore: {}", a.score);
    for f in &a.score_factors {
        let _ = write!(content, "\n- {}: {} ({})", f.name, f.value, f.reason);
    }
    if let (Some(first), Some(last)) = (a.first_seen, a.last_seen) {
        let _ = write!(
            content,
            "\nseen: {} to {}",
            timestamp(first),
            timestamp(last)
        );
    }
    if let Some(at) = a.expires_at {
        let _ = write!(content, "\nexpires: {}", timestamp(at));
    }
    if let Some(ew) = &a.early_warning
        && let Some(first) = ew.by_class.first()
    {
        let _ = write!(
            content,
            "\nearly warning: first reported by {} ({}) at {}",
            first.source,
            first.class.as_str(),
            timestamp(first.at)
        );
        if let (Some(lead), Some(auth)) = (ew.lead_seconds, &ew.authority_report) {
            let _ = write!(content, ", {lead} s before {}", auth.source);
        } else if ew.awaiting_authority {
            content.push_str(", not yet in its authority");
        }
    }
    for w in &a.warnings {
        let _ = write!(content, "\non list: {} ({}, {})", w.list, w.title, w.entry);
    }
    for h in &a.hunts {
        let _ = write!(content, "\nmatched hunt: {}", h.hunt);
    }
    if !a.items.is_empty() {
        let _ = write!(content, "\nmentioned in {} items", a.items.len());
    }
    note(
        ids,
        target,
        "verdict",
        &format!("rexist verdict: {}, score {}", a.status.as_str(), a.score),
        &content,
        tlp,
        stamp,
    )
}

fn note(
    ids: &StixIds,
    target: &str,
    topic: &str,
    abstract_: &str,
    content: &str,
    tlp: Tlp,
    stamp: &str,
) -> Value {
    json!({
        "type": "note",
        "spec_version": "2.1",
        "id": ids.note(target, topic),
        "created": stamp,
        "modified": stamp,
        "created_by_ref": ids.identity_id(),
        "abstract": abstract_,
        "content": content,
        "authors": ["rexist"],
        "object_refs": [target],
        "object_marking_refs": [tlp_marking_id(tlp)],
    })
}

/// A bundle of `objects` (one or more answers'), led by rexist's identity
/// and the TLP marking definitions they use; an object two answers share
/// is written once.
pub fn bundle(ids: &StixIds, objects: Vec<Value>) -> Value {
    let mut seen = HashSet::new();
    let mut used = [false; 5];
    let mut body = Vec::with_capacity(objects.len());
    for o in objects {
        let id = o["id"].as_str().unwrap_or_default().to_owned();
        if !seen.insert(id) {
            continue;
        }
        for t in Tlp::ALL {
            let m = tlp_marking_id(t);
            if o["object_marking_refs"]
                .as_array()
                .is_some_and(|refs| refs.iter().any(|r| r == m))
            {
                used[usize::try_from(t.rank()).unwrap_or(0).min(4)] = true;
            }
        }
        body.push(o);
    }
    let mut all = vec![ids.identity()];
    for t in Tlp::ALL {
        if used[usize::try_from(t.rank()).unwrap_or(0).min(4)] {
            all.push(tlp_marking(t));
        }
    }
    all.extend(body);
    json!({
        "type": "bundle",
        "id": rexist_stix::write::bundle_id(),
        "objects": all,
    })
}

//! Check IOC through TAXII: a read-only collection (alias `lookup`) whose
//! objects are lookups' answers in STIX, not stored rows.
//!
//! `GET .../collections/lookup/objects/?match[value]=1.2.3.4,evil.example`
//! answers, in one envelope, what `GET /api/v1/lookup/{value}?format=stix`
//! answers for each value (see `rexist_lookup::stix`): the indicator or
//! observable, a sighting per source, the verdict note and the related
//! observables. `match[id]` names stored objects instead (an indicator's,
//! or an SCO's, whose id any client can compute from the value); each is
//! looked up by its value. Either is required; at most [`MAX_VALUES`]
//! values a request. `match[value]` is a rexist extension of TAXII's
//! `match[<field>]` filters; other filters do not apply here.

use std::collections::HashSet;
use std::sync::Arc;

use axum::http::Uri;
use axum::response::Response;
use serde_json::{Value, json};

use super::index::IdIndex;
use super::wire::{self, TaxiiError};
use crate::AppState;
use crate::auth::Principal;

/// The lookup collection's id (fixed, so clients can keep it).
pub const ID: &str = "5d0c8f3a-2b71-4e96-a0d4-7c3e9b1f6a58";
/// Its alias.
pub const ALIAS: &str = "lookup";
/// Most values one request may look up.
pub const MAX_VALUES: usize = 100;

/// Whether `id` names the lookup collection.
pub fn is_lookup(id: &str) -> bool {
    id.eq_ignore_ascii_case(ID) || id == ALIAS
}

/// The collection resource.
pub fn collection_json() -> Value {
    json!({
        "id": ID,
        "alias": ALIAS,
        "title": "Check IOC",
        "description": "Lookups in STIX: objects/?match[value]=<value>[,<value>…] (or match[id]=<a stored object's id>) answers each value's indicator or observable, a sighting per source, rexist's verdict note and related observables.",
        "can_read": true,
        "can_write": false,
        "media_types": [wire::STIX_MEDIA],
    })
}

/// The `match[value]` and `match[id]` entries of a request.
fn wanted(uri: &Uri) -> Result<(Vec<String>, HashSet<String>), TaxiiError> {
    let axum::extract::Query(pairs) =
        axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri)
            .map_err(|e| TaxiiError::bad_request(format!("bad query string: {e}")))?;
    let (mut values, mut ids) = (Vec::new(), HashSet::new());
    for (k, v) in &pairs {
        let entries = v.split(',').map(str::trim).filter(|s| !s.is_empty());
        match k.as_str() {
            "match[value]" => values.extend(entries.map(str::to_owned)),
            "match[id]" => ids.extend(entries.map(str::to_owned)),
            "limit"
            | "next"
            | "added_after"
            | "match[type]"
            | "match[version]"
            | "match[spec_version]" => {}
            other => {
                return Err(TaxiiError::bad_request(format!(
                    "unknown query parameter {other:?}"
                )));
            }
        }
    }
    if values.is_empty() && ids.is_empty() {
        return Err(TaxiiError::bad_request(
            "the lookup collection answers objects/?match[value]=<value> or match[id]=<object id>",
        ));
    }
    if values.len() + ids.len() > MAX_VALUES {
        return Err(TaxiiError::bad_request(format!(
            "{} values and ids given, at most {MAX_VALUES}",
            values.len() + ids.len()
        )));
    }
    Ok((values, ids))
}

/// `GET .../collections/lookup/objects/`.
pub async fn objects(
    state: &AppState,
    index: &Arc<IdIndex>,
    who: &Principal,
    uri: &Uri,
) -> Result<Response, TaxiiError> {
    let (mut values, ids) = wanted(uri)?;
    let stix = crate::export::stix_ids(state.store.as_ref())
        .await
        .map_err(TaxiiError::internal)?;
    if !ids.is_empty() {
        let rows = index
            .rows_for(&state.store, &stix, &ids)
            .await
            .map_err(TaxiiError::internal)?;
        for row in rows {
            let rec = state
                .store
                .indicator_by_id(row)
                .await
                .map_err(TaxiiError::internal)?;
            if let Some(rec) = rec.filter(|r| r.tlp <= who.clearance) {
                let added = rec.first_seen;
                let objs = rexist_stix::write::row_objects(
                    &stix,
                    &rexist_core::ExportRow {
                        record: rec.clone(),
                        added,
                        sources: Vec::new(),
                        labels: Vec::new(),
                    },
                );
                // A hash collision in the index only adds a candidate.
                if objs
                    .iter()
                    .any(|o| o["id"].as_str().is_some_and(|id| ids.contains(id)))
                {
                    values.push(rec.value);
                }
            }
        }
    }
    let options = rexist_lookup::Options {
        max_tlp: Some(who.clearance),
        ..rexist_lookup::Options::default()
    };
    let now = rexist_core::model::now();
    let mut objects = Vec::new();
    for value in &values {
        let answer = match state.lookup.one(value, &options).await {
            Ok(a) => a,
            Err(rexist_lookup::LookupError::Invalid(m)) => {
                return Err(TaxiiError::bad_request(format!(
                    "match[value] {value:?}: {m}"
                )));
            }
            Err(rexist_lookup::LookupError::Store(e)) => return Err(TaxiiError::internal(e)),
        };
        objects.extend(
            state
                .lookup
                .stix_objects(&answer, &stix, options.max_tlp, now)
                .await
                .map_err(|e| TaxiiError::internal(format!("{e:?}")))?,
        );
    }
    let bundle = rexist_lookup::stix::bundle(&stix, objects);
    let mut response = wire::json_response(&json!({
        "more": false,
        "objects": bundle["objects"],
    }));
    let added = wire::timestamp(now);
    for h in ["x-taxii-date-added-first", "x-taxii-date-added-last"] {
        if let Ok(v) = added.parse() {
            response.headers_mut().insert(h, v);
        }
    }
    Ok(response)
}

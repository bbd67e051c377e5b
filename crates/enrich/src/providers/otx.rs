//! Open Threat Exchange, OTX (INTERFACES.md §2): `X-OTX-API-KEY`;
//! `GET /api/v1/indicators/{section type}/{value}/general`. OTX answers 200
//! with `pulse_info.count = 0` for indicators it has never seen, so such an
//! answer is `ok` with zero pulses, not `not_found`.

use rexist_core::IndicatorType;
use serde_json::{Value, json};

use super::{Upstream, at, count, found_or_not, strings_of};
use crate::answer::{Failure, Outcome, Status};
use crate::api::encode_segment;

pub(crate) const DEFAULT_BASE: &str = "https://otx.alienvault.com";

pub(crate) const TYPES: &[IndicatorType] = &[
    IndicatorType::Ipv4,
    IndicatorType::Ipv6,
    IndicatorType::Domain,
    IndicatorType::Url,
    IndicatorType::Md5,
    IndicatorType::Sha1,
    IndicatorType::Sha256,
    IndicatorType::Cve,
];

/// Pulses listed in the summary; the rest stay in `raw`.
const PULSES_SHOWN: usize = 10;

pub(crate) struct Otx {
    up: Upstream,
}

impl Otx {
    pub(crate) fn new(up: Upstream) -> Self {
        Self { up }
    }

    pub(crate) async fn lookup(&self, kind: IndicatorType, value: &str) -> Outcome {
        let section = match kind {
            IndicatorType::Ipv4 => "IPv4",
            IndicatorType::Ipv6 => "IPv6",
            // OTX splits names into registered domains and host names; without
            // a public-suffix list, two labels is taken as a registered domain.
            IndicatorType::Domain if value.matches('.').count() <= 1 => "domain",
            IndicatorType::Domain => "hostname",
            IndicatorType::Url => "url",
            IndicatorType::Md5 | IndicatorType::Sha1 | IndicatorType::Sha256 => "file",
            IndicatorType::Cve => "cve",
            _ => return Err(Failure::new(Status::NotApplicable, "not an OTX type")),
        };
        let path = format!(
            "api/v1/indicators/{section}/{}/general",
            encode_segment(value)
        );
        let request = self
            .up
            .get(&path)
            .header("X-OTX-API-KEY", self.up.key().unwrap_or_default());
        found_or_not(self.up.call(request).await?, general)
    }
}

fn general(v: &Value) -> Value {
    let pulses: Vec<Value> = v
        .pointer("/pulse_info/pulses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .take(PULSES_SHOWN)
        .map(|p| {
            json!({
                "id": at(p, "/id"),
                "name": at(p, "/name"),
                "modified": at(p, "/modified"),
                "tlp": p.get("TLP").or_else(|| p.get("tlp")).cloned().unwrap_or(Value::Null),
                "adversary": at(p, "/adversary"),
                "tags": at(p, "/tags"),
            })
        })
        .collect();
    let mut tags: Vec<String> = Vec::new();
    for t in v
        .pointer("/pulse_info/pulses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|p| {
            p.get("tags")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .filter_map(Value::as_str)
    {
        if !tags.iter().any(|x| x == t) {
            tags.push(t.to_owned());
        }
    }
    let related = |field: &str| {
        let mut out = strings_of(v, &format!("/pulse_info/related/alienvault/{field}"), "");
        for s in strings_of(v, &format!("/pulse_info/related/other/{field}"), "") {
            if !out.contains(&s) {
                out.push(s);
            }
        }
        out
    };
    json!({
        "pulse_count": v.pointer("/pulse_info/count").cloned().unwrap_or(json!(0)),
        "pulses": pulses,
        "tags": tags,
        "adversaries": related("adversary"),
        "malware_families": related("malware_families"),
        "industries": related("industries"),
        "references": at(v, "/pulse_info/references"),
        "reputation": at(v, "/reputation"),
        "asn": at(v, "/asn"),
        "country_code": at(v, "/country_code"),
        "country_name": at(v, "/country_name"),
        "validation": strings_of(v, "/validation", "/name"),
        "false_positive_count": count(v, "/false_positive"),
    })
}

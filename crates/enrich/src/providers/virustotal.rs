//! VirusTotal API v3: `x-apikey`; `/api/v3/ip_addresses/{ip}`,
//! `/domains/{d}`, `/files/{hash}`, `/urls/{id}` where the id is the URL in
//! unpadded base64url. Every object is `{"data":{"id","type","attributes"}}`;
//! errors are `{"error":{"code","message"}}` (404 `NotFoundError`).

use base64::Engine;
use rexist_core::IndicatorType;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Upstream, at, found_or_not};
use crate::answer::{Failure, Outcome, Status};
use crate::api::encode_segment;

pub(crate) const DEFAULT_BASE: &str = "https://www.virustotal.com";

pub(crate) const TYPES: &[IndicatorType] = &[
    IndicatorType::Ipv4,
    IndicatorType::Ipv6,
    IndicatorType::Domain,
    IndicatorType::Url,
    IndicatorType::Md5,
    IndicatorType::Sha1,
    IndicatorType::Sha256,
];

pub(crate) struct Virustotal {
    up: Upstream,
}

impl Virustotal {
    pub(crate) fn new(up: Upstream) -> Self {
        Self { up }
    }

    pub(crate) async fn lookup(&self, kind: IndicatorType, value: &str) -> Outcome {
        let path = match kind {
            IndicatorType::Ipv4 | IndicatorType::Ipv6 => {
                format!("api/v3/ip_addresses/{}", encode_segment(value))
            }
            IndicatorType::Domain => format!("api/v3/domains/{}", encode_segment(value)),
            IndicatorType::Md5 | IndicatorType::Sha1 | IndicatorType::Sha256 => {
                format!("api/v3/files/{}", encode_segment(value))
            }
            IndicatorType::Url => format!("api/v3/urls/{}", url_id(value)),
            _ => return Err(Failure::new(Status::NotApplicable, "not a VirusTotal type")),
        };
        let request = self
            .up
            .get(&path)
            .header("x-apikey", self.up.key().unwrap_or_default());
        // VirusTotal's 429 "QuotaExceededError" covers both the per-minute
        // and the daily allowance, so it stays `rate_limited`, held for a
        // minute when no Retry-After comes with it.
        found_or_not(self.up.call(request).await?, summarise)
    }
}

/// The URL identifier VirusTotal uses in paths.
pub(crate) fn url_id(url: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url.as_bytes())
}

fn summarise(v: &Value) -> Value {
    let a = v
        .pointer("/data/attributes")
        .cloned()
        .unwrap_or(Value::Null);
    let mut categories: Vec<String> = Vec::new();
    if let Some(cats) = a.get("categories").and_then(Value::as_object) {
        for c in cats.values().filter_map(Value::as_str) {
            if !categories.iter().any(|x| x == c) {
                categories.push(c.to_owned());
            }
        }
    }
    let date = |field: &str| {
        a.get(field)
            .and_then(Value::as_i64)
            .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
            .and_then(|t| t.format(&Rfc3339).ok())
            .map_or(Value::Null, Value::String)
    };
    json!({
        "id": at(v, "/data/id"),
        "type": at(v, "/data/type"),
        "last_analysis_stats": at(&a, "/last_analysis_stats"),
        "malicious": at(&a, "/last_analysis_stats/malicious"),
        "reputation": at(&a, "/reputation"),
        "tags": at(&a, "/tags"),
        "categories": categories,
        "last_analysis_date": date("last_analysis_date"),
        "country": at(&a, "/country"),
        "as_owner": at(&a, "/as_owner"),
        "asn": at(&a, "/asn"),
        "network": at(&a, "/network"),
        "registrar": at(&a, "/registrar"),
        "meaningful_name": at(&a, "/meaningful_name"),
        "type_description": at(&a, "/type_description"),
        "size": at(&a, "/size"),
        "final_url": at(&a, "/last_final_url"),
        "title": at(&a, "/title"),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn url_ids_are_unpadded_base64url() {
        // The example from VirusTotal's documentation.
        assert_eq!(
            super::url_id("http://www.somedomain.com/this/is/my/url"),
            "aHR0cDovL3d3dy5zb21lZG9tYWluLmNvbS90aGlzL2lzL215L3VybA"
        );
    }
}

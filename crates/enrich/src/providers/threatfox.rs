//! abuse.ch ThreatFox: `POST /api/v1/` with `{"query":"search_ioc",
//! "search_term":…}` or `{"query":"search_hash","hash":…}`; `Auth-Key`
//! header. The status is in the body: `query_status` `ok`, `no_result`,
//! `illegal_search_term`, `unknown_auth_key`…, always with HTTP 200.

use rexist_core::IndicatorType;
use serde_json::{Value, json};

use super::{Upstream, at};
use crate::answer::{Failure, Outcome, Reply, Status};
use crate::api::Said;

pub(crate) const DEFAULT_BASE: &str = "https://threatfox-api.abuse.ch";

/// ThreatFox indexes MD5 and SHA-256 file hashes, not SHA-1.
pub(crate) const TYPES: &[IndicatorType] = &[
    IndicatorType::Ipv4,
    IndicatorType::Domain,
    IndicatorType::Url,
    IndicatorType::Md5,
    IndicatorType::Sha256,
];

/// IOCs listed in the summary; the rest stay in `raw`.
const IOCS_SHOWN: usize = 10;

pub(crate) struct Threatfox {
    up: Upstream,
}

impl Threatfox {
    pub(crate) fn new(up: Upstream) -> Self {
        Self { up }
    }

    pub(crate) async fn lookup(&self, kind: IndicatorType, value: &str) -> Outcome {
        let body = match kind {
            IndicatorType::Md5 | IndicatorType::Sha256 => {
                json!({"query": "search_hash", "hash": value})
            }
            _ => json!({"query": "search_ioc", "search_term": value}),
        };
        let mut request = self.up.post_json("api/v1/", &body);
        if let Some(key) = self.up.key() {
            request = request.header("Auth-Key", key);
        }
        let v = match self.up.call(request).await? {
            Said::Found(v) => v,
            Said::NotFound(v) => return Ok(Reply::not_found(v)),
        };
        match v.get("query_status").and_then(Value::as_str) {
            Some("ok") => Ok(Reply::ok(summarise(&v), Some(v))),
            Some("no_result" | "hash_not_found" | "id_not_found") => Ok(Reply::not_found(Some(v))),
            Some(s @ ("unknown_auth_key" | "invalid_auth_key" | "auth_key_required")) => {
                Err(Failure::new(
                    Status::Unauthorized,
                    format!("ThreatFox refused the key ({s})"),
                ))
            }
            Some(s) => Err(Failure::error(format!(
                "ThreatFox answered {}",
                crate::api::truncate(s, 60)
            ))),
            None => Err(Failure::error("ThreatFox answered without query_status")),
        }
    }
}

fn summarise(v: &Value) -> Value {
    let rows: Vec<&Value> = v
        .get("data")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let mut malware: Vec<String> = Vec::new();
    for m in rows
        .iter()
        .filter_map(|r| r.get("malware_printable").and_then(Value::as_str))
    {
        if !malware.iter().any(|x| x == m) {
            malware.push(m.to_owned());
        }
    }
    json!({
        "count": rows.len(),
        "malware": malware,
        "iocs": rows.iter().take(IOCS_SHOWN).map(|r| json!({
            "id": at(r, "/id"),
            "ioc": at(r, "/ioc"),
            "ioc_type": at(r, "/ioc_type"),
            "threat_type": at(r, "/threat_type"),
            "malware": at(r, "/malware_printable"),
            "confidence_level": at(r, "/confidence_level"),
            "first_seen": at(r, "/first_seen"),
            "last_seen": at(r, "/last_seen"),
            "tags": at(r, "/tags"),
            "reference": at(r, "/reference"),
        })).collect::<Vec<_>>(),
    })
}

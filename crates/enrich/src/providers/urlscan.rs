//! urlscan.io search: `GET /api/v1/search/?q=…&size=10` with an optional
//! `API-Key` header. Queries use urlscan's Elasticsearch syntax:
//! `domain:`, `page.url:"…"`, `ip:"…"`, `hash:`. No hit is `not_found`.

use rexist_core::IndicatorType;
use serde_json::{Value, json};

use super::{Upstream, at};
use crate::answer::{Failure, Outcome, Reply, Status};
use crate::api::Said;

pub(crate) const DEFAULT_BASE: &str = "https://urlscan.io";

pub(crate) const TYPES: &[IndicatorType] = &[
    IndicatorType::Domain,
    IndicatorType::Url,
    IndicatorType::Ipv4,
    IndicatorType::Ipv6,
    IndicatorType::Sha256,
];

/// Results fetched and listed.
const RESULTS: &str = "10";

pub(crate) struct Urlscan {
    up: Upstream,
}

impl Urlscan {
    pub(crate) fn new(up: Upstream) -> Self {
        Self { up }
    }

    pub(crate) async fn lookup(&self, kind: IndicatorType, value: &str) -> Outcome {
        let q = query(kind, value)
            .ok_or_else(|| Failure::new(Status::NotApplicable, "not a urlscan type"))?;
        let mut request = self
            .up
            .get_query("api/v1/search/", &[("q", q.as_str()), ("size", RESULTS)]);
        if let Some(key) = self.up.key() {
            request = request.header("API-Key", key);
        }
        match self.up.call(request).await? {
            Said::Found(v) => {
                let empty = v
                    .get("results")
                    .and_then(Value::as_array)
                    .is_none_or(Vec::is_empty);
                if empty {
                    Ok(Reply::not_found(Some(v)))
                } else {
                    Ok(Reply::ok(summarise(&v), Some(v)))
                }
            }
            Said::NotFound(v) => Ok(Reply::not_found(v)),
        }
    }
}

/// The search query for an indicator; quoted values escape `"` and `\`.
pub(crate) fn query(kind: IndicatorType, value: &str) -> Option<String> {
    let quoted = || format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""));
    Some(match kind {
        IndicatorType::Domain => format!("domain:{value}"),
        IndicatorType::Url => format!("page.url:{}", quoted()),
        IndicatorType::Ipv4 | IndicatorType::Ipv6 => format!("ip:{}", quoted()),
        IndicatorType::Sha256 => format!("hash:{value}"),
        _ => return None,
    })
}

fn summarise(v: &Value) -> Value {
    let latest: Vec<Value> = v
        .get("results")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| {
            json!({
                "time": at(r, "/task/time"),
                "url": at(r, "/task/url"),
                "page_url": at(r, "/page/url"),
                "domain": at(r, "/page/domain"),
                "ip": at(r, "/page/ip"),
                "country": at(r, "/page/country"),
                "status": at(r, "/page/status"),
                "malicious": at(r, "/verdicts/overall/malicious"),
                "result": at(r, "/result"),
            })
        })
        .collect();
    json!({
        "total": at(v, "/total"),
        "latest": latest,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries() {
        assert_eq!(
            query(IndicatorType::Domain, "a.example").as_deref(),
            Some("domain:a.example")
        );
        assert_eq!(
            query(IndicatorType::Url, "http://a.example/\"x\"").as_deref(),
            Some(r#"page.url:"http://a.example/\"x\"""#)
        );
        assert_eq!(query(IndicatorType::Cve, "CVE-2021-44228"), None);
    }
}

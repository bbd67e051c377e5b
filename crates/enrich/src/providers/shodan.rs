//! Shodan: `GET /shodan/host/{ip}?key=…`. The key must travel in the
//! query, so it is never put in a message: errors name the host only, and
//! [`crate::enricher`] scrubs the key from anything else.

use rexist_core::IndicatorType;
use serde_json::{Value, json};

use super::{Upstream, at, found_or_not};
use crate::answer::Outcome;
use crate::api::encode_segment;

pub(crate) const DEFAULT_BASE: &str = "https://api.shodan.io";

pub(crate) const TYPES: &[IndicatorType] = &[IndicatorType::Ipv4, IndicatorType::Ipv6];

pub(crate) struct Shodan {
    up: Upstream,
}

impl Shodan {
    pub(crate) fn new(up: Upstream) -> Self {
        Self { up }
    }

    pub(crate) async fn lookup(&self, _kind: IndicatorType, value: &str) -> Outcome {
        let request = self.up.get_query(
            &format!("shodan/host/{}", encode_segment(value)),
            &[("key", self.up.key().unwrap_or_default())],
        );
        // 404 {"error": "No information available for that IP."} is not found.
        found_or_not(self.up.call(request).await?, summarise)
    }
}

fn summarise(v: &Value) -> Value {
    // `vulns` is a list of CVE ids on /shodan/host; older answers had an object.
    let vulns = match v.get("vulns") {
        Some(Value::Object(o)) => Value::from(o.keys().cloned().collect::<Vec<_>>()),
        Some(other) => other.clone(),
        None => Value::Array(Vec::new()),
    };
    json!({
        "ports": at(v, "/ports"),
        "hostnames": at(v, "/hostnames"),
        "domains": at(v, "/domains"),
        "org": at(v, "/org"),
        "isp": at(v, "/isp"),
        "asn": at(v, "/asn"),
        "os": at(v, "/os"),
        "country_code": at(v, "/country_code"),
        "city": at(v, "/city"),
        "tags": at(v, "/tags"),
        "vulns": vulns,
        "last_update": at(v, "/last_update"),
    })
}

//! AbuseIPDB API v2: `Key` header; `GET /api/v2/check?ipAddress=&maxAgeInDays=90`
//! → `{"data":{…}}`. An address nobody reported is `ok` with zero reports.
//! Errors are `{"errors":[{"detail","status"}]}` (422 for a bad address).

use rexist_core::IndicatorType;
use serde_json::{Value, json};

use super::{Upstream, at, found_or_not};
use crate::answer::Outcome;

pub(crate) const DEFAULT_BASE: &str = "https://api.abuseipdb.com";

pub(crate) const TYPES: &[IndicatorType] = &[IndicatorType::Ipv4, IndicatorType::Ipv6];

pub(crate) struct Abuseipdb {
    up: Upstream,
}

impl Abuseipdb {
    pub(crate) fn new(up: Upstream) -> Self {
        Self { up }
    }

    pub(crate) async fn lookup(&self, _kind: IndicatorType, value: &str) -> Outcome {
        let request = self
            .up
            .get_query(
                "api/v2/check",
                &[("ipAddress", value), ("maxAgeInDays", "90")],
            )
            .header("Key", self.up.key().unwrap_or_default());
        found_or_not(self.up.call(request).await?, summarise)
    }
}

fn summarise(v: &Value) -> Value {
    json!({
        "abuse_confidence_score": at(v, "/data/abuseConfidenceScore"),
        "total_reports": at(v, "/data/totalReports"),
        "distinct_users": at(v, "/data/numDistinctUsers"),
        "country_code": at(v, "/data/countryCode"),
        "isp": at(v, "/data/isp"),
        "domain": at(v, "/data/domain"),
        "usage_type": at(v, "/data/usageType"),
        "is_tor": at(v, "/data/isTor"),
        "is_whitelisted": at(v, "/data/isWhitelisted"),
        "last_reported_at": at(v, "/data/lastReportedAt"),
    })
}

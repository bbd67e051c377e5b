//! IBM X-Force Exchange (INTERFACES.md §3): HTTP Basic `key:password`;
//! `/ipr/{ip}`, `/url/{url-or-host}`, `/resolve/{host}`, `/whois/{host}`,
//! `/malware/{hash}`, `/vulnerabilities/search/{cve}`. Whether the paths
//! sit under `/api` differs between sources, so `base_url` may carry it.

use rexist_core::IndicatorType;
use serde_json::{Value, json};

use super::{Upstream, at, count, found_or_not, strings_of, true_keys};
use crate::answer::{Failure, Outcome, Reply, Status};
use crate::api::{Said, encode_segment};

pub(crate) const DEFAULT_BASE: &str = "https://api.xforce.ibmcloud.com";

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

pub(crate) struct Xforce {
    up: Upstream,
}

impl Xforce {
    pub(crate) fn new(up: Upstream) -> Self {
        Self { up }
    }

    async fn get(&self, path: &str) -> Result<Said, Failure> {
        let request = self
            .up
            .get(path)
            .basic_auth(self.up.key().unwrap_or_default(), self.up.password());
        self.up.call(request).await
    }

    pub(crate) async fn lookup(&self, kind: IndicatorType, value: &str) -> Outcome {
        let v = encode_segment(value);
        match kind {
            IndicatorType::Ipv4 | IndicatorType::Ipv6 => {
                found_or_not(self.get(&format!("ipr/{v}")).await?, ipr)
            }
            IndicatorType::Url => found_or_not(self.get(&format!("url/{v}")).await?, url),
            IndicatorType::Domain => self.domain(&v).await,
            IndicatorType::Md5 | IndicatorType::Sha1 | IndicatorType::Sha256 => {
                found_or_not(self.get(&format!("malware/{v}")).await?, malware)
            }
            IndicatorType::Cve => match self.get(&format!("vulnerabilities/search/{v}")).await? {
                Said::Found(Value::Array(rows)) if rows.is_empty() => {
                    Ok(Reply::not_found(Some(Value::Array(rows))))
                }
                said => found_or_not(said, vulnerability),
            },
            _ => Err(Failure::new(Status::NotApplicable, "not an X-Force type")),
        }
    }

    /// A host is three calls (reputation, DNS, whois) made together; it is
    /// found when any of them knows it, and fails only when the account or
    /// the service does.
    async fn domain(&self, host: &str) -> Outcome {
        let (url_path, resolve_path, whois_path) = (
            format!("url/{host}"),
            format!("resolve/{host}"),
            format!("whois/{host}"),
        );
        let (url_r, resolve_r, whois_r) = tokio::join!(
            self.get(&url_path),
            self.get(&resolve_path),
            self.get(&whois_path),
        );
        let mut summary = serde_json::Map::new();
        let mut raw = serde_json::Map::new();
        let mut found = false;
        for (part, result, summarise) in [
            ("url", url_r, url as fn(&Value) -> Value),
            ("resolve", resolve_r, resolve),
            ("whois", whois_r, whois),
        ] {
            match result? {
                Said::Found(v) if !super::says_not_found(&v) => {
                    found = true;
                    summary.insert(part.to_owned(), summarise(&v));
                    raw.insert(part.to_owned(), v);
                }
                Said::Found(_) | Said::NotFound(_) => {
                    summary.insert(part.to_owned(), Value::Null);
                }
            }
        }
        let raw = Some(Value::Object(raw));
        if found {
            Ok(Reply::ok(Value::Object(summary), raw))
        } else {
            Ok(Reply::not_found(raw))
        }
    }
}

fn ipr(v: &Value) -> Value {
    json!({
        "score": at(v, "/score"),
        "reason": at(v, "/reason"),
        "reason_description": at(v, "/reasonDescription"),
        "categories": true_keys(v, "/cats"),
        "country": at(v, "/geo/country"),
        "country_code": at(v, "/geo/countrycode"),
        "subnets": strings_of(v, "/subnets", "/subnet"),
        "asns": v.pointer("/subnets").and_then(Value::as_array).map(|subnets| {
            let mut asns: Vec<String> = Vec::new();
            for s in subnets {
                for k in s.get("asns").and_then(Value::as_object).into_iter().flat_map(|o| o.keys()) {
                    if !asns.contains(k) {
                        asns.push(k.clone());
                    }
                }
            }
            asns
        }),
        "tags": at(v, "/tags"),
        "history_count": count(v, "/history"),
    })
}

fn url(v: &Value) -> Value {
    json!({
        "url": at(v, "/result/url"),
        "score": at(v, "/result/score"),
        "categories": true_keys(v, "/result/cats"),
        "associated": strings_of(v, "/associated", "/url"),
        "tags": at(v, "/tags"),
    })
}

fn resolve(v: &Value) -> Value {
    json!({
        "a": at(v, "/A"),
        "aaaa": at(v, "/AAAA"),
        "mx": strings_of(v, "/MX", "/exchange"),
        "txt": at(v, "/TXT"),
        "rdns": at(v, "/RDNS"),
        "passive": v.pointer("/Passive/records").and_then(Value::as_array).map(|records| {
            records.iter().map(|r| json!({
                "value": at(r, "/value"),
                "type": at(r, "/recordType"),
                "first": at(r, "/first"),
                "last": at(r, "/last"),
            })).collect::<Vec<_>>()
        }),
    })
}

fn whois(v: &Value) -> Value {
    let registrant = v
        .pointer("/contact")
        .and_then(Value::as_array)
        .and_then(|c| {
            c.iter()
                .find(|x| x.get("type").and_then(Value::as_str) == Some("registrant"))
        })
        .cloned()
        .unwrap_or(Value::Null);
    json!({
        "registrar": at(v, "/registrarName"),
        "created": at(v, "/createdDate"),
        "updated": at(v, "/updatedDate"),
        "expires": at(v, "/expiresDate"),
        "contact_email": at(v, "/contactEmail"),
        "registrant_organization": at(&registrant, "/organization"),
        "registrant_country": at(&registrant, "/country"),
    })
}

fn malware(v: &Value) -> Value {
    json!({
        "risk": at(v, "/malware/risk"),
        "type": at(v, "/malware/type"),
        "created": at(v, "/malware/created"),
        "family": at(v, "/malware/family"),
        "cnc_servers": strings_of(v, "/malware/origins/CnCServers/rows", "/domain"),
        "cnc_ips": strings_of(v, "/malware/origins/CnCServers/rows", "/ip"),
        "download_servers": strings_of(v, "/malware/origins/downloadServers/rows", "/domain"),
        "email_count": count(v, "/malware/origins/emails/rows"),
        "subjects": strings_of(v, "/malware/origins/subjects/rows", "/subject"),
        "external": {
            "source": at(v, "/malware/origins/external/source"),
            "malware_type": at(v, "/malware/origins/external/malwareType"),
            "platform": at(v, "/malware/origins/external/platform"),
            "detection_coverage": at(v, "/malware/origins/external/detectionCoverage"),
            "first_seen": at(v, "/malware/origins/external/firstSeen"),
            "last_seen": at(v, "/malware/origins/external/lastSeen"),
        },
    })
}

/// `/vulnerabilities/search` answers a bare array, empty when unknown.
fn vulnerability(v: &Value) -> Value {
    let first = v.pointer("/0").cloned().unwrap_or(Value::Null);
    json!({
        "count": v.as_array().map_or(0, Vec::len),
        "xfdbid": at(&first, "/xfdbid"),
        "title": at(&first, "/title"),
        "risk_level": at(&first, "/risk_level"),
        "reported": at(&first, "/reported"),
        "exploitability": at(&first, "/exploitability"),
        "cvss_version": at(&first, "/cvss/version"),
        "platforms_affected": at(&first, "/platforms_affected"),
        "stdcode": at(&first, "/stdcode"),
    })
}

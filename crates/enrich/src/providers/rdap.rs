//! RDAP (RFC 9082/9083) for domains and IP addresses. The server is found
//! in IANA's bootstrap registries (RFC 9224), bundled from
//! `data/iana-rdap/` so a lookup needs no extra request; `base_url`
//! replaces the bootstrap with one server.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

use rexist_core::IndicatorType;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Upstream, at, found_or_not, strings_of};
use crate::answer::{Failure, Outcome, Status};

/// Unused: RDAP servers come from the bootstrap unless `base_url` is set.
pub(crate) const DEFAULT_BASE: &str = "https://rdap.iana.org/";

pub(crate) const TYPES: &[IndicatorType] = &[
    IndicatorType::Domain,
    IndicatorType::Ipv4,
    IndicatorType::Ipv6,
];

const DNS_JSON: &str = include_str!("../../../../data/iana-rdap/dns.json");
const IPV4_JSON: &str = include_str!("../../../../data/iana-rdap/ipv4.json");
const IPV6_JSON: &str = include_str!("../../../../data/iana-rdap/ipv6.json");

pub(crate) struct Rdap {
    up: Upstream,
    /// Whether `base_url` was given, replacing the bootstrap.
    fixed: bool,
}

impl Rdap {
    pub(crate) fn new(up: Upstream) -> Self {
        let fixed = up.configured();
        Self { up, fixed }
    }

    pub(crate) async fn lookup(&self, kind: IndicatorType, value: &str) -> Outcome {
        let (server, path) = match kind {
            IndicatorType::Domain => {
                let name = value.trim_end_matches('.').to_ascii_lowercase();
                let server = if self.fixed {
                    self.up.base().to_string()
                } else {
                    bootstrap().domain_server(&name).ok_or_else(|| {
                        Failure::new(
                            Status::NotApplicable,
                            format!(
                                "no RDAP service for .{} in the IANA bootstrap",
                                name.rsplit('.').next().unwrap_or_default()
                            ),
                        )
                    })?
                };
                (server, format!("domain/{name}"))
            }
            IndicatorType::Ipv4 | IndicatorType::Ipv6 => {
                let ip: IpAddr = value
                    .parse()
                    .map_err(|_| Failure::error("not an IP address"))?;
                let server = if self.fixed {
                    self.up.base().to_string()
                } else {
                    bootstrap().ip_server(ip).ok_or_else(|| {
                        Failure::new(
                            Status::NotApplicable,
                            format!("no RDAP service for {ip} in the IANA bootstrap"),
                        )
                    })?
                };
                (server, format!("ip/{ip}"))
            }
            _ => return Err(Failure::new(Status::NotApplicable, "not an RDAP type")),
        };
        let url = format!("{}/{path}", server.trim_end_matches('/'));
        let host = reqwest::Url::parse(&url).map_or_else(
            |_| "the RDAP server".to_owned(),
            |u| crate::api::host_of(&u),
        );
        let request = self
            .up
            .get_url(&url)
            .header(reqwest::header::ACCEPT, "application/rdap+json");
        let said = self.up.call_host(request, &host).await?;
        let server_shown = server.clone();
        match kind {
            IndicatorType::Domain => found_or_not(said, |v| domain_summary(v, &server_shown)),
            _ => found_or_not(said, |v| ip_summary(v, &server_shown)),
        }
    }
}

/// `eventDate` of the first event with this `eventAction`.
fn event(v: &Value, action: &str) -> Value {
    v.get("events")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|e| e.get("eventAction").and_then(Value::as_str) == Some(action))
        .and_then(|e| e.get("eventDate").cloned())
        .unwrap_or(Value::Null)
}

/// The `fn` (formatted name) of an entity's jCard.
fn vcard_name(entity: &Value) -> Value {
    entity
        .pointer("/vcardArray/1")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|prop| prop.get(0).and_then(Value::as_str) == Some("fn"))
        .and_then(|prop| prop.get(3).cloned())
        .unwrap_or(Value::Null)
}

fn has_role(entity: &Value, role: &str) -> bool {
    entity
        .get("roles")
        .and_then(Value::as_array)
        .is_some_and(|roles| roles.iter().any(|r| r.as_str() == Some(role)))
}

/// Entities and the entities nested in them (abuse contacts sit inside the
/// registrar or registrant), one level deep.
fn entities(v: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for e in v
        .get("entities")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        out.push(e);
        out.extend(
            e.get("entities")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        );
    }
    out
}

fn domain_summary(v: &Value, server: &str) -> Value {
    let all = entities(v);
    let registrar = all.iter().find(|e| has_role(e, "registrar"));
    let registrar_id = registrar
        .and_then(|r| r.get("publicIds"))
        .and_then(Value::as_array)
        .and_then(|ids| ids.first())
        .and_then(|id| id.get("identifier").cloned())
        .unwrap_or(Value::Null);
    let abuse_email = all
        .iter()
        .find(|e| has_role(e, "abuse"))
        .and_then(|e| vcard_value(e, "email"))
        .unwrap_or(Value::Null);
    let nameservers: Vec<String> = strings_of(v, "/nameservers", "/ldhName")
        .into_iter()
        .map(|n| n.trim_end_matches('.').to_ascii_lowercase())
        .collect();
    json!({
        "handle": at(v, "/handle"),
        "name": at(v, "/ldhName"),
        "registrar": registrar.map_or(Value::Null, |r| vcard_name(r)),
        "registrar_iana_id": registrar_id,
        "abuse_email": abuse_email,
        "registration": event(v, "registration"),
        "expiration": event(v, "expiration"),
        "last_changed": event(v, "last changed"),
        "status": at(v, "/status"),
        "nameservers": nameservers,
        "dnssec": at(v, "/secureDNS/delegationSigned"),
        "rdap_server": server,
    })
}

fn ip_summary(v: &Value, server: &str) -> Value {
    let cidrs: Vec<String> = v
        .get("cidr0_cidrs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let prefix = c
                .get("v4prefix")
                .or_else(|| c.get("v6prefix"))
                .and_then(Value::as_str)?;
            let len = c.get("length").and_then(Value::as_u64)?;
            Some(format!("{prefix}/{len}"))
        })
        .collect();
    let entities: Vec<Value> = entities(v)
        .into_iter()
        .map(|e| {
            json!({
                "handle": at(e, "/handle"),
                "roles": at(e, "/roles"),
                "name": vcard_name(e),
                "email": vcard_value(e, "email").unwrap_or(Value::Null),
            })
        })
        .collect();
    json!({
        "handle": at(v, "/handle"),
        "name": at(v, "/name"),
        "type": at(v, "/type"),
        "start_address": at(v, "/startAddress"),
        "end_address": at(v, "/endAddress"),
        "ip_version": at(v, "/ipVersion"),
        "cidrs": cidrs,
        "country": at(v, "/country"),
        "parent_handle": at(v, "/parentHandle"),
        "status": at(v, "/status"),
        "registration": event(v, "registration"),
        "last_changed": event(v, "last changed"),
        "entities": entities,
        "rdap_server": server,
    })
}

/// The value of the first jCard property with this name.
fn vcard_value(entity: &Value, property: &str) -> Option<Value> {
    entity
        .pointer("/vcardArray/1")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|prop| prop.get(0).and_then(Value::as_str) == Some(property))
        .and_then(|prop| prop.get(3).cloned())
}

/// An IANA bootstrap file: `services` is a list of `[[entries], [urls]]`.
#[derive(Deserialize)]
struct File {
    services: Vec<(Vec<String>, Vec<String>)>,
}

/// The bundled registries, parsed once.
pub(crate) struct Bootstrap {
    domains: HashMap<String, String>,
    v4: Vec<(Ipv4Addr, u8, String)>,
    v6: Vec<(Ipv6Addr, u8, String)>,
}

/// The bundled bootstrap; the files are part of the source and checked by a test.
pub(crate) fn bootstrap() -> &'static Bootstrap {
    static PARSED: OnceLock<Bootstrap> = OnceLock::new();
    PARSED.get_or_init(|| {
        Bootstrap::parse(DNS_JSON, IPV4_JSON, IPV6_JSON).expect("bundled RDAP bootstrap parses")
    })
}

/// The HTTPS URL of a service when it has one (RFC 9224 §3 prefers it).
fn pick(urls: &[String]) -> Option<String> {
    urls.iter()
        .find(|u| u.starts_with("https://"))
        .or_else(|| urls.first())
        .cloned()
}

impl Bootstrap {
    fn parse(dns: &str, v4: &str, v6: &str) -> Result<Self, String> {
        let file = |text: &str, which: &str| {
            serde_json::from_str::<File>(text).map_err(|e| format!("{which}: {e}"))
        };
        let mut domains = HashMap::new();
        for (labels, urls) in file(dns, "dns.json")?.services {
            if let Some(url) = pick(&urls) {
                for label in labels {
                    domains.insert(label.to_ascii_lowercase(), url.clone());
                }
            }
        }
        let mut v4_nets = Vec::new();
        for (nets, urls) in file(v4, "ipv4.json")?.services {
            if let Some(url) = pick(&urls) {
                for net in nets {
                    let (ip, len) = net.split_once('/').ok_or(format!("ipv4.json: {net}"))?;
                    let ip: Ipv4Addr = ip.parse().map_err(|_| format!("ipv4.json: {net}"))?;
                    let len: u8 = len.parse().map_err(|_| format!("ipv4.json: {net}"))?;
                    v4_nets.push((ip, len.min(32), url.clone()));
                }
            }
        }
        let mut v6_nets = Vec::new();
        for (nets, urls) in file(v6, "ipv6.json")?.services {
            if let Some(url) = pick(&urls) {
                for net in nets {
                    let (ip, len) = net.split_once('/').ok_or(format!("ipv6.json: {net}"))?;
                    let ip: Ipv6Addr = ip.parse().map_err(|_| format!("ipv6.json: {net}"))?;
                    let len: u8 = len.parse().map_err(|_| format!("ipv6.json: {net}"))?;
                    v6_nets.push((ip, len.min(128), url.clone()));
                }
            }
        }
        Ok(Self {
            domains,
            v4: v4_nets,
            v6: v6_nets,
        })
    }

    /// The server for the longest registered suffix of `name` (entries may
    /// hold more than one label, RFC 9224 §4).
    pub(crate) fn domain_server(&self, name: &str) -> Option<String> {
        let mut rest = name;
        loop {
            if let Some(url) = self.domains.get(rest) {
                return Some(url.clone());
            }
            rest = rest.split_once('.')?.1;
        }
    }

    /// The server of the longest bootstrap prefix holding `ip`.
    pub(crate) fn ip_server(&self, ip: IpAddr) -> Option<String> {
        match ip {
            IpAddr::V4(ip) => {
                let ip = u32::from(ip);
                self.v4
                    .iter()
                    .filter(|(net, len, _)| {
                        *len == 0 || (ip ^ u32::from(*net)) >> (32 - u32::from(*len)) == 0
                    })
                    .max_by_key(|(_, len, _)| *len)
                    .map(|(_, _, url)| url.clone())
            }
            IpAddr::V6(ip) => {
                let ip = u128::from(ip);
                self.v6
                    .iter()
                    .filter(|(net, len, _)| {
                        *len == 0 || (ip ^ u128::from(*net)) >> (128 - u32::from(*len)) == 0
                    })
                    .max_by_key(|(_, len, _)| *len)
                    .map(|(_, _, url)| url.clone())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_bootstrap_finds_servers() {
        let b = bootstrap();
        assert!(b.domains.len() > 500, "dns.json looks truncated");
        assert_eq!(
            b.domain_server("www.example.com").as_deref(),
            Some("https://rdap.verisign.com/com/v1/")
        );
        assert!(b.domain_server("nic.google").is_some());
        assert_eq!(b.domain_server("host.invalid"), None);
        assert_eq!(
            b.ip_server("8.8.8.8".parse().expect("ip")).as_deref(),
            Some("https://rdap.arin.net/registry/")
        );
        assert_eq!(
            b.ip_server("193.0.6.139".parse().expect("ip")).as_deref(),
            Some("https://rdap.db.ripe.net/")
        );
        assert_eq!(
            b.ip_server("2001:200::1".parse().expect("ip")).as_deref(),
            Some("https://rdap.apnic.net/")
        );
        // Special-purpose space is in no registry.
        assert_eq!(b.ip_server("10.1.2.3".parse().expect("ip")), None);
    }

    #[test]
    fn longest_prefix_and_suffix_win() {
        let b = Bootstrap::parse(
            r#"{"services":[[["uk"],["https://a.example/"]],[["co.uk"],["http://b.example/","https://b.example/"]]]}"#,
            r#"{"services":[[["10.0.0.0/8"],["https://wide.example/"]],[["10.1.0.0/16"],["https://narrow.example/"]]]}"#,
            r#"{"services":[]}"#,
        )
        .expect("parses");
        assert_eq!(
            b.domain_server("x.co.uk").as_deref(),
            Some("https://b.example/")
        );
        assert_eq!(
            b.domain_server("x.org.uk").as_deref(),
            Some("https://a.example/")
        );
        assert_eq!(
            b.ip_server("10.1.2.3".parse().expect("ip")).as_deref(),
            Some("https://narrow.example/")
        );
        assert_eq!(
            b.ip_server("10.2.2.3".parse().expect("ip")).as_deref(),
            Some("https://wide.example/")
        );
    }
}

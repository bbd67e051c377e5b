//! DNS: A, AAAA, CNAME, MX, NS and TXT of a domain, PTR of an address,
//! asked through hickory's resolver, of the system's servers or those in
//! `nameservers`. Its own cache is off: answers are cached by the enricher.

use std::net::IpAddr;

use hickory_resolver::config::{NameServerConfigGroup, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::ProtoErrorKind;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::{Name, ResolveError, TokioResolver};
use rexist_core::IndicatorType;
use serde_json::{Value, json};

use crate::answer::{Failure, Outcome, Reply, Status};
use crate::config::{EnrichConfig, Settings, parse_server};
use crate::error::ConfigError;

pub(crate) const TYPES: &[IndicatorType] = &[
    IndicatorType::Domain,
    IndicatorType::Ipv4,
    IndicatorType::Ipv6,
];

/// The record types asked for a domain, with their summary keys.
const DOMAIN_RECORDS: [(RecordType, &str); 6] = [
    (RecordType::A, "a"),
    (RecordType::AAAA, "aaaa"),
    (RecordType::CNAME, "cname"),
    (RecordType::MX, "mx"),
    (RecordType::NS, "ns"),
    (RecordType::TXT, "txt"),
];

pub(crate) struct Dns {
    resolver: TokioResolver,
}

impl Dns {
    pub(crate) fn new(config: &EnrichConfig, settings: &Settings) -> Result<Self, ConfigError> {
        let client_error = |reason: String| ConfigError::Client {
            table: settings.name.clone(),
            reason,
        };
        let mut builder = match &config.nameservers {
            Some(servers) => {
                let mut group = NameServerConfigGroup::new();
                // Checked by `EnrichConfig::settings`.
                for addr in servers.iter().filter_map(|s| parse_server(s)) {
                    group.merge(NameServerConfigGroup::from_ips_clear(
                        &[addr.ip()],
                        addr.port(),
                        true,
                    ));
                }
                TokioResolver::builder_with_config(
                    ResolverConfig::from_parts(None, Vec::new(), group),
                    TokioConnectionProvider::default(),
                )
            }
            None => TokioResolver::builder_tokio().map_err(|e| {
                client_error(format!("cannot read the system DNS configuration: {e}"))
            })?,
        };
        let options: &mut ResolverOpts = builder.options_mut();
        options.timeout = settings.timeout;
        options.attempts = 1;
        options.cache_size = 0;
        options.ndots = 0;
        Ok(Self {
            resolver: builder.build(),
        })
    }

    pub(crate) async fn lookup(&self, kind: IndicatorType, value: &str) -> Outcome {
        match kind {
            IndicatorType::Ipv4 | IndicatorType::Ipv6 => self.reverse(value).await,
            IndicatorType::Domain => self.domain(value).await,
            _ => Err(Failure::new(Status::NotApplicable, "not a DNS type")),
        }
    }

    async fn reverse(&self, value: &str) -> Outcome {
        let ip: IpAddr = value
            .parse()
            .map_err(|_| Failure::error("not an IP address"))?;
        match self.resolver.reverse_lookup(ip).await {
            Ok(names) => {
                let ptr: Vec<String> = names.iter().map(|n| fqdn_text(&n.0)).collect();
                if ptr.is_empty() {
                    Ok(Reply::not_found(None))
                } else {
                    Ok(Reply::ok(json!({ "ptr": ptr }), None))
                }
            }
            Err(e) if e.is_no_records_found() => Ok(Reply::not_found(None)),
            Err(e) => Err(failure(&e)),
        }
    }

    /// Asks every record type at once. NXDOMAIN on any is `not_found`; a
    /// type without records is an empty list; the answer fails only when no
    /// type could be asked at all.
    async fn domain(&self, value: &str) -> Outcome {
        // A trailing dot makes the name absolute, so search domains are not tried.
        let name = Name::from_ascii(format!("{}.", value.trim_end_matches('.')))
            .map_err(|_| Failure::error("not a domain name"))?;
        let lookups = DOMAIN_RECORDS.map(|(rtype, _)| self.resolver.lookup(name.clone(), rtype));
        let [a, aaaa, cname, mx, ns, txt] = lookups;
        let results = tokio::join!(a, aaaa, cname, mx, ns, txt);
        let results = [
            results.0, results.1, results.2, results.3, results.4, results.5,
        ];

        let mut summary = serde_json::Map::new();
        let mut first_error = None;
        let mut nxdomain = false;
        let mut any_record = false;
        for ((rtype, key), result) in DOMAIN_RECORDS.iter().zip(results) {
            let values: Vec<Value> = match result {
                Ok(lookup) => lookup
                    .record_iter()
                    .filter(|r| r.record_type() == *rtype)
                    .filter_map(|r| rdata_value(r.data()))
                    .collect(),
                Err(e) if e.is_nx_domain() => {
                    nxdomain = true;
                    Vec::new()
                }
                Err(e) if e.is_no_records_found() => Vec::new(),
                Err(e) => {
                    first_error.get_or_insert_with(|| failure(&e));
                    Vec::new()
                }
            };
            any_record |= !values.is_empty();
            summary.insert((*key).to_owned(), Value::Array(values));
        }
        if nxdomain && !any_record {
            return Ok(Reply::not_found(None));
        }
        match first_error {
            Some(e) if !any_record => Err(e),
            _ if !any_record => Ok(Reply::not_found(None)),
            _ => Ok(Reply::ok(Value::Object(summary), None)),
        }
    }
}

/// A name without its trailing dot, lower-cased.
fn fqdn_text(name: &Name) -> String {
    name.to_ascii().trim_end_matches('.').to_ascii_lowercase()
}

fn rdata_value(data: &RData) -> Option<Value> {
    Some(match data {
        RData::A(a) => Value::String(a.0.to_string()),
        RData::AAAA(a) => Value::String(a.0.to_string()),
        RData::CNAME(c) => Value::String(fqdn_text(&c.0)),
        RData::NS(n) => Value::String(fqdn_text(&n.0)),
        RData::PTR(p) => Value::String(fqdn_text(&p.0)),
        RData::MX(mx) => json!({
            "preference": mx.preference(),
            "exchange": fqdn_text(mx.exchange()),
        }),
        RData::TXT(txt) => Value::String(
            txt.txt_data()
                .iter()
                .map(|part| String::from_utf8_lossy(part))
                .collect::<String>(),
        ),
        _ => return None,
    })
}

fn failure(e: &ResolveError) -> Failure {
    let timed_out = e
        .proto()
        .is_some_and(|p| matches!(p.kind(), ProtoErrorKind::Timeout));
    if timed_out {
        Failure::new(Status::Timeout, "the DNS server did not answer in time")
    } else {
        Failure::error(format!(
            "DNS lookup failed: {}",
            crate::api::truncate(&e.to_string(), 120)
        ))
    }
}

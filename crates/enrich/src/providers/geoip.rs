//! Geolocation from the user's own MaxMind DB files (GeoIP2/GeoLite2 or DB-IP
//! City and ASN `.mmdb`), read into memory at start; a lookup is a tree
//! walk, so it runs inline without a timeout of its own.

use std::net::IpAddr;

use maxminddb::Reader;
use rexist_core::IndicatorType;
use serde_json::{Value, json};

use super::at;
use crate::answer::{Failure, Outcome, Reply};
use crate::config::{EnrichConfig, Settings};
use crate::error::ConfigError;

pub(crate) const TYPES: &[IndicatorType] = &[IndicatorType::Ipv4, IndicatorType::Ipv6];

pub(crate) struct Geoip {
    city: Option<Reader<Vec<u8>>>,
    asn: Option<Reader<Vec<u8>>>,
}

impl Geoip {
    pub(crate) fn new(config: &EnrichConfig, settings: &Settings) -> Result<Self, ConfigError> {
        let open = |key: &'static str, path: &Option<String>| {
            path.as_ref()
                .map(|p| {
                    Reader::open_readfile(p).map_err(|e| ConfigError::File {
                        table: settings.name.clone(),
                        key,
                        path: p.clone(),
                        reason: crate::api::truncate(&e.to_string(), 120),
                    })
                })
                .transpose()
        };
        Ok(Self {
            city: open("city_db", &config.city_db)?,
            asn: open("asn_db", &config.asn_db)?,
        })
    }

    pub(crate) fn lookup(&self, _kind: IndicatorType, value: &str) -> Outcome {
        let ip: IpAddr = value
            .parse()
            .map_err(|_| Failure::error("not an IP address"))?;
        let city = record(self.city.as_ref(), ip)?;
        let asn = record(self.asn.as_ref(), ip)?;
        if city.is_none() && asn.is_none() {
            return Ok(Reply::not_found(None));
        }
        let c = city.as_ref().map_or(Value::Null, |(v, _)| v.clone());
        let a = asn.as_ref().map_or(Value::Null, |(v, _)| v.clone());
        let summary = json!({
            "country": at(&c, "/country/iso_code"),
            "country_name": at(&c, "/country/names/en"),
            "registered_country": at(&c, "/registered_country/iso_code"),
            "city": at(&c, "/city/names/en"),
            "subdivision": at(&c, "/subdivisions/0/names/en"),
            "postal_code": at(&c, "/postal/code"),
            "latitude": at(&c, "/location/latitude"),
            "longitude": at(&c, "/location/longitude"),
            "accuracy_radius": at(&c, "/location/accuracy_radius"),
            "time_zone": at(&c, "/location/time_zone"),
            "asn": at(&a, "/autonomous_system_number"),
            "as_org": at(&a, "/autonomous_system_organization"),
            "network": city.as_ref().or(asn.as_ref()).map(|(_, n)| n.clone()),
        });
        Ok(Reply::ok(summary, Some(json!({ "city": c, "asn": a }))))
    }
}

/// The record for `ip` and its network, `None` when the database has none.
/// An IPv6 address in an IPv4-only database is simply absent.
fn record(
    reader: Option<&Reader<Vec<u8>>>,
    ip: IpAddr,
) -> Result<Option<(Value, String)>, Failure> {
    let Some(reader) = reader else {
        return Ok(None);
    };
    if ip.is_ipv6() && reader.metadata().ip_version == 4 {
        return Ok(None);
    }
    let bad = |e: maxminddb::MaxMindDbError| {
        Failure::error(format!(
            "GeoIP database: {}",
            crate::api::truncate(&e.to_string(), 120)
        ))
    };
    let found = reader.lookup(ip).map_err(bad)?;
    if !found.has_data() {
        return Ok(None);
    }
    let network = found.network().map_err(bad)?.to_string();
    Ok(found.decode::<Value>().map_err(bad)?.map(|v| (v, network)))
}

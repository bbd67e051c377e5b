//! One module per provider. Each turns an indicator into upstream calls and
//! the upstream's answer into a [`Reply`] whose summary has the same shape
//! for every answer of that kind.

pub(crate) mod abuseipdb;
pub(crate) mod dns;
pub(crate) mod geoip;
pub(crate) mod inspect;
pub(crate) mod otx;
pub(crate) mod rdap;
pub(crate) mod shodan;
pub(crate) mod threatfox;
pub(crate) mod urlscan;
pub(crate) mod virustotal;
pub(crate) mod xforce;

use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE};
use rexist_core::IndicatorType;
use serde_json::Value;

use crate::answer::{Failure, Outcome, Reply};
use crate::api::{self, Said};
use crate::config::{EnrichConfig, Kind, Settings};
use crate::error::ConfigError;
use rexist_http::Secret;

/// A configured provider.
pub(crate) enum Backend {
    Dns(Box<dns::Dns>),
    Rdap(rdap::Rdap),
    Xforce(xforce::Xforce),
    Otx(otx::Otx),
    Virustotal(virustotal::Virustotal),
    Abuseipdb(abuseipdb::Abuseipdb),
    Threatfox(threatfox::Threatfox),
    Shodan(shodan::Shodan),
    Urlscan(urlscan::Urlscan),
    Geoip(Box<geoip::Geoip>),
    Inspect(inspect::Inspect),
}

impl Backend {
    /// Builds the provider a validated table describes; `client` is the
    /// shared API client, present whenever an HTTP kind is configured.
    pub(crate) fn build(
        config: &EnrichConfig,
        settings: &Settings,
        client: Option<&rexist_http::Client>,
    ) -> Result<Self, ConfigError> {
        let upstream = |default_base: &str| {
            let client = client.cloned().ok_or_else(|| ConfigError::Client {
                table: settings.name.clone(),
                reason: "no HTTP client".to_owned(),
            })?;
            Ok::<_, ConfigError>(Upstream::new(client, settings, default_base))
        };
        Ok(match settings.kind {
            Kind::Dns => Backend::Dns(Box::new(dns::Dns::new(config, settings)?)),
            Kind::Rdap => Backend::Rdap(rdap::Rdap::new(upstream(rdap::DEFAULT_BASE)?)),
            Kind::Xforce => Backend::Xforce(xforce::Xforce::new(upstream(xforce::DEFAULT_BASE)?)),
            Kind::Otx => Backend::Otx(otx::Otx::new(upstream(otx::DEFAULT_BASE)?)),
            Kind::Virustotal => Backend::Virustotal(virustotal::Virustotal::new(upstream(
                virustotal::DEFAULT_BASE,
            )?)),
            Kind::Abuseipdb => Backend::Abuseipdb(abuseipdb::Abuseipdb::new(upstream(
                abuseipdb::DEFAULT_BASE,
            )?)),
            Kind::Threatfox => Backend::Threatfox(threatfox::Threatfox::new(upstream(
                threatfox::DEFAULT_BASE,
            )?)),
            Kind::Shodan => Backend::Shodan(shodan::Shodan::new(upstream(shodan::DEFAULT_BASE)?)),
            Kind::Urlscan => {
                Backend::Urlscan(urlscan::Urlscan::new(upstream(urlscan::DEFAULT_BASE)?))
            }
            Kind::Geoip => Backend::Geoip(Box::new(geoip::Geoip::new(config, settings)?)),
            Kind::Inspect => Backend::Inspect(inspect::Inspect::new(config, settings)?),
        })
    }

    /// The indicator types this provider answers for.
    pub(crate) fn types(&self) -> &'static [IndicatorType] {
        match self {
            Backend::Dns(_) => dns::TYPES,
            Backend::Rdap(_) => rdap::TYPES,
            Backend::Xforce(_) => xforce::TYPES,
            Backend::Otx(_) => otx::TYPES,
            Backend::Virustotal(_) => virustotal::TYPES,
            Backend::Abuseipdb(_) => abuseipdb::TYPES,
            Backend::Threatfox(_) => threatfox::TYPES,
            Backend::Shodan(_) => shodan::TYPES,
            Backend::Urlscan(_) => urlscan::TYPES,
            Backend::Geoip(_) => geoip::TYPES,
            Backend::Inspect(_) => inspect::TYPES,
        }
    }

    /// Asks the upstream about one indicator of a type from [`Backend::types`].
    pub(crate) async fn lookup(&self, kind: IndicatorType, value: &str) -> Outcome {
        match self {
            Backend::Dns(p) => p.lookup(kind, value).await,
            Backend::Rdap(p) => p.lookup(kind, value).await,
            Backend::Xforce(p) => p.lookup(kind, value).await,
            Backend::Otx(p) => p.lookup(kind, value).await,
            Backend::Virustotal(p) => p.lookup(kind, value).await,
            Backend::Abuseipdb(p) => p.lookup(kind, value).await,
            Backend::Threatfox(p) => p.lookup(kind, value).await,
            Backend::Shodan(p) => p.lookup(kind, value).await,
            Backend::Urlscan(p) => p.lookup(kind, value).await,
            Backend::Geoip(p) => p.lookup(kind, value),
            Backend::Inspect(p) => p.lookup(kind, value).await,
        }
    }
}

/// An HTTP API: where it is, how to authenticate, and the limits of a call.
pub(crate) struct Upstream {
    client: rexist_http::Client,
    base: reqwest::Url,
    /// Whether `base_url` was given rather than the provider's default.
    configured: bool,
    host: String,
    key: Option<Secret>,
    password: Option<Secret>,
    max_bytes: u64,
    timeout: Duration,
}

impl Upstream {
    fn new(client: rexist_http::Client, settings: &Settings, default_base: &str) -> Self {
        let base = settings.base_url.clone().unwrap_or_else(|| {
            reqwest::Url::parse(default_base).expect("built-in base URLs are valid")
        });
        Self {
            client,
            host: api::host_of(&base),
            configured: settings.base_url.is_some(),
            base,
            key: settings.key.clone(),
            password: settings.password.clone(),
            max_bytes: settings.max_bytes,
            timeout: settings.timeout,
        }
    }

    /// The API key, when the table has one.
    pub(crate) fn key(&self) -> Option<&str> {
        self.key.as_ref().map(Secret::expose)
    }

    /// The API password, when the table has one.
    pub(crate) fn password(&self) -> Option<&str> {
        self.password.as_ref().map(Secret::expose)
    }

    /// The base URL.
    pub(crate) fn base(&self) -> &reqwest::Url {
        &self.base
    }

    /// Whether `base_url` was given (RDAP then skips its bootstrap).
    pub(crate) fn configured(&self) -> bool {
        self.configured
    }

    /// A GET of `path` under the base URL, expecting JSON.
    pub(crate) fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.get_url(&api::join(&self.base, path))
    }

    /// A GET of `path` with query parameters (encoded here: reqwest's
    /// `query` feature is not enabled in the workspace).
    pub(crate) fn get_query(&self, path: &str, query: &[(&str, &str)]) -> reqwest::RequestBuilder {
        let mut url = api::join(&self.base, path);
        let encoded: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query)
            .finish();
        if !encoded.is_empty() {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&encoded);
        }
        self.get_url(&url)
    }

    /// A GET of an absolute URL, expecting JSON.
    pub(crate) fn get_url(&self, url: &str) -> reqwest::RequestBuilder {
        self.client.get(url).header(ACCEPT, "application/json")
    }

    /// A POST of JSON to `path` under the base URL.
    pub(crate) fn post_json(&self, path: &str, body: &Value) -> reqwest::RequestBuilder {
        self.client
            .post(api::join(&self.base, path))
            .timeout(self.timeout)
            .header(ACCEPT, "application/json")
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string())
    }

    /// Sends a request to this upstream and reads what it says.
    pub(crate) async fn call(&self, request: reqwest::RequestBuilder) -> Result<Said, Failure> {
        self.call_host(request, &self.host).await
    }

    /// As [`Upstream::call`], for a request to another host (RDAP servers).
    pub(crate) async fn call_host(
        &self,
        request: reqwest::RequestBuilder,
        host: &str,
    ) -> Result<Said, Failure> {
        let fetched = api::send(&self.client, request, self.max_bytes, self.timeout, host).await?;
        api::classify(&fetched, host)
    }
}

/// The reply for a 2xx body, or not found when the body says so; an
/// [`Outcome`] because that is what every provider's lookup returns.
#[allow(clippy::unnecessary_wraps)]
pub(crate) fn found_or_not(said: Said, summarise: impl FnOnce(&Value) -> Value) -> Outcome {
    match said {
        Said::Found(v) if says_not_found(&v) => Ok(Reply::not_found(Some(v))),
        Said::Found(v) => Ok(Reply::ok(summarise(&v), Some(v))),
        Said::NotFound(v) => Ok(Reply::not_found(v)),
    }
}

/// Whether a 2xx body is an error object saying "not found" (X-Force and
/// others answer so for unknown indicators).
pub(crate) fn says_not_found(v: &Value) -> bool {
    ["/error", "/message", "/detail"].iter().any(|p| {
        v.pointer(p)
            .and_then(Value::as_str)
            .is_some_and(|s| s.to_ascii_lowercase().contains("not found"))
    })
}

/// The value at a JSON pointer, or null.
pub(crate) fn at(v: &Value, pointer: &str) -> Value {
    v.pointer(pointer).cloned().unwrap_or(Value::Null)
}

/// The keys of the object at a pointer whose value is `true` (X-Force `cats`).
pub(crate) fn true_keys(v: &Value, pointer: &str) -> Vec<String> {
    v.pointer(pointer)
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .filter(|(_, v)| v.as_bool() != Some(false))
                .map(|(k, _)| k.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// The strings at `field` of each element of the array at `pointer`,
/// deduplicated in order.
pub(crate) fn strings_of(v: &Value, pointer: &str, field: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in v
        .pointer(pointer)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let s = if field.is_empty() {
            item.as_str()
        } else {
            item.pointer(field).and_then(Value::as_str)
        };
        if let Some(s) = s {
            if !out.iter().any(|o| o == s) {
                out.push(s.to_owned());
            }
        }
    }
    out
}

/// Length of the array at a pointer (0 when absent).
pub(crate) fn count(v: &Value, pointer: &str) -> usize {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map_or(0, Vec::len)
}

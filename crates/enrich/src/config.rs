//! The `[[enrichment]]` tables of `rexist.toml`, their validation and the
//! secrets they name.

use std::time::Duration;

use rexist_http::Secret;
use serde::Deserialize;

use crate::error::ConfigError;

/// One `[[enrichment]]` table of rexist.toml.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EnrichConfig {
    /// Name shown in answers and used to pick providers (`only`); unique.
    pub name: String,
    /// Provider: `dns`, `rdap`, `xforce`, `otx`, `virustotal`, `abuseipdb`,
    /// `threatfox`, `shodan`, `urlscan`, `geoip` or `inspect`.
    pub kind: String,
    /// `false` keeps the table (validated) but asks nothing; default true.
    pub enabled: Option<bool>,
    /// Upstream base URL, replacing the public one (a proxy, a test server; for
    /// `rdap`, one server used for everything instead of the IANA bootstrap).
    pub base_url: Option<String>,
    /// Environment variable holding the API key.
    pub key_env: Option<String>,
    /// File holding the API key (trailing whitespace ignored).
    pub key_file: Option<String>,
    /// Environment variable holding the API password (`xforce`).
    pub password_env: Option<String>,
    /// File holding the API password (`xforce`).
    pub password_file: Option<String>,
    /// Requests allowed per period, as `4/min`, `1/s`, `100/h`, `500/day` or
    /// `10/30s`; `none` for no limit. Calls over it answer `rate_limited` at once.
    pub rate_limit: Option<String>,
    /// Requests allowed per UTC day (0: no quota); counted in memory.
    pub daily_quota: Option<u32>,
    /// Longest wait for one answer, as `10s`, `500ms`, `1m`.
    pub timeout: Option<String>,
    /// How long an answer is reused, as `1h`, `1d`; `0s` disables the cache.
    pub cache_ttl: Option<String>,
    /// `dns`: servers to ask, `IP` or `IP:port`, instead of the system's.
    pub nameservers: Option<Vec<String>>,
    /// `geoip`: path of a City (or Country) `.mmdb` database.
    pub city_db: Option<String>,
    /// `geoip`: path of an ASN `.mmdb` database.
    pub asn_db: Option<String>,
    /// `inspect`: allow loopback, private, link-local and other internal targets.
    pub allow_private: Option<bool>,
    /// `inspect`: path of a Chromium executable; when it exists, a screenshot is taken.
    pub chromium: Option<String>,
    /// Largest response body read, in bytes (default 2 MiB for APIs, 5 MiB for `inspect`).
    pub max_bytes: Option<u64>,
    /// `inspect`: redirects followed (at most 10, the default).
    pub max_redirects: Option<u32>,
}

/// The providers rexist knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Kind {
    Dns,
    Rdap,
    Xforce,
    Otx,
    Virustotal,
    Abuseipdb,
    Threatfox,
    Shodan,
    Urlscan,
    Geoip,
    Inspect,
}

impl Kind {
    pub(crate) const ALL: [Kind; 11] = [
        Kind::Dns,
        Kind::Rdap,
        Kind::Xforce,
        Kind::Otx,
        Kind::Virustotal,
        Kind::Abuseipdb,
        Kind::Threatfox,
        Kind::Shodan,
        Kind::Urlscan,
        Kind::Geoip,
        Kind::Inspect,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Dns => "dns",
            Kind::Rdap => "rdap",
            Kind::Xforce => "xforce",
            Kind::Otx => "otx",
            Kind::Virustotal => "virustotal",
            Kind::Abuseipdb => "abuseipdb",
            Kind::Threatfox => "threatfox",
            Kind::Shodan => "shodan",
            Kind::Urlscan => "urlscan",
            Kind::Geoip => "geoip",
            Kind::Inspect => "inspect",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether the provider speaks HTTP through the shared API client.
    pub(crate) fn uses_api_client(self) -> bool {
        !matches!(self, Kind::Dns | Kind::Geoip | Kind::Inspect)
    }

    /// Whether an API key is required, optional or never used.
    fn key_use(self) -> KeyUse {
        match self {
            Kind::Xforce | Kind::Otx | Kind::Virustotal | Kind::Abuseipdb | Kind::Shodan => {
                KeyUse::Required
            }
            // abuse.ch has asked for an Auth-Key since 2025, but older
            // deployments and mirrors answer without one; urlscan search works
            // anonymously at a lower rate.
            Kind::Threatfox | Kind::Urlscan => KeyUse::Optional,
            Kind::Dns | Kind::Rdap | Kind::Geoip | Kind::Inspect => KeyUse::Never,
        }
    }

    pub(crate) fn default_timeout(self) -> Duration {
        match self {
            Kind::Dns | Kind::Geoip => Duration::from_secs(5),
            Kind::Inspect => Duration::from_secs(20),
            _ => Duration::from_secs(10),
        }
    }

    pub(crate) fn default_cache_ttl(self) -> Duration {
        match self {
            Kind::Dns | Kind::Inspect => Duration::from_secs(5 * 60),
            Kind::Rdap | Kind::Geoip => Duration::from_secs(24 * 3600),
            _ => Duration::from_secs(3600),
        }
    }

    /// Limits of the free tiers, so that a key is not banned by default.
    fn default_rate(self) -> Option<Rate> {
        match self {
            Kind::Virustotal => Some(Rate {
                count: 4,
                per: Duration::from_secs(60),
            }),
            Kind::Shodan => Some(Rate {
                count: 1,
                per: Duration::from_secs(1),
            }),
            _ => None,
        }
    }

    fn default_quota(self) -> Option<u32> {
        match self {
            Kind::Virustotal => Some(500),
            Kind::Abuseipdb => Some(1000),
            _ => None,
        }
    }

    pub(crate) fn default_max_bytes(self) -> u64 {
        match self {
            Kind::Inspect => 5 * 1024 * 1024,
            _ => 2 * 1024 * 1024,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyUse {
    Required,
    Optional,
    Never,
}

/// Requests allowed per period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rate {
    pub(crate) count: u32,
    pub(crate) per: Duration,
}

/// A table after validation, secrets read.
#[derive(Debug)]
pub(crate) struct Settings {
    pub(crate) name: String,
    pub(crate) kind: Kind,
    pub(crate) base_url: Option<reqwest::Url>,
    pub(crate) key: Option<Secret>,
    pub(crate) password: Option<Secret>,
    pub(crate) rate: Option<Rate>,
    pub(crate) daily_quota: Option<u32>,
    pub(crate) timeout: Duration,
    pub(crate) cache_ttl: Duration,
    pub(crate) max_bytes: u64,
}

impl EnrichConfig {
    /// Checks the table without touching the environment, files or the
    /// network (for `rexist config check`): secrets and databases are only
    /// required to be named.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.settings(0, false).map(|_| ())
    }

    /// Checks the table and fills in the defaults of its kind; with `read`,
    /// also reads its secrets (else they are only required to be named).
    pub(crate) fn settings(&self, index: usize, read: bool) -> Result<Settings, ConfigError> {
        if self.name.trim().is_empty() {
            return Err(ConfigError::MissingName { index });
        }
        let table = self.name.clone();
        let invalid = |key: &'static str, reason: String| ConfigError::Invalid {
            table: table.clone(),
            key,
            reason,
        };
        let kind = Kind::parse(&self.kind).ok_or_else(|| ConfigError::UnknownKind {
            table: table.clone(),
            kind: self.kind.clone(),
            known: Kind::ALL.map(Kind::as_str).join(", "),
        })?;
        self.check_fields(kind)?;

        let base_url = match &self.base_url {
            None => None,
            Some(raw) => {
                let url = reqwest::Url::parse(raw)
                    .map_err(|e| invalid("base_url", format!("not a URL ({e})")))?;
                if !matches!(url.scheme(), "http" | "https") {
                    return Err(invalid("base_url", "must be http or https".to_owned()));
                }
                Some(url)
            }
        };
        let key = read_secret(
            &table,
            "key",
            self.key_env.as_ref(),
            self.key_file.as_ref(),
            read,
        )?;
        let password = read_secret(
            &table,
            "password",
            self.password_env.as_ref(),
            self.password_file.as_ref(),
            read,
        )?;
        match kind.key_use() {
            KeyUse::Required if key.is_none() => {
                return Err(ConfigError::Missing {
                    table,
                    key: "key_env or key_file",
                    kind: kind.as_str().to_owned(),
                });
            }
            KeyUse::Never if key.is_some() => {
                return Err(ConfigError::NotForKind {
                    table,
                    key: "key_env/key_file",
                    kind: kind.as_str().to_owned(),
                });
            }
            _ => {}
        }
        if kind == Kind::Xforce && password.is_none() {
            return Err(ConfigError::Missing {
                table,
                key: "password_env or password_file",
                kind: kind.as_str().to_owned(),
            });
        }

        let rate = match self.rate_limit.as_deref() {
            None => kind.default_rate(),
            Some(raw) => parse_rate(raw).map_err(|reason| invalid("rate_limit", reason))?,
        };
        let daily_quota = match self.daily_quota {
            None => kind.default_quota(),
            Some(0) => None,
            Some(n) => Some(n),
        };
        let timeout = match self.timeout.as_deref() {
            None => kind.default_timeout(),
            Some(raw) => {
                let d = parse_duration(raw).map_err(|reason| invalid("timeout", reason))?;
                if d.is_zero() {
                    return Err(invalid("timeout", "must be more than 0".to_owned()));
                }
                d
            }
        };
        let cache_ttl = match self.cache_ttl.as_deref() {
            None => kind.default_cache_ttl(),
            Some(raw) => parse_duration(raw).map_err(|reason| invalid("cache_ttl", reason))?,
        };
        let max_bytes = self.max_bytes.unwrap_or_else(|| kind.default_max_bytes());
        if max_bytes == 0 {
            return Err(invalid("max_bytes", "must be more than 0".to_owned()));
        }
        if let Some(n) = self.max_redirects {
            if n > 10 {
                return Err(invalid("max_redirects", format!("{n} is more than 10")));
            }
        }
        if let Some(servers) = &self.nameservers {
            if servers.is_empty() {
                return Err(invalid("nameservers", "empty list".to_owned()));
            }
            if let Some(bad) = servers.iter().find(|s| parse_server(s).is_none()) {
                return Err(invalid(
                    "nameservers",
                    format!("{bad:?} is not IP or IP:port"),
                ));
            }
        }
        if kind == Kind::Geoip && self.city_db.is_none() && self.asn_db.is_none() {
            return Err(ConfigError::Missing {
                table,
                key: "city_db or asn_db",
                kind: kind.as_str().to_owned(),
            });
        }

        Ok(Settings {
            name: table,
            kind,
            base_url,
            key,
            password,
            rate,
            daily_quota,
            timeout,
            cache_ttl,
            max_bytes,
        })
    }

    /// Refuses keys that only another kind reads: a `nameservers` under
    /// `kind = "otx"` is a mistake the user wants to hear about.
    fn check_fields(&self, kind: Kind) -> Result<(), ConfigError> {
        let given: [(&'static str, bool, &[Kind]); 8] = [
            ("nameservers", self.nameservers.is_some(), &[Kind::Dns]),
            ("city_db", self.city_db.is_some(), &[Kind::Geoip]),
            ("asn_db", self.asn_db.is_some(), &[Kind::Geoip]),
            (
                "allow_private",
                self.allow_private.is_some(),
                &[Kind::Inspect],
            ),
            ("chromium", self.chromium.is_some(), &[Kind::Inspect]),
            (
                "max_redirects",
                self.max_redirects.is_some(),
                &[Kind::Inspect],
            ),
            (
                "password_env/password_file",
                self.password_env.is_some() || self.password_file.is_some(),
                &[Kind::Xforce],
            ),
            (
                "base_url",
                self.base_url.is_some(),
                &[
                    Kind::Rdap,
                    Kind::Xforce,
                    Kind::Otx,
                    Kind::Virustotal,
                    Kind::Abuseipdb,
                    Kind::Threatfox,
                    Kind::Shodan,
                    Kind::Urlscan,
                ],
            ),
        ];
        for (key, present, kinds) in given {
            if present && !kinds.contains(&kind) {
                return Err(ConfigError::NotForKind {
                    table: self.name.clone(),
                    key,
                    kind: kind.as_str().to_owned(),
                });
            }
        }
        Ok(())
    }
}

/// Reads a secret from the variable or file named (without `read`, an empty
/// stand-in); both at once is refused so that it is clear which one is used.
fn read_secret(
    table: &str,
    what: &'static str,
    env: Option<&String>,
    file: Option<&String>,
    read: bool,
) -> Result<Option<Secret>, ConfigError> {
    let (env_key, file_key) = if what == "key" {
        ("key_env", "key_file")
    } else {
        ("password_env", "password_file")
    };
    match (env, file) {
        (Some(_), Some(_)) => Err(ConfigError::Invalid {
            table: table.to_owned(),
            key: env_key,
            reason: format!("give {env_key} or {file_key}, not both"),
        }),
        (Some(_), None) | (None, Some(_)) if !read => Ok(Some(Secret::default())),
        (Some(var), None) => match std::env::var(var) {
            Ok(value) if !value.trim().is_empty() => Ok(Some(Secret::new(value.trim()))),
            _ => Err(ConfigError::MissingEnv {
                table: table.to_owned(),
                key: env_key,
                var: var.clone(),
            }),
        },
        (None, Some(path)) => rexist_http::read_secret_file(path, file_key)
            .map(Some)
            .map_err(|e| ConfigError::File {
                table: table.to_owned(),
                key: file_key,
                path: path.clone(),
                reason: e.problem.to_string(),
            }),
        (None, None) => Ok(None),
    }
}

/// A name server as `IP` (port 53), `IP:port` or `[IPv6]:port`.
pub(crate) fn parse_server(raw: &str) -> Option<std::net::SocketAddr> {
    let raw = raw.trim();
    raw.parse::<std::net::SocketAddr>().ok().or_else(|| {
        raw.parse::<std::net::IpAddr>()
            .ok()
            .map(|ip| std::net::SocketAddr::new(ip, 53))
    })
}

/// Parses `500ms`, `10s`, `5m`/`5min`, `1h`, `1d`; the unit is required.
pub(crate) fn parse_duration(raw: &str) -> Result<Duration, String> {
    let s = raw.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{raw:?} has no unit (ms, s, m, h, d)"))?;
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{raw:?} does not start with a number"))?;
    let secs = |mult: u64| {
        n.checked_mul(mult)
            .map(Duration::from_secs)
            .ok_or_else(|| format!("{raw:?} is too large"))
    };
    match unit.trim() {
        "ms" => Ok(Duration::from_millis(n)),
        "s" | "sec" | "secs" | "second" | "seconds" => secs(1),
        "m" | "min" | "mins" | "minute" | "minutes" => secs(60),
        "h" | "hour" | "hours" => secs(3600),
        "d" | "day" | "days" => secs(86_400),
        other => Err(format!("{raw:?}: unknown unit {other:?} (ms, s, m, h, d)")),
    }
}

/// Parses `N/unit` or `N/duration` (`4/min`, `10/30s`); `none` or `off` is no limit.
pub(crate) fn parse_rate(raw: &str) -> Result<Option<Rate>, String> {
    let s = raw.trim();
    if s.eq_ignore_ascii_case("none") || s.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let (count, per) = s
        .split_once('/')
        .ok_or_else(|| format!("{raw:?} is not COUNT/PERIOD, as 4/min"))?;
    let count: u32 = count
        .trim()
        .parse()
        .map_err(|_| format!("{raw:?}: {count:?} is not a count"))?;
    if count == 0 {
        return Err(format!("{raw:?}: count must be more than 0"));
    }
    let per = per.trim();
    let period = if per.starts_with(|c: char| c.is_ascii_digit()) {
        parse_duration(per)?
    } else {
        parse_duration(&format!("1{per}"))?
    };
    if period.is_zero() {
        return Err(format!("{raw:?}: period must be more than 0"));
    }
    Ok(Some(Rate { count, per: period }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("5min"), Ok(Duration::from_secs(300)));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("ten s").is_err());
        assert!(parse_duration("3 fortnights").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
    }

    #[test]
    fn rates() {
        let r = parse_rate("4/min").expect("valid").expect("some");
        assert_eq!((r.count, r.per), (4, Duration::from_secs(60)));
        let r = parse_rate("10/30s").expect("valid").expect("some");
        assert_eq!((r.count, r.per), (10, Duration::from_secs(30)));
        assert_eq!(parse_rate("none"), Ok(None));
        assert!(parse_rate("4 per minute").is_err());
        assert!(parse_rate("0/s").is_err());
        assert!(parse_rate("4/fortnight").is_err());
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(***)");
    }
}

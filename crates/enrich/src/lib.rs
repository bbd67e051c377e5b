//! Optional enrichment for rexist's Lookup: "what is this IP, domain, URL or
//! hash?" asked of DNS, RDAP, a local geolocation database and the
//! threat-intelligence services the user holds keys for.
//!
//! Start at [`Enricher`]: built once from the `[[enrichment]]` tables of
//! `rexist.toml` ([`EnrichConfig`]), it asks every provider that handles an
//! indicator type concurrently and returns one [`Answer`] per provider. The
//! whole never fails: each answer carries its own [`Status`].
//!
//! What it refuses: to wait. Each provider has a token-bucket rate limit
//! (`rate_limit`), a daily quota counted in memory (`daily_quota`, reset at
//! 00:00 UTC), a timeout, and a hold after an upstream 429 (for its
//! `Retry-After`, else 60 s); a call that would break one of them answers
//! `rate_limited` or `quota_exceeded` at once without a request. Answers
//! (`ok` and `not_found`) are cached per (provider, type, value) for
//! `cache_ttl`: in a [`SharedCache`] when one is given
//! ([`Enricher::with_shared_cache`]; rexist's store, so every node shares
//! the answers and a restart keeps them), and in front of it in memory,
//! 1,000 entries of at most 64 KiB each, oldest evicted first. A cached
//! answer has `cached: true` and its original `fetched_at`; what is kept is
//! the reply, scrubbed of the provider's secrets.
//!
//! Secrets come from `key_env`/`key_file` (and `password_env`/`password_file`
//! for X-Force), never inline. They travel in headers (Shodan alone takes its
//! key in the query string) and never appear in errors, logs or `Debug`
//! output: messages are written without URLs, and every error is scrubbed of
//! the provider's secrets before it is returned.
//!
//! # Configuration
//!
//! Keys common to every table:
//!
//! | key | meaning | default |
//! | --- | --- | --- |
//! | `name` | unique name, shown as `provider` and used by `only` | required |
//! | `kind` | one of the providers below | required |
//! | `enabled` | `false` keeps the table (checked, its secrets not read) but asks nothing | `true` |
//! | `rate_limit` | `4/min`, `1/s`, `100/h`, `500/day`, `10/30s`, or `none` | `4/min` for `virustotal`, `1/s` for `shodan`, else none |
//! | `daily_quota` | requests per UTC day; `0` for none | `500` for `virustotal`, `1000` for `abuseipdb`, else none |
//! | `timeout` | `500ms`, `10s`, `1m` | `5s` `dns`/`geoip`, `20s` `inspect`, else `10s` |
//! | `cache_ttl` | `5m`, `1h`, `1d`; `0s` turns the cache off | `5m` `dns`/`inspect`, `1d` `rdap`/`geoip`, else `1h` |
//! | `base_url` | another endpoint (a proxy, a mirror, a test server) | the public API |
//! | `max_bytes` | largest response body read | 2 MiB, 5 MiB for `inspect` |
//!
//! A key that only another kind reads (say `nameservers` under `otx`) is
//! refused, as is an unknown key. [`EnrichConfig::validate`] checks a table
//! without reading secrets or files (for `rexist config check`);
//! [`Enricher::new`] reads them and fails naming the table and key. Without `only`, a provider is not asked
//! about types it does not handle and gives no answer; named in `only`, it
//! answers `not_applicable`.
//!
//! Every `summary` below is an object whose keys are always present (`null`
//! or empty when the upstream did not say); `raw` holds the upstream's JSON.
//!
//! ## `dns` — domains (A, AAAA, CNAME, MX, NS, TXT) and IPs (PTR)
//!
//! ```toml
//! [[enrichment]]
//! name = "dns"
//! kind = "dns"
//! nameservers = ["9.9.9.9", "149.112.112.112:53"]   # optional; else /etc/resolv.conf
//! ```
//!
//! Domain: `{"a": ["192.0.2.10"], "aaaa": [...], "cname": [...], "mx":
//! [{"preference": 10, "exchange": "mx.example.com"}], "ns": [...], "txt":
//! [...]}`; NXDOMAIN or no record of any type is `not_found`. IP: `{"ptr":
//! ["host.example.com"]}`. No `raw`.
//!
//! ## `rdap` — registration data of domains and IP addresses
//!
//! ```toml
//! [[enrichment]]
//! name = "rdap"
//! kind = "rdap"
//! ```
//!
//! The server is chosen from IANA's bootstrap files bundled with rexist
//! (`data/iana-rdap/`); `base_url` sends every query to one server instead.
//! A TLD or range without an RDAP service answers `not_applicable`.
//! Domain: `handle`, `name`, `registrar`, `registrar_iana_id`,
//! `abuse_email`, `registration`, `expiration`, `last_changed`, `status`,
//! `nameservers`, `dnssec`, `rdap_server`. IP: `handle`, `name`, `type`,
//! `start_address`, `end_address`, `ip_version`, `cidrs`, `country`,
//! `parent_handle`, `status`, `registration`, `last_changed`, `entities`
//! (`handle`, `roles`, `name`, `email`), `rdap_server`.
//!
//! ## `xforce` — IBM X-Force Exchange
//!
//! ```toml
//! [[enrichment]]
//! name = "xforce"
//! kind = "xforce"
//! key_env = "XFORCE_KEY"
//! password_env = "XFORCE_PASSWORD"
//! # base_url = "https://api.xforce.ibmcloud.com/api"   # if your account uses the /api prefix
//! ```
//!
//! IPs (`/ipr`): `score`, `reason`, `reason_description`, `categories`,
//! `country`, `country_code`, `subnets`, `asns`, `tags`, `history_count`.
//! URLs (`/url`): `url`, `score`, `categories`, `associated`, `tags`.
//! Domains: `{"url": {…as URLs…}, "resolve": {"a", "aaaa", "mx", "txt",
//! "rdns", "passive"}, "whois": {"registrar", "created", "updated",
//! "expires", "contact_email", "registrant_organization",
//! "registrant_country"}}`, each `null` when X-Force has nothing.
//! Hashes (`/malware`): `risk`, `type`, `created`, `family`, `cnc_servers`,
//! `cnc_ips`, `download_servers`, `email_count`, `subjects`, `external`.
//! CVEs (`/vulnerabilities/search`): `count`, `xfdbid`, `title`,
//! `risk_level`, `reported`, `exploitability`, `cvss_version`,
//! `platforms_affected`, `stdcode`. HTTP 402 (the account is not entitled
//! to the endpoint) answers `quota_exceeded`.
//!
//! ## `otx` — Open Threat Exchange
//!
//! ```toml
//! [[enrichment]]
//! name = "otx"
//! kind = "otx"
//! key_env = "OTX_KEY"
//! ```
//!
//! IPs, domains (two labels as `domain`, more as `hostname`), URLs, MD5,
//! SHA-1, SHA-256 and CVEs, from the `general` section: `pulse_count`,
//! `pulses` (first 10: `id`, `name`, `modified`, `tlp`, `adversary`,
//! `tags`), `tags`, `adversaries`, `malware_families`, `industries`,
//! `references`, `reputation`, `asn`, `country_code`, `country_name`,
//! `validation`, `false_positive_count`. An indicator OTX has never seen is
//! `ok` with `pulse_count: 0`.
//!
//! ## `virustotal` — VirusTotal API v3
//!
//! ```toml
//! [[enrichment]]
//! name = "vt"
//! kind = "virustotal"
//! key_env = "VT_KEY"
//! rate_limit = "4/min"      # the public API's limits, the defaults
//! daily_quota = 500
//! ```
//!
//! IPs, domains, URLs and MD5/SHA-1/SHA-256: `id`, `type`,
//! `last_analysis_stats`, `malicious`, `reputation`, `tags`, `categories`
//! (distinct verdicts), `last_analysis_date` (RFC 3339), and where they apply
//! `country`, `as_owner`, `asn`, `network`, `registrar`, `meaningful_name`,
//! `type_description`, `size`, `final_url`, `title`.
//!
//! ## `abuseipdb` — AbuseIPDB v2
//!
//! ```toml
//! [[enrichment]]
//! name = "abuseipdb"
//! kind = "abuseipdb"
//! key_env = "ABUSEIPDB_KEY"
//! ```
//!
//! IPs, over the last 90 days: `abuse_confidence_score`, `total_reports`,
//! `distinct_users`, `country_code`, `isp`, `domain`, `usage_type`,
//! `is_tor`, `is_whitelisted`, `last_reported_at`.
//!
//! ## `threatfox` — abuse.ch ThreatFox
//!
//! ```toml
//! [[enrichment]]
//! name = "threatfox"
//! kind = "threatfox"
//! key_env = "ABUSECH_KEY"     # Auth-Key; optional for mirrors that do not ask
//! ```
//!
//! IPv4, domains, URLs, MD5 and SHA-256: `count`, `malware` (distinct
//! families), `iocs` (first 10: `id`, `ioc`, `ioc_type`, `threat_type`,
//! `malware`, `confidence_level`, `first_seen`, `last_seen`, `tags`,
//! `reference`). `query_status: no_result` is `not_found`.
//!
//! ## `shodan` — Shodan host information
//!
//! ```toml
//! [[enrichment]]
//! name = "shodan"
//! kind = "shodan"
//! key_env = "SHODAN_KEY"
//! ```
//!
//! IPs: `ports`, `hostnames`, `domains`, `org`, `isp`, `asn`, `os`,
//! `country_code`, `city`, `tags`, `vulns`, `last_update`. An address
//! Shodan has not scanned is `not_found`.
//!
//! ## `urlscan` — urlscan.io search
//!
//! ```toml
//! [[enrichment]]
//! name = "urlscan"
//! kind = "urlscan"
//! key_env = "URLSCAN_KEY"     # optional
//! ```
//!
//! Domains (`domain:`), URLs (`page.url:"…"`), IPs (`ip:"…"`) and SHA-256
//! (`hash:`): `total`, `latest` (up to 10: `time`, `url`, `page_url`,
//! `domain`, `ip`, `country`, `status`, `malicious`, `result`). No scan is
//! `not_found`.
//!
//! ## `geoip` — local MaxMind DB files
//!
//! ```toml
//! [[enrichment]]
//! name = "geoip"
//! kind = "geoip"
//! city_db = "/var/lib/GeoIP/GeoLite2-City.mmdb"   # or a Country or DB-IP City database
//! asn_db = "/var/lib/GeoIP/GeoLite2-ASN.mmdb"
//! ```
//!
//! IPs: `country`, `country_name`, `registered_country`, `city`,
//! `subdivision`, `postal_code`, `latitude`, `longitude`, `accuracy_radius`,
//! `time_zone`, `asn`, `as_org`, `network`. rexist ships no database: the
//! files are the user's (their licences forbid redistribution).
//!
//! ## `inspect` — fetch a URL on the user's behalf
//!
//! ```toml
//! [[enrichment]]
//! name = "inspect"
//! kind = "inspect"
//! # allow_private = false          # loopback/private/link-local targets are refused
//! # max_redirects = 10
//! # chromium = "/usr/bin/chromium" # screenshot when this file exists
//! ```
//!
//! Opt-in, as rexist then connects to the URL itself: no cookies, no proxy,
//! a fixed User-Agent, `max_bytes` and `timeout`. Redirects are followed one
//! at a time, at most `max_redirects`, and every hop's resolved addresses are
//! checked before it is fetched: loopback, private, link-local, multicast,
//! unspecified and other non-global addresses are refused unless
//! `allow_private = true`, and rexist's own listen address always is (see
//! [`Enricher::set_own_addresses`]); a refusal answers `error` with
//! `refused: …`. URLs only: `url`, `final_url`, `status`, `redirects`
//! (`url`, `status`, `location` of each hop), `content_type`, `size`,
//! `truncated` (the body passed `max_bytes`; `sha256` is then `null`),
//! `sha256` (of the body as served), `title` (HTML), `headers`,
//! `remote_addr`, and with `chromium` `screenshot` (base64 PNG, 1280×800)
//! and `screenshot_error`. Chromium loads the page's sub-resources itself,
//! outside these checks; only the page's own host is pinned to the checked
//! address.

mod answer;
mod api;
mod config;
mod enricher;
mod error;
mod limits;
mod providers;
mod shared;

pub use answer::{Answer, ProviderInfo, Status};
pub use config::EnrichConfig;
pub use enricher::Enricher;
pub use error::ConfigError;
pub use shared::{CacheFuture, SharedAnswer, SharedCache};
